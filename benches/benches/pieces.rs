//! Criterion benches for the pieces a call is made of: invocation hashing,
//! value encoding and decoding, and each policy's hit and put on the memory
//! store and on Redis.
//!
//! ```text
//! cargo bench -p redis-func-cache-benches --bench pieces
//! cargo bench -p redis-func-cache-benches --bench pieces -- memory/lru
//! ```
//!
//! The Redis group starts a `redis-server` of its own on a free loopback
//! port (it needs `redis-server` on the PATH).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use redis_func_cache::serializer::{Bincode, Json, MessagePack, Serializer};
use redis_func_cache::{FuncCache, FuncId, MemoryStore, Policy, RedisStore, Store, by_name};
use redis_func_cache_redis::test_server::Server;
use serde::{Deserialize, Serialize};

static F: FuncId = FuncId::with_version(module_path!(), "f", "1");

/// A value shaped like a small database row.
#[derive(Serialize, Deserialize, Clone)]
struct Row {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: f64,
}

fn row() -> Row {
    Row {
        id: 42,
        name: "a user with a name".into(),
        tags: vec!["admin".into(), "beta".into(), "eu".into()],
        score: 0.75,
    }
}

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("hash");
    g.bench_function("u64", |b| {
        b.iter(|| F.invocation_hash(black_box(&12_345u64)))
    });
    let args = ("user-12345".to_owned(), 7u32, true);
    g.bench_function("(String, u32, bool)", |b| {
        b.iter(|| F.invocation_hash(black_box(&args)))
    });
    let big = vec![7u8; 4096];
    g.bench_function("4 KiB of bytes", |b| {
        b.iter(|| F.invocation_hash(black_box(&big)))
    });
    // `serde_bytes` serializes one byte string, not a sequence of u8.
    let block = serde_bytes::ByteBuf::from(big.clone());
    g.bench_function("4 KiB of serde_bytes", |b| {
        b.iter(|| F.invocation_hash(black_box(&block)))
    });
    g.finish();
}

fn codec<Z: Serializer>(c: &mut Criterion, name: &str, serializer: Z) {
    let mut g = c.benchmark_group(format!("codec/{name}"));
    let value = row();
    let bytes = serializer.encode(&value).expect("the row encodes");
    g.bench_function("encode row", |b| {
        b.iter(|| serializer.encode(black_box(&value)))
    });
    g.bench_function("decode row", |b| {
        b.iter(|| serializer.decode::<Row>(black_box(&bytes)))
    });
    let number = serializer.encode(&12_345u64).expect("a u64 encodes");
    g.bench_function("decode u64", |b| {
        b.iter(|| serializer.decode::<u64>(black_box(&number)))
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    codec(c, "bincode", Bincode::<{ 64 << 20 }>);
    codec(c, "json", Json::<{ 64 << 20 }>);
    codec(c, "msgpack", MessagePack::<{ 64 << 20 }>);
}

const ENTRIES: u64 = 10_000;
const WORDS: [&str; 8] = ["lru", "mru", "fifo", "lfu", "rr", "tlru", "s3fifo", "sieve"];

fn cache_on<S: Store>(store: S, word: &str, name: &str) -> FuncCache<S> {
    cache_with_layout(store, word, "single", name)
}

fn cache_with_layout<S: Store>(store: S, word: &str, layout: &str, name: &str) -> FuncCache<S> {
    let policy: Policy = by_name(word, layout).expect("a known policy");
    let cache = FuncCache::builder(name)
        .policy(policy)
        .maxsize(ENTRIES)
        .store(store)
        .build()
        .expect("a valid cache");
    cache.purge().expect("purge");
    for k in 0..ENTRIES {
        let _: u64 = cache.call(&F, &k, || k * 3).expect("fill");
    }
    cache
}

/// Hits on a filled cache, spread over its keys.
fn bench_hits<S: Store>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    cache: &FuncCache<S>,
) {
    let mut k = 0u64;
    g.bench_function(name, |b| {
        b.iter(|| {
            k = (k + 7919) % ENTRIES;
            let v: u64 = cache
                .call(&F, &k, || unreachable!("cached"))
                .expect("a hit");
            v
        })
    });
}

/// Each policy's hit (a cached key) and put (a new key on a full cache, so
/// the put evicts) through the public API.
fn policies_on<S: Store + Clone>(c: &mut Criterion, group: &str, store: impl Fn() -> S) {
    let mut g = c.benchmark_group(group);
    for word in WORDS {
        let cache = cache_on(store(), word, &format!("bench-{word}"));
        bench_hits(&mut g, &format!("{word}/hit"), &cache);
        let mut next = ENTRIES;
        g.bench_function(format!("{word}/put"), |b| {
            b.iter_batched(
                || {
                    next += 1;
                    next
                },
                |k| {
                    let v: u64 = cache.call(&F, &k, || k * 3).expect("a miss");
                    v
                },
                BatchSize::SmallInput,
            )
        });
        cache.purge().expect("purge");
    }
    g.finish();
}

fn memory(c: &mut Criterion) {
    let store = MemoryStore::new();
    policies_on(c, "memory", || store.clone());
}

/// An LRU hit on the memory store in the one-pair layout and in the
/// per-function layout, side by side: the difference is what finding the
/// function's own pair costs a call.
fn layouts(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory-layout");
    for layout in ["single", "multiple"] {
        let cache = cache_with_layout(MemoryStore::new(), "lru", layout, "bench-layout");
        bench_hits(&mut g, &format!("lru-{layout}/hit"), &cache);
    }
    g.finish();
}

fn redis(c: &mut Criterion) {
    let server = Server::start();
    let store = RedisStore::open(server.url.as_str()).expect("the bench's server answers");
    policies_on(c, "redis", || store.clone());
}

criterion_group!(benches, hashing, codecs, memory, layouts, redis);
criterion_main!(benches);
