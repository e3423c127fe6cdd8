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
//! Without the macro, [`FuncCache::call`] caches a closure under a
//! [`FuncId`] and an argument tuple; [`FuncCache::try_call`] caches only
//! `Ok` results; both have `_async` forms. The store is a type parameter,
//! chosen at compile time; `Arc<dyn DynStore>` chooses it at run time:
//!
//! ```
//! use std::sync::Arc;
//! use redis_func_cache::{DynStore, FuncCache, FuncId, MemoryStore};
//!
//! static DOUBLE: FuncId = FuncId::with_version(module_path!(), "double", "1");
//! let store: Arc<dyn DynStore> = Arc::new(MemoryStore::new()); // or a Redis store
//! let cache = FuncCache::builder("dyn").store(store).build().unwrap();
//! let v: u32 = cache.call(&DOUBLE, &21u32, || 42).unwrap();
//! assert_eq!(v, 42);
//! ```
#![warn(missing_docs)]

extern crate self as redis_func_cache;

pub use redis_func_cache_core::clock::{self, Clock, ManualClock, SystemClock};
pub use redis_func_cache_core::serializer;
pub use redis_func_cache_core::stats;
pub use redis_func_cache_core::store;
pub use redis_func_cache_core::{
    Bincode, BoxError, DEFAULT_MAXSIZE, DEFAULT_PREFIX, DEFAULT_TTL, DynStore, Error,
    EvictionPolicy, FuncCache, FuncCacheBuilder, FuncId, InvocationHash, KeyPair, Layout, Mode,
    NoStore, OnStoreError, Policy, PolicyRules, Serializer, StatsSnapshot, Store, WithMode,
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

pub use redis_func_cache_core::store::PairContents;
#[cfg(feature = "memory")]
pub use redis_func_cache_memory::MemoryStore;
#[cfg(feature = "fred")]
pub use redis_func_cache_redis::FredStore;
#[cfg(any(feature = "redis", feature = "fred"))]
pub use redis_func_cache_redis::RedisOptions;
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
///   the function's name). Give one to methods of different types that share
///   a module and a name.
///
/// The identity of the function is its module path, its name and a hash of
/// its tokens, so editing the function invalidates its cached results.
/// Generic parameters are part of the key.
///
/// A function returning `Result<T, E>` caches only `Ok` values, and receives
/// cache errors (a no-exec miss, a propagated store error) through
/// `E: From<redis_func_cache::Error>`.
///
/// # Panics
///
/// A function returning a plain value has no way to report a cache error, so
/// it panics on one. Those errors only happen when asked for: a miss in
/// [`Mode::NoExec`], or a store error with [`OnStoreError::Propagate`].
/// With the defaults, store failures are counted and the function runs.
#[cfg(feature = "macros")]
pub use redis_func_cache_macros::cached;

#[doc(hidden)]
pub mod __private {
    //! Support for the code `#[cached]` writes; not a public API.
    use std::future::Future;

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::Error;

    /// Arguments that can be part of a cache key.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be hashed into a cache key",
        label = "this argument's type does not implement `serde::Serialize`",
        note = "derive `serde::Serialize` for it, or leave the argument out of the key with `#[cached(cache = ..., skip(name))]`"
    )]
    pub trait KeyArgument {}
    impl<T: Serialize + ?Sized> KeyArgument for T {}

    /// Checks an argument at compile time.
    pub fn assert_key_argument<T: KeyArgument + ?Sized>(_: &T) {}

    /// Values that can be stored.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be stored in a cache",
        label = "the return type must implement `serde::Serialize` and `serde::de::DeserializeOwned`",
        note = "derive `serde::Serialize` and `serde::Deserialize` for it; borrowed data such as `&str` cannot be cached, return an owned `String` instead"
    )]
    pub trait CachedValue {}
    impl<T: Serialize + DeserializeOwned> CachedValue for T {}

    /// Checks a return type at compile time.
    pub fn assert_cached_value<T: CachedValue>() {}

    /// `Result`s whose `Ok` can be stored and whose `Err` can carry a cache
    /// error.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be returned from a #[cached] function",
        label = "the `Ok` type must implement `Serialize` and `DeserializeOwned`, and the error type must implement `From<redis_func_cache::Error>`",
        note = "cache errors (a no-exec miss, a propagated store error) reach the caller through `From<redis_func_cache::Error>`"
    )]
    pub trait CachedResult {}
    impl<T: Serialize + DeserializeOwned, E: From<Error>> CachedResult for Result<T, E> {}

    /// Checks a `Result` return type at compile time.
    pub fn assert_cached_result<T: CachedResult>() {}

    /// Pins an async block's output type, so `?` inside it infers.
    pub fn typed_future<T, F: Future<Output = T>>(future: F) -> F {
        future
    }

    /// Unwraps the result of a plain-value function (see the Panics section
    /// of `cached`).
    #[track_caller]
    pub fn unwrap_cache_result<T>(result: Result<T, Error>) -> T {
        match result {
            Ok(value) => value,
            Err(e) => panic!(
                "a #[cached] function returning a plain value got a cache error: {e}. \
                 Return Result<T, E> with E: From<redis_func_cache::Error> to handle it."
            ),
        }
    }
}
