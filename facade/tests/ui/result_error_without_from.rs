use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

#[derive(Debug)]
struct MyError;

#[cached(cache = CACHE)]
fn parse(text: String) -> Result<u64, MyError> {
    text.parse().map_err(|_| MyError)
}

fn main() {}
