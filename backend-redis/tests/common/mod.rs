//! The shared test servers (feature `test-server`) and the differential
//! checks.
#![allow(dead_code, unused_imports)]

pub mod differential;

pub use redis_func_cache_redis::test_server::{ClusterServers, Monitor, Server, connected_fred};

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

/// A two-worker tokio runtime for the async faces of the tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
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
