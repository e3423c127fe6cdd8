-- Write one member: evict if a new member finds the pair full, insert or
-- replace, set TTLs, atomically. Returns the evicted members, in order.
-- KEYS[1] index (sorted set, or set), KEYS[2] values (hash)
-- ARGV[1] member   ARGV[2] value   ARGV[3] index kind: 'z' | 's'
-- ARGV[4] insert rule, ARGV[5] overwrite rule: keep | max1 | one | incr | clock
-- ARGV[6] victim: low | high | rand      ARGV[7] maxsize
-- ARGV[8] pair TTL, ms   ARGV[9] '1': a put restarts the pair TTL
-- ARGV[10] entry TTL, µs ('0': values carry no deadline)
local index, values = KEYS[1], KEYS[2]
local member, value, kind = ARGV[1], ARGV[2], ARGV[3]
local maxsize = tonumber(ARGV[7])

local now = nil
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return now
end

local function score_text(x)
  return string.format('%.0f', x)
end

-- Lua's unpack has a stack limit: call with members in chunks.
local function each_chunk(command, key, members)
  for i = 1, #members, 1000 do
    redis.call(command, key, unpack(members, i, math.min(i + 999, #members)))
  end
end

-- A pair with one half missing (expired or evicted alone) is repaired: the
-- surviving half goes first. (One EXISTS counts both keys.)
local halves = redis.call('EXISTS', index, values)
if halves == 1 then
  redis.call('DEL', index, values)
end
local created = halves ~= 2
local slide = ARGV[9] == '1'
-- Without sliding, the pair keeps the deadline it was created with, even if
-- eviction empties and so deletes its keys on the way.
local keep_ms = -1
if not created and not slide then
  keep_ms = redis.call('PTTL', index)
end

local stored = value
local entry_ttl = tonumber(ARGV[10])
if entry_ttl > 0 then
  stored = string.format('%016.0f', clock() + entry_ttl) .. value
end

local function max_score()
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if top[2] then
    return tonumber(top[2])
  end
  return 0
end

local function score_for(rule, current)
  if rule == 'max1' then
    return max_score() + 1
  elseif rule == 'one' then
    return 1
  elseif rule == 'incr' then
    return (current or 0) + 1
  elseif rule == 'clock' then
    return clock()
  end
  return nil
end

local evicted = {}
local present
if kind == 'z' then
  present = redis.call('ZSCORE', index, member)
else
  present = redis.call('SISMEMBER', index, member) == 1
end

if present then
  redis.call('HSET', values, member, stored)
  if kind == 'z' then
    local new = score_for(ARGV[5], tonumber(present))
    if new then
      redis.call('ZADD', index, score_text(new), member)
    end
  end
else
  local size
  if kind == 'z' then
    size = redis.call('ZCARD', index)
  else
    size = redis.call('SCARD', index)
  end
  if size >= maxsize then
    local n = size - maxsize + 1
    local victim = ARGV[6]
    if kind == 's' then
      evicted = redis.call('SPOP', index, n)
    elseif victim == 'rand' then
      evicted = redis.call('ZRANDMEMBER', index, n)
      each_chunk('ZREM', index, evicted)
    else
      local popped
      if victim == 'high' then
        popped = redis.call('ZPOPMAX', index, n)
      else
        popped = redis.call('ZPOPMIN', index, n)
      end
      for i = 1, #popped, 2 do
        evicted[#evicted + 1] = popped[i]
      end
    end
    each_chunk('HDEL', values, evicted)
  end
  if kind == 'z' then
    redis.call('ZADD', index, score_text(score_for(ARGV[4], nil) or 0), member)
  else
    redis.call('SADD', index, member)
  end
  redis.call('HSET', values, member, stored)
end

if created or slide then
  redis.call('PEXPIRE', index, ARGV[8])
  redis.call('PEXPIRE', values, ARGV[8])
elseif keep_ms > 0 then
  redis.call('PEXPIRE', index, keep_ms)
  redis.call('PEXPIRE', values, keep_ms)
end
return evicted
