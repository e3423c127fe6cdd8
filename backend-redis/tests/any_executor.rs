//! Async calls work from any executor: inside `tokio::spawn` (through
//! `AnyStore`, whose futures are `Send`) and from a non-tokio executor
//! (`futures::executor::block_on`), on every store: memory, redis-rs on one
//! server and on a cluster, and fred.

mod common;

use std::sync::Arc;

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{FuncCache, FuncId};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::{LruClusterPolicy, LruPolicy};
use redis_func_cache_redis::{RedisClusterStore, RedisStore};

static F: FuncId = FuncId::new("any_executor", "f", 1);

fn caches(
    server: &common::Server,
    cluster: &common::ClusterServers,
) -> Vec<(&'static str, Arc<FuncCache<AnyStore>>)> {
    let build = |name: &str, store: AnyStore, clustered: bool| {
        let builder = FuncCache::builder(name).store(store);
        let cache = if clustered {
            builder.policy(LruClusterPolicy).build()
        } else {
            builder.policy(LruPolicy).build()
        };
        Arc::new(cache.unwrap())
    };
    vec![
        (
            "memory",
            build("exec-memory", AnyStore::new(MemoryStore::new()), false),
        ),
        (
            "redis-rs",
            build(
                "exec-redis",
                AnyStore::new(RedisStore::open(server.url.as_str()).unwrap()),
                false,
            ),
        ),
        (
            "redis-rs cluster",
            build(
                "exec-cluster",
                AnyStore::new(
                    RedisClusterStore::open_cluster(cluster.urls.iter().map(String::as_str))
                        .unwrap(),
                ),
                true,
            ),
        ),
        (
            "fred",
            build(
                "exec-fred",
                AnyStore::new(common::connected_fred(&server.url)),
                false,
            ),
        ),
        (
            "fred cluster",
            build(
                "exec-fred-cluster",
                AnyStore::new(common::connected_fred(&cluster.fred_url())),
                true,
            ),
        ),
    ]
}

#[test]
fn async_calls_work_in_tokio_spawn_and_outside_tokio() {
    let server = common::Server::start();
    let cluster = common::ClusterServers::start_masters_only();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (name, cache) in caches(&server, &cluster) {
        // Outside tokio altogether.
        let v: u32 =
            futures::executor::block_on(cache.call_async(&F, &1u32, || async { 3 })).unwrap();
        assert_eq!(v, 3);
        let hit: u32 =
            futures::executor::block_on(cache.call_async(&F, &1u32, || async { unreachable!() }))
                .unwrap();
        assert_eq!(hit, 3, "{name}");
        // Inside tokio::spawn: the future is Send.
        let spawned = cache.clone();
        let v: u32 = rt
            .block_on(rt.spawn(async move { spawned.call_async(&F, &2u32, || async { 6 }).await }))
            .unwrap()
            .unwrap();
        assert_eq!(v, 6);
        let spawned = cache.clone();
        let hit: u32 = rt
            .block_on(rt.spawn(async move {
                spawned
                    .call_async(&F, &2u32, || async { unreachable!() })
                    .await
            }))
            .unwrap()
            .unwrap();
        assert_eq!(hit, 6, "{name}");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.backend_errors), (2, 0), "{name}");
    }
}
