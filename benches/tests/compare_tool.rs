//! Every comparison of the `compare` tool runs end to end at tiny sizes on
//! a real server (its numbers here mean nothing; BENCHMARKS.md has a full
//! run), and produces a row with both sides measured.

use std::time::Duration;

use redis_func_cache_benches::compare::{
    Row, ServerLimit, Settings, memory_rows, python, redis_rows, stampede,
};
use redis_func_cache_redis::test_server::Server;

fn tiny() -> Settings {
    Settings {
        rounds: 2,
        round_time: Duration::from_millis(30),
        scaling_entries: 3_000,
        conc_entries: 2_000,
        bytes_entries: 500,
        quick: true,
    }
}

fn check(rows: &[Row], names: &[&str]) {
    let got: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(got, names);
    for r in rows {
        assert!(r.ours > 0.0 && r.baseline_value > 0.0, "{r:?}");
        assert!(r.ratio.is_finite() && r.ratio > 0.0, "{r:?}");
        assert_eq!(
            r.rounds,
            if r.unit == "bytes/entry" { 1 } else { 2 },
            "{r:?}"
        );
        let line = serde_json::to_value(r).unwrap();
        for field in [
            "name",
            "ours",
            "baseline",
            "baseline_value",
            "unit",
            "ratio",
            "target",
            "met",
        ] {
            assert!(
                line.get(field).is_some(),
                "the JSON line has {field}: {line}"
            );
        }
    }
}

#[test]
fn the_memory_comparisons_run() {
    let settings = tiny();
    check(
        &memory_rows::hits_vs_moka(&settings).unwrap(),
        &["memory_hit_vs_moka_1t", "memory_hit_vs_moka_2t"],
    );
    check(
        &[memory_rows::put_scaling(&settings).unwrap()],
        &["memory_put_scaling"],
    );
}

#[test]
fn the_redis_comparisons_run() {
    let server = Server::start();
    let bench = redis_rows::Bench::new(&server.url, tiny()).unwrap();
    let sequential = bench.sequential().unwrap();
    check(
        &sequential,
        &[
            "redis_hit_seq_async",
            "redis_hit_seq_sync",
            "redis_miss_seq",
        ],
    );
    // Each sequential row carries the limit the server's work sets, from
    // server time Redis counted during its rounds.
    for row in &sequential {
        let Some(ServerLimit::Latency(limit)) = row.limit else {
            panic!("{} has a latency limit: {row:?}", row.name);
        };
        assert!(
            limit.server_us_ours > 0.0 && limit.server_us_baseline > 0.0,
            "{row:?}"
        );
        assert!(limit.ceiling > 0.0 && limit.ceiling < 1.0, "{row:?}");
        // Our scripts, sent raw beside the two sides, hit (or missed and
        // evicted) as the cache does; their rounds are timed.
        assert!(limit.raw_script_ratio > 0.0, "{row:?}");
        let line = serde_json::to_value(row).unwrap();
        assert_eq!(line["bound"], "latency", "{line}");
        assert!(line.get("raw_script_ratio").is_some(), "{line}");
        assert!(line.get("ceiling").is_some(), "{line}");
    }
    let conc64 = bench.concurrent_hits().unwrap();
    check(std::slice::from_ref(&conc64), &["redis_hit_conc64"]);
    let cached = bench.versus_cached().unwrap();
    check(
        &cached,
        &["redis_hit_vs_cached", "redis_hit_vs_cached_conc64"],
    );
    assert!(
        matches!(cached[0].limit, Some(ServerLimit::Latency(l)) if l.raw_script_ratio > 0.0),
        "{:?}",
        cached[0]
    );
    // The 64-task rows carry the limit of the server's one command thread,
    // from its CPU and command time during their rounds, and what our
    // scripts sent raw by the same tasks reached.
    for row in [&conc64, &cached[1]] {
        let Some(ServerLimit::ServerCpu(limit)) = row.limit else {
            panic!("{} has a server-thread limit: {row:?}", row.name);
        };
        // (Only signs: at these sizes a preempted command can count more
        // time than the thread's CPU.)
        for v in [
            limit.server_us_ours,
            limit.server_cpu_us_ours,
            limit.server_us_baseline,
            limit.server_cpu_us_baseline,
            limit.server_busy_ours,
            limit.server_busy_baseline,
            limit.raw_script_ratio,
        ] {
            assert!(v > 0.0, "{row:?}");
        }
        assert!(limit.ceiling > 0.0, "{row:?}");
        let line = serde_json::to_value(row).unwrap();
        assert_eq!(line["bound"], "server_cpu", "{line}");
        assert!(line.get("ceiling").is_some(), "{line}");
        assert!(line.get("raw_script_ratio").is_some(), "{line}");
    }
    check(&[bench.put_scaling().unwrap()], &["redis_put_scaling"]);
    let ours = bench.our_bytes_per_entry().unwrap();
    assert!(
        ours > 16.0,
        "an entry holds at least its 16-byte member: {ours}"
    );
}

#[test]
fn the_stampede_comparison_runs_the_function_once_per_round() {
    let server = Server::start();
    let row = stampede::stampede_row(&server.url, &tiny()).unwrap();
    check(std::slice::from_ref(&row), &["stampede_p99"]);
    assert_eq!(row.runs, Some(1), "{row:?}");
    assert_eq!(row.baseline_value, 200.0, "{row:?}");
    assert!(
        row.ours >= 200.0,
        "no caller is faster than the work: {row:?}"
    );
    let line = serde_json::to_value(&row).unwrap();
    assert_eq!(line["runs"], 1, "{line}");
}

/// The Python rows need python3 and PyPI; the README's test command runs on
/// machines that have both, so this test fails rather than skips without.
#[test]
fn the_python_comparisons_run() {
    assert!(
        python::python3_present(),
        "python3 is needed for the Python rows"
    );
    let server = Server::start();
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-python");
    let py = python::Python::prepare(&venv).unwrap();
    let keys = py.fill(&server.url, 200, "test-python").unwrap();
    assert_eq!(keys.len(), 2, "the Python pair: {keys:?}");
    let bench = redis_rows::Bench::new(&server.url, tiny()).unwrap();
    // Bench::new flushed the database; fill again.
    let keys = py.fill(&server.url, 200, "test-python").unwrap();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let bytes = bench.memory_usage(&refs).unwrap();
    assert!(bytes > 200 * 16, "{bytes} bytes for 200 entries");
    let rate = py.hits(&server.url, 200, 0.05, "test-python").unwrap();
    assert!(rate > 0.0);
}

/// The tool itself: the table on stdout, and with `--save` the same rows as
/// JSON lines in a file.
#[test]
fn the_tool_prints_the_table_and_saves_the_rows() {
    let saved = std::env::temp_dir().join(format!("compare-save-{}.json", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_compare"))
        .args(["--quick", "--only", "memory_hit_vs_moka_1t", "--save"])
        .arg(&saved)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("| memory_hit_vs_moka_1t |"), "{table}");
    let lines = std::fs::read_to_string(&saved).unwrap();
    std::fs::remove_file(&saved).unwrap();
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{lines}");
    assert_eq!(rows[0]["name"], "memory_hit_vs_moka_1t");
    assert!(rows[0]["ratio"].as_f64().unwrap() > 0.0, "{lines}");
}
