use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

#[derive(serde::Serialize)]
struct Report {
    total: u64,
}

#[cached(cache = CACHE)]
fn report(n: u64) -> Report {
    Report { total: n }
}

fn main() {}
