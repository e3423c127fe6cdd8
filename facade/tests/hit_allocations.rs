//! A memory-store hit through the public API, for a value that needs no heap
//! (here a `u64`), allocates nothing: hashing the arguments, the lookup, the
//! policy's re-ordering, statistics and decoding all run without the heap.
//!
//! The store's clock is chosen per case, not the system's: TLRU scores hits
//! by the clock, and two hits in one microsecond move the pair from its
//! linked list to the skip list, a one-time switch that allocates. With the
//! wall clock that switch fell into the counted hits on some runs only.
//!
//! Only the hitting thread's allocations count: the test harness's main
//! thread allocated now and then while the hits ran (seen in 2 of 60 runs).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use redis_func_cache::{
    Clock, EvictionPolicy, FifoPolicy, FuncCache, FuncId, LfuPolicy, LruMultiplePolicy, LruPolicy,
    ManualClock, MemoryStore, MruPolicy, RrPolicy, TLruPolicy,
};

struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted. A `const` thread
    /// local needs no heap of its own, so the allocator may read it.
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn count_if_watching() {
    if WATCHING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_if_watching();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_if_watching();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static F: FuncId = FuncId::with_version("alloc", "f", "1");

/// A clock that moves one microsecond every time it is read, so every TLRU
/// score is above the last and the pair keeps its linked list.
#[derive(Debug, Clone, Default)]
struct TickingClock(Arc<AtomicU64>);

impl Clock for TickingClock {
    fn now_micros(&self) -> u64 {
        1_700_000_000_000_000 + self.0.fetch_add(1, Ordering::Relaxed)
    }
}

fn allocations_per_hit(policy: impl EvictionPolicy, clock: impl Clock) -> f64 {
    const KEYS: u64 = 1000;
    let cache = FuncCache::builder("alloc")
        .policy(policy)
        .maxsize(KEYS)
        .store(MemoryStore::with_clock(clock))
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
    WATCHING.with(|w| w.set(true));
    let mut sum = 0;
    for i in 0..20_000u64 {
        let k = (i * 7919) % KEYS;
        let v: u64 = cache.call(&F, &k, || unreachable!("all hits")).unwrap();
        sum += v;
    }
    WATCHING.with(|w| w.set(false));
    assert!(sum > 0);
    ALLOCATIONS.load(Ordering::SeqCst) as f64 / 20_000.0
}

#[test]
fn a_hit_allocates_nothing_for_every_policy() {
    let clock = TickingClock::default;
    // A clock that never moves: every TLRU hit ties the last score, so the
    // pair is on the skip list from the second insert on.
    let frozen = || ManualClock::new(1_700_000_000_000_000);
    let results = [
        ("lru", allocations_per_hit(LruPolicy, clock())),
        ("lru-m", allocations_per_hit(LruMultiplePolicy, clock())),
        ("mru", allocations_per_hit(MruPolicy, clock())),
        ("fifo", allocations_per_hit(FifoPolicy, clock())),
        ("lfu", allocations_per_hit(LfuPolicy, clock())),
        ("rr", allocations_per_hit(RrPolicy, clock())),
        (
            "tlru, linked list",
            allocations_per_hit(TLruPolicy, clock()),
        ),
        ("tlru, skip list", allocations_per_hit(TLruPolicy, frozen())),
    ];
    for (policy, per_hit) in results {
        assert_eq!(per_hit, 0.0, "{policy}: {per_hit} allocations per hit");
    }
}
