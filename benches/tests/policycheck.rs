//! `policycheck`: Bélády's anomaly found for FIFO with the shortest
//! sequence (checked against a FIFO simulator written here), LRU free of
//! it, every built-in policy bounded, the memory store and real Redis
//! servers equivalent to the model, the Explorer served, bad arguments
//! refused.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use redis_func_cache::rules;
use redis_func_cache::store::PairContents;
use redis_func_cache_benches::policycheck::equivalence::{StoreUnderTest, compare};
use redis_func_cache_benches::policycheck::model::{PolicyModel, member};
use redis_func_cache_benches::policycheck::ops::{Op, OpSet};
use redis_func_cache_benches::policycheck::{Check, Scope, check};
use redis_func_cache_redis::test_server::{ClusterServers, Server};

fn scope(keys: u8, depth: usize, capacities: (u64, u64), ops: OpSet) -> Scope {
    Scope::new(keys, depth, capacities, ops)
}

fn policycheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policycheck"))
        .args(args)
        .output()
        .expect("policycheck runs")
}

fn json_of(output: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// FIFO of `capacity` over calls, written from the textbook: hits.
fn fifo_hits(keys: &[u64], capacity: usize) -> u64 {
    let mut queue = VecDeque::new();
    let mut hits = 0;
    for k in keys {
        if queue.contains(k) {
            hits += 1;
        } else {
            if queue.len() == capacity {
                queue.pop_front();
            }
            queue.push_back(*k);
        }
    }
    hits
}

#[test]
fn fifo_shows_beladys_anomaly_with_the_shortest_sequence() {
    let args = |depth: &'static str| {
        [
            "--policy",
            "fifo",
            "--property",
            "no-anomaly",
            "--keys",
            "5",
            "--depth",
            depth,
            "--capacities",
            "3-4",
            "--json",
        ]
    };
    let out = policycheck(&args("12"));
    assert_eq!(out.status.code(), Some(1), "broken: exit 1");
    let report = json_of(&out);
    assert_eq!(report["property"], "no-anomaly");
    assert_eq!(report["holds"], false);
    assert_eq!(report["policy"], "fifo");
    assert_eq!(report["capacities"], serde_json::json!([3, 4]));
    let sequence: Vec<u64> = report["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_u64().unwrap())
        .collect();
    assert_eq!(sequence.len(), 12);
    let hits = [fifo_hits(&sequence, 3), fifo_hits(&sequence, 4)];
    assert_eq!(
        report["hits"],
        serde_json::json!(hits),
        "the simulator agrees"
    );
    assert!(hits[0] > hits[1], "a real anomaly: {hits:?}");
    // Nothing shorter breaks it: the breadth-first search found a shortest.
    let out = policycheck(&args("11"));
    assert_eq!(out.status.code(), Some(0));
    let report = json_of(&out);
    assert_eq!(report["holds"], true);
    // Up to key renaming (FIFO treats keys as names): 21,232 distinct
    // states without the reduction, a few hundred with it.
    assert_eq!(report["symmetry"], true);
    assert!(report["unique_states"].as_u64().unwrap() > 100);
    // The readable form names the steps.
    let out = policycheck(&[
        "--policy",
        "fifo",
        "--property",
        "no-anomaly",
        "--keys",
        "5",
        "--depth",
        "12",
        "--capacities",
        "3-4",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("shortest counterexample (12 steps"), "{text}");
    assert!(
        text.contains("hits: 3 at maxsize 3, 2 at maxsize 4"),
        "{text}"
    );
}

#[test]
fn stack_policies_keep_no_anomaly_and_lfu_does_not() {
    let scope = scope(5, 10, (1, 4), OpSet::Calls);
    // LRU and MRU rank entries by recency whatever the capacity: stack
    // algorithms (Mattson et al., 1970), free of the anomaly.
    for policy in [rules::LRU, rules::MRU] {
        let report = check(&Check::NoAnomaly, policy, &scope).unwrap();
        assert!(report.holds, "{report}");
        // States up to key renaming: few, but the hit counts keep growing.
        assert!(report.symmetry && report.unique_states > 30, "{report}");
    }
    // LFU counts only while an entry is resident, so a larger cache keeps
    // counts a smaller one lost: not a stack algorithm.
    let report = check(&Check::NoAnomaly, rules::LFU, &scope).unwrap();
    let cx = report.counterexample.expect("LFU has an anomaly");
    let [small, large] = cx.hits.unwrap();
    assert!(small > large, "{cx:?}");
}

#[test]
fn every_built_in_policy_is_bounded() {
    let scope = scope(3, 5, (1, 3), OpSet::All);
    for policy in rules::ALL {
        let report = check(&Check::Bounded, policy, &scope).unwrap();
        assert!(report.holds, "{report}");
    }
}

#[test]
fn a_search_that_runs_out_of_states_says_its_verdict_has_no_depth_bound() {
    let small = |depth| scope(3, depth, (1, 2), OpSet::All);
    // LRU's states are orders of at most 2 keys: all reached long before 30.
    let report = check(&Check::Bounded, rules::LRU, &small(30)).unwrap();
    assert!(report.holds && report.exhaustive, "{report}");
    assert!(report.to_string().contains("any length"), "{report}");
    let report = check(&Check::Bounded, rules::LRU, &small(2)).unwrap();
    assert!(report.holds && !report.exhaustive, "{report}");
    // LFU's counts grow with every hit: never exhaustive.
    let report = check(&Check::Bounded, rules::LFU, &small(6)).unwrap();
    assert!(report.holds && !report.exhaustive, "{report}");
}

#[test]
fn the_memory_store_is_equivalent_to_the_model_for_every_policy() {
    let scope = scope(3, 4, (1, 3), OpSet::All);
    for policy in rules::ALL {
        let report = check(&Check::Equivalent(StoreUnderTest::Memory), policy, &scope).unwrap();
        assert!(report.holds, "{report}");
        assert!(report.states > 1_000, "{report}");
    }
}

/// Per-entry TTLs (SPEC §6): ticks among the operations, an expired entry
/// a miss that removes it; every policy stays bounded, and the memory store
/// follows the model on every path.
#[test]
fn per_entry_ttls_are_explored_with_ticks_on_every_policy() {
    let with_ttl = |ticks| Scope {
        entry_ttl: Some(ticks),
        ..scope(3, 5, (1, 3), OpSet::All)
    };
    for policy in rules::ALL {
        for ticks in [1, 2] {
            let report = check(&Check::Bounded, policy, &with_ttl(ticks)).unwrap();
            assert!(report.holds, "{report}");
            let memory = Check::Equivalent(StoreUnderTest::Memory);
            let report = check(&memory, policy, &with_ttl(ticks)).unwrap();
            assert!(report.holds, "{report}");
            assert!(
                report
                    .to_string()
                    .contains(&format!("entry TTL {ticks} ticks"))
            );
        }
    }
    // An entry put, then two ticks: a call misses and puts it again.
    let model = PolicyModel::new(rules::LRU, 2)
        .unwrap()
        .with_entry_ttl(Some(2))
        .unwrap();
    let mut state = model.empty();
    model.put(&mut state, 0, 0, 2);
    model.tick(&mut state);
    assert_eq!(model.get(&mut state, 0), Some(0), "one tick: alive");
    model.tick(&mut state);
    assert_eq!(model.get(&mut state, 0), None, "two ticks: expired");
    assert!(state.is_empty(), "and removed by the read");
    // Redis's clock is the server's: refused with the reason.
    let redis = Check::Equivalent(StoreUnderTest::Redis("redis://127.0.0.1:1/".into()));
    let refused = check(&redis, rules::LRU, &with_ttl(2)).unwrap_err();
    assert!(refused.contains("server's clock"), "{refused}");
    assert!(check(&Check::Bounded, rules::LRU, &with_ttl(0)).is_err());
}

/// With a per-entry TTL an S3-FIFO pair can lose its last value while its
/// ghost stays: half a pair (only the index key), which the next put
/// removes, ghost and all (SPEC §5), on Redis and so in the memory store.
/// Found by `equivalent` with ticks: the model kept the ghost.
#[test]
fn an_s3fifo_ghost_goes_with_the_half_pair_its_last_expired_value_leaves() {
    let model = PolicyModel::new(rules::S3FIFO, 3)
        .unwrap()
        .with_entry_ttl(Some(2))
        .unwrap();
    let mut state = model.empty();
    model.put(&mut state, 0, 0, 1);
    assert_eq!(model.put(&mut state, 1, 1, 1), [0]);
    assert_eq!(state.ghost, [0], "0 went to the ghost");
    model.tick(&mut state);
    model.tick(&mut state);
    assert_eq!(model.get(&mut state, 1), None, "1 expired");
    assert_eq!(state.ghost, [0], "the index still holds the ghost");
    model.put(&mut state, 0, 0, 1);
    assert!(
        state.ghost.is_empty(),
        "the put removed the half pair first"
    );
    let entry = state.entry(0).unwrap();
    assert_eq!(
        entry.score >> 32,
        1,
        "so 0 enters the small queue, not main"
    );
}

#[test]
fn a_redis_server_and_a_cluster_are_equivalent_to_the_model() {
    let scope = scope(3, 3, (1, 2), OpSet::All);
    let server = Server::start();
    for policy in rules::ALL.into_iter().filter(|r| r.word != "tlru") {
        let store = StoreUnderTest::Redis(server.url.clone());
        let report = check(&Check::Equivalent(store), policy, &scope).unwrap();
        assert!(report.holds, "{report}");
        // The same scripts through fred.
        let store = StoreUnderTest::Fred(server.url.clone());
        let report = check(&Check::Equivalent(store), policy, &scope).unwrap();
        assert!(report.holds, "fred: {report}");
        assert!(report.states > 100, "{report}");
    }
    // The snapshots and the pair are gone afterwards.
    let keys: Vec<String> = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("policycheck:*")
        .arg("COUNT")
        .arg(10_000)
        .query::<(u64, Vec<String>)>(&mut server.connection())
        .unwrap()
        .1;
    assert!(keys.is_empty(), "{keys:?}");
    // TLRU's clock is the server's: refused, not faked.
    let err = check(
        &Check::Equivalent(StoreUnderTest::Redis(server.url.clone())),
        rules::TLRU,
        &scope,
    )
    .unwrap_err();
    assert!(err.contains("TIME"), "{err}");

    let cluster = ClusterServers::start();
    for policy in [rules::LRU, rules::S3FIFO, rules::SIEVE] {
        let store = StoreUnderTest::Cluster(cluster.urls[0].clone());
        let report = check(&Check::Equivalent(store), policy, &scope).unwrap();
        assert!(report.holds, "{report}");
        let store = StoreUnderTest::FredCluster(cluster.urls[0].clone());
        let report = check(&Check::Equivalent(store), policy, &scope).unwrap();
        assert!(report.holds, "fred: {report}");
    }
    // From the command line.
    let out = policycheck(&[
        "--policy",
        "sieve",
        "--property",
        "equivalent",
        "--store",
        "redis",
        "--client",
        "fred",
        "--redis-url",
        &server.url,
        "--keys",
        "3",
        "--depth",
        "3",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json_of(&out)["holds"], true);
}

/// A store of one's own, checked from Rust: a wrapper that forwards to
/// the memory store holds, ticks and per-entry TTLs included; one that
/// reads a clock of its own instead of the one it is given is caught by
/// what its gets and puts observe alone (it does not tell its contents).
#[test]
fn a_store_of_ones_own_is_checked_against_the_model() {
    use redis_func_cache::clock::ManualClock;
    use redis_func_cache::store::DynStore;
    use redis_func_cache::{KeyPair, MemoryStore};
    use redis_func_cache_benches::policycheck::equivalence::CheckedStore;
    use std::sync::Arc;

    struct Wrapped(MemoryStore, bool);
    impl CheckedStore for Wrapped {
        fn store(&self) -> &dyn DynStore {
            &self.0
        }
        fn contents(&self, pair: &KeyPair) -> Result<Option<PairContents>, String> {
            Ok(self.1.then(|| self.0.contents(pair)))
        }
    }

    let scope = scope(3, 4, (1, 2), OpSet::All);
    let forwarding = StoreUnderTest::Custom(Arc::new(|clock| {
        let store = MemoryStore::with_clock(clock).with_seed(7);
        Ok(Box::new(Wrapped(store, true)) as Box<dyn CheckedStore>)
    }));
    for policy in [rules::LRU, rules::TLRU, rules::S3FIFO] {
        let with_ttl = Scope {
            entry_ttl: Some(2),
            ..scope
        };
        let report = check(&Check::Equivalent(forwarding.clone()), policy, &with_ttl).unwrap();
        assert!(report.holds, "{report}");
        assert!(report.states > 1_000, "{report}");
    }
    // Its own clock never moves: TLRU's scores tie where the model's do
    // not, and a tie goes by member bytes, not by age.
    let frozen = StoreUnderTest::Custom(Arc::new(|_clock| {
        let store = MemoryStore::with_clock(ManualClock::new(1)).with_seed(7);
        Ok(Box::new(Wrapped(store, false)) as Box<dyn CheckedStore>)
    }));
    let report = check(&Check::Equivalent(frozen), rules::TLRU, &scope).unwrap();
    let cx = report
        .counterexample
        .as_ref()
        .expect("the frozen clock is caught");
    assert!(
        cx.steps.iter().any(|(op, _)| *op == Op::Tick),
        "only a tick tells the clocks apart: {report}"
    );
}

#[test]
fn compare_catches_a_pair_that_differs_from_the_model() {
    let lru = PolicyModel::new(rules::LRU, 3).unwrap();
    let mut state = lru.empty();
    lru.put(&mut state, 0, 0, 2);
    lru.put(&mut state, 1, 1, 2);
    let right = PairContents {
        index: vec![(member(0), Some(1)), (member(1), Some(2))],
        hand: None,
        values: {
            let mut v = vec![
                (member(0), bytes::Bytes::from_static(&[0])),
                (member(1), bytes::Bytes::from_static(&[1])),
            ];
            v.sort_by_key(|(m, _)| *m.as_bytes());
            v
        },
    };
    compare(&lru, &state, &right).unwrap();
    let mut swapped = right.clone();
    swapped.index.reverse();
    assert!(
        compare(&lru, &state, &swapped)
            .unwrap_err()
            .contains("order")
    );
    let mut wrong_value = right.clone();
    wrong_value.values[0].1 = bytes::Bytes::from_static(&[9]);
    assert!(
        compare(&lru, &state, &wrong_value)
            .unwrap_err()
            .contains("values")
    );
}

#[test]
fn the_explorer_serves_the_states() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_policycheck"))
        .args([
            "--policy",
            "fifo",
            "--property",
            "no-anomaly",
            "--keys",
            "3",
            "--depth",
            "4",
        ])
        .args(["--explore", &address])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let body = loop {
        assert!(started.elapsed() < Duration::from_secs(20), "no Explorer");
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            stream
                .write_all(b"GET /.states HTTP/1.0\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut body = String::new();
            let _ = stream.read_to_string(&mut body);
            if body.contains("200") {
                break body;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(body.contains("\"state\""), "{body}");
    assert!(body.contains("lead"), "the anomaly model's states: {body}");
}

#[test]
fn a_custom_rule_set_is_checked_from_the_command_line() {
    // "Evict the most frequently used": a rule set no built-in has. It is
    // bounded, and like LFU it is no stack algorithm.
    let custom = [
        "--policy",
        "custom",
        "--rules",
        "insert=one,hit=increment,victim=highest",
    ];
    let out = policycheck(&[&custom[..], &["--keys", "3", "--depth", "6", "--json"]].concat());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_of(&out)["policy"], "custom");
    let args = [
        &custom[..],
        &[
            "--property",
            "no-anomaly",
            "--keys",
            "4",
            "--depth",
            "8",
            "--capacities",
            "1-3",
            "--json",
        ],
    ]
    .concat();
    let out = policycheck(&args);
    let report = json_of(&out);
    let holds = report["holds"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if holds { 0 } else { 1 }));
    // FIFO spelled out as rules finds FIFO's anomaly.
    let out = policycheck(&[
        "--policy",
        "custom",
        "--rules",
        "hit=keep",
        "--property",
        "no-anomaly",
        "--keys",
        "5",
        "--depth",
        "12",
        "--capacities",
        "3-4",
        "--json",
    ]);
    assert_eq!(json_of(&out)["hits"], serde_json::json!([3, 2]));
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    for (args, reason) in [
        (&["--policy", "arc"][..], "want one of"),
        (&["--policy", "rr", "--property", "no-anomaly"], "at random"),
        (&["--policy", "lru", "--capacities", "3-1"], "1 ≤ A ≤ B"),
        (&["--policy", "lru", "--keys", "0"], "--keys"),
        (&["--policy", "lru", "--explore", "0.0.0.0:1"], "loopback"),
        (&["--policy", "custom"], "needs --rules"),
        (
            &["--policy", "custom", "--rules", "hit=often"],
            "score rule",
        ),
        (&["--policy", "custom", "--rules", "index=set"], "Random"),
    ] {
        let out = policycheck(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}
