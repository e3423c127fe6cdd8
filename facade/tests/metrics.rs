//! The `metrics` feature: a Prometheus exporter installed by the program
//! serves every counter and the store-latency histogram, labelled by cache;
//! this test scrapes it over HTTP as Prometheus would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use redis_func_cache::{FuncCache, FuncId, MemoryStore};

static F: FuncId = FuncId::new("metrics", "f", 1);
static G: FuncId = FuncId::new("metrics", "g", 2);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn scrape(addr: SocketAddr) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut stream) = TcpStream::connect(addr) {
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .expect("request sent");
            let mut response = String::new();
            stream.read_to_string(&mut response).expect("response read");
            return response;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the exporter never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_prometheus_scrape_shows_the_cache_at_work() {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .expect("the exporter installs");
    // Built after the recorder, as the docs ask.
    let cache = FuncCache::builder("scraped")
        .maxsize(2)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    for k in [1u32, 2, 1, 3, 1] {
        cache.call(&F, &k, || k).unwrap();
    }
    let s = cache.stats();
    let body = scrape(addr);
    for (metric, value) in [
        ("redis_func_cache_hits_total", s.hits),
        ("redis_func_cache_misses_total", s.misses),
        ("redis_func_cache_writes_total", s.writes),
        ("redis_func_cache_evictions_total", s.evictions),
    ] {
        let line = format!("{metric}{{cache=\"scraped\"}} {value}");
        assert!(body.contains(&line), "no `{line}` in:\n{body}");
    }
    assert!((s.hits, s.misses, s.evictions) == (2, 3, 1), "{s:?}");
    // The latency histogram holds one sample per store call: five reads,
    // and a write for each of the three misses.
    for (op, calls) in [("get", 5), ("put", 3)] {
        let line = format!(
            "redis_func_cache_store_seconds_count{{cache=\"scraped\",op=\"{op}\"}} {calls}"
        );
        assert!(body.contains(&line), "no `{line}` in:\n{body}");
    }
    per_function_labels(addr);
}

/// With `metrics_per_function`, each function's calls are counted under its
/// own `function` label, and the cache has no series without it (a sum over
/// functions is then the cache's total, nothing counted twice).
fn per_function_labels(addr: SocketAddr) {
    let cache = FuncCache::builder("labelled")
        .maxsize(2)
        .metrics_per_function(true)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    // f: miss, hit, hit. g: miss, miss (evicting f's entry), hit.
    for k in [1u32, 1, 1] {
        cache.call(&F, &k, || k).unwrap();
    }
    for k in [1u32, 2, 2] {
        cache.call(&G, &k, || k).unwrap();
    }
    let s = cache.stats();
    assert_eq!(
        (s.hits, s.misses, s.writes, s.evictions),
        (3, 3, 3, 1),
        "{s:?}"
    );
    let body = scrape(addr);
    for (metric, function, value) in [
        ("redis_func_cache_hits_total", "metrics::f", 2),
        ("redis_func_cache_misses_total", "metrics::f", 1),
        ("redis_func_cache_writes_total", "metrics::f", 1),
        ("redis_func_cache_hits_total", "metrics::g", 1),
        ("redis_func_cache_misses_total", "metrics::g", 2),
        ("redis_func_cache_writes_total", "metrics::g", 2),
        ("redis_func_cache_evictions_total", "metrics::g", 1),
    ] {
        let line = format!("{metric}{{cache=\"labelled\",function=\"{function}\"}} {value}");
        assert!(body.contains(&line), "no `{line}` in:\n{body}");
    }
    assert!(
        !body.contains("{cache=\"labelled\"}"),
        "a series without the function label: {body}"
    );
    assert!(
        body.contains("cache=\"labelled\",function=\"metrics::g\",op=\"put\""),
        "the latency histogram by function: {body}"
    );
}
