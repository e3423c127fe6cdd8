//! `replay`: one trace through one policy, for benchmarking and
//! model-checking policies.
//!
//! ```text
//! cargo run --release -p redis-func-cache-benches --bin replay -- \
//!     --trace ../shared/traces/web07.trace.gz --policy lru --capacity 1000 --json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use redis_func_cache_benches::{replay, trace};

/// Replays a cache trace through a cached function f(key) -> key.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The trace: one integer key per line, plain or gzip'd (blank lines and LIRS `*` markers skipped).
    #[arg(long)]
    trace: PathBuf,
    /// lru, mru, fifo, lfu, rr, tlru, s3fifo or sieve.
    #[arg(long)]
    policy: String,
    /// The cache's maxsize.
    #[arg(long)]
    capacity: u64,
    /// The store: memory or redis (default: memory, or redis with
    /// `--fleet-stats`).
    #[arg(long)]
    backend: Option<String>,
    /// The Redis server for `--backend redis`; with `--cluster`, the nodes of
    /// the cluster, comma-separated (one is enough).
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// The Redis client: redis-rs or fred.
    #[arg(long, default_value = "redis-rs")]
    client: String,
    /// `--redis-url` names Redis Cluster nodes (use a cluster layout).
    #[arg(long)]
    cluster: bool,
    /// single, multiple, cluster or cluster-multiple.
    #[arg(long, default_value = "single")]
    layout: String,
    /// Replay at most this many requests.
    #[arg(long)]
    limit: Option<usize>,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    json: bool,
    /// For several replays of one trace at once on one server (Redis only):
    /// share the cache instead of purging it first, and afterwards report
    /// this process's counters, wait one reporting interval and print the
    /// fleet's totals as a JSON line `{"fleet_hits":…,"fleet_misses":…,…}`
    /// (with `--json`, in the report's own line).
    #[arg(long)]
    fleet_stats: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let policy = replay::policy(&args.policy, &args.layout)?;
    if args.capacity == 0 {
        return Err("--capacity must be at least 1".into());
    }
    let keys = trace::load(&args.trace, args.limit)?;
    let name = trace::name(&args.trace);
    let backend = match &args.backend {
        Some(backend) => backend.as_str(),
        None if args.fleet_stats => "redis",
        None => "memory",
    };
    let report = match backend {
        "memory" if args.fleet_stats => {
            return Err(
                "--fleet-stats needs --backend redis: the memory store's fleet is this one process"
                    .into(),
            );
        }
        "memory" => replay::run_memory(&name, &keys, policy, args.capacity)?,
        "redis" => {
            let urls: Vec<String> = args
                .redis_url
                .split(',')
                .map(|u| u.trim().to_owned())
                .collect();
            let client = replay::Client::parse(&args.client)?;
            replay::run_on_redis(
                &name,
                &keys,
                policy,
                args.capacity,
                &replay::RedisTarget {
                    client,
                    urls: &urls,
                    cluster: args.cluster,
                },
                args.fleet_stats,
            )?
        }
        other => return Err(format!("unknown backend {other:?}: use memory or redis")),
    };
    print_report(&args, &report)?;
    if let (Some(fleet), false) = (&report.fleet, args.json) {
        // Under the table line; with --json the report's line has it.
        println!(
            "{}",
            serde_json::to_string(fleet).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

fn print_report(args: &Args, report: &replay::Report) -> Result<(), String> {
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        let ratio = if report.requests == 0 {
            0.0
        } else {
            report.hits as f64 / report.requests as f64
        };
        println!(
            "{} {} {} cap {} ({}): {} requests, {} hits, {} misses, {} evictions, hit ratio {:.2}%, {:.3}s",
            report.trace,
            report.policy,
            report.layout,
            report.capacity,
            report.backend,
            report.requests,
            report.hits,
            report.misses,
            report.evictions,
            ratio * 100.0,
            report.seconds
        );
    }
    Ok(())
}
