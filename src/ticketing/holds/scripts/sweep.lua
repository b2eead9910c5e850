-- Release expired holds now rather than at the next hold attempt, hand on the holds that ran
-- out (K.ran_out, filled by purge() in whichever script met them), and report fenced holds
-- whose fence ran out (a confirmation that crashed), for PostgreSQL to settle.
-- ARGV: 2 most expired holds to hand on at once, 3 how long (ms) a mirror with no holds may
--       go unused before it is let go ('0': kept); a later step rebuilds it, once. An event
--       that has taken place lets its mirror go as soon as it has no holds.
-- Returns {next expiry or '', n, expired hold JSON x n, stale fenced hold id...};
-- {'NO_MIRROR', n, expired hold JSON x n} when the event has neither mirror nor holds
-- (nothing left to sweep once those are handed on).
-- The expired holds stay in K.ran_out until the sweeper, having told every subscriber,
-- removes them (acknowledge.lua): a sweeper that dies in between leaves them for the next one, so
-- each reaches the subscribers at least once.
local now = now_ms()
purge(now)
local idle = tonumber(ARGV[3] or '0')
if idle > 0 and redis.call('EXISTS', K.meta) == 1 and redis.call('HLEN', K.holds) == 0
    and redis.call('LLEN', K.ran_out) == 0 then
  local m = redis.call('HMGET', K.meta, 'used', 'starts')
  if tonumber(m[1] or '0') < now - idle or tonumber(m[2] or '0') < now then drop_mirror() end
end
local expired = redis.call('LRANGE', K.ran_out, 0, tonumber(ARGV[2]) - 1)
local reply
if redis.call('EXISTS', K.meta) == 0 and redis.call('HLEN', K.holds) == 0 then
  reply = {'NO_MIRROR', tostring(#expired)}
  for _, rec in ipairs(expired) do reply[#reply + 1] = rec end
  return reply
end
reply = {'', tostring(#expired)}
for _, rec in ipairs(expired) do reply[#reply + 1] = rec end
local first = redis.call('ZRANGE', K.expiry, 0, 0, 'WITHSCORES')
if first[2] then reply[1] = first[2] end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.expiry, '-inf', now)) do
  reply[#reply + 1] = id
end
return reply
