-- Shared by every hold script; prepended to each one once, when the scripts are loaded.
--
-- KEYS, the same for every script, all under the event's hash tag {ev:<eventId>}:
--   1 meta      HASH  max, hold (seconds), ga (0/1), registered (0/1): the mirror's header
--   2 seats     HASH  seat id -> "section\trow\tnumber\tprice\tversion" for every seat
--   3 order     LIST  "id\tsection\trow\tnumber", cheapest first, then front to back
--   4 reserved  SET   seat ids reserved in PostgreSQL (the mirror)
--   5 rescount  HASH  customer id -> seats reserved in this event
--   6 held      HASH  seat id -> hold id
--   7 expiry    ZSET  hold id -> expiry (or fence deadline), ms since the epoch
--   8 custheld  HASH  customer id -> seats held in this event
--   9 holds     HASH  hold id -> JSON {c: customer, s: [seats], t0: created, t: expires,
--                                      h: hold seconds, f: 1 while fenced for confirmation}
--  10 seq       STRING the event's change counter
--  11 epoch      STRING when the counter started (ms): a new epoch means it started again
--  12 expired    STRING holds that ran out since the sweeper last counted them
-- ARGV[1] is the event's pub/sub channel; the rest is per script.
--
-- Time is the server's clock (TIME), the same for every API process.

local K = {
  meta = KEYS[1], seats = KEYS[2], order = KEYS[3], reserved = KEYS[4], rescount = KEYS[5],
  held = KEYS[6], expiry = KEYS[7], custheld = KEYS[8], holds = KEYS[9], seq = KEYS[10], epoch = KEYS[11],
  expired = KEYS[12],
  channel = ARGV[1],
}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The counter's epoch; set when the counter starts (first use, or after Redis lost it).
local function epoch()
  local e = redis.call('GET', K.epoch)
  if not e then
    e = tostring(now_ms())
    redis.call('SET', K.epoch, e)
  end
  return e
end

-- Count a change and tell live readers: {e: epoch, seq, kind, status, seats, t: expiry ms}.
-- `seats` may be empty ('layout': the seats themselves changed; readers start afresh).
local function announce(kind, seats, status, expires)
  local seq = redis.call('INCR', K.seq)
  local e = epoch()
  redis.call('PUBLISH', K.channel, cjson.encode(
    {e = e, seq = seq, kind = kind, status = status, seats = seats, t = expires}))
  return seq
end

-- Remove a hold and every trace of it; returns its seats.
local function drop_hold(id, rec)
  for _, seat in ipairs(rec.s) do
    if redis.call('HGET', K.held, seat) == id then
      redis.call('HDEL', K.held, seat)
    end
  end
  if redis.call('HINCRBY', K.custheld, rec.c, -#rec.s) <= 0 then
    redis.call('HDEL', K.custheld, rec.c)
  end
  redis.call('HDEL', K.holds, id)
  redis.call('ZREM', K.expiry, id)
  return rec.s
end

-- Release every hold whose time is up. A fenced hold is left alone: its reservation may
-- have committed, and only PostgreSQL can say (the sweeper asks it).
local function purge(now)
  local freed, holds = {}, 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.expiry, '-inf', now)) do
    local raw = redis.call('HGET', K.holds, id)
    if not raw then
      redis.call('ZREM', K.expiry, id)
    else
      local rec = cjson.decode(raw)
      if rec.f ~= 1 then
        for _, seat in ipairs(drop_hold(id, rec)) do freed[#freed + 1] = seat end
        holds = holds + 1
      end
    end
  end
  if #freed > 0 then announce('expired', freed, 'OPEN') end
  if holds > 0 then
    redis.call('INCRBY', K.expired, holds)
    redis.call('EXPIRE', K.expired, 3600)
  end
  return freed
end

-- The hold `id` as its owner may act on it: the record, or an error reply.
local function owned_hold(id, customer, now)
  local raw = redis.call('HGET', K.holds, id)
  if not raw then return nil, {'GONE'} end
  local rec = cjson.decode(raw)
  if customer ~= '' and rec.c ~= customer then return nil, {'NOT_OWNER'} end
  if rec.f ~= 1 and rec.t <= now then
    purge(now)
    return nil, {'GONE'}
  end
  return rec, nil
end
