//! Fleet-wide statistics: every process using a cache adds its counters to
//! one small hash beside the cache's pairs, so any process can read the
//! whole fleet's hits, misses, writes and evictions.
//!
//! A background thread per cache sends what changed since its last report,
//! every interval (default 1 s) as one batch of `HINCRBY`s, and nothing
//! when nothing changed; calls never wait for it. The thread holds the cache
//! only weakly and ends within an interval of the cache being dropped. A
//! report that fails is retried with the next one, so nothing is counted
//! twice or lost while the cache lives.

use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::Error;
use crate::stats::{CacheStats, StatsSnapshot};
use crate::store::Store;

/// The default interval between reports.
pub const DEFAULT_FLEET_INTERVAL: Duration = Duration::from_secs(1);

/// Reads one counter of a snapshot.
type Counter = fn(&StatsSnapshot) -> u64;

/// The counters a fleet shares, by field name in the hash.
const FIELDS: [(&str, Counter); 4] = [
    ("hits", |s| s.hits),
    ("misses", |s| s.misses),
    ("writes", |s| s.writes),
    ("evictions", |s| s.evictions),
];

/// One cache's reporting to its fleet hash.
#[derive(Debug)]
pub(crate) struct FleetReporter {
    key: String,
    /// What the last successful report covered.
    reported: Mutex<StatsSnapshot>,
}

impl FleetReporter {
    pub(crate) fn new(key: String) -> Arc<Self> {
        Arc::new(FleetReporter {
            key,
            reported: Mutex::new(StatsSnapshot::default()),
        })
    }

    /// The hash's key.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Starts the background thread for a cache's store and counters.
    pub(crate) fn start<S: Store>(
        self: &Arc<Self>,
        name: &str,
        interval: Duration,
        store: Weak<S>,
        stats: Weak<CacheStats>,
    ) {
        let me = Arc::downgrade(self);
        let spawned = thread::Builder::new()
            .name(format!("rfc-fleet-{name}"))
            .spawn(move || {
                loop {
                    thread::sleep(interval);
                    let (Some(me), Some(store), Some(stats)) =
                        (me.upgrade(), store.upgrade(), stats.upgrade())
                    else {
                        return;
                    };
                    if let Err(e) = me.report(&*store, &stats) {
                        tracing::debug!(key = %me.key, error = %e, "fleet statistics not reported; retrying next interval");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(cache = name, error = %e, "no thread for fleet statistics; call flush_fleet_stats to report");
        }
    }

    /// Sends what changed since the last report, if anything.
    pub(crate) fn report<S: Store + ?Sized>(
        &self,
        store: &S,
        stats: &CacheStats,
    ) -> Result<(), Error> {
        let mut reported = self.reported.lock();
        let now = stats.snapshot();
        let change = now - *reported;
        let counts: Vec<(&'static str, u64)> = FIELDS
            .iter()
            .map(|(field, of)| (*field, of(&change)))
            .filter(|&(_, n)| n > 0)
            .collect();
        if !counts.is_empty() {
            store.add_counters(&self.key, &counts)?;
        }
        *reported = now;
        Ok(())
    }

    /// The fleet's totals as the hash holds them.
    pub(crate) fn read<S: Store + ?Sized>(&self, store: &S) -> Result<StatsSnapshot, Error> {
        let mut totals = StatsSnapshot::default();
        for (field, n) in store.read_counters(&self.key)? {
            match field.as_str() {
                "hits" => totals.hits = n,
                "misses" => totals.misses = n,
                "writes" => totals.writes = n,
                "evictions" => totals.evictions = n,
                _ => {}
            }
        }
        Ok(totals)
    }

    /// Forgets what was reported (after the hash was purged), so the next
    /// report starts from zero.
    pub(crate) fn reset(&self, stats: &CacheStats) {
        *self.reported.lock() = stats.snapshot();
    }
}
