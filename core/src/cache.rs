//! The cache front: a validated configuration, a store, a serializer and the
//! call logic shared by the sync and async paths.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope;
use crate::error::{BoxError, Error};
use crate::identity::{FastNameHasher, FuncId, InvocationHash};
use crate::keys::{DEFAULT_PREFIX, KeyPair};
use crate::mode::Mode;
use crate::policy::{EvictionPolicy, Layout, Policy, PolicyRules};
use crate::serializer::{Bincode, Serializer};
use crate::stats::{CacheStats, Event, StatsSnapshot};
use crate::store::{Expiry, GetRequest, PutOutcome, PutRequest, Store, StoredValue};

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
    store: S,
    serializer: Z,
    stats: CacheStats,
    pairs: Pairs,
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

/// The builder's state before a store is chosen: it has no `build()`.
#[derive(Debug, Clone, Copy)]
pub struct NoStore;

/// Builds a [`FuncCache`], checking the configuration.
///
/// ```
/// use std::time::Duration;
/// use redis_func_cache_core::{Error, FuncCache};
/// # use redis_func_cache_core::store::*;
/// # use redis_func_cache_core::*;
/// # struct S;
/// # impl Store for S {
/// #   fn capabilities(&self) -> Capabilities { Capabilities::new("none") }
/// #   fn get(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
/// #   fn put(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> { Ok(PutOutcome::default()) }
/// #   fn len(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   fn purge(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   fn purge_prefix(&self, _: &str) -> Result<u64, Error> { Ok(0) }
/// #   async fn get_async(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
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
            store: self.store,
            serializer,
        }
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
            store: self.store,
            serializer: self.serializer,
            stats: CacheStats::default(),
            pairs,
        })
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
        self.store.purge(&self.pair(func))
    }

    /// Removes every entry of this cache, of every function.
    pub fn purge(&self) -> Result<u64, Error> {
        match (&self.pairs, self.cache_key_prefix()) {
            (Pairs::Shared(pair), _) => self.store.purge(pair),
            (Pairs::PerFunction { .. }, Some(prefix)) => self.store.purge_prefix(&prefix),
            (Pairs::PerFunction { .. }, None) => {
                unreachable!("per-function layouts have a prefix")
            }
        }
    }

    /// [`FuncCache::purge`], for async code.
    pub async fn purge_async(&self) -> Result<u64, Error> {
        match (&self.pairs, self.cache_key_prefix()) {
            (Pairs::Shared(pair), _) => self.store.purge_async(pair).await,
            (Pairs::PerFunction { .. }, Some(prefix)) => {
                self.store.purge_prefix_async(&prefix).await
            }
            (Pairs::PerFunction { .. }, None) => {
                unreachable!("per-function layouts have a prefix")
            }
        }
    }

    /// Calls `f` through the cache: returns the cached result of `func` for
    /// `args` if there is one, else runs `f` and caches what it returns.
    ///
    /// `args` is anything serde can serialize, usually a tuple. The mode in
    /// force ([`Mode::scope`]) decides whether the cache is read and written.
    /// Errors: [`Error::CacheMiss`] in no-exec mode, store errors only with
    /// [`OnStoreError::Propagate`].
    pub fn call<A, T, F>(&self, func: &FuncId, args: &A, f: F) -> Result<T, Error>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        self.try_call_keyed(func, func.invocation_hash(args), || Ok(f()))
    }

    /// Like [`call`](FuncCache::call) for a function that can fail: an `Err`
    /// is returned to the caller and never cached. Cache errors reach the
    /// caller through `E: From<Error>`.
    pub fn try_call<A, T, E, F>(&self, func: &FuncId, args: &A, f: F) -> Result<T, E>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Result<T, E>,
    {
        self.try_call_keyed(func, func.invocation_hash(args), f)
    }

    /// [`call`](FuncCache::call) for async functions.
    pub async fn call_async<A, T, F, Fut>(&self, func: &FuncId, args: &A, f: F) -> Result<T, Error>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let key = func.invocation_hash(args);
        self.try_call_keyed_async(func, key, || async { Ok(f().await) })
            .await
    }

    /// [`try_call`](FuncCache::try_call) for async functions.
    pub async fn try_call_async<A, T, E, F, Fut>(
        &self,
        func: &FuncId,
        args: &A,
        f: F,
    ) -> Result<T, E>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = func.invocation_hash(args);
        self.try_call_keyed_async(func, key, f).await
    }

    /// The general sync call, with the invocation hash computed beforehand
    /// (the `#[cached]` macro hashes the arguments before moving them into the
    /// function body). A hash that could not be computed runs `f` uncached
    /// (or is returned, with [`OnStoreError::Propagate`]).
    #[doc(hidden)]
    pub fn try_call_keyed<T, E, F>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Result<T, E>,
    {
        self.try_call_keyed_with(func, key, f, |e| Some(E::from(e)))
    }

    /// [`try_call_keyed`](FuncCache::try_call_keyed) for callers whose error
    /// type cannot hold a cache error (`io::Error`, a plain value): `lift`
    /// turns each cache error into the caller's error, or returns `None` to
    /// carry on without the cache (the function runs, or its result is
    /// returned unstored). In a mode that may not run the function
    /// ([`Mode::NoExec`]) there is nothing to carry on with, so `lift` must
    /// return `Some` there; if it does not, the function runs.
    #[doc(hidden)]
    pub fn try_call_keyed_with<T, E, F, L>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T, E>,
        L: Fn(Error) -> Option<E>,
    {
        let mode = Mode::current();
        let member = match self.usable_key(key, mode) {
            Ok(Some(member)) => member,
            Ok(None) => return f(),
            Err(e) => match lift(e) {
                Some(e) => return Err(e),
                None => return f(),
            },
        };
        let pair = self.pair(func);
        if mode.reads() {
            let got = self.store.get(&self.get_request(&pair, member));
            match self.decode_read(got) {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => lifted(lift(e))?,
            }
            if !mode.executes() {
                lifted(lift(Error::CacheMiss))?;
            }
        }
        let value = f()?;
        if mode.writes() {
            match self.put_request(&pair, member, &value) {
                Ok(Some(req)) => {
                    let outcome = self.store.put(&req);
                    if let Err(e) = self.record_put(outcome) {
                        lifted(lift(e))?;
                    }
                }
                Ok(None) => {}
                Err(e) => lifted(lift(e))?,
            }
        }
        Ok(value)
    }

    /// [`try_call_keyed`](FuncCache::try_call_keyed) for async functions.
    #[doc(hidden)]
    pub async fn try_call_keyed_async<T, E, F, Fut>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.try_call_keyed_with_async(func, key, f, |e| Some(E::from(e)))
            .await
    }

    /// [`try_call_keyed_with`](FuncCache::try_call_keyed_with) for async
    /// functions.
    #[doc(hidden)]
    pub async fn try_call_keyed_with_async<T, E, F, Fut, L>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        L: Fn(Error) -> Option<E>,
    {
        let mode = Mode::current();
        let member = match self.usable_key(key, mode) {
            Ok(Some(member)) => member,
            Ok(None) => return f().await,
            Err(e) => match lift(e) {
                Some(e) => return Err(e),
                None => return f().await,
            },
        };
        let pair = self.pair(func);
        if mode.reads() {
            let got = self.store.get_async(&self.get_request(&pair, member)).await;
            match self.decode_read(got) {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => lifted(lift(e))?,
            }
            if !mode.executes() {
                lifted(lift(Error::CacheMiss))?;
            }
        }
        let value = f().await?;
        if mode.writes() {
            match self.put_request(&pair, member, &value) {
                Ok(Some(req)) => {
                    let outcome = self.store.put_async(&req).await;
                    if let Err(e) = self.record_put(outcome) {
                        lifted(lift(e))?;
                    }
                }
                Ok(None) => {}
                Err(e) => lifted(lift(e))?,
            }
        }
        Ok(value)
    }

    /// `Some(hash)` if the call can use the cache; `None` if it must run
    /// uncached because its arguments could not be hashed.
    fn usable_key(
        &self,
        key: Result<InvocationHash, Error>,
        mode: Mode,
    ) -> Result<Option<InvocationHash>, Error> {
        match key {
            Ok(member) => Ok(Some(member)),
            Err(e) if mode == Mode::Bypass => {
                drop(e);
                Ok(None)
            }
            Err(e) if self.on_store_error == OnStoreError::Propagate || !mode.executes() => Err(e),
            Err(e) => {
                tracing::warn!(cache = %self.name, error = %e, "arguments not hashable; calling uncached");
                Ok(None)
            }
        }
    }

    fn get_request<'a>(&'a self, pair: &'a KeyPair, member: InvocationHash) -> GetRequest<'a> {
        GetRequest {
            pair,
            member,
            rules: self.policy.rules_ref(),
            expiry: self.expiry,
        }
    }

    /// Turns a store read into a value, a miss, or an error (only when the
    /// store error is propagated).
    fn decode_read<T: DeserializeOwned>(
        &self,
        got: Result<Option<StoredValue>, Error>,
    ) -> Result<Option<T>, Error> {
        match got {
            Ok(Some(bytes)) => match envelope::open(&bytes, Z::FORMAT)
                .map_err(|m| Error::Decode {
                    source: BoxError::from(m),
                })
                .and_then(|payload| self.serializer.decode(payload))
            {
                Ok(value) => {
                    self.stats.record(Event::Hit);
                    Ok(Some(value))
                }
                Err(e) => {
                    self.stats.record(Event::DecodeFailure);
                    self.stats.record(Event::Miss);
                    tracing::warn!(cache = %self.name, error = %e, "cached value does not decode; recomputing");
                    Ok(None)
                }
            },
            Ok(None) => {
                self.stats.record(Event::Miss);
                Ok(None)
            }
            Err(e) => {
                self.store_failed("read", e)?;
                Ok(None)
            }
        }
    }

    fn put_request<'a, T: Serialize>(
        &'a self,
        pair: &'a KeyPair,
        member: InvocationHash,
        value: &T,
    ) -> Result<Option<PutRequest<'a>>, Error> {
        match self.serializer.encode(value) {
            Ok(payload) if payload.len() > self.serializer.limit() => {
                self.stats.record(Event::TooLarge);
                tracing::warn!(
                    cache = %self.name,
                    bytes = payload.len(),
                    limit = self.serializer.limit(),
                    "result over the serializer's size limit; returned, not cached"
                );
                Ok(None)
            }
            Ok(payload) => Ok(Some(PutRequest {
                pair,
                member,
                value: Bytes::from(envelope::frame(Z::FORMAT, &payload)),
                rules: self.policy.rules_ref(),
                maxsize: self.maxsize(),
                expiry: self.expiry,
            })),
            Err(e) if self.on_store_error == OnStoreError::Propagate => Err(e),
            Err(e) => {
                tracing::warn!(cache = %self.name, error = %e, "result not encodable; not cached");
                Ok(None)
            }
        }
    }

    fn record_put(&self, outcome: Result<PutOutcome, Error>) -> Result<(), Error> {
        match outcome {
            Ok(outcome) => {
                self.stats.record(Event::Write);
                self.stats
                    .record(Event::Evictions(outcome.evicted.len() as u64));
                Ok(())
            }
            Err(e) => self.store_failed("write", e),
        }
    }

    fn store_failed(&self, op: &'static str, e: Error) -> Result<(), Error> {
        let skipped = matches!(e, Error::Skipped { .. });
        self.stats.record(if skipped {
            Event::Skipped
        } else {
            Event::BackendError
        });
        match self.on_store_error {
            OnStoreError::Propagate => Err(e),
            // The breaker logged when it opened; one line per skipped call
            // would flood the log during an outage.
            OnStoreError::FailOpen if skipped => Ok(()),
            OnStoreError::FailOpen => {
                tracing::warn!(cache = %self.name, op, error = %e, "store failed; carrying on without the cache");
                Ok(())
            }
        }
    }
}

/// A lifted cache error: `Err` to return it, `Ok` to carry on without the
/// cache.
fn lifted<E>(lifted: Option<E>) -> Result<(), E> {
    match lifted {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
