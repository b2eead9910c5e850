-- Hold seats for a customer, all or nothing, in one atomic step.
-- ARGV: 2 hold id, 3 customer id, 4 index ttl (seconds, '0' for none), 5 mode: 'ids' then
--       6.. seat ids, or 'best' then 6 quantity, 7 section ('' for any), 8 adjacent ('1'/'0')
-- KEYS[EXTRA + 1] and [EXTRA + 2], with an index ttl (one Redis, no cluster): hold:<id> and
--       cholds:<customer>,
--       written here so that a hold is one round trip (on a cluster the service writes them).
-- Returns {'OK', expires, created, sequence, seat, details, seat, details...} (details as in `seats`,
--         so the answer needs no PostgreSQL) | {'NO_MIRROR'} | {'UNKNOWN', seat...}
--       | {'UNAVAILABLE', seat...} | {'LIMIT', already, max} | {'NONE'}
if redis.call('HGET', K.meta, 'registered') ~= '1' then return {'NO_MIRROR'} end
local now = now_ms()
purge(now)
local hold_id, customer, index_ttl, mode = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]

local function free(seat)
  return redis.call('SISMEMBER', K.reserved, seat) == 0 and redis.call('HEXISTS', K.held, seat) == 0
end

local chosen = {}
if mode == 'ids' then
  local unknown, taken = {}, {}
  for i = 6, #ARGV do
    local seat = ARGV[i]
    if redis.call('HEXISTS', K.seats, seat) == 0 then
      unknown[#unknown + 1] = seat
    elseif not free(seat) then
      taken[#taken + 1] = seat
    end
    chosen[#chosen + 1] = seat
  end
  if #unknown > 0 then table.insert(unknown, 1, 'UNKNOWN'); return unknown end
  if #taken > 0 then table.insert(taken, 1, 'UNAVAILABLE'); return taken end
else
  local quantity, section = tonumber(ARGV[6]), ARGV[7]
  local adjacent = ARGV[8] == '1' and redis.call('HGET', K.meta, 'ga') ~= '1'
  local run, run_row, run_num = {}, nil, nil
  for _, entry in ipairs(redis.call('LRANGE', K.order, 0, -1)) do
    local seat, sec, row, num = string.match(entry, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
    if section == '' or sec == section then
      if not adjacent then
        if free(seat) then run[#run + 1] = seat end
      else
        local row_key, n = sec .. '\t' .. row, tonumber(num)
        if not free(seat) then
          run = {}
        elseif #run > 0 and row_key == run_row and n == run_num + 1 then
          run[#run + 1] = seat
        else
          run = {seat}
        end
        run_row, run_num = row_key, n
      end
      if #run == quantity then break end
    end
  end
  if #run < quantity then return {'NONE'} end
  chosen = run
end

local max = tonumber(redis.call('HGET', K.meta, 'max'))
local already = tonumber(redis.call('HGET', K.custheld, customer) or '0')
  + tonumber(redis.call('HGET', K.rescount, customer) or '0')
if already + #chosen > max then return {'LIMIT', tostring(already), tostring(max)} end

local seconds = tonumber(redis.call('HGET', K.meta, 'hold'))
local expires = now + seconds * 1000
for _, seat in ipairs(chosen) do redis.call('HSET', K.held, seat, hold_id) end
redis.call('HSET', K.holds, hold_id,
  cjson.encode({c = customer, s = chosen, t0 = now, t = expires, h = seconds, f = 0}))
redis.call('ZADD', K.expiry, expires, hold_id)
redis.call('HINCRBY', K.custheld, customer, #chosen)
local seq = announce('held', chosen, 'ON_HOLD', expires)
if index_ttl > 0 then
  local event_id = string.match(K.channel, '^{ev:([^}]*)}')
  redis.call('SET', KEYS[EXTRA + 1], event_id, 'EX', index_ttl)
  redis.call('SADD', KEYS[EXTRA + 2], event_id .. '/' .. hold_id)
  redis.call('EXPIRE', KEYS[EXTRA + 2], index_ttl)
end
local reply = {'OK', tostring(expires), tostring(now), tostring(seq)}
for _, seat in ipairs(chosen) do
  reply[#reply + 1] = seat
  reply[#reply + 1] = redis.call('HGET', K.seats, seat)
end
return reply
