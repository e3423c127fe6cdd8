//! The differential checks: the same operation sequences on the memory store
//! (the reference) and on a Redis store; for lru, mru, fifo, lfu, s3fifo and
//! sieve every hit,
//! miss, victim and purge count and the final contents of every pair must be
//! identical; for rr and tlru the SPEC invariants hold.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use redis_func_cache_core::policy::{Layout, PolicyRules};
use redis_func_cache_core::store::PairContents;
use redis_func_cache_core::store::{
    Bytes, Expiry, GetRequest, Leased, PutRequest, Store, StoredValue,
};
use redis_func_cache_core::{FuncId, InvocationHash, KeyPair};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::rules;
use redis_func_cache_redis::{FredStore, RedisStore, Topology};

static CASE: AtomicUsize = AtomicUsize::new(0);

static FUNCS: [FuncId; 3] = [
    FuncId::new("diff::a", "f", 1),
    FuncId::new("diff::b", "g", 2),
    FuncId::new("diff::b", "h", 3),
];

const EXPIRY: Expiry = Expiry {
    pair_ttl: Duration::from_secs(600),
    slide: true,
    entry_ttl: None,
};

#[derive(Debug, Clone, Copy)]
enum Op {
    Call(usize, u8),
    Get(usize, u8),
    Put(usize, u8, u8),
    Resize(u64),
    Purge(usize),
    /// A miss that asks for SPEC §9's lease (long enough never to run out
    /// during a case), and a put on a grant that gives it back.
    LeasedCall(usize, u8),
    /// A leased read whose caller never puts (still computing, or dead).
    TakeLease(usize, u8),
    /// SPEC §10's entry API: a read without the hit rule, and a removal.
    Peek(usize, u8),
    Remove(usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..3usize, 0..10u8).prop_map(|(f, k)| Op::Call(f, k)),
        3 => (0..3usize, 0..10u8).prop_map(|(f, k)| Op::Get(f, k)),
        3 => (0..3usize, 0..10u8, any::<u8>()).prop_map(|(f, k, v)| Op::Put(f, k, v)),
        // Up to 13, so S3-FIFO's small queue (a tenth) holds more than one.
        1 => (1..14u64).prop_map(Op::Resize),
        1 => (0..3usize).prop_map(Op::Purge),
        3 => (0..3usize, 0..10u8).prop_map(|(f, k)| Op::LeasedCall(f, k)),
        1 => (0..3usize, 0..10u8).prop_map(|(f, k)| Op::TakeLease(f, k)),
        1 => (0..3usize, 0..10u8).prop_map(|(f, k)| Op::Peek(f, k)),
        1 => (0..3usize, 0..10u8).prop_map(|(f, k)| Op::Remove(f, k)),
    ]
}

#[derive(Debug, PartialEq)]
enum Seen {
    Read(Option<Bytes>),
    Evicted(Vec<InvocationHash>),
    Purged(u64),
    /// A leased miss that another caller's lease holds back (its time left
    /// depends on the clock, so only the fact is compared).
    Held,
    Granted,
    Removed(bool),
    Nothing,
}

/// Long enough that no lease runs out within a case.
const LEASE: Duration = Duration::from_secs(600);

/// A Redis store whose pairs can be read back for comparison.
pub trait Inspect: Store {
    fn pair_contents(&self, pair: &KeyPair) -> PairContents;
}

impl<T: Topology> Inspect for RedisStore<T> {
    fn pair_contents(&self, pair: &KeyPair) -> PairContents {
        self.contents(pair).unwrap()
    }
}

impl Inspect for FredStore {
    fn pair_contents(&self, pair: &KeyPair) -> PairContents {
        self.contents(pair).unwrap()
    }
}

/// One store driven through the Store trait with a policy and layout.
struct Driver<'a, S: Store> {
    store: &'a S,
    rules: PolicyRules,
    pairs: Vec<KeyPair>,
    maxsize: u64,
}

impl<'a, S: Store> Driver<'a, S> {
    fn new(store: &'a S, rules: PolicyRules, layout: Layout, name: &str) -> Self {
        let pairs = FUNCS
            .iter()
            .map(|f| KeyPair::new("diff:", name, rules.word, layout, f))
            .collect();
        Driver {
            store,
            rules,
            pairs,
            maxsize: 3,
        }
    }

    fn get(&self, f: usize, k: u8) -> Option<Bytes> {
        let req = self.get_request(f, k);
        self.store
            .get(&req)
            .unwrap()
            .into_value()
            .map(StoredValue::into_bytes)
    }

    fn get_request(&self, f: usize, k: u8) -> GetRequest<'_> {
        GetRequest::new(&self.pairs[f], member_of(f, k), &self.rules, EXPIRY)
    }

    fn put(&self, f: usize, k: u8, v: u8) -> Vec<InvocationHash> {
        self.put_releasing(f, k, v, false)
    }

    fn put_releasing(&self, f: usize, k: u8, v: u8, release: bool) -> Vec<InvocationHash> {
        let req = PutRequest::new(
            &self.pairs[f],
            member_of(f, k),
            Bytes::from(vec![v, k, f as u8]),
            &self.rules,
            self.maxsize,
            EXPIRY,
        )
        .releasing_lease(release);
        self.store.put(&req).unwrap().evicted
    }

    /// A leased call as the call path makes it: a hit is read; a granted
    /// lease computes and puts, giving the lease back; a held one waits
    /// (here: reports it and moves on, so the lease stays held).
    fn leased_call(&self, f: usize, k: u8) -> Seen {
        match self
            .store
            .get_or_lease(&self.get_request(f, k), LEASE)
            .unwrap()
        {
            Leased::Hit(v) => Seen::Read(Some(v.into_bytes())),
            Leased::Granted => Seen::Evicted(self.put_releasing(f, k, k, true)),
            Leased::Held(_) => Seen::Held,
            Leased::Unleased => panic!("a healthy store records every lease"),
            Leased::Expired(_) => panic!("nothing expires here: no per-entry TTL"),
        }
    }

    fn apply(&mut self, op: Op) -> Seen {
        match op {
            Op::Call(f, k) => match self.get(f, k) {
                Some(v) => Seen::Read(Some(v)),
                None => Seen::Evicted(self.put(f, k, k)),
            },
            Op::Get(f, k) => Seen::Read(self.get(f, k)),
            Op::Put(f, k, v) => Seen::Evicted(self.put(f, k, v)),
            Op::Resize(n) => {
                self.maxsize = n;
                Seen::Nothing
            }
            Op::Purge(f) => Seen::Purged(self.store.purge(&self.pairs[f]).unwrap()),
            Op::LeasedCall(f, k) => self.leased_call(f, k),
            Op::TakeLease(f, k) => {
                match self
                    .store
                    .get_or_lease(&self.get_request(f, k), LEASE)
                    .unwrap()
                {
                    Leased::Hit(v) => Seen::Read(Some(v.into_bytes())),
                    Leased::Granted => Seen::Granted,
                    Leased::Held(_) => Seen::Held,
                    Leased::Unleased => panic!("a healthy store records every lease"),
                    Leased::Expired(_) => panic!("nothing expires here: no per-entry TTL"),
                }
            }
            Op::Peek(f, k) => {
                let read = self.store.peek(&self.get_request(f, k)).unwrap();
                Seen::Read(read.map(StoredValue::into_bytes))
            }
            Op::Remove(f, k) => Seen::Removed(self.store.remove(&self.get_request(f, k)).unwrap()),
        }
    }
}

fn member_of(f: usize, k: u8) -> InvocationHash {
    FUNCS[f].invocation_hash(&k).unwrap()
}

fn check_identical<S: Inspect>(
    redis: &S,
    rules: PolicyRules,
    layout: Layout,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let name = format!("case{}", CASE.fetch_add(1, Ordering::SeqCst));
    let memory = MemoryStore::new();
    let mut m = Driver::new(&memory, rules, layout, &name);
    let mut r = Driver::new(redis, rules, layout, &name);
    for (step, &op) in ops.iter().enumerate() {
        let (want, got) = (m.apply(op), r.apply(op));
        prop_assert_eq!(
            &got,
            &want,
            "{} {:?} step {} {:?}",
            rules.word,
            layout,
            step,
            op
        );
    }
    for (pair, f) in m.pairs.iter().zip(&FUNCS) {
        let want = memory.contents(pair);
        let got = redis.pair_contents(pair);
        prop_assert_eq!(
            got,
            want,
            "{} {:?}: final contents of {}'s pair differ",
            rules.word,
            layout,
            f.name()
        );
    }
    Ok(())
}

fn check_invariants<S: Inspect>(
    redis: &S,
    rules: PolicyRules,
    layout: Layout,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let name = format!("case{}", CASE.fetch_add(1, Ordering::SeqCst));
    let mut r = Driver::new(redis, rules, layout, &name);
    // What each pair must hold: the last value put for each resident member.
    // Functions share a pair in the single-pair layouts.
    let mut pairs: BTreeMap<String, BTreeMap<InvocationHash, Bytes>> = BTreeMap::new();
    for &op in ops {
        let f = match op {
            Op::Call(f, _)
            | Op::Get(f, _)
            | Op::Put(f, _, _)
            | Op::Purge(f)
            | Op::LeasedCall(f, _)
            | Op::TakeLease(f, _)
            | Op::Peek(f, _)
            | Op::Remove(f, _) => f,
            Op::Resize(_) => 0,
        };
        let resident = pairs.entry(r.pairs[f].index().to_owned()).or_default();
        let (f, write) = match op {
            Op::Call(_, k) | Op::Get(_, k) => {
                let got = r.get(f, k);
                prop_assert_eq!(
                    got.as_ref(),
                    resident.get(&member_of(f, k)),
                    "a hit returns the value last put"
                );
                (f, matches!(op, Op::Call(..)) && got.is_none())
            }
            Op::LeasedCall(_, k) | Op::TakeLease(_, k) => {
                let leased = redis.get_or_lease(&r.get_request(f, k), LEASE).unwrap();
                let granted = leased == Leased::Granted;
                let hit = match leased {
                    Leased::Hit(v) => Some(v.into_bytes()),
                    Leased::Granted | Leased::Held(_) => None,
                    Leased::Unleased => panic!("a healthy store records every lease"),
                    Leased::Expired(_) => panic!("nothing expires here: no per-entry TTL"),
                };
                prop_assert_eq!(
                    hit.as_ref(),
                    resident.get(&member_of(f, k)),
                    "a leased hit returns the value last put"
                );
                (f, granted && matches!(op, Op::LeasedCall(..)))
            }
            Op::Peek(_, k) => {
                let read = redis.peek(&r.get_request(f, k)).unwrap();
                let read = read.map(StoredValue::into_bytes);
                prop_assert_eq!(
                    read.as_ref(),
                    resident.get(&member_of(f, k)),
                    "a peek returns the value last put"
                );
                continue;
            }
            Op::Remove(_, k) => {
                let removed = redis.remove(&r.get_request(f, k)).unwrap();
                prop_assert_eq!(removed, resident.remove(&member_of(f, k)).is_some());
                prop_assert_eq!(redis.len(&r.pairs[f]).unwrap(), resident.len() as u64);
                continue;
            }
            Op::Put(..) => (f, true),
            Op::Resize(n) => {
                r.maxsize = n;
                continue;
            }
            Op::Purge(_) => {
                prop_assert_eq!(redis.purge(&r.pairs[f]).unwrap(), resident.len() as u64);
                resident.clear();
                continue;
            }
        };
        if write {
            let (k, v, release) = match op {
                Op::Put(_, k, v) => (k, v, false),
                Op::Call(_, k) => (k, k, false),
                Op::LeasedCall(_, k) => (k, k, true),
                _ => unreachable!("only calls and puts write"),
            };
            let member = member_of(f, k);
            let size = resident.len() as u64;
            let fresh = !resident.contains_key(&member);
            let evicted = r.put_releasing(f, k, v, release);
            let expected = if fresh && size >= r.maxsize {
                size - r.maxsize + 1
            } else {
                0
            };
            prop_assert_eq!(evicted.len() as u64, expected);
            for victim in evicted {
                prop_assert!(
                    resident.remove(&victim).is_some(),
                    "every victim was resident"
                );
            }
            resident.insert(member, Bytes::from(vec![v, k, f as u8]));
        }
        prop_assert_eq!(redis.len(&r.pairs[f]).unwrap(), resident.len() as u64);
    }
    Ok(())
}

/// Whether the checks compare exact results or only the invariants.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// lru, mru, fifo, lfu, s3fifo, sieve: identical to the memory store.
    Identical,
    /// rr, tlru: the SPEC invariants.
    Invariants,
}

/// Runs `cases` generated (layout, operations) cases of a policy against
/// `redis`, with layouts drawn from `layouts`.
pub fn run<S: Inspect>(
    redis: &S,
    rules: PolicyRules,
    check: Check,
    layouts: &[Layout],
    cases: u32,
) {
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let strategy = (0..layouts.len(), proptest::collection::vec(op(), 1..120));
    let result = runner.run(&strategy, |(l, ops)| match check {
        Check::Identical => check_identical(redis, rules, layouts[l], &ops),
        Check::Invariants => check_invariants(redis, rules, layouts[l], &ops),
    });
    if let Err(e) = result {
        panic!("{}: {e}", rules.word);
    }
}
