-- Leave the waiting room, or give back an admission. ARGV: 2 entry id, 3 customer id
-- Returns {'OK'} | {'GONE'} | {'NOT_OWNER'}
local customer = redis.call('HGET', K.qids, ARGV[2])
if not customer then return {'GONE'} end
if customer ~= ARGV[3] then return {'NOT_OWNER'} end
local rec = cjson.decode(redis.call('HGET', K.qentry, customer))
if rec.s == 'W' then
  redis.call('HINCRBY', K.qmeta, 'n_w', -1)
  redis.call('RPUSH', K.qleft, ARGV[2])  -- (workers remembering it as waiting forget it)
elseif rec.s == 'A' then
  redis.call('ZREM', K.qadmitted, customer)
  redis.call('HINCRBY', K.qmeta, 'n_a', -1)
  if rec.h ~= 1 then redis.call('HINCRBY', K.qmeta, 'n_au', -1) end
else
  return {'OK'}  -- done, expired or left already
end
rec.s = 'L'
redis.call('HSET', K.qentry, customer, cjson.encode(rec))
redis.call('HINCRBY', K.qmeta, 'n_l', 1)
return {'OK'}
