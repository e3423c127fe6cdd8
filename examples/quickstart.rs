//! The main job: cache a function and show what happened.
//!
//! `cargo run --example quickstart` runs on the in-memory store with no
//! set-up. With `REDIS_URL` set and the `redis` feature
//! (`cargo run -p redis-func-cache-examples --example quickstart --features redis`),
//! the same code runs on Redis: the store is chosen at run time behind
//! `Arc<dyn DynStore>`.

use std::sync::{Arc, LazyLock};

use redis_func_cache::{DynStore, FuncCache, LruPolicy, MemoryStore, Mode, cached, stats};

/// Where the cache lives: Redis if `REDIS_URL` says so, else this process.
fn choose_store() -> (Arc<dyn DynStore>, String) {
    if let Ok(url) = std::env::var("REDIS_URL") {
        #[cfg(feature = "redis")]
        {
            let store =
                redis_func_cache::RedisStore::open(url.as_str()).expect("a valid REDIS_URL");
            return (Arc::new(store), format!("Redis at {url}"));
        }
        #[cfg(not(feature = "redis"))]
        eprintln!(
            "REDIS_URL={url} is set, but this build has no `redis` feature: using memory (add --features redis)"
        );
    }
    (Arc::new(MemoryStore::new()), "memory (this process)".into())
}

/// An LRU cache of 1024 entries.
static CACHE: LazyLock<(FuncCache<Arc<dyn DynStore>>, String)> = LazyLock::new(|| {
    let (store, place) = choose_store();
    let cache = FuncCache::builder("my-first-lru-cache")
        .policy(LruPolicy)
        .maxsize(1024)
        .store(store)
        .build()
        .expect("the configuration is valid");
    (cache, place)
});

/// Fibonacci, exponential without a cache, linear with one. `id = FIB`
/// declares `static FIB: FuncId`, this function's identity.
#[cached(cache = CACHE.0, id = FIB)]
fn fib(n: u64) -> u64 {
    if n <= 1 { n } else { fib(n - 1) + fib(n - 2) }
}

fn main() {
    let (cache, place) = &*CACHE;
    println!("store: {place}");
    // Start clean, so the counts below are this run's.
    let _ = cache.purge();

    let (first, counts) = stats::count(|| fib(80));
    println!("fib(80) = {first}");
    // fib(80) calls fib(79) and fib(78); fib(79) computes fib(78) first,
    // so the outer call's fib(78) is a hit. Each n below 79 is computed
    // once and read once more the same way: 81 misses, 78 hits.
    println!(
        "  first call:  {} misses (fib(0)..=fib(80), each computed once), {} hits \
         (the recursion reading back what it had just computed), {} writes",
        counts.misses, counts.hits, counts.writes
    );

    let (second, counts) = stats::count(|| fib(80));
    assert_eq!(first, second);
    println!(
        "  second call: {} hits, {} misses (served from the cache)",
        counts.hits, counts.misses
    );

    let (_, counts) = stats::count(|| Mode::Bypass.scope(|| fib(20)));
    println!(
        "  fib(20) in bypass mode: {} hits, {} misses (cache not consulted)",
        counts.hits, counts.misses
    );

    let pair = cache.key_pair(&FIB);
    println!(
        "cached {} results in the pair {} / {}",
        cache.len(&FIB).unwrap_or(0),
        pair.index(),
        pair.values()
    );
    let total = cache.stats();
    println!(
        "cache totals: {} hits, {} misses, {} writes, {} evictions, {} store errors, hit ratio {:.1}%",
        total.hits,
        total.misses,
        total.writes,
        total.evictions,
        total.backend_errors,
        total.hit_ratio() * 100.0
    );
}
