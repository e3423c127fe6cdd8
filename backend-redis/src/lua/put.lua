-- Write one member: evict if a new member finds the pair full, insert or
-- replace, set TTLs, atomically.
-- KEYS[1] index (sorted set, or set), KEYS[2] values (hash)
-- ARGV[1] member   ARGV[2] value
-- ARGV[3] index kind: 'z' | 's' | 'q3' S3-FIFO | 'sv' SIEVE (SPEC §3.2; the
--         queues live in the sorted set's scores and each entry's counter or
--         bit in the last byte of its stored value, as queue_scores says)
-- ARGV[4] insert rule, ARGV[5] overwrite rule: keep | max1 | one | incr | clock
-- ARGV[6] victim: low | high | rand      ARGV[7] maxsize
-- ARGV[8] pair TTL, ms   ARGV[9] '1': a put restarts the pair TTL
-- ARGV[10] entry TTL, µs ('0': values carry no deadline)
-- Returns the evicted members in order, each expired one (past its
-- per-entry deadline, counted only with an entry TTL) prefixed with 'x'.
-- KEYS[3], only from caches that take leases: the pair's leases; the put
--          releases the member's (SPEC §9)
-- Numbers given to redis.call are written as text below where it is
-- cheap: redis.call writes a Lua number with '%.17g', about 2k
-- instructions each. (Globals are not read into locals here, as get.lua
-- does: the closures below would each capture them, which costs more than
-- the reads it saves.)
local index, values = KEYS[1], KEYS[2]
local member, value, kind = ARGV[1], ARGV[2], ARGV[3]
-- Only a lease that exists is removed: ZREM is a write, and once a script
-- has written, Redis lets its later writes past a server out of memory
-- under 'noeviction' (it cannot stop a script halfway), so a ZREM of
-- nothing would let this put grow a full server. (Out of memory, the get
-- script could not grant the lease either.)
if KEYS[3] and type(redis.pcall('ZSCORE', KEYS[3], member)) == 'string' then
  redis.pcall('ZREM', KEYS[3], member)
end
local maxsize = tonumber(ARGV[7])

local now = nil
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return now
end

-- A score as ZADD takes it. '%d' is exact and cheaper for the integers
-- scores are (below 2^53 in magnitude); '%.0f', as before, for anything
-- else a pair written by something else might hold.
local function score_text(x)
  if x % 1 == 0 and x < 9007199254740992 and x > -9007199254740992 then
    return string.format('%d', x)
  end
  return string.format('%.0f', x)
end

-- A count for redis.call: the usual 1 as text.
local function count_text(n)
  if n == 1 then
    return '1'
  end
  return n
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
if halves == 2 then
  -- Keys of the wrong type (written by something else) make a broken pair,
  -- replaced whole, so it heals instead of failing every call.
  local index_type = redis.call('TYPE', index)['ok']
  local wanted = 'zset'
  if kind == 's' then
    wanted = 'set'
  end
  if index_type ~= wanted or redis.call('TYPE', values)['ok'] ~= 'hash' then
    halves = 1
  end
end
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

-- A value starts with its two-byte header (core::envelope). With a
-- per-entry TTL the deadline goes right after it, and the header's
-- 'deadline follows' bit (0x10 of byte 2) says so to every reader.
local stored = value
local entry_ttl = tonumber(ARGV[10])
if entry_ttl > 0 and #value >= 2 then
  stored = string.sub(value, 1, 1) .. string.char(string.byte(value, 2) + 16)
    .. string.format('%016.0f', clock() + entry_ttl) .. string.sub(value, 3)
end

-- Whether a victim had expired: with a per-entry TTL, its deadline (after
-- the value's header, as get.lua reads it) has passed. Read before the
-- victim is deleted; such victims are returned with a leading 'x', so the
-- client's eviction listener hears them as expired.
local function expired_victim(victim)
  if entry_ttl <= 0 then
    return false
  end
  local v = redis.pcall('HGET', values, victim)
  if type(v) ~= 'string' then
    return false
  end
  local info = string.byte(v, 2)
  if string.byte(v, 1) ~= 255 or not info or info % 32 < 16 then
    return false
  end
  local deadline = tonumber(string.sub(v, 3, 18))
  return deadline ~= nil and clock() >= deadline
end

local function max_score()
  local top = redis.call('ZRANGE', index, '-1', '-1', 'WITHSCORES')
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

-- S3-FIFO and SIEVE. Score arguments are formatted by hand: Lua would
-- send 2^50 as 1.1258999068426e+15.
local SMALL, MAIN = 1125899906842624, 2251799813685248 -- 2^50, 2^51
local SMALL_TEXT, MAIN_TEXT = '1125899906842624', '2251799813685248'

-- One S3-FIFO queue's scores, as ZRANGE BYSCORE bounds.
local function bounds(queue)
  if queue == 'g' then
    return '1', '(' .. SMALL_TEXT
  elseif queue == 's' then
    return SMALL_TEXT, '(' .. MAIN_TEXT
  end
  return MAIN_TEXT, '+inf'
end

local function first_in(lo, hi)
  local r = redis.call('ZRANGE', index, lo, hi, 'BYSCORE', 'LIMIT', '0', '1', 'WITHSCORES')
  if r[1] then
    return r[1], tonumber(r[2])
  end
  return nil, nil
end

local function last_in(lo, hi)
  local r = redis.call('ZRANGE', index, hi, lo, 'BYSCORE', 'REV', 'LIMIT', '0', '1', 'WITHSCORES')
  if r[1] then
    return r[1], tonumber(r[2])
  end
  return nil, nil
end

-- The score of a member appended to a queue: the one after its newest
-- (which may be the member itself: ZADD moves it in place).
local function append_score(queue)
  local _, top = last_in(bounds(queue))
  if top then
    return top + 1
  end
  if queue == 'g' then
    return 1
  elseif queue == 's' then
    return SMALL + 1
  end
  return MAIN + 1
end

-- S3-FIFO's counter or SIEVE's bit: the last byte of a resident's value.
local function flag_of(m)
  local v = redis.call('HGET', values, m)
  if not v then
    return 0, nil
  end
  return string.byte(v, -1) or 0, v
end

local function set_flag(m, v, f)
  redis.call('HSET', values, m, string.sub(v, 1, -2) .. string.char(f))
end

local n_small, n_main, n_ghost = 0, 0, 0

-- S3-FIFO's "evict from M": second chances until a counter is 0.
local function s3_evict_main()
  while true do
    local t = first_in(bounds('m'))
    if not t then
      return nil
    end
    local freq, v = flag_of(t)
    if freq > 0 then
      set_flag(t, v, freq - 1)
      redis.call('ZADD', index, score_text(append_score('m')), t)
    else
      redis.call('ZREM', index, t)
      n_main = n_main - 1
      return t
    end
  end
end

-- S3-FIFO's "evict one", literally.
local function s3_evict()
  local s = math.max(1, math.floor(maxsize / 10))
  local m = math.max(0, maxsize - s)
  if n_small >= s or n_main == 0 then
    while n_small > 0 do
      local t = first_in(bounds('s'))
      n_small = n_small - 1
      if flag_of(t) >= 1 then
        redis.call('ZADD', index, score_text(append_score('m')), t)
        n_main = n_main + 1
        if n_main > m then
          return s3_evict_main()
        end
      else
        redis.call('ZADD', index, score_text(append_score('g')), t)
        n_ghost = n_ghost + 1
        while n_ghost > math.max(1, m) do
          local oldest = first_in(bounds('g'))
          redis.call('ZREM', index, oldest)
          n_ghost = n_ghost - 1
        end
        return t
      end
    end
  end
  return s3_evict_main()
end

-- SIEVE's eviction: the hand clears visited bits until it meets an
-- unvisited entry, which goes; the hand (a sequence number) is kept, when
-- not 0, as the negated score of the member 'hand'.
local function sieve_evict()
  local hand = -(tonumber(redis.call('ZSCORE', index, 'hand')) or 0)
  local t, seq = first_in(score_text(math.max(1, hand)), '+inf')
  if not t then
    t, seq = first_in('1', '+inf')
  end
  while true do
    local visited, v = flag_of(t)
    if visited ~= 1 then
      break
    end
    set_flag(t, v, 0)
    local next_t, next_seq = first_in('(' .. score_text(seq), '+inf')
    if not next_t then
      next_t, next_seq = first_in('1', '+inf')
    end
    t, seq = next_t, next_seq
  end
  redis.call('ZREM', index, t)
  if first_in('(' .. score_text(seq), '+inf') then
    redis.call('ZADD', index, score_text(-(seq + 1)), 'hand')
  else
    redis.call('ZREM', index, 'hand')
  end
  return t
end

-- A sorted-set index's top score, as get.lua keeps it under the values
-- field '' for hits that move a member to max + 1: the score just written
-- when it was max + 1 (so the top), else nil; and whether the index
-- changed otherwise (then the kept top may be wrong, and is dropped).
local top, changed = nil, false

-- Notes a score just written to the index by `rule`.
local function wrote(rule, score)
  if rule == 'max1' then
    top = score
  else
    changed = true
  end
end

local evicted = {}
local present
if kind == 'q3' or kind == 'sv' then
  local score = tonumber(redis.call('ZSCORE', index, member))
  present = score ~= nil and (kind == 'sv' or score >= SMALL)
  -- The value ends with the counter or bit: kept on a replace, 0 when new.
  if present then
    stored = stored .. string.char((flag_of(member)))
  else
    stored = stored .. string.char(0)
  end
elseif kind == 'z' then
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
      wrote(ARGV[5], new)
    end
  end
elseif kind == 'q3' or kind == 'sv' then
  local size = redis.call('HLEN', values)
  if kind == 'q3' and size >= maxsize and size > 0 then
    n_small = redis.call('ZCOUNT', index, bounds('s'))
    n_main = redis.call('ZCOUNT', index, bounds('m'))
    n_ghost = redis.call('ZCOUNT', index, bounds('g'))
  end
  while size >= maxsize and size > 0 do
    local victim
    if kind == 'q3' then
      victim = s3_evict()
    else
      victim = sieve_evict()
    end
    if not victim then
      break
    end
    if expired_victim(victim) then
      evicted[#evicted + 1] = 'x' .. victim
    else
      evicted[#evicted + 1] = victim
    end
    redis.call('HDEL', values, victim)
    size = size - 1
  end
  local score
  if kind == 'sv' then
    local _, top = last_in('1', '+inf')
    score = (top or 0) + 1
  else
    local was = tonumber(redis.call('ZSCORE', index, member))
    if was and was < SMALL then
      score = append_score('m')
    else
      score = append_score('s')
    end
  end
  redis.call('ZADD', index, score_text(score), member)
  redis.call('HSET', values, member, stored)
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
      evicted = redis.call('SPOP', index, count_text(n))
    elseif victim == 'rand' then
      evicted = redis.call('ZRANDMEMBER', index, count_text(n))
      each_chunk('ZREM', index, evicted)
    else
      local popped
      if victim == 'high' then
        popped = redis.call('ZPOPMAX', index, count_text(n))
      else
        popped = redis.call('ZPOPMIN', index, count_text(n))
      end
      for i = 1, #popped, 2 do
        evicted[#evicted + 1] = popped[i]
      end
    end
    local expired = {}
    if entry_ttl > 0 then
      for i = 1, #evicted do
        expired[i] = expired_victim(evicted[i])
      end
    end
    each_chunk('HDEL', values, evicted)
    for i = 1, #evicted do
      if expired[i] then
        evicted[i] = 'x' .. evicted[i]
      end
    end
  end
  if kind == 'z' then
    local score = score_for(ARGV[4], nil) or 0
    redis.call('ZADD', index, score_text(score), member)
    wrote(ARGV[4], score)
  else
    redis.call('SADD', index, member)
  end
  redis.call('HSET', values, member, stored)
end

if top then
  redis.call('HSET', values, '', score_text(top))
elseif changed then
  redis.call('HDEL', values, '')
end

if created or slide then
  redis.call('PEXPIRE', index, ARGV[8])
  redis.call('PEXPIRE', values, ARGV[8])
elseif keep_ms > 0 then
  redis.call('PEXPIRE', index, keep_ms)
  redis.call('PEXPIRE', values, keep_ms)
end
return evicted
