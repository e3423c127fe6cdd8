//! The memory store leaves its state for a pair on the `KeyPair` it served,
//! so later calls skip the lookup by name. Those handles must never let one
//! store read or write another's entries.

use bytes::Bytes;
use redis_func_cache_core::store::{GetRequest, PutRequest, Store};
use redis_func_cache_core::{FuncId, InvocationHash, KeyPair, Layout};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::rules;

mod common;
use common::EXPIRY;

static F: FuncId = FuncId::new("pair_handles", "f", 0);

fn member(k: u64) -> InvocationHash {
    common::member(&F, k)
}

fn put(store: &MemoryStore, pair: &KeyPair, k: u64, value: &'static str) {
    let req = PutRequest::new(
        pair,
        member(k),
        Bytes::from_static(value.as_bytes()),
        &rules::LRU,
        10,
        EXPIRY,
    );
    store.put(&req).expect("memory puts do not fail");
}

fn get(store: &MemoryStore, pair: &KeyPair, k: u64) -> Option<String> {
    let req = GetRequest::new(pair, member(k), &rules::LRU, EXPIRY);
    let value = store
        .get(&req)
        .expect("memory reads do not fail")
        .into_value()?;
    Some(String::from_utf8(value.to_vec()).expect("utf-8 values"))
}

fn pair() -> KeyPair {
    KeyPair::new("handles:", "c", "lru", Layout::Single, &F)
}

#[test]
fn two_stores_through_one_pair_stay_apart() {
    let pair = pair();
    let (first, second) = (MemoryStore::new(), MemoryStore::new());
    put(&first, &pair, 1, "first");
    assert_eq!(
        get(&second, &pair, 1),
        None,
        "the second store holds nothing yet"
    );
    put(&second, &pair, 1, "second");
    put(&second, &pair, 2, "second only");
    assert_eq!(get(&first, &pair, 1).as_deref(), Some("first"));
    assert_eq!(get(&second, &pair, 1).as_deref(), Some("second"));
    assert_eq!(get(&first, &pair, 2), None);
    assert_eq!(
        (first.len(&pair).unwrap(), second.len(&pair).unwrap()),
        (1, 2)
    );
}

#[test]
fn a_clone_of_the_store_and_a_clone_of_the_pair_see_the_same_entries() {
    let (store, pair) = (MemoryStore::new(), pair());
    put(&store, &pair, 1, "one");
    let (store_clone, pair_clone) = (store.clone(), pair.clone());
    assert_eq!(get(&store_clone, &pair_clone, 1).as_deref(), Some("one"));
    put(&store_clone, &pair_clone, 2, "two");
    assert_eq!(get(&store, &pair, 2).as_deref(), Some("two"));
    // A pair built afresh by name reaches the same entries, through the map.
    assert_eq!(get(&store, &self::pair(), 2).as_deref(), Some("two"));
}

#[test]
fn a_purged_pair_is_refilled_in_place() {
    let (store, pair) = (MemoryStore::new(), pair());
    put(&store, &pair, 1, "before");
    assert_eq!(store.purge(&pair).unwrap(), 1);
    assert_eq!(
        get(&store, &pair, 1),
        None,
        "the handle does not keep purged entries"
    );
    put(&store, &pair, 2, "after");
    assert_eq!(
        store.len(&self::pair()).unwrap(),
        1,
        "the put went to the named pair"
    );
    assert_eq!(store.pair_names(), vec![pair.index().to_owned()]);
}

/// Only pairs that hold entries are named: one whose last entry was
/// removed is not, though the store may still keep its (empty) state.
#[test]
fn a_pair_whose_entries_are_gone_is_not_named() {
    let (store, pair) = (MemoryStore::new(), pair());
    put(&store, &pair, 1, "one");
    let other = KeyPair::new("handles:", "other", "lru", Layout::Single, &F);
    put(&store, &other, 1, "one");
    let req = GetRequest::new(&pair, member(1), &rules::LRU, EXPIRY);
    assert!(store.remove(&req).unwrap());
    assert_eq!(store.pair_names(), vec![other.index().to_owned()]);
}
