//! SPEC §10: one call's entry, read with or without the hit rule, stored
//! and removed without running the function, from the closure API and for a
//! `#[cached]` function (through its `key = …` function), on the memory
//! store and on Redis through both clients, sync and async. Each operation
//! is one round trip on Redis (counted with MONITOR).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis_func_cache::{
    AnyStore, Error, FuncCache, FuncId, LruMultiplePolicy, LruPolicy, MemoryStore, RedisStore,
    cached,
};
use redis_func_cache_redis::test_server::{Monitor, Server, connected_fred};

static SQUARE: FuncId = FuncId::new("entries", "square", 1);

fn caches(server: &Server) -> Vec<(&'static str, FuncCache<AnyStore>)> {
    let build = |name: &str, store: AnyStore| {
        FuncCache::builder(name)
            .policy(LruPolicy)
            .maxsize(2)
            .store(store)
            .build()
            .unwrap()
    };
    vec![
        (
            "memory",
            build("entries-memory", AnyStore::new(MemoryStore::new())),
        ),
        (
            "redis-rs",
            build(
                "entries-redis",
                AnyStore::new(RedisStore::open(server.url.as_str()).unwrap()),
            ),
        ),
        (
            "fred",
            build(
                "entries-fred",
                AnyStore::new(connected_fred(server.url.as_str())),
            ),
        ),
    ]
}

#[test]
fn an_entry_is_read_stored_and_removed_without_running_the_function() {
    let server = Server::start();
    for (store, cache) in caches(&server) {
        let runs = AtomicUsize::new(0);
        let square = |n: u64| {
            cache
                .call(&SQUARE, &n, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    n * n
                })
                .unwrap()
        };
        let seven = cache.entry(&SQUARE, &7u64).unwrap();
        assert_eq!(seven.peek::<u64>().unwrap(), None, "{store}");
        seven.insert(&49u64).unwrap();
        assert_eq!(square(7), 49, "{store}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "{store}: the inserted value was a hit"
        );
        // peek applies no hit rule: 7 stays least recently used.
        square(8);
        assert_eq!(seven.peek::<u64>().unwrap(), Some(49), "{store}");
        square(9);
        assert_eq!(
            seven.peek::<u64>().unwrap(),
            None,
            "{store}: evicted as LRU"
        );
        // get applies it: 8 becomes the most recent, so 9 goes next.
        let eight = cache.entry(&SQUARE, &8u64).unwrap();
        assert_eq!(eight.get::<u64>().unwrap(), Some(64), "{store}");
        square(10);
        assert_eq!(
            eight.peek::<u64>().unwrap(),
            Some(64),
            "{store}: kept by its hit"
        );
        assert!(eight.invalidate().unwrap(), "{store}");
        assert!(!eight.invalidate().unwrap(), "{store}: gone already");
        let before = runs.load(Ordering::SeqCst);
        assert_eq!(square(8), 64);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            before + 1,
            "{store}: recomputed"
        );
        cache.purge().unwrap();
    }
}

#[test]
fn the_async_entry_api_does_the_same() {
    let server = Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (store, cache) in caches(&server) {
        rt.block_on(async {
            let e = cache.entry(&SQUARE, &3u64).unwrap();
            assert_eq!(e.peek_async::<u64>().await.unwrap(), None, "{store}");
            e.insert_async(&9u64).await.unwrap();
            assert_eq!(e.get_async::<u64>().await.unwrap(), Some(9), "{store}");
            assert_eq!(e.peek_async::<u64>().await.unwrap(), Some(9), "{store}");
            assert!(e.invalidate_async().await.unwrap(), "{store}");
            assert_eq!(e.get_async::<u64>().await.unwrap(), None, "{store}");
        });
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.writes), (1, 1, 1), "{store}: {s:?}");
    }
}

#[test]
fn each_entry_operation_is_one_round_trip_on_redis() {
    let server = Server::start();
    // No background fleet reports: MONITOR counts every command.
    let cache = FuncCache::builder("entries-rt")
        .fleet_stats_interval(None)
        .store(RedisStore::open(server.url.as_str()).unwrap())
        .build()
        .unwrap();
    let e = cache.entry(&SQUARE, &4u64).unwrap();
    e.insert(&16u64).unwrap(); // loads the scripts first
    e.peek::<u64>().unwrap();
    e.get::<u64>().unwrap();
    e.invalidate().unwrap();
    let monitor = Monitor::start(&server);
    e.insert(&16u64).unwrap();
    e.peek::<u64>().unwrap();
    e.get::<u64>().unwrap();
    e.invalidate().unwrap();
    let commands = monitor.client_commands();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["fcall"; 4], "{commands:?}");
}

static MACRO_CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| {
    FuncCache::builder("entries-macro")
        .policy(LruMultiplePolicy)
        .store(MemoryStore::new())
        .build()
        .unwrap()
});
static MACRO_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A type whose name joins the key (not a plain std type).
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Price {
    cents: u64,
}

#[cached(cache = MACRO_CACHE, key = price_key, id = PRICE)]
fn price(item: String, quantity: u32) -> Price {
    MACRO_RUNS.fetch_add(1, Ordering::SeqCst);
    Price {
        cents: item.len() as u64 * u64::from(quantity),
    }
}

#[test]
fn a_cached_functions_key_function_reaches_its_entries() -> Result<(), Error> {
    assert_eq!(price("tea".into(), 2), Price { cents: 6 });
    let entry = MACRO_CACHE.entry_of(price_key("tea".into(), 2))?;
    assert_eq!(entry.peek::<Price>()?, Some(Price { cents: 6 }));
    // Store a value by hand: the next call returns it without running.
    MACRO_CACHE
        .entry_of(price_key("milk".into(), 1))?
        .insert(&Price { cents: 99 })?;
    assert_eq!(price("milk".into(), 1), Price { cents: 99 });
    assert_eq!(MACRO_RUNS.load(Ordering::SeqCst), 1);
    assert!(entry.invalidate()?);
    assert_eq!(price("tea".into(), 2), Price { cents: 6 });
    assert_eq!(MACRO_RUNS.load(Ordering::SeqCst), 2);
    // The whole function: one pair in this layout.
    assert_eq!(MACRO_CACHE.purge_func(&PRICE)?, 2);
    Ok(())
}
