//! The in-process store of `redis-func-cache`.
//!
//! It keeps the same key pairs, by the same names, as the Redis store, and
//! carries out every [`PolicyRules`] exactly; the other stores are tested
//! against it. A hit costs one hash lookup and one O(log n) re-ordering and
//! allocates nothing: the value is shared, not copied.
//!
//! ```
//! use redis_func_cache_core::{FuncCache, FuncId};
//! use redis_func_cache_memory::MemoryStore;
//! use redis_func_cache_policies::LruPolicy;
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

mod ordered;
mod pair;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use redis_func_cache_core::clock::{Clock, SystemClock};
use redis_func_cache_core::store::{Capabilities, GetRequest, PutOutcome, PutRequest, Store};
use redis_func_cache_core::{Error, KeyPair};

use pair::PairState;
pub use redis_func_cache_core::store::PairContents;

/// Entries kept in this process, shared by every clone.
///
/// Thread-safe and usable from sync and async code; no operation blocks on
/// anything but a short lock.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

/// Pair names are hashed on every operation; XXH3 does a name of a few
/// dozen bytes several times faster than the default SipHash (the map's
/// keys come from the cache's own configuration, not from callers).
#[derive(Default, Clone, Copy)]
struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
}

type Pairs = HashMap<Box<str>, Mutex<PairState>, std::hash::BuildHasherDefault<NameHasher>>;

#[derive(Debug)]
struct Shared {
    pairs: RwLock<Pairs>,
    clock: Arc<dyn Clock>,
    seed: Mutex<fastrand::Rng>,
}

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
    /// use redis_func_cache_core::clock::ManualClock;
    /// use redis_func_cache_memory::MemoryStore;
    /// let clock = ManualClock::new(0);
    /// let store = MemoryStore::with_clock(clock.clone());
    /// # let _ = store;
    /// ```
    pub fn with_clock(clock: impl Clock) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                pairs: RwLock::new(Pairs::default()),
                clock: Arc::new(clock),
                seed: Mutex::new(fastrand::Rng::new()),
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
        let pairs = self.shared.pairs.read();
        match pairs.get(pair.index()) {
            Some(state) => state.lock().contents(now),
            None => PairContents::default(),
        }
    }

    /// The index-key names of the pairs that hold entries now.
    pub fn pair_names(&self) -> Vec<String> {
        let now = self.shared.clock.now_micros();
        let pairs = self.shared.pairs.read();
        let mut names: Vec<String> = pairs
            .iter()
            .filter(|(_, state)| state.lock().live_len(now) > 0)
            .map(|(name, _)| name.to_string())
            .collect();
        names.sort();
        names
    }

    fn now(&self) -> u64 {
        self.shared.clock.now_micros()
    }
}

impl Store for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("memory")
    }

    fn get(&self, req: &GetRequest<'_>) -> Result<Option<Bytes>, Error> {
        let now = self.now();
        let pairs = self.shared.pairs.read();
        match pairs.get(req.pair.index()) {
            Some(state) => state.lock().get(req, now),
            None => Ok(None),
        }
    }

    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        let now = self.now();
        {
            let pairs = self.shared.pairs.read();
            if let Some(state) = pairs.get(req.pair.index()) {
                return state.lock().put(req, now);
            }
        }
        let mut pairs = self.shared.pairs.write();
        let state = pairs.entry(req.pair.index().into()).or_insert_with(|| {
            let rng = self.shared.seed.lock().fork();
            Mutex::new(PairState::new(req.rules.index, rng))
        });
        state.get_mut().put(req, now)
    }

    fn len(&self, pair: &KeyPair) -> Result<u64, Error> {
        let now = self.now();
        let pairs = self.shared.pairs.read();
        Ok(pairs
            .get(pair.index())
            .map_or(0, |state| state.lock().live_len(now)))
    }

    fn purge(&self, pair: &KeyPair) -> Result<u64, Error> {
        let now = self.now();
        let removed = self.shared.pairs.write().remove(pair.index());
        Ok(removed.map_or(0, |state| state.into_inner().live_len(now)))
    }

    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error> {
        let now = self.now();
        let mut removed = 0;
        self.shared.pairs.write().retain(|name, state| {
            let keep = !name.starts_with(prefix);
            if !keep {
                removed += state.get_mut().live_len(now);
            }
            keep
        });
        Ok(removed)
    }

    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Option<Bytes>, Error> {
        self.get(req)
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
