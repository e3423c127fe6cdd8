//! The cache front: a validated configuration, a store, a serializer and the
//! call logic shared by the sync and async paths.
//!
//! One part per concern: [`builder`] checks a configuration and builds the
//! cache, this module holds the cache and its key pairs, `call` is the call
//! path, `flight` keeps concurrent misses of one call to one computation,
//! `lease` is how a caller waits for another process's, and `entry` reads
//! and writes one call's entry without running the function.

mod builder;
mod call;
mod entry;
mod eviction;
mod fleet;
mod flight;
mod lease;
mod refresh;
mod tally;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::error::Error;
use crate::identity::{FastNameHasher, FuncId};
use crate::keys::KeyPair;
use crate::policy::{EvictionPolicy, Policy};
use crate::serializer::{Bincode, Serializer};
use crate::stats::{CacheStats, StatsSnapshot};
use crate::store::{Expiry, Store};

pub use builder::{FuncCacheBuilder, NoStore};
pub use entry::{CallKey, Entry};
pub use eviction::RemovalCause;
pub use fleet::DEFAULT_FLEET_INTERVAL;
use flight::Flights;
pub use refresh::RefreshAhead;

/// The default pair TTL: one hour.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The default `maxsize`.
pub const DEFAULT_MAXSIZE: u64 = 1024;

/// A function-result cache on a store `S`, encoding values with `Z`.
///
/// Build one with [`FuncCache::builder`]; call through it with
/// [`call`](FuncCache::call) / [`call_async`](FuncCache::call_async), their
/// `try_` forms for functions that can fail (errors are never cached), or the
/// `#[cached]` attribute macro.
pub struct FuncCache<S, Z = Bincode> {
    name: String,
    prefix: String,
    policy: Policy,
    maxsize: AtomicU64,
    expiry: Expiry,
    on_store_error: OnStoreError,
    store: Arc<S>,
    serializer: Z,
    stats: Arc<CacheStats>,
    pairs: Pairs,
    /// In-process single-flight; `None` when the builder turned it off.
    flights: Option<Flights>,
    /// How long a cross-process lease lasts; `None`: no leases.
    lease: Option<Duration>,
    /// Refresh ahead, with the entry TTL it needs (checked by `build`).
    refresh: Option<(RefreshAhead, Duration)>,
    /// Reporting to the fleet-wide counters; `None` for a store only this
    /// process uses (or when turned off).
    fleet: Option<Arc<fleet::FleetReporter>>,
    /// Hears what this process's puts and purges removed.
    on_eviction: Option<eviction::EvictionListener>,
    /// Each function's metric handles, when metrics carry a function label.
    #[cfg(feature = "metrics")]
    function_metrics: Option<crate::telemetry::FunctionMetrics>,
}

impl<S, Z> std::fmt::Debug for FuncCache<S, Z> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncCache")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .field("maxsize", &self.maxsize.load(Ordering::Relaxed))
            .field("expiry", &self.expiry)
            .field("on_store_error", &self.on_store_error)
            .field("single_flight", &self.flights.is_some())
            .field("lease", &self.lease)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

/// What a call does when the store fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStoreError {
    /// Count it, log it, and carry on: a failed read runs the function, a
    /// failed write still returns the result.
    #[default]
    FailOpen,
    /// Return the error to the caller.
    Propagate,
}

/// The per-function pairs. A call finds its function's position once (by
/// an XXH3 hash of the identity) and then reads the pair by position, so
/// the identity is hashed once per call, not on every use of the pair.
/// Pairs are only ever appended, so a position stays valid in every later
/// table.
#[derive(Clone, Default)]
struct FuncPairs {
    positions: HashMap<FuncId, usize, FastNameHasher>,
    pairs: Vec<KeyPair>,
}

impl FuncPairs {
    fn position(&self, func: &FuncId) -> Option<usize> {
        self.positions.get(func).copied()
    }

    /// This table with `pair` added for `func`, and the pair's position.
    fn with(&self, func: FuncId, pair: KeyPair) -> (FuncPairs, usize) {
        let mut grown = self.clone();
        let position = grown.pairs.len();
        grown.pairs.push(pair);
        grown.positions.insert(func, position);
        (grown, position)
    }
}

/// Key pairs: one for the whole cache, or one per function, made once.
enum Pairs {
    Shared(KeyPair),
    /// Swapped whole when a function is first called: a lookup then writes
    /// nothing other threads read (a read lock's counter or a shared
    /// reference count would), so threads calling one cache do not pass a
    /// cache line back and forth on every call.
    PerFunction {
        table: ArcSwap<FuncPairs>,
        adding: Mutex<()>,
    },
}

/// A pair borrowed from the cache, or from a loaded per-function table.
enum PairRef<'a> {
    Shared(&'a KeyPair),
    Loaded(arc_swap::Guard<Arc<FuncPairs>>, usize),
}

impl Deref for PairRef<'_> {
    type Target = KeyPair;
    fn deref(&self) -> &KeyPair {
        match self {
            PairRef::Shared(p) => p,
            PairRef::Loaded(table, position) => &table.pairs[*position],
        }
    }
}

impl<S: Store, Z: Serializer> FuncCache<S, Z> {
    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Hits, misses, writes and evictions summed over every process that
    /// uses this cache, as they last reported them (each reports every
    /// interval, see
    /// [`FuncCacheBuilder::fleet_stats_interval`](crate::FuncCacheBuilder::fleet_stats_interval)).
    /// On a store only this process uses (the memory store) it is this
    /// process's [`stats`](Self::stats). Other counters are zero.
    ///
    /// ```
    /// # use redis_func_cache::*;
    /// # fn demo<S: Store>(cache: FuncCache<S>) -> Result<(), Error> {
    /// cache.flush_fleet_stats()?; // this process's latest counts, now
    /// let fleet = cache.fleet_stats()?;
    /// println!("fleet hit ratio {:.1}%", fleet.hit_ratio() * 100.0);
    /// # Ok(()) }
    /// ```
    pub fn fleet_stats(&self) -> Result<StatsSnapshot, Error> {
        match &self.fleet {
            Some(fleet) => fleet.read(&*self.store),
            None => {
                let own = self.stats();
                Ok(StatsSnapshot {
                    hits: own.hits,
                    misses: own.misses,
                    writes: own.writes,
                    evictions: own.evictions,
                    ..StatsSnapshot::default()
                })
            }
        }
    }

    /// Reports this process's counters to the fleet now, rather than at the
    /// next interval (before a process exits, or in a test).
    pub fn flush_fleet_stats(&self) -> Result<(), Error> {
        match &self.fleet {
            Some(fleet) => fleet.report(&*self.store, &self.stats),
            None => Ok(()),
        }
    }

    /// Removes the fleet counters with the cache's entries.
    fn purge_fleet(&self) -> Result<(), Error> {
        if let Some(fleet) = &self.fleet {
            self.store.remove_counters(fleet.key())?;
            fleet.reset(&self.stats);
        }
        Ok(())
    }

    /// The current `maxsize`.
    pub fn maxsize(&self) -> u64 {
        self.maxsize.load(Ordering::Relaxed)
    }

    /// Changes `maxsize`; a smaller one evicts the surplus on the next put of
    /// a new entry. Zero is refused.
    pub fn set_maxsize(&self, maxsize: u64) -> Result<(), Error> {
        if maxsize == 0 {
            return Err(Error::config("maxsize is 0: it must be at least 1"));
        }
        self.maxsize.store(maxsize, Ordering::Relaxed);
        Ok(())
    }

    /// What this cache has counted since it was built.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The key pair that holds `func`'s entries.
    pub fn key_pair(&self, func: &FuncId) -> KeyPair {
        self.pair(func).clone()
    }

    fn pair(&self, func: &FuncId) -> PairRef<'_> {
        let (table, adding) = match &self.pairs {
            Pairs::Shared(pair) => return PairRef::Shared(pair),
            Pairs::PerFunction { table, adding } => (table, adding),
        };
        let loaded = table.load();
        if let Some(position) = loaded.position(func) {
            return PairRef::Loaded(loaded, position);
        }
        drop(loaded);
        let position = {
            let _adding = adding.lock();
            let current = table.load_full();
            match current.position(func) {
                Some(position) => position,
                None => {
                    let pair = KeyPair::new(
                        &self.prefix,
                        &self.name,
                        self.policy.rules().word,
                        self.policy.layout(),
                        func,
                    );
                    let (grown, position) = current.with(*func, pair);
                    table.store(Arc::new(grown));
                    position
                }
            }
        };
        // Only this cache stores tables, always a grown copy of the last, so
        // the position holds in whichever table is loaded now.
        PairRef::Loaded(table.load(), position)
    }

    /// The prefix shared by all index keys of this cache, for purging.
    fn cache_key_prefix(&self) -> Option<String> {
        let word = self.policy.rules().word;
        let layout = self.policy.layout();
        layout.per_function().then(|| {
            format!(
                "{}{}:{}{}:",
                self.prefix,
                self.name,
                word,
                layout.word_suffix()
            )
        })
    }

    /// How many entries hold `func`'s results (for the single layouts: the
    /// whole cache).
    pub fn len(&self, func: &FuncId) -> Result<u64, Error> {
        self.store.len(&self.pair(func))
    }

    /// Whether `func` has no cached results.
    pub fn is_empty(&self, func: &FuncId) -> Result<bool, Error> {
        Ok(self.len(func)? == 0)
    }

    /// Removes `func`'s pair (for the single layouts: every entry); returns
    /// how many entries were removed.
    pub fn purge_func(&self, func: &FuncId) -> Result<u64, Error> {
        let removed = self.store.purge(&self.pair(func))?;
        self.removed(removed, RemovalCause::Purged);
        Ok(removed)
    }

    /// Where one call of `func` records its events.
    #[cfg(feature = "metrics")]
    #[inline]
    fn tally(&self, func: &FuncId) -> tally::Tally<'_> {
        tally::Tally::new(
            &self.stats,
            self.function_metrics.as_ref().map(|table| table.of(func)),
        )
    }

    /// Where one call records its events: without the `metrics` feature,
    /// the cache's counters, whatever the function.
    #[cfg(not(feature = "metrics"))]
    #[inline(always)]
    fn tally(&self, _func: &FuncId) -> tally::Tally<'_> {
        tally::Tally::new(&self.stats)
    }

    /// Tells the eviction listener what a put evicted: expired victims as
    /// such, the others as evicted for size.
    fn removed_by_put(&self, outcome: &crate::store::PutOutcome) {
        let evicted = outcome.evicted.len() as u64;
        let expired = outcome.expired.min(evicted);
        self.removed(evicted - expired, RemovalCause::Size);
        self.removed(expired, RemovalCause::Expired);
    }

    /// Tells the eviction listener, if there is one.
    fn removed(&self, count: u64, cause: RemovalCause) {
        if let Some(listener) = &self.on_eviction {
            listener.tell(count, cause);
        }
    }

    /// Removes every entry of this cache, of every function.
    /// Also removes the fleet-wide counters.
    pub fn purge(&self) -> Result<u64, Error> {
        let removed = match (&self.pairs, self.cache_key_prefix()) {
            (Pairs::Shared(pair), _) => self.store.purge(pair)?,
            (Pairs::PerFunction { .. }, Some(prefix)) => self.store.purge_prefix(&prefix)?,
            (Pairs::PerFunction { .. }, None) => {
                unreachable!("per-function layouts have a prefix")
            }
        };
        self.purge_fleet()?;
        self.removed(removed, RemovalCause::Purged);
        Ok(removed)
    }

    /// [`FuncCache::purge`], for async code.
    pub async fn purge_async(&self) -> Result<u64, Error> {
        let removed = match (&self.pairs, self.cache_key_prefix()) {
            (Pairs::Shared(pair), _) => self.store.purge_async(pair).await?,
            (Pairs::PerFunction { .. }, Some(prefix)) => {
                self.store.purge_prefix_async(&prefix).await?
            }
            (Pairs::PerFunction { .. }, None) => {
                unreachable!("per-function layouts have a prefix")
            }
        };
        // The counters hash is one small key: removed on this thread.
        self.purge_fleet()?;
        self.removed(removed, RemovalCause::Purged);
        Ok(removed)
    }
}
