-- A mirror build ended: free the build lock, if it is still this builder's.
-- ARGV: 2 the builder's token. Returns 1 when freed, 0 when it had passed on (expired).
if redis.call('GET', K.building) == ARGV[2] then
  redis.call('DEL', K.building)
  return 1
end
return 0
