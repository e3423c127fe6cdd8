use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

#[cached(cache = CACHE)]
fn label(n: u64) -> &'static str {
    if n > 1 { "many" } else { "one" }
}

fn main() {}
