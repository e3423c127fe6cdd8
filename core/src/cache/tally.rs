//! Where one call's events go: the cache's counters always, and its
//! function's metric handles when the cache labels metrics by function
//! ([`FuncCacheBuilder::metrics_per_function`](crate::FuncCacheBuilder::metrics_per_function)).

use std::sync::Arc;

use crate::stats::{CacheStats, Event};
use crate::telemetry::{CacheMetrics, StoreClock, StoreOp};

/// The recording side of one call or entry operation.
pub(super) struct Tally<'a> {
    stats: &'a CacheStats,
    /// The function's handles; `None`: the cache's own (labelled by cache
    /// only), which `stats` holds.
    function: Option<Arc<CacheMetrics>>,
}

impl<'a> Tally<'a> {
    pub(super) fn new(stats: &'a CacheStats, function: Option<Arc<CacheMetrics>>) -> Self {
        Tally { stats, function }
    }

    /// Counts `event` in the cache's statistics and in one set of metrics:
    /// the function's, or else the cache's.
    #[inline]
    pub(super) fn record(&self, event: Event) {
        match &self.function {
            None => self.stats.record(event),
            Some(function) => {
                self.stats.count(event);
                function.record(event);
            }
        }
    }

    /// Records how long a store operation took, in the same metrics.
    #[inline]
    pub(super) fn store_time(&self, op: StoreOp, since: StoreClock) {
        match &self.function {
            None => self.stats.metrics().store_time(op, since),
            Some(function) => function.store_time(op, since),
        }
    }
}
