-- A confirmation was refused because PostgreSQL already has some of the seats reserved
-- (the mirror was behind): drop the hold and the mirror, which the next hold rebuilds.
-- ARGV: 2 hold id. Returns {'OK', sequence, customer, seat...} | {'OK'} (no such hold)
local raw = redis.call('HGET', K.holds, ARGV[2])
local reply = {'OK'}
if raw then
  local rec = cjson.decode(raw)
  local seats = drop_hold(ARGV[2], rec)
  reply = {'OK', tostring(announce('released', seats, 'OPEN')), rec.c}
  for _, seat in ipairs(seats) do reply[#reply + 1] = seat end
end
drop_mirror()
return reply
