//! The tools say what went wrong, exit non-zero, and never print a result
//! that is not one (issue: tools tell the truth).

use std::process::{Command, Output};

use redis_func_cache_redis::test_server::{ClusterServers, Server};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .expect("the tool starts")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The sample trace shipped in the repository (tests run in `benches/`).
const SAMPLE: &str = "../traces/web07.trace.gz";

#[test]
fn replay_says_when_cluster_does_not_match_the_server() {
    let server = Server::start();
    let out = run(
        env!("CARGO_BIN_EXE_replay"),
        &[
            "--trace",
            SAMPLE,
            "--policy",
            "lru",
            "--capacity",
            "10",
            "--limit",
            "100",
            "--backend",
            "redis",
            "--cluster",
            "--layout",
            "cluster",
            "--redis-url",
            &server.url,
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a Redis Cluster node"),
        "{}",
        stderr(&out)
    );

    let cluster = ClusterServers::start_masters_only();
    let out = run(
        env!("CARGO_BIN_EXE_replay"),
        &[
            "--trace",
            SAMPLE,
            "--policy",
            "lru",
            "--capacity",
            "10",
            "--limit",
            "100",
            "--backend",
            "redis",
            "--layout",
            "cluster-multiple",
            "--redis-url",
            &cluster.urls[0],
        ],
    );
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr(&out).contains("is a Redis Cluster node: add --cluster"),
        "{}",
        stderr(&out)
    );
}

/// A server under `noeviction` that refuses writes once it holds
/// `headroom` bytes more than it does now (0: at once); deletes still work.
fn server_with_headroom(headroom: u64) -> Server {
    let server = Server::start();
    let mut conn = server.connection();
    let info: String = redis::cmd("INFO").arg("memory").query(&mut conn).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO");
    let limit = if headroom == 0 { 1 } else { used + headroom };
    for (name, value) in [
        ("maxmemory-policy", "noeviction".to_owned()),
        ("maxmemory", limit.to_string()),
    ] {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query::<()>(&mut conn)
            .unwrap();
    }
    server
}

/// A server out of memory: every put is refused, so every call fails over
/// and runs uncached.
fn out_of_memory_server() -> Server {
    server_with_headroom(0)
}

#[test]
fn replay_fails_when_calls_failed_over() {
    // Calls that ran uncached are not a replay result.
    let server = out_of_memory_server();
    let url = server.url.clone();
    let out = run(
        env!("CARGO_BIN_EXE_replay"),
        &[
            "--trace",
            SAMPLE,
            "--policy",
            "lru",
            "--capacity",
            "10",
            "--limit",
            "50",
            "--backend",
            "redis",
            "--redis-url",
            &url,
        ],
    );
    assert!(
        !out.status.success(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr(&out).contains("store operations failed during the replay"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn compare_fails_a_row_measured_while_the_store_failed() {
    // A server that runs out of memory at some point of the run: before
    // the baseline's keys, or while the cache fills. Fail-open calls would
    // go on uncached (the hit loop then panicked on a key that was never
    // stored); the row fails with the store's error instead.
    for headroom in [40_000u64, 150_000] {
        let server = server_with_headroom(headroom);
        let out = run(
            env!("CARGO_BIN_EXE_compare"),
            &[
                "--quick",
                "--only",
                "redis_hit_seq_sync",
                "--redis-url",
                &server.url,
            ],
        );
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.contains("OOM") && !err.contains("panicked"),
            "headroom {headroom}: status {:?}, stderr: {err}",
            out.status
        );
    }
}

#[test]
fn replay_runs_the_readme_command_on_the_shipped_trace() {
    let out = run(
        env!("CARGO_BIN_EXE_replay"),
        &[
            "--trace",
            SAMPLE,
            "--policy",
            "lru",
            "--capacity",
            "1000",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = redis_func_cache_benches::trace::load(SAMPLE.as_ref(), None)
        .unwrap()
        .len();
    assert_eq!(line["requests"], requests, "{line}");
    assert_eq!(line["store_errors"], 0, "{line}");
}

#[test]
fn compare_refuses_an_empty_selection_and_a_bad_save_path_at_once() {
    let out = run(
        env!("CARGO_BIN_EXE_compare"),
        &["--quick", "--only", "no_such_row"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("matches no comparison"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("memory_put_scaling"),
        "lists the names"
    );

    let out = run(
        env!("CARGO_BIN_EXE_compare"),
        &[
            "--quick",
            "--only",
            "memory_put_scaling",
            "--save",
            "/no/such/dir/out.json",
        ],
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(text.contains("--save /no/such/dir/out.json"), "{text}");
    assert!(
        !text.contains("quick run:"),
        "failed before measuring anything: {text}"
    );
}

#[test]
fn hitratio_names_a_missing_folder_once() {
    let out = run(
        env!("CARGO_BIN_EXE_hitratio"),
        &["--traces", "/no/such/traces"],
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert_eq!(text.matches("/no/such/traces").count(), 1, "{text}");
}

#[test]
fn hit_instructions_prints_a_policys_get_script_or_names_the_unknown_one() {
    let bin = env!("CARGO_BIN_EXE_hit_instructions");
    let out = run(bin, &["--get-script", "sieve"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // SIEVE's own part and the default TTL's slide, and no other rule's.
    assert!(text.contains("if flag < 1 then"), "{text}");
    assert!(text.contains("= '3600000', 3375000\n"), "{text}");
    assert!(!text.contains("HINCRBY"), "{text}");
    let out = run(bin, &["--get-script", "lrux"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("no policy \"lrux\""),
        "{}",
        stderr(&out)
    );
    assert!(!run(bin, &["--get-script"]).status.success());
}
