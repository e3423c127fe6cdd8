//! Peers that do not serve the store, on loopback ports of the test's own:
//! one that answers every request with bytes that are not RESP (an HTTP
//! server on the wrong port), one that closes every connection it accepts,
//! one that accepts and never answers, and a Redis server that refuses the
//! store's password or, at its client limit, its connections. On every
//! client and face a call fails open (the
//! function's result, no error), and after the breaker's three failures
//! calls skip the store instead of paying for it.

mod common;

use common::Face;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{FuncCache, FuncId, StatsSnapshot};
use redis_func_cache_policies::LruClusterPolicy;
use redis_func_cache_redis::{FredStore, RedisClusterStore, RedisStore};

static F: FuncId = FuncId::new("tests::broken_peers", "f", 1);

/// Calls per case: enough that most must be skipped once the breaker opens.
const CALLS: u32 = 40;
/// The longest a peer (and each of its connections) lives, whatever the test
/// does.
const PEER_LIFETIME: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Answers whatever it reads with an HTTP error.
    NotResp,
    /// Reads once, then closes the connection.
    Closes,
    /// Reads and never answers.
    Silent,
}

/// A peer on a free loopback port; stopped (its threads joined) on drop.
struct Peer {
    port: u16,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Peer {
    fn start(behaviour: Behaviour) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let acceptor = std::thread::spawn(move || {
            let started = Instant::now();
            let mut connections = Vec::new();
            while !stopped.load(Ordering::Relaxed) && started.elapsed() < PEER_LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let stopped = stopped.clone();
                        connections.push(std::thread::spawn(move || {
                            serve(stream, behaviour, &stopped, started);
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            stopped.store(true, Ordering::Relaxed);
            for connection in connections {
                let _ = connection.join();
            }
        });
        Peer {
            port,
            stop,
            acceptor: Some(acceptor),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// One connection, until the peer stops or the connection closes.
fn serve(
    mut stream: std::net::TcpStream,
    behaviour: Behaviour,
    stop: &AtomicBool,
    started: Instant,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) && started.elapsed() < PEER_LIFETIME {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => match behaviour {
                Behaviour::NotResp => {
                    if stream
                        .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
                Behaviour::Closes => return,
                Behaviour::Silent => {}
            },
            Err(e) if common::read_timed_out(&e) => {}
            Err(_) => return,
        }
    }
}

/// What [`CALLS`] calls to a store that never served one leave: no read
/// reached it, and the breaker opened after its three failures (a probe, one
/// per second at first, may add one more while the calls run).
fn assert_failed_open(stats: &StatsSnapshot, case: &str) {
    assert_eq!(
        stats.hits + stats.misses,
        0,
        "{case}: no read reached a store: {stats:?}"
    );
    assert!(
        stats.backend_errors <= 6,
        "{case}: the breaker did not open: {stats:?}"
    );
    assert!(
        stats.skipped >= u64::from(CALLS) - 6,
        "{case}: calls did not skip the store: {stats:?}"
    );
}

#[derive(Debug, Clone, Copy)]
enum Client {
    RedisRs,
    Fred,
    RedisRsCluster,
    FredCluster,
}

fn calls_fail_open_and_open_the_breaker(client: Client) {
    for behaviour in [Behaviour::NotResp, Behaviour::Closes, Behaviour::Silent] {
        for async_calls in [false, true] {
            let peer = Peer::start(behaviour);
            let url = peer.url();
            let store = match client {
                Client::RedisRs => AnyStore::new(RedisStore::open(url.as_str()).unwrap()),
                Client::Fred => AnyStore::new(FredStore::open(&url).unwrap()),
                Client::RedisRsCluster => {
                    AnyStore::new(RedisClusterStore::open_cluster([url.as_str()]).unwrap())
                }
                Client::FredCluster => AnyStore::new(
                    FredStore::open(&url.replace("redis://", "redis-cluster://")).unwrap(),
                ),
            };
            let cache = FuncCache::builder("broken-peers")
                .policy(LruClusterPolicy)
                .store(store)
                .build()
                .unwrap();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            for k in 0..CALLS {
                let v: u32 = if async_calls {
                    runtime
                        .block_on(cache.call_async(&F, &k, async || k + 1))
                        .unwrap()
                } else {
                    cache.call(&F, &k, || k + 1).unwrap()
                };
                assert_eq!(v, k + 1, "{client:?}, {behaviour:?}: the function's result");
            }
            assert_failed_open(
                &cache.stats(),
                &format!("{client:?}, {behaviour:?}, async: {async_calls}"),
            );
            drop(cache);
            runtime.shutdown_background();
        }
    }
}

#[test]
fn calls_to_a_peer_that_is_not_redis_fail_open_and_open_the_breaker_redis_rs() {
    calls_fail_open_and_open_the_breaker(Client::RedisRs);
}

#[test]
fn calls_to_a_peer_that_is_not_redis_fail_open_and_open_the_breaker_fred() {
    calls_fail_open_and_open_the_breaker(Client::Fred);
}

#[test]
fn calls_to_a_cluster_seed_that_is_not_redis_fail_open_and_open_the_breaker_redis_rs() {
    calls_fail_open_and_open_the_breaker(Client::RedisRsCluster);
}

#[test]
fn calls_to_a_cluster_seed_that_is_not_redis_fail_open_and_open_the_breaker_fred() {
    calls_fail_open_and_open_the_breaker(Client::FredCluster);
}

/// A server that refuses the store's password (rotated on the server before
/// the application's) is a failure like a server that is down, and once the
/// user's password is put right the store caches again within a probe
/// interval or so, on both clients and every face. (Before, redis-rs's async
/// connection stayed refused for good, and its calls never opened the
/// breaker.)
#[test]
fn a_refused_password_is_a_failure_until_it_is_put_right() {
    refused_until_put_right(
        |admin, port, case| {
            let user = format!("user-{case}");
            let _: () = redis::cmd("ACL")
                .arg(&["SETUSER", &user, "on", ">right", "~*", "&*", "+@all"])
                .query(admin)
                .unwrap();
            format!("redis://{user}:wrong@127.0.0.1:{port}/")
        },
        |admin, case| {
            // The password the store holds becomes the user's.
            let _: () = redis::cmd("ACL")
                .arg(&["SETUSER", &format!("user-{case}"), ">wrong"])
                .query(admin)
                .unwrap();
        },
    );
}

/// A server at its `maxclients` answers a new connection with an error and
/// closes it: a failure, until connections are let in again.
#[test]
fn a_server_at_its_client_limit_is_a_failure_until_it_lets_connections_in() {
    refused_until_put_right(
        |admin, port, _| {
            // The admin connection is the one client let in.
            let _: () = redis::cmd("CONFIG")
                .arg(&["SET", "maxclients", "1"])
                .query(admin)
                .unwrap();
            format!("redis://127.0.0.1:{port}/")
        },
        |admin, _| {
            let _: () = redis::cmd("CONFIG")
                .arg(&["SET", "maxclients", "1000"])
                .query(admin)
                .unwrap();
        },
    );
}

/// On both clients and every face, a store on a server that `refuse` set up
/// to refuse it (answering the store's URL): calls fail open and the breaker
/// opens; after `put_right`, a hit comes within 10 s (a probe interval, 1 s
/// at first, is what it should take).
fn refused_until_put_right(
    refuse: impl Fn(&mut redis::Connection, u16, &str) -> String,
    put_right: impl Fn(&mut redis::Connection, &str),
) {
    let server = common::Server::start();
    let mut admin = server.connection();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for client in [Client::RedisRs, Client::Fred] {
        for face in Face::ALL {
            let case = format!("{client:?}-{face:?}");
            let url = refuse(&mut admin, server.port(), &case);
            let store = match client {
                Client::RedisRs => AnyStore::new(RedisStore::open(url.as_str()).unwrap()),
                Client::Fred => AnyStore::new(FredStore::open(&url).unwrap()),
                Client::RedisRsCluster | Client::FredCluster => unreachable!("one server"),
            };
            let cache = FuncCache::builder(format!("refused-{case}"))
                .store(store)
                .build()
                .unwrap();
            let call = |k: u32| face.call_plus_one(&cache, &runtime, &F, k);
            for k in 0..CALLS {
                assert_eq!(call(k), k + 1, "{case}: the function's result");
            }
            assert_failed_open(&cache.stats(), &case);

            put_right(&mut admin, &case);
            let put_right_at = Instant::now();
            while cache.stats().hits == 0 && put_right_at.elapsed() < Duration::from_secs(10) {
                assert_eq!(call(7), 8);
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(
                cache.stats().hits > 0,
                "{case}: no hit within {:?} of the server put right",
                put_right_at.elapsed()
            );
        }
    }
    runtime.shutdown_background();
}
