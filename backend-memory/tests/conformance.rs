//! The shared conformance suite, on the memory store with a manual clock.

use std::time::Duration;

use redis_func_cache_core::clock::ManualClock;
use redis_func_cache_core::conformance::{self, Harness};
use redis_func_cache_memory::MemoryStore;

struct Memory {
    store: MemoryStore,
    clock: ManualClock,
}

impl Memory {
    fn new() -> Self {
        let clock = ManualClock::new(1_700_000_000_000_000);
        Memory {
            store: MemoryStore::with_clock(clock.clone()),
            clock,
        }
    }
}

impl Harness for Memory {
    type Store = MemoryStore;
    fn store(&self) -> &MemoryStore {
        &self.store
    }
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
    fn tick(&self) -> Duration {
        Duration::from_micros(1)
    }
}

#[test]
fn memory_store_passes_the_sync_suite() {
    conformance::run_all(&Memory::new());
}

#[tokio::test]
async fn memory_store_passes_the_async_suite() {
    conformance::run_all_async(&Memory::new()).await;
}

/// The suite on a `dyn` store, chosen at run time.
#[test]
fn dyn_memory_store_passes_the_sync_suite() {
    use redis_func_cache_core::DynStore;
    use std::sync::Arc;
    struct Dyn(Arc<dyn DynStore>, ManualClock);
    impl Harness for Dyn {
        type Store = Arc<dyn DynStore>;
        fn store(&self) -> &Arc<dyn DynStore> {
            &self.0
        }
        fn advance(&self, by: Duration) {
            self.1.advance(by);
        }
        fn tick(&self) -> Duration {
            Duration::from_micros(1)
        }
    }
    let m = Memory::new();
    conformance::run_all(&Dyn(Arc::new(m.store), m.clock));
}
