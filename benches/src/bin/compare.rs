//! `compare`: ours and a baseline, interleaved in one run, with the ratio
//! checked against its target.
//!
//! ```text
//! cargo run --release -p redis-func-cache-benches --bin compare -- --quick
//! cargo run --release -p redis-func-cache-benches --bin compare -- --redis-url redis://127.0.0.1:6379/ --json
//! cargo run --release -p redis-func-cache-benches --bin compare -- --save docs/benchmarks/compare.json
//! ```
//!
//! Without `--redis-url` it starts a `redis-server` of its own on a free
//! loopback port and stops it at the end. It flushes the database it is
//! given.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use redis_func_cache_benches::compare::{self, Row, Settings, memory_rows, python, redis_rows};
use redis_func_cache_redis::test_server::Server;

/// Measures redis-func-cache beside its baselines and prints the ratios.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Smaller sizes and fewer, shorter rounds: under a minute on 2 cores.
    #[arg(long)]
    quick: bool,
    /// A Redis server to use (its database is flushed); without it, one is
    /// started on a free loopback port.
    #[arg(long)]
    redis_url: Option<String>,
    /// One JSON line per comparison instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON lines to this file, so one run gives both the
    /// table and the lines to publish.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Run only the comparisons whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Where the Python venv is made (once) for the Python rows.
    #[arg(long, default_value = "target/compare-python")]
    venv: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The comparisons of the memory store.
const MEMORY_ROWS: [&str; 3] = [
    "memory_hit_vs_moka_1t",
    "memory_hit_vs_moka_2t",
    "memory_put_scaling",
];

/// The comparisons that need Redis.
const REDIS_ROWS: [&str; 16] = [
    "redis_hit_server_us_lru",
    "redis_hit_server_us_lru_floor",
    "redis_hit_server_us_fifo",
    "redis_hit_server_us_lfu",
    "redis_hit_server_us_sieve",
    "redis_hit_server_us_s3fifo",
    "redis_hit_seq_async",
    "redis_hit_seq_sync",
    "redis_miss_seq",
    "redis_hit_conc64",
    "redis_hit_vs_cached",
    "redis_hit_vs_cached_conc64",
    "redis_put_scaling",
    "redis_hit_vs_python",
    "redis_bytes_per_entry",
    "stampede_p99",
];

fn run(args: &Args) -> Result<(), String> {
    let settings = if args.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    let wanted = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let all_rows: Vec<&str> = MEMORY_ROWS.iter().chain(&REDIS_ROWS).copied().collect();
    if !all_rows.iter().any(|n| wanted(n)) {
        return Err(format!(
            "--only {:?} matches no comparison; the comparisons are: {}",
            args.only.as_deref().unwrap_or(""),
            all_rows.join(", ")
        ));
    }
    // Open the output first: a bad path fails now, not after the run.
    let mut save = match &args.save {
        Some(path) => Some(
            std::fs::File::create(path).map_err(|e| format!("--save {}: {e}", path.display()))?,
        ),
        None => None,
    };
    eprintln!("{}", settings.describe());
    // Whether any comparison of a group is wanted.
    let any = |names: &[&str]| names.iter().any(|n| wanted(n));
    let mut rows: Vec<Row> = Vec::new();
    let mut report = |new: Vec<Row>| {
        for row in new {
            if args.json {
                println!("{}", compare::json_line(&row));
            } else {
                eprintln!(
                    "  {}: ratio {:.3} ({})",
                    row.name,
                    row.ratio,
                    if row.met { "met" } else { "NOT MET" }
                );
            }
            rows.push(row);
        }
    };

    if any(&["memory_hit_vs_moka_1t", "memory_hit_vs_moka_2t"]) {
        let new = memory_rows::hits_vs_moka(&settings).map_err(|e| e.to_string())?;
        report(new.into_iter().filter(|r| wanted(&r.name)).collect());
    }
    if wanted("memory_put_scaling") {
        report(vec![
            memory_rows::put_scaling(&settings).map_err(|e| e.to_string())?,
        ]);
    }

    if any(&REDIS_ROWS) {
        redis_comparisons(args, &settings, &wanted, &any, &mut report)?;
    }

    if !args.json {
        println!("{}", settings.describe());
        println!();
        println!("{}", compare::table(&rows));
        let limits = compare::limits(&rows);
        if !limits.is_empty() {
            println!("What the server's measured work allows (SPEC's round trips, a free client):");
            println!("{limits}");
        }
    }
    if let (Some(file), Some(path)) = (save.as_mut(), &args.save) {
        use std::io::Write;
        let lines: String = rows.iter().map(|r| compare::json_line(r) + "\n").collect();
        file.write_all(lines.as_bytes())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let missed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.met)
        .map(|r| r.name.as_str())
        .collect();
    if !missed.is_empty() {
        eprintln!("targets not met: {}", missed.join(", "));
    }
    Ok(())
}

fn python_rows(
    bench: &redis_rows::Bench,
    settings: &Settings,
    args: &Args,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Row>, String> {
    eprintln!(
        "preparing the Python venv in {} ({})",
        args.venv.display(),
        python::PACKAGE
    );
    let py = python::Python::prepare(&args.venv)?;
    let url = bench.url();
    let mut rows = Vec::new();
    if wanted("redis_hit_vs_python") {
        let n = redis_rows::SEQ_KEYS;
        py.fill(url, n, "compare-python-hits")?;
        let mut ours = bench.sync_hit_rounds()?;
        let seconds = settings.round_time.as_secs_f64();
        let spec = compare::Spec::ops(
            "redis_hit_vs_python",
            "Python redis-func-cache 0.8.0 (PyPI), sequential sync hits, same server",
            2.0,
        );
        let (a, b) = compare::interleave(settings.rounds, &mut ours, || {
            py.hits(url, n, seconds, "compare-python-hits")
        })?;
        rows.push(spec.row(&a, &b));
    }
    if wanted("redis_bytes_per_entry") {
        let n = settings.bytes_entries;
        let ours = bench.our_bytes_per_entry()?;
        let keys = py.fill(url, n, "compare-python-bytes")?;
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let theirs = bench.memory_usage(&key_refs)? as f64 / n as f64;
        rows.push(redis_rows::Bench::bytes_row(ours, theirs));
    }
    Ok(rows)
}

fn redis_comparisons(
    args: &Args,
    settings: &Settings,
    wanted: &dyn Fn(&str) -> bool,
    any: &dyn Fn(&[&str]) -> bool,
    report: &mut dyn FnMut(Vec<Row>),
) -> Result<(), String> {
    let server;
    let url = match &args.redis_url {
        Some(url) => url.clone(),
        None => {
            server = Server::start();
            eprintln!("started redis-server at {}", server.url);
            server.url.clone()
        }
    };
    let bench = redis_rows::Bench::new(&url, settings.clone())?;
    if any(&[
        "redis_hit_seq_async",
        "redis_hit_seq_sync",
        "redis_miss_seq",
    ]) {
        let new = bench.sequential()?;
        report(new.into_iter().filter(|r| wanted(&r.name)).collect());
    }
    let cost_words: Vec<&'static str> = ["lru", "fifo", "lfu", "sieve", "s3fifo"]
        .into_iter()
        .filter(|w| {
            wanted(&format!("redis_hit_server_us_{w}"))
                || (*w == "lru" && wanted("redis_hit_server_us_lru_floor"))
        })
        .collect();
    if !cost_words.is_empty() {
        let new = bench.server_cost(&cost_words)?;
        report(new.into_iter().filter(|r| wanted(&r.name)).collect());
    }
    if wanted("redis_hit_conc64") {
        report(vec![bench.concurrent_hits()?]);
    }
    if any(&["redis_hit_vs_cached", "redis_hit_vs_cached_conc64"]) {
        let new = bench.versus_cached()?;
        report(new.into_iter().filter(|r| wanted(&r.name)).collect());
    }
    if wanted("redis_put_scaling") {
        report(vec![bench.put_scaling()?]);
    }
    if wanted("stampede_p99") {
        report(vec![compare::stampede::stampede_row(&url, settings)?]);
    }
    if any(&["redis_hit_vs_python", "redis_bytes_per_entry"]) {
        if python::python3_present() {
            report(python_rows(&bench, settings, args, wanted)?);
        } else {
            eprintln!(
                "skipped redis_hit_vs_python and redis_bytes_per_entry: python3 is not on this machine"
            );
        }
    }

    Ok(())
}
