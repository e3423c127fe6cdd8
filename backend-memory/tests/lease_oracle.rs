//! Leases (SPEC §9) on the memory store against a model written from the
//! SPEC text alone, over every sequence of six steps on two keys: reads
//! that may take a lease, puts that release it or not, and the clock
//! moving. The model: a read of a stored value hits; otherwise a live lease
//! (one that ends after now) makes the caller wait for the time it has
//! left; otherwise the caller is granted a lease that ends a lease time
//! from now. A put stores the value and, when it says so, ends the lease.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use redis_func_cache_core::clock::ManualClock;
use redis_func_cache_core::store::{Expiry, GetRequest, Leased, PutRequest, Store};
use redis_func_cache_core::{FuncId, InvocationHash, KeyPair, Layout};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::rules;

static F: FuncId = FuncId::new("lease_oracle", "f", 0);
const LEASE: Duration = Duration::from_millis(3);
const TICK: Duration = Duration::from_millis(1);
const EXPIRY: Expiry = Expiry {
    pair_ttl: Duration::from_secs(3600),
    slide: true,
    entry_ttl: None,
};

#[derive(Debug, Clone, Copy)]
enum Op {
    Lease(u8),
    /// A put of key k; `true`: it releases the lease.
    Put(u8, bool),
    Tick,
}

const OPS: [Op; 6] = [
    Op::Lease(0),
    Op::Lease(1),
    Op::Put(0, true),
    Op::Put(1, true),
    Op::Put(0, false),
    Op::Tick,
];

/// What a step saw, in the model's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Hit(u8),
    Granted,
    Held(Duration),
    Put,
    Tick,
}

#[derive(Default)]
struct Model {
    now: Duration,
    stored: HashMap<u8, u8>,
    lease_ends: HashMap<u8, Duration>,
}

impl Model {
    fn step(&mut self, op: Op, value: u8) -> Seen {
        match op {
            Op::Lease(k) => {
                if let Some(&v) = self.stored.get(&k) {
                    return Seen::Hit(v);
                }
                match self.lease_ends.get(&k) {
                    Some(&end) if end > self.now => Seen::Held(end - self.now),
                    _ => {
                        self.lease_ends.insert(k, self.now + LEASE);
                        Seen::Granted
                    }
                }
            }
            Op::Put(k, release) => {
                self.stored.insert(k, value);
                if release {
                    self.lease_ends.remove(&k);
                }
                Seen::Put
            }
            Op::Tick => {
                self.now += TICK;
                Seen::Tick
            }
        }
    }
}

fn member(k: u8) -> InvocationHash {
    F.invocation_hash(&k).unwrap()
}

fn run_store(ops: &[Op]) -> Vec<Seen> {
    let clock = ManualClock::new(1_000_000);
    let store = MemoryStore::with_clock(clock.clone());
    let pair = KeyPair::new("lease-oracle:", "c", "lru", Layout::Single, &F);
    let rules = rules::LRU;
    ops.iter()
        .enumerate()
        .map(|(i, &op)| match op {
            Op::Lease(k) => {
                let req = GetRequest::new(&pair, member(k), &rules, EXPIRY);
                match store.get_or_lease(&req, LEASE).unwrap() {
                    Leased::Hit(v) => Seen::Hit(v[0]),
                    Leased::Granted => Seen::Granted,
                    Leased::Held(left) => Seen::Held(left),
                    Leased::Unleased => panic!("the memory store always records a lease"),
                    Leased::Expired(_) => panic!("nothing expires here: no per-entry TTL"),
                }
            }
            Op::Put(k, release) => {
                let value = Bytes::copy_from_slice(&[i as u8]);
                let req = PutRequest::new(&pair, member(k), value, &rules, 100, EXPIRY)
                    .releasing_lease(release);
                store.put(&req).unwrap();
                Seen::Put
            }
            Op::Tick => {
                clock.advance(TICK);
                Seen::Tick
            }
        })
        .collect()
}

fn run_model(ops: &[Op]) -> Vec<Seen> {
    let mut model = Model::default();
    ops.iter()
        .enumerate()
        .map(|(i, &op)| model.step(op, i as u8))
        .collect()
}

#[test]
fn every_six_step_sequence_on_two_keys_matches_the_model() {
    const DEPTH: u32 = 6;
    let mut checked = 0u64;
    for n in 0..(OPS.len() as u64).pow(DEPTH) {
        let mut code = n;
        let ops: Vec<Op> = (0..DEPTH)
            .map(|_| {
                let op = OPS[(code % OPS.len() as u64) as usize];
                code /= OPS.len() as u64;
                op
            })
            .collect();
        assert_eq!(run_store(&ops), run_model(&ops), "{ops:?}");
        checked += 1;
    }
    assert_eq!(checked, 46_656);
}

#[test]
fn the_model_sees_a_lease_pass_on_after_it_ends() {
    // A witness that the exhaustive test reaches the interesting states.
    let ops = [
        Op::Lease(0),
        Op::Tick,
        Op::Lease(0),
        Op::Tick,
        Op::Tick,
        Op::Lease(0),
    ];
    assert_eq!(
        run_model(&ops),
        [
            Seen::Granted,
            Seen::Tick,
            Seen::Held(Duration::from_millis(2)),
            Seen::Tick,
            Seen::Tick,
            Seen::Granted
        ]
    );
    assert_eq!(run_store(&ops), run_model(&ops));
}
