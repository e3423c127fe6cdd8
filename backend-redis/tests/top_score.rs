//! The top score a Redis pair keeps for LRU and MRU hits (the values
//! field `''`, see get.lua): whatever happens to it, hits still move a
//! member to exactly "max + 1" (SPEC §3), as on the memory store, and it is
//! never counted or listed as an entry. On both clients.

mod common;

use redis_func_cache_core::store::{AnyStore, PairContents};
use redis_func_cache_core::{FuncCache, FuncId, KeyPair, OnStoreError, Policy};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::{FifoPolicy, LruPolicy, MruPolicy};
use redis_func_cache_redis::RedisStore;

static F: FuncId = FuncId::new("top", "f", 1);

fn cache(store: AnyStore, name: &str, policy: Policy) -> FuncCache<AnyStore> {
    FuncCache::builder(name)
        .policy(policy)
        .maxsize(4)
        .on_store_error(OnStoreError::Propagate)
        .store(store)
        .build()
        .unwrap()
}

/// What to do to the kept top score between two calls.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// Leave it.
    None,
    /// Delete it, as on a pair an older version wrote.
    Delete,
    /// Overwrite it with something that is not a number.
    Garbage,
    /// Overwrite it with a number below the true top, before a miss: the
    /// put writes it afresh. (Before a hit it would go unnoticed: only our
    /// scripts write a pair, and no sequence of calls reaches that state,
    /// which the rest of this test and the differential tests check.)
    Low,
}

#[test]
fn hits_move_to_max_plus_one_whatever_happened_to_the_kept_top() {
    let server = common::Server::start();
    let mut con = server.connection();
    let redis_rs = RedisStore::open(server.url.as_str()).unwrap();
    let fred = common::connected_fred(&server.url);
    type Contents = Box<dyn Fn(&KeyPair) -> PairContents>;
    let clients: Vec<(&str, AnyStore, Contents)> = vec![
        (
            "redis-rs",
            AnyStore::new(redis_rs.clone()),
            Box::new(move |p| redis_rs.contents(p).unwrap()),
        ),
        (
            "fred",
            AnyStore::new(fred.clone()),
            Box::new(move |p| fred.contents(p).unwrap()),
        ),
    ];
    let policies = [
        ("lru", Policy::of(&LruPolicy)),
        ("mru", Policy::of(&MruPolicy)),
        ("fifo", Policy::of(&FifoPolicy)),
    ];
    // Calls of keys, an invalidation (a negative key) and tampering, in an
    // order that removes the top member, evicts, and hits after each.
    let steps: [(i32, Tamper); 16] = [
        (1, Tamper::None),
        (2, Tamper::None),
        (3, Tamper::None),
        (1, Tamper::Delete),
        (2, Tamper::None),
        (-2, Tamper::None),
        (3, Tamper::None),
        (1, Tamper::Garbage),
        (4, Tamper::None),
        (5, Tamper::Low),
        (3, Tamper::None),
        (-3, Tamper::None),
        (6, Tamper::None),
        (1, Tamper::Delete),
        (7, Tamper::Low),
        (6, Tamper::None),
    ];
    for (client, store, contents) in &clients {
        for (word, policy) in policies {
            let name = format!("top-{client}-{word}");
            let redis = cache(store.clone(), &name, policy);
            let memory_store = MemoryStore::new();
            let memory = cache(AnyStore::new(memory_store.clone()), &name, policy);
            let pair = redis.key_pair(&F);
            for (i, &(key, tamper)) in steps.iter().enumerate() {
                match tamper {
                    Tamper::None => {}
                    Tamper::Delete => {
                        let _: u64 = redis::cmd("HDEL")
                            .arg(pair.values())
                            .arg("")
                            .query(&mut con)
                            .unwrap();
                    }
                    Tamper::Garbage | Tamper::Low => {
                        let v = if matches!(tamper, Tamper::Garbage) {
                            "x"
                        } else {
                            "2"
                        };
                        let _: u64 = redis::cmd("HSET")
                            .arg(pair.values())
                            .arg("")
                            .arg(v)
                            .query(&mut con)
                            .unwrap();
                    }
                }
                let at = format!("{client} {word} step {i} ({key}, {tamper:?})");
                if key < 0 {
                    let removed = redis.entry(&F, &(-key)).unwrap().invalidate().unwrap();
                    let expected = memory.entry(&F, &(-key)).unwrap().invalidate().unwrap();
                    assert_eq!(removed, expected, "{at}");
                } else {
                    let ran = std::cell::Cell::new(0);
                    let r: i32 = redis
                        .call(&F, &key, || {
                            ran.set(ran.get() + 1);
                            key * 10
                        })
                        .unwrap();
                    let m: i32 = memory
                        .call(&F, &key, || {
                            ran.set(ran.get() + 10);
                            key * 10
                        })
                        .unwrap();
                    assert_eq!((r, m), (key * 10, key * 10), "{at}");
                    assert!(ran.get() == 0 || ran.get() == 11, "{at}: hit on one only");
                }
                let (r, m) = (contents(&pair), memory_store.contents(&pair));
                assert_eq!(r, m, "{at}: the pairs differ");
                assert_eq!(
                    redis.len(&F).unwrap(),
                    memory.len(&F).unwrap(),
                    "{at}: len counts entries only"
                );
            }
            assert_eq!(
                redis.purge_func(&F).unwrap(),
                memory.purge_func(&F).unwrap(),
                "{client} {word}: purge counts entries only"
            );
        }
    }
}
