//! A memory-store hit through the public API, for a value that needs no heap
//! (here a `u64`), allocates nothing: hashing the arguments, the lookup, the
//! policy's re-ordering, statistics and decoding all run without the heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use redis_func_cache::{
    EvictionPolicy, FifoPolicy, FuncCache, FuncId, LfuPolicy, LruMultiplePolicy, LruPolicy,
    MemoryStore, MruPolicy, RrPolicy, TLruPolicy,
};

struct Counting;

static WATCHING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static F: FuncId = FuncId::with_version("alloc", "f", "1");

fn allocations_per_hit(policy: impl EvictionPolicy) -> f64 {
    const KEYS: u64 = 1000;
    let cache = FuncCache::builder("alloc")
        .policy(policy)
        .maxsize(KEYS)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    for k in 0..KEYS {
        let _: u64 = cache.call(&F, &k, || k).unwrap();
    }
    // Warm-up: let the index reach its steady state.
    for k in 0..KEYS {
        let _: u64 = cache.call(&F, &k, || unreachable!()).unwrap();
    }
    ALLOCATIONS.store(0, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
    let mut sum = 0;
    for i in 0..20_000u64 {
        let k = (i * 7919) % KEYS;
        let v: u64 = cache.call(&F, &k, || unreachable!("all hits")).unwrap();
        sum += v;
    }
    WATCHING.store(false, Ordering::SeqCst);
    assert!(sum > 0);
    ALLOCATIONS.load(Ordering::SeqCst) as f64 / 20_000.0
}

// One test, so no other test thread allocates while counting.
#[test]
fn a_hit_allocates_nothing_for_every_policy() {
    let results = [
        ("lru", allocations_per_hit(LruPolicy)),
        ("lru-m", allocations_per_hit(LruMultiplePolicy)),
        ("mru", allocations_per_hit(MruPolicy)),
        ("fifo", allocations_per_hit(FifoPolicy)),
        ("lfu", allocations_per_hit(LfuPolicy)),
        ("rr", allocations_per_hit(RrPolicy)),
        ("tlru", allocations_per_hit(TLruPolicy)),
    ];
    for (policy, per_hit) in results {
        assert_eq!(per_hit, 0.0, "{policy}: {per_hit} allocations per hit");
    }
}
