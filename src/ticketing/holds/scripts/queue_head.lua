-- A waiting room's head, for a worker answering its waiting fans from memory
-- (ticketing/queue/waiting.py). ARGV: 2 how many entries of K.qleft the worker has seen
-- Returns {'OK', room ("born:start"), head, sold_out ('1'/'0'), rate, left (all so far),
-- the ids of entries that left since} | {'OFF'}
local m = redis.call('HMGET', K.qmeta, 'on', 'born', 'start', 'head', 'sold_out', 'rate')
if m[1] ~= '1' or not m[2] then return {'OFF'} end
local seen = tonumber(ARGV[2])
local left = redis.call('LLEN', K.qleft)
local reply = {'OK', m[2] .. ':' .. (m[3] or ''), m[4] or '0', m[5] or '0', m[6] or '0',
  tostring(left)}
if left > seen then
  for _, id in ipairs(redis.call('LRANGE', K.qleft, seen, -1)) do reply[#reply + 1] = id end
end
return reply
