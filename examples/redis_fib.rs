//! The first example of the Python library's README, in Rust: an LRU cache in
//! Redis on a recursive Fibonacci.
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run -p redis-func-cache-examples --example redis_fib --features redis
//! ```

use std::process::ExitCode;
use std::sync::LazyLock;

use redis_func_cache::{FuncCache, LruPolicy, RedisStore, cached, stats};

static CACHE: LazyLock<FuncCache<RedisStore>> = LazyLock::new(|| {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let store = RedisStore::open(url.as_str()).expect("a valid Redis URL");
    FuncCache::builder("my-first-lru-cache")
        .policy(LruPolicy)
        .store(store)
        .build()
        .expect("a valid configuration")
});

#[cached(cache = CACHE, id = FIB)]
fn fib(n: u64) -> u64 {
    if n <= 1 {
        return n;
    }
    if n == 2 {
        return 1;
    }
    fib(n - 1) + fib(n - 2)
}

fn main() -> ExitCode {
    if let Err(e) = CACHE.len(&FIB) {
        eprintln!("cannot reach Redis ({e}); set REDIS_URL to a running server");
        return ExitCode::FAILURE;
    }
    let (v, counts) = stats::count(|| fib(90));
    println!(
        "fib(90) = {v}: {} hits, {} misses",
        counts.hits, counts.misses
    );
    let (_, counts) = stats::count(|| fib(90));
    println!("again: {} hits, {} misses", counts.hits, counts.misses);
    let pair = CACHE.key_pair(&FIB);
    println!(
        "{} entries in {} (sorted set) and {} (hash)",
        CACHE.len(&FIB).unwrap_or(0),
        pair.index(),
        pair.values()
    );
    ExitCode::SUCCESS
}
