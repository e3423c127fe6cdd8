//! The fault suite (SPEC §8), on real servers this test starts and stops:
//! a server killed and restarted, paused with `SIGSTOP`, blocked by `DEBUG
//! SLEEP`, reloading its data (`LOADING`), answering `BUSY` behind another
//! client's looping script, holding writes with `CLIENT PAUSE … WRITE`, and dropping every
//! connection and its scripts every 5 ms, under load from
//! 4 threads (sync) and 8 tasks (async), on both clients, with the default
//! options. Every case asserts: no wrong value, no panic, no call past the
//! deadline (plus slack for this noisy machine) once the breaker is open,
//! and hits again soon after recovery. Each prints a `chaos` line with the
//! figures BENCHMARKS.md reports. A server that is down when the store
//! opens is covered too, and pairs losing halves to `allkeys-random`
//! eviction under load.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{FuncCache, FuncId};
use redis_func_cache_policies::LruPolicy;
use redis_func_cache_redis::test_server::OwnedServer;
use redis_func_cache_redis::{FredStore, RedisOptions, RedisStore};

static F: FuncId = FuncId::new("faults", "triple", 1);

/// Keys the load cycles over (all cached before the fault).
const KEYS: u32 = 50;
/// Pause between one caller's calls, so skipped calls (microseconds) do not
/// spin the two cores the servers and the test share.
const PACING: Duration = Duration::from_micros(200);
/// Width of one bucket of the timeline.
const BUCKET: Duration = Duration::from_millis(50);
/// Slack on every time bound, for a 2-core machine running the servers,
/// the callers and other tests at once.
const SLACK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
enum Client {
    RedisRs,
    Fred,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Face {
    Sync,
    Async,
}

type Cache = FuncCache<AnyStore>;

fn open(client: Client, url: &str) -> AnyStore {
    match client {
        Client::RedisRs => AnyStore::new(RedisStore::open(url).expect("a valid URL")),
        Client::Fred => AnyStore::new(FredStore::open(url).expect("a valid URL")),
    }
}

fn cache(store: AnyStore) -> Arc<Cache> {
    Arc::new(
        FuncCache::builder("faults")
            .policy(LruPolicy)
            .maxsize(1000)
            .store(store)
            .build()
            .unwrap(),
    )
}

/// What the callers saw in one bucket of time.
#[derive(Debug, Default, Clone)]
struct Bucket {
    calls: u64,
    hits: u64,
    max: Duration,
    /// Latencies of the calls over 200 µs, for the p99.
    slow: Vec<Duration>,
}

impl Bucket {
    fn add(&mut self, took: Duration, hit: bool) {
        self.calls += 1;
        self.hits += u64::from(hit);
        self.max = self.max.max(took);
        if took > Duration::from_micros(200) {
            self.slow.push(took);
        }
    }

    fn merge(&mut self, other: &Bucket) {
        self.calls += other.calls;
        self.hits += other.hits;
        self.max = self.max.max(other.max);
        self.slow.extend_from_slice(&other.slow);
    }
}

/// Callers running `triple(k)` through the cache until stopped (at most 60
/// s), each keeping its own timeline; a wrong value panics the caller.
struct Load {
    t0: Instant,
    stop: Arc<AtomicBool>,
    timelines: Arc<Mutex<Vec<Vec<Bucket>>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn record(timeline: &mut Vec<Bucket>, t0: Instant, start: Instant, took: Duration, hit: bool) {
    let i = (start - t0).as_micros() as usize / BUCKET.as_micros() as usize;
    if timeline.len() <= i {
        timeline.resize(i + 1, Bucket::default());
    }
    timeline[i].add(took, hit);
}

const LIMIT: Duration = Duration::from_secs(60);

impl Load {
    fn start(cache: &Arc<Cache>, face: Face) -> Load {
        let t0 = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let timelines = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        match face {
            Face::Sync => {
                for t in 0..4u32 {
                    let (cache, stop, timelines) = (cache.clone(), stop.clone(), timelines.clone());
                    threads.push(std::thread::spawn(move || {
                        let mut timeline = Vec::new();
                        let mut k = t;
                        while !stop.load(Ordering::Relaxed) && t0.elapsed() < LIMIT {
                            k = (k + 1) % KEYS;
                            let start = Instant::now();
                            let mut ran = false;
                            let v: u32 = cache
                                .call(&F, &k, || {
                                    ran = true;
                                    k * 3
                                })
                                .expect("fail-open calls never error");
                            let took = start.elapsed();
                            assert_eq!(v, k * 3, "a wrong value for {k}");
                            record(&mut timeline, t0, start, took, !ran);
                            std::thread::sleep(PACING);
                        }
                        timelines.lock().unwrap().push(timeline);
                    }));
                }
            }
            Face::Async => {
                let (cache, stop, timelines) = (cache.clone(), stop.clone(), timelines.clone());
                threads.push(std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let mut tasks = Vec::new();
                        for t in 0..8u32 {
                            let (cache, stop, timelines) =
                                (cache.clone(), stop.clone(), timelines.clone());
                            tasks.push(tokio::spawn(async move {
                                let mut timeline = Vec::new();
                                let mut k = t;
                                while !stop.load(Ordering::Relaxed) && t0.elapsed() < LIMIT {
                                    k = (k + 1) % KEYS;
                                    let start = Instant::now();
                                    let ran = AtomicBool::new(false);
                                    let v: u32 = cache
                                        .call_async(&F, &k, || async {
                                            ran.store(true, Ordering::Relaxed);
                                            k * 3
                                        })
                                        .await
                                        .expect("fail-open calls never error");
                                    let took = start.elapsed();
                                    assert_eq!(v, k * 3, "a wrong value for {k}");
                                    record(
                                        &mut timeline,
                                        t0,
                                        start,
                                        took,
                                        !ran.load(Ordering::Relaxed),
                                    );
                                    tokio::time::sleep(PACING).await;
                                }
                                timelines.lock().unwrap().push(timeline);
                            }));
                        }
                        for task in tasks {
                            task.await.expect("a caller saw a wrong value or panicked");
                        }
                    });
                }));
            }
        }
        Load {
            t0,
            stop,
            timelines,
            threads,
        }
    }

    fn at(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Stops the callers and returns the merged timeline.
    fn stop(self) -> Vec<Bucket> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("a caller saw a wrong value or panicked");
        }
        let mut merged: Vec<Bucket> = Vec::new();
        for timeline in self.timelines.lock().unwrap().iter() {
            if merged.len() < timeline.len() {
                merged.resize(timeline.len(), Bucket::default());
            }
            for (m, b) in merged.iter_mut().zip(timeline) {
                m.merge(b);
            }
        }
        merged
    }
}

/// The buckets wholly inside [from, to).
fn window(timeline: &[Bucket], from: Duration, to: Duration) -> Bucket {
    let first = from.as_micros().div_ceil(BUCKET.as_micros()) as usize;
    let end = (to.as_micros() / BUCKET.as_micros()) as usize;
    let mut sum = Bucket::default();
    for b in timeline.iter().take(end).skip(first) {
        sum.merge(b);
    }
    sum
}

fn p99(b: &Bucket) -> Duration {
    let k = (b.calls as usize).div_ceil(100);
    if k == 0 || b.slow.len() < k {
        return Duration::from_micros(200); // at most
    }
    let mut slow = b.slow.clone();
    slow.sort_unstable_by(|a, b| b.cmp(a));
    slow[k - 1]
}

/// `CLIENT KILL TYPE normal SKIPME yes`: the server drops every client
/// connection but `con`'s; how many it dropped.
fn drop_clients(con: &mut redis::Connection) -> u64 {
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(con)
        .unwrap()
}

/// Runs one fault under load and checks the contract.
fn scenario(
    name: &str,
    client: Client,
    face: Face,
    fault: impl FnOnce(&mut OwnedServer),
    recover: impl FnOnce(&mut OwnedServer),
) -> Skipped {
    let deadline = RedisOptions::default().deadline;
    let mut server = OwnedServer::start();
    let cache = cache(open(client, &server.url));
    for k in 0..KEYS {
        let _: u32 = cache.call(&F, &k, || k * 3).unwrap();
    }
    let load = Load::start(&cache, face);
    std::thread::sleep(Duration::from_millis(1200));
    let fault_at = load.at();
    let before = cache.stats().skipped;
    fault(&mut server);
    std::thread::sleep(Duration::from_millis(3000));
    let recover_at = load.at();
    let skipped = Skipped(cache.stats().skipped - before);
    recover(&mut server);
    std::thread::sleep(Duration::from_millis(3000));
    let end = load.at();
    let timeline = load.stop();

    let normal = window(&timeline, Duration::from_millis(200), fault_at);
    // Three failed calls open the breaker, each within the deadline.
    let opened = fault_at + deadline * 3 + SLACK;
    let during = window(&timeline, opened, recover_at);
    let rate =
        |b: &Bucket, from: Duration, to: Duration| b.calls as f64 / (to - from).as_secs_f64();
    let normal_rate = rate(&normal, Duration::from_millis(200), fault_at);
    let fault_rate = rate(&during, opened, recover_at);
    let first_hit = timeline
        .iter()
        .enumerate()
        .skip(recover_at.as_micros().div_ceil(BUCKET.as_micros()) as usize)
        .find(|(_, b)| b.hits > 0)
        .map(|(i, _)| BUCKET * i as u32 - recover_at);
    println!(
        "chaos | {name} | {client:?} {face:?} | normal {normal_rate:.0} calls/s | during the fault {fault_rate:.0} calls/s ({:.2} of normal) | p99 {:.1} ms | max {:.1} ms | first hit {} after recovery | wrong values 0",
        fault_rate / normal_rate,
        p99(&during).as_secs_f64() * 1e3,
        during.max.as_secs_f64() * 1e3,
        first_hit.map_or("none".into(), |d| format!("{:.2} s", d.as_secs_f64())),
    );
    assert!(normal.hits > 0, "{name}: hits before the fault");
    assert!(during.calls > 0, "{name}: calls completed during the fault");
    assert!(
        during.max <= deadline + SLACK,
        "{name} {client:?} {face:?}: a call took {:?} with the breaker open (deadline {deadline:?})",
        during.max
    );
    let first_hit =
        first_hit.unwrap_or_else(|| panic!("{name} {client:?} {face:?}: no hit after recovery"));
    // One probe interval (at most 1.5 s once backed off) plus slack.
    assert!(
        first_hit <= Duration::from_millis(1500) + SLACK * 2,
        "{name} {client:?} {face:?}: first hit {first_hit:?} after recovery"
    );
    assert!(end > recover_at);
    skipped
}

/// Calls that skipped the store (its breaker open) during a fault.
struct Skipped(u64);

/// Runs `case` for the sync and the async face at once, each on its own
/// server: a scenario mostly waits out its windows, so the two faces side
/// by side halve the suite's time.
fn on_both_faces(case: impl Fn(Face) + Sync) {
    common::side_by_side(vec![
        ("sync".into(), Box::new(|| case(Face::Sync))),
        ("async".into(), Box::new(|| case(Face::Async))),
    ]);
}

fn killed_and_restarted(client: Client) {
    on_both_faces(|face| {
        scenario(
            "server killed, then restarted",
            client,
            face,
            OwnedServer::kill,
            OwnedServer::restart,
        );
    });
}

fn paused(client: Client) {
    on_both_faces(|face| {
        scenario(
            "server paused (SIGSTOP)",
            client,
            face,
            OwnedServer::pause,
            OwnedServer::resume,
        );
    });
}

/// A command a thread of the test sends during the fault, and waits for
/// the reply of (it blocks the server, or the server answers it only when
/// the fault ends); joined at recovery.
#[derive(Clone, Default)]
struct InBackground(Arc<Mutex<Option<std::thread::JoinHandle<()>>>>);

impl InBackground {
    /// Sends what `send` sends on `con`, from a thread, with a read timeout
    /// of 20 s.
    fn send(
        &self,
        mut con: redis::Connection,
        send: impl FnOnce(&mut redis::Connection) + Send + 'static,
    ) {
        *self.0.lock().unwrap() = Some(std::thread::spawn(move || {
            con.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            send(&mut con);
        }));
    }

    /// Waits for the thread; its panic (a failed check of the reply) is
    /// the test's.
    fn join(&self) {
        if let Some(t) = self.0.lock().unwrap().take() {
            t.join().unwrap();
        }
    }
}

/// `DEBUG SLEEP` blocks the server for the whole fault window; a thread of
/// the test sends it and waits for its reply.
fn debug_sleep(client: Client) {
    on_both_faces(|face| {
        let sleeper = InBackground::default();
        let joined = sleeper.clone();
        scenario(
            "DEBUG SLEEP 3",
            client,
            face,
            move |server| {
                sleeper.send(server.connection(), |con| {
                    let _: () = redis::cmd("DEBUG")
                        .arg("SLEEP")
                        .arg(3)
                        .query(con)
                        .expect("DEBUG SLEEP ran (the server allows DEBUG from loopback)");
                });
            },
            move |_| joined.join(),
        );
    });
}

/// The server reloads its data (`DEBUG RELOAD`, as after a restart or a
/// replica's full sync), slowed to 2–3 s by `key-load-delay` over 12,000
/// filler keys: meanwhile it answers every command with `LOADING` at once.
/// Calls fail open, the breaker opens (a loading server serves nothing,
/// and a large dataset loads for minutes: calls must not each pay it a
/// round trip), and the cached entries are hits again once it has loaded
/// them.
fn reloading(client: Client) {
    on_both_faces(|face| {
        let dir = std::env::temp_dir().join(format!(
            "rfc-reload-{}-{client:?}-{face:?}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let reloader = InBackground::default();
        let joined = reloader.clone();
        let fault_dir = dir.clone();
        let Skipped(skipped) = scenario(
            "DEBUG RELOAD, loading for 2-3 s",
            client,
            face,
            move |server| {
                let mut con = server.connection();
                common::config_set(
                    &mut con,
                    &[
                        ("dir", fault_dir.to_str().expect("a UTF-8 temporary path")),
                        // Answer other clients every 1 KiB read, not every 2 MiB.
                        ("loading-process-events-interval-bytes", "1024"),
                        ("key-load-delay", "100"),
                    ],
                );
                let _: () = redis::cmd("DEBUG")
                    .arg("POPULATE")
                    .arg(12_000)
                    .arg("filler")
                    .query(&mut con)
                    .unwrap();
                reloader.send(con, |con| {
                    let _: () = redis::cmd("DEBUG")
                        .arg("RELOAD")
                        .query(con)
                        .expect("DEBUG RELOAD ran (the server allows DEBUG from loopback)");
                });
            },
            move |server| {
                joined.join();
                common::config_set(&mut server.connection(), &[("key-load-delay", "0")]);
            },
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            skipped > 0,
            "{client:?} {face:?}: no call skipped the store while it was loading"
        );
    });
}

/// Another client's script loops (a bug in someone else's Lua): past
/// `busy-reply-threshold` (100 ms here, 5 s by default) the server answers
/// every other command with `BUSY` until `SCRIPT KILL`. Calls fail open and
/// the breaker opens, as for a server that does not answer at all.
fn busy_with_a_slow_script(client: Client) {
    on_both_faces(|face| {
        let looper = InBackground::default();
        let joined = looper.clone();
        let Skipped(skipped) = scenario(
            "another client's script loops (BUSY)",
            client,
            face,
            move |server| {
                let mut con = server.connection();
                common::config_set(&mut con, &[("busy-reply-threshold", "100")]);
                looper.send(con, |con| {
                    let killed: redis::RedisResult<()> = redis::cmd("EVAL")
                        .arg("local i = 0 while true do i = i + 1 end")
                        .arg(0)
                        .query(con);
                    let killed = killed.expect_err("the loop ends only when killed");
                    assert!(killed.to_string().contains("killed"), "{killed}");
                });
            },
            move |server| {
                // Retried: the kill may come before the loop has started.
                let mut con = server.connection();
                let stopped = (0..100).any(|_| {
                    let kill: redis::RedisResult<()> =
                        redis::cmd("SCRIPT").arg("KILL").query(&mut con);
                    kill.is_ok() || {
                        std::thread::sleep(Duration::from_millis(20));
                        false
                    }
                });
                assert!(stopped, "SCRIPT KILL stopped the loop");
                joined.join();
            },
        );
        assert!(
            skipped > 0,
            "{client:?} {face:?}: no call skipped the store while it answered BUSY"
        );
    });
}

/// `CLIENT PAUSE … WRITE`, as a failover does: reads go on, scripts that
/// may write wait.
fn client_pause_write(client: Client) {
    on_both_faces(|face| {
        scenario(
            "CLIENT PAUSE 3000 WRITE",
            client,
            face,
            |server| {
                let _: () = redis::cmd("CLIENT")
                    .arg("PAUSE")
                    .arg(3000)
                    .arg("WRITE")
                    .query(&mut server.connection())
                    .unwrap();
            },
            |server| {
                let _: () = redis::cmd("CLIENT")
                    .arg("UNPAUSE")
                    .query(&mut server.connection())
                    .unwrap();
            },
        );
    });
}

/// The server drops every client connection and flushes the script cache
/// and the functions every 5 ms for the fault window (`CLIENT KILL TYPE
/// normal`, `SCRIPT FLUSH` and `FUNCTION FLUSH`, as an operator's script, a
/// proxy restart or a failover to a server without them would):
/// calls fail open fast (the breaker opens), no wrong value, and hits come
/// back once it stops.
fn kill_and_flush_storm(client: Client) {
    on_both_faces(|face| {
        let stop = Arc::new(AtomicBool::new(false));
        let storm: Arc<Mutex<Option<std::thread::JoinHandle<u64>>>> = Arc::default();
        let (stop_at_end, join) = (stop.clone(), storm.clone());
        let Skipped(skipped) = scenario(
            "CLIENT KILL + SCRIPT FLUSH + FUNCTION FLUSH every 5 ms",
            client,
            face,
            move |server| {
                let mut con = server.connection();
                *storm.lock().unwrap() = Some(std::thread::spawn(move || {
                    let (started, mut rounds) = (Instant::now(), 0u64);
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < LIMIT {
                        drop_clients(&mut con);
                        for what in ["SCRIPT", "FUNCTION"] {
                            let _: () = redis::cmd(what).arg("FLUSH").query(&mut con).unwrap();
                        }
                        rounds += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    rounds
                }));
            },
            move |_| {
                stop_at_end.store(true, Ordering::Relaxed);
                if let Some(t) = join.lock().unwrap().take() {
                    let rounds = t.join().unwrap();
                    assert!(rounds > 100, "the storm ran: {rounds} rounds");
                }
            },
        );
        // fred waits for its connection to come back (a millisecond or two)
        // before it sends a call again, where redis-rs sends it at once on
        // a new connection; so a fred connection lost again and again is
        // not waited for: calls fail at once, the breaker opens and calls
        // skip the store. (fred used to wait every time, served a fifth of
        // the normal calls, and its breaker never opened.)
        if matches!(client, Client::Fred) {
            assert!(
                skipped > 0,
                "{face:?}: no call skipped the store during the storm"
            );
        }
    });
}

/// Redis evicts single keys under `maxmemory` with `allkeys-random`, so
/// pairs lose a half at any moment, while 4 threads call 16 caches of 1 KB
/// values on one store. A cache that propagates store errors sees none (a
/// get that meets a lost half is a miss and the put repairs the pair), and
/// no caller sees a wrong value.
fn halves_evicted_under_load(client: Client) {
    let server = OwnedServer::start();
    let mut con = server.connection();
    common::config_set(
        &mut con,
        &[("maxmemory", "4mb"), ("maxmemory-policy", "allkeys-random")],
    );
    let store = open(client, &server.url);
    let caches: Vec<Arc<FuncCache<AnyStore>>> = (0..16)
        .map(|i| {
            Arc::new(
                FuncCache::builder(format!("evicted-{i}"))
                    .policy(LruPolicy)
                    .maxsize(500)
                    .on_store_error(redis_func_cache_core::OnStoreError::Propagate)
                    .store(store.clone())
                    .build()
                    .unwrap(),
            )
        })
        .collect();
    let value = |i: usize, k: u32| format!("{i}-{k}-{}", "x".repeat(1000));
    let callers: Vec<std::thread::JoinHandle<(u64, u64)>> = (0..4usize)
        .map(|t| {
            let caches = caches.clone();
            std::thread::spawn(move || {
                let (started, mut calls, mut hits) = (Instant::now(), 0u64, 0u64);
                let mut n = t as u64 * 7919;
                while started.elapsed() < Duration::from_millis(2500) {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let (i, k) = ((n >> 33) as usize % caches.len(), (n >> 45) as u32 % 300);
                    let mut ran = false;
                    let v: String = caches[i]
                        .call(&F, &k, || {
                            ran = true;
                            value(i, k)
                        })
                        .unwrap_or_else(|e| {
                            panic!("{client:?}: a store error reached a caller: {e}")
                        });
                    assert_eq!(v, value(i, k), "a wrong value for cache {i}, key {k}");
                    calls += 1;
                    hits += u64::from(!ran);
                }
                (calls, hits)
            })
        })
        .collect();
    let (mut calls, mut hits) = (0, 0);
    for t in callers {
        let (c, h) = t.join().expect("a caller saw an error or a wrong value");
        calls += c;
        hits += h;
    }
    let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    let evicted: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    println!(
        "chaos | allkeys-random at 4 MB | {client:?} | {calls} calls, {hits} hits, {evicted} keys evicted by Redis, 0 errors, 0 wrong values"
    );
    assert!(evicted > 0, "Redis evicted keys: the pairs did lose halves");
    assert!(
        hits > 0 && calls > 1000,
        "the load ran: {calls} calls, {hits} hits"
    );
}

#[test]
fn killed_and_restarted_redis_rs() {
    killed_and_restarted(Client::RedisRs);
}

#[test]
fn killed_and_restarted_fred() {
    killed_and_restarted(Client::Fred);
}

#[test]
fn paused_redis_rs() {
    paused(Client::RedisRs);
}

#[test]
fn paused_fred() {
    paused(Client::Fred);
}

#[test]
fn debug_sleep_redis_rs() {
    debug_sleep(Client::RedisRs);
}

#[test]
fn debug_sleep_fred() {
    debug_sleep(Client::Fred);
}

#[test]
fn reloading_redis_rs() {
    reloading(Client::RedisRs);
}

#[test]
fn reloading_fred() {
    reloading(Client::Fred);
}

#[test]
fn busy_with_a_slow_script_redis_rs() {
    busy_with_a_slow_script(Client::RedisRs);
}

#[test]
fn busy_with_a_slow_script_fred() {
    busy_with_a_slow_script(Client::Fred);
}

#[test]
fn client_pause_write_redis_rs() {
    client_pause_write(Client::RedisRs);
}

#[test]
fn client_pause_write_fred() {
    client_pause_write(Client::Fred);
}

/// A store opened while its server is down: opening succeeds at once,
/// calls fail open within the deadline, and caching starts once the server
/// is up.
fn opens_before_the_server(client: Client) {
    let deadline = RedisOptions::default().deadline;
    let mut server = OwnedServer::not_started();
    let started = Instant::now();
    let cache = cache(open(client, &server.url));
    assert!(
        started.elapsed() <= deadline + SLACK,
        "{client:?}: open took {:?}",
        started.elapsed()
    );
    for k in 0..20u32 {
        let start = Instant::now();
        let v: u32 = cache.call(&F, &k, || k * 3).unwrap();
        assert_eq!(v, k * 3);
        assert!(
            start.elapsed() <= deadline * 2 + SLACK,
            "{client:?}: a call took {:?}",
            start.elapsed()
        );
    }
    server.restart();
    let up = Instant::now();
    loop {
        let _: u32 = cache.call(&F, &1u32, || 3).unwrap();
        let (v, counts) =
            redis_func_cache_core::stats::count(|| cache.call(&F, &1u32, || 3u32).unwrap());
        assert_eq!(v, 3);
        if counts.hits == 1 {
            break;
        }
        assert!(
            up.elapsed() < Duration::from_millis(1500) + SLACK * 2,
            "{client:?}: no hit {:?} after the server came up",
            up.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "{client:?}: first hit {:?} after the server came up",
        up.elapsed()
    );
}

#[test]
fn a_store_opens_before_its_server_redis_rs() {
    opens_before_the_server(Client::RedisRs);
}

#[test]
fn a_store_opens_before_its_server_fred() {
    opens_before_the_server(Client::Fred);
}

#[test]
fn kill_and_flush_storm_redis_rs() {
    kill_and_flush_storm(Client::RedisRs);
}

#[test]
fn kill_and_flush_storm_fred() {
    kill_and_flush_storm(Client::Fred);
}

#[test]
fn halves_evicted_under_load_redis_rs() {
    halves_evicted_under_load(Client::RedisRs);
}

#[test]
fn halves_evicted_under_load_fred() {
    halves_evicted_under_load(Client::Fred);
}

/// Every connection the store holds (redis-rs: the sync pool, filled by 4
/// threads at once) is dropped by the server while idle (`CLIENT KILL`, as
/// a restart, a proxy or an idle timeout does). The next calls find them
/// dead and go on, within the deadline, on new connections: no call fails
/// and none is skipped. (Before, on redis-rs each dead pooled connection
/// cost a failed call, and after an outage the breaker's probes met them
/// one at a time, a probe interval each, before the first hit.)
#[test]
fn connections_the_server_dropped_cost_no_call_redis_rs() {
    connections_the_server_dropped_cost_no_call(Client::RedisRs);
}

#[test]
fn connections_the_server_dropped_cost_no_call_fred() {
    connections_the_server_dropped_cost_no_call(Client::Fred);
}

fn connections_the_server_dropped_cost_no_call(client: Client) {
    let server = OwnedServer::start();
    let cache = cache(open(client, &server.url));
    // Fill the pool: 4 threads call at once, each on a connection of its own.
    let barrier = Arc::new(std::sync::Barrier::new(4));
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let (cache, barrier) = (cache.clone(), barrier.clone());
            s.spawn(move || {
                for k in 0..KEYS {
                    barrier.wait();
                    let v: u32 = cache.call(&F, &(k * 4 + t), || (k * 4 + t) * 3).unwrap();
                    assert_eq!(v, (k * 4 + t) * 3);
                }
            });
        }
    });
    let killed = drop_clients(&mut server.connection());
    assert!(killed >= 1, "{client:?}: no connection to drop");
    let before = cache.stats();
    for k in 0..KEYS {
        let v: u32 = cache.call(&F, &k, || k * 3).unwrap();
        assert_eq!(v, k * 3);
    }
    let after = cache.stats();
    assert_eq!(
        after.backend_errors, before.backend_errors,
        "{client:?}: no call failed"
    );
    assert_eq!(
        after.skipped, before.skipped,
        "{client:?}: no call skipped the store"
    );
    assert_eq!(
        after.hits - before.hits,
        u64::from(KEYS),
        "{client:?}: every call hit"
    );
}

/// [`connections_the_server_dropped_cost_no_call`] for async calls: the
/// shared connection is dropped while idle; the next call finds it dead,
/// and goes once more on the connection the manager makes again.
#[test]
fn a_connection_the_server_dropped_costs_no_async_call_redis_rs() {
    let server = OwnedServer::start();
    let cache = cache(open(Client::RedisRs, &server.url));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for k in 0..KEYS {
            let v: u32 = cache.call_async(&F, &k, async || k * 3).await.unwrap();
            assert_eq!(v, k * 3);
        }
    });
    let killed = drop_clients(&mut server.connection());
    assert!(killed >= 1, "no connection to drop");
    let before = cache.stats();
    runtime.block_on(async {
        for k in 0..KEYS {
            let v: u32 = cache.call_async(&F, &k, async || k * 3).await.unwrap();
            assert_eq!(v, k * 3);
        }
    });
    let after = cache.stats();
    assert_eq!(
        after.backend_errors, before.backend_errors,
        "no call failed"
    );
    assert_eq!(after.skipped, before.skipped, "no call skipped the store");
    assert_eq!(after.hits - before.hits, u64::from(KEYS), "every call hit");
}
