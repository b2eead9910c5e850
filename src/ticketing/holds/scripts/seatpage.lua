-- A page of the event's open seats, or of its held ones, in the organiser's order: one range
-- read of K.openat or K.heldat, a cost of the page and never of the event's seats or holds.
-- Holds whose time is up are released first, so that a seat is on exactly one of the pages.
-- The first such page of a mirror builds the indexes (`place_all`, a cost of the seats once).
-- ARGV: 2 'open' | 'held', 3 'p' for the whole event or 's<section>' for one section,
--       4 the position the page starts after ('' for the first page), 5 how many at most.
-- Returns {'NO_MIRROR'} | {'OK', (seat, position) x n} for open seats |
--         {'OK', (seat, position, hold id, customer, expires ms) x n} for held ones.
if not mirrored() then return {'NO_MIRROR'} end
local now = now_ms()
purge(now)
if not placed() then place_all() end
local held = ARGV[2] == 'held'
local first = ARGV[3] .. '\t'
if ARGV[4] ~= '' then first = first .. string.format('%010d', tonumber(ARGV[4]) + 1) end
local members = redis.call('ZRANGEBYLEX', held and K.heldat or K.openat,
  '[' .. first, '(' .. ARGV[3] .. '\t:', 'LIMIT', 0, tonumber(ARGV[5]))
local reply = {'OK'}
local seats, positions = {}, {}
for i, member in ipairs(members) do
  local position, seat = string.match(member, '\t(%d+)\t([^\t]+)$')
  seats[i], positions[i] = seat, tostring(tonumber(position))
end
if not held then
  for i, seat in ipairs(seats) do
    reply[#reply + 1] = seat
    reply[#reply + 1] = positions[i]
  end
  return reply
end
if #seats == 0 then return reply end
local holders = redis.call('HMGET', K.held, unpack(seats))
local recs = {}
for i, seat in ipairs(seats) do
  local id = holders[i]
  if id then
    local rec = record_of(recs, id)
    if rec then
      reply[#reply + 1] = seat
      reply[#reply + 1] = positions[i]
      reply[#reply + 1] = id
      reply[#reply + 1] = rec.c
      reply[#reply + 1] = tostring(rec.t)
    end
  end
end
return reply
