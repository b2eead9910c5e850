-- The reservation of a fenced hold committed in PostgreSQL: clear the hold and mirror
-- its seats as reserved (first, so that dropping the hold does not free them). ARGV: 2 hold id
-- Returns {'OK', sequence, customer, seat...} | {'GONE'} (already settled)
local raw = redis.call('HGET', K.holds, ARGV[2])
if not raw then return {'GONE'} end
local rec = cjson.decode(raw)
if redis.call('EXISTS', K.meta) == 1 then
  redis.call('SADD', K.reserved, unpack(rec.s))
  redis.call('HINCRBY', K.rescount, rec.c, #rec.s)
end
local seats = drop_hold(ARGV[2], rec)
bought(rec.c)
local reply = {'OK', tostring(announce('reserved', seats, 'RESERVED')), rec.c}
for _, seat in ipairs(seats) do reply[#reply + 1] = seat end
return reply
