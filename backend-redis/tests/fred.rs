//! The fred store on a standalone server: the conformance suite, the
//! differential checks against the memory store, and one round trip per hit.

mod common;

use common::RealTime;
use common::differential::{Check, run};
use redis_func_cache_core::conformance;
use redis_func_cache_core::policy::Layout;
use redis_func_cache_core::{FuncCache, FuncId, OnStoreError};
use redis_func_cache_policies::{LruPolicy, rules};

#[test]
fn fred_passes_the_suite_and_matches_the_memory_store() {
    let server = common::Server::start();
    let store = common::connected_fred(&server.url);
    let fred = RealTime(store.clone());
    conformance::run_all(&fred);
    let rt = common::runtime();
    rt.block_on(conformance::run_all_async(&fred));
    for rules in rules::DETERMINISTIC {
        run(&store, rules, Check::Identical, &Layout::ALL, 24);
    }
    for rules in [rules::RR, rules::TLRU] {
        run(&store, rules, Check::Invariants, &Layout::ALL, 24);
    }
}

#[test]
fn fred_hits_are_one_round_trip_and_survive_script_flush() {
    static F: FuncId = FuncId::new("fred", "f", 1);
    let server = common::Server::start();
    // No background fleet reports: MONITOR counts every command.
    let cache = FuncCache::builder("fred-trips")
        .fleet_stats_interval(None)
        .policy(LruPolicy)
        .maxsize(50)
        .on_store_error(OnStoreError::Propagate)
        .store(common::connected_fred(&server.url))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for k in 0..50u32 {
        let _: u32 = cache.call(&F, &k, || k).unwrap();
    }
    let _: u32 = cache.call(&F, &1u32, || 1).unwrap();
    let monitor = common::Monitor::start(&server);
    for k in 0..25u32 {
        let v: u32 = cache.call(&F, &k, || unreachable!()).unwrap();
        assert_eq!(v, k);
        let v: u32 = rt
            .block_on(cache.call_async(&F, &(k + 25), || async { unreachable!() }))
            .unwrap();
        assert_eq!(v, k + 25);
    }
    assert_eq!(
        monitor.client_commands(),
        vec!["fcall"; 50],
        "one FCALL per hit"
    );
    // After FUNCTION FLUSH and SCRIPT FLUSH, the refused FCALL loads the
    // function again and the call goes as EVALSHA, then EVAL on NOSCRIPT:
    // no caller sees either; the next hit is one FCALL again.
    for sync in [true, false] {
        for what in ["FUNCTION", "SCRIPT"] {
            let _: () = redis::cmd(what)
                .arg("FLUSH")
                .query(&mut server.connection())
                .unwrap();
        }
        let monitor = common::Monitor::start(&server);
        for _ in 0..2 {
            let v: u32 = if sync {
                cache.call(&F, &3u32, || unreachable!()).unwrap()
            } else {
                rt.block_on(cache.call_async(&F, &3u32, || async { unreachable!() }))
                    .unwrap()
            };
            assert_eq!(v, 3);
        }
        assert_eq!(
            monitor.client_commands(),
            ["fcall", "function", "evalsha", "eval", "fcall"],
            "sync: {sync}"
        );
    }
    assert_eq!(cache.stats().backend_errors, 0);
}

/// `open` returns while the server is down; `wait_connected` says within its
/// bound that it is not there yet, and succeeds once the server is up.
#[test]
fn wait_connected_is_bounded_and_succeeds_once_the_server_is_up() {
    use std::time::{Duration, Instant};
    let mut server = redis_func_cache_redis::test_server::OwnedServer::not_started();
    let store = redis_func_cache_redis::FredStore::open(&server.url).unwrap();
    let started = Instant::now();
    let err = store
        .wait_connected(Duration::from_millis(300))
        .expect_err("nothing listens yet");
    assert!(err.is_transient(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "bounded");
    server.restart();
    store
        .wait_connected(Duration::from_secs(10))
        .expect("connects once the server is up");
}
