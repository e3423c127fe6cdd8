//! Building a cache: every setting has a default, and `build()` refuses a
//! configuration that could not work (SPEC §4 names, zero sizes and TTLs, a
//! cluster client with a layout whose keys span slots).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::eviction::{EvictionListener, RemovalCause};
use super::fleet::{DEFAULT_FLEET_INTERVAL, FleetReporter};
use super::flight::Flights;
use super::refresh::RefreshAhead;
use super::{DEFAULT_MAXSIZE, DEFAULT_TTL};
use super::{FuncCache, FuncPairs, OnStoreError, Pairs};
use crate::error::Error;
use crate::identity::FuncId;
use crate::keys::{DEFAULT_PREFIX, KeyPair};
use crate::policy::{EvictionPolicy, Layout, Policy, PolicyRules};
use crate::serializer::{Bincode, Serializer};
use crate::stats::CacheStats;
use crate::store::{Expiry, Store};

/// The builder's state before a store is chosen: it has no `build()`.
#[derive(Debug, Clone, Copy)]
pub struct NoStore;

/// Builds a [`FuncCache`], checking the configuration.
///
/// ```
/// use std::time::Duration;
/// use redis_func_cache::{Error, FuncCache};
/// # use redis_func_cache::store::*;
/// # use redis_func_cache::*;
/// # struct S;
/// # impl Store for S {
/// #   fn capabilities(&self) -> Capabilities { Capabilities::new("none") }
/// #   fn get(&self, _: &GetRequest<'_>) -> Result<Lookup, Error> { Ok(Lookup::Miss) }
/// #   fn get_or_lease(&self, _: &GetRequest<'_>, _: std::time::Duration) -> Result<Leased, Error> { Ok(Leased::Unleased) }
/// #   fn peek(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
/// #   fn remove(&self, _: &GetRequest<'_>) -> Result<bool, Error> { Ok(false) }
/// #   fn put(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> { Ok(PutOutcome::default()) }
/// #   fn len(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   fn purge(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   fn purge_prefix(&self, _: &str) -> Result<u64, Error> { Ok(0) }
/// #   fn add_counters(&self, _: &str, _: &[(&'static str, u64)]) -> Result<(), Error> { Ok(()) }
/// #   fn read_counters(&self, _: &str) -> Result<Vec<(String, u64)>, Error> { Ok(vec![]) }
/// #   fn remove_counters(&self, _: &str) -> Result<(), Error> { Ok(()) }
/// #   async fn get_async(&self, _: &GetRequest<'_>) -> Result<Lookup, Error> { Ok(Lookup::Miss) }
/// #   async fn get_or_lease_async(&self, _: &GetRequest<'_>, _: std::time::Duration) -> Result<Leased, Error> { Ok(Leased::Unleased) }
/// #   async fn peek_async(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
/// #   async fn remove_async(&self, _: &GetRequest<'_>) -> Result<bool, Error> { Ok(false) }
/// #   async fn put_async(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> { Ok(PutOutcome::default()) }
/// #   async fn len_async(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   async fn purge_async(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   async fn purge_prefix_async(&self, _: &str) -> Result<u64, Error> { Ok(0) }
/// # }
/// let err = FuncCache::builder("c").store(S).maxsize(0).build().unwrap_err();
/// assert!(err.to_string().contains("maxsize"));
/// let cache = FuncCache::builder("c").store(S).ttl(Duration::from_secs(60)).build().unwrap();
/// assert_eq!(cache.maxsize(), 1024);
/// ```
#[derive(Debug, Clone)]
pub struct FuncCacheBuilder<S, Z = Bincode> {
    name: String,
    prefix: String,
    policy: Policy,
    maxsize: u64,
    ttl: Duration,
    update_ttl: bool,
    entry_ttl: Option<Duration>,
    on_store_error: OnStoreError,
    single_flight: bool,
    lease: Option<Duration>,
    refresh: Option<RefreshAhead>,
    fleet_interval: Option<Duration>,
    on_eviction: Option<EvictionListener>,
    metrics_per_function: bool,
    store: S,
    serializer: Z,
}

/// LRU in one pair, the policy a builder starts with (as `functools.lru_cache`).
const DEFAULT_POLICY: Policy = Policy::new(
    PolicyRules {
        word: "lru",
        index: crate::policy::IndexKind::SortedSet,
        on_insert: crate::policy::ScoreRule::MaxPlusOne,
        on_hit: crate::policy::ScoreRule::MaxPlusOne,
        on_overwrite: crate::policy::ScoreRule::Keep,
        victim: crate::policy::Victim::Lowest,
    },
    Layout::Single,
);

impl FuncCache<NoStore> {
    /// Starts a builder for a cache of this name: LRU, `maxsize` 1024, a
    /// one-hour sliding TTL, bincode values, fail-open on store errors.
    pub fn builder(name: impl Into<String>) -> FuncCacheBuilder<NoStore> {
        FuncCacheBuilder {
            name: name.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            policy: DEFAULT_POLICY,
            maxsize: DEFAULT_MAXSIZE,
            ttl: DEFAULT_TTL,
            update_ttl: true,
            entry_ttl: None,
            on_store_error: OnStoreError::FailOpen,
            single_flight: true,
            lease: None,
            refresh: None,
            fleet_interval: Some(DEFAULT_FLEET_INTERVAL),
            on_eviction: None,
            metrics_per_function: false,
            store: NoStore,
            serializer: Bincode,
        }
    }
}

impl<S, Z> FuncCacheBuilder<S, Z> {
    /// The eviction policy and layout (any of the 32 policy names, or a
    /// [`Policy`] chosen at run time).
    pub fn policy(mut self, policy: impl EvictionPolicy) -> Self {
        self.policy = Policy::of(&policy);
        self
    }

    /// The most entries a pair holds (at least 1).
    pub fn maxsize(mut self, maxsize: u64) -> Self {
        self.maxsize = maxsize;
        self
    }

    /// The key prefix (default `redis_func_cache:`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The TTL of a pair (default one hour).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Whether hits and puts restart the pair TTL (default true); if false,
    /// a pair expires a fixed time after it was created.
    pub fn update_ttl(mut self, update: bool) -> Self {
        self.update_ttl = update;
        self
    }

    /// Gives every entry its own deadline, `ttl` after it was written; an
    /// expired entry is a miss and is removed.
    pub fn entry_ttl(mut self, ttl: Duration) -> Self {
        self.entry_ttl = Some(ttl);
        self
    }

    /// Whether store errors are hidden (counted and logged) or returned.
    pub fn on_store_error(mut self, behaviour: OnStoreError) -> Self {
        self.on_store_error = behaviour;
        self
    }

    /// Whether concurrent calls in this process that miss on the same
    /// arguments run the function once (default true, SPEC §9): the first
    /// computes, the others wait for its result, and if it fails, panics or
    /// is cancelled one of them takes over. Turn it off for functions that
    /// must run for every caller, or whose callers must not wait on each
    /// other.
    ///
    /// ```
    /// # use redis_func_cache::*;
    /// # use redis_func_cache::store::*;
    /// # struct S;
    /// # impl Store for S {
    /// #   fn capabilities(&self) -> Capabilities { Capabilities::new("none") }
    /// #   fn get(&self, _: &GetRequest<'_>) -> Result<Lookup, Error> { Ok(Lookup::Miss) }
    /// #   fn get_or_lease(&self, _: &GetRequest<'_>, _: std::time::Duration) -> Result<Leased, Error> { Ok(Leased::Unleased) }
    /// #   fn peek(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
    /// #   fn remove(&self, _: &GetRequest<'_>) -> Result<bool, Error> { Ok(false) }
    /// #   fn put(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> { Ok(PutOutcome::default()) }
    /// #   fn len(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
    /// #   fn purge(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
    /// #   fn purge_prefix(&self, _: &str) -> Result<u64, Error> { Ok(0) }
    /// #   fn add_counters(&self, _: &str, _: &[(&'static str, u64)]) -> Result<(), Error> { Ok(()) }
    /// #   fn read_counters(&self, _: &str) -> Result<Vec<(String, u64)>, Error> { Ok(vec![]) }
    /// #   fn remove_counters(&self, _: &str) -> Result<(), Error> { Ok(()) }
    /// #   async fn get_async(&self, _: &GetRequest<'_>) -> Result<Lookup, Error> { Ok(Lookup::Miss) }
    /// #   async fn get_or_lease_async(&self, _: &GetRequest<'_>, _: std::time::Duration) -> Result<Leased, Error> { Ok(Leased::Unleased) }
    /// #   async fn peek_async(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
    /// #   async fn remove_async(&self, _: &GetRequest<'_>) -> Result<bool, Error> { Ok(false) }
    /// #   async fn put_async(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> { Ok(PutOutcome::default()) }
    /// #   async fn len_async(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
    /// #   async fn purge_async(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
    /// #   async fn purge_prefix_async(&self, _: &str) -> Result<u64, Error> { Ok(0) }
    /// # }
    /// let every_caller_runs = FuncCache::builder("audit")
    ///     .store(S)
    ///     .single_flight(false)
    ///     .build()
    ///     .unwrap();
    /// # let _ = every_caller_runs;
    /// ```
    pub fn single_flight(mut self, on: bool) -> Self {
        self.single_flight = on;
        self
    }

    /// Computes a missing result once across every process that shares the
    /// store (SPEC §9): the first caller to miss takes a lease on the entry,
    /// in the same round trip as its read, and the others (in any process)
    /// wait for its value, reading again with growing pauses, instead of
    /// computing it too. The lease lasts at most `lease`: a holder that dies
    /// or fails delays the others by no more than that, after which one of
    /// them takes the lease. Pick it above the function's longest run. Off by
    /// default.
    ///
    /// A hit stays one round trip and a miss with the lease two (the read
    /// and the put, which releases the lease).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Recomputes hot entries before their per-entry TTL runs out (SPEC §9,
    /// XFetch): a hit near the deadline recomputes early, with a probability
    /// that grows as the deadline nears and with how long the value took to
    /// compute (kept with it). Needs [`entry_ttl`](Self::entry_ttl). Off by
    /// default.
    ///
    /// The caller that draws a refresh runs the function and stores the new
    /// value; the others keep hitting the old one meanwhile.
    pub fn refresh_ahead(mut self, refresh: RefreshAhead) -> Self {
        self.refresh = Some(refresh);
        self
    }

    /// How often this process adds its counters to the fleet-wide ones
    /// ([`FuncCache::fleet_stats`]) when the store is shared by other
    /// processes (default [`DEFAULT_FLEET_INTERVAL`], one second; a
    /// background thread, nothing when idle); `None`: no background reports,
    /// only those [`FuncCache::flush_fleet_stats`] makes.
    pub fn fleet_stats_interval(mut self, interval: Option<Duration>) -> Self {
        self.fleet_interval = interval;
        self
    }

    /// Calls `listener(count, cause)` after each of this process's
    /// operations that removed entries: a put that evicted
    /// ([`RemovalCause::Size`], or [`RemovalCause::Expired`] for victims
    /// whose per-entry TTL had run out), a read that found an entry past its
    /// per-entry TTL and removed it ([`RemovalCause::Expired`]), a purge
    /// ([`RemovalCause::Purged`]), an invalidated entry
    /// ([`RemovalCause::Invalidated`]). It runs on the calling thread, so
    /// keep it short. Entries other processes evicted and pairs Redis
    /// expired on its own are not reported.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use redis_func_cache::{FuncCache, RemovalCause};
    /// let evicted = Arc::new(AtomicU64::new(0));
    /// let seen = evicted.clone();
    /// let builder = FuncCache::builder("listened").on_eviction(move |n, cause| {
    ///     if cause == RemovalCause::Size {
    ///         seen.fetch_add(n, Ordering::Relaxed);
    ///     }
    /// });
    /// # let _ = builder;
    /// ```
    pub fn on_eviction(
        mut self,
        listener: impl Fn(u64, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.on_eviction = Some(EvictionListener::new(listener));
        self
    }

    /// Labels the metrics of calls (feature `metrics`) with the function as
    /// well as the cache: `function="module::name"`. Off by default, since
    /// it multiplies the series by the number of cached functions. On, the
    /// cache's series without the label are not written, so summing over
    /// `function` gives the cache's totals. Statistics
    /// ([`FuncCache::stats`]) are the same either way. Without the `metrics`
    /// feature it changes nothing.
    ///
    /// ```
    /// use redis_func_cache::FuncCache;
    /// let builder = FuncCache::builder("per-function").metrics_per_function(true);
    /// # let _ = builder;
    /// ```
    pub fn metrics_per_function(mut self, on: bool) -> Self {
        self.metrics_per_function = on;
        self
    }

    /// The store.
    pub fn store<S2: Store>(self, store: S2) -> FuncCacheBuilder<S2, Z> {
        FuncCacheBuilder {
            name: self.name,
            prefix: self.prefix,
            policy: self.policy,
            maxsize: self.maxsize,
            ttl: self.ttl,
            update_ttl: self.update_ttl,
            entry_ttl: self.entry_ttl,
            on_store_error: self.on_store_error,
            single_flight: self.single_flight,
            lease: self.lease,
            refresh: self.refresh,
            fleet_interval: self.fleet_interval,
            on_eviction: self.on_eviction,
            metrics_per_function: self.metrics_per_function,
            store,
            serializer: self.serializer,
        }
    }

    /// The value serializer (default bincode).
    pub fn serializer<Z2: Serializer>(self, serializer: Z2) -> FuncCacheBuilder<S, Z2> {
        FuncCacheBuilder {
            name: self.name,
            prefix: self.prefix,
            policy: self.policy,
            maxsize: self.maxsize,
            ttl: self.ttl,
            update_ttl: self.update_ttl,
            entry_ttl: self.entry_ttl,
            on_store_error: self.on_store_error,
            single_flight: self.single_flight,
            lease: self.lease,
            refresh: self.refresh,
            fleet_interval: self.fleet_interval,
            on_eviction: self.on_eviction,
            metrics_per_function: self.metrics_per_function,
            store: self.store,
            serializer,
        }
    }
}

/// The key of a cache's fleet-wide counters: beside its pairs, under its
/// prefix and name (in the cluster layout, in the pair's slot), and never a
/// pair's name (those end in `:0`/`:1`).
fn fleet_key(prefix: &str, name: &str, word: &str, layout: Layout) -> String {
    let suffix = layout.word_suffix();
    match layout {
        Layout::Cluster => format!("{prefix}{{{name}:{word}{suffix}}}:stats"),
        _ => format!("{prefix}{name}:{word}{suffix}:stats"),
    }
}

/// The seed type name for a policy word and layout, for error messages.
fn seed_name(word: &str, layout: Layout) -> String {
    let mut name = if word == "tlru" {
        "TLru".to_owned()
    } else {
        let mut chars = word.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    };
    name += match layout {
        Layout::Single => "Policy",
        Layout::Multiple => "MultiplePolicy",
        Layout::Cluster => "ClusterPolicy",
        Layout::ClusterMultiple => "ClusterMultiplePolicy",
    };
    name
}

/// SPEC §4: a cache name may not contain `{`, `}`, `:`, glob characters or
/// control characters, and a prefix the same but `:`. Braces would add a
/// second hash tag (CROSSSLOT in a cluster); a colon in a name would let one
/// cache's purge pattern (`{prefix}{name}:{word}-m:*`) match another cache's
/// pairs; glob characters would widen that pattern.
fn check_name(what: &str, text: &str, colon_forbidden: bool) -> Result<(), Error> {
    let bad = text.chars().find(|&c| {
        matches!(c, '{' | '}' | '*' | '?' | '[' | ']' | '\\')
            || (colon_forbidden && c == ':')
            || c.is_control()
    });
    match bad {
        None => Ok(()),
        Some(c) => {
            let why = match c {
                '{' | '}' => "braces would make a Redis Cluster hash tag",
                ':' => "a colon would let this cache's purge match another cache's keys",
                c if c.is_control() => "control characters do not belong in key names",
                _ => "glob characters would widen the SCAN pattern a purge uses",
            };
            let allowed = if colon_forbidden {
                "use letters, digits, `-`, `_` or `.`"
            } else {
                "use letters, digits, `-`, `_`, `.` or `:`"
            };
            Err(Error::config(format!(
                "the {what} {text:?} contains {c:?}: {why}; {allowed}"
            )))
        }
    }
}

impl<S: Store, Z: Serializer> FuncCacheBuilder<S, Z> {
    /// Checks the configuration and builds the cache.
    pub fn build(self) -> Result<FuncCache<S, Z>, Error> {
        if self.name.is_empty() {
            return Err(Error::config("the cache name is empty: give it a name"));
        }
        check_name("cache name", &self.name, true)?;
        if self.prefix.is_empty() {
            return Err(Error::config(
                "the key prefix is empty: keep the default `redis_func_cache:` or give one",
            ));
        }
        check_name("key prefix", &self.prefix, false)?;
        if self.maxsize == 0 {
            return Err(Error::config("maxsize is 0: it must be at least 1"));
        }
        if self.ttl.as_micros() == 0 {
            return Err(Error::config(
                "the pair TTL is zero (or under a microsecond): give a positive ttl",
            ));
        }
        if self.entry_ttl.is_some_and(|t| t.as_micros() == 0) {
            return Err(Error::config(
                "the entry TTL is zero (or under a microsecond): give a positive entry_ttl",
            ));
        }
        if self.lease.is_some_and(|t| t.as_millis() == 0) {
            return Err(Error::config(
                "the lease is zero (or under a millisecond): give a lease longer than the function runs",
            ));
        }
        let refresh = match (self.refresh, self.entry_ttl) {
            (None, _) => None,
            (Some(r), _) if !(r.beta().is_finite() && r.beta() > 0.0) => {
                return Err(Error::config(format!(
                    "refresh-ahead's beta is {}: give a positive number (1.0 is XFetch's default)",
                    r.beta()
                )));
            }
            (Some(r), Some(ttl)) => Some((r, ttl)),
            (Some(_), None) => {
                return Err(Error::config(
                    "refresh-ahead recomputes entries before their deadline, so it needs a per-entry TTL: add entry_ttl",
                ));
            }
        };
        let rules = self.policy.rules();
        rules.validate()?;
        let layout = self.policy.layout();
        let caps = self.store.capabilities();
        if caps.needs_cluster_layout && !layout.is_cluster() {
            return Err(Error::config(format!(
                "the {} store is a Redis Cluster client, but {} keeps its two keys in different slots: use {} or {}",
                caps.backend,
                seed_name(rules.word, layout),
                seed_name(rules.word, Layout::Cluster),
                seed_name(rules.word, Layout::ClusterMultiple),
            )));
        }
        let pairs = if layout.per_function() {
            Pairs::PerFunction {
                table: ArcSwap::from_pointee(FuncPairs::default()),
                adding: Mutex::new(()),
            }
        } else {
            // The single layouts ignore the function.
            static ANY: FuncId = FuncId::new("", "", 0);
            Pairs::Shared(KeyPair::new(
                &self.prefix,
                &self.name,
                rules.word,
                layout,
                &ANY,
            ))
        };
        let store = Arc::new(self.store);
        // With a function label, only the functions' handles are
        // registered, so no series without the label shows up beside them.
        #[cfg(feature = "metrics")]
        let function_metrics = self
            .metrics_per_function
            .then(|| crate::telemetry::FunctionMetrics::new(&self.name));
        #[cfg(feature = "metrics")]
        let stats = Arc::new(match function_metrics {
            None => CacheStats::new(&self.name),
            Some(_) => CacheStats::with_metrics(crate::telemetry::CacheMetrics::unregistered()),
        });
        #[cfg(not(feature = "metrics"))]
        let stats = Arc::new(CacheStats::new(&self.name));
        let fleet = caps.shared_across_processes.then(|| {
            let reporter =
                FleetReporter::new(fleet_key(&self.prefix, &self.name, rules.word, layout));
            if let Some(interval) = self.fleet_interval {
                reporter.start(
                    &self.name,
                    interval,
                    Arc::downgrade(&store),
                    Arc::downgrade(&stats),
                );
            }
            reporter
        });
        Ok(FuncCache {
            name: self.name,
            prefix: self.prefix,
            policy: self.policy,
            maxsize: AtomicU64::new(self.maxsize),
            expiry: Expiry {
                pair_ttl: self.ttl,
                slide: self.update_ttl,
                entry_ttl: self.entry_ttl,
            },
            on_store_error: self.on_store_error,
            store,
            serializer: self.serializer,
            stats,
            pairs,
            flights: self.single_flight.then(Flights::default),
            lease: self.lease,
            refresh,
            fleet,
            on_eviction: self.on_eviction,
            #[cfg(feature = "metrics")]
            function_metrics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FuncId;

    /// The hash tag of a key name (what a cluster hashes), or the whole name.
    fn slot_text(key: &str) -> &str {
        key.find('{')
            .and_then(|open| {
                key[open + 1..]
                    .find('}')
                    .map(|len| &key[open + 1..open + 1 + len])
            })
            .unwrap_or(key)
    }

    #[test]
    fn fleet_counters_sit_beside_the_pairs_and_in_their_slot() {
        static F: FuncId = FuncId::new("m", "f", 1);
        for layout in Layout::ALL {
            let key = fleet_key("p:", "c", "lru", layout);
            let pair = KeyPair::new("p:", "c", "lru", layout, &F);
            assert!(key.starts_with("p:") && key.ends_with(":stats"), "{key}");
            assert_ne!(key, pair.index());
            assert_ne!(key, pair.values());
            if layout == Layout::Cluster {
                assert_eq!(slot_text(&key), slot_text(pair.index()), "{key}");
            }
            assert_ne!(key, fleet_key("p:", "d", "lru", layout), "caches apart");
        }
    }
}
