-- Admit the next fans of the event's waiting room: run by one admitter at a time (the
-- sweeping process), a few times a second. In order, at most the rate allows (a bucket
-- refilled at `rate` per minute, holding at most one tick's share, so unused admissions do
-- not pile up while sold out), and only while the open seats cover what every admitted fan
-- may still take: maxNumSeats less what it holds and has bought (a fan admitted when fewer
-- were left may take only those). Only admitted fans hold, and each hold takes as many
-- seats from both sides, so this stays true between admissions too: admitted fans who have
-- not yet held never outnumber the open seats, and each of them can still buy. Fans whose
-- admission ran out pass their slot on (settle_admissions); when no seat is left open or
-- held, waiting fans read SOLD_OUT until seats come back.
-- ARGV: 2 the admitter's tick (ms)
-- Returns {'OK', admitted now, waiting left, sold out ('1'/'0')} | {'OFF'} | {'NO_MIRROR'}
local m = redis.call('HMGET', K.qmeta, 'on', 'start', 'rate', 'window', 'head', 'tokens', 'last')
if m[1] ~= '1' then return {'OFF'} end
local now = now_ms()
settle_admissions(now)
if now < tonumber(m[2]) then return {'OK', '0', '0', '0'} end
if not mirrored() then return {'NO_MIRROR'} end
purge(now)
local free = redis.call('ZCARD', K.free)
local sold_out = (free == 0 and redis.call('HLEN', K.held) == 0) and '1' or '0'
local rate, window, head = tonumber(m[3]), tonumber(m[4]), tonumber(m[5])
local last = math.max(tonumber(m[7]), tonumber(m[2]))
local cap = math.max(1, rate * tonumber(ARGV[2]) / 60000)
local tokens = math.min(cap, tonumber(m[6]) + math.max(0, now - last) * rate / 60000)
local most = tonumber(redis.call('HGET', K.meta, 'max'))
-- What the fans admitted now may still take: the most each may have (maxNumSeats, or less
-- when it was admitted for fewer) less what it holds and has bought. (Three HMGETs a
-- thousand fans: the pass with two of them measured 3.5-4 ms with 1,000-5,000 admitted.)
local spare = free
local now_in = redis.call('ZRANGE', K.qadmitted, 0, -1)
for i = 1, #now_in, 1000 do
  local part = {unpack(now_in, i, math.min(i + 999, #now_in))}
  local held = redis.call('HMGET', K.custheld, unpack(part))
  local bought = redis.call('HMGET', K.rescount, unpack(part))
  local caps = redis.call('HMGET', K.qcap, unpack(part))
  for x = 1, #part do
    local cap = math.min(most, tonumber(caps[x] or most))
    spare = spare - cap + math.min(cap, tonumber(held[x] or '0') + tonumber(bought[x] or '0'))
  end
end
local n = math.floor(tokens)
local made = 0
while n > made and spare > 0 do
  local next = redis.call('ZRANGE', K.qorder, head, head)
  if #next == 0 then break end
  local c = next[1]
  local rec = cjson.decode(redis.call('HGET', K.qentry, c))
  if rec.s == 'W' then
    local taken = math.min(most, tonumber(redis.call('HGET', K.custheld, c) or '0')
      + tonumber(redis.call('HGET', K.rescount, c) or '0'))
    if taken >= most then
      -- It has bought all it may already: done, passed over (it could buy nothing).
      rec.s = 'D'
      redis.call('HSET', K.qentry, c, cjson.encode(rec))
      redis.call('HINCRBY', K.qmeta, 'n_w', -1)
      redis.call('HINCRBY', K.qmeta, 'n_d', 1)
    else
      -- The last seats go to the next fan even when they are fewer than it may take: it
      -- is admitted for as many as are left (and its holds are limited to them).
      local gets = math.min(most - taken, spare)
      if gets < most - taken then
        redis.call('HSET', K.qcap, c, taken + gets)
      end
      spare = spare - gets
      rec.s = 'A'
      redis.call('HSET', K.qentry, c, cjson.encode(rec))
      redis.call('ZADD', K.qadmitted, now + window, c)
      made = made + 1
    end
  end
  head = head + 1
end
if made > 0 then
  redis.call('HINCRBY', K.qmeta, 'n_w', -made)
  redis.call('HINCRBY', K.qmeta, 'n_a', made)
  redis.call('HINCRBY', K.qmeta, 'n_au', made)
end
redis.call('HSET', K.qmeta, 'head', head, 'tokens', tostring(tokens - made), 'last', now,
  'sold_out', sold_out)
return {'OK', tostring(made), redis.call('HGET', K.qmeta, 'n_w') or '0', sold_out}
