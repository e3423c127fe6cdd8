-- Read one member and apply the policy's hit rule, atomically.
-- KEYS[1] index (sorted set, or set), KEYS[2] values (hash)
-- ARGV[1] member            ARGV[2] index kind: 'z' sorted set | 's' set
-- ARGV[3] hit rule: keep | max1 | one | incr | clock
-- ARGV[4] pair TTL, ms      ARGV[5] '1': a hit restarts the pair TTL
-- ARGV[6] '1': each value starts with its 16-digit deadline (µs)
-- Returns the value, or false for a miss.
local index, values = KEYS[1], KEYS[2]
local member, kind, rule = ARGV[1], ARGV[2], ARGV[3]

local value = redis.call('HGET', values, member)
if not value then
  return false
end

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local now = nil
if ARGV[6] == '1' then
  now = now_us()
  local deadline = tonumber(string.sub(value, 1, 16))
  if deadline == nil or now >= deadline then
    redis.call('HDEL', values, member)
    if kind == 'z' then
      redis.call('ZREM', index, member)
    else
      redis.call('SREM', index, member)
    end
    return false
  end
  value = string.sub(value, 17)
end

if kind == 'z' then
  local score = redis.call('ZSCORE', index, member)
  if not score then
    -- A value without its index entry: the pair lost a half. Heal it.
    redis.call('HDEL', values, member)
    return false
  end
  local new = nil
  if rule == 'max1' then
    local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
    new = tonumber(top[2]) + 1
  elseif rule == 'incr' then
    new = tonumber(score) + 1
  elseif rule == 'one' then
    new = 1
  elseif rule == 'clock' then
    new = now or now_us()
  end
  if new then
    redis.call('ZADD', index, string.format('%.0f', new), member)
  end
elseif redis.call('SISMEMBER', index, member) == 0 then
  redis.call('HDEL', values, member)
  return false
end

if ARGV[5] == '1' then
  redis.call('PEXPIRE', index, ARGV[4])
  redis.call('PEXPIRE', values, ARGV[4])
end
return value
