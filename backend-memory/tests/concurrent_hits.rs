//! Hits from several threads at once: the store reads them under a shared
//! lock and applies their score changes later, and what it then holds must
//! be exactly what some one-at-a-time order of the same calls leaves.

use std::time::Duration;

use bytes::Bytes;
use redis_func_cache_core::clock::ManualClock;
use redis_func_cache_core::policy::PolicyRules;
use redis_func_cache_core::store::{GetRequest, PutRequest, Store};
use redis_func_cache_core::{FuncId, InvocationHash, KeyPair, Layout};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::rules;

mod common;
use common::EXPIRY;

static F: FuncId = FuncId::new("concurrent", "f", 0);
const THREADS: u64 = 4;
const KEYS: u64 = 1000;
const HITS_PER_THREAD: usize = 20_000;

fn member(k: u64) -> InvocationHash {
    common::member(&F, k)
}

fn put(store: &MemoryStore, pair: &KeyPair, rules: &PolicyRules, k: u64) -> Vec<InvocationHash> {
    let req = PutRequest::new(
        pair,
        member(k),
        Bytes::from(k.to_le_bytes().to_vec()),
        rules,
        KEYS,
        EXPIRY,
    );
    store.put(&req).expect("memory puts do not fail").evicted
}

/// Fills a pair with keys 0..KEYS, then has each thread hit its own keys
/// (k % THREADS == thread) in a random order; returns, per thread, the keys
/// in the order of their last hit.
fn hit_from_threads(store: &MemoryStore, pair: &KeyPair, rules: &PolicyRules) -> Vec<Vec<u64>> {
    for k in 0..KEYS {
        put(store, pair, rules, k);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mine: Vec<u64> = (0..KEYS).filter(|k| k % THREADS == t).collect();
                    let mut rng = fastrand::Rng::with_seed(t);
                    let mut last_hit = vec![None; KEYS as usize];
                    for i in 0..HITS_PER_THREAD {
                        let k = mine[rng.usize(..mine.len())];
                        let req = GetRequest::new(pair, member(k), rules, EXPIRY);
                        let value = store.get(&req).expect("memory reads do not fail");
                        assert_eq!(value.into_value().as_deref(), Some(&k.to_le_bytes()[..]));
                        last_hit[k as usize] = Some(i);
                    }
                    let mut hit: Vec<u64> = mine
                        .into_iter()
                        .filter(|&k| last_hit[k as usize].is_some())
                        .collect();
                    hit.sort_by_key(|&k| last_hit[k as usize]);
                    hit
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("no thread panics"))
            .collect()
    })
}

#[test]
fn concurrent_lru_hits_leave_an_exact_order() {
    let store = MemoryStore::new();
    let rules = rules::LRU;
    let pair = KeyPair::new("t:", "lru", rules.word, Layout::Single, &F);
    let per_thread = hit_from_threads(&store, &pair, &rules);

    let index = store.contents(&pair).index;
    assert_eq!(index.len() as u64, KEYS);
    let scores: Vec<u64> = index
        .iter()
        .map(|(_, s)| s.expect("a sorted set has scores"))
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] < w[1]),
        "scores strictly increase"
    );
    let total_hits = THREADS * HITS_PER_THREAD as u64;
    assert_eq!(
        scores.last().copied(),
        Some(KEYS + total_hits),
        "each hit took max + 1 once"
    );

    // Each thread's keys sit in the index in the order of their last hit,
    // above the keys nobody hit (which keep their insert scores 1..=KEYS).
    let position = |k: u64| {
        index
            .iter()
            .position(|(m, _)| *m == member(k))
            .expect("resident")
    };
    for hit in &per_thread {
        let places: Vec<usize> = hit.iter().map(|&k| position(k)).collect();
        assert!(
            places.windows(2).all(|w| w[0] < w[1]),
            "last-hit order kept"
        );
        assert!(hit.iter().all(|&k| scores[position(k)] > KEYS));
    }

    // The next new key evicts exactly the lowest member.
    let lowest = index[0].0;
    assert_eq!(put(&store, &pair, &rules, KEYS), vec![lowest]);
}

/// One key hit on two threads: its hits wait in two buffers (one per
/// core, picked by thread number), and the put that applies them must
/// keep the later one whichever buffer holds it. TLRU's hit sets the
/// clock's time, so the buffers must be applied in the order the hits
/// took their scores, not buffer by buffer; LRU's raises to `max + 1`,
/// which any order gives. (On one core there is one buffer and nothing to
/// order.)
#[test]
fn a_key_hit_on_two_threads_keeps_its_later_hit() {
    let (x, y, w) = (1, 2, 3);
    for rules in [rules::LRU, rules::TLRU] {
        let pair = KeyPair::new("t:", "two-threads", rules.word, Layout::Single, &F);
        for later_on_helper in [false, true] {
            // Threads take numbers in turn, so of several helpers some use
            // a buffer other than this thread's.
            for _ in 0..6 {
                let clock = ManualClock::new(1_000_000);
                let store = MemoryStore::with_clock(clock.clone());
                let put = |k: u64| {
                    clock.advance(Duration::from_millis(1));
                    let req = PutRequest::new(
                        &pair,
                        member(k),
                        Bytes::from_static(b"v"),
                        &rules,
                        2,
                        EXPIRY,
                    );
                    store.put(&req).expect("memory puts do not fail").evicted
                };
                let hit = |k: u64| {
                    clock.advance(Duration::from_millis(1));
                    let req = GetRequest::new(&pair, member(k), &rules, EXPIRY);
                    assert!(
                        store
                            .get(&req)
                            .expect("memory reads do not fail")
                            .into_value()
                            .is_some()
                    );
                };
                put(x);
                put(y);
                std::thread::scope(|scope| {
                    if later_on_helper {
                        hit(x);
                        scope.spawn(|| {
                            hit(y);
                            hit(x);
                        });
                    } else {
                        scope.spawn(|| hit(x)).join().expect("no panic");
                        hit(y);
                        hit(x);
                    }
                });
                assert_eq!(
                    put(w),
                    vec![member(y)],
                    "{}: x was hit last (the later hit on the helper: {later_on_helper})",
                    rules.word
                );
            }
        }
    }
}

#[test]
fn concurrent_lfu_hits_are_all_counted() {
    let store = MemoryStore::new();
    let rules = rules::LFU;
    let pair = KeyPair::new("t:", "lfu", rules.word, Layout::Single, &F);
    hit_from_threads(&store, &pair, &rules);
    let index = store.contents(&pair).index;
    let counted: u64 = index.iter().map(|(_, s)| s.expect("scores") - 1).sum();
    assert_eq!(counted, THREADS * HITS_PER_THREAD as u64, "no hit lost");
}
