-- Live holds of the event, for laying over the seats read from PostgreSQL.
-- An expired hold is never reported, whether or not it has been swept yet.
-- Returns a flat list: seat, hold id, customer, expires, ...
local now = now_ms()
local reply, recs = {}, {}
local pairs_ = redis.call('HGETALL', K.held)
for i = 1, #pairs_, 2 do
  local seat, id = pairs_[i], pairs_[i + 1]
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
return reply
