//! The main job: cache a function in memory and show what happened.
//!
//! Run with `cargo run --example quickstart`; no set-up needed.

use std::sync::LazyLock;

use redis_func_cache::{FuncCache, LruPolicy, MemoryStore, Mode, cached, stats};

/// An LRU cache of 1024 entries, held in this process.
static CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| {
    FuncCache::builder("my-first-lru-cache")
        .policy(LruPolicy)
        .maxsize(1024)
        .store(MemoryStore::new())
        .build()
        .expect("the configuration is valid")
});

/// Fibonacci, exponential without a cache, linear with one.
#[cached(cache = CACHE)]
fn fib(n: u64) -> u64 {
    if n <= 1 { n } else { fib(n - 1) + fib(n - 2) }
}

fn main() {
    let (first, counts) = stats::count(|| fib(80));
    println!("fib(80) = {first}");
    println!(
        "  first call:  {} hits, {} misses, {} writes",
        counts.hits, counts.misses, counts.writes
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

    let pair = CACHE.key_pair(&redis_func_cache::FuncId::new("", "", 0));
    println!(
        "cached {} results in the pair {} / {}",
        CACHE.store().contents(&pair).values.len(),
        pair.index(),
        pair.values()
    );
    let total = CACHE.stats();
    println!(
        "cache totals: {} hits, {} misses, {} writes, {} evictions, hit ratio {:.1}%",
        total.hits,
        total.misses,
        total.writes,
        total.evictions,
        total.hit_ratio() * 100.0
    );
}
