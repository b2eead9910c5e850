-- Drop the mirror, not the holds, so the next step rebuilds it from PostgreSQL.
-- ARGV: 2 '1' when the seats themselves changed (an admin added, moved, repriced or removed
-- some): live readers are told to start afresh. A rebuilt mirror tells them too (load.lua).
-- ARGV: 3 '1' when Redis restarted from a file that may miss its last writes: the change
-- counter may have gone back and reused numbers, so it starts a new epoch.
drop_mirror()
if ARGV[3] == '1' then redis.call('DEL', K.epoch) end
if ARGV[2] == '1' then announce('layout', {}, '') end
return {'OK'}
