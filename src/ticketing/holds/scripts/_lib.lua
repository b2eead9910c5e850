-- Shared by every hold script; prepended to each one once, when the scripts are loaded.
--
-- The event's keys, all under its hash tag {ev:<eventId>}, are named by `EventKeys` in
-- ticketing/holds/keys.py, which also writes the `K` table these scripts use (K.meta,
-- K.seats, ... and K.channel = ARGV[1]) ahead of this file, from the tag of the first key (the
-- event's meta key, the one key a script is given for the event); `EXTRA` is 1, so a script
-- given more keys reads KEYS[EXTRA + 1]...
--   meta      HASH  max, hold (seconds), ga (0/1), registered (0/1), sales_from and
--                   sales_until (ms; sales_from '' for at once): the mirror's header
--   seats     HASH  seat id -> "section\trow\tnumber\tprice\tversion\tposition" for every seat
--   rank      HASH  seat id -> best-available rank (0 best: cheapest first, then front to back)
--   reserved  SET   seat ids reserved in PostgreSQL (the mirror)
--   rescount  HASH  customer id -> seats reserved in this event
--   free      ZSET  "id\tsection\trow\tnumber" scored by rank: every seat of the mirror
--                   neither reserved nor held (kept by unfree/refree below)
--   nofit     HASH  section ('' any) -> fewest seats side by side that no run of `free` has
--                   (hold.lua); cleared whenever a seat goes back into `free`
--   openat    ZSET  the seats of `free` in the organiser's order, for pages of open seats:
--                   scores 0, two members a seat, "p\t<position>\t<id>" and
--                   "s<section>\t<position>\t<id>" (position in ten digits; `place_entries`)
--   heldat    ZSET  the same of the seats in `held` whose details the mirror has. Both are
--                   built with the first such page (`place_all`; meta `placed` is then 1)
--                   and kept from then on, until the mirror is dropped
--   held      HASH  seat id -> hold id
--   expiry    ZSET  hold id -> expiry (or fence deadline), ms since the epoch
--   custheld  HASH  customer id -> seats held in this event
--   addrheld  HASH  client address (IPv4, IPv6 /64) -> seats held from it in this event
--   holds     HASH  hold id -> JSON {c: customer, s: [seats], t0: created, t: expires,
--                                    h: hold seconds, f: 1 while fenced for confirmation}
--   seq       STRING the event's change counter
--   epoch     STRING when the counter started (ms): a new epoch means it started again
--   ran_out   LIST  holds that ran out, JSON {h: hold, c: customer, s: [seats], t: expired at,
--                   q: sequence}, oldest first, until the sweeper hands them on (sweep.lua)
--   gen       STRING the mirror's generation, counted up by every drop of the mirror: a
--                   mirror is loaded (load.lua) and registered (register.lua) only if no drop
--                   came since its builder began to read PostgreSQL
--   building  STRING the token of the one process building the mirror (engine.py), expiring
--   qmeta, qorder, qentry, qids, qadmitted, qleft: the waiting room (keys.py says each)
-- ARGV[1] is the event's pub/sub channel; the rest is per script.
--
-- Time is the server's clock (TIME), the same for every API process.

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

-- The mirror's format: a mirror written by an older release (another layout of these
-- keys) is not present for these scripts, and is rebuilt.
-- 3: meta carries the sales window; 4: and wr (waiting room on); 5: seats carry their
-- position (for openat and heldat)
local MIRROR_FORMAT = '5'

-- Whether the mirror's position indexes (openat, heldat) are built: only once a page of
-- open or of held seats is first asked for (seatpage.lua), so that neither a build nor the
-- holds of an event nobody lists so pay for them. Read once per script call.
local PLACED = nil
local function placed()
  if PLACED == nil then PLACED = redis.call('HGET', K.meta, 'placed') == '1' end
  return PLACED
end

-- Whether the event's mirror is present: loaded, registered with the sweeper, this format.
local function mirrored()
  local m = redis.call('HMGET', K.meta, 'registered', 'format', 'placed')
  PLACED = m[3] == '1'
  return m[1] == '1' and m[2] == MIRROR_FORMAT
end

-- A seat's member of K.free, from its details in K.seats.
local function free_entry(seat, packed)
  local sec, row, num = string.match(packed, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t')
  return seat .. '\t' .. sec .. '\t' .. row .. '\t' .. num
end

-- A seat's two members of K.openat or K.heldat, from its details in K.seats.
local function place_entries(seat, packed)
  local sec, pos = string.match(packed, '^([^\t]*)\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t(%d+)$')
  local at = string.format('%010d', tonumber(pos)) .. '\t' .. seat
  return 'p\t' .. at, 's' .. sec .. '\t' .. at
end

-- Append `seat`'s two members of K.openat or K.heldat to `args`, each after a score of 0.
local function add_places(args, seat, packed)
  local p, s = place_entries(seat, packed)
  args[#args + 1] = 0
  args[#args + 1] = p
  args[#args + 1] = 0
  args[#args + 1] = s
end

-- The seats' members of K.openat or K.heldat, two each, for those the mirror has (`packed`:
-- their details in K.seats, in the same order).
local function places_of(seats, packed)
  local places = {}
  for i, seat in ipairs(seats) do
    if packed[i] then
      local p, s = place_entries(seat, packed[i])
      places[#places + 1] = p
      places[#places + 1] = s
    end
  end
  return places
end

-- Seats just held: out of the free index and the open ones, into the held ones (one call
-- each for all of them).
local function unfree(seats)
  if #seats == 0 then return end
  local packed = redis.call('HMGET', K.seats, unpack(seats))
  local free = {}
  for i, seat in ipairs(seats) do
    if packed[i] then free[#free + 1] = free_entry(seat, packed[i]) end
  end
  if #free == 0 then return end
  redis.call('ZREM', K.free, unpack(free))
  if not placed() then return end
  local places = places_of(seats, packed)
  local scored = {}
  for _, member in ipairs(places) do
    scored[#scored + 1] = 0
    scored[#scored + 1] = member
  end
  redis.call('ZREM', K.openat, unpack(places))
  redis.call('ZADD', K.heldat, unpack(scored))
end

-- Seats whose hold just ended: out of the held index.
local function unhold(seats)
  if #seats == 0 or not placed() then return end
  local places = places_of(seats, redis.call('HMGET', K.seats, unpack(seats)))
  if #places > 0 then redis.call('ZREM', K.heldat, unpack(places)) end
end

-- Build the position indexes from the mirror and the holds there are (the first page of
-- open or of held seats since the mirror was built): a cost of the event's seats, once.
local function place_all()
  local reserved, held = {}, {}
  for _, id in ipairs(redis.call('SMEMBERS', K.reserved)) do reserved[id] = true end
  local pairs_ = redis.call('HGETALL', K.held)
  for i = 1, #pairs_, 2 do held[pairs_[i]] = true end
  redis.call('DEL', K.openat, K.heldat)
  local seats = redis.call('HGETALL', K.seats)
  local open, taken = {}, {}
  local function flush()
    if #open > 0 then redis.call('ZADD', K.openat, unpack(open)) end
    if #taken > 0 then redis.call('ZADD', K.heldat, unpack(taken)) end
    open, taken = {}, {}
  end
  for i = 1, #seats, 2 do
    local id, packed = seats[i], seats[i + 1]
    if held[id] then
      add_places(taken, id, packed)
    elseif not reserved[id] then
      add_places(open, id, packed)
    end
    if #open + #taken >= 4000 then flush() end
  end
  flush()
  redis.call('HSET', K.meta, 'placed', '1')
  PLACED = true
end

-- Seats that may be open again (a hold ended, a reservation was cancelled): back in the
-- free index, each only if the mirror has it and it is neither reserved nor held.
local function refree(seats)
  if #seats == 0 or redis.call('EXISTS', K.meta) == 0 then return end
  local packed = redis.call('HMGET', K.seats, unpack(seats))
  local ranks = redis.call('HMGET', K.rank, unpack(seats))
  local args, places = {}, {}
  for i, seat in ipairs(seats) do
    if packed[i] and ranks[i] and redis.call('SISMEMBER', K.reserved, seat) == 0
        and redis.call('HEXISTS', K.held, seat) == 0 then
      args[#args + 1] = ranks[i]
      args[#args + 1] = free_entry(seat, packed[i])
      if placed() then add_places(places, seat, packed[i]) end
    end
  end
  if #args > 0 then
    redis.call('ZADD', K.free, unpack(args))
    if #places > 0 then redis.call('ZADD', K.openat, unpack(places)) end
    redis.call('DEL', K.nofit)  -- runs may be longer now
  end
end

-- Drop the mirror (never the holds) and count a generation, so that a build that began
-- before this drop, and may have read the rows the change replaced, is refused (load.lua).
local function drop_mirror()
  redis.call('DEL', K.meta, K.seats, K.rank, K.reserved, K.rescount, K.free, K.nofit,
    K.openat, K.heldat)
  redis.call('INCR', K.gen)
  redis.call('EXPIRE', K.gen, 86400)
end

-- The mirror's generation now ('0' before the first drop).
local function generation()
  return redis.call('GET', K.gen) or '0'
end

-- The record of the hold `id` (false when there is none), read once per script: `recs`
-- keeps the records decoded so far, by hold id.
local function record_of(recs, id)
  local rec = recs[id]
  if rec == nil then
    local raw = redis.call('HGET', K.holds, id)
    rec = raw and cjson.decode(raw) or false
    recs[id] = rec
  end
  return rec
end

-- Append seat, hold id, customer, expires to `reply` when the hold `id` on `seat` is live
-- (fenced, or not yet run out); `recs` as for `record_of`.
local function add_live(reply, recs, seat, id, now)
  local rec = record_of(recs, id)
  if rec and (rec.f == 1 or rec.t > now) then
    reply[#reply + 1] = seat
    reply[#reply + 1] = id
    reply[#reply + 1] = rec.c
    reply[#reply + 1] = tostring(rec.t)
  end
end

-- Remove a hold and every trace of it; returns its seats.
local function drop_hold(id, rec)
  local ended = {}
  for _, seat in ipairs(rec.s) do
    if redis.call('HGET', K.held, seat) == id then
      redis.call('HDEL', K.held, seat)
      ended[#ended + 1] = seat
    end
  end
  unhold(ended)
  if redis.call('HINCRBY', K.custheld, rec.c, -#rec.s) <= 0 then
    redis.call('HDEL', K.custheld, rec.c)
  end
  if rec.a and redis.call('HINCRBY', K.addrheld, rec.a, -#rec.s) <= 0 then
    redis.call('HDEL', K.addrheld, rec.a)
  end
  redis.call('HDEL', K.holds, id)
  redis.call('ZREM', K.expiry, id)
  refree(rec.s)
  return rec.s
end

-- Release every hold whose time is up. A fenced hold is left alone: its reservation may
-- have committed, and only PostgreSQL can say (the sweeper asks it). Each hold released is
-- written to K.ran_out, with its owner and seats, for the sweeper to turn into an `expired`
-- lifecycle event (ticketing/holds/lifecycle.py): whichever script meets an expired hold
-- first, the fact reaches Python once.
local function purge(now)
  local freed, gone = {}, {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.expiry, '-inf', now)) do
    local raw = redis.call('HGET', K.holds, id)
    if not raw then
      redis.call('ZREM', K.expiry, id)
    else
      local rec = cjson.decode(raw)
      if rec.f ~= 1 then
        for _, seat in ipairs(drop_hold(id, rec)) do freed[#freed + 1] = seat end
        gone[#gone + 1] = {h = id, c = rec.c, s = rec.s, t = rec.t}
      end
    end
  end
  if #gone > 0 then
    local seq = announce('expired', freed, 'OPEN')
    for _, g in ipairs(gone) do
      g.q = seq
      redis.call('RPUSH', K.ran_out, cjson.encode(g))
    end
    redis.call('EXPIRE', K.ran_out, 3600)
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

-- The waiting room. An entry's state: W waiting, A admitted, D done (bought, or held and
-- its admission ran out), E expired (admitted, never held), L left.
local PRESALE_ORDER = 4503599627370496  -- 2^52: places drawn before the start sort below

-- An admitted fan whose time ran out becomes D (if it held) or E, its slot passed on.
local function settle_admissions(now)
  for _, c in ipairs(redis.call('ZRANGEBYSCORE', K.qadmitted, '-inf', now)) do
    redis.call('ZREM', K.qadmitted, c)
    local raw = redis.call('HGET', K.qentry, c)
    if raw then
      local rec = cjson.decode(raw)
      if rec.s == 'A' then
        rec.s = (rec.h == 1) and 'D' or 'E'
        redis.call('HSET', K.qentry, c, cjson.encode(rec))
        redis.call('HINCRBY', K.qmeta, 'n_a', -1)
        redis.call('HINCRBY', K.qmeta, 'n_' .. string.lower(rec.s), 1)
        if rec.h ~= 1 then redis.call('HINCRBY', K.qmeta, 'n_au', -1) end
      end
    end
  end
end

-- What a fan's entry says now: {id, state, place ('' before the draw), ahead, until, joined}.
local function queue_view(customer, rec, now)
  local state, until_ms = rec.s, '0'
  if state == 'A' then
    local u = tonumber(redis.call('ZSCORE', K.qadmitted, customer) or '0')
    if u > now then until_ms = tostring(u) else state = (rec.h == 1) and 'D' or 'E' end
  end
  local place, ahead = '', ''
  if state == 'W' then
    local m = redis.call('HMGET', K.qmeta, 'start', 'head', 'sold_out')
    if now >= tonumber(m[1] or '0') then
      local rank = redis.call('ZRANK', K.qorder, customer) or 0
      place = tostring(rank + 1)
      ahead = tostring(math.max(0, rank - tonumber(m[2] or '0')))
    end
    if m[3] == '1' then state = 'S' end
  end
  return {rec.i, state, place, ahead, until_ms, tostring(rec.j)}
end

-- A view as a worker reads it: with the room's rate and which state of the room it is
-- ("born:start", which a worker remembering the entry checks against queue_head.lua).
local function with_room(view)
  local m = redis.call('HMGET', K.qmeta, 'rate', 'born', 'start')
  view[#view + 1] = m[1] or '0'
  view[#view + 1] = (m[2] or '') .. ':' .. (m[3] or '')
  return view
end

-- Whether `customer` may hold now, and whether the event has a waiting room on; an
-- admitted fan's first hold uses its admission.
local function admitted(customer, now)
  if redis.call('HGET', K.meta, 'wr') ~= '1' then return true, false end
  local u = tonumber(redis.call('ZSCORE', K.qadmitted, customer) or '0')
  if u <= now then return false, true end
  local raw = redis.call('HGET', K.qentry, customer)
  if raw then
    local rec = cjson.decode(raw)
    if rec.h ~= 1 then
      rec.h = 1
      redis.call('HSET', K.qentry, customer, cjson.encode(rec))
      redis.call('HINCRBY', K.qmeta, 'n_au', -1)
    end
  end
  return true, true
end

-- A waiting-room fan who bought is done: its slot passes on at once.
local function bought(customer)
  local raw = redis.call('HGET', K.qentry, customer)
  if not raw then return end
  local rec = cjson.decode(raw)
  if rec.s ~= 'A' then return end
  rec.s = 'D'
  redis.call('HSET', K.qentry, customer, cjson.encode(rec))
  redis.call('ZREM', K.qadmitted, customer)
  redis.call('HINCRBY', K.qmeta, 'n_a', -1)
  redis.call('HINCRBY', K.qmeta, 'n_d', 1)
  if rec.h ~= 1 then redis.call('HINCRBY', K.qmeta, 'n_au', -1) end
end
