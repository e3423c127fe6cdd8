#!/usr/bin/env bash
# What a put of a new member into a full pair costs the Redis server, in
# instructions (deterministic, unlike time on a shared machine), as
# get_script_instructions.sh counts a hit: runs redis-server under
# callgrind, fills a pair of 1,000 entries through the put script, sends N
# puts of new members (each evicts one) and subtracts a run that sends
# none. The put script is sent as the stores send it: FCALL of the script
# as a function, with the policy's words as arguments (scripts.rs,
# put_call). Prints, per policy, the whole server's count and the count
# inside Redis's call() (the span INFO commandstats times).
#
#   benches/scripts/put_script_instructions.sh [N]     (needs valgrind)
#
# PUT_SCRIPT=file counts another version of the script (say, one from
# `git show REV:backend-redis/src/lua/put.lua`), for a before and after.
set -euo pipefail
N=${1:-2000}
here=$(cd "$(dirname "$0")" && pwd)
script=${PUT_SCRIPT:-"$here/../../backend-redis/src/lua/put.lua"}
port=$((20000 + RANDOM % 20000))
out=$(mktemp -d)
trap 'redis-cli -p $port SHUTDOWN NOSAVE >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
value=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv

run() { # policy words, puts, collect -> instructions
  # shellcheck disable=SC2086
  valgrind --tool=callgrind $3 --callgrind-out-file="$out/cg" \
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.2; done
  printf '#!lua name=p\nredis.register_function("p", function(KEYS, ARGV)\n%s\nend)\n' \
    "$(cat "$script")" >"$out/lib.lua"
  redis-cli -p "$port" -x FUNCTION LOAD <"$out/lib.lua" >/dev/null
  # ARGV: member, value, kind, insert rule, overwrite rule, victim,
  # maxsize, pair TTL (ms), slide, entry TTL (µs; 0: none).
  for i in $(seq 0 999); do
    echo "FCALL p 2 idx vals m$(printf %012d "$i") $value $1 1000 3600000 1 0"
  done | redis-cli -p "$port" >/dev/null
  if [ "$2" -gt 0 ]; then
    # New members: n followed by a random number below 10^8.
    # shellcheck disable=SC2086
    redis-benchmark -p "$port" -n "$2" -c 1 -r 100000000 -q \
      FCALL p 2 idx vals n__rand_int__ $value $1 1000 3600000 1 0 >/dev/null 2>&1
  fi
  local size
  size=$(redis-cli -p "$port" HLEN vals)
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$pid" || true
  # The pair stays full (1,000 entries, and LRU's kept top score).
  [ "$size" -ge 1000 ] || { echo "the pair holds $size entries, not 1000" >&2; exit 1; }
  grep -E "^summary:" "$out/cg" | awk '{print $2}'
}

per_put() { # name, policy words
  local base whole inside
  base=$(run "$2" 0 "")
  whole=$(( ($(run "$2" "$N" "") - base) / N ))
  base=$(run "$2" 0 --toggle-collect=call)
  inside=$(( ($(run "$2" "$N" --toggle-collect=call) - base) / N ))
  echo "$1 whole: $whole in call(): $inside"
}
per_put "lru (and fifo)" "z max1 keep low"
per_put lfu "z one keep low"
per_put s3fifo "q3 keep keep low"
per_put sieve "sv keep keep low"
