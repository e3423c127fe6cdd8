//! A cache stampede across OS processes (SPEC §9): `--processes` copies of
//! this program each start `--callers` threads that call one missing entry
//! at the same moment; the function takes `--work-ms`. With a lease (the
//! default here, `--lease-ms`) the whole fleet runs it once; with
//! `--no-lease`, in-process single-flight alone runs it once per process.
//!
//! ```sh
//! cargo run --example stampede --features redis -- \
//!     --redis-url redis://127.0.0.1:6379/ --processes 4 --callers 25 --work-ms 200 --lease-ms 2000
//! ```
//!
//! It prints one JSON line: `{"callers":100,"runs":1,"p50_ms":…,"p99_ms":…,
//! "max_ms":…}`, the callers' times measured from the common start. `runs`
//! is what the processes counted; with `--runs-key KEY` each run of the
//! function also `INCR`s `KEY` on the server (outside the cache's prefix),
//! so the server itself can count them. The cache (`stampede`) is purged
//! before the processes start, so the entry is missing.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use redis_func_cache::{FuncCache, FuncId, RedisStore};

static WORK: FuncId = FuncId::new("stampede", "work", 1);

/// Starts a stampede on one missing entry and reports how it went.
#[derive(Parser, Debug, Clone)]
#[command(about)]
struct Args {
    /// The Redis server.
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// OS processes calling at once.
    #[arg(long, default_value_t = 4)]
    processes: usize,
    /// Concurrent callers (threads) in each process.
    #[arg(long, default_value_t = 25)]
    callers: usize,
    /// How long one run of the function takes, in ms.
    #[arg(long, default_value_t = 200)]
    work_ms: u64,
    /// The lease, in ms; longer than the work.
    #[arg(long, default_value_t = 2000)]
    lease_ms: u64,
    /// No cross-process lease: each process computes once.
    #[arg(long)]
    no_lease: bool,
    /// Each run of the function also INCRs this key on the server.
    #[arg(long)]
    runs_key: Option<String>,
    /// Internal: run as one of the processes, starting the callers at this
    /// UNIX time in ms.
    #[arg(long, hide = true)]
    child_start_ms: Option<u64>,
}

/// One process's answer to the parent (one JSON line on its stdout).
struct ProcessReport {
    runs: u64,
    times_us: Vec<u64>,
}

impl ProcessReport {
    fn to_json(&self) -> String {
        serde_json::json!({ "runs": self.runs, "times_us": self.times_us }).to_string()
    }

    fn from_json(line: &str) -> Result<Self, String> {
        let bad = || format!("a process answered {line:?}");
        let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad())?;
        let runs = v["runs"].as_u64().ok_or_else(bad)?;
        let times_us = v["times_us"]
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|t| t.as_u64().ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        Ok(ProcessReport { runs, times_us })
    }
}

fn cache(args: &Args) -> Result<FuncCache<RedisStore>, String> {
    let store = RedisStore::open(args.redis_url.as_str()).map_err(|e| e.to_string())?;
    let builder = FuncCache::builder("stampede").store(store);
    let builder = if args.no_lease {
        builder
    } else {
        builder.lease(Duration::from_millis(args.lease_ms))
    };
    builder.build().map_err(|e| e.to_string())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One process: its callers start together at `start_ms`.
fn run_process(args: &Args, start_ms: u64) -> Result<ProcessReport, String> {
    let cache = Arc::new(cache(args)?);
    let counter = match &args.runs_key {
        Some(_) => {
            let client = redis::Client::open(args.redis_url.as_str()).map_err(|e| e.to_string())?;
            // Shared by the process's callers: only a run of the function
            // (once per process at most) uses it.
            Some(Arc::new(Mutex::new(
                client.get_connection().map_err(|e| e.to_string())?,
            )))
        }
        None => None,
    };
    // Connect before the start, so the first call measures the cache, not
    // the connection set-up.
    cache.len(&WORK).map_err(|e| e.to_string())?;
    let runs = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(Barrier::new(args.callers));
    let work = Duration::from_millis(args.work_ms);
    let callers: Vec<_> = (0..args.callers)
        .map(|_| {
            let (cache, runs, ready) = (cache.clone(), runs.clone(), ready.clone());
            let (counter, runs_key) = (counter.clone(), args.runs_key.clone());
            thread::spawn(move || {
                ready.wait();
                let wait = start_ms.saturating_sub(unix_ms());
                thread::sleep(Duration::from_millis(wait));
                let began = Instant::now();
                let value = cache.call(&WORK, &42u64, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    if let (Some(counter), Some(key)) = (&counter, &runs_key) {
                        let mut con = counter.lock().unwrap_or_else(|p| p.into_inner());
                        let counted: redis::RedisResult<i64> =
                            redis::cmd("INCR").arg(key).query(&mut *con);
                        if let Err(e) = counted {
                            eprintln!("stampede: INCR {key}: {e}");
                        }
                    }
                    thread::sleep(work);
                    4242u64
                });
                (value, began.elapsed())
            })
        })
        .collect();
    let mut times_us = Vec::with_capacity(args.callers);
    for caller in callers {
        let (value, took) = caller.join().map_err(|_| "a caller panicked".to_owned())?;
        let value = value.map_err(|e| e.to_string())?;
        if value != 4242 {
            return Err(format!("a caller got {value}, not 4242"));
        }
        times_us.push(took.as_micros() as u64);
    }
    Ok(ProcessReport {
        runs: runs.load(Ordering::SeqCst),
        times_us,
    })
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn run_fleet(args: &Args) -> Result<String, String> {
    if args.processes == 0 || args.callers == 0 {
        return Err("--processes and --callers must be at least 1".into());
    }
    cache(args)?
        .purge()
        .map_err(|e| format!("purging the cache: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // Time to start every process and connect it, then all call at once.
    let start_ms = unix_ms() + 1000 + 100 * args.processes as u64;
    let mut children = Vec::with_capacity(args.processes);
    for _ in 0..args.processes {
        let mut command = Command::new(&exe);
        command
            .args(["--redis-url", &args.redis_url])
            .args(["--callers", &args.callers.to_string()])
            .args(["--work-ms", &args.work_ms.to_string()])
            .args(["--lease-ms", &args.lease_ms.to_string()])
            .args(["--child-start-ms", &start_ms.to_string()])
            .stdout(Stdio::piped());
        if args.no_lease {
            command.arg("--no-lease");
        }
        if let Some(key) = &args.runs_key {
            command.args(["--runs-key", key]);
        }
        children.push(
            command
                .spawn()
                .map_err(|e| format!("starting a process: {e}"))?,
        );
    }
    let mut runs = 0;
    let mut times = Vec::new();
    for mut child in children {
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let line = BufReader::new(stdout)
            .lines()
            .next()
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("a process failed ({status})"));
        }
        let report = ProcessReport::from_json(&line)?;
        runs += report.runs;
        times.extend(report.times_us);
    }
    times.sort_unstable();
    let ms = |us: u64| (us as f64 / 100.0).round() / 10.0;
    Ok(format!(
        r#"{{"callers":{},"runs":{runs},"p50_ms":{},"p99_ms":{},"max_ms":{}}}"#,
        times.len(),
        ms(quantile(&times, 0.50)),
        ms(quantile(&times, 0.99)),
        ms(times.last().copied().unwrap_or(0)),
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.child_start_ms {
        Some(start_ms) => run_process(&args, start_ms).map(|report| report.to_json()),
        None => run_fleet(&args),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stampede: {e}");
            ExitCode::FAILURE
        }
    }
}
