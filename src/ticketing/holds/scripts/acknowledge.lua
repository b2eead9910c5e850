-- The sweeper has told every subscriber of these expired holds: remove exactly them from
-- K.ran_out. (Not the first n: a second sweeper overlapping this one, as when the lease
-- changes hands mid-sweep, may have handed on some and seen newer ones, which must stay.)
-- ARGV: 2.. the records as sweep.lua handed them on. Returns the number removed.
local removed = 0
for i = 2, #ARGV do
  removed = removed + redis.call('LREM', K.ran_out, 1, ARGV[i])
end
return removed
