//! `replay` on the memory store gives exactly the hits of an independent
//! simulator, on every shared trace but orm-busy, at capacities 100 and 1000.

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

fn replay_matches_simulator(word: &str) {
    let dir = trace::default_dir();
    let traces = trace::list(&dir).unwrap_or_else(|e| panic!("the shared traces are needed: {e}"));
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
        for capacity in [100u64, 1000] {
            {
                let policy = replay::policy(word, "single").unwrap();
                let report = replay::run_memory(&name, &keys, policy, capacity).unwrap();
                let want = match word {
                    "lru" => recency_sim(&keys, capacity as usize, false),
                    "mru" => recency_sim(&keys, capacity as usize, true),
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
