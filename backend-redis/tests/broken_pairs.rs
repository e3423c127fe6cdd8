//! SPEC §8: pairs broken by something else heal instead of failing every
//! call. On both clients. (A server out of memory, which refuses writes,
//! is in `writes_refused.rs`.)

mod common;

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{FuncCache, FuncId, OnStoreError};
use redis_func_cache_policies::LruPolicy;

static F: FuncId = FuncId::new("broken", "f", 1);

fn strict(store: &AnyStore, name: &str) -> FuncCache<AnyStore> {
    FuncCache::builder(name)
        .policy(LruPolicy)
        .maxsize(2)
        .on_store_error(OnStoreError::Propagate)
        .store(store.clone())
        .build()
        .unwrap()
}

#[test]
fn wrong_typed_halves_are_a_miss_then_replaced() {
    let server = common::Server::start();
    let mut con = server.connection();
    for (client, store) in common::stores_of_both_clients(&server.url) {
        for half in [0, 1] {
            let cache = strict(&store, &format!("wrongtype-{client}-{half}"));
            let _: u32 = cache.call(&F, &1u32, || 10).unwrap();
            let pair = cache.key_pair(&F);
            let key = if half == 0 {
                pair.index()
            } else {
                pair.values()
            };
            let _: () = redis::cmd("SET").arg(key).arg("x").query(&mut con).unwrap();
            // Errors propagate here, so a WRONGTYPE would show.
            let v: u32 = cache.call(&F, &1u32, || 11).unwrap();
            assert_eq!(v, 11, "{client} half {half}: a miss, not an error");
            let again: u32 = cache
                .call(&F, &1u32, || unreachable!("healed: a hit"))
                .unwrap();
            assert_eq!(again, 11);
            assert_eq!(cache.stats().backend_errors, 0, "{client} half {half}");
            let kind: String = redis::cmd("TYPE").arg(key).query(&mut con).unwrap();
            assert_ne!(kind, "string", "{client}: the pair was replaced");
        }
    }
}

#[test]
fn a_foreign_member_never_fails_a_put_that_succeeded() {
    let server = common::Server::start();
    let mut con = server.connection();
    for (client, store) in common::stores_of_both_clients(&server.url) {
        let cache = strict(&store, &format!("foreign-{client}"));
        let _: u32 = cache.call(&F, &1u32, || 10).unwrap();
        let pair = cache.key_pair(&F);
        // Something else adds a member that is no invocation hash, with the
        // lowest score, so it is the next victim.
        let _: () = redis::cmd("ZADD")
            .arg(pair.index())
            .arg(0)
            .arg("foreign")
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("HSET")
            .arg(pair.values())
            .arg("foreign")
            .arg("v")
            .query(&mut con)
            .unwrap();
        let v: u32 = cache.call(&F, &2u32, || 20).unwrap();
        assert_eq!(v, 20, "{client}");
        assert_eq!(
            cache.stats().backend_errors,
            0,
            "{client}: the put succeeded and says so"
        );
        let members: Vec<Vec<u8>> = redis::cmd("ZRANGE")
            .arg(pair.index())
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        assert!(!members.contains(&b"foreign".to_vec()), "{client}: evicted");
    }
}
