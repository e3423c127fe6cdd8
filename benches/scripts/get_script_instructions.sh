#!/usr/bin/env bash
# What a warm hit costs the Redis server, in instructions (deterministic,
# unlike time on a shared machine): runs redis-server under callgrind, fills
# a pair of 1,000 entries, sends N hits of one script and subtracts a run
# that sends none. Prints instructions per call of each get script (the
# text the store sends for the policy with the default TTL), sent as the
# store sends it (FCALL of the script as a function) and as a script
# (EVALSHA, the fallback), and of the bare HGET + ZADD XX
# script (EVALSHA) that `compare` measures against, and of LRU's floor (the
# four calls SPEC asks of an LRU hit, bare).
#
# Two counts per line: the whole server (reading the request, replying,
# the event loop) and only what runs inside Redis's call(), the span that
# INFO commandstats times. The second is what `compare`'s
# redis_hit_server_us rows see; the first dilutes a script's cost with
# work every command pays alike.
#
#   benches/scripts/get_script_instructions.sh [N]     (needs valgrind)
set -euo pipefail
N=${1:-2000}
here=$(cd "$(dirname "$0")" && pwd)
port=$((20000 + RANDOM % 20000))
out=$(mktemp -d)
trap 'redis-cli -p $port SHUTDOWN NOSAVE >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

run() { # script, calls, extra arguments, form, collect -> instructions
  # shellcheck disable=SC2086
  valgrind --tool=callgrind $5 --callgrind-out-file="$out/cg" \
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.2; done
  for i in $(seq 0 999); do
    m=$(printf %012d "$i")
    # Distinct scores, or one for all (an LFU pair whose members were hit
    # alike, as compare's are: a count + 1 then moves a member past many).
    if [ "$scores" = equal ]; then echo "ZADD idx 4 $m"; else echo "ZADD idx $((i + 1)) $m"; fi
    echo "HSET vals $m vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
  done | redis-cli -p "$port" >/dev/null
  redis-cli -p "$port" HSET vals "" 1000 >/dev/null # the kept top score
  redis-cli -p "$port" EXPIRE idx 3600 >/dev/null
  redis-cli -p "$port" EXPIRE vals 3600 >/dev/null
  if [ "$4" = eval ]; then
    local sha
    sha=$(redis-cli -p "$port" SCRIPT LOAD "$1")
    if [ "$2" -gt 0 ]; then
      # shellcheck disable=SC2086
      redis-benchmark -p "$port" -n "$2" -c 1 -r 1000 -q \
        EVALSHA "$sha" 2 idx vals __rand_int__ $3 >/dev/null 2>&1
    fi
  else
    # The library the store loads (scripts.rs): the script as a function.
    printf '#!lua name=f\nredis.register_function("f", function(KEYS, ARGV)\n%s\nend)\n' \
      "$1" >"$out/lib.lua"
    redis-cli -p "$port" -x FUNCTION LOAD <"$out/lib.lua" >/dev/null
    if [ "$2" -gt 0 ]; then
      # shellcheck disable=SC2086
      redis-benchmark -p "$port" -n "$2" -c 1 -r 1000 -q \
        FCALL f 2 idx vals __rand_int__ $3 >/dev/null 2>&1
    fi
  fi
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$pid" || true
  grep -E "^summary:" "$out/cg" | awk '{print $2}'
}

per_call() { # script, name, extra arguments, form; minus a run without calls on the same data
  local base whole inside
  base=$(run "return 1" 0 "" eval "")
  whole=$(( ($(run "$1" "$N" "$3" "$4" "") - base) / N ))
  base=$(run "return 1" 0 "" eval --toggle-collect=call)
  inside=$(( ($(run "$1" "$N" "$3" "$4" --toggle-collect=call) - base) / N ))
  echo "$2 $4 whole: $whole in call(): $inside"
}
scores=distinct
per_call "local v = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1]) return v" bare __rand_int__ eval
# LRU's floor: the four calls SPEC asks of its hit and nothing else (compare's
# redis_hit_server_us_lru_floor baseline), in both forms.
for form in fcall eval; do
  per_call "local v = redis.call('HGET', KEYS[2], ARGV[1])
local top = redis.call('HINCRBY', KEYS[2], '', '1')
redis.call('ZADD', KEYS[1], 'XX', 'CH', top, ARGV[1])
redis.call('PTTL', KEYS[1]) return v" lru-floor "" "$form"
done
# Each policy's get script as the stores send it (hit_instructions prints
# it: scripts.rs makes it from the template's parts for that policy).
(cd "$here/../.." && cargo build --release -q -p redis-func-cache-benches --bin hit_instructions)
for word in lru lfu tlru fifo sieve s3fifo; do
  scores=distinct
  if [ "$word" = lfu ]; then scores=equal; fi
  for form in fcall eval; do
    per_call "$("$here/../../target/release/hit_instructions" --get-script "$word")" "$word" "" "$form"
  done
done
