//! The cache's counters and store latency in Prometheus's text format,
//! through the `metrics` facade and `metrics-exporter-prometheus`.
//!
//! ```sh
//! cargo run --example metrics --features metrics
//! ```
//!
//! A service would serve the same text on `/metrics` with the exporter's
//! `with_http_listener` instead of printing it.

use std::process::ExitCode;

use metrics_exporter_prometheus::PrometheusBuilder;
use redis_func_cache::{FuncCache, FuncId, LruPolicy, MemoryStore};

static SQUARE: FuncId = FuncId::new("metrics_example", "square", 1);

fn main() -> ExitCode {
    // Install the recorder first: a cache registers its metrics when built.
    let handle = match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("metrics: cannot install the Prometheus recorder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cache = match FuncCache::builder("metrics-demo")
        .policy(LruPolicy)
        .maxsize(3)
        .store(MemoryStore::new())
        .build()
    {
        Ok(cache) => cache,
        Err(e) => {
            eprintln!("metrics: {e}");
            return ExitCode::FAILURE;
        }
    };
    for n in [1u64, 2, 3, 1, 4, 1, 2] {
        if let Err(e) = cache.call(&SQUARE, &n, || n * n) {
            eprintln!("metrics: {e}");
            return ExitCode::FAILURE;
        }
    }
    print!("{}", handle.render());
    ExitCode::SUCCESS
}
