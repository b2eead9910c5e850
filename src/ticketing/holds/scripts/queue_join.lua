-- Join the event's waiting room. ARGV: 2 entry id, 3 customer id, 4 a random number below
-- 2^52 (the place drawn for a fan who joins before the start)
-- Returns {'OK' | 'AGAIN', id, state, place, ahead, until, joined, rate, room} (AGAIN: this
-- customer had joined; its entry as it is; room as queue_entry.lua) | {'OFF'} |
-- {'NOT_OPEN', opens}
local m = redis.call('HMGET', K.qmeta, 'on', 'opens', 'start')
if m[1] ~= '1' then return {'OFF'} end
local now = now_ms()
if now < tonumber(m[2]) then return {'NOT_OPEN', m[2]} end
local customer = ARGV[3]
local raw = redis.call('HGET', K.qentry, customer)
if raw then
  local view = queue_view(customer, cjson.decode(raw), now)
  table.insert(view, 1, 'AGAIN')
  return with_room(view)
end
local score
if now < tonumber(m[3]) then
  score = ARGV[4]
else
  score = string.format('%.0f', PRESALE_ORDER + redis.call('HINCRBY', K.qmeta, 'arrivals', 1))
end
redis.call('ZADD', K.qorder, score, customer)
local rec = {i = ARGV[2], j = now, s = 'W'}
redis.call('HSET', K.qentry, customer, cjson.encode(rec))
redis.call('HSET', K.qids, ARGV[2], customer)
redis.call('HINCRBY', K.qmeta, 'n_w', 1)
local view = queue_view(customer, rec, now)
table.insert(view, 1, 'OK')
return with_room(view)
