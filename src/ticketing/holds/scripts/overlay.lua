-- Live holds of the event, for laying over the seats read from PostgreSQL.
-- An expired hold is never reported, whether or not it has been swept yet.
-- Returns a flat list: seat, hold id, customer, expires, ...
local now = now_ms()
local reply, recs = {}, {}
local pairs_ = redis.call('HGETALL', K.held)
for i = 1, #pairs_, 2 do add_live(reply, recs, pairs_[i], pairs_[i + 1], now) end
return reply
