-- A confirmation was refused because PostgreSQL already has some of the seats reserved
-- (the mirror was behind): drop the hold and the mirror, which the next hold rebuilds.
-- ARGV: 2 hold id. Returns {'OK'}
local raw = redis.call('HGET', K.holds, ARGV[2])
if raw then
  local seats = drop_hold(ARGV[2], cjson.decode(raw))
  announce('released', seats, 'OPEN')
end
redis.call('DEL', K.meta, K.seats, K.order, K.reserved, K.rescount)
return {'OK'}
