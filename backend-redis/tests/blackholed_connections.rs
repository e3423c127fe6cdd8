//! Connections that go silent for good while new ones work: a proxy in
//! front of a real server stops forwarding on every connection it has
//! (neither closed nor reset, as a firewall or NAT that lost their state,
//! or a virtual IP moved to another host, leaves them), and forwards new
//! connections as before. A store must not keep waiting on the dead
//! connections: calls fail open at the deadline, and caching resumes on a
//! new connection. On both clients, sync, tokio and another executor, on
//! one server and on a cluster. A test's cases run side by side (they
//! mostly wait out links and deadlines) and meet each fault together.

mod common;

use common::Face;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{FuncCache, FuncId};
use redis_func_cache_policies::{LruClusterPolicy, LruPolicy};
use redis_func_cache_redis::{FredStore, RedisClusterStore, RedisStore};

static F: FuncId = FuncId::new("tests::blackholed_connections", "f", 1);

/// The longest the proxy (and each of its connections) lives.
const PROXY_LIFETIME: Duration = Duration::from_secs(120);

/// A TCP proxy on a free loopback port to `upstream`; stopped (its threads
/// joined) on drop.
struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
    /// Connections accepted before this generation forward nothing.
    generation: Arc<AtomicU64>,
    /// Milliseconds each chunk waits before it is forwarded, each way.
    delay_ms: Arc<AtomicU64>,
    /// Whether data trickles through (see [`Proxy::dribble`]).
    dribble: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let stop = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let dribble = Arc::new(AtomicBool::new(false));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = {
            let (stop, generation, threads, delay_ms, dribble) = (
                stop.clone(),
                generation.clone(),
                threads.clone(),
                delay_ms.clone(),
                dribble.clone(),
            );
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < PROXY_LIFETIME {
                    let Ok((client, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    };
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        continue;
                    };
                    let born = generation.load(Ordering::Relaxed);
                    for (from, to) in [
                        (client.try_clone(), server.try_clone()),
                        (server.try_clone(), client.try_clone()),
                    ] {
                        let (Ok(from), Ok(to)) = (from, to) else {
                            continue;
                        };
                        let link = Link {
                            born,
                            generation: generation.clone(),
                            delay_ms: delay_ms.clone(),
                            dribble: dribble.clone(),
                            stop: stop.clone(),
                            started,
                        };
                        let forward = std::thread::spawn(move || forward(from, to, &link));
                        threads.lock().unwrap().push(forward);
                    }
                }
                stop.store(true, Ordering::Relaxed);
            })
        };
        Proxy {
            port,
            stop,
            generation,
            delay_ms,
            dribble,
            threads,
            acceptor: Some(acceptor),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Every chunk waits `delay` before it is forwarded, each way: a round
    /// trip takes twice that longer.
    fn delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::Relaxed);
    }

    /// While `on`, data trickles through, each way: [`DRIBBLE_SLICE`]
    /// bytes every [`DRIBBLE_EVERY`] (a link short of bandwidth, or one
    /// that loses most packets). Every read then brings a few bytes well
    /// within any timeout, and a reply of a few kilobytes takes seconds.
    fn dribble(&self, on: bool) {
        self.dribble.store(on, Ordering::Relaxed);
    }

    /// Every connection open now forwards nothing from here on.
    fn blackhole_open_connections(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for thread in self.threads.lock().unwrap().drain(..) {
            let _ = thread.join();
        }
    }
}

/// What one direction of a proxied connection follows.
struct Link {
    /// The proxy's generation when the connection was accepted.
    born: u64,
    generation: Arc<AtomicU64>,
    delay_ms: Arc<AtomicU64>,
    dribble: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    started: Instant,
}

/// What a dribbling link forwards at a time (see [`Proxy::dribble`]).
const DRIBBLE_SLICE: usize = 16;
/// How often a dribbling link forwards a slice.
const DRIBBLE_EVERY: Duration = Duration::from_millis(10);

/// Copies `from` to `to`, each chunk after the proxy's delay, while the
/// connection's generation is current; after that, reads nothing and
/// writes nothing until the proxy stops.
fn forward(mut from: TcpStream, mut to: TcpStream, link: &Link) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = [0u8; 16 * 1024];
    let cut = || link.generation.load(Ordering::Relaxed) != link.born;
    while !link.stop.load(Ordering::Relaxed) && link.started.elapsed() < PROXY_LIFETIME {
        if cut() {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let delay = link.delay_ms.load(Ordering::Relaxed);
                if delay > 0 {
                    std::thread::sleep(Duration::from_millis(delay));
                }
                if cut() {
                    continue; // swallowed
                }
                let mut rest = &buf[..n];
                while link.dribble.load(Ordering::Relaxed) && rest.len() > DRIBBLE_SLICE {
                    std::thread::sleep(DRIBBLE_EVERY);
                    let (slice, after) = rest.split_at(DRIBBLE_SLICE);
                    if to.write_all(slice).is_err() {
                        return;
                    }
                    rest = after;
                }
                if to.write_all(rest).is_err() {
                    return;
                }
            }
            Err(e) if common::read_timed_out(&e) => {}
            Err(_) => return,
        }
    }
}

/// How long caching may take to resume after the cut: fred finds the
/// connection unresponsive after twice the deadline and a check interval,
/// then the breaker's next probe (one second at first) goes on the new one.
const RESUME_WITHIN: Duration = Duration::from_secs(10);

/// A store on the one URL of `urls`, or on the cluster whose nodes they
/// are.
fn store(client: &str, urls: &[String]) -> AnyStore {
    match (client, urls) {
        ("redis-rs", [url]) => AnyStore::new(RedisStore::open(url.as_str()).unwrap()),
        ("fred", [url]) => AnyStore::new(FredStore::open(url).unwrap()),
        ("redis-rs", nodes) => AnyStore::new(
            RedisClusterStore::open_cluster(nodes.iter().map(String::as_str)).unwrap(),
        ),
        ("fred", nodes) => {
            let hosts: Vec<&str> = nodes
                .iter()
                .map(|u| u.trim_start_matches("redis://").trim_end_matches('/'))
                .collect();
            let others: Vec<String> = hosts[1..].iter().map(|h| format!("node={h}")).collect();
            let url = format!("redis-cluster://{}?{}", hosts[0], others.join("&"));
            AnyStore::new(FredStore::open(&url).unwrap())
        }
        other => unreachable!("no such case: {other:?}"),
    }
}

/// An LRU cache named `name` on [`store`]`(client, urls)`, in the cluster
/// layout on a cluster.
fn lru_cache(name: &str, client: &str, urls: &[String]) -> FuncCache<AnyStore> {
    let builder = FuncCache::builder(name);
    let builder = if urls.len() > 1 {
        builder.policy(LruClusterPolicy)
    } else {
        builder.policy(LruPolicy)
    };
    builder.store(store(client, urls)).build().unwrap()
}

/// Runs `run` for each of `cases`, all side by side (the cases mostly
/// wait out links and timeouts), with the [`common::Phases`] that lets
/// them start a fault together; a panic in any fails the test.
fn side_by_side<C: Copy + Send + std::fmt::Debug>(
    cases: impl IntoIterator<Item = C>,
    run: impl Fn(C, &common::Phases) + Sync,
) {
    let cases: Vec<C> = cases.into_iter().collect();
    let phases = common::Phases::new(cases.len());
    let (run, phases) = (&run, &phases);
    common::side_by_side(
        cases
            .into_iter()
            .map(|case| {
                let run = Box::new(move || {
                    let _member = phases.member();
                    run(case, phases);
                }) as Box<dyn FnOnce() + Send + '_>;
                (format!("{case:?}"), run)
            })
            .collect(),
    );
}

/// For each face, side by side, a store on `urls` (the proxies' URLs)
/// whose connections `cut` silences (all the faces' at once): every call
/// still returns the function's result, few reach a dead connection (the
/// breaker opens), and a hit comes on a new connection within
/// [`RESUME_WITHIN`].
fn caching_resumes_after_the_cut(client: &str, urls: &[String], cut: impl Fn() + Sync) {
    let runtime = common::runtime();
    let cluster = urls.len() > 1;
    side_by_side(Face::ALL, |face, phases| {
        let case = format!("{client} {face:?}{}", if cluster { " cluster" } else { "" });
        let cache = lru_cache(&format!("blackholed-{client}-{face:?}"), client, urls);
        let call = |k: u32| face.call_plus_one(&cache, &runtime, &F, k);
        for k in 0..20 {
            assert_eq!(call(k % 10), k % 10 + 1, "{case}");
        }
        assert_eq!(cache.stats().hits, 10, "{case}: hits through the proxy");

        phases.together(&cut);
        let cut_at = Instant::now();
        let before = cache.stats();
        while cache.stats().hits == before.hits && cut_at.elapsed() < RESUME_WITHIN {
            assert_eq!(call(3), 4, "{case}: the function's result");
            std::thread::sleep(Duration::from_millis(10));
        }
        let after = cache.stats();
        eprintln!("{case}: first hit {:?} after the cut", cut_at.elapsed());
        assert!(
            after.hits > before.hits,
            "{case}: no hit within {RESUME_WITHIN:?} of the cut: {after:?}"
        );
        // Each failure costs a caller the deadline; the breaker keeps them
        // few (three open it, then one probe per interval).
        let failed = after.backend_errors - before.backend_errors;
        assert!(
            failed <= 8,
            "{case}: {failed} calls waited on a dead connection: {after:?}"
        );
    });
    runtime.shutdown_background();
}

fn one_server(client: &str) {
    let server = common::Server::start();
    let proxy = Proxy::start(server.port());
    caching_resumes_after_the_cut(client, &[proxy.url()], || {
        proxy.blackhole_open_connections();
    });
}

#[test]
fn caching_resumes_after_the_cut_redis_rs() {
    one_server("redis-rs");
}

#[test]
fn caching_resumes_after_the_cut_fred() {
    one_server("fred");
}

/// Three masters, each behind a proxy of its own whose port it announces,
/// so the clients reach the nodes only through the proxies (the nodes talk
/// to each other directly).
fn proxied_cluster() -> (common::ClusterServers, Vec<Proxy>) {
    let cluster = common::ClusterServers::start_masters_only();
    let proxies: Vec<Proxy> = (0..cluster.len())
        .map(|i| {
            let port: u16 = redis::cmd("CONFIG")
                .arg("GET")
                .arg("port")
                .query::<Vec<String>>(&mut cluster.node(i))
                .unwrap()[1]
                .parse()
                .unwrap();
            let proxy = Proxy::start(port);
            let announced = proxy.port.to_string();
            common::config_set(
                &mut cluster.node(i),
                &[("cluster-announce-port", &announced)],
            );
            proxy
        })
        .collect();
    // Every node tells the others its new port (gossip, within seconds).
    let start = Instant::now();
    while !(0..cluster.len()).all(|i| {
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut cluster.node(i))
            .unwrap();
        proxies
            .iter()
            .all(|p| nodes.contains(&format!(":{}@", p.port)))
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "ports not announced"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (cluster, proxies)
}

/// [`caching_resumes_after_the_cut`] on a [`proxied_cluster`], the cut
/// silencing every connection through the proxies.
fn cluster(client: &str) {
    let (_cluster, proxies) = proxied_cluster();
    let urls: Vec<String> = proxies.iter().map(Proxy::url).collect();
    caching_resumes_after_the_cut(client, &urls, || {
        for proxy in &proxies {
            proxy.blackhole_open_connections();
        }
    });
}

#[test]
fn cluster_caching_resumes_after_the_cut_redis_rs() {
    cluster("redis-rs");
}

#[test]
fn cluster_caching_resumes_after_the_cut_fred() {
    cluster("fred");
}

/// A slow link (a round trip of 160 ms against the default deadline of
/// 250 ms): a call on an open connection takes one round trip and hits,
/// while a new connection's connect and handshake outlast the first call.
/// Both clients keep caching, sync and async: fred connects apart from the
/// calls; redis-rs keeps its async connection after a call that timed out
/// (a new one is only made beside it), and its sync pool keeps a connection
/// whose reply came late and connects on threads of its own with a longer
/// connect timeout. (Before, redis-rs made a new connection inside the
/// call after each timeout: 0 hits.)
#[test]
fn a_slow_link_keeps_caching() {
    let server = common::Server::start();
    let proxy = Proxy::start(server.port());
    proxy.delay(SLOW_LINK_DELAY);
    keeps_caching_on_a_slow_link(&[proxy.url()]);
}

/// [`a_slow_link_keeps_caching`] on a cluster. (Before, redis-rs connected
/// to the cluster inside the first call, and gave each node's connect and
/// handshake one deadline: it never connected.)
#[test]
fn a_slow_link_to_a_cluster_keeps_caching() {
    let (_cluster, proxies) = proxied_cluster();
    for proxy in &proxies {
        proxy.delay(SLOW_LINK_DELAY);
    }
    let urls: Vec<String> = proxies.iter().map(Proxy::url).collect();
    keeps_caching_on_a_slow_link(&urls);
}

/// A connection that goes silent on a slow link is replaced too: the new
/// connection's connect, handshake and check take several round trips, and
/// redis-rs's renewal is given eight deadlines for them (`RENEWAL_DEADLINES`;
/// with an eighth of one, the async faces had no hit in 10 s after the cut;
/// the sync pool connects with four).
#[test]
fn a_silent_connection_on_a_slow_link_is_replaced() {
    let server = common::Server::start();
    let proxy = Proxy::start(server.port());
    proxy.delay(SLOW_LINK_DELAY);
    let runtime = common::runtime();
    let no_hit = Mutex::new(Vec::new());
    // Every case side by side; the cut silences all their connections at
    // once, after each has had its first hit (or waited for it in vain).
    side_by_side(slow_link_cases(), |(client, face), phases| {
        let case = format!("{client} {face:?}");
        let cache = lru_cache(
            &format!("slow-cut-{client}-{face:?}"),
            client,
            &[proxy.url()],
        );
        let call = || paced_call(face, &cache, &runtime, &case);
        let hit_within = |limit| hit_within(&cache, call, limit);
        let first = hit_within(SLOW_LINK_FIRST_HIT);
        if first.is_none() {
            let stats = cache.stats();
            no_hit
                .lock()
                .unwrap()
                .push(format!("{case}: no first hit: {stats:?}"));
        }
        phases.together(|| proxy.blackhole_open_connections());
        let Some(first) = first else { return };
        match hit_within(SLOW_LINK_FIRST_HIT) {
            Some(after) => {
                eprintln!(
                    "{case} on a slow link: first hit after {first:?}, after the cut {after:?}"
                )
            }
            None => no_hit.lock().unwrap().push(format!(
                "{case}: no hit within {SLOW_LINK_FIRST_HIT:?} of the cut: {:?}",
                cache.stats()
            )),
        }
    });
    runtime.shutdown_background();
    let no_hit = no_hit.into_inner().unwrap();
    assert!(no_hit.is_empty(), "{no_hit:#?}");
}

/// Each way: a round trip of twice this.
const SLOW_LINK_DELAY: Duration = Duration::from_millis(80);

/// How long the first hit on a slow link may take: the first call of each
/// script on each server loads it (three round trips, past the deadline),
/// and after the failures that costs, the breaker lets a call through once
/// a probe interval (1 s, then backing off).
const SLOW_LINK_FIRST_HIT: Duration = Duration::from_secs(10);

/// Every client with every face.
fn slow_link_cases() -> impl Iterator<Item = (&'static str, Face)> {
    ["fred", "redis-rs"]
        .into_iter()
        .flat_map(|client| Face::ALL.map(|face| (client, face)))
}

/// One call of the one key, then a pause, so calls skipped while the
/// breaker is open are few.
fn paced_call(
    face: Face,
    cache: &FuncCache<AnyStore>,
    runtime: &tokio::runtime::Runtime,
    case: &str,
) {
    assert_eq!(face.call_plus_one(cache, runtime, &F, 1), 2, "{case}");
    std::thread::sleep(Duration::from_millis(20));
}

/// Calls `call` until `cache` has one more hit, for at most `limit`: how
/// long that took, or `None` if no hit came.
fn hit_within(cache: &FuncCache<AnyStore>, call: impl Fn(), limit: Duration) -> Option<Duration> {
    let (started, hits) = (Instant::now(), cache.stats().hits);
    while cache.stats().hits == hits && started.elapsed() < limit {
        call();
    }
    (cache.stats().hits > hits).then(|| started.elapsed())
}

/// For each client and face, side by side, a store on `urls` (one server,
/// or the nodes of a cluster) called with one key: a first hit within
/// [`SLOW_LINK_FIRST_HIT`], and then at least half of the calls in the next
/// 2 s hit.
fn keeps_caching_on_a_slow_link(urls: &[String]) {
    let runtime = common::runtime();
    let cluster = urls.len() > 1;
    // Every case runs, and the ones with too few hits are told together.
    let few_hits = Mutex::new(Vec::new());
    side_by_side(slow_link_cases(), |(client, face), _| {
        let case = format!("{client} {face:?}{}", if cluster { " cluster" } else { "" });
        let cache = lru_cache(&format!("slow-{client}-{face:?}"), client, urls);
        let call = || paced_call(face, &cache, &runtime, &case);
        let started = Instant::now();
        hit_within(&cache, call, SLOW_LINK_FIRST_HIT);
        let first_hit = started.elapsed();
        let before = cache.stats();
        let mut calls = 0;
        while calls < 10 || started.elapsed() < first_hit + Duration::from_secs(2) {
            call();
            calls += 1;
        }
        let hits = cache.stats().hits - before.hits;
        eprintln!(
            "{case} on a slow link: first hit after {first_hit:?}, then {hits} hits in {calls} calls"
        );
        if before.hits == 0 || hits * 2 < calls {
            few_hits.lock().unwrap().push(format!(
                "{case}: first hit after {first_hit:?}, then {hits} hits in {calls} calls: {:?}",
                cache.stats()
            ));
        }
    });
    runtime.shutdown_background();
    let few_hits = few_hits.into_inner().unwrap();
    assert!(few_hits.is_empty(), "{few_hits:#?}");
}

/// A function whose results take seconds to cross a dribbling link.
static BIG: FuncId = FuncId::new("tests::blackholed_connections", "big", 1);

/// A result of 4 KiB: 256 slices of a dribbling link, 2.6 s.
fn big(k: u32) -> Vec<u8> {
    vec![u8::try_from(k % 251).unwrap_or(0); 4096]
}

/// `cache`'s call of [`big`], made as `face` says.
fn call_big(
    face: Face,
    cache: &FuncCache<AnyStore>,
    runtime: &tokio::runtime::Runtime,
    k: u32,
) -> Vec<u8> {
    match face {
        Face::Sync => cache.call(&BIG, &k, || big(k)),
        Face::Tokio => runtime.block_on(cache.call_async(&BIG, &k, async || big(k))),
        Face::OtherExecutor => {
            futures::executor::block_on(cache.call_async(&BIG, &k, async || big(k)))
        }
    }
    .unwrap()
}

/// The longest a call may take while replies trickle in: the deadline
/// (250 ms by default, SPEC §8) covers the whole reply, not each read of
/// it, plus the function and a margin for a slow machine.
const TRICKLE_CALL_LIMIT: Duration = Duration::from_millis(250 * 2 + 250);

/// A link that still carries every byte, but a few at a time: each read
/// brings some within any socket timeout, and a hit's reply of 4 KiB takes
/// 2.6 s. Every call still ends within its deadline (plus a margin) with the
/// function's result, on both clients and every face; once the link is
/// whole again, caching resumes.
#[test]
fn a_reply_that_trickles_in_ends_at_the_deadline() {
    let server = common::Server::start();
    let proxy = Proxy::start(server.port());
    replies_trickle_in(
        &[proxy.url()],
        || proxy.dribble(true),
        || proxy.dribble(false),
    );
}

/// [`a_reply_that_trickles_in_ends_at_the_deadline`] on a cluster, every
/// node's link trickling.
#[test]
fn a_reply_from_a_cluster_that_trickles_in_ends_at_the_deadline() {
    let (_cluster, proxies) = proxied_cluster();
    let urls: Vec<String> = proxies.iter().map(Proxy::url).collect();
    let dribble = |on: bool| proxies.iter().for_each(|p| p.dribble(on));
    replies_trickle_in(&urls, || dribble(true), || dribble(false));
}

/// For each client and face, side by side, an LRU cache on `urls` (one
/// server, or a cluster's nodes) filled with [`big`] results; between
/// `trickle` and `whole` (for all the cases at once), every call ends
/// within [`TRICKLE_CALL_LIMIT`] with the right result, and after `whole` a
/// hit comes within [`RESUME_WITHIN`].
fn replies_trickle_in(urls: &[String], trickle: impl Fn() + Sync, whole: impl Fn() + Sync) {
    let runtime = common::runtime();
    let cluster = urls.len() > 1;
    let slow = Mutex::new(Vec::new());
    side_by_side(slow_link_cases(), |(client, face), phases| {
        let case = format!("{client} {face:?}{}", if cluster { " cluster" } else { "" });
        let cache = lru_cache(&format!("trickle-{client}-{face:?}"), client, urls);
        for k in 0..10 {
            assert_eq!(
                call_big(face, &cache, &runtime, k % 5),
                big(k % 5),
                "{case}"
            );
        }
        assert_eq!(cache.stats().hits, 5, "{case}: hits through the proxy");

        phases.together(&trickle);
        let (dribbled_at, mut calls, mut slowest) = (Instant::now(), 0u32, Duration::ZERO);
        while dribbled_at.elapsed() < Duration::from_secs(4) {
            let started = Instant::now();
            assert_eq!(
                call_big(face, &cache, &runtime, calls % 5),
                big(calls % 5),
                "{case}"
            );
            slowest = slowest.max(started.elapsed());
            calls += 1;
        }
        eprintln!("{case}: {calls} calls while replies trickled, the slowest {slowest:?}");
        if slowest > TRICKLE_CALL_LIMIT {
            slow.lock().unwrap().push(format!(
                "{case}: a call took {slowest:?}: {:?}",
                cache.stats()
            ));
        }

        phases.together(&whole);
        let call = || {
            assert_eq!(call_big(face, &cache, &runtime, 1), big(1), "{case}");
            std::thread::sleep(Duration::from_millis(20));
        };
        if hit_within(&cache, call, RESUME_WITHIN).is_none() {
            slow.lock().unwrap().push(format!(
                "{case}: no hit after the link was whole: {:?}",
                cache.stats()
            ));
        }
    });
    runtime.shutdown_background();
    let slow = slow.into_inner().unwrap();
    assert!(slow.is_empty(), "{slow:#?}");
}
