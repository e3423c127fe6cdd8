-- Read one member and apply the policy's hit rule, atomically.
-- A template: scripts.rs makes one script per policy from it, putting the
-- policy's words in place of POLICY_WORDS below, so a hit sends only what
-- changes from call to call (each argument costs the server time).
-- KEYS[1] index (sorted set, or set), KEYS[2] values (hash)
-- ARGV[1] member            ARGV[2] pair TTL, ms
-- kind: index kind, 'z' sorted set | 's' set | 'q' S3-FIFO or SIEVE queues
--       (in a sorted set)
-- rule: hit rule, keep | max1 | one | incr | clock; for 'q': freq | visit
-- slide: a hit restarts the pair TTL once it has run down by 1/16 of
--        itself (SPEC §6)
-- per_entry: this cache keeps a deadline per entry (µs), so a value
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
local index, values, member = KEYS[1], KEYS[2], ARGV[1]
local kind, rule, slide, per_entry = POLICY_WORDS

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
    -- It may have had the top score: drop the kept one ('' above), so the
    -- next hit reads the index.
    redis.pcall('HDEL', values, member, '')
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
elseif per_entry then
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
elseif rule == 'incr' then
  -- LFU: one call adds 1 and, answering nil, says the member is missing.
  local counted = redis.pcall('ZADD', index, 'XX', 'INCR', 1, member)
  if not counted then
    -- A value without its index entry: the pair lost a half. Heal it.
    redis.pcall('HDEL', values, member)
    return false
  elseif type(counted) == 'table' and string.find(counted.err, 'WRONGTYPE', 1, true) then
    return false
  end
  -- (Refused, out of memory: the value is served as it stands.)
else
  local new
  if rule == 'max1' then
    -- The top score ("max") is kept in the values hash under the field ''
    -- (no member is empty) by every script that changes it, so one
    -- HINCRBY both reads it and moves it on; reading it from the index
    -- costs the server more than the rest of a hit. An answer of 1 means
    -- no field (a max is at least 1 once a member is in): the top left, or
    -- an older version wrote the pair. Then read the index, and keep it.
    local top = redis.pcall('HINCRBY', values, '', 1)
    if type(top) ~= 'number' or top == 1 then
      local range = redis.pcall('ZRANGE', index, -1, -1, 'WITHSCORES')
      if range.err then
        return false
      end
      -- An empty index: the pair lost a half, and the ZADD below says so.
      top = tonumber(range[2] or 0) + 1
      redis.pcall('HSET', values, '', string.format('%.0f', top))
    end
    new = string.format('%.0f', top)
  elseif rule == 'clock' then
    if not now then
      local t = redis.call('TIME')
      now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    end
    new = string.format('%.0f', now)
  else
    new = '1'
  end
  -- ZADD XX CH answers 1 when it moved the member: then it is there. 0
  -- means missing, or (for a rule that may give the score it has) already
  -- there; ZSCORE tells which, on that rare path only.
  local moved = redis.pcall('ZADD', index, 'XX', 'CH', new, member)
  if moved == 0 and (rule == 'max1' or not redis.pcall('ZSCORE', index, member)) then
    -- A value without its index entry: the pair lost a half. Heal it (and
    -- drop the top score, moved on for a member that is not there).
    redis.pcall('HDEL', values, member, '')
    return false
  elseif type(moved) == 'table' and string.find(moved.err, 'WRONGTYPE', 1, true) then
    return false
  end
  -- (Refused, out of memory: the member's presence is unknown, and the
  -- value is served as it stands.)
end

if slide then
  if left == nil then
    left = redis.call('PTTL', index)
  end
  -- (Arithmetic, not tonumber and math.floor: a C call costs more.)
  local ttl = ARGV[2] + 0
  if left <= ttl - (ttl - ttl % 16) / 16 then
    redis.pcall('PEXPIRE', index, ARGV[2])
    redis.pcall('PEXPIRE', values, ARGV[2])
  end
end
return value
