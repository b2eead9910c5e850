-- Push a hold's expiry out by its hold time, never past 3 x hold time after creation.
-- ARGV: 2 hold id, 3 customer id
-- Returns {'OK', expires, sequence, seat...} | {'GONE'} | {'NOT_OWNER'} | {'FENCED'} | {'LIMIT', latest}
local rec, err = owned_hold(ARGV[2], ARGV[3], now_ms())
if err then return err end
if rec.f == 1 then return {'FENCED'} end
local latest = rec.t0 + 3 * rec.h * 1000
local expires = rec.t + rec.h * 1000
if expires > latest then return {'LIMIT', tostring(latest)} end
rec.t = expires
redis.call('HSET', K.holds, ARGV[2], cjson.encode(rec))
redis.call('ZADD', K.expiry, expires, ARGV[2])
local seq = announce('extended', rec.s, 'ON_HOLD', expires)
local reply = {'OK', tostring(expires), tostring(seq)}
for _, seat in ipairs(rec.s) do reply[#reply + 1] = seat end
return reply
