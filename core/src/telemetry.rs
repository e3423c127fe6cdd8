//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (the
//! `metrics` cargo feature): a counter per statistic and a histogram of
//! store latency, labelled by cache name, sent to whichever recorder the
//! program installed (`metrics-exporter-prometheus`, for one).
//!
//! | metric | kind | |
//! |---|---|---|
//! | `redis_func_cache_hits_total` | counter | reads answered from the cache |
//! | `redis_func_cache_misses_total` | counter | reads that found nothing usable |
//! | `redis_func_cache_writes_total` | counter | values written |
//! | `redis_func_cache_evictions_total` | counter | entries evicted by this process's puts |
//! | `redis_func_cache_decode_failures_total` | counter | stored values that did not decode |
//! | `redis_func_cache_store_errors_total` | counter | store operations that failed |
//! | `redis_func_cache_skipped_total` | counter | operations skipped by an open breaker |
//! | `redis_func_cache_flight_waits_total` | counter | calls that waited for another's computation |
//! | `redis_func_cache_lease_waits_total` | counter | calls that waited for another process's lease |
//! | `redis_func_cache_refreshes_total` | counter | hits that recomputed early |
//! | `redis_func_cache_too_large_total` | counter | results too large to store |
//! | `redis_func_cache_store_seconds` | histogram | time of each store read or write (label `op`) |
//!
//! Every metric carries the label `cache` (the cache's name). With
//! [`metrics_per_function`](crate::FuncCacheBuilder::metrics_per_function)
//! the metrics of calls also carry `function` (the function's module path and
//! name), and the cache's series without it are not written, so a `sum by
//! (cache)` still counts each event once. That multiplies the series by the
//! number of cached functions, so it is off by default: the cardinality is
//! the user's choice.
//!
//! The handles are registered when the cache is built, so install the
//! recorder before building caches (a `LazyLock` cache is built on its first
//! call). Without the feature this module costs nothing.

#[cfg(feature = "metrics")]
mod enabled {
    use std::time::{Duration, Instant};

    use metrics::{Counter, Histogram, Label, counter, histogram};

    use crate::identity::FuncId;
    use crate::stats::Event;

    /// One cache's metric handles.
    #[derive(Debug)]
    pub(crate) struct CacheMetrics {
        hits: Counter,
        misses: Counter,
        writes: Counter,
        evictions: Counter,
        decode_failures: Counter,
        store_errors: Counter,
        skipped: Counter,
        flight_waits: Counter,
        lease_waits: Counter,
        refreshes: Counter,
        too_large: Counter,
        get_seconds: Histogram,
        put_seconds: Histogram,
    }

    impl CacheMetrics {
        pub(crate) fn new(cache: &str) -> Self {
            Self::labelled(vec![Label::new("cache", cache.to_owned())])
        }

        /// Handles that record nothing and show in no exposition: the
        /// cache's own when each function has its handles.
        pub(crate) fn unregistered() -> Self {
            CacheMetrics {
                hits: Counter::noop(),
                misses: Counter::noop(),
                writes: Counter::noop(),
                evictions: Counter::noop(),
                decode_failures: Counter::noop(),
                store_errors: Counter::noop(),
                skipped: Counter::noop(),
                flight_waits: Counter::noop(),
                lease_waits: Counter::noop(),
                refreshes: Counter::noop(),
                too_large: Counter::noop(),
                get_seconds: Histogram::noop(),
                put_seconds: Histogram::noop(),
            }
        }

        /// The handles of one function of the cache named `cache`.
        pub(crate) fn of_function(cache: &str, func: &FuncId) -> Self {
            Self::labelled(vec![
                Label::new("cache", cache.to_owned()),
                Label::new("function", function_label(func)),
            ])
        }

        fn labelled(labels: Vec<Label>) -> Self {
            // Handles registered once per cache or function, not per call.
            let c = |name: &'static str| counter!(name, labels.iter());
            let h = |op: &'static str| {
                let mut labels = labels.clone();
                labels.push(Label::new("op", op));
                histogram!("redis_func_cache_store_seconds", labels.iter())
            };
            CacheMetrics {
                hits: c("redis_func_cache_hits_total"),
                misses: c("redis_func_cache_misses_total"),
                writes: c("redis_func_cache_writes_total"),
                evictions: c("redis_func_cache_evictions_total"),
                decode_failures: c("redis_func_cache_decode_failures_total"),
                store_errors: c("redis_func_cache_store_errors_total"),
                skipped: c("redis_func_cache_skipped_total"),
                flight_waits: c("redis_func_cache_flight_waits_total"),
                lease_waits: c("redis_func_cache_lease_waits_total"),
                refreshes: c("redis_func_cache_refreshes_total"),
                too_large: c("redis_func_cache_too_large_total"),
                get_seconds: h("get"),
                put_seconds: h("put"),
            }
        }

        pub(crate) fn record(&self, event: Event) {
            let (counter, n) = match event {
                Event::Hit => (&self.hits, 1),
                Event::Miss => (&self.misses, 1),
                Event::Write => (&self.writes, 1),
                Event::Evictions(n) => (&self.evictions, n),
                Event::DecodeFailure => (&self.decode_failures, 1),
                Event::BackendError => (&self.store_errors, 1),
                Event::TooLarge => (&self.too_large, 1),
                Event::Skipped => (&self.skipped, 1),
                Event::FlightWait => (&self.flight_waits, 1),
                Event::LeaseWait => (&self.lease_waits, 1),
                Event::Refresh => (&self.refreshes, 1),
            };
            if n > 0 {
                counter.increment(n);
            }
        }

        pub(crate) fn store_time(&self, op: StoreOp, since: StoreClock) {
            let took: Duration = since.0.elapsed();
            match op {
                StoreOp::Get => self.get_seconds.record(took),
                StoreOp::Put => self.put_seconds.record(took),
            }
        }
    }

    /// `module::name`, or the name alone for an identity without a module.
    fn function_label(func: &FuncId) -> String {
        match func.module() {
            "" => func.name().to_owned(),
            module => format!("{module}::{}", func.name()),
        }
    }

    /// When a store operation started.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct StoreClock(Instant);

    impl StoreClock {
        pub(crate) fn start() -> Self {
            StoreClock(Instant::now())
        }
    }

    /// Which store operation a latency is for.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum StoreOp {
        Get,
        Put,
    }
}

#[cfg(not(feature = "metrics"))]
mod enabled {
    use crate::stats::Event;

    /// Nothing to keep without the feature.
    #[derive(Debug)]
    pub(crate) struct CacheMetrics;

    impl CacheMetrics {
        pub(crate) fn new(_cache: &str) -> Self {
            CacheMetrics
        }

        #[inline(always)]
        pub(crate) fn record(&self, _event: Event) {}

        #[inline(always)]
        pub(crate) fn store_time(&self, _op: StoreOp, _since: StoreClock) {}
    }

    /// Reads no clock without the feature.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct StoreClock;

    impl StoreClock {
        #[inline(always)]
        pub(crate) fn start() -> Self {
            StoreClock
        }
    }

    /// Which store operation a latency is for.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum StoreOp {
        Get,
        Put,
    }
}

pub(crate) use enabled::{CacheMetrics, StoreClock, StoreOp};

#[cfg(feature = "metrics")]
pub(crate) use function_table::FunctionMetrics;

#[cfg(feature = "metrics")]
mod function_table {
    use super::CacheMetrics;

    /// The metric handles of each function a cache has seen, made on its first
    /// call (registering handles costs a lookup in the recorder; a call then
    /// finds its function's handles in this table instead).
    ///
    /// Copied and swapped whole when a function is added, like the cache's
    /// per-function pairs, so a lookup writes nothing other threads read.
    pub(crate) struct FunctionMetrics {
        cache: String,
        table: arc_swap::ArcSwap<FunctionTable>,
        adding: parking_lot::Mutex<()>,
    }

    type FunctionTable = std::collections::HashMap<
        crate::identity::FuncId,
        std::sync::Arc<CacheMetrics>,
        crate::identity::FastNameHasher,
    >;

    impl FunctionMetrics {
        pub(crate) fn new(cache: &str) -> Self {
            FunctionMetrics {
                cache: cache.to_owned(),
                table: arc_swap::ArcSwap::from_pointee(FunctionTable::default()),
                adding: parking_lot::Mutex::new(()),
            }
        }

        /// `func`'s handles, registered on first use.
        pub(crate) fn of(&self, func: &crate::identity::FuncId) -> std::sync::Arc<CacheMetrics> {
            if let Some(found) = self.table.load().get(func) {
                return found.clone();
            }
            let _adding = self.adding.lock();
            let current = self.table.load_full();
            if let Some(found) = current.get(func) {
                return found.clone();
            }
            let made = std::sync::Arc::new(CacheMetrics::of_function(&self.cache, func));
            let mut grown = FunctionTable::clone(&current);
            grown.insert(*func, made.clone());
            self.table.store(std::sync::Arc::new(grown));
            made
        }
    }

    impl std::fmt::Debug for FunctionMetrics {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FunctionMetrics")
                .field("functions", &self.table.load().len())
                .finish()
        }
    }
}
