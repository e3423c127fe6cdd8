//! The shared conformance suite, on a real Redis server.

mod common;

use std::time::Duration;

use redis_func_cache_core::conformance::{self, Harness};
use redis_func_cache_redis::RedisStore;

struct Redis {
    _server: common::Server,
    store: RedisStore,
}

impl Redis {
    fn start() -> Self {
        let server = common::Server::start();
        let store = RedisStore::open(server.url.as_str()).unwrap();
        Redis {
            _server: server,
            store,
        }
    }
}

impl Harness for Redis {
    type Store = RedisStore;
    fn store(&self) -> &RedisStore {
        &self.store
    }
    fn advance(&self, by: Duration) {
        // The server's clock drives TTLs and tlru scores: let it move.
        std::thread::sleep(by);
    }
    fn tick(&self) -> Duration {
        Duration::from_millis(100)
    }
}

#[test]
fn redis_store_passes_the_sync_suite() {
    conformance::run_all(&Redis::start());
}

#[test]
fn redis_store_passes_the_async_suite() {
    let redis = Redis::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(conformance::run_all_async(&redis));
}
