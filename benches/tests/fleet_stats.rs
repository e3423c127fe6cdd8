//! Fleet-wide statistics across OS processes: three `replay --fleet-stats`
//! processes share one cache on one server (and on a cluster); the fleet
//! totals the last of them prints equal the sum of what each counted.

use std::process::{Child, Command, Stdio};

use redis_func_cache_redis::test_server::{ClusterServers, Server};

/// The sample trace shipped in the repository (tests run in `benches/`).
const SAMPLE: &str = "../traces/web07.trace.gz";

fn replay(extra: &[&str], limit: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(["--trace", SAMPLE, "--policy", "lru", "--capacity", "500"])
        .args([
            "--limit",
            limit,
            "--backend",
            "redis",
            "--json",
            "--fleet-stats",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("replay starts")
}

/// Runs three replays of different lengths at once; returns each one's own
/// (hits, misses) and its fleet line's (hits, misses, writes).
fn three_replays(extra: &[&str]) -> Vec<((u64, u64), (u64, u64, u64))> {
    let children: Vec<Child> = ["3000", "6000", "9000"]
        .into_iter()
        .map(|limit| replay(extra, limit))
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("replay runs");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let lines: Vec<serde_json::Value> = stdout
                .lines()
                .map(|l| serde_json::from_str(l).expect("JSON lines"))
                .collect();
            assert_eq!(lines.len(), 2, "the report, then the fleet: {stdout}");
            let (own, fleet) = (&lines[0], &lines[1]);
            let n = |v: &serde_json::Value, k: &str| {
                v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
            };
            (
                (n(own, "hits"), n(own, "misses")),
                (
                    n(fleet, "fleet_hits"),
                    n(fleet, "fleet_misses"),
                    n(fleet, "fleet_writes"),
                ),
            )
        })
        .collect()
}

fn check(results: &[((u64, u64), (u64, u64, u64))]) {
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
