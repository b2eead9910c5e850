-- Set an event's waiting room from PostgreSQL (on every change, and again by the admitter,
-- so a Redis that lost it has it back). ARGV: 2 on ('1'/'0'), 3 admissions per minute,
-- 4 admission ms, 5 when joining opens (ms), 6 when sales start (ms; admission begins)
-- Returns 1.
redis.call('HSET', K.qmeta, 'on', ARGV[2], 'rate', ARGV[3], 'window', ARGV[4],
  'opens', ARGV[5], 'start', ARGV[6])
if redis.call('HEXISTS', K.qmeta, 'last') == 0 then
  redis.call('HSET', K.qmeta, 'last', ARGV[6], 'tokens', '0', 'head', '0')
end
-- born: when this room's state began (again, after a Redis that lost it), so that a worker
-- remembering its waiting fans (ticketing/queue/waiting.py) knows they are gone
redis.call('HSETNX', K.qmeta, 'born', tostring(now_ms()))
return 1
