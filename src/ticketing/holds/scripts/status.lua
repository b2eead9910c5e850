-- Every seat's status at one sequence number, for live readers (availability, the stream).
-- Expired holds are released first, so nothing past its time is reported as held.
-- Returns {'NO_MIRROR'} | {epoch, seq, ga, n, (seat id, details) x n, m, reserved id x m,
--          (seat id, hold expiry ms)...}; details as in `seats`.
if not mirrored() then return {'NO_MIRROR'} end
local now = now_ms()
purge(now)
local reply = {epoch(), redis.call('GET', K.seq) or '0', redis.call('HGET', K.meta, 'ga')}
local seats = redis.call('HGETALL', K.seats)
reply[#reply + 1] = tostring(#seats / 2)
for _, v in ipairs(seats) do reply[#reply + 1] = v end
local reserved = redis.call('SMEMBERS', K.reserved)
reply[#reply + 1] = tostring(#reserved)
for _, v in ipairs(reserved) do reply[#reply + 1] = v end
local expiry = {}
local held = redis.call('HGETALL', K.held)
for i = 1, #held, 2 do
  local id = held[i + 1]
  local t = expiry[id]
  if t == nil then
    local raw = redis.call('HGET', K.holds, id)
    t = raw and tostring(cjson.decode(raw).t) or false
    expiry[id] = t
  end
  if t then
    reply[#reply + 1] = held[i]
    reply[#reply + 1] = t
  end
end
return reply
