use std::sync::LazyLock;
use redis_func_cache::{cached, FuncCache, MemoryStore};

static CACHE: LazyLock<FuncCache<MemoryStore>> =
    LazyLock::new(|| FuncCache::builder("ui").store(MemoryStore::new()).build().unwrap());

struct Repo;

impl Repo {
    #[cached(cache = CACHE, key = load_key)]
    fn load(&self, id: u64) -> u64 {
        id
    }
}

fn main() {}
