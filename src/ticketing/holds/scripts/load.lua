-- Build the event's mirror from a PostgreSQL snapshot, unless another process already has.
-- ARGV: 2 max, 3 hold seconds, 4 ga (0/1), 5 JSON {seats: [[id, section, row, number, price,
--       version]...]
--       in best-available order, reserved: [id...], rescount: {customer: n}},
--       6 the mirror's generation when the snapshot began to be read
-- Holds are not touched: a rebuilt mirror goes under the holds that exist.
-- Live readers are told to start afresh.
-- Returns 1 when built, 0 when a mirror was there, -1 when the mirror was dropped since the
-- snapshot began (an admin change may have committed after it was read: read it again).
if generation() ~= ARGV[6] then return -1 end
if redis.call('EXISTS', K.meta) == 1 then return 0 end
local snap = cjson.decode(ARGV[5])
redis.call('DEL', K.seats, K.order, K.reserved, K.rescount)
local info, entries = {}, {}
for _, s in ipairs(snap.seats) do
  info[#info + 1] = s[1]
  info[#info + 1] = s[2] .. '\t' .. s[3] .. '\t' .. s[4] .. '\t' .. s[5] .. '\t' .. s[6]
  entries[#entries + 1] = s[1] .. '\t' .. s[2] .. '\t' .. s[3] .. '\t' .. s[4]
  if #entries == 500 then
    redis.call('HSET', K.seats, unpack(info))
    redis.call('RPUSH', K.order, unpack(entries))
    info, entries = {}, {}
  end
end
if #entries > 0 then
  redis.call('HSET', K.seats, unpack(info))
  redis.call('RPUSH', K.order, unpack(entries))
end
for _, id in ipairs(snap.reserved) do redis.call('SADD', K.reserved, id) end
for customer, n in pairs(snap.rescount) do redis.call('HSET', K.rescount, customer, n) end
redis.call('HSET', K.meta, 'max', ARGV[2], 'hold', ARGV[3], 'ga', ARGV[4], 'registered', '0',
  'gen', ARGV[6])
-- Reserved seats may differ from what live readers were told (a cancel or confirmation whose
-- Redis step was lost): they start afresh from the new mirror.
announce('layout', {}, '')
return 1
