use std::collections::HashMap;
use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

#[cached(cache = CACHE)]
fn total(prices: &HashMap<String, u32>) -> u32 {
    prices.values().sum()
}

fn main() {}
