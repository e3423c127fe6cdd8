-- One entry, read or removed without the policy (SPEC §10), atomically.
-- KEYS[1] index (sorted set, or set), KEYS[2] values (hash)
-- ARGV[1] member   ARGV[2] 'peek' | 'remove'   ARGV[3] index kind: 's' for
-- a set, 'sv' for SIEVE's queue, anything else a sorted set   ARGV[4] '1': this cache keeps a
-- deadline per entry, so a value without one is a miss (as in get.lua)
-- peek returns what get.lua would, changing nothing: no hit rule, no TTL
-- slide, an expired entry is a miss and stays. remove returns 1 if the
-- member's value was there (and removes it from both keys), else 0 and
-- changes nothing.
local index, values = KEYS[1], KEYS[2]
local member, op, kind = ARGV[1], ARGV[2], ARGV[3]

if op == 'remove' then
  local removed = redis.pcall('HDEL', values, member)
  if type(removed) == 'table' or removed == 0 then
    -- Nothing resident: an S3-FIFO ghost (a member with no value) stays,
    -- as on the memory store; it is the policy's memory, not an entry.
    return 0
  end
  if kind == 's' then
    redis.pcall('SREM', index, member)
  else
    redis.pcall('ZREM', index, member)
    -- It may have had the top score, which get.lua keeps under the field
    -- '': drop that, so the next hit reads the index.
    redis.pcall('HDEL', values, '')
  end
  if kind == 'sv' then
    -- SIEVE: a hand left past every remaining entry goes back to the
    -- oldest (no 'hand' member), as in get.lua.
    local h = redis.pcall('ZSCORE', index, 'hand')
    if type(h) == 'string' and
        #redis.call('ZRANGEBYSCORE', index, -tonumber(h), '+inf', 'LIMIT', 0, 1) == 0 then
      redis.pcall('ZREM', index, 'hand')
    end
  end
  return removed
end

local value = redis.pcall('HGET', values, member)
if not value or type(value) == 'table' then
  return false
end
-- A value without its index entry is half a pair: a miss, as for get.
local indexed
if kind == 's' then
  indexed = redis.pcall('SISMEMBER', index, member)
else
  indexed = redis.pcall('ZSCORE', index, member)
end
if not indexed or indexed == 0 or type(indexed) == 'table' then
  return false
end
local info = string.byte(value, 2)
if string.byte(value, 1) == 255 and info and info % 32 >= 16 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local deadline = tonumber(string.sub(value, 3, 18))
  if deadline == nil or now >= deadline then
    return false
  end
  return string.sub(value, 1, 1) .. string.char(info - 16) .. string.sub(value, 19)
elseif ARGV[4] == '1' then
  return false
end
return value
