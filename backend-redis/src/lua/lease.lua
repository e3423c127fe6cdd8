-- The lease part of the get script (SPEC §9), put in front of get.lua for
-- caches that take leases; every miss there returns lease_miss().
-- KEYS[3] the pair's leases: a sorted set of members scored by when their
--         lease ends (ms, server time), in the pair's slot
-- ARGV[2] the lease time, ms
-- Returns 0: this caller now holds the lease; a positive number: another
-- caller holds it for that many more ms; false: no lease could be recorded
-- (a refused write, a key of another type), a plain miss.
local function lease_miss()
  local leases, who, lease = KEYS[3], ARGV[1], tonumber(ARGV[2])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local ends = redis.pcall('ZSCORE', leases, who)
  if type(ends) == 'table' then
    return false
  end
  if ends and tonumber(ends) > now then
    return tonumber(ends) - now
  end
  local granted = redis.pcall('ZADD', leases, now + lease, who)
  if type(granted) == 'table' then
    return false
  end
  -- Leases whose holders never put (they failed or died) end here, and
  -- the key outlives its newest lease by nothing.
  redis.pcall('ZREMRANGEBYSCORE', leases, '-inf', now)
  if redis.call('PTTL', leases) < lease then
    redis.pcall('PEXPIRE', leases, lease)
  end
  return 0
end

