//! The shared conformance suite, on the memory store with a manual clock.

use std::sync::Arc;
use std::time::Duration;

use redis_func_cache_core::clock::ManualClock;
use redis_func_cache_core::conformance::{self, Harness};
use redis_func_cache_core::store::AnyStore;
use redis_func_cache_core::{DynStore, Store};
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

/// A store chosen at run time, on the memory store's manual clock: the
/// `dyn` forms must carry every call through to the store behind them.
struct RunTime<S>(S, ManualClock);

impl<S: Store> Harness for RunTime<S> {
    type Store = S;
    fn store(&self) -> &S {
        &self.0
    }
    fn advance(&self, by: Duration) {
        self.1.advance(by);
    }
    fn tick(&self) -> Duration {
        Duration::from_micros(1)
    }
}

fn dyn_memory() -> RunTime<Arc<dyn DynStore>> {
    let m = Memory::new();
    RunTime(Arc::new(m.store), m.clock)
}

fn any_memory() -> RunTime<AnyStore> {
    let m = Memory::new();
    RunTime(AnyStore::new(m.store), m.clock)
}

#[test]
fn dyn_memory_store_passes_the_sync_suite() {
    conformance::run_all(&dyn_memory());
}

#[tokio::test]
async fn dyn_memory_store_passes_the_async_suite() {
    conformance::run_all_async(&dyn_memory()).await;
}

#[test]
fn any_store_passes_the_sync_suite() {
    conformance::run_all(&any_memory());
}

#[tokio::test]
async fn any_store_passes_the_async_suite() {
    conformance::run_all_async(&any_memory()).await;
}

#[test]
fn any_store_says_what_it_wraps() {
    let any = any_memory().0;
    assert_eq!(
        format!("{any:?}"),
        format!("AnyStore({:?})", Store::capabilities(&any)),
        "its Debug names the store's capabilities"
    );
    assert_eq!(
        Store::capabilities(&any),
        Store::capabilities(&MemoryStore::new())
    );
    let again = AnyStore::from(any.inner().clone());
    assert_eq!(Store::capabilities(&again).backend, "memory");
}
