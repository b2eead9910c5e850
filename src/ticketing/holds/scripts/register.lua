-- The event is in the sweeper's set: the mirror counts as present from now on. Only the
-- mirror of the generation the builder read, and only if it is still there: a drop between
-- load.lua and this step leaves nothing to register (not a header without seats).
-- ARGV: 2 the generation the builder read. Returns 1 when registered, 0 when not.
if redis.call('HGET', K.meta, 'gen') ~= ARGV[2] or generation() ~= ARGV[2] then return 0 end
redis.call('HSET', K.meta, 'registered', '1')
return 1
