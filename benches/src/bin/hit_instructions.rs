//! `hit_instructions`: a fixed number of LRU hits, for counting
//! instructions per hit with `valgrind --tool=callgrind` (exact on a noisy
//! machine, unlike timings). Run it with N and with 0 hits and divide the
//! difference by N; BENCHMARKS.md shows the method and numbers.
//!
//! On the memory store by default; with a Redis URL, on the Redis store
//! (redis-rs, or fred with `fred` last), sync or, with `async`, from a
//! tokio runtime: then the count is the client's side of a hit, since the
//! server runs in its own process.
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/hit_instructions 100000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/hit_instructions 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/hit_instructions 20000 redis://127.0.0.1:6379/ async
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/hit_instructions 20000 redis://127.0.0.1:6379/ async fred
//! ```
//!
//! `hit_instructions --get-script <policy>` prints the get script the Redis
//! stores send for a cache of that policy (key word, default TTL, sliding),
//! which `benches/scripts/get_script_instructions.sh` counts inside the
//! server.

use std::process::ExitCode;

use redis_func_cache::store::{Expiry, Store};
use redis_func_cache::{
    DEFAULT_TTL, FredStore, FuncCache, FuncId, LruPolicy, MemoryStore, RedisStore, by_name,
};
use redis_func_cache_redis::get_script_text;

static F: FuncId = FuncId::new("hit_instructions", "f", 1);

/// Distinct keys, all cached: the hits cycle through them.
const KEYS: u64 = 1000;

/// How the hits are made.
enum Caller {
    Sync,
    Async(tokio::runtime::Runtime),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: hit_instructions <hits> [<redis-url> [sync|async] [redis-rs|fred]]\n       \
             hit_instructions --get-script <policy>"
        );
        ExitCode::FAILURE
    };
    if args.first().map(String::as_str) == Some("--get-script") {
        let Some(word) = args.get(1) else {
            return usage();
        };
        return match get_script(word) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hit_instructions: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(Ok(hits)) = args.first().map(|a| a.parse::<u64>()) else {
        return usage();
    };
    let caller = match args.get(2).map(String::as_str) {
        None | Some("sync") => Caller::Sync,
        Some("async") => match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(runtime) => Caller::Async(runtime),
            Err(e) => {
                eprintln!("hit_instructions: a tokio runtime: {e}");
                return ExitCode::FAILURE;
            }
        },
        Some(_) => return usage(),
    };
    let result = match (args.get(1), args.get(3).map(String::as_str)) {
        (None, _) => run(MemoryStore::new(), hits, &caller),
        (Some(url), None | Some("redis-rs")) => match RedisStore::open(url.as_str()) {
            Ok(store) => run(store, hits, &caller),
            Err(e) => Err(e.to_string()),
        },
        (Some(url), Some("fred")) => match FredStore::open(url) {
            Ok(store) => run(store, hits, &caller),
            Err(e) => Err(e.to_string()),
        },
        (Some(_), Some(_)) => return usage(),
    };
    match result {
        Ok(sum) => {
            println!("{hits} hits (checksum {sum})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hit_instructions: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The get script of a cache of `word`'s policy with the default TTL,
/// sliding, without per-entry TTLs or leases.
fn get_script(word: &str) -> Result<&'static str, String> {
    let policy = by_name(word, "single").ok_or_else(|| format!("no policy {word:?}"))?;
    let expiry = Expiry {
        pair_ttl: DEFAULT_TTL,
        slide: true,
        entry_ttl: None,
    };
    get_script_text(policy.rules_ref(), &expiry, false).map_err(|e| e.to_string())
}

/// Fills a cache of `KEYS` entries on `store` (in both runs, N and 0),
/// then makes `hits` hits; the checksum of the values read.
fn run<S: Store>(store: S, hits: u64, caller: &Caller) -> Result<u64, String> {
    let cache = FuncCache::builder("instructions")
        .policy(LruPolicy)
        .maxsize(KEYS)
        .store(store)
        .build()
        .map_err(|e| e.to_string())?;
    cache.purge().map_err(|e| e.to_string())?;
    let mut sum = 0u64;
    match caller {
        Caller::Sync => {
            for k in 0..KEYS {
                cache.call(&F, &k, || k).map_err(|e| e.to_string())?;
            }
            for i in 0..hits {
                let k = i % KEYS;
                sum = sum.wrapping_add(cache.call(&F, &k, || k).map_err(|e| e.to_string())?);
            }
        }
        Caller::Async(runtime) => runtime.block_on(async {
            for k in 0..KEYS {
                cache
                    .call_async(&F, &k, || async move { k })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            for i in 0..hits {
                let k = i % KEYS;
                let v = cache
                    .call_async(&F, &k, || async move { k })
                    .await
                    .map_err(|e| e.to_string())?;
                sum = sum.wrapping_add(v);
            }
            Ok::<(), String>(())
        })?,
    }
    let stats = cache.stats();
    if stats.hits != hits {
        return Err(format!("{} hits, expected {hits}", stats.hits));
    }
    Ok(sum)
}
