//! SPEC §9 with real OS processes (dogpile #261): a process killed with
//! SIGKILL while it holds an entry's lease delays the others by at most the
//! lease time; then one of them takes the lease and computes, and every
//! caller gets the value.
//!
//! This target has no test harness: run without arguments it starts a
//! Redis server and, as the lease holder, a second copy of itself with
//! `--hold-lease URL`, which takes the lease, says so on its stdout and
//! computes forever, until this process kills it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use redis_func_cache::{FuncCache, FuncId, RedisStore};
use redis_func_cache_redis::test_server::Server;

static F: FuncId = FuncId::new("killed_holder", "slow", 1);
const LEASE: Duration = Duration::from_millis(1500);
const WORK: Duration = Duration::from_millis(200);
/// Longest this test waits for anything before failing.
const STUCK: Duration = Duration::from_secs(30);

fn cache(url: &str) -> FuncCache<RedisStore> {
    FuncCache::builder("killed-holder")
        .store(RedisStore::open(url).expect("redis opens"))
        .lease(LEASE)
        .build()
        .expect("valid cache")
}

/// The holder: takes the lease by missing, then never finishes.
fn hold_lease(url: &str) {
    let cache = cache(url);
    let _ = cache.call(&F, &1u32, || {
        println!("computing");
        thread::sleep(STUCK * 2);
        0u32
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--hold-lease") {
        hold_lease(args.get(i + 1).expect("--hold-lease URL"));
        return;
    }
    let server = Server::start();
    let exe = std::env::current_exe().expect("this test's executable");
    let mut holder = Command::new(exe)
        .args(["--hold-lease", server.url.as_str()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the holder process starts");
    let stdout = holder.stdout.take().expect("piped stdout");
    let (said, computing) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = said.send(line);
        }
    });
    let line = computing.recv_timeout(STUCK);
    assert_eq!(
        line.as_deref(),
        Ok("computing"),
        "the holder took the lease"
    );
    holder.kill().expect("SIGKILL the holder");
    holder.wait().expect("the holder is gone");
    let killed_at = Instant::now();

    // Two processes' worth of callers (two caches, each its own flights).
    let runs = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..2)
        .flat_map(|_| {
            let cache = Arc::new(cache(&server.url));
            (0..4).map(move |_| cache.clone())
        })
        .map(|cache| {
            let runs = runs.clone();
            thread::spawn(move || {
                let value = cache
                    .call(&F, &1u32, || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(WORK);
                        10u32
                    })
                    .expect("the call succeeds");
                (value, killed_at.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for caller in callers {
        let (value, took) = caller.join().expect("no caller panics");
        assert_eq!(value, 10);
        slowest = slowest.max(took);
    }
    let runs = runs.load(Ordering::SeqCst);
    assert_eq!(runs, 1, "one caller took over the dead holder's lease");
    let bound = LEASE + WORK + Duration::from_millis(300);
    assert!(
        slowest <= bound,
        "every caller finished within lease + work ({slowest:?} > {bound:?})"
    );
    println!(
        "killed_holder: a holder killed with SIGKILL; 8 callers in 2 caches finished {} ms after, \
         the function ran {runs} time (bound {} ms)",
        slowest.as_millis(),
        bound.as_millis()
    );
}
