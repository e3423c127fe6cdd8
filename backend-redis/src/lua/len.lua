-- How many entries a pair holds.
-- KEYS[1] index, KEYS[2] values
-- (The field '' is not an entry: the top score get.lua keeps.)
return redis.call('HLEN', KEYS[2]) - redis.call('HEXISTS', KEYS[2], '')
