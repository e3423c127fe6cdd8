//! `stampede_p99`: a missing entry called at once by 4 "processes" × 25
//! callers, with the cross-process lease (SPEC §9). Each process is a cache
//! of its own (its own single-flight table) on its own Redis connection, as
//! the `stampede` example runs them in separate OS processes.
//!
//! Ours is the callers' p99 time, the baseline the function's own work
//! time: the ratio is what the stampede costs a caller over computing alone
//! (target ≤ 1.5), and `runs`, beside it, how many times the fleet ran the
//! function (target 1, the worst round).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use redis_func_cache::{FuncCache, FuncId, OnStoreError, RedisStore};

use super::{Better, Row, Settings, Spec};

const PROCESSES: usize = 4;
const CALLERS: usize = 25;
const WORK: Duration = Duration::from_millis(200);
const LEASE: Duration = Duration::from_secs(2);

static F: FuncId = FuncId::new("compare", "stampede", 1);

/// One round: every caller's time and the number of runs.
fn round(url: &str, key: u64) -> Result<(Vec<Duration>, u64), String> {
    let caches = (0..PROCESSES)
        .map(|_| {
            let store = RedisStore::open(url).map_err(|e| e.to_string())?;
            let cache = FuncCache::builder("compare-stampede")
                .store(store)
                .lease(LEASE)
                .on_store_error(OnStoreError::Propagate)
                .build()
                .map_err(|e| e.to_string())?;
            // Connected before the start.
            cache.len(&F).map_err(|e| e.to_string())?;
            Ok(Arc::new(cache))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let runs = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(PROCESSES * CALLERS));
    let callers: Vec<_> = caches
        .iter()
        .flat_map(|cache| (0..CALLERS).map(move |_| cache.clone()))
        .map(|cache| {
            let (runs, start) = (runs.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let began = Instant::now();
                let value = cache.call(&F, &key, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(WORK);
                    key
                });
                value.map(|v| (v, began.elapsed()))
            })
        })
        .collect();
    let mut times = Vec::with_capacity(callers.len());
    for caller in callers {
        let (value, took) = caller
            .join()
            .map_err(|_| "a caller panicked".to_owned())?
            .map_err(|e| e.to_string())?;
        if value != key {
            return Err(format!("a caller got {value}, not {key}"));
        }
        times.push(took);
    }
    caches[0].purge().map_err(|e| e.to_string())?;
    Ok((times, runs.load(Ordering::SeqCst)))
}

/// The row, over `settings.rounds` rounds (fresh keys each).
pub fn stampede_row(url: &str, settings: &Settings) -> Result<Row, String> {
    let mut p99s = Vec::with_capacity(settings.rounds);
    let mut worst_runs = 0;
    for r in 0..settings.rounds {
        let (mut times, runs) = round(url, 1_000 + r as u64)?;
        times.sort_unstable();
        let rank = ((0.99 * times.len() as f64).ceil() as usize).clamp(1, times.len());
        p99s.push(times[rank - 1].as_secs_f64() * 1e3);
        worst_runs = worst_runs.max(runs);
    }
    let work = vec![WORK.as_secs_f64() * 1e3; p99s.len()];
    let mut row = Spec {
        name: "stampede_p99",
        baseline: "the function's own work time (200 ms); 4 processes x 25 callers, lease 2 s",
        unit: "ms",
        target: 1.5,
        better: Better::Lower,
    }
    .row(&p99s, &work);
    row.runs = Some(worst_runs);
    row.met &= worst_runs == 1;
    Ok(row)
}
