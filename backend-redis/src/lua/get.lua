-- Read one member and apply the policy's hit rule, atomically.
-- KEYS[1] index (sorted set, or set), KEYS[2] values (hash)
-- ARGV[1] member            ARGV[2] index kind: 'z' sorted set | 's' set |
--                           'q' S3-FIFO or SIEVE queues (in a sorted set)
-- ARGV[3] hit rule: keep | max1 | one | incr | clock; for 'q': freq | visit
-- ARGV[4] pair TTL, ms      ARGV[5] '1': a hit restarts the pair TTL once it
--                           has run down by 1/16 of itself (SPEC §6)
-- ARGV[6] '1': this cache keeps a deadline per entry (µs), so a value
--            without one is a miss
-- A value starts with its two-byte header (core::envelope); if the header's
-- 'deadline follows' bit is set, whoever wrote it, 16 digits follow it,
-- checked here and taken out of the answer.
-- Returns the value, or false for a miss.
--
-- Every hit runs this text, so it creates no closures and makes no call it
-- can skip: a hit that changes no score reads the value and the TTL only.
--
-- Writes go through redis.pcall: a server out of memory under
-- 'noeviction' refuses them, and the hit is still served (only the hit
-- rule's update is lost). A key of the wrong type (written by something
-- else) makes the read a miss, and the put that follows replaces the pair.
local index, values = KEYS[1], KEYS[2]
local member, kind, rule = ARGV[1], ARGV[2], ARGV[3]

local value = redis.pcall('HGET', values, member)
if not value or type(value) == 'table' then
  return false
end
local stored = value

local now = nil
local info = string.byte(value, 2)
if string.byte(value, 1) == 255 and info and info % 32 >= 16 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local deadline = tonumber(string.sub(value, 3, 18))
  if deadline == nil or now >= deadline then
    redis.pcall('HDEL', values, member)
    if kind ~= 's' then
      redis.pcall('ZREM', index, member)
    else
      redis.pcall('SREM', index, member)
    end
    if rule == 'visit' then
      -- SIEVE: a hand left past every remaining entry goes back to the
      -- oldest (no 'hand' member), so an entry added later cannot take it.
      local h = redis.pcall('ZSCORE', index, 'hand')
      if type(h) == 'string' and
          #redis.call('ZRANGEBYSCORE', index, -tonumber(h), '+inf', 'LIMIT', 0, 1) == 0 then
        redis.pcall('ZREM', index, 'hand')
      end
    end
    return false
  end
  value = string.sub(value, 1, 1) .. string.char(info - 16) .. string.sub(value, 19)
elseif ARGV[6] == '1' then
  -- Written without a deadline, by a cache without per-entry TTLs: this
  -- reader would keep it forever, so it is a miss (the put overwrites it).
  return false
end

-- The index's remaining TTL (-2: the index key is gone), once read.
local left = nil

if rule == 'keep' or kind == 'q' then
  -- A hit that changes no score (FIFO, RR, S3-FIFO, SIEVE) reads nothing
  -- more: keys are lost whole (expiry, maxmemory), so the index key's
  -- presence, which the TTL read below needs anyway, is the check for a
  -- pair that lost a half.
  left = redis.call('PTTL', index)
  if left == -2 then
    redis.pcall('HDEL', values, member)
    return false
  end
  if kind == 'q' then
    -- S3-FIFO's counter (up to 3) and SIEVE's bit are the stored value's
    -- last byte (queue_scores), read with the value; a hit that finds them
    -- saturated writes nothing. The caller drops the byte.
    local flag = string.byte(value, -1)
    if flag == nil then
      redis.pcall('HDEL', values, member)
      return false
    end
    if flag < 1 or (flag < 3 and rule == 'freq') then
      redis.pcall('HSET', values, member, string.sub(stored, 1, -2) .. string.char(flag + 1))
    end
  end
else
  local present
  local top = nil
  if rule == 'max1' then
    local range = redis.pcall('ZRANGE', index, -1, -1, 'WITHSCORES')
    if range.err then
      return false
    end
    top = range[2]
  end
  if top then
    -- max + 1 always differs from the member's score, so ZADD XX CH
    -- answers 0 only for a member missing from the index: one call moves
    -- the member to the top and checks that it is there.
    local new = string.format('%.0f', tonumber(top) + 1)
    local moved = redis.pcall('ZADD', index, 'XX', 'CH', new, member)
    -- Refused (out of memory): the member's presence is unknown, and the
    -- value is served as it stands.
    present = type(moved) == 'table' or moved == 1
  else
    local score = redis.pcall('ZSCORE', index, member)
    if type(score) == 'table' then
      return false
    end
    present = score ~= false
    local new = nil
    if not present then
      new = nil
    elseif rule == 'incr' then
      new = tonumber(score) + 1
    elseif rule == 'one' then
      new = 1
    elseif rule == 'clock' then
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000000 + tonumber(t[2])
      end
      new = now
    end
    if new then
      redis.pcall('ZADD', index, string.format('%.0f', new), member)
    end
  end
  if not present then
    -- A value without its index entry: the pair lost a half. Heal it.
    redis.pcall('HDEL', values, member)
    return false
  end
end

if ARGV[5] == '1' then
  if left == nil then
    left = redis.call('PTTL', index)
  end
  local ttl = tonumber(ARGV[4])
  if left <= ttl - math.floor(ttl / 16) then
    redis.pcall('PEXPIRE', index, ARGV[4])
    redis.pcall('PEXPIRE', values, ARGV[4])
  end
end
return value
