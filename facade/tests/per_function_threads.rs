//! Threads that first call many functions of one per-function cache at the
//! same time: each function gets its pair once, no call sees another's
//! value, and every later call hits.

use redis_func_cache::{FuncCache, FuncId, LruMultiplePolicy, MemoryStore};

const THREADS: u64 = 4;
const FUNCTIONS: u64 = 64;

#[test]
fn functions_first_called_from_many_threads_each_get_one_pair() {
    let cache = FuncCache::builder("per-function-threads")
        .policy(LruMultiplePolicy)
        .maxsize(10)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let cache = &cache;
            scope.spawn(move || {
                // Every thread walks all functions, each from its own start.
                for i in 0..FUNCTIONS {
                    let f = (i + t * 16) % FUNCTIONS;
                    let id = FuncId::new("per_function_threads", "f", f);
                    let v: u64 = cache.call(&id, &7u64, || f * 100 + 7).unwrap();
                    assert_eq!(v, f * 100 + 7, "function {f} got another's value");
                }
            });
        }
    });
    let before = cache.stats();
    for f in 0..FUNCTIONS {
        let id = FuncId::new("per_function_threads", "f", f);
        let v: u64 = cache.call(&id, &7u64, || unreachable!("cached")).unwrap();
        assert_eq!(v, f * 100 + 7);
    }
    let after = cache.stats();
    assert_eq!(after.hits - before.hits, FUNCTIONS);
    assert_eq!(
        after.writes, before.writes,
        "no function was written twice after the threads"
    );
}
