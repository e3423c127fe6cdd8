//! Faults a cluster brings, under load (sync threads and async tasks, bounded
//! in count and time): a slot moved to another master while calls run, a
//! master failed over to its replica while calls run, and a master that
//! stops answering: paused or killed without a replica, killed or hung for
//! good with one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::ClusterServers;
use redis_func_cache_core::breaker::BreakerOptions;
use redis_func_cache_core::{FuncCache, FuncId, OnStoreError, Store};
use redis_func_cache_policies::LruClusterPolicy;
use redis_func_cache_redis::{FredStore, RedisClusterStore, RedisOptions};

static F: FuncId = FuncId::new("faults", "triple", 1);

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct Node {
    id: String,
    port: u16,
    master: bool,
    master_id: Option<String>,
    slots: Vec<(u16, u16)>,
}

fn nodes(con: &mut redis::Connection) -> Vec<Node> {
    let text: String = redis::cmd("CLUSTER").arg("NODES").query(con).unwrap();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let addr = f[1].split('@').next().unwrap();
            let port = addr.rsplit_once(':').unwrap().1.parse().unwrap();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| match s.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                    None => (s.parse().unwrap(), s.parse().unwrap()),
                })
                .collect();
            Node {
                id: f[0].to_owned(),
                port,
                master: f[2].contains("master"),
                master_id: (f[3] != "-").then(|| f[3].to_owned()),
                slots,
            }
        })
        .collect()
}

fn node_index(cluster: &ClusterServers, port: u16) -> usize {
    cluster
        .urls
        .iter()
        .position(|u| u.contains(&format!(":{port}/")))
        .unwrap()
}

fn owner(all: &[Node], slot: u16) -> Node {
    all.iter()
        .find(|n| n.master && n.slots.iter().any(|&(a, b)| a <= slot && slot <= b))
        .cloned()
        .unwrap()
}

fn wait_cluster_ok(cluster: &ClusterServers) {
    let deadline = Instant::now() + Duration::from_secs(30);
    'wait: loop {
        assert!(
            Instant::now() < deadline,
            "the cluster did not become ok within 30 s"
        );
        for i in 0..cluster.len() {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut cluster.node(i))
                .unwrap();
            if !info.contains("cluster_state:ok") {
                std::thread::sleep(Duration::from_millis(100));
                continue 'wait;
            }
        }
        return;
    }
}

/// Callers hammering one cache until told to stop (or 30 s pass).
struct Load {
    first_errors: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start<S: Store>(cache: Arc<FuncCache<S>>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let first_errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for t in 0..4u32 {
            let (cache, stop, calls, errors) =
                (cache.clone(), stop.clone(), calls.clone(), errors.clone());
            let first = first_errors.clone();
            threads.push(std::thread::spawn(move || {
                let started = Instant::now();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(30) {
                    let k = i % 200;
                    match cache.call(&F, &k, || k * 3) {
                        Ok(v) => assert_eq!(v, k * 3, "a wrong value for {k}"),
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            let mut first = first.lock().unwrap();
                            if first.len() < 5 {
                                first.push(format!("sync: {e}"));
                            }
                        }
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                    i += 7;
                }
            }));
        }
        {
            let (cache, stop, calls, errors) =
                (cache.clone(), stop.clone(), calls.clone(), errors.clone());
            let first = first_errors.clone();
            threads.push(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let tasks: Vec<_> = (0..8u32)
                        .map(|t| {
                            let (cache, stop, calls, errors) =
                                (cache.clone(), stop.clone(), calls.clone(), errors.clone());
                            let first = first.clone();
                            tokio::spawn(async move {
                                let started = Instant::now();
                                let mut i = t;
                                while !stop.load(Ordering::Relaxed)
                                    && started.elapsed() < Duration::from_secs(30)
                                {
                                    let k = i % 200;
                                    match cache.call_async(&F, &k, || async move { k * 3 }).await {
                                        Ok(v) => assert_eq!(v, k * 3, "a wrong value for {k}"),
                                        Err(e) => {
                                            errors.fetch_add(1, Ordering::Relaxed);
                                            let mut first = first.lock().unwrap();
                                            if first.len() < 5 {
                                                first.push(format!("async: {e}"));
                                            }
                                        }
                                    }
                                    calls.fetch_add(1, Ordering::Relaxed);
                                    i += 11;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
            }));
        }
        Load {
            first_errors,
            stop,
            calls,
            errors,
            threads,
        }
    }

    /// Stops the callers; returns (calls, errors). A wrong value panics a
    /// caller, which fails here.
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("a caller saw a wrong value");
        }
        for e in self.first_errors.lock().unwrap().iter() {
            eprintln!("error seen: {e}");
        }
        (
            self.calls.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

type Caches<S> = (Arc<FuncCache<S>>, Arc<FuncCache<S>>);

/// A fail-open cache on a store with the default options (a 250 ms
/// deadline and the breaker), and a propagating cache on a store whose
/// deadline leaves room for the client's own retries while a slot moves
/// (`TRYAGAIN` can last longer than 250 ms), its breaker off: with it, a
/// slot move must be invisible.
fn caches<S: Store>(default_store: S, patient_store: S) -> Caches<S> {
    let open = FuncCache::builder("faults")
        .policy(LruClusterPolicy)
        .maxsize(1000)
        .store(default_store)
        .build()
        .unwrap();
    let strict = FuncCache::builder("faults")
        .policy(LruClusterPolicy)
        .maxsize(1000)
        .on_store_error(OnStoreError::Propagate)
        .store(patient_store)
        .build()
        .unwrap();
    (Arc::new(open), Arc::new(strict))
}

fn patient() -> RedisOptions {
    RedisOptions::default()
        .deadline(Duration::from_secs(3))
        .breaker(BreakerOptions::default().failures_to_open(0))
}

fn redis_rs(cluster: &ClusterServers) -> Caches<RedisClusterStore> {
    let nodes = || cluster.urls.iter().map(String::as_str);
    caches(
        RedisClusterStore::open_cluster(nodes()).unwrap(),
        RedisClusterStore::open_cluster_with_options(nodes(), patient()).unwrap(),
    )
}

fn fred(cluster: &ClusterServers) -> Caches<FredStore> {
    caches(
        common::connected_fred(&cluster.fred_url()),
        FredStore::with_options(&cluster.fred_url(), patient()).unwrap(),
    )
}

fn moving_the_slot_of_a_pair_while_calls_run_redis_rs() {
    let cluster = ClusterServers::start();
    let caches = redis_rs(&cluster);
    let nodes = cluster.urls.iter().map(String::as_str);
    let leased = RedisClusterStore::open_cluster_with_options(nodes, patient()).unwrap();
    move_the_slot(&cluster, caches, leased);
}

fn moving_the_slot_of_a_pair_while_calls_run_fred() {
    let cluster = ClusterServers::start();
    let caches = fred(&cluster);
    let leased = FredStore::with_options(&cluster.fred_url(), patient()).unwrap();
    move_the_slot(&cluster, caches, leased);
}

/// Caches f(0..200) and returns the slot of the cache's pair with the
/// cluster's nodes as they stand.
fn fill_and_locate<S: Store>(cluster: &ClusterServers, open: &FuncCache<S>) -> (u16, Vec<Node>) {
    for k in 0..200u32 {
        let _: u32 = open.call(&F, &k, || k * 3).unwrap();
    }
    let mut any = cluster.node(0);
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(open.key_pair(&F).index())
        .query(&mut any)
        .unwrap();
    (slot, nodes(&mut any))
}

/// Misses that take leases (SPEC §9) while the slot moves: each call
/// first invalidates its entry, so every call misses, takes the lease in
/// the pair's slot (a third key, `…:2`, which moves with the pair) and
/// releases it with its put. Returns (calls, errors of the calls).
fn leased_misses<S: Store>(
    cache: Arc<FuncCache<S>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let (mut calls, mut errors) = (0u64, 0u64);
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(30) {
            let k = 1000 + i % 50;
            // The removal may fail mid-move; only the calls are checked.
            let _ = cache.entry(&F, &k).and_then(|e| e.invalidate());
            match cache.call(&F, &k, || k * 3) {
                Ok(v) => assert_eq!(v, k * 3, "a wrong value for {k}"),
                Err(e) => {
                    if errors < 5 {
                        eprintln!("leased call: {e}");
                    }
                    errors += 1;
                }
            }
            calls += 1;
            i += 1;
        }
        (calls, errors)
    })
}

fn move_the_slot<S: Store>(cluster: &ClusterServers, (open, strict): Caches<S>, leased: S) {
    let (slot, all) = fill_and_locate(cluster, &open);
    // The same cache name, so the same pair and slot, with a lease.
    let leased = Arc::new(
        FuncCache::builder("faults")
            .policy(LruClusterPolicy)
            .maxsize(1000)
            .lease(Duration::from_secs(2))
            .on_store_error(OnStoreError::Propagate)
            .store(leased)
            .build()
            .unwrap(),
    );
    let leased_stop = Arc::new(AtomicBool::new(false));
    let leased_load = leased_misses(leased.clone(), leased_stop.clone());
    let source = owner(&all, slot);
    let target = all
        .iter()
        .find(|n| n.master && n.id != source.id && !n.slots.is_empty())
        .cloned()
        .unwrap();
    let mut src = cluster.node(node_index(cluster, source.port));
    let mut dst = cluster.node(node_index(cluster, target.port));

    let open_load = Load::start(open.clone());
    let strict_load = Load::start(strict.clone());
    std::thread::sleep(Duration::from_millis(500));

    let _: () = redis::cmd("CLUSTER")
        .arg(&["SETSLOT", &slot.to_string(), "IMPORTING", &source.id])
        .query(&mut dst)
        .unwrap();
    let _: () = redis::cmd("CLUSTER")
        .arg(&["SETSLOT", &slot.to_string(), "MIGRATING", &target.id])
        .query(&mut src)
        .unwrap();
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(10)
            .query(&mut src)
            .unwrap();
        if keys.is_empty() {
            break;
        }
        for key in keys {
            // One key at a time, so calls meet the pair half moved. ("keys"
            // is MIGRATE's option naming the keys to move.)
            let _: redis::Value = redis::cmd("MIGRATE")
                .arg(&[
                    "127.0.0.1",
                    &target.port.to_string(),
                    "",
                    "0",
                    "5000",
                    "keys",
                    &key,
                ])
                .query(&mut src)
                .unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for i in 0..cluster.len() {
        let mut con = cluster.node(i);
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con).unwrap();
        if matches!(&role[0], redis::Value::BulkString(r) if r == b"master") {
            let _: () = redis::cmd("CLUSTER")
                .arg(&["SETSLOT", &slot.to_string(), "NODE", &target.id])
                .query(&mut con)
                .unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(1000));
    let (open_calls, open_errors) = open_load.stop();
    let (strict_calls, strict_errors) = strict_load.stop();
    leased_stop.store(true, Ordering::Relaxed);
    let (leased_calls, leased_errors) = leased_load.join().expect("no wrong value");
    eprintln!("while the slot moved, {leased_errors} of {leased_calls} leased misses failed");
    assert_eq!(leased_errors, 0, "leased misses through the move");
    assert!(
        leased.stats().misses >= 50 && leased_calls >= 50,
        "the leased load ran: {:?}",
        leased.stats()
    );

    let moved = owner(&nodes(&mut cluster.node(0)), slot);
    assert_eq!(moved.id, target.id, "the slot moved");
    assert_eq!(open_errors, 0, "fail-open: no caller sees an error");
    eprintln!("while the slot moved, {strict_errors} of {strict_calls} propagated calls failed");
    assert_eq!(
        strict_errors, 0,
        "even with errors propagated, no call failed ({strict_calls} calls)"
    );
    assert!(
        open_calls > 200 && strict_calls > 100,
        "the load ran: {open_calls}, {strict_calls}"
    );
    // Once the client has caught up with the move, propagated errors stop.
    let moved_at = Instant::now();
    let limit = Duration::from_secs(30);
    let mut recovered = false;
    while moved_at.elapsed() < limit {
        if strict.call(&F, &1u32, || 3u32).is_ok() {
            recovered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "recovered after the move: {recovered} ({:?})",
        moved_at.elapsed()
    );
    assert!(
        recovered,
        "the client did not recover within 30 s of the move"
    );
    let after = Load::start(strict.clone());
    std::thread::sleep(Duration::from_secs(2));
    let (calls, errors) = after.stop();
    assert!(calls > 100, "{calls} calls after the move");
    assert_eq!(errors, 0, "no errors once the slot has moved");
    // Everything is still there, on the new master (beside the leased
    // load's entries, 1000..1050).
    assert!((200..=250).contains(&open.len(&F).unwrap()));
    for k in 0..200u32 {
        let v: u32 = strict
            .call(&F, &k, || unreachable!("still cached"))
            .unwrap();
        assert_eq!(v, k * 3);
    }
}

fn failing_a_master_over_to_its_replica_while_calls_run_redis_rs() {
    let cluster = ClusterServers::start();
    let caches = redis_rs(&cluster);
    fail_over(&cluster, caches);
}

fn failing_a_master_over_to_its_replica_while_calls_run_fred() {
    let cluster = ClusterServers::start();
    let caches = fred(&cluster);
    fail_over(&cluster, caches);
}

fn fail_over<S: Store>(cluster: &ClusterServers, (open, strict): Caches<S>) {
    let (slot, all) = fill_and_locate(cluster, &open);
    let master = owner(&all, slot);
    let replica = all
        .iter()
        .find(|n| n.master_id.as_deref() == Some(master.id.as_str()))
        .cloned()
        .unwrap();

    let open_load = Load::start(open.clone());
    let strict_load = Load::start(strict.clone());
    std::thread::sleep(Duration::from_millis(500));
    let _: () = redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .query(&mut cluster.node(node_index(cluster, replica.port)))
        .unwrap();
    // Wait until the replica serves the slot and every node agrees the
    // cluster is ok.
    let deadline = Instant::now() + Duration::from_secs(30);
    while owner(&nodes(&mut cluster.node(0)), slot).id != replica.id {
        assert!(
            Instant::now() < deadline,
            "the failover did not happen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_cluster_ok(cluster);
    std::thread::sleep(Duration::from_millis(1000));
    let (open_calls, open_errors) = open_load.stop();
    let (strict_calls, strict_errors) = strict_load.stop();
    assert_eq!(open_errors, 0, "fail-open: no caller sees an error");
    assert!(
        open_calls > 200 && strict_calls > 200,
        "the load ran: {open_calls}, {strict_calls}"
    );
    eprintln!("during the failover, {strict_errors} of {strict_calls} propagated calls failed");

    // Once the cluster is ok again, propagated errors stop.
    let after = Load::start(strict.clone());
    std::thread::sleep(Duration::from_secs(2));
    let (calls, errors) = after.stop();
    assert!(calls > 100, "{calls} calls after the failover");
    assert_eq!(errors, 0, "no errors once the cluster is ok again");
    for k in 0..200u32 {
        assert_eq!(strict.call(&F, &k, || k * 3).unwrap(), k * 3);
    }
}

fn a_master_that_stops_answering_costs_only_its_own_pairs_redis_rs() {
    let cluster = ClusterServers::start_masters_only();
    let nodes = cluster.urls.iter().map(String::as_str);
    let store = RedisClusterStore::open_cluster(nodes).unwrap();
    one_master_stops_answering(&cluster, store, Silence::Paused);
}

fn a_master_that_stops_answering_costs_only_its_own_pairs_fred() {
    let cluster = ClusterServers::start_masters_only();
    let store = common::connected_fred(&cluster.fred_url());
    one_master_stops_answering(&cluster, store, Silence::Paused);
}

fn a_killed_master_costs_only_its_own_pairs_redis_rs() {
    let cluster = ClusterServers::start_masters_only();
    let nodes = cluster.urls.iter().map(String::as_str);
    let store = RedisClusterStore::open_cluster(nodes).unwrap();
    one_master_stops_answering(&cluster, store, Silence::Killed);
}

fn a_killed_master_costs_only_its_own_pairs_fred() {
    let cluster = ClusterServers::start_masters_only();
    // fred's own cluster client connects the whole cluster again when one
    // master refuses, which cannot succeed while it is dead: every pair
    // failed open. The store routes by slot over a client per master.
    let store = common::connected_fred(&cluster.fred_url());
    one_master_stops_answering(&cluster, store, Silence::Killed);
}

/// `count` caches named `{prefix}-{i}` on `store`, each one pair in a slot
/// of its own, filled with `keys` entries.
fn pair_per_cache<S: Store + Clone>(
    store: &S,
    prefix: &str,
    count: usize,
    keys: u32,
) -> Vec<Arc<FuncCache<S>>> {
    (0..count)
        .map(|i| {
            let cache = FuncCache::builder(format!("{prefix}-{i}"))
                .policy(LruClusterPolicy)
                .maxsize(100)
                .store(store.clone())
                .build()
                .unwrap();
            for k in 0..keys {
                let _: u32 = cache.call(&F, &k, || k * 3).unwrap();
            }
            Arc::new(cache)
        })
        .collect()
}

/// The slot of each cache's pair.
fn slots_of<S: Store>(cluster: &ClusterServers, caches: &[Arc<FuncCache<S>>]) -> Vec<u16> {
    let mut con = cluster.node(0);
    caches
        .iter()
        .map(|cache| {
            redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(cache.key_pair(&F).index())
                .query(&mut con)
                .unwrap()
        })
        .collect()
}

/// Lets the other masters serve while one is down (the default stops the
/// whole cluster once a slot has no master).
fn serve_without_full_coverage(cluster: &ClusterServers) {
    for i in 0..cluster.len() {
        common::config_set(
            &mut cluster.node(i),
            &[("cluster-require-full-coverage", "no")],
        );
    }
}

/// The process id of the node on `port`.
fn pid_of(cluster: &ClusterServers, port: u16) -> u32 {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut cluster.node(node_index(cluster, port)))
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("INFO server gives the process id")
}

/// How the master goes silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Silence {
    /// `SIGSTOP`: a hung host, or one cut off by a partition; connections
    /// to it hang, and the clients' sockets stay open.
    Paused,
    /// `SIGKILL`: connections to it are refused.
    Killed,
}

impl Silence {
    /// Silences the node whose process is `pid`; a paused one resumes when
    /// the answer is dropped.
    fn silence(self, pid: u32) -> Option<Paused> {
        match self {
            Silence::Paused => Some(Paused::pause(pid)),
            Silence::Killed => {
                let status = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .unwrap();
                assert!(status.success(), "kill -KILL {pid}");
                None
            }
        }
    }
}

/// Resumes a paused process when dropped, so a failing test leaves no
/// stopped server behind.
struct Paused(u32);

impl Paused {
    fn pause(pid: u32) -> Paused {
        let status = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -STOP {pid}");
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

/// How the callers of one cache fared: (calls, calls that took 200 ms or
/// more, the longest call).
type Fared = (u64, u64, Duration);

/// One master of three goes silent ([`Silence`]) with the default options:
/// paused for 3.5 s, less than the cluster's 5 s node timeout, or killed
/// with 8 s of calls after, past it, so the others mark it failed and the
/// clients see the cluster change. Meanwhile 12 caches, each one pair in its own slot, are called from a thread
/// each (the cluster is told not to require full coverage, so the other
/// masters serve on after the node timeout). Every store has a breaker per
/// slot: the pairs on the silent master open theirs after 3 failures and
/// skip Redis at once, with one probe a second, while pairs on the other
/// masters hit on, with no skip and no error. (With one breaker per store,
/// the silent master's failures in a row opened it for every pair, and the
/// healthy pairs were skipped too.)
fn one_master_stops_answering<S: Store + Clone>(
    cluster: &ClusterServers,
    store: S,
    silence: Silence,
) {
    const KEYS: u32 = 20;
    const CACHES: usize = 12;
    let caches = pair_per_cache(&store, "silent", CACHES, KEYS);
    let all = nodes(&mut cluster.node(0));
    let slots = slots_of(cluster, &caches);
    let silent_port = owner(&all, slots[0]).port;
    let silent: Vec<bool> = slots
        .iter()
        .map(|&s| owner(&all, s).port == silent_port)
        .collect();
    assert!(
        silent.iter().any(|s| !s),
        "some pairs live on other masters"
    );
    serve_without_full_coverage(cluster);
    let pid = pid_of(cluster, silent_port);
    let before: Vec<_> = caches.iter().map(|c| c.stats()).collect();

    let window = match silence {
        Silence::Paused => Duration::from_millis(3500),
        Silence::Killed => Duration::from_secs(8),
    };
    let paused = silence.silence(pid);
    let callers: Vec<std::thread::JoinHandle<Fared>> = caches
        .iter()
        .map(|cache| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let (started, mut calls, mut slow, mut k) = (Instant::now(), 0, 0, 0u32);
                let mut longest = Duration::ZERO;
                while started.elapsed() < window {
                    let call = Instant::now();
                    let v: u32 = cache.call(&F, &k, || k * 3).unwrap();
                    assert_eq!(v, k * 3, "a wrong value for {k}");
                    let took = call.elapsed();
                    if took >= Duration::from_millis(200) {
                        slow += 1;
                    }
                    longest = longest.max(took);
                    calls += 1;
                    k = (k + 1) % KEYS;
                }
                (calls, slow, longest)
            })
        })
        .collect();
    let fared: Vec<Fared> = callers
        .into_iter()
        .map(|t| t.join().expect("a caller saw a wrong value"))
        .collect();
    drop(paused);

    let seen: Vec<(u64, u64, u64)> = caches
        .iter()
        .zip(&before)
        .map(|(cache, before)| {
            let now = cache.stats();
            (
                now.hits - before.hits,
                now.skipped - before.skipped,
                now.backend_errors - before.backend_errors,
            )
        })
        .collect();
    for i in 0..CACHES {
        let ((calls, slow, longest), (hits, skipped, errors)) = (fared[i], seen[i]);
        eprintln!(
            "{silence:?} cache {i} (silent master: {}): {calls} calls, {slow} slow, \
             longest {longest:?}, {hits} hits, {skipped} skipped, {errors} errors",
            silent[i]
        );
    }
    let deadline = RedisOptions::default().deadline;
    for i in 0..CACHES {
        let ((calls, slow, longest), (hits, skipped, errors)) = (fared[i], seen[i]);
        // Slack for a 2-core machine running three servers and 12 callers.
        assert!(
            longest <= deadline + Duration::from_millis(500),
            "cache {i}: a call took {longest:?} (deadline {deadline:?})"
        );
        if silent[i] {
            // 3 failures open the breaker; then one probe per 1-1.25 s.
            let bound = if silence == Silence::Paused { 8 } else { 12 };
            assert!(
                slow <= bound,
                "cache {i}: {slow} calls waited out the deadline"
            );
            assert!(
                skipped >= 10,
                "cache {i}: its breaker opened ({skipped} skipped)"
            );
        } else {
            assert_eq!(
                skipped, 0,
                "cache {i}: a healthy master's pair is never skipped"
            );
            assert_eq!(errors, 0, "cache {i}: no errors on a healthy master");
            assert_eq!(hits, calls, "cache {i}: every call hit");
        }
    }
}

fn a_killed_master_with_a_replica_fails_over_redis_rs() {
    let cluster = ClusterServers::start();
    let nodes = cluster.urls.iter().map(String::as_str);
    let store = RedisClusterStore::open_cluster(nodes).unwrap();
    master_fails_over(&cluster, store, Silence::Killed);
}

fn a_killed_master_with_a_replica_fails_over_fred() {
    let cluster = ClusterServers::start();
    let store = common::connected_fred(&cluster.fred_url());
    master_fails_over(&cluster, store, Silence::Killed);
}

fn a_hung_master_with_a_replica_fails_over_redis_rs() {
    let cluster = ClusterServers::start();
    let nodes = cluster.urls.iter().map(String::as_str);
    let store = RedisClusterStore::open_cluster(nodes).unwrap();
    master_fails_over(&cluster, store, Silence::Paused);
}

fn a_hung_master_with_a_replica_fails_over_fred() {
    let cluster = ClusterServers::start();
    let store = common::connected_fred(&cluster.fred_url());
    master_fails_over(&cluster, store, Silence::Paused);
}

/// The store's only seed is the master that hangs: a new connection cannot
/// start from it, so one that replaces the old must start from the nodes
/// the old one knows.
fn a_hung_master_that_was_the_only_seed_fails_over_redis_rs() {
    let cluster = ClusterServers::start();
    let seed = failover_master_url(&cluster);
    let store = RedisClusterStore::open_cluster([seed.as_str()]).unwrap();
    master_fails_over(&cluster, store, Silence::Paused);
}

fn a_hung_master_that_was_the_only_seed_fails_over_fred() {
    let cluster = ClusterServers::start();
    let seed = failover_master_url(&cluster);
    let host = seed.trim_start_matches("redis://").trim_end_matches('/');
    let store = common::connected_fred(&format!("redis-cluster://{host}"));
    master_fails_over(&cluster, store, Silence::Paused);
}

/// The URL of the master that [`master_fails_over`] silences: the one
/// that serves the pair of its first cache.
fn failover_master_url(cluster: &ClusterServers) -> String {
    let urls = cluster.urls.iter().map(String::as_str);
    let probe = FuncCache::builder(format!("{FAILOVER_PREFIX}-0"))
        .policy(LruClusterPolicy)
        .maxsize(100)
        .store(RedisClusterStore::open_cluster(urls).unwrap())
        .build()
        .unwrap();
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(probe.key_pair(&F).index())
        .query(&mut cluster.node(0))
        .unwrap();
    let port = owner(&nodes(&mut cluster.node(0)), slot).port;
    cluster.urls[node_index(cluster, port)].clone()
}

/// The prefix of [`master_fails_over`]'s cache names.
const FAILOVER_PREFIX: &str = "failover";

/// One master of three, which has a replica, goes silent ([`Silence`]) for
/// good while 12 caches, each one pair in its own slot, are called from a
/// thread each, with the default options. Its replica takes over after the
/// node timeout. The pairs on the other masters hit on throughout (the
/// cluster is told not to require full coverage, so they serve meanwhile);
/// the pairs on the silent master fail open within the deadline until the
/// replica serves their slots, and hit again within one probe interval of
/// that. A hung master is the harder case for a client: its connections
/// neither close nor refuse, so only the calls' timeouts tell the client to
/// read the slot table again.
fn master_fails_over<S: Store + Clone>(cluster: &ClusterServers, store: S, silence: Silence) {
    const KEYS: u32 = 20;
    const CACHES: usize = 12;
    /// Longest the test waits for the replica to take over.
    const FAILOVER_LIMIT: Duration = Duration::from_secs(30);
    let caches = pair_per_cache(&store, FAILOVER_PREFIX, CACHES, KEYS);
    let all = nodes(&mut cluster.node(0));
    let slots = slots_of(cluster, &caches);
    let silent = owner(&all, slots[0]);
    let on_silent: Vec<bool> = slots
        .iter()
        .map(|&s| owner(&all, s).id == silent.id)
        .collect();
    assert!(on_silent.iter().any(|s| !s), "some pairs live elsewhere");
    let replica = all
        .iter()
        .find(|n| n.master_id.as_deref() == Some(silent.id.as_str()))
        .cloned()
        .expect("the master has a replica");
    let healthy = all
        .iter()
        .find(|n| n.master && n.id != silent.id)
        .cloned()
        .unwrap();
    serve_without_full_coverage(cluster);
    let pid = pid_of(cluster, silent.port);

    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<std::thread::JoinHandle<(u64, Duration)>> = caches
        .iter()
        .map(|cache| {
            let (cache, stop) = (cache.clone(), stop.clone());
            std::thread::spawn(move || {
                let (started, mut calls, mut longest, mut k) =
                    (Instant::now(), 0u64, Duration::ZERO, 0u32);
                while !stop.load(Ordering::Relaxed) && started.elapsed() < FAILOVER_LIMIT * 2 {
                    let call = Instant::now();
                    let v: u32 = cache.call(&F, &k, || k * 3).unwrap();
                    assert_eq!(v, k * 3, "a wrong value for {k}");
                    longest = longest.max(call.elapsed());
                    calls += 1;
                    k = (k + 1) % KEYS;
                }
                (calls, longest)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<_> = caches.iter().map(|c| c.stats()).collect();
    let paused = silence.silence(pid);
    let silenced_at = Instant::now();
    // Wait until a healthy master says the replica serves the slot.
    let mut con = cluster.node(node_index(cluster, healthy.port));
    while owner(&nodes(&mut con), slots[0]).id != replica.id {
        assert!(
            silenced_at.elapsed() < FAILOVER_LIMIT,
            "the replica did not take over within {FAILOVER_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let failed_over = Instant::now();
    let at_failover: Vec<_> = caches.iter().map(|c| c.stats()).collect();
    // One probe interval (at most 1.25 s) and slack, then 1.5 s of calls.
    // Meanwhile, when each pair hit again (for the log: how much of the
    // slack a run used).
    let settle = Duration::from_millis(1750);
    let mut resumed: Vec<Option<Duration>> = vec![None; CACHES];
    while failed_over.elapsed() < settle {
        for (i, cache) in caches.iter().enumerate() {
            if resumed[i].is_none() && cache.stats().hits > at_failover[i].hits {
                resumed[i] = Some(failed_over.elapsed());
            }
        }
        std::thread::sleep(
            Duration::from_millis(10).min(settle.saturating_sub(failed_over.elapsed())),
        );
    }
    let settled: Vec<_> = caches.iter().map(|c| c.stats()).collect();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let fared: Vec<(u64, Duration)> = callers
        .into_iter()
        .map(|t| t.join().expect("a caller saw a wrong value"))
        .collect();
    let end: Vec<_> = caches.iter().map(|c| c.stats()).collect();
    drop(paused);
    eprintln!(
        "{silence:?}, {}: failover {:.2} s after the master went silent",
        std::any::type_name::<S>(),
        (failed_over - silenced_at).as_secs_f64()
    );
    let deadline = RedisOptions::default().deadline;
    for i in 0..CACHES {
        let (calls, longest) = fared[i];
        let outage_hits = at_failover[i].hits - before[i].hits;
        let late = (
            end[i].hits - settled[i].hits,
            end[i].backend_errors - settled[i].backend_errors,
            end[i].skipped - settled[i].skipped,
        );
        eprintln!(
            "cache {i} (on the silent master: {}): {calls} calls, longest {longest:?}, \
             {outage_hits} hits until the failover, hit again {:?} after it; \
             after it settled: {late:?} (hits, errors, skipped)",
            on_silent[i], resumed[i]
        );
        // Slack for a 2-core machine running six servers and 12 callers.
        assert!(
            longest <= deadline * 2 + Duration::from_millis(500),
            "cache {i}: a call took {longest:?} (deadline {deadline:?})"
        );
        if on_silent[i] {
            assert!(late.0 > 0, "cache {i}: hits again once the replica serves");
            assert_eq!(late.1, 0, "cache {i}: no errors once the replica serves");
            assert_eq!(
                late.2, 0,
                "cache {i}: nothing skipped once the replica serves"
            );
        } else {
            let whole = (
                end[i].hits - before[i].hits,
                end[i].backend_errors - before[i].backend_errors,
                end[i].skipped - before[i].skipped,
                end[i].misses - before[i].misses,
            );
            assert_eq!(whole.1, 0, "cache {i}: no errors on a healthy master");
            assert_eq!(
                whole.2, 0,
                "cache {i}: a healthy master's pair is never skipped"
            );
            assert_eq!(whole.3, 0, "cache {i}: every call hit");
            assert!(whole.0 > 0, "cache {i}: the calls went on");
        }
    }
}

// Each scenario runs on both clients side by side, each on a cluster of its
// own: the scenarios mostly wait out fault windows and the cluster's node
// timeout, so two at a time left most of the machine idle.

/// Runs a scenario on redis-rs and on fred at once.
fn on_both_clients(redis_rs: fn(), fred: fn()) {
    common::side_by_side(vec![
        ("redis-rs".into(), Box::new(redis_rs)),
        ("fred".into(), Box::new(fred)),
    ]);
}

#[test]
fn moving_the_slot_of_a_pair_while_calls_run() {
    on_both_clients(
        moving_the_slot_of_a_pair_while_calls_run_redis_rs,
        moving_the_slot_of_a_pair_while_calls_run_fred,
    );
}

#[test]
fn failing_a_master_over_to_its_replica_while_calls_run() {
    on_both_clients(
        failing_a_master_over_to_its_replica_while_calls_run_redis_rs,
        failing_a_master_over_to_its_replica_while_calls_run_fred,
    );
}

#[test]
fn a_master_that_stops_answering_costs_only_its_own_pairs() {
    on_both_clients(
        a_master_that_stops_answering_costs_only_its_own_pairs_redis_rs,
        a_master_that_stops_answering_costs_only_its_own_pairs_fred,
    );
}

#[test]
fn a_killed_master_costs_only_its_own_pairs() {
    on_both_clients(
        a_killed_master_costs_only_its_own_pairs_redis_rs,
        a_killed_master_costs_only_its_own_pairs_fred,
    );
}

#[test]
fn a_killed_master_with_a_replica_fails_over() {
    on_both_clients(
        a_killed_master_with_a_replica_fails_over_redis_rs,
        a_killed_master_with_a_replica_fails_over_fred,
    );
}

#[test]
fn a_hung_master_with_a_replica_fails_over() {
    on_both_clients(
        a_hung_master_with_a_replica_fails_over_redis_rs,
        a_hung_master_with_a_replica_fails_over_fred,
    );
}

#[test]
fn a_hung_master_that_was_the_only_seed_fails_over() {
    on_both_clients(
        a_hung_master_that_was_the_only_seed_fails_over_redis_rs,
        a_hung_master_that_was_the_only_seed_fails_over_fred,
    );
}
