use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

struct Report;

#[cached(cache = CACHE)]
fn report(n: u64) -> Result<Report, String> {
    let _ = n;
    Ok(Report)
}

fn main() {}
