use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

#[cached(cache = CACHE)]
fn sum((a, b): (u64, u64)) -> u64 {
    a + b
}

fn main() {}
