use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

struct Conn;

#[cached(cache = CACHE)]
fn query(conn: &Conn, id: u32) -> u32 {
    let _ = conn;
    id
}

fn main() {}
