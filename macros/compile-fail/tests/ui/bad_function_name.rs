use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

#[cached(cache = CACHE, name = "{tagged}")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
