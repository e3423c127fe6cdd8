//! The memory store's concurrent paths, checked for linearizability: two
//! or three threads run a few operations each on one store, and what every
//! thread observed, with what the pairs hold afterwards, must be what one
//! of the sequential orders of those operations gives (every order is run
//! on a fresh store to know the set).
//!
//! The paths: a hit while a put evicts (a hit's score change waits in its
//! thread's buffer), buffers flushed by hits (`APPLY_AT`) and by a put while
//! other hits are pending, several buffers merged in score order, S3-FIFO's
//! and SIEVE's visits, and the first put of a new function's pair from two
//! threads (the swapped pair table).
//!
//! Built with `RUSTFLAGS="--cfg shuttle"` (as `.ci/test` does), the store
//! runs on shuttle's locks and each scenario is explored by shuttle's PCT
//! and random schedulers over thousands of interleavings. Built normally,
//! the same scenarios run on OS threads, hundreds of times each.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis_func_cache_core::clock::ManualClock;
use redis_func_cache_core::policy::PolicyRules;
use redis_func_cache_core::store::{Expiry, GetRequest, PairContents, PutRequest, Store};
use redis_func_cache_core::{FuncId, KeyPair, Layout};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::rules;

#[cfg(shuttle)]
use shuttle::thread;
#[cfg(not(shuttle))]
use std::thread;

static FUNCS: [FuncId; 2] = [
    FuncId::new("shuttle", "f", 0),
    FuncId::new("shuttle", "g", 0),
];

const EXPIRY: Expiry = Expiry {
    pair_ttl: Duration::from_secs(3600),
    slide: true,
    entry_ttl: None,
};

/// One operation: on function `f`'s pair, key `k`.
#[derive(Debug, Clone, Copy)]
enum Op {
    Get(usize, u32),
    Put(usize, u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Hit(u8),
    Miss,
    Evicted(usize),
}

#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    seen: Vec<Vec<Seen>>,
    pairs: Vec<PairContents>,
    names: Vec<String>,
}

struct Scenario {
    rules: PolicyRules,
    layout: Layout,
    maxsize: u64,
    prefill: Vec<Op>,
    threads: Vec<Vec<Op>>,
}

fn pairs(s: &Scenario) -> Arc<Vec<KeyPair>> {
    Arc::new(
        FUNCS
            .iter()
            .map(|f| KeyPair::new("t:", "shuttle", s.rules.word, s.layout, f))
            .collect(),
    )
}

fn run_op(
    store: &MemoryStore,
    pairs: &[KeyPair],
    rules: &PolicyRules,
    maxsize: u64,
    op: Op,
) -> Seen {
    match op {
        Op::Get(f, k) => {
            let member = FUNCS[f].invocation_hash(&k).unwrap();
            let req = GetRequest::new(&pairs[f], member, rules, EXPIRY);
            match store.get(&req).unwrap().into_value() {
                Some(v) => Seen::Hit(v[0]),
                None => Seen::Miss,
            }
        }
        Op::Put(f, k) => {
            let member = FUNCS[f].invocation_hash(&k).unwrap();
            let value = Bytes::copy_from_slice(&[k as u8]);
            let req = PutRequest::new(&pairs[f], member, value, rules, maxsize, EXPIRY);
            Seen::Evicted(store.put(&req).unwrap().evicted.len())
        }
    }
}

fn fresh_store() -> MemoryStore {
    MemoryStore::with_clock(ManualClock::new(1_000_000)).with_seed(3)
}

fn outcome(store: &MemoryStore, pairs: &[KeyPair], seen: Vec<Vec<Seen>>) -> Outcome {
    Outcome {
        seen,
        pairs: pairs.iter().map(|p| store.contents(p)).collect(),
        names: store.pair_names(),
    }
}

/// Every merge of the threads' operation lists that keeps each thread's
/// order, as (thread, operation) sequences.
fn merges(threads: &[Vec<Op>]) -> Vec<Vec<(usize, Op)>> {
    fn go(
        threads: &[Vec<Op>],
        at: &mut Vec<usize>,
        path: &mut Vec<(usize, Op)>,
        out: &mut Vec<Vec<(usize, Op)>>,
    ) {
        let mut done = true;
        for t in 0..threads.len() {
            if at[t] < threads[t].len() {
                done = false;
                path.push((t, threads[t][at[t]]));
                at[t] += 1;
                go(threads, at, path, out);
                at[t] -= 1;
                path.pop();
            }
        }
        if done {
            out.push(path.clone());
        }
    }
    let mut out = Vec::new();
    go(
        threads,
        &mut vec![0; threads.len()],
        &mut Vec::new(),
        &mut out,
    );
    out
}

/// What the sequential orders give.
fn sequential_outcomes(s: &Scenario) -> Vec<Outcome> {
    let mut all: Vec<Outcome> = Vec::new();
    for order in merges(&s.threads) {
        let store = fresh_store();
        let pairs = pairs(s);
        for op in &s.prefill {
            run_op(&store, &pairs, &s.rules, s.maxsize, *op);
        }
        let mut seen = vec![Vec::new(); s.threads.len()];
        for (t, op) in order {
            seen[t].push(run_op(&store, &pairs, &s.rules, s.maxsize, op));
        }
        let o = outcome(&store, &pairs, seen);
        if !all.contains(&o) {
            all.push(o);
        }
    }
    all
}

/// Runs the threads at once and checks the outcome against the orders.
fn concurrent_run(s: &Scenario) {
    let expected = sequential_outcomes(s);
    let store = fresh_store();
    let pairs = pairs(s);
    for op in &s.prefill {
        run_op(&store, &pairs, &s.rules, s.maxsize, *op);
    }
    let handles: Vec<_> = s
        .threads
        .iter()
        .map(|ops| {
            let (store, pairs, ops) = (store.clone(), Arc::clone(&pairs), ops.clone());
            let (rules, maxsize) = (s.rules, s.maxsize);
            thread::spawn(move || {
                ops.iter()
                    .map(|op| run_op(&store, &pairs, &rules, maxsize, *op))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let seen = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let got = outcome(&store, &pairs, seen);
    assert!(
        expected.contains(&got),
        "no sequential order gives {got:#?}\nthe orders give {expected:#?}"
    );
}

fn explore(scenario: impl Fn() -> Scenario + Clone + Send + Sync + 'static) {
    let check = move || concurrent_run(&scenario());
    #[cfg(shuttle)]
    {
        shuttle::check_pct(check.clone(), 3_000, 3);
        shuttle::check_random(check, 3_000);
    }
    #[cfg(not(shuttle))]
    for _ in 0..300 {
        check();
    }
}

use Op::{Get, Put};

#[test]
fn a_hit_while_a_put_evicts() {
    explore(|| Scenario {
        rules: rules::LRU,
        layout: Layout::Single,
        maxsize: 2,
        prefill: vec![Put(0, 1), Put(0, 2)],
        threads: vec![vec![Get(0, 1)], vec![Put(0, 3)]],
    });
}

#[test]
fn hits_in_two_buffers_are_merged_in_score_order_by_a_put() {
    // Each thread's hits land in its own buffer; the put applies both,
    // ordered by the scores the hits drew, then evicts the lowest.
    explore(|| Scenario {
        rules: rules::LRU,
        layout: Layout::Single,
        maxsize: 3,
        prefill: vec![Put(0, 1), Put(0, 2), Put(0, 3)],
        threads: vec![
            vec![Get(0, 1), Get(0, 2)],
            vec![Get(0, 3), Get(0, 1)],
            vec![Put(0, 4)],
        ],
    });
}

#[test]
fn hits_flush_their_buffer_during_an_eviction() {
    // Under shuttle a buffer is applied by a hit from 2 changes and forced
    // from 4: three hits reach both paths while the other thread evicts.
    explore(|| Scenario {
        rules: rules::LFU,
        layout: Layout::Single,
        maxsize: 2,
        prefill: vec![Put(0, 1), Put(0, 2)],
        threads: vec![
            vec![Get(0, 1), Get(0, 2), Get(0, 1)],
            vec![Put(0, 3), Put(0, 4)],
        ],
    });
}

#[test]
fn s3fifo_and_sieve_visits_during_a_put() {
    for rules in [rules::S3FIFO, rules::SIEVE] {
        let scenario = move || Scenario {
            rules,
            layout: Layout::Single,
            maxsize: 2,
            prefill: vec![Put(0, 1), Put(0, 2)],
            threads: vec![vec![Get(0, 1), Get(0, 2)], vec![Put(0, 3)]],
        };
        explore(scenario);
    }
}

#[test]
fn two_threads_write_the_first_entries_of_new_functions() {
    // Per-function pairs: each thread's first put adds a pair to the
    // swapped table; one adds f's and g's, the other f's. No pair and no
    // entry may be lost.
    explore(|| Scenario {
        rules: rules::LRU,
        layout: Layout::Multiple,
        maxsize: 4,
        prefill: vec![],
        threads: vec![vec![Put(0, 1), Put(1, 1)], vec![Put(0, 2), Get(1, 1)]],
    });
}
