//! The shared test servers (feature `test-server`) and the differential
//! checks.
#![allow(dead_code, unused_imports)]

pub mod differential;

pub use redis_func_cache_redis::test_server::{
    ClusterServers, CommandStats, Monitor, OwnedServer, Server, command_stats, connected_fred,
};

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_redis::RedisStore;

/// The conformance harness for a store on a real server: time passes by
/// sleeping, and TTLs are checked in units of 100 ms.
pub struct RealTime<S>(pub S);

impl<S: redis_func_cache_core::Store> redis_func_cache_core::conformance::Harness for RealTime<S> {
    type Store = S;
    fn store(&self) -> &S {
        &self.0
    }
    fn advance(&self, by: std::time::Duration) {
        std::thread::sleep(by);
    }
    fn tick(&self) -> std::time::Duration {
        std::time::Duration::from_millis(100)
    }
}

/// A store on the server at `url` for each client, named: redis-rs's, and
/// fred's connected at once.
pub fn stores_of_both_clients(url: &str) -> Vec<(&'static str, AnyStore)> {
    vec![
        ("redis-rs", AnyStore::new(RedisStore::open(url).unwrap())),
        ("fred", AnyStore::new(connected_fred(url))),
    ]
}

/// A two-worker tokio runtime for the async faces of the tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs each of `runs` on a thread of its own, all at once, and waits for
/// them all; a panic in any is re-raised here, so it fails the test. For
/// cases that mostly wait (sleeps, timeouts, fault windows): side by side
/// they take the time of the longest. Each thread has 32 MiB of stack, as
/// TLS handshakes nest deep in debug builds.
pub fn side_by_side<'a>(runs: Vec<Box<dyn FnOnce() + Send + 'a>>) {
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = runs
            .into_iter()
            .map(|run| {
                std::thread::Builder::new()
                    .stack_size(32 << 20)
                    .spawn_scoped(scope, run)
                    .unwrap()
            })
            .collect();
        threads.into_iter().map(|thread| thread.join()).collect()
    });
    for outcome in outcomes {
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// `CONFIG SET` of each (name, value) on one connection.
pub fn config_set(con: &mut redis::Connection, settings: &[(&str, &str)]) {
    for (name, value) in settings {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(con)
            .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
    }
}

/// How a test calls a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Sync,
    /// Async on a tokio runtime: the connection of that runtime.
    Tokio,
    /// Async on another executor: the connection of the store's runtime.
    OtherExecutor,
}

impl Face {
    pub const ALL: [Face; 3] = [Face::Sync, Face::Tokio, Face::OtherExecutor];

    /// `cache`'s call of `func(k) = k + 1`, made this way (`runtime` for
    /// [`Face::Tokio`]); panics on an error.
    pub fn call_plus_one<S: redis_func_cache_core::Store>(
        self,
        cache: &redis_func_cache_core::FuncCache<S>,
        runtime: &tokio::runtime::Runtime,
        func: &redis_func_cache_core::FuncId,
        k: u32,
    ) -> u32 {
        match self {
            Face::Sync => cache.call(func, &k, || k + 1),
            Face::Tokio => runtime.block_on(cache.call_async(func, &k, async || k + 1)),
            Face::OtherExecutor => {
                futures::executor::block_on(cache.call_async(func, &k, async || k + 1))
            }
        }
        .unwrap()
    }
}

/// Whether a read on a socket with a read timeout only ran out of time.
pub fn read_timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
