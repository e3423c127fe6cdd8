//! Replays a trace through the public API: each key is one call of a cached
//! `f(key: i64) -> i64`, so hashing, encoding and the store all run.

use std::time::{Duration, Instant};

use redis_func_cache::{
    FredStore, FuncCache, FuncId, MemoryStore, Policy, RedisClusterStore, RedisOptions, RedisStore,
    Store, by_name,
};
use serde::Serialize;

/// The function every trace line calls.
pub static F: FuncId = FuncId::with_version(module_path!(), "f", "1");

/// What a replay measured: the line `--json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The trace's name.
    pub trace: String,
    /// The policy's key word.
    pub policy: String,
    /// The cache's maxsize.
    pub capacity: u64,
    /// The store.
    pub backend: String,
    /// The key layout.
    pub layout: String,
    /// Calls made.
    pub requests: u64,
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that ran the function.
    pub misses: u64,
    /// Entries evicted.
    pub evictions: u64,
    /// Store operations that failed (each call then ran uncached). A replay
    /// with any is reported as an error, not as a result.
    pub store_errors: u64,
    /// Wall time of the replay.
    pub seconds: f64,
    /// With `--fleet-stats`: the whole fleet's totals, read one reporting
    /// interval after this process flushed its own (in the JSON line as
    /// `fleet_hits`, `fleet_misses`, `fleet_writes`, `fleet_evictions`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetTotals>,
}

/// The fleet-wide counters of a cache (`FuncCache::fleet_stats`), as the
/// line `--fleet-stats` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FleetTotals {
    /// Hits of every process.
    pub fleet_hits: u64,
    /// Misses of every process.
    pub fleet_misses: u64,
    /// Writes of every process.
    pub fleet_writes: u64,
    /// Evictions reported by every process's puts.
    pub fleet_evictions: u64,
}

/// A policy from its `--policy` and `--layout` names, with a message that
/// lists the valid names.
pub fn policy(word: &str, layout: &str) -> Result<Policy, String> {
    by_name(word, layout).ok_or_else(|| {
        format!(
            "unknown policy {word:?} or layout {layout:?}: policies are lru, mru, fifo, lfu, rr, tlru, s3fifo, sieve; layouts are single, multiple, cluster, cluster-multiple"
        )
    })
}

/// Replays `keys` through a cache on `store`.
pub fn run<S: Store>(
    trace: &str,
    keys: &[i64],
    policy: Policy,
    capacity: u64,
    store: S,
    backend: &str,
    fleet: bool,
) -> Result<Report, String> {
    let cache = FuncCache::builder(format!("replay-{trace}"))
        .policy(policy)
        .maxsize(capacity)
        .store(store)
        .build()
        .map_err(|e| e.to_string())?;
    // A fleet replay shares the cache (and its counters) with the other
    // processes replaying beside it, so it purges nothing.
    if !fleet {
        cache.purge().map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    for &key in keys {
        let value: i64 = cache
            .call(&F, &key, || key)
            .map_err(|e| format!("call failed: {e}"))?;
        if value != key {
            return Err(format!("f({key}) returned {value}"));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = cache.stats();
    if stats.backend_errors > 0 {
        return Err(format!(
            "{} store operations failed during the replay ({} hits, {} misses of {} calls), so its numbers are not the policy's: the calls ran uncached. Is the server reachable, and is the layout right for it (a cluster needs --cluster and a cluster layout)?",
            stats.backend_errors,
            stats.hits,
            stats.misses,
            keys.len()
        ));
    }
    let fleet = if fleet {
        cache.flush_fleet_stats().map_err(|e| e.to_string())?;
        std::thread::sleep(redis_func_cache::DEFAULT_FLEET_INTERVAL);
        let totals = cache.fleet_stats().map_err(|e| e.to_string())?;
        Some(FleetTotals {
            fleet_hits: totals.hits,
            fleet_misses: totals.misses,
            fleet_writes: totals.writes,
            fleet_evictions: totals.evictions,
        })
    } else {
        None
    };
    Ok(Report {
        fleet,
        trace: trace.to_owned(),
        policy: policy_word(&policy),
        capacity,
        backend: backend.to_owned(),
        layout: redis_func_cache::EvictionPolicy::layout(&policy)
            .as_str()
            .to_owned(),
        requests: keys.len() as u64,
        hits: stats.hits,
        misses: stats.misses,
        evictions: stats.evictions,
        store_errors: stats.backend_errors,
        seconds,
    })
}

fn policy_word(policy: &Policy) -> String {
    redis_func_cache::EvictionPolicy::rules(policy)
        .word
        .to_owned()
}

/// Replays on a fresh memory store.
pub fn run_memory(
    trace: &str,
    keys: &[i64],
    policy: Policy,
    capacity: u64,
) -> Result<Report, String> {
    run(
        trace,
        keys,
        policy,
        capacity,
        MemoryStore::new(),
        "memory",
        false,
    )
}

/// Which Redis client the store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The `redis` crate.
    RedisRs,
    /// The `fred` crate.
    Fred,
}

impl Client {
    /// Parses `redis-rs` or `fred`.
    pub fn parse(text: &str) -> Result<Client, String> {
        match text {
            "redis-rs" => Ok(Client::RedisRs),
            "fred" => Ok(Client::Fred),
            other => Err(format!("unknown client {other:?}: use redis-rs or fred")),
        }
    }
}

/// Replays on the Redis server at `url`; the cache's pairs are purged first.
pub fn run_redis(
    trace: &str,
    keys: &[i64],
    policy: Policy,
    capacity: u64,
    url: &str,
) -> Result<Report, String> {
    run_on_redis(
        trace,
        keys,
        policy,
        capacity,
        &RedisTarget {
            client: Client::RedisRs,
            urls: &[url.to_owned()],
            cluster: false,
        },
        false,
    )
}

/// Which Redis a replay runs on.
#[derive(Debug, Clone, Copy)]
pub struct RedisTarget<'a> {
    /// The client the store uses.
    pub client: Client,
    /// One server (`urls[0]`), or nodes of the cluster.
    pub urls: &'a [String],
    /// Whether `urls` name cluster nodes.
    pub cluster: bool,
}

/// How long a replay's store operation may take. A replay counts every
/// call, and one that failed open spoils the counts, so it waits out a busy
/// machine (the stores' default deadline, 250 ms, is for serving
/// applications: a call that late should run its function instead). A
/// server that is down still fails the replay, within this.
pub const REPLAY_DEADLINE: Duration = Duration::from_secs(10);

/// The store options of a replay: [`REPLAY_DEADLINE`], the rest default.
fn replay_options() -> RedisOptions {
    RedisOptions::default().deadline(REPLAY_DEADLINE)
}

/// Replays on the Redis `target`. With `fleet`, nothing is purged and the
/// report carries the fleet's totals (`--fleet-stats`).
pub fn run_on_redis(
    trace: &str,
    keys: &[i64],
    policy: Policy,
    capacity: u64,
    target: &RedisTarget<'_>,
    fleet: bool,
) -> Result<Report, String> {
    let RedisTarget {
        client,
        urls,
        cluster,
    } = *target;
    let first = urls.first().ok_or("no Redis URL given")?;
    check_server_kind(first, cluster)?;
    let e = |e: redis_func_cache::Error| e.to_string();
    match (client, cluster) {
        (Client::RedisRs, false) => run(
            trace,
            keys,
            policy,
            capacity,
            RedisStore::with_options(first.as_str(), replay_options()).map_err(e)?,
            "redis",
            fleet,
        ),
        (Client::RedisRs, true) => {
            let store = RedisClusterStore::open_cluster_with_options(
                urls.iter().map(String::as_str),
                replay_options(),
            )
            .map_err(e)?;
            run(trace, keys, policy, capacity, store, "redis", fleet)
        }
        (Client::Fred, false) => run(
            trace,
            keys,
            policy,
            capacity,
            connected_fred(first)?,
            "redis",
            fleet,
        ),
        (Client::Fred, true) => {
            let store = connected_fred(&fred_cluster_url(urls)?)?;
            run(trace, keys, policy, capacity, store, "redis", fleet)
        }
    }
}

/// A fred store that has connected: a replay counts every call, so its
/// first calls must not fail open while the client is still connecting.
fn connected_fred(url: &str) -> Result<FredStore, String> {
    let store = FredStore::with_options(url, replay_options()).map_err(|e| e.to_string())?;
    store
        .wait_connected(Duration::from_secs(10))
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(store)
}

/// Says plainly when `--cluster` does not match the server, instead of the
/// client's error (`ClusterConnectionNotFound`) or a replay where every
/// call fails over. A server that cannot be asked is left to the store.
fn check_server_kind(url: &str, cluster: bool) -> Result<(), String> {
    let Ok(client) = redis::Client::open(url) else {
        return Ok(());
    };
    let Ok(mut conn) = client.get_connection_with_timeout(std::time::Duration::from_secs(2)) else {
        return Ok(());
    };
    let Ok(info) = redis::cmd("INFO").arg("cluster").query::<String>(&mut conn) else {
        return Ok(());
    };
    let enabled = info.contains("cluster_enabled:1");
    match (cluster, enabled) {
        (true, false) => Err(format!(
            "{url} is not a Redis Cluster node (INFO cluster says cluster_enabled:0): drop --cluster, and use the single or multiple layout"
        )),
        (false, true) => Err(format!(
            "{url} is a Redis Cluster node: add --cluster (and a cluster layout: --layout cluster or cluster-multiple) so calls reach the node that owns each pair"
        )),
        _ => Ok(()),
    }
}

/// fred's form of a cluster's nodes: `redis-cluster://first?node=second&...`.
pub fn fred_cluster_url(urls: &[String]) -> Result<String, String> {
    let hosts: Vec<&str> = urls
        .iter()
        .map(|u| u.trim_start_matches("redis://").trim_end_matches('/'))
        .collect();
    let (first, rest) = hosts.split_first().ok_or("no Redis URL given")?;
    let nodes: Vec<String> = rest.iter().map(|h| format!("node={h}")).collect();
    Ok(if nodes.is_empty() {
        format!("redis-cluster://{first}")
    } else {
        format!("redis-cluster://{first}?{}", nodes.join("&"))
    })
}
