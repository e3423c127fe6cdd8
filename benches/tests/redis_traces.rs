//! `replay` on Redis gives the same hits, misses and evictions as `replay` on
//! the memory store, for lru, mru, fifo, lfu, s3fifo and sieve, on every shared trace of
//! under 60,000 requests through redis-rs on one server at capacities 100
//! and 1000. The other clients and topologies, which the conformance and
//! differential tests also cover, replay the smaller traces only: each client
//! on a cluster the traces of under 20,000 requests at capacity 100 (where
//! most calls miss and evict), fred on one server those of under 10,000 at
//! both capacities. Every combination on every small trace took 11 minutes
//! on 2 cores, and the cluster replays on all small traces still 4 minutes:
//! too long for the suite.
//!
//! A replay is sequential (its order is the trace), so the replays of one
//! test run side by side, each under a cache name of its own: the servers,
//! not the round trips, bound the test's time.

use std::sync::Mutex;

use redis_func_cache_benches::{replay, trace};
use redis_func_cache_redis::test_server::{ClusterServers, Server};

/// The shared traces of under 60,000 requests.
fn small_traces() -> Vec<(String, Vec<i64>)> {
    traces_under(60_000, 9)
}

/// The shared traces of under `requests` requests; at least `expected`.
fn traces_under(requests: usize, expected: usize) -> Vec<(String, Vec<i64>)> {
    let dir = trace::default_dir();
    let traces: Vec<(String, Vec<i64>)> = trace::list(&dir)
        .unwrap_or_else(|e| panic!("the shared traces are needed: {e}"))
        .into_iter()
        .map(|p| (trace::name(&p), trace::load(&p, None).unwrap()))
        .filter(|(_, keys)| keys.len() < requests)
        .collect();
    assert!(
        traces.len() >= expected,
        "expected {expected} shared traces of under {requests} requests in {}, found {}",
        dir.display(),
        traces.len()
    );
    traces
}

/// The deterministic policies of SPEC §3.
const CLASSIC: [&str; 4] = ["lru", "mru", "fifo", "lfu"];
/// Those and SPEC §3.2's: replayed on one server through redis-rs and on the
/// cluster through fred, so each new policy meets both clients and both
/// topologies (the differential tests cover every combination).
const ALL_EXACT: [&str; 6] = ["lru", "mru", "fifo", "lfu", "s3fifo", "sieve"];

/// One replay to compare: a trace at a capacity through a policy.
struct Job<'a> {
    trace: &'a str,
    keys: &'a [i64],
    capacity: u64,
    word: &'static str,
}

/// Replays each of `traces` at `capacities` through `words`
/// in `layout` on memory and through `client`, eight replays at a time, and
/// demands equal counts.
fn same_on(
    traces: &[(String, Vec<i64>)],
    client: replay::Client,
    urls: &[String],
    cluster: bool,
    layout: &str,
    capacities: &[u64],
    words: &[&'static str],
) {
    let mut jobs = Vec::new();
    for (trace, keys) in traces {
        for &capacity in capacities {
            for &word in words {
                jobs.push(Job {
                    trace,
                    keys,
                    capacity,
                    word,
                });
            }
        }
    }
    // Longest first (the workers pop from the end), so the last replays
    // to finish are short ones and no worker is left with a long tail.
    jobs.sort_by_key(|job| job.keys.len());
    let expected = jobs.len();
    let queue = Mutex::new(jobs);
    let checked = Mutex::new(0usize);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                loop {
                    let Some(job) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    // A cache name per replay, so concurrent replays of one
                    // trace do not share a pair.
                    let label = format!("{}-{}-{}", job.trace, job.word, job.capacity);
                    let policy = replay::policy(job.word, layout).unwrap();
                    let memory =
                        replay::run_memory(&label, job.keys, policy, job.capacity).unwrap();
                    let redis = replay::run_on_redis(
                        &label,
                        job.keys,
                        policy,
                        job.capacity,
                        &replay::RedisTarget {
                            client,
                            urls,
                            cluster,
                        },
                        false,
                    )
                    .unwrap();
                    assert_eq!(
                        (redis.hits, redis.misses, redis.evictions),
                        (memory.hits, memory.misses, memory.evictions),
                        "{label} {layout} {client:?} cluster={cluster}: differs from memory"
                    );
                    assert!(memory.evictions > 0 || job.capacity >= 1000);
                    *checked.lock().unwrap() += 1;
                }
            });
        }
    });
    assert_eq!(*checked.lock().unwrap(), expected);
}

#[test]
fn redis_rs_on_one_server_equals_memory_on_the_small_traces() {
    let server = Server::start();
    same_on(
        &small_traces(),
        replay::Client::RedisRs,
        std::slice::from_ref(&server.url),
        false,
        "single",
        &[100, 1000],
        &ALL_EXACT,
    );
}

#[test]
fn fred_on_one_server_equals_memory_on_the_traces_under_10k() {
    let server = Server::start();
    same_on(
        &traces_under(10_000, 3),
        replay::Client::Fred,
        std::slice::from_ref(&server.url),
        false,
        "multiple",
        &[100, 1000],
        &CLASSIC,
    );
}

#[test]
fn the_cluster_through_redis_rs_equals_memory_on_the_traces_under_20k() {
    let cluster = ClusterServers::start_masters_only();
    same_on(
        &traces_under(20_000, 5),
        replay::Client::RedisRs,
        &cluster.urls,
        true,
        "cluster",
        &[100],
        &CLASSIC,
    );
}

#[test]
fn the_cluster_through_fred_equals_memory_on_the_traces_under_20k() {
    let cluster = ClusterServers::start_masters_only();
    same_on(
        &traces_under(20_000, 5),
        replay::Client::Fred,
        &cluster.urls,
        true,
        "cluster-multiple",
        &[100],
        &ALL_EXACT,
    );
}
