//! Each cached call is a TRACE span `cached_call` with the cache, the
//! function, the outcome and the store time; on Redis the network part is
//! a child span `redis_op`. Captured here with a `fmt` subscriber that
//! prints spans as they close.

use std::io::Write;
use std::sync::{Arc, Mutex};

use redis_func_cache::{FuncCache, FuncId, MemoryStore, RedisStore};
use redis_func_cache_redis::test_server::Server;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

static F: FuncId = FuncId::new("tracing_spans", "double", 1);

/// Everything the subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn traced(run: impl FnOnce()) -> String {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_call_is_a_span_with_its_outcome() {
    let cache = FuncCache::builder("traced")
        .store(MemoryStore::new())
        .build()
        .unwrap();
    let out = traced(|| {
        cache.call(&F, &1u32, || 2u32).unwrap();
        cache.call(&F, &1u32, || 2u32).unwrap();
    });
    let closes: Vec<&str> = out.lines().filter(|l| l.contains("cached_call")).collect();
    assert_eq!(closes.len(), 2, "{out}");
    for (line, outcome) in closes.iter().zip(["miss", "hit"]) {
        assert!(
            line.contains("cache=\"traced\"") || line.contains("cache=traced"),
            "{line}"
        );
        assert!(
            line.contains("function=\"double\"") || line.contains("function=double"),
            "{line}"
        );
        assert!(
            line.contains(&format!("outcome=\"{outcome}\""))
                || line.contains(&format!("outcome={outcome}")),
            "{line}"
        );
        assert!(line.contains("store_us="), "{line}");
    }
    // Without a subscriber, no span: the same calls print nothing anywhere.
    cache.call(&F, &2u32, || 4u32).unwrap();
}

#[test]
fn on_redis_the_network_part_is_a_child_span() {
    let server = Server::start();
    let cache = FuncCache::builder("traced-redis")
        .fleet_stats_interval(None)
        .store(RedisStore::open(server.url.as_str()).unwrap())
        .build()
        .unwrap();
    let out = traced(|| {
        cache.call(&F, &1u32, || 2u32).unwrap();
    });
    let ops: Vec<&str> = out.lines().filter(|l| l.contains("redis_op")).collect();
    assert_eq!(ops.len(), 2, "a get and a put: {out}");
    assert!(
        ops.iter().all(|l| l.contains("cached_call")),
        "inside the call's span: {out}"
    );
}
