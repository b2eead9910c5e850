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
  local id = holders[i]
  if id then
    local rec = recs[id]
    if rec == nil then
      local raw = redis.call('HGET', K.holds, id)
      rec = raw and cjson.decode(raw) or false
      recs[id] = rec
    end
    if rec and (rec.f == 1 or rec.t > now) then
      reply[#reply + 1] = seat
      reply[#reply + 1] = id
      reply[#reply + 1] = rec.c
      reply[#reply + 1] = tostring(rec.t)
    end
  end
end
return reply
