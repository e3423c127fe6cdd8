//! The memory store against moka, and the memory store against itself at
//! two sizes.

use std::time::Duration;

use redis_func_cache::{FuncCache, FuncId, LruPolicy, MemoryStore};

use super::{Row, Settings, Spec, interleave, rate};

/// The cached function of every memory comparison.
static F: FuncId = FuncId::with_version(module_path!(), "f", "1");

/// Keys the hit comparisons read, all cached.
const HIT_KEYS: u64 = 10_000;
/// Calls between two reads of the clock.
const BATCH: u64 = 1_000;

type Error = redis_func_cache::Error;

fn lru_cache(name: &str, maxsize: u64) -> Result<FuncCache<MemoryStore>, Error> {
    FuncCache::builder(name)
        .policy(LruPolicy)
        .maxsize(maxsize)
        .store(MemoryStore::new())
        .build()
}

/// Fills `cache` with f(k) = 3k for k in `keys`.
fn fill(cache: &FuncCache<MemoryStore>, keys: std::ops::Range<u64>) -> Result<(), Error> {
    for k in keys {
        let _: u64 = cache.call(&F, &k, || k * 3)?;
    }
    Ok(())
}

/// A fixed pseudo-random order of the hit keys, so both sides read the same
/// keys in the same order and neither walks memory in sequence.
fn hit_order() -> Vec<u64> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut keys: Vec<u64> = (0..HIT_KEYS).collect();
    rng.shuffle(&mut keys);
    keys
}

/// Runs `hit(key)` over `order` on `threads` threads for `time`, each
/// thread starting at its own place in `order`; ops/s of all threads.
fn on_threads(
    threads: usize,
    order: &[u64],
    time: Duration,
    hit: impl Fn(u64) -> Result<(), Error> + Sync,
) -> Result<f64, Error> {
    let hit = &hit;
    let rates: Vec<Result<f64, Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut i = t * order.len() / threads.max(1);
                    rate(time, BATCH, || {
                        for _ in 0..BATCH {
                            hit(order[i % order.len()])?;
                            i += 1;
                        }
                        Ok(())
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a bench thread panicked"))
            .collect()
    });
    rates.into_iter().sum()
}

/// Hits through the public API: hashing the argument, the lookup, the LRU
/// update and decoding the value.
fn ours_hits(
    cache: &FuncCache<MemoryStore>,
    order: &[u64],
    threads: usize,
    time: Duration,
) -> Result<f64, Error> {
    on_threads(threads, order, time, |k| {
        let v: u64 = cache.call(&F, &k, || {
            unreachable!("every key of the hit comparison is cached")
        })?;
        std::hint::black_box(v);
        Ok(())
    })
}

/// The same keys and values through `moka::sync::Cache::get`.
fn moka_hits(
    cache: &moka::sync::Cache<u64, u64>,
    order: &[u64],
    threads: usize,
    time: Duration,
) -> Result<f64, Error> {
    on_threads(threads, order, time, |k| {
        std::hint::black_box(cache.get(&k).expect("every key is cached"));
        Ok(())
    })
}

/// `memory_hit_vs_moka_1t` and `memory_hit_vs_moka_2t`.
pub fn hits_vs_moka(settings: &Settings) -> Result<Vec<Row>, Error> {
    let ours = lru_cache("compare-memory-hits", HIT_KEYS)?;
    fill(&ours, 0..HIT_KEYS)?;
    let moka = moka::sync::Cache::new(HIT_KEYS);
    for k in 0..HIT_KEYS {
        moka.insert(k, k * 3);
    }
    let order = hit_order();
    let mut rows = Vec::new();
    for (threads, name) in [(1, "memory_hit_vs_moka_1t"), (2, "memory_hit_vs_moka_2t")] {
        let spec = Spec::ops(name, "moka::sync::Cache::get, same keys and values", 1.0);
        let (a, b) = interleave(
            settings.rounds,
            || ours_hits(&ours, &order, threads, settings.round_time),
            || moka_hits(&moka, &order, threads, settings.round_time),
        )?;
        rows.push(spec.row(&a, &b));
    }
    Ok(rows)
}

/// Misses on a full cache: each call runs f, and its put evicts one entry.
fn misses(cache: &FuncCache<MemoryStore>, next: &mut u64, time: Duration) -> Result<f64, Error> {
    rate(time, BATCH, || {
        for _ in 0..BATCH {
            let k = *next;
            *next += 1;
            let v: u64 = cache.call(&F, &k, || k * 3)?;
            std::hint::black_box(v);
        }
        Ok(())
    })
}

/// `memory_put_scaling`: puts on a full cache of `settings.scaling_entries`
/// entries against puts on a full cache of 1000.
pub fn put_scaling(settings: &Settings) -> Result<Row, Error> {
    let big = lru_cache("compare-memory-big", settings.scaling_entries)?;
    fill(&big, 0..settings.scaling_entries)?;
    let small = lru_cache("compare-memory-small", 1000)?;
    fill(&small, 0..1000)?;
    let (mut next_big, mut next_small) = (settings.scaling_entries, 1000);
    let spec = Spec::ops(
        "memory_put_scaling",
        "the same puts on a full cache of 1000 entries",
        0.5,
    );
    let (a, b) = interleave(
        settings.rounds,
        || misses(&big, &mut next_big, settings.round_time),
        || misses(&small, &mut next_small, settings.round_time),
    )?;
    assert_eq!(
        big.len(&F)?,
        settings.scaling_entries,
        "the big cache stayed full"
    );
    Ok(spec.row(&a, &b))
}
