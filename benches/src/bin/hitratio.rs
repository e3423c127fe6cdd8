//! `hitratio`: every trace of a folder, at several capacities, through every
//! policy on the memory store, beside Bélády's optimum. Writes a Markdown
//! table (`hitratio.md`), the measurements (`hitratio.json`) and an SVG
//! chart per trace to `--out`.
//!
//! ```text
//! cargo run --release -p redis-func-cache-benches --bin hitratio -- --out target/hitratio
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use redis_func_cache_benches::hitratio::{self, Measurement, OPTIMUM};
use redis_func_cache_benches::trace;

/// Hit ratios of every policy on every trace, against the optimum.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The folder of traces (`*.trace`, `*.trace.gz`); default
    /// `$RFC_TRACES_DIR` or `../shared/traces`.
    #[arg(long)]
    traces: Option<PathBuf>,
    /// Capacities, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,250,500,1000,2500,5000"
    )]
    capacities: Vec<u64>,
    /// Policies, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lru,mru,fifo,lfu,rr,tlru,s3fifo,sieve"
    )]
    policies: Vec<String>,
    /// Only the first N requests of each trace.
    #[arg(long)]
    limit: Option<usize>,
    /// Where the table, the JSON and the charts go.
    #[arg(long, default_value = "target/hitratio")]
    out: PathBuf,
    /// Replays run side by side.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hitratio: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    for p in &args.policies {
        redis_func_cache_benches::replay::policy(p, "single")?;
    }
    if args.capacities.is_empty() || args.capacities.contains(&0) {
        return Err("capacities must be positive".into());
    }
    let dir = args.traces.clone().unwrap_or_else(trace::default_dir);
    // `list` and `load` name the path in their errors already.
    let paths = trace::list(&dir)?;
    if paths.is_empty() {
        return Err(format!("no traces in {}", dir.display()));
    }
    let traces: Vec<(String, Vec<i64>)> = paths
        .iter()
        .map(|p| trace::load(p, args.limit).map(|keys| (trace::name(p), keys)))
        .collect::<Result<_, _>>()?;

    let mut columns = args.policies.clone();
    columns.push(OPTIMUM.to_owned());
    let mut jobs = Vec::new();
    for (name, keys) in &traces {
        for &capacity in &args.capacities {
            for policy in &columns {
                jobs.push((name.as_str(), keys.as_slice(), capacity, policy.as_str()));
            }
        }
    }
    // The longest replays first, so the threads finish together.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.1.len()));
    let total: u64 = jobs.iter().map(|j| j.1.len() as u64).sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {percent}% {pos}/{len} requests, eta {eta} {msg}")
            .map_err(|e| e.to_string())?,
    );
    let queue = Mutex::new(jobs);
    let results = Mutex::new(Vec::<Measurement>::new());
    let failure = Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let Some((name, keys, capacity, policy)) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    bar.set_message(format!("{name} {policy} {capacity}"));
                    match hitratio::measure(name, keys, capacity, policy) {
                        Ok(m) => results.lock().unwrap().push(m),
                        Err(e) => {
                            *failure.lock().unwrap() =
                                Some(format!("{name} {policy} {capacity}: {e}"))
                        }
                    }
                    bar.inc(keys.len() as u64);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap();
    results
        .sort_by(|a, b| (&a.trace, a.capacity, &a.policy).cmp(&(&b.trace, b.capacity, &b.policy)));

    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let table = hitratio::markdown(&results, &args.policies);
    let write = |file: &str, text: &str| {
        let path = args.out.join(file);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("hitratio.md", &table)?;
    let json: Vec<String> = results
        .iter()
        .map(|m| serde_json::to_string(m).expect("a measurement serializes"))
        .collect();
    write("hitratio.json", &(json.join("\n") + "\n"))?;
    let charts = hitratio::plot(&results, &args.policies, &args.out)?;
    println!("{table}");
    eprintln!(
        "wrote hitratio.md, hitratio.json and {} charts to {}",
        charts.len(),
        args.out.display()
    );
    Ok(())
}
