-- Join the event's waiting room. ARGV: 2 entry id, 3 customer id, 4 a random number below
-- 2^52 (the place drawn for a fan who joins before the start), 5 how long a new entry's
-- index (KEYS[EXTRA + 1]: entry id -> event id) lives, in seconds, or '0' (a cluster, where
-- the index is in another slot: the caller writes it).
-- Whether the event has a waiting room and when its sales end are the mirror's (built from
-- PostgreSQL, dropped on every change of the event); when joining opens, when sales start
-- and the room's rate are the room's settings (queue_config.lua).
-- Returns {'OK' | 'AGAIN', id, state, place, ahead, until, joined, rate, room} (AGAIN: this
-- customer had joined; its entry as it is; room as queue_entry.lua) | {'NO_MIRROR'} |
-- {'OFF'} (no waiting room) | {'CLOSED', sales until} (sales have ended) | {'UNSET'} (the
-- room's settings are not in Redis) | {'NOT_OPEN', opens}
if not mirrored() then return {'NO_MIRROR'} end
local now = now_ms()
local header = redis.call('HMGET', K.meta, 'wr', 'sales_until')
if header[1] ~= '1' then return {'OFF'} end
if now >= tonumber(header[2]) then return {'CLOSED', header[2]} end
local m = redis.call('HMGET', K.qmeta, 'on', 'opens', 'start')
if m[1] ~= '1' then return {'UNSET'} end
if now < tonumber(m[2]) then return {'NOT_OPEN', m[2]} end
local customer = ARGV[3]
local raw = redis.call('HGET', K.qentry, customer)
local view
if raw then
  view = queue_view(customer, cjson.decode(raw), now)
  table.insert(view, 1, 'AGAIN')
else
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
  view = queue_view(customer, rec, now)
  table.insert(view, 1, 'OK')
  local ttl = tonumber(ARGV[5])
  if ttl > 0 then
    redis.call('SET', KEYS[EXTRA + 1], string.match(K.channel, '^{ev:([^}]*)}'), 'EX', ttl)
  end
end
return with_room(view)
