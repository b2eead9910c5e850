-- A confirmation did not commit and may be retried: lift the fence, keep the hold until
-- its own expiry (releasing it now if that has passed). ARGV: 2 hold id
-- Returns {'OK', expires} | {'GONE'}
local raw = redis.call('HGET', K.holds, ARGV[2])
if not raw then return {'GONE'} end
local rec = cjson.decode(raw)
rec.f = 0
redis.call('HSET', K.holds, ARGV[2], cjson.encode(rec))
redis.call('ZADD', K.expiry, rec.t, ARGV[2])
purge(now_ms())
return {'OK', tostring(rec.t)}
