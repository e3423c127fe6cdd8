//! What only a real server can show: key names, types and TTLs as SPEC §4
//! and §6 say, one round trip per hit, and SCRIPT FLUSH invisible to callers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{EvictionPolicy, FuncCache, FuncId, OnStoreError};
use redis_func_cache_policies::{
    FifoPolicy, LruClusterMultiplePolicy, LruClusterPolicy, LruMultiplePolicy, LruPolicy, RrPolicy,
    TLruPolicy,
};
use redis_func_cache_redis::{FredStore, RedisOptions, RedisStore};

static FIB: FuncId = FuncId::new("app::math", "fib", 0xabc);

fn scan_all(con: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("COUNT")
        .arg(1000)
        .clone()
        .iter(con)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    keys.sort();
    keys
}

#[test]
fn keys_are_named_typed_and_expire_as_specified() {
    let server = common::Server::start();
    let mut con = server.connection();
    let cases: Vec<(Box<dyn Fn(_) -> _>, &str, &str)> = vec![
        (
            Box::new(|b: redis_func_cache_core::FuncCacheBuilder<_>| b.policy(LruPolicy)),
            "redis_func_cache:my-cache:lru",
            "zset",
        ),
        (
            Box::new(|b| b.policy(LruMultiplePolicy)),
            "redis_func_cache:my-cache:lru-m:app::math:fib#0000000000000abc",
            "zset",
        ),
        (
            Box::new(|b| b.policy(LruClusterPolicy)),
            "redis_func_cache:{my-cache:lru-c}",
            "zset",
        ),
        (
            Box::new(|b| b.policy(LruClusterMultiplePolicy)),
            "redis_func_cache:my-cache:lru-cm:app::math:fib#{0000000000000abc}",
            "zset",
        ),
        (
            Box::new(|b| b.policy(RrPolicy)),
            "redis_func_cache:my-cache:rr",
            "set",
        ),
        (
            Box::new(|b| b.policy(TLruPolicy)),
            "redis_func_cache:my-cache:tlru",
            "zset",
        ),
    ];
    for (policy, base, index_type) in cases {
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        let store = RedisStore::open(server.url.as_str()).unwrap();
        // No fleet counters: this test lists every key the cache makes.
        let cache = policy(FuncCache::builder("my-cache").ttl(Duration::from_secs(120)))
            .fleet_stats_interval(None)
            .store(store)
            .build()
            .unwrap();
        let v: u32 = cache.call(&FIB, &7u32, || 13).unwrap();
        assert_eq!(v, 13);
        assert_eq!(
            scan_all(&mut con),
            [format!("{base}:0"), format!("{base}:1")]
        );
        let t0: String = redis::cmd("TYPE")
            .arg(format!("{base}:0"))
            .query(&mut con)
            .unwrap();
        let t1: String = redis::cmd("TYPE")
            .arg(format!("{base}:1"))
            .query(&mut con)
            .unwrap();
        assert_eq!((t0.as_str(), t1.as_str()), (index_type, "hash"), "{base}");
        for suffix in [":0", ":1"] {
            let pttl: i64 = redis::cmd("PTTL")
                .arg(format!("{base}{suffix}"))
                .query(&mut con)
                .unwrap();
            assert!(
                (110_000..=120_000).contains(&pttl),
                "{base}{suffix}: PTTL {pttl}"
            );
        }
        // The member is the 16 raw bytes of the invocation hash.
        let member = FIB.invocation_hash(&7u32).unwrap();
        let stored: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(format!("{base}:1"))
            .arg(&member.as_bytes()[..])
            .query(&mut con)
            .unwrap();
        assert!(stored.is_some());
    }
}

#[test]
fn a_fixed_ttl_does_not_slide_and_a_sliding_one_does() {
    let server = common::Server::start();
    let mut con = server.connection();
    let pttl = |con: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("PTTL").arg(key).query(con).unwrap()
    };
    for (slide, name) in [(false, "fixed"), (true, "sliding")] {
        let cache = FuncCache::builder(name)
            .ttl(Duration::from_millis(1500))
            .update_ttl(slide)
            .store(RedisStore::open(server.url.as_str()).unwrap())
            .build()
            .unwrap();
        let _: u32 = cache.call(&FIB, &1u32, || 1).unwrap();
        std::thread::sleep(Duration::from_millis(600));
        let _: u32 = cache.call(&FIB, &1u32, || 1).unwrap(); // a hit
        let _: u32 = cache.call(&FIB, &2u32, || 2).unwrap(); // a put
        let left = pttl(&mut con, &format!("redis_func_cache:{name}:lru:0"));
        if slide {
            assert!(left > 1200, "{name}: {left} ms left after a hit and a put");
        } else {
            assert!(
                left < 1000,
                "{name}: {left} ms left: the TTL must not slide"
            );
        }
    }
}

fn count_round_trips(policy: impl EvictionPolicy + Copy, async_calls: bool) {
    let server = common::Server::start();
    // No background fleet reports: MONITOR counts every command.
    let cache = FuncCache::builder("trips")
        .policy(policy)
        .fleet_stats_interval(None)
        .maxsize(50)
        .store(RedisStore::open(server.url.as_str()).unwrap())
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let call = |k: u32| -> u32 {
        if async_calls {
            rt.block_on(cache.call_async(&FIB, &k, || async move { k + 1 }))
                .unwrap()
        } else {
            cache.call(&FIB, &k, || k + 1).unwrap()
        }
    };
    // Warm-up: scripts loaded, connections made, cache exactly full (so
    // even a random-eviction cache holds every key called next).
    for k in 0..50 {
        call(k);
    }
    let _ = call(7); // the get script of a hit is loaded too
    let monitor = common::Monitor::start(&server);
    for k in 0..50 {
        assert_eq!(call(k), k + 1); // 50 hits
    }
    let sent = monitor.client_commands();
    assert_eq!(sent, vec!["fcall"; 50], "one FCALL per hit, nothing else");
    let evictions_before = cache.stats().evictions;
    let monitor = common::Monitor::start(&server);
    for k in 100..120 {
        assert_eq!(call(k), k + 1); // 20 misses, each evicting
    }
    let sent = monitor.client_commands();
    assert_eq!(sent, vec!["fcall"; 40], "two FCALL per miss, nothing else");
    assert_eq!(cache.stats().evictions - evictions_before, 20);
}

#[test]
fn one_round_trip_per_hit_and_two_per_miss_sync() {
    count_round_trips(LruPolicy, false);
    count_round_trips(TLruPolicy, false);
}

#[test]
fn one_round_trip_per_hit_and_two_per_miss_async() {
    count_round_trips(LruPolicy, true);
    count_round_trips(RrPolicy, true);
}

/// With `RedisOptions::functions(false)` every call is an `EVALSHA`, on
/// both clients, and no function is loaded.
#[test]
fn scripts_only_when_functions_are_off() {
    let server = common::Server::start();
    let options = RedisOptions::default().functions(false);
    let stores = [
        (
            "redis-rs",
            AnyStore::new(RedisStore::with_options(server.url.as_str(), options.clone()).unwrap()),
        ),
        (
            "fred",
            AnyStore::new(FredStore::with_options(server.url.as_str(), options).unwrap()),
        ),
    ];
    let rt = common::runtime();
    for (client, store) in stores {
        let cache = FuncCache::builder(format!("scripts-{client}"))
            .fleet_stats_interval(None)
            .store(store)
            .build()
            .unwrap();
        // The store's connections are made first (a new sync connection's
        // handshake sends a PING): only the calls' commands are counted.
        assert_eq!(cache.call(&FIB, &100u32, || 1).unwrap(), 1);
        let _: u32 = rt
            .block_on(cache.call_async(&FIB, &100u32, || async { 1 }))
            .unwrap();
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query(&mut server.connection())
            .unwrap();
        let monitor = common::Monitor::start(&server);
        for k in 0..3u32 {
            assert_eq!(cache.call(&FIB, &k, || k).unwrap(), k);
            let v = rt.block_on(cache.call_async(&FIB, &k, || async move { k }));
            assert_eq!(v.unwrap(), k);
        }
        assert_eq!(
            monitor.client_commands(),
            ["evalsha", "eval", "evalsha", "eval"]
                .into_iter()
                .chain(["evalsha"; 7])
                .collect::<Vec<_>>(),
            "{client}: 3 misses (the first loads both scripts with EVAL) and 3 hits"
        );
    }
    let libraries: Vec<redis::Value> = redis::cmd("FUNCTION")
        .arg("LIST")
        .query(&mut server.connection())
        .unwrap();
    assert!(libraries.is_empty(), "{libraries:?}");
}

/// Each get script is made for its policy from parts of one template
/// (scripts.rs): every one a valid policy can ask for, with and without the
/// TTL slide, per-entry TTLs and leases, compiles on the server, as a
/// script and as the function the store loads.
#[test]
fn every_get_script_compiles() {
    use redis_func_cache_core::policy::ScoreRule;
    use redis_func_cache_core::store::Expiry;
    use redis_func_cache_policies::{S3FifoPolicy, SievePolicy};
    let server = common::Server::start();
    let con = &mut server.connection();
    let mut rules = vec![RrPolicy.rules(), S3FifoPolicy.rules(), SievePolicy.rules()];
    for on_hit in [
        ScoreRule::Keep,
        ScoreRule::MaxPlusOne,
        ScoreRule::One,
        ScoreRule::Increment,
        ScoreRule::ClockMicros,
    ] {
        rules.push(redis_func_cache_core::PolicyRules {
            on_hit,
            ..LruPolicy.rules()
        });
    }
    let mut texts = std::collections::HashSet::new();
    for rules in &rules {
        rules.validate().unwrap();
        for flags in 0..8u8 {
            let expiry = Expiry {
                pair_ttl: Duration::from_secs(60),
                slide: flags & 1 != 0,
                entry_ttl: (flags & 2 != 0).then_some(Duration::from_secs(5)),
            };
            let text =
                redis_func_cache_redis::get_script_text(rules, &expiry, flags & 4 != 0).unwrap();
            let loaded: redis::RedisResult<String> =
                redis::cmd("SCRIPT").arg("LOAD").arg(text).query(con);
            assert!(loaded.is_ok(), "{rules:?} {expiry:?}: {loaded:?}\n{text}");
            let library =
                redis_func_cache_redis::get_script_library(rules, &expiry, flags & 4 != 0).unwrap();
            let loaded: redis::RedisResult<String> =
                redis::cmd("FUNCTION").arg("LOAD").arg(library).query(con);
            assert!(loaded.is_ok(), "{rules:?} {expiry:?}: {loaded:?}");
            texts.insert(text);
        }
    }
    // One text per policy path and set of words (S3-FIFO and SIEVE differ).
    assert_eq!(texts.len(), rules.len() * 8);
}

/// After `FUNCTION FLUSH` and `SCRIPT FLUSH`, the refused `FCALL` loads the
/// function again and the call goes as `EVALSHA`, then `EVAL` on
/// `NOSCRIPT`; the next hit is one `FCALL` again. Sync and async.
#[test]
fn a_flushed_function_is_loaded_again() {
    let server = common::Server::start();
    let admin = &mut server.connection();
    let store = RedisStore::open(server.url.as_str()).unwrap();
    let cache = FuncCache::builder("reload")
        .policy(LruPolicy)
        .fleet_stats_interval(None)
        .store(store)
        .build()
        .unwrap();
    let rt = common::runtime();
    let call = |sync: bool| -> u32 {
        if sync {
            cache.call(&FIB, &3u32, || 4).unwrap()
        } else {
            rt.block_on(cache.call_async(&FIB, &3u32, || async { 4 }))
                .unwrap()
        }
    };
    assert_eq!(call(true), 4);
    for sync in [true, false] {
        for what in ["FUNCTION", "SCRIPT"] {
            let _: () = redis::cmd(what).arg("FLUSH").query(admin).unwrap();
        }
        let monitor = common::Monitor::start(&server);
        assert_eq!(call(sync), 4);
        assert_eq!(call(sync), 4);
        assert_eq!(
            monitor.client_commands(),
            ["fcall", "function", "evalsha", "eval", "fcall"],
            "sync: {sync}"
        );
    }
    assert_eq!(cache.stats().backend_errors, 0);
}

#[test]
fn script_flush_during_calls_reaches_no_caller() {
    let server = common::Server::start();
    let cache = Arc::new(
        FuncCache::builder("flush")
            .maxsize(100)
            // Errors would reach the callers instead of being hidden.
            .on_store_error(OnStoreError::Propagate)
            .store(RedisStore::open(server.url.as_str()).unwrap())
            .build()
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (stop, mut con) = (stop.clone(), server.connection());
        std::thread::spawn(move || {
            let mut flushes = 0;
            while !stop.load(Ordering::Relaxed) {
                // Scripts and functions by turns: a flushed function is
                // loaded again, and meanwhile the call goes as a script.
                let what = if flushes % 2 == 0 {
                    "SCRIPT"
                } else {
                    "FUNCTION"
                };
                let _: () = redis::cmd(what).arg("FLUSH").query(&mut con).unwrap();
                flushes += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            flushes
        })
    };
    let sync_callers: Vec<_> = (0..4u32)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..400u32 {
                    let k = (i * 7 + t) % 150;
                    let v: u32 = cache
                        .call(&FIB, &k, || k * 2)
                        .expect("no caller sees NOSCRIPT");
                    assert_eq!(v, k * 2);
                }
            })
        })
        .collect();
    let rt = common::runtime();
    rt.block_on(async {
        let tasks: Vec<_> = (0..8u32)
            .map(|t| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    for i in 0..200u32 {
                        let k = (i * 13 + t) % 150;
                        let v: u32 = cache
                            .call_async(&FIB, &k, || async move { k * 2 })
                            .await
                            .expect("no task sees NOSCRIPT");
                        assert_eq!(v, k * 2);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    for c in sync_callers {
        c.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let flushes = flusher.join().unwrap();
    assert!(
        flushes > 10,
        "the scripts were flushed {flushes} times during the calls"
    );
    assert_eq!(cache.stats().backend_errors, 0);
}

#[test]
fn a_pair_missing_one_half_is_repaired_on_the_next_put() {
    // LRU checks the member with its ZADD; FIFO and RR, whose hits change no
    // score, check that the index key is there with the TTL read.
    for (word, policy) in [
        ("lru", redis_func_cache_core::Policy::of(&LruPolicy)),
        ("fifo", redis_func_cache_core::Policy::of(&FifoPolicy)),
        ("rr", redis_func_cache_core::Policy::of(&RrPolicy)),
    ] {
        a_pair_missing_its_index_is_repaired(word, policy);
    }
}

fn a_pair_missing_its_index_is_repaired(word: &str, policy: redis_func_cache_core::Policy) {
    let server = common::Server::start();
    let mut con = server.connection();
    let cache = FuncCache::builder("half")
        .policy(policy)
        .store(RedisStore::open(server.url.as_str()).unwrap())
        .build()
        .unwrap();
    for k in 0..3u32 {
        let _: u32 = cache.call(&FIB, &k, || k).unwrap();
    }
    // The index expires alone (as maxmemory eviction could do).
    let _: () = redis::cmd("DEL")
        .arg(format!("redis_func_cache:half:{word}:0"))
        .query(&mut con)
        .unwrap();
    // A value whose index entry is gone is not served.
    let v: u32 = cache.call(&FIB, &0u32, || 100).unwrap();
    assert_eq!(v, 100);
    let pair = cache.key_pair(&FIB);
    let contents = cache.store().contents(&pair).unwrap();
    assert_eq!(
        contents.index.len(),
        1,
        "the survivor was removed before the put"
    );
    assert_eq!(contents.values.len(), 1);
}

#[test]
fn unreachable_server_fails_open_by_default() {
    // A port nothing listens on: bind, take the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisStore::with_options(
        format!("redis://127.0.0.1:{port}/").as_str(),
        redis_func_cache_redis::RedisOptions::default().deadline(Duration::from_millis(300)),
    )
    .unwrap();
    let cache = FuncCache::builder("down").store(store).build().unwrap();
    let v: u32 = cache.call(&FIB, &1u32, || 5).unwrap();
    assert_eq!(v, 5);
    assert_eq!(
        cache.stats().backend_errors,
        1,
        "the read failed, and no write was tried after it"
    );
    let strict = FuncCache::builder("down")
        .on_store_error(OnStoreError::Propagate)
        .store(RedisStore::open(format!("redis://127.0.0.1:{port}/").as_str()).unwrap())
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(strict.call_async(&FIB, &1u32, || async { 5u32 }))
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[test]
fn urls_carry_a_user_and_password() {
    let server = common::Server::start();
    let mut admin = server.connection();
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "alice", "on", ">s3cret", "~*", "&*", "+@all"])
        .query(&mut admin)
        .unwrap();
    let port = server.port();
    let with = |user: &str, pass: &str| {
        FuncCache::builder("acl")
            .on_store_error(OnStoreError::Propagate)
            .store(
                RedisStore::open(format!("redis://{user}:{pass}@127.0.0.1:{port}/").as_str())
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let v: u32 = with("alice", "s3cret").call(&FIB, &1u32, || 9).unwrap();
    assert_eq!(v, 9);
    let err = with("alice", "wrong")
        .call(&FIB, &1u32, || 9u32)
        .unwrap_err();
    assert!(
        matches!(err, redis_func_cache_core::Error::Backend { .. }),
        "{err}"
    );
}

#[test]
fn a_store_outlives_the_runtime_that_first_used_it() {
    let server = common::Server::start();
    let cache = FuncCache::builder("runtimes")
        .on_store_error(OnStoreError::Propagate)
        .store(RedisStore::open(server.url.as_str()).unwrap())
        .build()
        .unwrap();
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v: u32 = first
        .block_on(cache.call_async(&FIB, &1u32, || async { 1 }))
        .unwrap();
    assert_eq!(v, 1);
    drop(first);
    // A later runtime, as a second #[tokio::test] or a new worker pool
    // would have, still gets answers.
    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let v: u32 = second
        .block_on(cache.call_async(&FIB, &1u32, || async { unreachable!("cached") }))
        .unwrap();
    assert_eq!(v, 1);
    // And dropping the last handle inside async code does not panic.
    second.block_on(async move { drop(cache) });
}
