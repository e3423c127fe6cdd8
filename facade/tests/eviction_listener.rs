//! The eviction listener hears what this process's puts, purges and
//! invalidations removed, with the cause, on memory and on Redis.

use std::sync::{Arc, Mutex};

use redis_func_cache::{AnyStore, FuncCache, FuncId, MemoryStore, RedisStore, RemovalCause};
use redis_func_cache_redis::test_server::Server;

static F: FuncId = FuncId::new("eviction_listener", "f", 1);

#[test]
fn the_listener_hears_each_removal_and_its_cause() {
    let server = Server::start();
    for (name, store) in [
        ("memory", AnyStore::new(MemoryStore::new())),
        (
            "redis",
            AnyStore::new(RedisStore::open(server.url.as_str()).unwrap()),
        ),
    ] {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let ear = heard.clone();
        let cache = FuncCache::builder(format!("listened-{name}"))
            .maxsize(2)
            .on_eviction(move |n, cause| ear.lock().unwrap().push((n, cause)))
            .store(store)
            .build()
            .unwrap();
        cache.purge().unwrap();
        heard.lock().unwrap().clear();
        for k in 0..4u32 {
            cache.call(&F, &k, || k).unwrap();
        }
        assert!(cache.entry(&F, &3u32).unwrap().invalidate().unwrap());
        assert_eq!(cache.purge().unwrap(), 1);
        assert_eq!(
            *heard.lock().unwrap(),
            [
                (1, RemovalCause::Size),
                (1, RemovalCause::Size),
                (1, RemovalCause::Invalidated),
                (1, RemovalCause::Purged),
            ],
            "{name}"
        );
        assert_eq!(cache.stats().evictions, 2, "{name}");
    }
}
