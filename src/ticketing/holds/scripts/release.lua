-- Release a hold. ARGV: 2 hold id, 3 customer id ('' when an admin releases it)
-- Returns {'OK', sequence, customer, seat...} | {'GONE'} | {'NOT_OWNER'} | {'FENCED'}
local rec, err = owned_hold(ARGV[2], ARGV[3], now_ms())
if err then return err end
if rec.f == 1 then return {'FENCED'} end
local seats = drop_hold(ARGV[2], rec)
local reply = {'OK', tostring(announce('released', seats, 'OPEN')), rec.c}
for _, seat in ipairs(seats) do reply[#reply + 1] = seat end
return reply
