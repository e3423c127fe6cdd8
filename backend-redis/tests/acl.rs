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
use redis_func_cache_redis::RedisStore;

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
