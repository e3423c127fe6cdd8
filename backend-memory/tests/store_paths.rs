//! Paths of the memory store the oracle does not walk, found by mutation
//! testing (`.ci/mutants`): a pair read with another policy's index kind,
//! and the counter hashes behind fleet statistics.

use std::time::Duration;

use bytes::Bytes;
use redis_func_cache_core::store::{Expiry, GetRequest, PutRequest, Store};
use redis_func_cache_core::{FuncId, InvocationHash, KeyPair, Layout, PolicyRules};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::rules;

static F: FuncId = FuncId::new("paths", "f", 0);

const EXPIRY: Expiry = Expiry {
    pair_ttl: Duration::from_secs(3600),
    slide: true,
    entry_ttl: None,
};

/// A pair written as a sorted set (LRU) and read by a policy that keeps a
/// set (RR) is Redis's WRONGTYPE: an error, never another policy's entry.
#[test]
fn a_pair_of_another_index_kind_is_an_error_not_a_hit() {
    let store = MemoryStore::new();
    let pair = KeyPair::new("p:", "kinds", "shared", Layout::Single, &F);
    let member = F.invocation_hash(&1u32).unwrap();
    let put = PutRequest::new(
        &pair,
        member,
        Bytes::from_static(b"v"),
        &rules::LRU,
        10,
        EXPIRY,
    );
    store.put(&put).unwrap();
    let as_lru = GetRequest::new(&pair, member, &rules::LRU, EXPIRY);
    assert_eq!(
        store.get(&as_lru).unwrap().into_value().as_deref(),
        Some(&b"v"[..])
    );
    for other in [rules::RR, rules::S3FIFO, rules::SIEVE] {
        let read = GetRequest::new(&pair, member, &other, EXPIRY);
        let err = store.get(&read).expect_err("another kind of index");
        assert!(
            err.to_string().contains("WRONGTYPE"),
            "{}: {err}",
            other.word
        );
    }
    // The pair is untouched.
    assert_eq!(
        store.get(&as_lru).unwrap().into_value().as_deref(),
        Some(&b"v"[..])
    );
}

/// Counter hashes add up per field and key, read back sorted, and go away.
#[test]
fn counter_hashes_add_up_and_are_removed() {
    let store = MemoryStore::new();
    assert!(store.read_counters("c:stats").unwrap().is_empty());
    store
        .add_counters("c:stats", &[("hits", 3), ("misses", 1)])
        .unwrap();
    store
        .add_counters("c:stats", &[("hits", 2), ("writes", 4)])
        .unwrap();
    store.add_counters("other", &[("hits", 9)]).unwrap();
    let mut read = store.read_counters("c:stats").unwrap();
    read.sort();
    assert_eq!(
        read,
        [
            ("hits".to_string(), 5),
            ("misses".to_string(), 1),
            ("writes".to_string(), 4)
        ]
    );
    store.remove_counters("c:stats").unwrap();
    assert!(store.read_counters("c:stats").unwrap().is_empty());
    assert_eq!(
        store.read_counters("other").unwrap(),
        [("hits".to_string(), 9)]
    );
}

/// A rule set may pick random victims from a sorted index (no built-in
/// does): victims are drawn from every position, not always the lowest.
#[test]
fn random_victims_of_a_sorted_index_come_from_anywhere() {
    let random_lru = redis_func_cache_core::policy::PolicyRules {
        word: "randomlru",
        victim: redis_func_cache_core::policy::Victim::Random,
        ..rules::LRU
    };
    random_lru.validate().unwrap();
    let store = MemoryStore::new().with_seed(11);
    let pair = KeyPair::new("p:", "random", random_lru.word, Layout::Single, &F);
    let put = |k: u32| {
        let member = F.invocation_hash(&k).unwrap();
        let req = PutRequest::new(
            &pair,
            member,
            Bytes::from_static(b"v"),
            &random_lru,
            10,
            EXPIRY,
        );
        store.put(&req).unwrap().evicted
    };
    for k in 0..10 {
        assert!(put(k).is_empty());
    }
    // In LRU order the lowest is always the oldest resident key; count the
    // evictions that took it.
    let mut resident: Vec<u32> = (0..10).collect();
    let mut oldest_taken = 0;
    for k in 10..40 {
        let evicted = put(k);
        assert_eq!(evicted.len(), 1);
        let at = resident
            .iter()
            .position(|r| F.invocation_hash(r).unwrap() == evicted[0])
            .expect("a resident victim");
        oldest_taken += usize::from(at == 0);
        resident.remove(at);
        resident.push(k);
    }
    assert!(oldest_taken < 30, "every victim was the lowest: not random");
}

/// S3-FIFO's and SIEVE's queues take the scores SPEC §3.2 lays out, so a
/// memory pair and a Redis pair hold the same numbers: the first member of
/// an empty queue takes its range's base + 1, the next one more.
#[test]
fn queue_scores_follow_the_spec_layout() {
    use redis_func_cache_core::policy::queue_scores::SMALL_BASE;
    for (rules, first) in [(rules::S3FIFO, SMALL_BASE + 1), (rules::SIEVE, 1)] {
        let store = MemoryStore::new();
        let pair = KeyPair::new("p:", "layout", rules.word, Layout::Single, &F);
        for k in 0..2u32 {
            let member = F.invocation_hash(&k).unwrap();
            let req = PutRequest::new(&pair, member, Bytes::from_static(b"v"), &rules, 10, EXPIRY);
            store.put(&req).unwrap();
        }
        let scores: Vec<Option<u64>> = store.contents(&pair).index.iter().map(|e| e.1).collect();
        assert_eq!(scores, [Some(first), Some(first + 1)], "{}", rules.word);
    }
    // S3-FIFO's ghost starts at 1 too: with maxsize 1 the second put
    // evicts the first member into the ghost.
    let store = MemoryStore::new();
    let pair = KeyPair::new("p:", "ghost", "s3fifo", Layout::Single, &F);
    for k in 0..2u32 {
        let member = F.invocation_hash(&k).unwrap();
        let req = PutRequest::new(
            &pair,
            member,
            Bytes::from_static(b"v"),
            &rules::S3FIFO,
            1,
            EXPIRY,
        );
        store.put(&req).unwrap();
    }
    let ghost = F.invocation_hash(&0u32).unwrap();
    let index = store.contents(&pair).index;
    assert!(index.contains(&(ghost, Some(1))), "{index:?}");
}

/// A pair whose entries all expired (per-entry TTL), some of them in
/// S3-FIFO's main queue, behaves as one that never held them: the same
/// calls hit and evict the same way.
#[test]
fn expired_queue_entries_leave_no_trace() {
    use redis_func_cache_core::clock::ManualClock;
    let with_ttl = Expiry {
        entry_ttl: Some(Duration::from_secs(10)),
        ..EXPIRY
    };
    for rules in [rules::S3FIFO, rules::SIEVE] {
        let run = |expired_first: bool| {
            let clock = ManualClock::new(1_000_000);
            let store = MemoryStore::with_clock(clock.clone());
            let pair = KeyPair::new("p:", "expiry", rules.word, Layout::Single, &F);
            let put = |k: u32, expiry: Expiry| {
                let member = F.invocation_hash(&k).unwrap();
                let req =
                    PutRequest::new(&pair, member, Bytes::from_static(b"v"), &rules, 4, expiry);
                store.put(&req).unwrap().evicted
            };
            let get = |k: u32| {
                let member = F.invocation_hash(&k).unwrap();
                store
                    .get(&GetRequest::new(&pair, member, &rules, with_ttl))
                    .unwrap()
                    .into_value()
                    .is_some()
            };
            if expired_first {
                // Four entries, two of them hit, then a fifth: S3-FIFO moves
                // the hit ones to its main queue, so expiry empties both.
                for k in 100..104 {
                    put(k, with_ttl);
                }
                assert!(get(100) && get(101));
                put(104, with_ttl);
                clock.advance(Duration::from_secs(11));
                for k in 100..105 {
                    assert!(!get(k), "expired");
                }
            }
            // The same calls either way: puts, and hits that promote.
            let mut seen = Vec::new();
            for k in [0u32, 1, 2, 0, 3, 4, 1, 5, 6, 0, 7, 8, 2, 9] {
                if get(k) {
                    seen.push(format!("hit {k}"));
                } else {
                    seen.push(format!("put {k} evicts {:?}", put(k, with_ttl)));
                }
            }
            (seen, store.contents(&pair).values.len())
        };
        assert_eq!(run(true), run(false), "{}", rules.word);
    }
}

/// Two LRU pairs with a 10 s TTL that does not slide, on a manual clock:
/// one left idle, one kept busy, to watch the store's sweep.
struct Sweeping {
    clock: redis_func_cache_core::clock::ManualClock,
    store: MemoryStore,
    idle: KeyPair,
    busy: KeyPair,
}

impl Sweeping {
    fn new() -> Self {
        let clock = redis_func_cache_core::clock::ManualClock::new(0);
        Sweeping {
            store: MemoryStore::with_clock(clock.clone()),
            clock,
            idle: KeyPair::new("p:", "idle", "lru", Layout::Single, &F),
            busy: KeyPair::new("p:", "busy", "lru", Layout::Single, &F),
        }
    }

    fn put(&self, pair: &KeyPair, k: u32, value: Bytes) {
        let short = Expiry {
            pair_ttl: Duration::from_secs(10),
            slide: false,
            entry_ttl: None,
        };
        let member = F.invocation_hash(&k).unwrap();
        let req = PutRequest::new(pair, member, value, &rules::LRU, 10, short);
        self.store.put(&req).unwrap();
    }

    fn put_busy(&self, k: u32) {
        self.put(&self.busy, k, Bytes::from_static(b"b"));
    }
}

/// A pair whose TTL ran out and that nobody touches again gives its values
/// back at a later put to any pair (the store's sweep), as Redis drops the
/// keys; before its TTL runs out, a put elsewhere leaves it alone.
#[test]
fn an_expired_pair_nobody_touches_gives_its_memory_back() {
    let s = Sweeping::new();
    let value = Bytes::from(vec![7u8; 64]);
    s.put(&s.idle, 1, value.clone());
    assert!(!value.is_unique(), "the store holds the value");

    s.clock.advance(Duration::from_secs(5));
    s.put_busy(1);
    assert!(!value.is_unique(), "a live pair is not swept");

    s.clock.advance(Duration::from_secs(6));
    s.put_busy(2);
    assert!(
        value.is_unique(),
        "the expired pair's value was freed by the sweep"
    );
    assert_eq!(s.store.len(&s.idle).unwrap(), 0);
}

/// The sweep runs at most once a second ([`MemoryStore`] scans every pair
/// when it sweeps, so a sweep on every put would make puts cost the number
/// of pairs): a pair that expires between two sweeps keeps its values
/// until the next one is due, and the put that finds it due sweeps.
#[test]
fn a_put_sweeps_only_when_a_second_has_passed_since_the_last_sweep() {
    let s = Sweeping::new();
    let value = Bytes::from(vec![7u8; 64]);
    // Sweeps at 0 and at 9.6 s; the next is due at 10.6 s.
    s.put(&s.idle, 1, value.clone());
    s.clock.advance(Duration::from_millis(9_600));
    s.put_busy(1);
    // 10.3 s: the idle pair expired at 10 s, but no sweep is due yet.
    s.clock.advance(Duration::from_millis(700));
    s.put_busy(2);
    assert!(
        !value.is_unique(),
        "a put less than a second after the last sweep does not sweep"
    );
    // 10.6 s: exactly one second after the last sweep, the sweep is due.
    s.clock.advance(Duration::from_millis(300));
    s.put_busy(3);
    assert!(value.is_unique(), "the sweep due at 10.6 s freed the value");
}

fn put(
    store: &MemoryStore,
    pair: &KeyPair,
    rules: &PolicyRules,
    k: u32,
    maxsize: u64,
) -> Vec<InvocationHash> {
    let req = PutRequest::new(
        pair,
        F.invocation_hash(&k).unwrap(),
        Bytes::from_static(b"v"),
        rules,
        maxsize,
        EXPIRY,
    );
    store.put(&req).unwrap().evicted
}

/// A SIEVE pair reports no hand until an eviction has moved it, as the
/// Redis store does (no `hand` member): contents must agree across stores.
#[test]
fn a_sieve_pair_has_no_hand_before_its_first_eviction() {
    let store = MemoryStore::new();
    let pair = KeyPair::new("p:", "hand", "sieve", Layout::Single, &F);
    for k in 0..3 {
        put(&store, &pair, &rules::SIEVE, k, 3);
    }
    assert_eq!(store.contents(&pair).hand, None);
}

/// A maxsize of 0 keeps one entry, as a maxsize of 1 does (SPEC §3's
/// `size - maxsize + 1` victims, of which an empty pair has none): the
/// first put into an empty pair evicts nothing, whatever picks victims.
#[test]
fn a_pair_of_maxsize_zero_keeps_one_entry() {
    let sorted_random = PolicyRules {
        word: "sortedrandom",
        victim: redis_func_cache_core::policy::Victim::Random,
        ..rules::LRU
    };
    sorted_random.validate().unwrap();
    for rules in [rules::RR, sorted_random, rules::LRU, rules::SIEVE] {
        let store = MemoryStore::new();
        let pair = KeyPair::new("p:", "zero", rules.word, Layout::Single, &F);
        assert!(
            put(&store, &pair, &rules, 1, 0).is_empty(),
            "{}",
            rules.word
        );
        assert_eq!(store.len(&pair).unwrap(), 1, "{}", rules.word);
        let evicted = put(&store, &pair, &rules, 2, 0);
        assert_eq!(
            evicted,
            [F.invocation_hash(&1u32).unwrap()],
            "{}",
            rules.word
        );
        assert_eq!(store.len(&pair).unwrap(), 1, "{}", rules.word);
    }
}
