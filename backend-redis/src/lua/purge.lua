-- Remove a pair; return how many entries it held.
-- KEYS[1] index, KEYS[2] values
-- (The field '' is not an entry: the top score get.lua keeps.)
local n = redis.call('HLEN', KEYS[2]) - redis.call('HEXISTS', KEYS[2], '')
redis.call('UNLINK', KEYS[1], KEYS[2])
return n
