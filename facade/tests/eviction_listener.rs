//! The eviction listener hears what this process's puts, purges and
//! invalidations removed, with the cause, on memory and on Redis.

use std::sync::{Arc, Mutex};

use redis_func_cache::{AnyStore, FuncCache, FuncId, MemoryStore, RedisStore, RemovalCause};
use redis_func_cache_redis::test_server::Server;

static F: FuncId = FuncId::new("eviction_listener", "f", 1);

/// The memory store and a Redis store on `server`.
fn stores(server: &Server) -> [(&'static str, AnyStore); 2] {
    [
        ("memory", AnyStore::new(MemoryStore::new())),
        (
            "redis",
            AnyStore::new(RedisStore::open(server.url.as_str()).unwrap()),
        ),
    ]
}

#[test]
fn the_listener_hears_each_removal_and_its_cause() {
    let server = Server::start();
    for (name, store) in stores(&server) {
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

/// With a per-entry TTL, a put whose victim had already expired tells the
/// listener `Expired`; a live victim is `Size`. Real time on both stores
/// (the Redis server keeps its own clock), so the TTL is short.
#[test]
fn an_expired_victim_is_heard_as_expired() {
    use std::time::Duration;
    let server = Server::start();
    let ttl = Duration::from_secs(1);
    for (name, store) in stores(&server) {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let ear = heard.clone();
        let cache = FuncCache::builder(format!("expiring-{name}"))
            .policy(redis_func_cache::FifoPolicy)
            .maxsize(2)
            .entry_ttl(ttl)
            .on_eviction(move |n, cause| ear.lock().unwrap().push((n, cause)))
            .store(store)
            .build()
            .unwrap();
        cache.purge().unwrap();
        heard.lock().unwrap().clear();
        // Inserted through the entry API, so no read removes them first.
        for k in [1u32, 2] {
            cache.entry(&F, &k).unwrap().insert(&k).unwrap();
        }
        std::thread::sleep(ttl + Duration::from_millis(300));
        cache.entry(&F, &3u32).unwrap().insert(&3u32).unwrap(); // evicts 1: expired
        cache.entry(&F, &4u32).unwrap().insert(&4u32).unwrap(); // evicts 2: expired
        cache.entry(&F, &5u32).unwrap().insert(&5u32).unwrap(); // evicts 3: live
        assert_eq!(
            *heard.lock().unwrap(),
            [
                (1, RemovalCause::Expired),
                (1, RemovalCause::Expired),
                (1, RemovalCause::Size),
            ],
            "{name}"
        );
    }
}

/// A read that finds an entry past its per-entry TTL removes it (a miss,
/// SPEC §6) and tells the listener `Expired`: a call, sync or async, with
/// and without leases (SPEC §9), and the entry API's `get`. A read of an
/// absent entry tells it nothing.
#[test]
fn a_read_that_removes_an_expired_entry_is_heard() {
    use std::time::Duration;
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ttl = Duration::from_secs(1);
    for ((name, store), leased) in stores(&server)
        .into_iter()
        .chain(stores(&server))
        .zip([false, false, true, true])
    {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let ear = heard.clone();
        let builder = FuncCache::builder(format!("read-expired-{name}-{leased}"))
            .maxsize(10)
            .entry_ttl(ttl)
            .on_eviction(move |n, cause| ear.lock().unwrap().push((n, cause)));
        let builder = if leased {
            builder.lease(Duration::from_secs(5))
        } else {
            builder
        };
        let name = format!("{name}, leased: {leased}");
        let cache = builder.store(store).build().unwrap();
        cache.purge().unwrap();
        for k in 1..=3u32 {
            cache.call(&F, &k, || k).unwrap();
        }
        heard.lock().unwrap().clear();
        std::thread::sleep(ttl + Duration::from_millis(300));
        assert_eq!(cache.call(&F, &1u32, || 10u32).unwrap(), 10, "{name}");
        assert_eq!(
            rt.block_on(cache.call_async(&F, &2u32, || async { 20u32 }))
                .unwrap(),
            20,
            "{name}"
        );
        assert_eq!(cache.entry(&F, &3u32).unwrap().get::<u32>().unwrap(), None);
        assert_eq!(
            *heard.lock().unwrap(),
            [(1, RemovalCause::Expired); 3],
            "{name}: each read removed one expired entry"
        );
        // Gone: reading 3 again finds nothing to remove.
        assert_eq!(cache.entry(&F, &3u32).unwrap().get::<u32>().unwrap(), None);
        assert_eq!(heard.lock().unwrap().len(), 3, "{name}");
        assert_eq!(cache.len(&F).unwrap(), 2, "{name}: 1 and 2 were put again");
    }
}
