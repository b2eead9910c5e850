-- The waiting room's counts, for its organiser. ARGV: none beyond the channel
-- Returns {on, rate, joined, waiting, admitted, done, expired, left, next place, sold out}
local now = now_ms()
settle_admissions(now)
local m = redis.call('HMGET', K.qmeta, 'on', 'rate', 'n_w', 'n_a', 'n_d', 'n_e', 'n_l', 'head',
  'sold_out')
local reply = {m[1] or '0', m[2] or '0', tostring(redis.call('ZCARD', K.qorder))}
for i = 3, 7 do reply[#reply + 1] = m[i] or '0' end
reply[#reply + 1] = tostring(tonumber(m[8] or '0') + 1)
reply[#reply + 1] = m[9] or '0'
return reply
