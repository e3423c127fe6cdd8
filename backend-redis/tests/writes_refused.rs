//! A server that takes no writes but still reads: one out of memory under
//! `noeviction`, a read-only replica (a primary that a failover demoted,
//! the store keeping its connections to it, or a store pointed at a
//! replica), a primary short of `min-replicas-to-write` and one that cannot
//! save its data (a full disk). Such a server refuses every function that
//! may write (`OOM`, `READONLY`, `NOREPLICAS`, `MISCONF`), whatever the
//! call would do, but runs a
//! script and refuses only the writes in it; so hits are served, a miss
//! returns the function's result (its put is refused, one backend error),
//! and the store pays one refused `FCALL` per period, not one per call. On
//! both clients, sync and async, for every policy.

mod common;

use std::time::{Duration, Instant};

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{EvictionPolicy, FuncCache, FuncId, StatsSnapshot};
use redis_func_cache_policies::{
    FifoPolicy, LfuPolicy, LruPolicy, MruPolicy, RrPolicy, S3FifoPolicy, SievePolicy, TLruPolicy,
};

static F: FuncId = FuncId::new("tests::replica", "f", 1);

/// Entries each cache holds before the failover.
const ENTRIES: u32 = 10;
/// How long a replica may take to sync or to report a role.
const SYNC_LIMIT: Duration = Duration::from_secs(20);

fn cache(name: &str, policy: &str, store: &AnyStore) -> FuncCache<AnyStore> {
    fn build(name: String, policy: impl EvictionPolicy, store: &AnyStore) -> FuncCache<AnyStore> {
        FuncCache::builder(name)
            .policy(policy)
            .maxsize(100)
            .store(store.clone())
            .build()
            .unwrap()
    }
    let name = format!("{name}-{policy}");
    match policy {
        "lru" => build(name, LruPolicy, store),
        "mru" => build(name, MruPolicy, store),
        "fifo" => build(name, FifoPolicy, store),
        "lfu" => build(name, LfuPolicy, store),
        "rr" => build(name, RrPolicy, store),
        "tlru" => build(name, TLruPolicy, store),
        "s3fifo" => build(name, S3FifoPolicy, store),
        "sieve" => build(name, SievePolicy, store),
        // A cache that takes leases (SPEC §9): a replica refuses the lease
        // too, and the miss is a plain one.
        "lru-leased" => FuncCache::builder(name)
            .policy(LruPolicy)
            .maxsize(100)
            .lease(Duration::from_secs(5))
            .store(store.clone())
            .build()
            .unwrap(),
        other => panic!("no policy {other}"),
    }
}

const POLICIES: [&str; 9] = [
    "lru",
    "mru",
    "fifo",
    "lfu",
    "rr",
    "tlru",
    "s3fifo",
    "sieve",
    "lru-leased",
];

/// Replication through memory only, at once: a primary sends its snapshot
/// over the socket without waiting for more replicas (by default it waits
/// 5 s), and a replica loads it from there instead of writing `dump.rdb`
/// in the test's directory.
fn replicate_in_memory(con: &mut redis::Connection) {
    common::config_set(
        con,
        &[
            ("repl-diskless-sync", "yes"),
            ("repl-diskless-sync-delay", "0"),
            ("repl-diskless-load", "swapdb"),
        ],
    );
}

/// `REPLICAOF` host port, or `NO ONE` for `None`.
fn replica_of(con: &mut redis::Connection, primary: Option<u16>) {
    let cmd = match primary {
        Some(port) => redis::cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(port)
            .to_owned(),
        None => redis::cmd("REPLICAOF").arg("NO").arg("ONE").to_owned(),
    };
    let _: () = cmd.query(con).unwrap();
}

/// Waits until the replica on `con` has synced with its primary.
fn wait_synced(con: &mut redis::Connection) {
    let start = Instant::now();
    loop {
        let info: String = redis::cmd("INFO").arg("replication").query(con).unwrap();
        if info.contains("master_link_status:up") {
            return;
        }
        assert!(start.elapsed() < SYNC_LIMIT, "not synced: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A number field of `INFO replication`.
fn replication_field(con: &mut redis::Connection, name: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg("replication").query(con).unwrap();
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// Waits until the replica on `replica` has processed every write the
/// primary on `primary` took so far. (`WAIT` waits only for the writes of
/// its own connection, and the stores wrote on theirs.)
fn wait_replicated(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    let offset = replication_field(primary, "master_repl_offset");
    let start = Instant::now();
    while replication_field(replica, "slave_repl_offset") < offset {
        assert!(
            start.elapsed() < SYNC_LIMIT,
            "the replica lags behind {offset}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn diff(after: StatsSnapshot, before: StatsSnapshot) -> (u64, u64, u64, u64) {
    (
        after.hits - before.hits,
        after.misses - before.misses,
        after.writes - before.writes,
        after.backend_errors - before.backend_errors,
    )
}

/// A cache of every policy on each store, filled with `k * 3` for
/// `k < ENTRIES`.
fn filled_caches(
    stores: &[(&'static str, AnyStore)],
) -> Vec<(&'static str, &'static str, FuncCache<AnyStore>)> {
    let mut caches = Vec::new();
    for (client, store) in stores {
        for policy in POLICIES {
            let cache = cache(client, policy, store);
            for k in 0..ENTRIES {
                let _: u32 = cache.call(&F, &k, || k * 3).unwrap();
            }
            let writes = cache.stats().writes;
            assert_eq!(writes, u64::from(ENTRIES), "{client} {policy}");
            caches.push((*client, policy, cache));
        }
    }
    caches
}

/// Every cache, filled with `k * 3` for `k < ENTRIES` and now on a server
/// that refuses writes (`con`), serves its hits, sync and async; a miss
/// costs one backend error (the refused put); and each store's calls were
/// refused as functions once per period at most.
fn hits_served_writes_refused(
    caches: &[(&str, &str, FuncCache<AnyStore>)],
    con: &mut redis::Connection,
    runtime: &tokio::runtime::Runtime,
) {
    let fcalls_before = common::command_stats(con, "fcall");
    let refused_from = Instant::now();
    for (client, policy, cache) in caches {
        let before = cache.stats();
        for k in 0..ENTRIES {
            let v: u32 = cache
                .call(&F, &k, || {
                    unreachable!("{client} {policy}: a sync miss, writes refused")
                })
                .unwrap();
            assert_eq!(v, k * 3, "{client} {policy}");
            let v: u32 = runtime
                .block_on(cache.call_async(&F, &k, async || {
                    unreachable!("{client} {policy}: an async miss, writes refused")
                }))
                .unwrap();
            assert_eq!(v, k * 3, "{client} {policy}");
        }
        assert_eq!(
            diff(cache.stats(), before),
            (2 * u64::from(ENTRIES), 0, 0, 0),
            "{client} {policy}: (hits, misses, writes, backend errors), writes refused"
        );
        // A miss returns the function's result; only its put is refused.
        let before = cache.stats();
        let v: u32 = cache.call(&F, &1000u32, || 7).unwrap();
        assert_eq!(v, 7);
        let v: u32 = runtime
            .block_on(cache.call_async(&F, &1001u32, async || 8))
            .unwrap();
        assert_eq!(v, 8);
        assert_eq!(
            diff(cache.stats(), before),
            (0, 2, 0, 2),
            "{client} {policy}: two misses, their puts refused"
        );
    }
    // Each store's first call was refused as a function; the rest went as
    // scripts (one more refusal per store per period, on a slow machine).
    let periods = 1 + refused_from.elapsed().as_secs() / 10;
    let refused = common::command_stats(con, "fcall").rejected_calls - fcalls_before.rejected_calls;
    assert!(
        (1..=2 * periods).contains(&refused),
        "{refused} refused FCALLs in {periods} periods of two stores"
    );
}

/// Every cache stores a miss again: a miss, its put, then a hit.
fn writes_taken_again(caches: &[(&str, &str, FuncCache<AnyStore>)]) {
    for (client, policy, cache) in caches {
        let before = cache.stats();
        let _: u32 = cache.call(&F, &3000u32, || 5).unwrap();
        let v: u32 = cache.call(&F, &3000u32, || unreachable!()).unwrap();
        assert_eq!(v, 5);
        assert_eq!(
            diff(cache.stats(), before),
            (1, 1, 1, 0),
            "{client} {policy}: writes taken again"
        );
    }
}

#[test]
fn a_demoted_primary_serves_hits_and_the_new_primary_caches() {
    let a = common::Server::start();
    let b = common::Server::start();
    let (mut con_a, mut con_b) = (a.connection(), b.connection());
    replicate_in_memory(&mut con_a);
    replicate_in_memory(&mut con_b);
    replica_of(&mut con_b, Some(a.port()));
    wait_synced(&mut con_b);
    let runtime = common::runtime();

    // Every cache fills on A, the primary.
    let caches = filled_caches(&common::stores_of_both_clients(&a.url));
    wait_replicated(&mut con_a, &mut con_b);

    // The failover: B is promoted, A becomes its replica, and the stores
    // keep their connections to A.
    replica_of(&mut con_b, None);
    replica_of(&mut con_a, Some(b.port()));
    wait_synced(&mut con_a);

    hits_served_writes_refused(&caches, &mut con_a, &runtime);

    // Stores on B, the new primary, find the entries and cache again.
    for (client, store) in common::stores_of_both_clients(&b.url) {
        for policy in POLICIES {
            let cache = cache(client, policy, &store);
            for k in 0..ENTRIES {
                let v: u32 = cache
                    .call(&F, &k, || unreachable!("{client} {policy}: a miss on B"))
                    .unwrap();
                assert_eq!(v, k * 3, "{client} {policy}");
            }
            let _: u32 = cache.call(&F, &2000u32, || 9).unwrap();
            let v: u32 = cache.call(&F, &2000u32, || unreachable!()).unwrap();
            assert_eq!(v, 9);
            let stats = cache.stats();
            assert_eq!(
                (stats.hits, stats.misses, stats.writes, stats.backend_errors),
                (u64::from(ENTRIES) + 1, 1, 1, 0),
                "{client} {policy} on the new primary"
            );
        }
    }
}

/// A store opened on a replica that never had the functions: the load is
/// refused there too (`READONLY`), and hits are served all the same.
#[test]
fn a_store_on_a_fresh_replica_serves_hits() {
    let primary = common::Server::start();
    let replica = common::Server::start();
    let mut con_r = replica.connection();
    let mut con_p = primary.connection();
    replicate_in_memory(&mut con_r);
    replicate_in_memory(&mut con_p);
    replica_of(&mut con_r, Some(primary.port()));
    wait_synced(&mut con_r);
    // The primary's functions are flushed after the entries are written,
    // and the flush reaches the replica.
    for (client, store) in common::stores_of_both_clients(&primary.url) {
        let writer = cache(client, "lru", &store);
        for k in 0..ENTRIES {
            let _: u32 = writer.call(&F, &k, || k + 1).unwrap();
        }
    }
    let _: () = redis::cmd("FUNCTION")
        .arg("FLUSH")
        .query(&mut con_p)
        .unwrap();
    wait_replicated(&mut con_p, &mut con_r);
    for (client, store) in common::stores_of_both_clients(&replica.url) {
        let reader = cache(client, "lru", &store);
        for k in 0..ENTRIES {
            let v: u32 = reader
                .call(&F, &k, || unreachable!("{client}: a miss on the replica"))
                .unwrap();
            assert_eq!(v, k + 1, "{client}");
        }
        assert_eq!(reader.stats().backend_errors, 0, "{client}");
    }
}

/// A primary short of the replicas `min-replicas-to-write` asks for
/// refuses writes (`NOREPLICAS`) and still serves hits; once it has them
/// again, misses are stored again.
#[test]
fn a_primary_short_of_replicas_serves_hits() {
    let server = common::Server::start();
    let mut con = server.connection();
    let runtime = common::runtime();
    let caches = filled_caches(&common::stores_of_both_clients(&server.url));
    common::config_set(&mut con, &[("min-replicas-to-write", "1")]);
    hits_served_writes_refused(&caches, &mut con, &runtime);
    common::config_set(&mut con, &[("min-replicas-to-write", "0")]);
    writes_taken_again(&caches);
}

/// A server out of memory under `noeviction` refuses writes (`OOM`) and
/// still serves hits: only the hit rule's updates and the puts are lost.
#[test]
fn a_server_out_of_memory_serves_hits() {
    let server = common::Server::start();
    let mut con = server.connection();
    let runtime = common::runtime();
    let caches = filled_caches(&common::stores_of_both_clients(&server.url));
    common::config_set(
        &mut con,
        &[("maxmemory-policy", "noeviction"), ("maxmemory", "1")],
    );
    hits_served_writes_refused(&caches, &mut con, &runtime);
    common::config_set(&mut con, &[("maxmemory", "0")]);
}

/// Makes the server on `con` refuse writes as one whose disk failed does
/// (`MISCONF`): with snapshots on and `stop-writes-on-bgsave-error` (the
/// default), a `BGSAVE` into a directory that is gone fails. Returns what
/// [`able_to_save`] needs to undo it.
fn unable_to_save(con: &mut redis::Connection, name: &str) -> (String, std::path::PathBuf) {
    let was: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query(con)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("rfc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    common::config_set(con, &[("dir", dir.to_str().unwrap()), ("save", "3600 1")]);
    std::fs::remove_dir_all(&dir).unwrap();
    let _: () = redis::cmd("BGSAVE").query(con).unwrap();
    wait_bgsave(con, "err");
    let refused = redis::cmd("SET").arg("probe").arg(1).query::<()>(con);
    let refusal = refused.expect_err("a SET after a failed BGSAVE");
    assert_eq!(refusal.code(), Some("MISCONF"), "{refusal}");
    (was[1].clone(), dir)
}

/// Undoes [`unable_to_save`]: a `BGSAVE` that succeeds lets writes in.
fn able_to_save(con: &mut redis::Connection, (was, dir): (String, std::path::PathBuf)) {
    std::fs::create_dir_all(&dir).unwrap();
    common::config_set(con, &[("dir", dir.to_str().unwrap())]);
    let _: () = redis::cmd("BGSAVE").query(con).unwrap();
    wait_bgsave(con, "ok");
    common::config_set(con, &[("save", ""), ("dir", &was)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Waits until no `BGSAVE` runs and the last one ended with `status`.
fn wait_bgsave(con: &mut redis::Connection, status: &str) {
    let start = Instant::now();
    loop {
        let info: String = redis::cmd("INFO").arg("persistence").query(con).unwrap();
        if info.contains("rdb_bgsave_in_progress:0")
            && info.contains(&format!("rdb_last_bgsave_status:{status}"))
        {
            return;
        }
        assert!(
            start.elapsed() < SYNC_LIMIT,
            "no BGSAVE ended {status}: {info}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server that cannot save its data (`MISCONF`, as on a full disk)
/// refuses every function that may write, and still serves hits; once it
/// saves again, misses are stored again.
#[test]
fn a_server_that_cannot_save_serves_hits() {
    let server = common::OwnedServer::start();
    let mut con = server.connection();
    let runtime = common::runtime();
    let caches = filled_caches(&common::stores_of_both_clients(&server.url));
    let undo = unable_to_save(&mut con, "cannot-save");
    hits_served_writes_refused(&caches, &mut con, &runtime);
    able_to_save(&mut con, undo);
    writes_taken_again(&caches);
}

/// A server without the functions (flushed, or new) that cannot save its
/// data refuses their load (`MISCONF`). That refusal passes: the stores
/// serve hits as scripts meanwhile, and once the server saves again, their
/// calls go as functions again, within a period of the refusal.
#[test]
fn a_load_refused_by_a_server_that_cannot_save_is_tried_again() {
    let server = common::OwnedServer::start();
    let mut con = server.connection();
    let runtime = common::runtime();
    let caches = filled_caches(&common::stores_of_both_clients(&server.url));
    let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut con).unwrap();
    let undo = unable_to_save(&mut con, "load-refused");
    let loads_before = common::command_stats(&mut con, "function|load");
    for (client, policy, cache) in &caches {
        for k in 0..ENTRIES {
            let v: u32 = cache
                .call(&F, &k, || unreachable!("{client} {policy}: a miss"))
                .unwrap();
            assert_eq!(v, k * 3, "{client} {policy}");
        }
    }
    let loads = common::command_stats(&mut con, "function|load");
    assert!(
        loads.rejected_calls > loads_before.rejected_calls,
        "no FUNCTION LOAD was refused: {loads:?}"
    );
    able_to_save(&mut con, undo);
    let refused_at = Instant::now();

    // Within a period (and a margin for a slow machine), every store's
    // calls are functions again: each hit is one successful FCALL.
    let limit = refused_at + Duration::from_secs(10 + 10);
    for (client, policy, cache) in &caches {
        loop {
            let fcalls = common::command_stats(&mut con, "fcall");
            let v: u32 = runtime
                .block_on(cache.call_async(&F, &1u32, async || {
                    unreachable!("{client} {policy}: an async miss")
                }))
                .unwrap();
            assert_eq!(v, 3, "{client} {policy}");
            let after = common::command_stats(&mut con, "fcall");
            if after.calls == fcalls.calls + 1 && after.failed_calls == fcalls.failed_calls {
                break;
            }
            assert!(
                Instant::now() < limit,
                "{client} {policy}: calls still go as scripts {:?} after the server saved again",
                refused_at.elapsed()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    writes_taken_again(&caches);
}
