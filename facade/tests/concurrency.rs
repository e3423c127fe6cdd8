//! Many threads and many tasks on one cache: values always right, the size
//! always bounded, every call counted once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redis_func_cache::{
    EvictionPolicy, FifoPolicy, FuncCache, FuncId, LfuPolicy, LruMultiplePolicy, LruPolicy,
    MemoryStore, MruPolicy, RrPolicy, TLruPolicy,
};

static F: FuncId = FuncId::with_version("concurrency", "f", "1");

fn hammer_threads(policy: impl EvictionPolicy + Send + Sync + Copy + 'static) {
    const THREADS: u64 = 8;
    const CALLS: u64 = 3_000;
    let cache = Arc::new(
        FuncCache::builder("threads")
            .policy(policy)
            .maxsize(50)
            .store(MemoryStore::new())
            .build()
            .unwrap(),
    );
    let runs = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cache, runs) = (cache.clone(), runs.clone());
            std::thread::spawn(move || {
                let mut rng = fastrand_like(t);
                for _ in 0..CALLS {
                    let k = rng() % 120;
                    let v: u64 = cache
                        .call(&F, &k, || {
                            runs.fetch_add(1, Ordering::Relaxed);
                            k * 3
                        })
                        .unwrap();
                    assert_eq!(v, k * 3);
                    assert!(cache.len(&F).unwrap() <= 50);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = cache.stats();
    assert_eq!(s.hits + s.misses, THREADS * CALLS);
    // A miss either ran the function and wrote its result, or waited for
    // another thread computing the same key (single-flight) and wrote nothing.
    assert_eq!(s.misses, runs.load(Ordering::Relaxed) + s.flight_waits);
    assert_eq!(s.writes, runs.load(Ordering::Relaxed));
    assert_eq!(cache.len(&F).unwrap(), 50);
    // Every write inserted or overwrote; only inserts into a full pair evict,
    // and two threads can still both write one key when the second misses
    // just after the first one's flight landed.
    assert!(s.evictions <= s.writes - 50, "{s:?}");
    let pair = cache.key_pair(&F);
    assert_eq!(cache.store().contents(&pair).index.len(), 50);
}

/// A tiny deterministic generator per thread (xorshift).
fn fastrand_like(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
fn many_threads_lru() {
    hammer_threads(LruPolicy);
}

#[test]
fn many_threads_every_other_policy() {
    hammer_threads(MruPolicy);
    hammer_threads(FifoPolicy);
    hammer_threads(LfuPolicy);
    hammer_threads(RrPolicy);
    hammer_threads(TLruPolicy);
    hammer_threads(LruMultiplePolicy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks() {
    let cache = Arc::new(
        FuncCache::builder("tasks")
            .policy(LruPolicy)
            .maxsize(64)
            .store(MemoryStore::new())
            .build()
            .unwrap(),
    );
    let tasks: Vec<_> = (0..64u64)
        .map(|t| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let mut rng = fastrand_like(t + 100);
                for _ in 0..300 {
                    let k = rng() % 200;
                    let v: u64 = cache
                        .call_async(&F, &k, || async move {
                            tokio::task::yield_now().await;
                            k + 1
                        })
                        .await
                        .unwrap();
                    assert_eq!(v, k + 1);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = cache.stats();
    assert_eq!(s.hits + s.misses, 64 * 300);
    assert!(cache.len(&F).unwrap() <= 64);
}
