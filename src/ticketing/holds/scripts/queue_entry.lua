-- Read one waiting-room entry (what a crowd polls: one call). ARGV: 2 entry id
-- Returns {'OK', customer, id, state, place, ahead, until, joined, rate, room} | {'GONE'}
-- (room: "born:start", which a worker remembering the entry checks against queue_head)
local customer = redis.call('HGET', K.qids, ARGV[2])
if not customer then return {'GONE'} end
local raw = redis.call('HGET', K.qentry, customer)
if not raw then return {'GONE'} end
local view = queue_view(customer, cjson.decode(raw), now_ms())
table.insert(view, 1, customer)
table.insert(view, 1, 'OK')
return with_room(view)
