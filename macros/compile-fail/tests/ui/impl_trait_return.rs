use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

#[cached(cache = CACHE)]
fn numbers(n: u64) -> impl Iterator<Item = u64> {
    0..n
}

fn main() {}
