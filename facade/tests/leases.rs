//! SPEC §9, across processes: with a lease, callers of one missing entry in
//! several processes run the function once. Each "process" here is a cache
//! of its own (its own single-flight table) on its own store handle, all on
//! one memory store or one Redis server; the OS-process cases are in
//! `killed_holder.rs` and the `stampede` example.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use redis_func_cache::EvictionPolicy;
use redis_func_cache::store::{GetRequest, Leased, Store};
use redis_func_cache::{
    AnyStore, FuncCache, FuncId, LruClusterMultiplePolicy, LruClusterPolicy, LruMultiplePolicy,
    LruPolicy, MemoryStore, Mode, RedisClusterStore, RedisStore,
};
use redis_func_cache_redis::test_server::{ClusterServers, Server, connected_fred};

static F: FuncId = FuncId::new("leases", "f", 1);

const WORK: Duration = Duration::from_millis(200);
const LEASE: Duration = Duration::from_secs(3);

type Cache = FuncCache<AnyStore>;

/// `processes` caches named alike on stores from `open`, as that many
/// processes would build them.
fn fleet(
    processes: usize,
    cluster: bool,
    lease: Option<Duration>,
    open: impl Fn() -> AnyStore,
) -> Vec<Arc<Cache>> {
    fleet_in(processes, cluster, false, lease, open)
}

/// [`fleet`] in the per-function layout (`multiple`) or the one-pair one.
fn fleet_in(
    processes: usize,
    cluster: bool,
    multiple: bool,
    lease: Option<Duration>,
    open: impl Fn() -> AnyStore,
) -> Vec<Arc<Cache>> {
    (0..processes)
        .map(|_| {
            let builder = FuncCache::builder("leases").store(open());
            let builder = match (cluster, multiple) {
                (true, false) => builder.policy(LruClusterPolicy),
                (true, true) => builder.policy(LruClusterMultiplePolicy),
                (false, false) => builder.policy(LruPolicy),
                (false, true) => builder.policy(LruMultiplePolicy),
            };
            let builder = match lease {
                Some(lease) => builder.lease(lease),
                None => builder,
            };
            Arc::new(builder.build().unwrap())
        })
        .collect()
}

/// Every cache of the fleet gets `callers` threads calling `F(key)` at the
/// same moment; returns how many times the function ran and the slowest
/// caller's time.
fn stampede(fleet: &[Arc<Cache>], callers: usize, key: u32) -> (usize, Duration) {
    let runs = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(fleet.len() * callers));
    let handles: Vec<_> = fleet
        .iter()
        .flat_map(|cache| (0..callers).map(move |_| cache.clone()))
        .map(|cache| {
            let (runs, start) = (runs.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let began = Instant::now();
                let value = cache
                    .call(&F, &key, || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(WORK);
                        key * 2
                    })
                    .unwrap();
                assert_eq!(value, key * 2);
                began.elapsed()
            })
        })
        .collect();
    let slowest = handles
        .into_iter()
        .map(|h| h.join().expect("no caller panics"))
        .max()
        .unwrap_or_default();
    (runs.load(Ordering::SeqCst), slowest)
}

#[test]
fn with_a_lease_four_processes_run_a_missing_function_once() {
    let server = Server::start();
    let cluster = ClusterServers::start();
    let cluster_urls = cluster.urls.clone();
    type Open = Box<dyn Fn() -> AnyStore>;
    let stores: Vec<(&str, bool, Open)> = vec![
        ("memory", false, {
            let shared = MemoryStore::new();
            Box::new(move || AnyStore::new(shared.clone()))
        }),
        ("redis-rs", false, {
            let url = server.url.clone();
            Box::new(move || AnyStore::new(RedisStore::open(url.as_str()).unwrap()))
        }),
        ("fred", false, {
            let url = server.url.clone();
            Box::new(move || AnyStore::new(connected_fred(url.as_str())))
        }),
        ("redis-rs cluster", true, {
            Box::new(move || {
                AnyStore::new(
                    RedisClusterStore::open_cluster(cluster_urls.iter().map(String::as_str))
                        .unwrap(),
                )
            })
        }),
        ("fred cluster", true, {
            let url = cluster.fred_url();
            Box::new(move || AnyStore::new(connected_fred(url.as_str())))
        }),
    ];
    for (name, clustered, open) in &stores {
        let leased = fleet(4, *clustered, Some(LEASE), open);
        let (runs, slowest) = stampede(&leased, 5, 1);
        assert_eq!(runs, 1, "{name}: with a lease the fleet runs it once");
        assert!(
            slowest < LEASE,
            "{name}: waiters saw the value long before the lease ran out ({slowest:?})"
        );
        let waits: u64 = leased.iter().map(|c| c.stats().lease_waits).sum();
        assert!(waits >= 3, "{name}: the other processes waited ({waits})");
        leased[0].purge().unwrap();

        // Without: single-flight alone, once per process.
        let unleased = fleet(4, *clustered, None, open);
        let (runs, _) = stampede(&unleased, 5, 2);
        assert_eq!(runs, 4, "{name}: without a lease each process runs it once");
        unleased[0].purge().unwrap();

        // The per-function layouts (`-m`, `-cm`): the lease key sits beside
        // the function's own pair.
        let leased = fleet_in(4, *clustered, true, Some(LEASE), open);
        let (runs, _) = stampede(&leased, 5, 3);
        assert_eq!(runs, 1, "{name}, per-function layout: once");
        leased[0].purge().unwrap();
    }
}

#[test]
fn a_holder_that_never_puts_delays_the_others_by_at_most_the_lease() {
    let server = Server::start();
    let stores: Vec<(&str, AnyStore)> = vec![
        ("memory", AnyStore::new(MemoryStore::new())),
        (
            "redis-rs",
            AnyStore::new(RedisStore::open(server.url.as_str()).unwrap()),
        ),
    ];
    let lease = Duration::from_millis(600);
    for (name, store) in stores {
        let cache = FuncCache::builder("stuck-holder")
            .store(store.clone())
            .lease(lease)
            .build()
            .unwrap();
        // A holder that took the lease and died: the lease is taken
        // through the store, and nobody ever puts.
        let pair = cache.key_pair(&F);
        let member = F.invocation_hash(&7u32).unwrap();
        let rules = cache.policy().rules();
        let expiry = redis_func_cache::store::Expiry {
            pair_ttl: Duration::from_secs(3600),
            slide: true,
            entry_ttl: None,
        };
        let taken = store.get_or_lease(&GetRequest::new(&pair, member, &rules, expiry), lease);
        assert_eq!(taken.unwrap(), Leased::Granted, "{name}");
        let began = Instant::now();
        let runs = AtomicUsize::new(0);
        let value = cache
            .call(&F, &7u32, || {
                runs.fetch_add(1, Ordering::SeqCst);
                thread::sleep(WORK);
                70u32
            })
            .unwrap();
        let took = began.elapsed();
        assert_eq!((value, runs.load(Ordering::SeqCst)), (70, 1), "{name}");
        assert!(
            took >= lease - Duration::from_millis(50),
            "{name}: it waited for the lease ({took:?})"
        );
        assert!(
            took < lease + WORK + Duration::from_millis(500),
            "{name}: then took over at once ({took:?})"
        );
        assert_eq!(cache.stats().lease_waits, 1, "{name}");
    }
}

#[test]
fn async_callers_wait_for_the_lease_without_blocking_threads() {
    let server = Server::start();
    // One worker thread: a caller that blocked it while waiting would stop
    // the holder's own task from ever finishing.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for open in [
        Box::new(|| AnyStore::new(MemoryStore::new())) as Box<dyn Fn() -> AnyStore>,
        Box::new(|| AnyStore::new(RedisStore::open(server.url.as_str()).unwrap())),
    ] {
        let shared = open();
        let fleet = fleet(3, false, Some(LEASE), || shared.clone());
        let runs = Arc::new(AtomicUsize::new(0));
        let values = rt.block_on(async {
            let calls = fleet.iter().flat_map(|cache| {
                let runs = runs.clone();
                (0..4).map(move |_| {
                    let (cache, runs) = (cache.clone(), runs.clone());
                    async move {
                        cache
                            .call_async(&F, &3u32, || async move {
                                runs.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(WORK).await;
                                30u32
                            })
                            .await
                            .unwrap()
                    }
                })
            });
            let all = futures::future::join_all(calls);
            tokio::time::timeout(Duration::from_secs(20), all)
                .await
                .expect("no caller is stuck")
        });
        assert_eq!(values, vec![30; 12]);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        fleet[0].purge().unwrap();
    }
}

static MACRO_STORE: std::sync::LazyLock<MemoryStore> = std::sync::LazyLock::new(MemoryStore::new);
static MACRO_CACHE: std::sync::LazyLock<FuncCache<MemoryStore>> = std::sync::LazyLock::new(|| {
    FuncCache::builder("macro-lease")
        .store(MACRO_STORE.clone())
        .build()
        .unwrap()
});
static MACRO_RUNS: AtomicUsize = AtomicUsize::new(0);

#[redis_func_cache::cached(cache = MACRO_CACHE, lease_ms = 400, id = LEASED_FN)]
fn leased_by_the_macro(x: u32) -> u32 {
    MACRO_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn the_macro_option_lease_ms_gives_one_function_a_lease() {
    // Another process holds the lease on leased_by_the_macro(5).
    let pair = MACRO_CACHE.key_pair(&LEASED_FN);
    let member = LEASED_FN.invocation_hash(&5u32).unwrap();
    let rules = MACRO_CACHE.policy().rules();
    let expiry = redis_func_cache::store::Expiry {
        pair_ttl: Duration::from_secs(3600),
        slide: true,
        entry_ttl: None,
    };
    let req = GetRequest::new(&pair, member, &rules, expiry);
    let taken = MACRO_STORE.get_or_lease(&req, Duration::from_millis(400));
    assert_eq!(taken.unwrap(), Leased::Granted);
    let began = Instant::now();
    assert_eq!(leased_by_the_macro(5), 6);
    assert!(
        began.elapsed() >= Duration::from_millis(350),
        "the call waited for the holder's lease ({:?})",
        began.elapsed()
    );
    assert_eq!(MACRO_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(MACRO_CACHE.stats().lease_waits, 1);
    // The cache itself has no lease: the put released the macro's.
    assert!(matches!(
        MACRO_STORE.get_or_lease(&req, Duration::from_secs(1)),
        Ok(Leased::Hit(_))
    ));
}

#[test]
fn the_lease_holder_computes_beside_a_read_only_flight_and_writes() {
    // A read-only caller takes no lease and writes nothing, but leads its
    // process's flight. A normal caller arriving meanwhile is granted the
    // lease: other processes now wait for *its* put, so it must compute
    // and write rather than wait on a flight that will never write.
    let cache = Arc::new(
        FuncCache::builder("holder-beside-read-only")
            .store(AnyStore::new(MemoryStore::new()))
            .lease(LEASE)
            .build()
            .unwrap(),
    );
    let read_only = {
        let cache = cache.clone();
        thread::spawn(move || {
            Mode::ReadOnly.scope(|| {
                cache.call(&F, &3u32, || {
                    thread::sleep(Duration::from_millis(400));
                    1u32
                })
            })
        })
    };
    // Well inside the read-only caller's computation.
    thread::sleep(Duration::from_millis(100));
    let holder = cache.call(&F, &3u32, || 2u32).unwrap();
    assert_eq!(holder, 2, "the lease holder ran the function itself");
    assert_eq!(read_only.join().expect("no panic").unwrap(), 1);
    // Its value was written and its lease released: the next call hits.
    assert_eq!(cache.call(&F, &3u32, || 9u32).unwrap(), 2);
    assert_eq!(cache.stats().lease_waits, 0);
}
