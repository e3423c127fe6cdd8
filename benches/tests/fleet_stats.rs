//! Fleet-wide statistics across OS processes: three `replay --fleet-stats`
//! processes share one cache on one server (and on a cluster); the fleet
//! totals the last of them prints equal the sum of what each counted.

use std::process::{Child, Command, Stdio};

use redis_func_cache_redis::test_server::{ClusterServers, Server};

/// The sample trace shipped in the repository (tests run in `benches/`).
const SAMPLE: &str = "../traces/web07.trace.gz";

/// A replay with `--fleet-stats` (which implies `--backend redis`), with
/// `--json` or with the table line.
fn replay(extra: &[&str], limit: &str, json: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_replay"));
    command
        .args(["--trace", SAMPLE, "--policy", "lru", "--capacity", "500"])
        .args(["--limit", limit, "--fleet-stats"])
        .args(extra);
    if json {
        command.arg("--json");
    }
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("replay starts")
}

/// One process's own (hits, misses) and its fleet line's (hits, misses,
/// writes).
type Seen = ((u64, u64), (u64, u64, u64));

/// Runs three replays of different lengths at once; returns what each saw.
fn three_replays(extra: &[&str]) -> Vec<Seen> {
    let children: Vec<(Child, bool)> = [("3000", true), ("6000", false), ("9000", true)]
        .into_iter()
        .map(|(limit, json)| (replay(extra, limit, json), json))
        .collect();
    children
        .into_iter()
        .map(|(child, json)| {
            let out = child.wait_with_output().expect("replay runs");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let lines: Vec<&str> = stdout.lines().collect();
            let n = |v: &serde_json::Value, k: &str| {
                v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
            };
            let (own, fleet) = if json {
                // One JSON line: the process's report and the fleet's totals.
                assert_eq!(lines.len(), 1, "{stdout}");
                let line: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
                ((n(&line, "hits"), n(&line, "misses")), line)
            } else {
                // The table line, then the fleet's JSON line.
                assert_eq!(lines.len(), 2, "{stdout}");
                let fleet: serde_json::Value =
                    serde_json::from_str(lines[1]).expect("the fleet's JSON line");
                (
                    (
                        table_count(lines[0], "hits"),
                        table_count(lines[0], "misses"),
                    ),
                    fleet,
                )
            };
            (
                own,
                (
                    n(&fleet, "fleet_hits"),
                    n(&fleet, "fleet_misses"),
                    n(&fleet, "fleet_writes"),
                ),
            )
        })
        .collect()
}

/// A count from replay's table line (`…, 1576 hits, 1424 misses, …`).
fn table_count(line: &str, word: &str) -> u64 {
    let before = line
        .split(&format!(" {word},"))
        .next()
        .unwrap_or_else(|| panic!("{word} in {line}"));
    before
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{word} in {line}"))
}

fn check(results: &[Seen]) {
    let hits: u64 = results.iter().map(|r| r.0.0).sum();
    let misses: u64 = results.iter().map(|r| r.0.1).sum();
    assert_eq!(hits + misses, 18_000);
    // The longest replay finishes last: by then the others have flushed, and
    // its line is the whole fleet.
    let last = results.iter().map(|r| r.1).max().expect("three lines");
    assert_eq!(last, (hits, misses, misses), "{results:?}");
    for r in results {
        assert!(r.1.0 <= hits && r.1.1 <= misses, "{results:?}");
    }
}

#[test]
fn three_processes_on_one_server_sum_up() {
    let server = Server::start();
    check(&three_replays(&["--redis-url", &server.url]));
}

#[test]
fn three_processes_on_a_cluster_sum_up() {
    let cluster = ClusterServers::start_masters_only();
    let urls = cluster.urls.join(",");
    check(&three_replays(&[
        "--redis-url",
        &urls,
        "--cluster",
        "--layout",
        "cluster",
    ]));
}
