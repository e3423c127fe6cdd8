//! Where one call's events go: the cache's counters always, and its
//! function's metric handles when the cache labels metrics by function
//! ([`FuncCacheBuilder::metrics_per_function`](crate::FuncCacheBuilder::metrics_per_function)).
//!
//! Without the `metrics` feature a tally is the cache's counters alone, so
//! a hit pays nothing for the function label.

#[cfg(feature = "metrics")]
use std::sync::Arc;

use crate::stats::{CacheStats, Event};
#[cfg(feature = "metrics")]
use crate::telemetry::CacheMetrics;
use crate::telemetry::{StoreClock, StoreOp};

/// The recording side of one call or entry operation.
pub(super) struct Tally<'a> {
    stats: &'a CacheStats,
    /// The function's handles; `None`: the cache's own (labelled by cache
    /// only), which `stats` holds.
    #[cfg(feature = "metrics")]
    function: Option<Arc<CacheMetrics>>,
}

impl<'a> Tally<'a> {
    /// The cache's counters, and the function's handles if it has them.
    #[cfg(feature = "metrics")]
    pub(super) fn new(stats: &'a CacheStats, function: Option<Arc<CacheMetrics>>) -> Self {
        Tally { stats, function }
    }

    /// The cache's counters (no metrics to label without the feature).
    #[cfg(not(feature = "metrics"))]
    #[inline(always)]
    pub(super) fn new(stats: &'a CacheStats) -> Self {
        Tally { stats }
    }

    /// Counts `event` in the cache's statistics and in one set of metrics:
    /// the function's, or else the cache's.
    #[inline(always)]
    pub(super) fn record(&self, event: Event) {
        #[cfg(feature = "metrics")]
        if let Some(function) = &self.function {
            self.stats.count(event);
            function.record(event);
            return;
        }
        self.stats.record(event);
    }

    /// Records how long a store operation took, in the same metrics.
    #[inline(always)]
    pub(super) fn store_time(&self, op: StoreOp, since: StoreClock) {
        #[cfg(feature = "metrics")]
        if let Some(function) = &self.function {
            function.store_time(op, since);
            return;
        }
        self.stats.metrics().store_time(op, since);
    }
}
