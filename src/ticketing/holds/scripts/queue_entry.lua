-- Read one waiting-room entry (what a crowd polls: one call). ARGV: 2 entry id
-- Returns {'OK', customer, id, state, place, ahead, until, joined, rate} | {'GONE'}
local customer = redis.call('HGET', K.qids, ARGV[2])
if not customer then return {'GONE'} end
local raw = redis.call('HGET', K.qentry, customer)
if not raw then return {'GONE'} end
local view = queue_view(customer, cjson.decode(raw), now_ms())
table.insert(view, 1, customer)
table.insert(view, 1, 'OK')
view[#view + 1] = redis.call('HGET', K.qmeta, 'rate') or '0'
return view
