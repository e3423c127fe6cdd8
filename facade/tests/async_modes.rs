//! Modes and async calls (issue 17, SPEC §8): a cached call keeps the mode
//! in force where it was called, when it is awaited or spawned later; the
//! nearest scope wins; calls made inside a spawned block are not reached by
//! a scope around the spawn (the documented limit).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use redis_func_cache::{Error, FuncCache, FuncId, MemoryStore, Mode, cached};

static CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| {
    FuncCache::builder("async-modes")
        .store(MemoryStore::new())
        .build()
        .expect("a valid configuration")
});

static RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(cache = CACHE, key = double_key)]
async fn double(x: u32) -> Result<u32, Error> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(x * 2)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Each test uses its own arguments, so they do not share entries.
fn cached_now(x: u32) -> bool {
    CACHE
        .entry_of(double_key(x))
        .and_then(|e| e.peek::<u32>())
        .expect("a memory peek")
        .is_some()
}

#[test]
fn a_call_made_in_a_no_exec_scope_stays_no_exec_when_awaited_later() {
    let rt = runtime();
    let call = Mode::NoExec.scope(|| double(1));
    let before = RUNS.load(Ordering::SeqCst);
    assert!(matches!(rt.block_on(call), Err(Error::CacheMiss)));
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        before,
        "the function never ran"
    );
}

#[test]
fn a_call_spawned_from_a_read_only_scope_writes_nothing() {
    let rt = runtime();
    let handle = Mode::ReadOnly.scope(|| rt.spawn(double(2)));
    assert_eq!(
        rt.block_on(handle)
            .expect("the task ran")
            .expect("a memory call"),
        4
    );
    assert!(!cached_now(2), "a read-only call wrote its result");
    // Outside the scope the same call writes.
    assert_eq!(rt.block_on(double(2)).expect("a memory call"), 4);
    assert!(cached_now(2));
}

#[test]
fn the_closure_api_keeps_the_mode_it_was_called_in() {
    static F: FuncId = FuncId::new("async_modes", "closure", 1);
    let rt = runtime();
    let call = Mode::ReadOnly.scope(|| CACHE.call_async(&F, &3u32, || async { 3u32 }));
    assert_eq!(rt.block_on(call).expect("a memory call"), 3);
    let peeked = CACHE.entry(&F, &3u32).and_then(|e| e.peek::<u32>());
    assert_eq!(peeked.expect("a memory peek"), None);
}

#[test]
fn the_nearest_scope_wins() {
    let rt = runtime();
    // Made in no-exec, awaited inside a normal scope: the normal scope is
    // nearer, so the function runs and its result is written.
    let call = Mode::NoExec.scope(|| double(4));
    assert_eq!(
        rt.block_on(Mode::Normal.scope_async(call))
            .expect("a memory call"),
        8
    );
    assert!(cached_now(4));
    // Made outside every scope, awaited inside a read-only one: read-only.
    assert_eq!(
        rt.block_on(Mode::ReadOnly.scope_async(double(5)))
            .expect("a memory call"),
        10
    );
    assert!(!cached_now(5));
}

#[test]
fn calls_made_inside_a_spawned_block_are_not_reached_by_a_scope_around_the_spawn() {
    let rt = runtime();
    let handle = Mode::ReadOnly.scope(|| rt.spawn(async { double(6).await }));
    assert_eq!(
        rt.block_on(handle)
            .expect("the task ran")
            .expect("a memory call"),
        12
    );
    assert!(
        cached_now(6),
        "the documented limit: the block made its call in the normal mode"
    );
}

/// `#[cached]` on an `async fn` of a trait impl: the generated function
/// returns the call's future, which the trait's `async fn` accepts.
trait Tripler {
    async fn thrice(&self, x: u32) -> Result<u32, Error>;
}

struct ByThree;

impl Tripler for ByThree {
    #[cached(cache = CACHE, skip(self))]
    async fn thrice(&self, x: u32) -> Result<u32, Error> {
        Ok(x * 3)
    }
}

#[test]
fn a_cached_async_trait_method_keeps_its_mode_too() {
    let rt = runtime();
    let call = Mode::NoExec.scope(|| ByThree.thrice(7));
    assert!(matches!(rt.block_on(call), Err(Error::CacheMiss)));
    assert_eq!(rt.block_on(ByThree.thrice(7)).expect("a memory call"), 21);
    assert_eq!(
        rt.block_on(Mode::NoExec.scope(|| ByThree.thrice(7)))
            .expect("a hit"),
        21
    );
}
