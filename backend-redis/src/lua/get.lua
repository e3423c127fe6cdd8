-- Read one member and apply the policy's hit rule, atomically.
-- A template: scripts.rs makes one script per policy from it. A line
-- '--@ word …' starts a part that only the scripts of one of those words
-- keep, up to the next such line ('--@ end': every script again). The
-- words are the index kind ('z' sorted set, 's' set, 'q' S3-FIFO or SIEVE
-- queues in a sorted set), the hit rule ('keep', 'max1', 'one', 'incr',
-- 'clock'; for 'q': 'freq' or 'visit'), 'slide' (a hit restarts the pair
-- TTL once it has run down by 1/16 of itself, SPEC §6) and 'per_entry'
-- (this cache keeps a deadline per entry, so a value without one is a
-- miss). A script so carries only its policy's path: a test of a word
-- at run time, and even code that never runs, cost the server time on
-- every hit (BENCHMARKS.md).
-- KEYS[1] index (sorted set, or set), KEYS[2] values (hash)
-- ARGV[1] member
-- The pair TTL (ms, as PEXPIRE takes it) and the time left at or below
-- which a hit restarts it, ttl - ttl/16, are constants of the cache
-- written in where the slide reads them (an argument, and turning it into
-- a number, cost the server more than the rest of a read-only hit).
-- A value starts with its two-byte header (core::envelope); if the header's
-- 'deadline follows' bit is set, whoever wrote it, 16 digits follow it,
-- checked here and taken out of the answer.
-- Returns the value, or false for a miss; {false} for a miss that removed
-- an entry past its own deadline, so the caller can report the removal.
--
-- Every hit runs this text, so it creates no closures and makes no call it
-- can skip: a hit that changes no score reads the value and the TTL only.
--
-- Writes go through redis.pcall: a server out of memory under
-- 'noeviction' refuses them, and the hit is still served (only the hit
-- rule's update is lost). A key of the wrong type (written by something
-- else) makes the read a miss, and the put that follows replaces the pair.

-- Globals the hot paths use more than once, read once: a global read
-- costs the server about 150 instructions more than a local's (Redis
-- keeps the globals behind a read-only table's __index).
local redis, string = redis, string
local index, values, member = KEYS[1], KEYS[2], ARGV[1]

-- (An error answer is a table with no array part, so its length is 0; a
-- value is never empty. '#' is one step of Lua, type() a C call.)
local value = redis.pcall('HGET', values, member)
if not value or #value == 0 then
  return false
end
--@ q
local stored = value
--@ end

local now = nil
local head, info = string.byte(value, 1, 2)
if head == 255 and info and info % 32 >= 16 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local deadline = tonumber(string.sub(value, 3, 18))
  if deadline == nil or now >= deadline then
    -- It may have had the top score: drop the kept one (the field '', see
    -- the max1 part below), so the next hit reads the index.
    redis.pcall('HDEL', values, member, '')
--@ z q
    redis.pcall('ZREM', index, member)
--@ s
    redis.pcall('SREM', index, member)
--@ visit
    -- SIEVE: a hand left past every remaining entry goes back to the
    -- oldest (no 'hand' member), so an entry added later cannot take it.
    local h = redis.pcall('ZSCORE', index, 'hand')
    if type(h) == 'string' and
        #redis.call('ZRANGEBYSCORE', index, -tonumber(h), '+inf', 'LIMIT', 0, 1) == 0 then
      redis.pcall('ZREM', index, 'hand')
    end
--@ end
    return {false} -- expired: a miss that removed the entry, as such
  end
  value = string.sub(value, 1, 1) .. string.char(info - 16) .. string.sub(value, 19)
--@ per_entry
else
  -- Written without a deadline, by a cache without per-entry TTLs: this
  -- reader would keep it forever, so it is a miss (the put overwrites it).
  return false
--@ end
end

-- The index's remaining TTL (-2: the index key is gone), once read.
local left = nil

--@ keep q
-- A hit that changes no score (FIFO, RR, S3-FIFO, SIEVE) reads nothing
-- more: keys are lost whole (expiry, maxmemory), so the index key's
-- presence, which the TTL read below needs anyway, is the check for a
-- pair that lost a half.
left = redis.call('PTTL', index)
if left == -2 then
  redis.pcall('HDEL', values, member)
  return false
end
--@ q
-- S3-FIFO's counter (up to 3) and SIEVE's bit are the stored value's
-- last byte (queue_scores), read with the value; a hit that finds them
-- saturated writes nothing. The caller drops the byte.
local flag = string.byte(value, -1)
if flag == nil then
  redis.pcall('HDEL', values, member)
  return false
end
--@ freq
if flag < 3 then
--@ visit
if flag < 1 then
--@ q
  redis.pcall('HSET', values, member, string.sub(stored, 1, -2) .. string.char(flag + 1))
end
--@ incr
-- LFU: one call adds 1 and, answering nil, says the member is missing.
-- (The 1 goes as text: redis.call writes a Lua number with '%.17g',
-- which costs about 2k instructions, as much as the rest of the call.)
local counted = redis.pcall('ZADD', index, 'XX', 'INCR', '1', member)
if not counted then
  -- A value without its index entry: the pair lost a half. Heal it.
  redis.pcall('HDEL', values, member)
  return false
elseif #counted == 0 and string.find(counted.err, 'WRONGTYPE', 1, true) then
  -- (A score is never empty: only an error answer has length 0.)
  return false
end
-- (Refused, out of memory: the value is served as it stands.)
--@ max1
-- The new score. It goes to ZADD as a Lua number, which redis.call
-- writes with '%.17g': exact for every integer a score here reaches
-- (below 2^53), and cheaper than string.format plus the type() check an
-- error answer would then need.
-- The top score ("max") is kept in the values hash under the field ''
-- (no member is empty) by every script that changes it, so one
-- HINCRBY both reads it and moves it on; reading it from the index
-- costs the server more than the rest of a hit. An answer of 1 means
-- there was no field (a max is at least 1 once a member is in): no
-- score yet, the rare path below finds it. (The 1 goes as text: a
-- Lua number costs the '%.17g' above, as much as the rest of the call.)
local new = redis.pcall('HINCRBY', values, '', '1')
if new == 1 then
  new = nil
end
--@ clock
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
end
-- (As text written with '%d': '%.17g' costs more for a clock's 16
-- digits, and now is always a number, so no check is needed.)
local new = string.format('%d', now)
--@ one
local new = 1
--@ max1 one clock
-- ZADD XX CH answers 1 when it moved the member: then it is there, and
-- a hit takes no other path.
local moved = new and redis.pcall('ZADD', index, 'XX', 'CH', new, member)
if moved ~= 1 then
--@ max1
  if type(new) ~= 'number' then
    -- No kept top (the top left, or an older version wrote the pair), or
    -- HINCRBY failed (refused, out of memory; a '' field that is not a
    -- number, written by something else) and the ZADD with its answer
    -- did too. Read the top from the index, keep it, move the member.
    local range = redis.pcall('ZRANGE', index, -1, -1, 'WITHSCORES')
    if range.err then
      return false
    end
    -- An empty index: the pair lost a half, and the ZADD below says so.
    new = tonumber(range[2] or 0) + 1
    redis.pcall('HSET', values, '', new)
    moved = redis.pcall('ZADD', index, 'XX', 'CH', new, member)
  end
  -- 0 means missing: the pair lost a half.
  if moved == 0 then
--@ one clock
  -- 0 means missing, or already there (a rule that may give the score
  -- the member has); ZSCORE tells which.
  if moved == 0 and not redis.pcall('ZSCORE', index, member) then
--@ max1 one clock
    -- A value without its index entry: the pair lost a half. Heal it
    -- (and drop the top score, moved on for a member that is not there).
    redis.pcall('HDEL', values, member, '')
    return false
  elseif type(moved) == 'table' and string.find(moved.err, 'WRONGTYPE', 1, true) then
    return false
  end
  -- (Refused, out of memory: the member's presence is unknown, and the
  -- value is served as it stands.)
end
--@ slide
if left == nil then
  left = redis.call('PTTL', index)
end
local pair_ttl, renew_at = PAIR_TTL
if left <= renew_at then
  redis.pcall('PEXPIRE', index, pair_ttl)
  redis.pcall('PEXPIRE', values, pair_ttl)
end
--@ end
return value
