-- Fence a live hold for confirmation: it cannot expire or be released until the
-- reservation is settled, or until the fence deadline passes (a crashed confirm).
-- ARGV: 2 hold id, 3 customer id, 4 fence milliseconds
-- KEYS[EXTRA + 1] (one Redis, no cluster): holds:due, which the fence deadline may be sooner
--       than (on a cluster the service tells it).
-- Returns {'OK', hold JSON} | {'GONE'} | {'NOT_OWNER'} | {'FENCED'}
local now = now_ms()
local rec, err = owned_hold(ARGV[2], ARGV[3], now)
if err then return err end
if rec.f == 1 then return {'FENCED'} end
rec.f = 1
local raw = cjson.encode(rec)
redis.call('HSET', K.holds, ARGV[2], raw)
local deadline = now + tonumber(ARGV[4])
redis.call('ZADD', K.expiry, deadline, ARGV[2])
if KEYS[EXTRA + 1] then
  redis.call('ZADD', KEYS[EXTRA + 1], 'LT', deadline, string.match(K.channel, '^{ev:([^}]*)}'))
end
return {'OK', raw, tostring(deadline)}
