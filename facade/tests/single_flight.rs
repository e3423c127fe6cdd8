//! SPEC §9, in process: concurrent calls that miss on the same arguments run
//! the function once; a failing, panicking or cancelled leader hands the work
//! to one waiter; recursion runs uncached; unrelated keys never wait on each
//! other. Every case runs on the memory store and on Redis through both
//! clients (each test starts its own server).
//!
//! Every wait in these tests is bounded: a flight that never lands fails the
//! test within seconds instead of hanging CI.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use redis_func_cache::{AnyStore, FuncCache, FuncId, LruPolicy, MemoryStore, RedisStore, cached};
use redis_func_cache_redis::test_server::{Server, connected_fred};

static F: FuncId = FuncId::new("single_flight", "f", 1);

/// How long a computation takes in these tests: long enough that every
/// caller started at once misses before the first result is stored.
const WORK: Duration = Duration::from_millis(150);
/// Longest any test waits for a caller before declaring it stuck.
const STUCK: Duration = Duration::from_secs(20);

type Cache = FuncCache<AnyStore>;

/// One cache per store: memory, redis-rs and fred on one fresh server.
fn caches(server: &Server, single_flight: bool) -> Vec<(&'static str, Arc<Cache>)> {
    let build = |name: &str, store: AnyStore| {
        let cache = FuncCache::builder(name)
            .policy(LruPolicy)
            .single_flight(single_flight)
            .store(store)
            .build()
            .unwrap();
        Arc::new(cache)
    };
    vec![
        (
            "memory",
            build("sf-memory", AnyStore::new(MemoryStore::new())),
        ),
        (
            "redis-rs",
            build(
                "sf-redis",
                AnyStore::new(RedisStore::open(server.url.as_str()).expect("redis opens")),
            ),
        ),
        (
            "fred",
            build(
                "sf-fred",
                AnyStore::new(connected_fred(server.url.as_str())),
            ),
        ),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Joins a thread, failing the test if it has not finished within [`STUCK`].
fn join_within<T: Send + 'static>(handle: thread::JoinHandle<T>) -> thread::Result<T> {
    let deadline = std::time::Instant::now() + STUCK;
    while !handle.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "a caller is stuck: single-flight deadlocked"
        );
        thread::sleep(Duration::from_millis(5));
    }
    handle.join()
}

#[test]
fn sixty_four_tasks_missing_one_key_run_the_function_once() {
    let server = Server::start();
    let rt = runtime();
    for (store, cache) in caches(&server, true) {
        let runs = Arc::new(AtomicUsize::new(0));
        let before = cache.stats();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                rt.spawn(async move {
                    cache
                        .call_async(&F, &7u32, || async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(WORK).await;
                            70u32
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let values = rt.block_on(async {
            tokio::time::timeout(STUCK, async {
                let mut values = Vec::new();
                for task in tasks {
                    values.push(task.await.unwrap());
                }
                values
            })
            .await
            .expect("no caller is stuck")
        });
        assert!(values.iter().all(|&v| v == 70), "{store}: {values:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{store}: runs");
        let counted = cache.stats() - before;
        assert_eq!(counted.writes, 1, "{store}: {counted:?}");
        assert_eq!(
            counted.flight_waits + counted.hits,
            63,
            "{store}: every other caller waited or, arriving late, hit: {counted:?}"
        );
        assert!(counted.flight_waits > 0, "{store}: {counted:?}");
        cache.purge().unwrap();
    }
}

/// Runs `callers` threads that call `F(key)` at the same moment on `cache`,
/// each running `work` on a miss; returns the values they got.
fn threads_at_once(
    cache: &Arc<Cache>,
    callers: usize,
    key: u32,
    work: impl Fn() -> u32 + Send + Sync + 'static,
) -> Vec<u32> {
    let start = Arc::new(Barrier::new(callers));
    let work = Arc::new(work);
    let handles: Vec<_> = (0..callers)
        .map(|_| {
            let (cache, start, work) = (cache.clone(), start.clone(), work.clone());
            thread::spawn(move || {
                start.wait();
                cache.call(&F, &key, || work()).unwrap()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| join_within(h).expect("no caller panics"))
        .collect()
}

#[test]
fn threads_missing_one_key_park_and_run_it_once() {
    let server = Server::start();
    for (store, cache) in caches(&server, true) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let values = threads_at_once(&cache, 8, 1, move || {
            counter.fetch_add(1, Ordering::SeqCst);
            thread::sleep(WORK);
            10
        });
        assert_eq!(values, vec![10; 8], "{store}");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{store}: runs");
        cache.purge().unwrap();
    }
}

#[test]
fn turned_off_every_caller_runs_the_function() {
    let server = Server::start();
    for (store, cache) in caches(&server, false) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let values = threads_at_once(&cache, 6, 2, move || {
            counter.fetch_add(1, Ordering::SeqCst);
            thread::sleep(WORK);
            20
        });
        assert_eq!(values, vec![20; 6], "{store}");
        assert_eq!(runs.load(Ordering::SeqCst), 6, "{store}: runs");
        assert_eq!(cache.stats().flight_waits, 0, "{store}");
        cache.purge().unwrap();
    }
}

/// Starts a leader computing `F(key)` with `lead`, waits until it is inside
/// the function, then starts `waiters` callers whose own function returns
/// `key * 10`; returns the waiters' values and how many functions ran.
fn leader_then_waiters<T: Send + 'static>(
    cache: &Arc<Cache>,
    key: u32,
    waiters: usize,
    lead: impl FnOnce(Arc<Cache>, mpsc::Sender<()>) -> T + Send + 'static,
) -> (thread::Result<T>, Vec<u32>, usize) {
    let runs = Arc::new(AtomicUsize::new(0));
    let (started, inside) = mpsc::channel();
    let leader = {
        let cache = cache.clone();
        thread::spawn(move || lead(cache, started))
    };
    inside.recv_timeout(STUCK).expect("the leader starts");
    let handles: Vec<_> = (0..waiters)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            thread::spawn(move || {
                cache
                    .call(&F, &key, || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(WORK);
                        key * 10
                    })
                    .unwrap()
            })
        })
        .collect();
    let leader = join_within(leader);
    let values = handles
        .into_iter()
        .map(|h| join_within(h).expect("no waiter panics"))
        .collect();
    (leader, values, runs.load(Ordering::SeqCst))
}

#[test]
fn a_panicking_leader_hands_the_work_to_one_waiter() {
    let server = Server::start();
    for (store, cache) in caches(&server, true) {
        let (leader, values, runs) = leader_then_waiters(&cache, 3, 5, |cache, started| {
            cache.call(&F, &3u32, || -> u32 {
                started.send(()).unwrap();
                thread::sleep(WORK);
                panic!("the leader's function panics (expected in this test)")
            })
        });
        assert!(
            leader.is_err(),
            "{store}: the leader's panic reaches its caller"
        );
        assert_eq!(values, vec![30; 5], "{store}");
        assert_eq!(runs, 1, "{store}: exactly one waiter took over");
        cache.purge().unwrap();
    }
}

#[test]
fn a_failing_leader_hands_the_work_to_one_waiter_and_its_error_is_not_cached() {
    let server = Server::start();
    for (store, cache) in caches(&server, true) {
        let (leader, values, runs) = leader_then_waiters(&cache, 4, 5, |cache, started| {
            cache.try_call(&F, &4u32, || {
                started.send(()).unwrap();
                thread::sleep(WORK);
                Err::<u32, _>(redis_func_cache::Error::config("the leader fails"))
            })
        });
        let err = leader.expect("no panic").expect_err("the leader's error");
        assert!(
            err.to_string().contains("the leader fails"),
            "{store}: {err}"
        );
        assert_eq!(values, vec![40; 5], "{store}");
        assert_eq!(runs, 1, "{store}: exactly one waiter took over");
        cache.purge().unwrap();
    }
}

#[test]
fn a_cancelled_leader_hands_the_work_to_one_waiter() {
    let server = Server::start();
    let rt = runtime();
    for (store, cache) in caches(&server, true) {
        let runs = Arc::new(AtomicUsize::new(0));
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let leader = {
            let cache = cache.clone();
            rt.spawn(async move {
                // Dropped after 2 × WORK, mid-computation.
                tokio::time::timeout(
                    WORK * 2,
                    cache.call_async(&F, &5u32, || async move {
                        started_tx.send(()).unwrap();
                        tokio::time::sleep(STUCK).await;
                        0u32
                    }),
                )
                .await
            })
        };
        let values = rt.block_on(async {
            started.await.expect("the leader starts");
            let waiters: Vec<_> = (0..6)
                .map(|_| {
                    let (cache, runs) = (cache.clone(), runs.clone());
                    tokio::spawn(async move {
                        cache
                            .call_async(&F, &5u32, || async move {
                                runs.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(WORK).await;
                                50u32
                            })
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let cancelled = leader.await.unwrap();
            assert!(cancelled.is_err(), "{store}: the leader was cancelled");
            tokio::time::timeout(STUCK, async {
                let mut values = Vec::new();
                for w in waiters {
                    values.push(w.await.unwrap());
                }
                values
            })
            .await
            .expect("no waiter is stuck after the leader was cancelled")
        });
        assert_eq!(values, vec![50; 6], "{store}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "{store}: one waiter took over"
        );
        cache.purge().unwrap();
    }
}

#[test]
fn a_function_calling_itself_with_the_same_arguments_runs_uncached() {
    let server = Server::start();
    let rt = runtime();
    for (store, cache) in caches(&server, true) {
        // Sync: the inner call would wait for the outer one forever.
        let runs = Arc::new(AtomicUsize::new(0));
        let handle = {
            let (cache, runs) = (cache.clone(), runs.clone());
            thread::spawn(move || {
                cache
                    .call(&F, &6u32, || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let inner = cache
                            .call(&F, &6u32, || {
                                runs.fetch_add(1, Ordering::SeqCst);
                                60u32
                            })
                            .unwrap();
                        inner + 1
                    })
                    .unwrap()
            })
        };
        assert_eq!(join_within(handle).unwrap(), 61, "{store}");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{store}");
        // Async, the same through a future polled on any worker thread.
        let inner_cache = cache.clone();
        let value = rt.block_on(async {
            tokio::time::timeout(
                STUCK,
                cache.call_async(&F, &7u32, || async move {
                    tokio::task::yield_now().await;
                    let inner = inner_cache
                        .call_async(&F, &7u32, || async { 70u32 })
                        .await
                        .unwrap();
                    inner + 1
                }),
            )
            .await
            .expect("the recursive call does not deadlock")
            .unwrap()
        });
        assert_eq!(value, 71, "{store}");
        cache.purge().unwrap();
    }
}

#[test]
fn callers_of_other_keys_never_wait_on_a_slow_computation() {
    let server = Server::start();
    for (store, cache) in caches(&server, true) {
        let (release_tx, release) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel();
        let slow = {
            let cache = cache.clone();
            thread::spawn(move || {
                cache
                    .call(&F, &100u32, || {
                        started_tx.send(()).unwrap();
                        release.recv_timeout(STUCK).expect("released");
                        1000u32
                    })
                    .unwrap()
            })
        };
        started.recv_timeout(STUCK).unwrap();
        // Many other keys, on many threads, all finish while key 100 is
        // still being computed.
        let others: Vec<_> = (0..8u32)
            .map(|k| {
                let cache = cache.clone();
                thread::spawn(move || cache.call(&F, &k, || k + 1).unwrap())
            })
            .collect();
        for (k, h) in others.into_iter().enumerate() {
            assert_eq!(join_within(h).unwrap(), k as u32 + 1, "{store}");
        }
        assert!(
            !slow.is_finished(),
            "{store}: the slow key is still running"
        );
        release_tx.send(()).unwrap();
        assert_eq!(join_within(slow).unwrap(), 1000, "{store}");
        cache.purge().unwrap();
    }
}

static MACRO_RUNS: AtomicUsize = AtomicUsize::new(0);
static MACRO_CACHE: std::sync::LazyLock<FuncCache<MemoryStore>> = std::sync::LazyLock::new(|| {
    FuncCache::builder("sf-macro")
        .store(MemoryStore::new())
        .build()
        .unwrap()
});

#[cached(cache = MACRO_CACHE)]
fn slow_square(x: u64) -> u64 {
    MACRO_RUNS.fetch_add(1, Ordering::SeqCst);
    thread::sleep(WORK);
    x * x
}

#[test]
fn cached_functions_get_single_flight_by_default() {
    let start = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                slow_square(9)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(join_within(h).unwrap(), 81);
    }
    assert_eq!(MACRO_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(MACRO_CACHE.stats().flight_waits, 7);
}
