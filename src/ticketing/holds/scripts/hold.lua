-- Hold seats for a customer, all or nothing, in one atomic step.
-- ARGV: 2 hold id, 3 customer id, 4 index ttl (seconds, '0' for none), 5 the client's address
--       ('' for none), 6 the share of the event's seats one address may hold at once, in
--       percent ('0' for no bound; never fewer than 2 x maxNumSeats), 7 mode: 'ids' then
--       8.. seat ids, or 'best' then 8 quantity, 9 section ('' for any), 10 adjacent ('1'/'0')
-- KEYS[EXTRA + 1], [EXTRA + 2] and [EXTRA + 3], with an index ttl (one Redis, no cluster):
--       hold:<id>, cholds:<customer> and holds:due (the sweeper's events by next expiry),
--       written here so that a hold is one round trip (on a cluster the service writes them).
-- Returns {'OK', expires, created, sequence, seat, details, seat, details...} (details as in `seats`,
--         so the answer needs no PostgreSQL) | {'NO_MIRROR'} | {'UNKNOWN', seat...}
--       | {'UNAVAILABLE', seat...} | {'LIMIT', already, max, '1' when the waiting room
--         admitted the customer for fewer} | {'NONE'}
--       | {'ADDRESS_LIMIT', held from the address, most it may hold}
--       | {'NOT_ADMITTED'}: the event has a waiting room, and this customer is not admitted
--       | {'CLOSED', sales from ('' for at once), sales until}: outside the sales window
--
-- Best available reads the free index (K.free: open seats by rank) a page at a time, never
-- the whole seat list nor a call per seat, and answers at once when fewer seats are open
-- than asked for (a sold-out event costs two calls), or, side by side, when a walk already
-- found no run that long and no seat has come back since (K.nofit). It does not leave a
-- lone open seat (one with no open neighbour in its row) when another choice in the same section leaves
-- none: a run of open seats side by side is taken whole, or with two or more left. (It
-- never moves a fan to another section to spare a lone seat.)
if not mirrored() then return {'NO_MIRROR'} end
local now = now_ms()
local window = redis.call('HMGET', K.meta, 'sales_from', 'sales_until')
if (window[1] ~= '' and now < tonumber(window[1])) or now >= tonumber(window[2]) then
  return {'CLOSED', window[1], window[2]}
end
purge(now)
local hold_id, customer, index_ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local allowed, in_room = admitted(customer, now)
if not allowed then return {'NOT_ADMITTED'} end
local address, share, mode = ARGV[5], tonumber(ARGV[6]), ARGV[7]
local max = tonumber(redis.call('HGET', K.meta, 'max'))
-- (A fan the waiting room admitted for fewer seats: queue_admit.lua.)
local cap = in_room and redis.call('HGET', K.qcap, customer)
local capped = cap and tonumber(cap) < max
if capped then max = tonumber(cap) end
local already = tonumber(redis.call('HGET', K.custheld, customer) or '0')
  + tonumber(redis.call('HGET', K.rescount, customer) or '0')
local function over_limit(n)
  return already + n > max
end
-- The customer's limit first, then the address's share of the event.
local function refused(n)
  if over_limit(n) then
    return {'LIMIT', tostring(already), tostring(max), capped and '1' or '0'}
  end
  if address == '' or share <= 0 then return nil end
  local most = math.max(2 * max, math.floor(redis.call('HLEN', K.seats) * share / 100))
  local from = tonumber(redis.call('HGET', K.addrheld, address) or '0')
  if from + n > most then return {'ADDRESS_LIMIT', tostring(from), tostring(most)} end
  return nil
end

local PAGE = 256  -- free seats read per call

-- Runs of open seats side by side (consecutive ranks, one row, numbers one apart), in rank
-- order, each handed to `take(run, section)` when complete; `take` returns true to stop.
local function runs(section, take)
  local run, last_rank, last_row, last_num, last_sec = {}, nil, nil, nil, nil
  local start = 0
  while true do
    local page = redis.call('ZRANGE', K.free, start, start + PAGE - 1, 'WITHSCORES')
    for i = 1, #page, 2 do
      local seat, sec, row, num = string.match(page[i], '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
      if section == '' or sec == section then
        local rank, row_key, n = tonumber(page[i + 1]), sec .. '\t' .. row, tonumber(num)
        if #run > 0 and not (rank == last_rank + 1 and row_key == last_row and n
            and last_num and n == last_num + 1) then
          if take(run, last_sec) then return end
          run = {}
        end
        run[#run + 1] = seat
        last_rank, last_row, last_num, last_sec = rank, row_key, n, sec
      end
    end
    if #page < 2 * PAGE then break end
    start = start + PAGE
  end
  if #run > 0 then take(run, last_sec) end
end

local function first(run, n)
  local seats = {}
  for i = 1, n do seats[i] = run[i] end
  return seats
end

-- `quantity` seats side by side in one row: the first run that fits, unless it would leave
-- one seat alone and a later run of the same section fits without.
local function side_by_side(quantity, section)
  local known = tonumber(redis.call('HGET', K.nofit, section))
  if known and quantity >= known then return nil end  -- no run that long, and none since
  local fits, fits_sec, found
  runs(section, function(run, sec)
    if fits and sec ~= fits_sec then return true end
    local left = #run - quantity
    if left == 0 or left >= 2 then
      found = first(run, quantity)
      return true
    end
    if left == 1 and not fits then fits, fits_sec = first(run, quantity), sec end
    return false
  end)
  if not (found or fits) then redis.call('HSET', K.nofit, section, quantity) end
  return found or fits
end

-- The best `quantity` open seats, side by side or not: runs taken in rank order. Where the
-- best seats would leave one seat of a run alone, that run gives one seat fewer (or none)
-- and later runs of the same sections make up the number; when they cannot, the best seats.
local function anywhere(quantity, section, rows)
  local best, sections, alone = {}, {}, false
  runs(section, function(run, sec)
    local t = math.min(quantity - #best, #run)
    for i = 1, t do best[#best + 1] = run[i] end
    sections[sec] = true
    if #run - t == 1 then alone = true end
    return #best == quantity
  end)
  if #best < quantity then return nil end
  if not (rows and alone) then return best end
  local chosen = {}
  runs(section, function(run, sec)
    if not sections[sec] then return true end
    local t = math.min(quantity - #chosen, #run)
    if #run - t == 1 then t = t - 1 end
    for i = 1, t do chosen[#chosen + 1] = run[i] end
    return #chosen == quantity
  end)
  if #chosen == quantity then return chosen end
  return best
end

local chosen = {}
if mode == 'ids' then
  local unknown, taken = {}, {}
  for i = 8, #ARGV do
    local seat = ARGV[i]
    if redis.call('HEXISTS', K.seats, seat) == 0 then
      unknown[#unknown + 1] = seat
    elseif redis.call('SISMEMBER', K.reserved, seat) == 1 or redis.call('HEXISTS', K.held, seat) == 1 then
      taken[#taken + 1] = seat
    end
    chosen[#chosen + 1] = seat
  end
  if #unknown > 0 then table.insert(unknown, 1, 'UNKNOWN'); return unknown end
  if #taken > 0 then table.insert(taken, 1, 'UNAVAILABLE'); return taken end
  local refusal = refused(#chosen)
  if refusal then return refusal end
else
  local quantity, section = tonumber(ARGV[8]), ARGV[9]
  local refusal = refused(quantity)
  if refusal then return refusal end
  if redis.call('ZCARD', K.free) < quantity then return {'NONE'} end
  local seated = redis.call('HGET', K.meta, 'ga') ~= '1'
  if ARGV[10] == '1' and seated then
    chosen = side_by_side(quantity, section)
  else
    chosen = anywhere(quantity, section, seated)
  end
  if not chosen then return {'NONE'} end
end

local seconds = tonumber(redis.call('HGET', K.meta, 'hold'))
local expires = now + seconds * 1000
for _, seat in ipairs(chosen) do redis.call('HSET', K.held, seat, hold_id) end
unfree(chosen)
local record = {c = customer, s = chosen, t0 = now, t = expires, h = seconds, f = 0}
if address ~= '' then
  record.a = address
  redis.call('HINCRBY', K.addrheld, address, #chosen)
end
redis.call('HSET', K.holds, hold_id, cjson.encode(record))
redis.call('ZADD', K.expiry, expires, hold_id)
redis.call('HINCRBY', K.custheld, customer, #chosen)
redis.call('HSET', K.meta, 'used', now)  -- (an unused mirror is let go: sweep.lua)
local seq = announce('held', chosen, 'ON_HOLD', expires)
if index_ttl > 0 then
  local event_id = string.match(K.channel, '^{ev:([^}]*)}')
  redis.call('SET', KEYS[EXTRA + 1], event_id, 'EX', index_ttl)
  redis.call('SADD', KEYS[EXTRA + 2], event_id .. '/' .. hold_id)
  redis.call('EXPIRE', KEYS[EXTRA + 2], index_ttl)
  redis.call('ZADD', KEYS[EXTRA + 3], 'LT', expires, event_id)
end
local reply = {'OK', tostring(expires), tostring(now), tostring(seq)}
local details = redis.call('HMGET', K.seats, unpack(chosen))
for i, seat in ipairs(chosen) do
  reply[#reply + 1] = seat
  reply[#reply + 1] = details[i]
end
return reply
