//! SPEC §4: a purge touches only its own cache's pairs, on the memory store
//! and on Redis, even for caches whose names are prefixes of each other.
//! (The name rules themselves need no server: `scenarios.rs` checks them.)

use std::sync::Arc;

use redis_func_cache::{
    DynStore, EvictionPolicy, FuncCache, FuncId, LruMultiplePolicy, LruPolicy, MemoryStore,
    RedisStore,
};
use redis_func_cache_redis::test_server::Server;

static F: FuncId = FuncId::with_version("names", "f", "1");
static G: FuncId = FuncId::with_version("names", "g", "1");

fn check_purges_stay_in_their_cache(store: Arc<dyn DynStore>) {
    // Each name is a prefix of the next; two layouts each.
    let names = ["acl", "acl2", "acl-m", "acl-m-x"];
    let mut caches = Vec::new();
    for name in names {
        for multiple in [false, true] {
            let builder = FuncCache::builder(name).store(store.clone());
            let cache = if multiple {
                builder.policy(LruMultiplePolicy).build().unwrap()
            } else {
                builder.policy(LruPolicy).build().unwrap()
            };
            cache.purge().unwrap();
            for func in [&F, &G] {
                for k in 0..3u32 {
                    let _: u32 = cache.call(func, &k, || k).unwrap();
                }
            }
            caches.push(cache);
        }
    }
    for (i, cache) in caches.iter().enumerate() {
        cache.purge().unwrap();
        assert_eq!(cache.len(&F).unwrap(), 0, "{} purged", cache.name());
        for later in &caches[i + 1..] {
            assert_eq!(
                later.len(&F).unwrap() + later.len(&G).unwrap(),
                if later.policy().layout().per_function() {
                    6
                } else {
                    12
                },
                "purging {} ({:?}) touched {} ({:?})",
                cache.name(),
                cache.policy().layout(),
                later.name(),
                later.policy().layout()
            );
        }
    }
}

#[test]
fn purge_never_deletes_another_caches_pairs_in_memory() {
    check_purges_stay_in_their_cache(Arc::new(MemoryStore::new()));
}

#[test]
fn purge_never_deletes_another_caches_pairs_on_redis() {
    let server = Server::start();
    check_purges_stay_in_their_cache(Arc::new(RedisStore::open(server.url.as_str()).unwrap()));
}
