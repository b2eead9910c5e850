-- Release expired holds now rather than at the next hold attempt, and report fenced holds
-- whose fence ran out (a confirmation that crashed), for PostgreSQL to settle.
-- Returns {next expiry or '', holds expired since the last sweep, stale fenced hold id...};
-- {'NO_MIRROR', holds expired} when the event has neither mirror nor holds (nothing left to
-- sweep). Every script releases expired holds it meets; each counts them in K.expired, and
-- the sweep hands the count on (to the metrics) and starts it again.
local now = now_ms()
purge(now)
local expired = redis.call('GETDEL', K.expired) or '0'
if redis.call('EXISTS', K.meta) == 0 and redis.call('HLEN', K.holds) == 0 then
  return {'NO_MIRROR', expired}
end
local reply = {'', expired}
local first = redis.call('ZRANGE', K.expiry, 0, 0, 'WITHSCORES')
if first[2] then reply[1] = first[2] end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.expiry, '-inf', now)) do
  reply[#reply + 1] = id
end
return reply
