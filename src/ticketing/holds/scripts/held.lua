-- The live holds on some seats of the event (a seat page, one seat), for laying over what
-- PostgreSQL says of them: as overlay.lua, at the cost of the seats asked for, not of the
-- event's holds. ARGV: 2.. seat ids. Returns a flat list: seat, hold id, customer, expires, ...
local now = now_ms()
local reply, recs = {}, {}
local seats = {}
for i = 2, #ARGV do seats[#seats + 1] = ARGV[i] end
if #seats == 0 then return reply end
local holders = redis.call('HMGET', K.held, unpack(seats))
for i, seat in ipairs(seats) do
  if holders[i] then add_live(reply, recs, seat, holders[i], now) end
end
return reply
