//! The hit-ratio tool: Bélády's optimum bounds every policy on every small
//! shared trace, and the table and charts come out.

use redis_func_cache_benches::hitratio::{self, OPTIMUM};
use redis_func_cache_benches::trace;

const POLICIES: [&str; 6] = ["lru", "mru", "fifo", "lfu", "rr", "tlru"];

#[test]
fn no_policy_beats_the_optimum_on_the_small_traces() {
    let dir = trace::default_dir();
    let mut checked = 0;
    for path in trace::list(&dir).unwrap_or_else(|e| panic!("the shared traces are needed: {e}")) {
        let keys = trace::load(&path, None).unwrap();
        if keys.len() >= 60_000 {
            continue;
        }
        let name = trace::name(&path);
        for capacity in [100, 1000] {
            let best = hitratio::measure(&name, &keys, capacity, OPTIMUM).unwrap();
            for policy in POLICIES {
                let m = hitratio::measure(&name, &keys, capacity, policy).unwrap();
                assert!(
                    m.hits <= best.hits,
                    "{name} at {capacity}: {policy} hit {} times, the optimum {}",
                    m.hits,
                    best.hits
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 9 * 2 * POLICIES.len(), "checked {checked}");
}

#[test]
fn the_table_and_a_chart_per_trace_are_written() {
    let keys: Vec<i64> = (0..2_000).map(|i| (i * 7919) % 300).collect();
    let mut results = Vec::new();
    for capacity in [50, 100, 200] {
        for policy in ["lru", "lfu", OPTIMUM] {
            results.push(hitratio::measure("synthetic", &keys, capacity, policy).unwrap());
        }
    }
    let policies = vec!["lru".to_owned(), "lfu".to_owned()];
    let table = hitratio::markdown(&results, &policies);
    assert!(table.contains("### synthetic (2000 requests)"), "{table}");
    assert!(
        table.contains("| capacity | lru | lfu | belady (optimum) |"),
        "{table}"
    );
    assert_eq!(
        table.matches("\n| ").count(),
        4,
        "a header and 3 capacities: {table}"
    );
    let dir = std::env::temp_dir().join(format!("hitratio-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = hitratio::plot(&results, &policies, &dir).unwrap();
    assert_eq!(files, vec!["synthetic.svg".to_owned()]);
    let svg = std::fs::read_to_string(dir.join("synthetic.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("belady"),
        "an SVG with a legend"
    );
    // Markers (circles for lru, triangles for lfu) keep overlapping lines
    // apart, and every capacity has its tick, not only the powers of ten.
    assert!(
        svg.contains("<circle") && svg.contains("<polygon"),
        "markers"
    );
    let ticks: Vec<&str> = svg
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .map(str::trim)
        .collect();
    for tick in ["50", "100", "200"] {
        assert!(ticks.contains(&tick), "a tick at {tick}: {ticks:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
