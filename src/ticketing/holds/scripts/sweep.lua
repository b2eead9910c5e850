-- Release expired holds now rather than at the next hold attempt, and report fenced holds
-- whose fence ran out (a confirmation that crashed), for PostgreSQL to settle.
-- Returns {next expiry or '', stale fenced hold id...}; {'NO_MIRROR'} when the event has
-- neither mirror nor holds (nothing left to sweep).
local now = now_ms()
purge(now)
if redis.call('EXISTS', K.meta) == 0 and redis.call('HLEN', K.holds) == 0 then
  return {'NO_MIRROR'}
end
local reply = {''}
local first = redis.call('ZRANGE', K.expiry, 0, 0, 'WITHSCORES')
if first[2] then reply[1] = first[2] end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.expiry, '-inf', now)) do
  reply[#reply + 1] = id
end
return reply
