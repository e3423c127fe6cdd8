//! `hit_instructions`: a fixed number of LRU hits on the memory store, for
//! counting instructions per hit with `valgrind --tool=callgrind` (exact on
//! a noisy machine, unlike timings). Run it with N and with 0 hits and
//! divide the difference by N; BENCHMARKS.md shows the method and numbers.
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/hit_instructions 100000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/hit_instructions 0
//! ```

use std::process::ExitCode;

use redis_func_cache::{FuncCache, FuncId, LruPolicy, MemoryStore};

static F: FuncId = FuncId::new("hit_instructions", "f", 1);

fn main() -> ExitCode {
    let hits: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: hit_instructions <hits>");
            return ExitCode::FAILURE;
        }
    };
    let cache = match FuncCache::builder("instructions")
        .policy(LruPolicy)
        .maxsize(1000)
        .store(MemoryStore::new())
        .build()
    {
        Ok(cache) => cache,
        Err(e) => {
            eprintln!("hit_instructions: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Fill: 1000 misses, in both runs.
    for k in 0..1000u64 {
        let _ = cache.call(&F, &k, || k);
    }
    let mut sum = 0u64;
    for i in 0..hits {
        let k = i % 1000;
        sum = sum.wrapping_add(cache.call(&F, &k, || k).unwrap_or(0));
    }
    let stats = cache.stats();
    if stats.hits != hits {
        eprintln!("hit_instructions: {} hits, expected {hits}", stats.hits);
        return ExitCode::FAILURE;
    }
    println!("{hits} hits (checksum {sum})");
    ExitCode::SUCCESS
}
