//! The Redis store of `redis-func-cache`, on the `redis` crate.
//!
//! Each policy description is carried out by three Lua scripts, so a hit is
//! one round trip (the get script) and a miss two (the get script, then the
//! put script that evicts, inserts and sets the TTL).
//! Scripts touch only the two keys of a pair, passed as `KEYS`; values
//! travel only as `ARGV`. Each script is sent as a Redis Function (`FCALL`
//! of a library named after its SHA1, loaded on first use), which costs the
//! server less per call than `EVALSHA`; a server or user without functions
//! gets `EVALSHA`. After `FUNCTION FLUSH`, `SCRIPT FLUSH`, a restart or a
//! failover, the function or the script is loaded again.
//!
//! ```no_run
//! use redis_func_cache::{FuncCache, FuncId};
//! use redis_func_cache::LruPolicy;
//! use redis_func_cache::RedisStore;
//!
//! static FIB: FuncId = FuncId::with_version(module_path!(), "fib", "1");
//! let store = RedisStore::open("redis://127.0.0.1:6379/").unwrap();
//! let cache = FuncCache::builder("my-first-lru-cache").policy(LruPolicy).store(store).build().unwrap();
//! let v: u64 = cache.call(&FIB, &10u64, || 55).unwrap();
//! ```
#![warn(missing_docs)]

#[cfg(feature = "fred")]
mod fred_link;
#[cfg(feature = "fred")]
mod fred_nodes;
#[cfg(feature = "fred")]
mod fred_store;
mod guard;
#[cfg(feature = "redis-rs")]
mod redis_rs;
#[cfg(feature = "redis-rs")]
mod renewal;
mod scripts;
#[cfg(feature = "redis-rs")]
mod sync_link;
#[cfg(feature = "test-server")]
pub mod test_server;
#[cfg(feature = "redis-rs")]
mod topology;

use std::time::Duration;

use redis_func_cache_core::KeyPair;
use redis_func_cache_core::breaker::BreakerOptions;

#[cfg(feature = "fred")]
pub use fred_store::FredStore;
#[cfg(feature = "redis-rs")]
pub use redis_rs::{RedisClusterStore, RedisStore};
#[doc(hidden)]
pub use scripts::{get_script_library, get_script_text};
#[cfg(feature = "redis-rs")]
pub use topology::{Cluster, Standalone, Topology};

const BACKEND: &str = "redis";

/// Options for the `with_options` constructors.
///
/// ```
/// use std::time::Duration;
/// use redis_func_cache::breaker::BreakerOptions;
/// use redis_func_cache::RedisOptions;
/// let options = RedisOptions::default()
///     .deadline(Duration::from_millis(100))
///     .breaker(BreakerOptions::default().failures_to_open(5));
/// assert_eq!(options.deadline, Duration::from_millis(100));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Most sync connections kept open (default 16).
    pub max_sync_connections: u32,
    /// The most one store operation may take (default 250 ms): connection
    /// check-out, connecting, sending and the reply, with any retries the
    /// client makes inside it. Past it the call fails open (SPEC §8).
    pub deadline: Duration,
    /// When the store's circuit breaker opens and how it probes.
    pub breaker: BreakerOptions,
    /// Send the scripts as Redis Functions (`FCALL`; default on), which
    /// costs the server less per call; off, every call is an `EVALSHA`.
    /// Turn it off on a server shared with users who may `FUNCTION LOAD`:
    /// a function is found by its name, which another user could load
    /// other code under, while a script is found by its text's SHA1.
    pub functions: bool,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            max_sync_connections: 16,
            deadline: Duration::from_millis(250),
            breaker: BreakerOptions::default(),
            functions: true,
        }
    }
}

impl RedisOptions {
    /// Sets [`max_sync_connections`](RedisOptions::max_sync_connections).
    pub fn max_sync_connections(mut self, connections: u32) -> Self {
        self.max_sync_connections = connections.max(1);
        self
    }

    /// Sets [`deadline`](RedisOptions::deadline).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`breaker`](RedisOptions::breaker).
    pub fn breaker(mut self, breaker: BreakerOptions) -> Self {
        self.breaker = breaker;
        self
    }

    /// Sets [`functions`](RedisOptions::functions).
    ///
    /// ```
    /// use redis_func_cache::RedisOptions;
    /// let scripts_only = RedisOptions::default().functions(false);
    /// assert!(!scripts_only.functions);
    /// assert!(RedisOptions::default().functions);
    /// ```
    pub fn functions(mut self, on: bool) -> Self {
        self.functions = on;
        self
    }
}

/// The pair an index key belongs to.
fn pair_of_index_key(key: &str) -> Option<KeyPair> {
    let base = key.strip_suffix(":0")?;
    Some(KeyPair::from_names(key.to_owned(), format!("{base}:1")))
}

/// Escapes the glob characters of `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
