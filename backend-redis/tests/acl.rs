//! The minimal ACL the README documents runs every operation of every
//! policy, layout and option, on both clients, sync and async, with errors
//! propagated (so a refused command fails the test); so does the same ACL
//! without functions (or without `FUNCTION LOAD`), where each store turns
//! to scripts on the first refusal.

mod common;

use std::time::Duration;

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{FuncCache, FuncId, OnStoreError};
use redis_func_cache_policies::{
    FifoPolicy, LfuMultiplePolicy, LruMultiplePolicy, LruPolicy, MruPolicy, RrPolicy, S3FifoPolicy,
    SievePolicy, TLruPolicy,
};
use redis_func_cache_redis::{FredStore, RedisOptions, RedisStore};

static F: FuncId = FuncId::new("acl", "f", 1);
static G: FuncId = FuncId::new("acl", "g", 1);

/// The ACL of README.md ("Operating it"), word for word.
const ACL: &str = "on >s3cret resetkeys ~redis_func_cache:* resetchannels -@all +@read +@write +@scripting +time +ping -@dangerous";

#[test]
fn every_operation_runs_as_a_user_with_the_documented_acl() {
    let (fcall, _) = every_operation_runs_as(ACL);
    assert!(fcall.calls > 1000, "sent as functions: {fcall:?}");
    assert_eq!(fcall.rejected_calls, 0, "{fcall:?}");
}

#[test]
fn every_operation_runs_as_a_user_without_functions() {
    let (fcall, evalsha) = every_operation_runs_as(&format!("{ACL} -fcall -function"));
    assert_eq!(fcall.calls, 0, "{fcall:?}");
    assert_eq!(
        fcall.rejected_calls, 2,
        "one refused FCALL per store turns it to scripts for good"
    );
    assert!(evalsha.calls > 1000, "sent as scripts: {evalsha:?}");
}

#[test]
fn every_operation_runs_as_a_user_who_may_not_load_functions() {
    // FCALL is allowed, finds no function, and the refused FUNCTION LOAD
    // turns each store to scripts for good.
    let (fcall, evalsha) = every_operation_runs_as(&format!("{ACL} -function|load"));
    assert_eq!(fcall.calls, 2, "one FCALL per store: {fcall:?}");
    assert_eq!(fcall.failed_calls, 2, "no function there: {fcall:?}");
    assert!(evalsha.calls > 1000, "sent as scripts: {evalsha:?}");
}

/// Runs every operation on a new server as a user with `acl`, and answers
/// what the server counted of `FCALL` and `EVALSHA`.
fn every_operation_runs_as(acl: &str) -> (common::CommandStats, common::CommandStats) {
    let server = common::Server::start();
    let mut admin = server.connection();
    let mut setuser = redis::cmd("ACL");
    setuser.arg("SETUSER").arg("cache");
    for rule in acl.split_whitespace() {
        setuser.arg(rule);
    }
    let _: () = setuser.query(&mut admin).unwrap();
    let url = server.url.replace("redis://", "redis://cache:s3cret@");
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (client, store) in [
        (
            "redis-rs",
            AnyStore::new(RedisStore::open(url.as_str()).unwrap()),
        ),
        ("fred", AnyStore::new(common::connected_fred(&url))),
    ] {
        let policies: Vec<(&str, redis_func_cache_core::Policy)> = vec![
            ("lru", redis_func_cache_core::Policy::of(&LruPolicy)),
            ("mru", redis_func_cache_core::Policy::of(&MruPolicy)),
            ("fifo", redis_func_cache_core::Policy::of(&FifoPolicy)),
            ("rr", redis_func_cache_core::Policy::of(&RrPolicy)),
            ("tlru", redis_func_cache_core::Policy::of(&TLruPolicy)),
            ("s3fifo", redis_func_cache_core::Policy::of(&S3FifoPolicy)),
            ("sieve", redis_func_cache_core::Policy::of(&SievePolicy)),
            (
                "lru-m",
                redis_func_cache_core::Policy::of(&LruMultiplePolicy),
            ),
            (
                "lfu-m",
                redis_func_cache_core::Policy::of(&LfuMultiplePolicy),
            ),
        ];
        for (name, policy) in policies {
            for entry_ttl in [false, true] {
                let builder = FuncCache::builder(format!("acl-{client}-{name}-{entry_ttl}"))
                    .policy(policy)
                    .maxsize(3)
                    .on_store_error(OnStoreError::Propagate)
                    .store(store.clone());
                let builder = if entry_ttl {
                    builder.entry_ttl(Duration::from_secs(60))
                } else {
                    builder
                };
                let cache = builder.build().unwrap();
                let what = format!("{client} {name} entry_ttl={entry_ttl}");
                for k in 0..5u32 {
                    let v: u32 = cache
                        .call(&F, &k, || k)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(v, k);
                    let _: u32 = cache
                        .call(&F, &k, || k)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    let _: u32 = cache
                        .call(&G, &k, || k)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                }
                let v: u32 = rt
                    .block_on(cache.call_async(&F, &9u32, || async { 9 }))
                    .unwrap_or_else(|e| panic!("{what} async: {e}"));
                assert_eq!(v, 9);
                cache.len(&F).unwrap_or_else(|e| panic!("{what} len: {e}"));
                cache
                    .purge_func(&G)
                    .unwrap_or_else(|e| panic!("{what} purge_func: {e}"));
                cache
                    .purge()
                    .unwrap_or_else(|e| panic!("{what} purge: {e}"));
                rt.block_on(cache.purge_async())
                    .unwrap_or_else(|e| panic!("{what} purge_async: {e}"));
                let stats = cache.stats();
                assert_eq!(stats.backend_errors, 0, "{what}");
                assert!(stats.hits > 0, "{what}");
            }
        }
    }
    (
        common::command_stats(&mut admin, "fcall"),
        common::command_stats(&mut admin, "evalsha"),
    )
}

/// A command refused inside a script (here `PTTL`, which a hit reads) is
/// the call's own error: it reaches the caller (errors propagated), the
/// call is sent once, not again as another form, and the store keeps its
/// form (an ACL refusal inside a function is not a refusal of functions).
#[test]
fn an_error_inside_a_script_is_sent_once_and_reaches_the_caller() {
    let server = common::Server::start();
    let mut admin = server.connection();
    let mut setuser = redis::cmd("ACL");
    setuser.arg("SETUSER").arg("cache");
    for rule in format!("{ACL} -pttl").split_whitespace() {
        setuser.arg(rule);
    }
    let _: () = setuser.query(&mut admin).unwrap();
    let url = server.url.replace("redis://", "redis://cache:s3cret@");
    let rt = common::runtime();
    for functions in [true, false] {
        let options = RedisOptions::default().functions(functions);
        for (client, store) in [
            (
                "redis-rs",
                AnyStore::new(RedisStore::with_options(url.as_str(), options.clone()).unwrap()),
            ),
            (
                "fred",
                AnyStore::new(FredStore::with_options(url.as_str(), options).unwrap()),
            ),
        ] {
            let what = format!("{client}, functions {functions}");
            let name = format!("script-error-{client}-{functions}");
            // The entry is written by a user who may read TTLs.
            let writer = FuncCache::builder(name.as_str())
                .fleet_stats_interval(None)
                .store(RedisStore::open(server.url.as_str()).unwrap())
                .build()
                .unwrap();
            let _: u32 = writer.call(&F, &1u32, || 1).unwrap();
            let reader = FuncCache::builder(name.as_str())
                .fleet_stats_interval(None)
                .on_store_error(OnStoreError::Propagate)
                .store(store)
                .build()
                .unwrap();
            // The first hits may load the script or function and connect;
            // the next ones show how one call is sent.
            let hit_sync = || reader.call(&F, &1u32, || 0u32);
            let hit_async = || rt.block_on(reader.call_async(&F, &1u32, || async { 0u32 }));
            assert!(hit_sync().is_err(), "{what}");
            assert!(hit_async().is_err(), "{what}");
            let monitor = common::Monitor::start(&server);
            // (Redis 7.0 names the script, not the command.)
            let refused = "can't run this command";
            let err = hit_sync().expect_err(&what);
            assert!(err.to_string().contains(refused), "{what}: {err}");
            let err = hit_async().expect_err(&what);
            assert!(err.to_string().contains(refused), "{what}: {err}");
            let form = if functions { "fcall" } else { "evalsha" };
            assert_eq!(monitor.client_commands(), [form, form], "{what}");
        }
    }
}
