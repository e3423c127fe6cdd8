//! The in-process store of `redis-func-cache`.
//!
//! It keeps the same key pairs, by the same names, as the Redis store, and
//! carries out every [`PolicyRules`](redis_func_cache_core::PolicyRules)
//! exactly; the other stores are tested against it. A hit costs one hash
//! lookup under a shared lock and allocates nothing: the value is shared,
//! not copied, and its re-ordering waits in a per-thread buffer for the
//! next put (O(1) for LRU, MRU and FIFO; O(log n) for LFU and TLRU), so
//! threads hitting one cache do not take turns.
//!
//! ```
//! use redis_func_cache::{FuncCache, FuncId};
//! use redis_func_cache::MemoryStore;
//! use redis_func_cache::LruPolicy;
//!
//! static SQUARE: FuncId = FuncId::with_version(module_path!(), "square", "1");
//! let cache = FuncCache::builder("doc").policy(LruPolicy).maxsize(2)
//!     .store(MemoryStore::new()).build().unwrap();
//! let v: u64 = cache.call(&SQUARE, &3u64, || 9).unwrap();
//! let again: u64 = cache.call(&SQUARE, &3u64, || unreachable!()).unwrap();
//! assert_eq!((v, again), (9, 9));
//! assert_eq!(cache.stats().hits, 1);
//! ```
#![warn(missing_docs)]

mod appended;
mod leases;
mod ordered;
mod pair;
mod queues;
mod shared;
mod sync;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use redis_func_cache_core::clock::{Clock, SystemClock};
use redis_func_cache_core::policy::IndexKind;
use redis_func_cache_core::store::{
    Capabilities, GetRequest, Leased, Lookup, PutOutcome, PutRequest, Store, StoredValue,
};
use redis_func_cache_core::{Error, FastNameHasher, KeyPair, StoreId};

use leases::Leases;
pub use redis_func_cache_core::store::PairContents;
use shared::SharedPair;
use sync::{ArcSwap, AtomicU64, Mutex};

/// Entries kept in this process, shared by every clone.
///
/// Thread-safe and usable from sync and async code; no operation blocks on
/// anything but a short lock.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

/// Pair names are hashed on every operation, so with XXH3 (the map's keys
/// come from the caches' own configuration, not from callers).
type Pairs = HashMap<Box<str>, Arc<SharedPair>, FastNameHasher>;

#[derive(Debug)]
struct Shared {
    /// Every pair ever written, by index-key name.
    ///
    /// Every call looks its pair up here, so the lookup must not write to
    /// memory other threads read: a read lock would (its counter), and two
    /// threads hitting one cache would pass that line back and forth. The
    /// map is swapped whole instead, which costs a copy of the map each
    /// time a new pair is first written (once per cache, or per function in
    /// the multiple layouts). A purge empties a pair but keeps it, so a put
    /// racing the purge never writes into a pair nobody can reach.
    pairs: ArcSwap<Pairs>,
    /// Held while a new pair is added, so two adders never lose one.
    adding: Mutex<()>,
    clock: Arc<dyn Clock>,
    seed: Mutex<fastrand::Rng>,
    /// The name under which this store leaves handles on key pairs: each
    /// pair's `SharedPair`, valid for good since no pair is ever removed.
    id: StoreId,
    leases: Leases,
    /// Counter hashes (`Store::add_counters`), by key.
    counters: Mutex<HashMap<String, HashMap<&'static str, u64>>>,
    /// When (clock µs) a put next frees the values of pairs whose TTL ran
    /// out; see [`MemoryStore::sweep_if_due`].
    next_sweep: AtomicU64,
}

/// How often, at most, a put frees expired pairs: one pass over the pair
/// table (a short lock per pair) per second of the store's clock.
const SWEEP_EVERY_US: u64 = 1_000_000;

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        MemoryStore::with_clock(SystemClock)
    }

    /// An empty store on the given clock, which drives `tlru` scores and
    /// every TTL.
    ///
    /// ```
    /// use redis_func_cache::clock::ManualClock;
    /// use redis_func_cache::MemoryStore;
    /// let clock = ManualClock::new(0);
    /// let store = MemoryStore::with_clock(clock.clone());
    /// # let _ = store;
    /// ```
    pub fn with_clock(clock: impl Clock) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                pairs: ArcSwap::from_pointee(Pairs::default()),
                adding: Mutex::new(()),
                clock: Arc::new(clock),
                seed: Mutex::new(fastrand::Rng::new()),
                id: StoreId::unique(),
                leases: Leases::default(),
                counters: Mutex::default(),
                next_sweep: AtomicU64::new(0),
            }),
        }
    }

    /// Makes random victims reproducible: pairs created from now on draw
    /// from generators seeded from `seed`.
    pub fn with_seed(self, seed: u64) -> Self {
        *self.shared.seed.lock() = fastrand::Rng::with_seed(seed);
        self
    }

    /// What a pair holds now (an expired pair holds nothing), for tests and
    /// for comparing stores pair by pair.
    pub fn contents(&self, pair: &KeyPair) -> PairContents {
        let now = self.shared.clock.now_micros();
        match self.shared.pairs.load().get(pair.index()) {
            Some(state) => state.exclusive(|s| s.contents(now)),
            None => PairContents::default(),
        }
    }

    /// The index-key names of the pairs that hold entries now.
    pub fn pair_names(&self) -> Vec<String> {
        let now = self.shared.clock.now_micros();
        let pairs = self.shared.pairs.load();
        let mut names: Vec<String> = pairs
            .iter()
            .filter(|(_, state)| state.exclusive(|s| s.live_len(now)) > 0)
            .map(|(name, _)| name.to_string())
            .collect();
        names.sort();
        names
    }

    fn now(&self) -> u64 {
        self.shared.clock.now_micros()
    }

    /// The pair of this name, added empty if it is new.
    fn pair_or_add(&self, name: &str, kind: IndexKind) -> Arc<SharedPair> {
        if let Some(state) = self.shared.pairs.load().get(name) {
            return Arc::clone(state);
        }
        let _adding = self.shared.adding.lock();
        let current = self.shared.pairs.load_full();
        if let Some(state) = current.get(name) {
            return Arc::clone(state);
        }
        let rng = self.shared.seed.lock().fork();
        let state = Arc::new(SharedPair::new(kind, rng));
        let mut grown = Pairs::clone(&current);
        grown.insert(name.into(), Arc::clone(&state));
        self.shared.pairs.store(Arc::new(grown));
        state
    }
}

impl MemoryStore {
    fn put_entry(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        let now = self.now();
        self.sweep_if_due(now);
        if let Some(state) = req.pair.handle::<SharedPair>(self.shared.id) {
            return state.exclusive(|s| s.put(req, now));
        }
        let state = self.pair_or_add(req.pair.index(), req.rules.index);
        req.pair.keep_handle(self.shared.id, Arc::clone(&state));
        state.exclusive(|s| s.put(req, now))
    }

    /// Frees the entries of every pair whose TTL has run out, at most once
    /// per [`SWEEP_EVERY_US`], from a put.
    ///
    /// A pair expires lazily (its next operation finds it empty), so a
    /// pair nobody touches again would keep its values for good, where
    /// Redis would have dropped the keys. Puts sweep for it: an idle cache
    /// gives its memory back at the next put to any pair of the store after
    /// the TTL. Only one put per interval sweeps (the others see the
    /// deadline moved), and it never holds two locks at once.
    fn sweep_if_due(&self, now: u64) {
        let due = self.shared.next_sweep.load(Ordering::Relaxed);
        if now < due
            || self
                .shared
                .next_sweep
                .compare_exchange(
                    due,
                    now.saturating_add(SWEEP_EVERY_US),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        for state in self.shared.pairs.load().values() {
            state.exclusive(|s| s.free_if_expired(now));
        }
    }
}

impl Store for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("memory")
    }

    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        let now = self.now();
        if let Some(state) = req.pair.handle::<SharedPair>(self.shared.id) {
            return state.get(req, now);
        }
        match self.shared.pairs.load().get(req.pair.index()) {
            Some(state) => {
                req.pair.keep_handle(self.shared.id, Arc::clone(state));
                state.get(req, now)
            }
            None => Ok(Lookup::Miss),
        }
    }

    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, Error> {
        let now = self.now();
        self.shared
            .leases
            .get_or_lease(req.pair, req.member, lease, now, || self.get(req))
    }

    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        let now = self.now();
        Ok(self
            .shared
            .pairs
            .load()
            .get(req.pair.index())
            .and_then(|state| state.exclusive(|s| s.peek(req, now))))
    }

    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        let now = self.now();
        Ok(self
            .shared
            .pairs
            .load()
            .get(req.pair.index())
            .is_some_and(|state| state.exclusive(|s| s.remove_member(req.member, now))))
    }

    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        let outcome = self.put_entry(req);
        if req.release_lease {
            self.shared.leases.release(req.pair, req.member);
        }
        outcome
    }

    fn len(&self, pair: &KeyPair) -> Result<u64, Error> {
        let now = self.now();
        Ok(self
            .shared
            .pairs
            .load()
            .get(pair.index())
            .map_or(0, |state| state.exclusive(|s| s.live_len(now))))
    }

    fn purge(&self, pair: &KeyPair) -> Result<u64, Error> {
        let now = self.now();
        Ok(self
            .shared
            .pairs
            .load()
            .get(pair.index())
            .map_or(0, |state| state.exclusive(|s| s.clear(now))))
    }

    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error> {
        let now = self.now();
        Ok(self
            .shared
            .pairs
            .load()
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, state)| state.exclusive(|s| s.clear(now)))
            .sum())
    }

    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), Error> {
        let mut all = self.shared.counters.lock();
        let hash = all.entry(key.to_owned()).or_default();
        for &(field, n) in counts {
            let c = hash.entry(field).or_default();
            *c = c.saturating_add(n);
        }
        Ok(())
    }

    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, Error> {
        let all = self.shared.counters.lock();
        let mut fields: Vec<(String, u64)> = all
            .get(key)
            .map(|h| h.iter().map(|(f, n)| ((*f).to_owned(), *n)).collect())
            .unwrap_or_default();
        fields.sort();
        Ok(fields)
    }

    fn remove_counters(&self, key: &str) -> Result<(), Error> {
        self.shared.counters.lock().remove(key);
        Ok(())
    }

    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        self.get(req)
    }

    async fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> Result<Leased, Error> {
        self.get_or_lease(req, lease)
    }

    async fn peek_async(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        self.peek(req)
    }

    async fn remove_async(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        self.remove(req)
    }

    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        self.put(req)
    }

    async fn len_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        self.len(pair)
    }

    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        self.purge(pair)
    }

    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, Error> {
        self.purge_prefix(prefix)
    }
}
