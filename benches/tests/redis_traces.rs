//! `replay --backend redis` and `replay --backend memory` give identical hits
//! and evictions for lru, mru, fifo and lfu on every shared trace of under
//! 60,000 requests, at capacities 100 and 1000.

use redis_func_cache_benches::{replay, trace};
use redis_func_cache_redis::test_server::Server;

fn same_on_both_stores(word: &str) {
    let server = Server::start();
    let dir = trace::default_dir();
    let traces = trace::list(&dir).unwrap_or_else(|e| panic!("the shared traces are needed: {e}"));
    let mut checked = 0;
    for path in traces {
        let keys = trace::load(&path, None).unwrap();
        if keys.len() >= 60_000 {
            continue;
        }
        let name = trace::name(&path);
        for capacity in [100u64, 1000] {
            let policy = replay::policy(word, "single").unwrap();
            let memory = replay::run_memory(&name, &keys, policy, capacity).unwrap();
            let redis = replay::run_redis(&name, &keys, policy, capacity, &server.url).unwrap();
            assert_eq!(
                (redis.hits, redis.misses, redis.evictions),
                (memory.hits, memory.misses, memory.evictions),
                "{name} {word} capacity {capacity}: redis differs from memory"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 16,
        "expected the small shared traces in {}, checked {checked}",
        dir.display()
    );
}

#[test]
fn lru_redis_equals_memory_on_the_small_traces() {
    same_on_both_stores("lru");
}

#[test]
fn mru_redis_equals_memory_on_the_small_traces() {
    same_on_both_stores("mru");
}

#[test]
fn fifo_redis_equals_memory_on_the_small_traces() {
    same_on_both_stores("fifo");
}

#[test]
fn lfu_redis_equals_memory_on_the_small_traces() {
    same_on_both_stores("lfu");
}

/// The smallest shared traces, to keep the cluster runs short; the replay
/// command itself holds on every trace.
fn sample_traces() -> Vec<(String, Vec<i64>)> {
    let dir = trace::default_dir();
    let mut traces: Vec<(String, Vec<i64>)> = trace::list(&dir)
        .unwrap_or_else(|e| panic!("the shared traces are needed: {e}"))
        .into_iter()
        .map(|p| (trace::name(&p), trace::load(&p, None).unwrap()))
        .filter(|(_, keys)| keys.len() < 60_000)
        .collect();
    traces.sort_by_key(|(_, keys)| keys.len());
    traces.truncate(2);
    assert_eq!(
        traces.len(),
        2,
        "expected the small shared traces in {}",
        dir.display()
    );
    traces
}

fn same_through(client: replay::Client, urls: &[String], cluster: bool, layout: &str) {
    for (name, keys) in sample_traces() {
        for capacity in [100u64, 1000] {
            for word in ["lru", "mru", "fifo", "lfu"] {
                let policy = replay::policy(word, layout).unwrap();
                let memory = replay::run_memory(&name, &keys, policy, capacity).unwrap();
                let redis =
                    replay::run_on_redis(&name, &keys, policy, capacity, client, urls, cluster)
                        .unwrap();
                assert_eq!(
                    (redis.hits, redis.misses, redis.evictions),
                    (memory.hits, memory.misses, memory.evictions),
                    "{name} {word} {layout} capacity {capacity} {client:?}: differs from memory"
                );
            }
        }
    }
}

#[test]
fn fred_on_one_server_equals_memory_on_sampled_traces() {
    let server = Server::start();
    same_through(
        replay::Client::Fred,
        std::slice::from_ref(&server.url),
        false,
        "single",
    );
}

#[test]
fn the_cluster_through_redis_rs_equals_memory_on_sampled_traces() {
    let cluster = redis_func_cache_redis::test_server::ClusterServers::start();
    same_through(replay::Client::RedisRs, &cluster.urls, true, "cluster");
}

#[test]
fn the_cluster_through_fred_equals_memory_on_sampled_traces() {
    let cluster = redis_func_cache_redis::test_server::ClusterServers::start();
    same_through(
        replay::Client::Fred,
        &cluster.urls,
        true,
        "cluster-multiple",
    );
}
