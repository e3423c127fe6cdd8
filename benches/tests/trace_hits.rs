//! `replay` on the memory store gives exactly the hits of an independent
//! simulator, on every shared trace but orm-busy, at capacities 100 and 1000;
//! for S3-FIFO and SIEVE, on every shared trace under 60k requests.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use redis_func_cache_benches::{replay, trace};

/// Hits of textbook LRU (evict least recent) or MRU (evict most recent,
/// before inserting the new key).
fn recency_sim(keys: &[i64], capacity: usize, evict_most_recent: bool) -> (u64, u64) {
    let mut last_use: HashMap<i64, u64> = HashMap::new();
    let mut by_time: BTreeMap<u64, i64> = BTreeMap::new();
    let (mut hits, mut evictions) = (0, 0);
    for (t, &k) in keys.iter().enumerate() {
        let t = t as u64;
        if let Some(old) = last_use.insert(k, t) {
            by_time.remove(&old);
            hits += 1;
        } else if by_time.len() == capacity {
            let (_, victim) = if evict_most_recent {
                by_time.pop_last().unwrap()
            } else {
                by_time.pop_first().unwrap()
            };
            last_use.remove(&victim);
            evictions += 1;
        }
        by_time.insert(t, k);
    }
    (hits, evictions)
}

/// Hits of textbook FIFO.
fn fifo_sim(keys: &[i64], capacity: usize) -> (u64, u64) {
    let mut queue = VecDeque::new();
    let mut present = HashSet::new();
    let (mut hits, mut evictions) = (0, 0);
    for &k in keys {
        if present.contains(&k) {
            hits += 1;
            continue;
        }
        if queue.len() == capacity {
            present.remove(&queue.pop_front().unwrap());
            evictions += 1;
        }
        queue.push_back(k);
        present.insert(k);
    }
    (hits, evictions)
}

/// Hits of S3-FIFO as SPEC §3.2 states it, on queues of keys (small and
/// main only ever lose their oldest; the ghost drops stale places lazily).
fn s3fifo_sim(keys: &[i64], capacity: usize) -> (u64, u64) {
    let s = (capacity / 10).max(1);
    let m = capacity - s;
    let mut freq: HashMap<i64, u8> = HashMap::new();
    let (mut small, mut main) = (VecDeque::new(), VecDeque::new());
    let mut ghost: VecDeque<(i64, u64)> = VecDeque::new();
    let mut ghost_live: HashMap<i64, u64> = HashMap::new();
    let mut stamp = 0u64;
    let (mut hits, mut evictions) = (0, 0);
    let evict_main = |main: &mut VecDeque<i64>, freq: &mut HashMap<i64, u8>| loop {
        let t = main.pop_front().unwrap();
        let f = freq[&t];
        if f > 0 {
            freq.insert(t, f - 1);
            main.push_back(t);
        } else {
            freq.remove(&t);
            return;
        }
    };
    for &k in keys {
        if let Some(f) = freq.get_mut(&k) {
            *f = (*f + 1).min(3);
            hits += 1;
            continue;
        }
        while small.len() + main.len() >= capacity {
            evictions += 1;
            let mut done = false;
            if small.len() >= s || main.is_empty() {
                while let Some(t) = small.pop_front() {
                    if freq[&t] >= 1 {
                        main.push_back(t);
                        if main.len() > m {
                            evict_main(&mut main, &mut freq);
                            done = true;
                            break;
                        }
                    } else {
                        freq.remove(&t);
                        stamp += 1;
                        ghost.push_back((t, stamp));
                        ghost_live.insert(t, stamp);
                        while ghost_live.len() > m.max(1) {
                            let (g, at) = ghost.pop_front().unwrap();
                            if ghost_live.get(&g) == Some(&at) {
                                ghost_live.remove(&g);
                            }
                        }
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                evict_main(&mut main, &mut freq);
            }
        }
        if ghost_live.remove(&k).is_some() {
            main.push_back(k);
        } else {
            small.push_back(k);
        }
        freq.insert(k, 0);
    }
    (hits, evictions)
}

/// Hits of SIEVE as its paper draws it: a doubly linked list from the
/// oldest to the newest and a hand that remembers the entry after the last
/// victim (none: start again at the oldest).
fn sieve_sim(keys: &[i64], capacity: usize) -> (u64, u64) {
    const NIL: usize = usize::MAX;
    // slot: (key, visited, older, newer)
    let mut slots: Vec<(i64, bool, usize, usize)> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut at: HashMap<i64, usize> = HashMap::new();
    let (mut oldest, mut newest, mut hand) = (NIL, NIL, NIL);
    let (mut hits, mut evictions) = (0, 0);
    for &k in keys {
        if let Some(&i) = at.get(&k) {
            slots[i].1 = true;
            hits += 1;
            continue;
        }
        if at.len() >= capacity {
            let mut i = if hand == NIL { oldest } else { hand };
            while slots[i].1 {
                slots[i].1 = false;
                i = if slots[i].3 == NIL {
                    oldest
                } else {
                    slots[i].3
                };
            }
            let (key, _, older, newer) = slots[i];
            hand = newer;
            if older == NIL {
                oldest = newer
            } else {
                slots[older].3 = newer
            }
            if newer == NIL {
                newest = older
            } else {
                slots[newer].2 = older
            }
            at.remove(&key);
            free.push(i);
            evictions += 1;
        }
        let entry = (k, false, newest, NIL);
        let i = match free.pop() {
            Some(i) => {
                slots[i] = entry;
                i
            }
            None => {
                slots.push(entry);
                slots.len() - 1
            }
        };
        if newest == NIL {
            oldest = i
        } else {
            slots[newest].3 = i
        }
        newest = i;
        at.insert(k, i);
    }
    (hits, evictions)
}

fn replay_matches_simulator(word: &str) {
    let dir = trace::default_dir();
    let traces = trace::list(&dir).unwrap_or_else(|e| panic!("the shared traces are needed: {e}"));
    let new_policy = matches!(word, "s3fifo" | "sieve");
    let traces: Vec<_> = traces
        .into_iter()
        .filter(|p| trace::name(p) != "orm-busy")
        .collect();
    assert!(
        traces.len() >= 14,
        "expected the shared traces in {}, found {traces:?}",
        dir.display()
    );
    for path in traces {
        let name = trace::name(&path);
        let keys = trace::load(&path, None).unwrap();
        if new_policy && keys.len() >= 60_000 {
            continue;
        }
        for capacity in [100u64, 1000] {
            {
                let policy = replay::policy(word, "single").unwrap();
                let report = replay::run_memory(&name, &keys, policy, capacity).unwrap();
                let want = match word {
                    "lru" => recency_sim(&keys, capacity as usize, false),
                    "mru" => recency_sim(&keys, capacity as usize, true),
                    "s3fifo" => s3fifo_sim(&keys, capacity as usize),
                    "sieve" => sieve_sim(&keys, capacity as usize),
                    _ => fifo_sim(&keys, capacity as usize),
                };
                assert_eq!(
                    (report.hits, report.evictions),
                    want,
                    "{name} {word} capacity {capacity}: (hits, evictions) differ from the simulator"
                );
                assert_eq!(report.hits + report.misses, keys.len() as u64);
            }
        }
    }
}

#[test]
fn lru_replay_matches_the_simulator_on_every_trace() {
    replay_matches_simulator("lru");
}

#[test]
fn mru_replay_matches_the_simulator_on_every_trace() {
    replay_matches_simulator("mru");
}

#[test]
fn fifo_replay_matches_the_simulator_on_every_trace() {
    replay_matches_simulator("fifo");
}

#[test]
fn s3fifo_replay_matches_the_simulator_on_every_trace_under_60k() {
    replay_matches_simulator("s3fifo");
}

#[test]
fn sieve_replay_matches_the_simulator_on_every_trace_under_60k() {
    replay_matches_simulator("sieve");
}

/// The simulators are not all alike: on a trace with reuse, S3-FIFO and
/// SIEVE each differ from FIFO (so a replay that fell back to FIFO fails).
#[test]
fn the_new_simulators_differ_from_fifo() {
    let dir = trace::default_dir();
    let keys = trace::load(&dir.join("cpp.trace.gz"), None).unwrap();
    let fifo = fifo_sim(&keys, 100);
    assert_ne!(s3fifo_sim(&keys, 100), fifo);
    assert_ne!(sieve_sim(&keys, 100), fifo);
}
