-- Build the event's mirror from a PostgreSQL snapshot, unless another process already has.
-- ARGV: 2 max, 3 hold seconds, 4 ga (0/1), 5 JSON {seats: [id, packed, id, packed...] in
--       best-available order, each packed as K.seats keeps it, reserved: [id...],
--       rescount: {customer: n}} (a flat list of strings decodes in a third of the time
--       of a list per seat, and leaves Lua's collector less to do),
--       6 the mirror's generation when the snapshot began to be read, 7 when the event takes
--       place (ms): once it has, its mirror is let go as soon as no hold is left (sweep.lua),
--       8 and 9 the sales window (ms): holds from 8 ('' for at once) until 9, 10 '1' when
--       a waiting room admits the fans who may hold (queue_admit.lua)
-- Holds are not touched: a rebuilt mirror goes under the holds that exist, and its free
-- index leaves out the seats they hold.
-- Live readers are told to start afresh.
-- Returns 1 when built, 0 when a mirror was there, -1 when the mirror was dropped since the
-- snapshot began (an admin change may have committed after it was read: read it again).
if generation() ~= ARGV[6] then return -1 end
if redis.call('HGET', K.meta, 'format') == MIRROR_FORMAT then return 0 end
local snap = cjson.decode(ARGV[5])
redis.call('DEL', K.meta, K.seats, K.rank, K.reserved, K.rescount, K.free, K.nofit,
  K.openat, K.heldat)
local reserved = {}
for _, id in ipairs(snap.reserved) do
  reserved[id] = true
  redis.call('SADD', K.reserved, id)
end
local held = {}
if redis.call('HLEN', K.held) > 0 then
  local pairs_ = redis.call('HGETALL', K.held)
  for i = 1, #pairs_, 2 do held[pairs_[i]] = true end
end
-- Seats go in batches of BATCH: one HSET larger than Valkey's hash-max-listpack-entries
-- (128 or 512) makes the hash a table at once, where smaller ones fill a listpack first, each
-- field a scan of it (a 1,000-seat build took 3 ms of HSET in batches of 500, 0.4 in one).
-- (Lua's unpack takes up to 8,000 values: a batch is 2 * BATCH.)
local BATCH = 2048
local info, ranks, free = {}, {}, {}
local function flush()
  if #info > 0 then
    redis.call('HSET', K.seats, unpack(info))
    redis.call('HSET', K.rank, unpack(ranks))
  end
  if #free > 0 then redis.call('ZADD', K.free, unpack(free)) end
  info, ranks, free = {}, {}, {}
end
local seats = snap.seats
for i = 1, #seats, 2 do
  local id, packed, rank = seats[i], seats[i + 1], (i - 1) / 2
  info[#info + 1] = id
  info[#info + 1] = packed
  ranks[#ranks + 1] = id
  ranks[#ranks + 1] = rank
  if not reserved[id] and not held[id] then
    free[#free + 1] = rank
    free[#free + 1] = free_entry(id, packed)
  end
  if #info == 2 * BATCH then flush() end
end
flush()
for customer, n in pairs(snap.rescount) do redis.call('HSET', K.rescount, customer, n) end
redis.call('HSET', K.meta, 'max', ARGV[2], 'hold', ARGV[3], 'ga', ARGV[4], 'registered', '0',
  'gen', ARGV[6], 'format', MIRROR_FORMAT, 'used', now_ms(), 'starts', ARGV[7],
  'sales_from', ARGV[8], 'sales_until', ARGV[9], 'wr', ARGV[10])
-- Reserved seats may differ from what live readers were told (a cancel or confirmation whose
-- Redis step was lost): they start afresh from the new mirror.
announce('layout', {}, '')
return 1
