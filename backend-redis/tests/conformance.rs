//! The shared conformance suite, on a real Redis server.

mod common;

use common::RealTime;
use redis_func_cache_core::conformance;
use redis_func_cache_redis::RedisStore;

#[test]
fn redis_store_passes_the_sync_suite() {
    let server = common::Server::start();
    conformance::run_all(&RealTime(RedisStore::open(server.url.as_str()).unwrap()));
}

#[test]
fn redis_store_passes_the_async_suite() {
    let server = common::Server::start();
    let harness = RealTime(RedisStore::open(server.url.as_str()).unwrap());
    let rt = common::runtime();
    rt.block_on(conformance::run_all_async(&harness));
}
