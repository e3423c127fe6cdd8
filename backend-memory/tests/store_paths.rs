//! Paths of the memory store the oracle does not walk, found by mutation
//! testing (`.ci/mutants`): a pair read with another policy's index kind,
//! and the counter hashes behind fleet statistics.

use std::time::Duration;

use bytes::Bytes;
use redis_func_cache_core::store::{Expiry, GetRequest, PutRequest, Store};
use redis_func_cache_core::{FuncId, KeyPair, Layout};
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
    assert_eq!(store.get(&as_lru).unwrap().as_deref(), Some(&b"v"[..]));
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
    assert_eq!(store.get(&as_lru).unwrap().as_deref(), Some(&b"v"[..]));
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
