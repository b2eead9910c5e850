-- How many seats of the event are on hold now (expired holds released first): the cost of
-- the holds that ran out, not of the event's holds. Returns the count.
purge(now_ms())
return redis.call('HLEN', K.held)
