//! Cache function results in Redis or in memory, the way
//! `functools.lru_cache` does in one process, but shared by every process
//! that talks to the same store.
//!
//! ```
//! use std::sync::LazyLock;
//! use redis_func_cache::{cached, FuncCache, LruPolicy, MemoryStore};
//!
//! static CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| {
//!     FuncCache::builder("my-first-lru-cache")
//!         .policy(LruPolicy)
//!         .maxsize(1024)
//!         .store(MemoryStore::new())
//!         .build()
//!         .expect("a valid configuration")
//! });
//!
//! #[cached(cache = CACHE)]
//! fn fib(n: u64) -> u64 {
//!     if n <= 1 { n } else { fib(n - 1) + fib(n - 2) }
//! }
//!
//! assert_eq!(fib(90), 2880067194370816120);
//! assert_eq!(CACHE.stats().misses, 91); // each n computed once
//! ```
//!
//! On Redis only the store changes (feature `redis`; `fred` for the other
//! client). Opening does not wait for the server: until it answers, calls
//! run the function (within a 250 ms deadline, then skipped by a circuit
//! breaker), and caching starts when it is up:
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # fn main() {
//! use std::sync::LazyLock;
//! use redis_func_cache::{cached, FuncCache, LruPolicy, RedisStore};
//!
//! static CACHE: LazyLock<FuncCache<RedisStore>> = LazyLock::new(|| {
//!     let store = RedisStore::open("redis://127.0.0.1:6379/").expect("a valid URL");
//!     FuncCache::builder("my-first-lru-cache").policy(LruPolicy).store(store).build().unwrap()
//! });
//!
//! #[cached(cache = CACHE)]
//! fn fib(n: u64) -> u64 {
//!     if n <= 1 { n } else { fib(n - 1) + fib(n - 2) }
//! }
//! assert_eq!(fib(90), 2880067194370816120);
//! # }
//! # #[cfg(not(feature = "redis"))]
//! # fn main() {}
//! ```
//!
//! Without the macro, [`FuncCache::call`] caches a closure under a
//! [`FuncId`] and an argument tuple; [`FuncCache::try_call`] caches only
//! `Ok` results; both have `_async` forms. The store is a type parameter,
//! chosen at compile time; [`AnyStore`] chooses it at run time (its async
//! calls can run inside `tokio::spawn`):
//!
//! ```
//! use redis_func_cache::{AnyStore, FuncCache, FuncId, MemoryStore};
//!
//! static DOUBLE: FuncId = FuncId::with_version(module_path!(), "double", "1");
//! let store = AnyStore::new(MemoryStore::new()); // or a Redis store
//! let cache = FuncCache::builder("dyn").store(store).build().unwrap();
//! let v: u32 = cache.call(&DOUBLE, &21u32, || 42).unwrap();
//! assert_eq!(v, 42);
//! ```
#![warn(missing_docs)]
// Feature badges on docs.rs (which builds with `--cfg docsrs` on nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate self as redis_func_cache;

pub use redis_func_cache_core::breaker::{self, BreakerOptions};
pub use redis_func_cache_core::clock::{self, Clock, ManualClock, SystemClock};
pub use redis_func_cache_core::mode;
pub use redis_func_cache_core::serializer;
pub use redis_func_cache_core::stats;
pub use redis_func_cache_core::store;
pub use redis_func_cache_core::{
    Bincode, BoxError, CallKey, DEFAULT_FLEET_INTERVAL, DEFAULT_MAXSIZE, DEFAULT_PREFIX,
    DEFAULT_TTL, DynStore, Entry, Error, EvictionPolicy, FuncCache, FuncCacheBuilder, FuncId,
    InvocationHash, InvocationHasher, KeyPair, Layout, Mode, NoStore, OnStoreError, Policy,
    PolicyRules, RefreshAhead, RemovalCause, Serializer, StatsSnapshot, Store, WithMode,
};
pub use redis_func_cache_policies::{
    FifoClusterMultiplePolicy, FifoClusterPolicy, FifoMultiplePolicy, FifoPolicy,
    LfuClusterMultiplePolicy, LfuClusterPolicy, LfuMultiplePolicy, LfuPolicy,
    LruClusterMultiplePolicy, LruClusterPolicy, LruMultiplePolicy, LruPolicy,
    MruClusterMultiplePolicy, MruClusterPolicy, MruMultiplePolicy, MruPolicy,
    RrClusterMultiplePolicy, RrClusterPolicy, RrMultiplePolicy, RrPolicy,
    S3FifoClusterMultiplePolicy, S3FifoClusterPolicy, S3FifoMultiplePolicy, S3FifoPolicy,
    SieveClusterMultiplePolicy, SieveClusterPolicy, SieveMultiplePolicy, SievePolicy,
    TLruClusterMultiplePolicy, TLruClusterPolicy, TLruMultiplePolicy, TLruPolicy, by_name, rules,
};
/// Policy descriptions: the building blocks of a custom policy.
pub mod policy {
    pub use redis_func_cache_core::policy::*;
}

pub use redis_func_cache_core::store::{AnyStore, PairContents};
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
#[cfg(feature = "memory")]
pub use redis_func_cache_memory::MemoryStore;
#[cfg_attr(docsrs, doc(cfg(feature = "fred")))]
#[cfg(feature = "fred")]
pub use redis_func_cache_redis::FredStore;
#[cfg_attr(docsrs, doc(cfg(any(feature = "redis", feature = "fred"))))]
#[cfg(any(feature = "redis", feature = "fred"))]
pub use redis_func_cache_redis::RedisOptions;
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[cfg(feature = "redis")]
pub use redis_func_cache_redis::{Cluster, RedisClusterStore, RedisStore, Standalone, Topology};

/// Caches a function's results in a [`FuncCache`].
///
/// ```
/// # use std::sync::LazyLock;
/// # use redis_func_cache::{cached, FuncCache, FifoPolicy, MemoryStore};
/// # static CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| FuncCache::builder("doc")
/// #     .policy(FifoPolicy).store(MemoryStore::new()).build().unwrap());
/// #[derive(Debug)]
/// struct Db; // not hashable, so left out of the key
///
/// #[cached(cache = CACHE, skip(db))]
/// fn lookup(db: &Db, id: u32) -> Result<String, redis_func_cache::Error> {
///     Ok(format!("user {id}"))
/// }
/// assert_eq!(lookup(&Db, 7).unwrap(), "user 7");
/// ```
///
/// Options:
/// - `cache = EXPR` (required): the cache, usually a `static` (a
///   `LazyLock<FuncCache<_>>`) or any expression that derefs to a
///   `FuncCache`, such as `self.cache`.
/// - `skip(a, b)`: arguments left out of the key (a pool, a logger). `self`
///   is hashed like any argument unless skipped.
/// - `name = "Type::method"`: the name in the function's identity (default:
///   the function's name). It becomes part of Redis key names, so it may not
///   contain `{`, `}`, glob or control characters.
/// - `version = "2"`: a text to bump when the function's results change for
///   a reason its own code does not show (a helper it calls, a data file).
/// - `depends_on(FACTOR, LIMITS)`: constants or statics whose **values** join
///   the fingerprint (they must implement `Serialize`), so changing `const
///   FACTOR` from 2 to 3 invalidates the old results.
/// - `lease_ms = 5000`: this function's misses take a cross-process lease
///   of that many milliseconds (SPEC §9), overriding the cache's
///   [`lease`](FuncCacheBuilder::lease): one caller in the whole fleet
///   computes a missing result while the others wait for it. Pick it above
///   the function's longest run.
/// - `key = price_key`: also declares `fn price_key(<the same arguments>) ->
///   CallKey`, the key a call with those arguments uses, so one call's entry
///   can be read, stored or removed without running the function (not for
///   methods that take `self`):
///
/// ```
/// # use std::sync::LazyLock;
/// use redis_func_cache::{cached, FuncCache, LruMultiplePolicy, MemoryStore};
/// # static CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| FuncCache::builder("prices")
/// #     .policy(LruMultiplePolicy).store(MemoryStore::new()).build().unwrap());
/// #[cached(cache = CACHE, key = price_key, id = PRICE)]
/// fn price(item: String) -> u64 {
///     item.len() as u64 * 100
/// }
///
/// let entry = CACHE.entry_of(price_key("tea".into())).unwrap();
/// entry.insert(&250u64).unwrap(); // as if price("tea") had returned 250
/// assert_eq!(price("tea".into()), 250); // a hit: the function does not run
/// assert_eq!(entry.peek::<u64>().unwrap(), Some(250)); // no hit rule, no TTL slide
/// assert!(entry.invalidate().unwrap()); // gone; the next call recomputes
/// assert_eq!(CACHE.purge_func(&PRICE).unwrap(), 0);
/// ```
/// - `id = FIB`: also declares `static FIB: FuncId` beside the function (free
///   functions only), to count or clear its entries:
///
/// ```
/// # use std::sync::LazyLock;
/// # use redis_func_cache::{cached, FuncCache, LruMultiplePolicy, MemoryStore};
/// # static CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| FuncCache::builder("ids")
/// #     .policy(LruMultiplePolicy).store(MemoryStore::new()).build().unwrap());
/// const FACTOR: u64 = 3;
///
/// #[cached(cache = CACHE, depends_on(FACTOR), id = SCALE)]
/// fn scale(x: u64) -> u64 {
///     x * FACTOR
/// }
/// assert_eq!(scale(10), 30);
/// assert_eq!(CACHE.len(&SCALE).unwrap(), 1);
/// CACHE.purge_func(&SCALE).unwrap(); // one function's pair, in this layout
/// assert_eq!(CACHE.len(&SCALE).unwrap(), 0);
/// ```
///
/// # What the identity covers
///
/// A function's entries are keyed by its module path, its name, a hash of
/// its tokens (signature and body), `version` and the `depends_on` values,
/// plus the arguments. Editing the function invalidates its cached results.
/// So do changes to its generic parameters, to the type it is defined for
/// (`Self`, with its generic parameters: `Repo<u32>::load` and
/// `Repo<i64>::load` never share an entry, nor do two trait impls with the
/// same body) and to the types of arguments and results that are not plain
/// std types. **Not covered**: the code and constants the function reads or
/// calls from elsewhere, unless named in `depends_on` or `version`.
///
/// Arguments are hashed through serde. A `HashMap` or `HashSet` argument is
/// refused at compile time: its order, and so its key, differs in every
/// process. Take a `BTreeMap`/`BTreeSet` or a sorted `Vec` instead. A map
/// hidden inside a struct of yours is not detected: sort it, or derive
/// `Serialize` on a `BTreeMap` view of it.
///
/// # Errors and panics
///
/// A function returning `Result<T, E>` caches only `Ok` values. If `E:
/// From<redis_func_cache::Error>`, cache errors (a no-exec miss, a store
/// error with [`OnStoreError::Propagate`]) reach the caller through it.
/// Otherwise (`std::io::Result`, `Result<T, String>`), and for functions
/// returning a plain value, store errors always fail open: the function runs
/// and its result is returned. The only panic left is a miss in
/// [`Mode::NoExec`] on such a function, which has no other way to say it did
/// not run.
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[cfg(feature = "macros")]
pub use redis_func_cache_macros::cached;

#[doc(hidden)]
pub mod __private {
    //! Support for the code `#[cached]` writes; not a public API.
    pub use redis_func_cache_core::mode::carry;
    use std::future::Future;
    use std::marker::PhantomData;
    use std::time::Duration;

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::{
        Error, FuncCache, FuncId, InvocationHash, InvocationHasher, Mode, Serializer, Store,
    };

    /// Arguments that can be part of a cache key.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be hashed into a cache key",
        label = "this argument's type does not implement `serde::Serialize`",
        note = "derive `serde::Serialize` for it, or leave the argument out of the key with `#[cached(cache = ..., skip(name))]`"
    )]
    pub trait KeyArgument {
        /// Feeds the argument to the key.
        fn feed_key(&self, hasher: &mut InvocationHasher);
    }
    impl<T: Serialize + ?Sized> KeyArgument for T {
        fn feed_key(&self, hasher: &mut InvocationHasher) {
            hasher.arg(self);
        }
    }

    /// Adds one argument to the key. Its only bound is [`KeyArgument`], so
    /// an argument that cannot be hashed gives one error, ours.
    pub fn key_argument<T: KeyArgument + ?Sized>(hasher: &mut InvocationHasher, arg: &T) {
        arg.feed_key(hasher);
    }

    /// The fingerprint of a function whose identity includes the values of
    /// constants or statics it names in `depends_on(...)`.
    pub fn fingerprint_with_values<V: KeyArgument + ?Sized>(fingerprint: u64, values: &V) -> u64 {
        let id = FuncId::new("", "", fingerprint);
        let mut hasher = id.hasher();
        values.feed_key(&mut hasher);
        match hasher.finish() {
            Ok(hash) => {
                let mut head = [0u8; 8];
                head.copy_from_slice(&hash.as_bytes()[..8]);
                u64::from_le_bytes(head)
            }
            // A value that does not encode cannot be compared with another
            // process's: a fingerprint of this process alone never serves
            // another build's results.
            Err(_) => {
                use std::hash::BuildHasher;
                std::collections::hash_map::RandomState::new().hash_one(fingerprint)
            }
        }
    }

    /// Values that can be stored.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be stored in a cache",
        label = "the return type must implement `serde::Serialize` and `serde::de::DeserializeOwned`",
        note = "derive `serde::Serialize` and `serde::Deserialize` for it; borrowed data such as `&str` cannot be cached, return an owned `String` instead"
    )]
    pub trait CachedValue: Serialize + DeserializeOwned {}
    impl<T: Serialize + DeserializeOwned> CachedValue for T {}

    /// `Result`s whose `Ok` can be stored.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be returned from a #[cached] function",
        label = "the `Ok` type must implement `serde::Serialize` and `serde::de::DeserializeOwned`",
        note = "derive `serde::Serialize` and `serde::Deserialize` for it; only `Ok` values are cached"
    )]
    pub trait CachedResult {
        /// The stored type.
        type Ok: CachedValue;
        /// The caller's error.
        type Err;
        /// Splits the result.
        fn into_result(self) -> Result<Self::Ok, Self::Err>;
        /// Joins it again.
        fn from_result(result: Result<Self::Ok, Self::Err>) -> Self;
    }
    impl<T: CachedValue, E> CachedResult for Result<T, E> {
        type Ok = T;
        type Err = E;
        fn into_result(self) -> Self {
            self
        }
        fn from_result(result: Self) -> Self {
            result
        }
    }

    /// Picks how a cache error reaches a `Result` function's caller:
    /// through `E: From<Error>` when there is one ([`LiftViaFrom`]), else the
    /// call carries on without the cache ([`LiftFailOpen`]). The macro calls
    /// `(&ErrorProbe::<E>::NEW).lift(e)`, and method lookup takes the first
    /// impl whose bounds hold.
    pub struct ErrorProbe<E>(PhantomData<fn() -> E>);
    impl<E> ErrorProbe<E> {
        /// The probe.
        pub const NEW: Self = ErrorProbe(PhantomData);
    }

    /// Cache errors reach the caller through `From`.
    pub trait LiftViaFrom<E> {
        /// Converts the error.
        fn lift(&self, e: Error) -> Option<E>;
    }
    impl<E: From<Error>> LiftViaFrom<E> for ErrorProbe<E> {
        fn lift(&self, e: Error) -> Option<E> {
            Some(E::from(e))
        }
    }

    /// The error type cannot hold a cache error: carry on without the cache.
    pub trait LiftFailOpen<E> {
        /// Drops the error.
        fn lift(&self, e: Error) -> Option<E>;
    }
    impl<E> LiftFailOpen<E> for &ErrorProbe<E> {
        #[track_caller]
        fn lift(&self, e: Error) -> Option<E> {
            fail_open(e)
        }
    }

    /// Carries on without the cache, except where the function may not run
    /// (a no-exec miss), which a caller without a cache error cannot be told
    /// about otherwise.
    #[track_caller]
    fn fail_open<E>(e: Error) -> Option<E> {
        if Mode::current().executes() {
            return None;
        }
        panic!(
            "a #[cached] function whose return type cannot carry a cache error got one in no-exec mode: {e}. \
             Return Result<T, E> with E: From<redis_func_cache::Error> to handle it."
        )
    }

    /// A plain-value function: store errors fail open, whatever the cache's
    /// `OnStoreError`; only a no-exec miss panics.
    #[track_caller]
    pub fn call_plain<S: Store, Z: Serializer, T: CachedValue>(
        cache: &FuncCache<S, Z>,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: impl FnOnce() -> T,
    ) -> T {
        let result = cache.try_call_keyed_leased(
            func,
            key,
            lease,
            || Ok::<T, std::convert::Infallible>(f()),
            |e| -> Option<std::convert::Infallible> { fail_open(e) },
        );
        match result {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// A `Result` function: `lift` is the macro's pick of [`LiftViaFrom`]
    /// or [`LiftFailOpen`].
    pub fn call_result<S: Store, Z: Serializer, R: CachedResult>(
        cache: &FuncCache<S, Z>,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: impl FnOnce() -> R,
        lift: impl Fn(Error) -> Option<R::Err>,
    ) -> R {
        R::from_result(cache.try_call_keyed_leased(func, key, lease, || f().into_result(), lift))
    }

    /// [`call_plain`] for async functions.
    pub async fn call_plain_async<S: Store, Z: Serializer, T: CachedValue>(
        cache: &FuncCache<S, Z>,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: impl Future<Output = T>,
    ) -> T {
        let result = cache
            .try_call_keyed_leased_async(
                func,
                key,
                lease,
                || async { Ok::<T, std::convert::Infallible>(f.await) },
                |e| -> Option<std::convert::Infallible> { fail_open(e) },
            )
            .await;
        match result {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// [`call_result`] for async functions.
    pub async fn call_result_async<S: Store, Z: Serializer, R: CachedResult>(
        cache: &FuncCache<S, Z>,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: impl Future<Output = R>,
        lift: impl Fn(Error) -> Option<R::Err>,
    ) -> R {
        R::from_result(
            cache
                .try_call_keyed_leased_async(
                    func,
                    key,
                    lease,
                    || async { f.await.into_result() },
                    lift,
                )
                .await,
        )
    }

    /// Pins an async block's output type, so `?` inside it infers.
    pub fn typed_future<T, F: Future<Output = T>>(future: F) -> F {
        future
    }
}
