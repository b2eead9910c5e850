-- A reservation was cancelled in PostgreSQL: its seats are open again.
-- ARGV: 2 customer id, 3.. seat ids. Returns {'OK', sequence}
local seats = {}
for i = 3, #ARGV do seats[#seats + 1] = ARGV[i] end
if redis.call('EXISTS', K.meta) == 1 then
  redis.call('SREM', K.reserved, unpack(seats))
  if redis.call('HINCRBY', K.rescount, ARGV[2], -#seats) <= 0 then
    redis.call('HDEL', K.rescount, ARGV[2])
  end
  refree(seats)
end
return {'OK', tostring(announce('cancelled', seats, 'OPEN'))}
