-- The event's whole hold state at one moment, for the inventory audit. Reads only: an
-- expired hold is reported as it is, not released, so the audit can see one left behind.
-- Returns {now, '1' with a mirror ('' without), max ('' without a mirror),
--          n, reserved seat x n, m, (seat, hold) x m from held, k, (hold, record) x k,
--          j, (customer, seats held) x j, s, (seat, details) x s from the mirror,
--          f, free-index member x f, o, open position-index member x o,
--          h, held position-index member x h, '1' when those indexes are built ('' if not)}
local reply = {tostring(now_ms()), mirrored() and '1' or '',
  redis.call('HGET', K.meta, 'max') or ''}
local function add(values, per)
  reply[#reply + 1] = tostring(#values / per)
  for _, v in ipairs(values) do reply[#reply + 1] = v end
end
add(redis.call('SMEMBERS', K.reserved), 1)
add(redis.call('HGETALL', K.held), 2)
add(redis.call('HGETALL', K.holds), 2)
add(redis.call('HGETALL', K.custheld), 2)
add(redis.call('HGETALL', K.seats), 2)
add(redis.call('ZRANGE', K.free, 0, -1), 1)
add(redis.call('ZRANGE', K.openat, 0, -1), 1)
add(redis.call('ZRANGE', K.heldat, 0, -1), 1)
reply[#reply + 1] = placed() and '1' or ''
return reply
