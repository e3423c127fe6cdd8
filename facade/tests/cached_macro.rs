//! `#[cached]` on free, associated, generic, fallible and async functions.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis_func_cache::{
    Error, FuncCache, LruMultiplePolicy, LruPolicy, MemoryStore, Mode, cached, stats,
};
use serde::{Deserialize, Serialize};

fn new_cache(name: &str) -> FuncCache<MemoryStore> {
    FuncCache::builder(name)
        .policy(LruPolicy)
        .maxsize(1000)
        .store(MemoryStore::new())
        .build()
        .unwrap()
}

static CACHE: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| new_cache("macro"));
/// Functions in their own pairs, so each test can count its own entries.
static PER_FN: LazyLock<FuncCache<MemoryStore>> = LazyLock::new(|| {
    FuncCache::builder("macro-per-fn")
        .policy(LruMultiplePolicy)
        .store(MemoryStore::new())
        .build()
        .unwrap()
});

#[cached(cache = CACHE)]
fn fib(n: u64) -> u64 {
    if n <= 1 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn recursion_goes_through_the_cache() {
    let (v, counts) = stats::count(|| fib(60));
    assert_eq!(v, 1548008755920);
    assert_eq!(counts.misses, 61, "each n computed once");
    let (_, counts) = stats::count(|| fib(60));
    assert_eq!((counts.hits, counts.misses), (1, 0));
}

static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = PER_FN)]
async fn slow_square(x: u32) -> u32 {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    x * x
}

#[tokio::test]
async fn async_functions_are_cached() {
    assert_eq!(slow_square(7).await, 49);
    assert_eq!(slow_square(7).await, 49);
    assert_eq!(slow_square(8).await, 64);
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 2);
}

#[derive(Debug, PartialEq)]
enum LookupError {
    NotFound(u32),
    Cache(String),
}

impl From<Error> for LookupError {
    fn from(e: Error) -> Self {
        LookupError::Cache(e.to_string())
    }
}

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = PER_FN)]
fn lookup(id: u32) -> Result<String, LookupError> {
    LOOKUPS.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        return Err(LookupError::NotFound(id));
    }
    let name = format!("user-{id}");
    Ok(name)
}

#[test]
fn fallible_functions_cache_only_ok_and_receive_cache_errors() {
    assert_eq!(lookup(0), Err(LookupError::NotFound(0)));
    assert_eq!(lookup(0), Err(LookupError::NotFound(0)));
    assert_eq!(lookup(1).unwrap(), "user-1");
    assert_eq!(lookup(1).unwrap(), "user-1");
    assert_eq!(
        LOOKUPS.load(Ordering::SeqCst),
        3,
        "errors rerun, Ok is cached"
    );
    let miss = Mode::NoExec.scope(|| lookup(2));
    assert!(matches!(miss, Err(LookupError::Cache(m)) if m.contains("no-exec")));
}

static ASYNC_TRIES: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = PER_FN)]
async fn fetch(id: u32) -> Result<u32, LookupError> {
    ASYNC_TRIES.fetch_add(1, Ordering::SeqCst);
    let doubled = id.checked_mul(2).ok_or(LookupError::NotFound(id))?;
    Ok(doubled)
}

#[tokio::test]
async fn async_fallible_functions() {
    assert_eq!(fetch(u32::MAX).await, Err(LookupError::NotFound(u32::MAX)));
    assert_eq!(fetch(4).await, Ok(8));
    assert_eq!(fetch(4).await, Ok(8));
    assert_eq!(ASYNC_TRIES.load(Ordering::SeqCst), 2);
}

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

struct Pool; // not hashable

static DIST_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = PER_FN, skip(pool))]
fn manhattan(pool: &Pool, a: Point, b: &Point) -> i64 {
    let _ = pool;
    DIST_RUNS.fetch_add(1, Ordering::SeqCst);
    i64::from((a.x - b.x).abs() + (a.y - b.y).abs())
}

#[test]
fn skipped_arguments_are_left_out_of_the_key() {
    let p = Point { x: 1, y: 2 };
    assert_eq!(manhattan(&Pool, p.clone(), &Point { x: 4, y: 6 }), 7);
    assert_eq!(manhattan(&Pool, p.clone(), &Point { x: 4, y: 6 }), 7);
    assert_eq!(manhattan(&Pool, p, &Point { x: 0, y: 0 }), 3);
    assert_eq!(DIST_RUNS.load(Ordering::SeqCst), 2);
}

#[derive(Serialize)]
struct Pricing {
    rate: u32,
    #[serde(skip)]
    cache: FuncCache<MemoryStore>,
}

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Pricing {
    /// `self` is part of the key (its rate changes the result).
    #[cached(cache = self.cache, name = "Pricing::price")]
    fn price(&self, units: u32) -> u32 {
        PRICE_RUNS.fetch_add(1, Ordering::SeqCst);
        self.rate * units
    }

    /// An associated function without a receiver.
    #[cached(cache = CACHE, name = "Pricing::unit")]
    fn unit(rate: u32) -> u32 {
        rate
    }
}

#[test]
fn methods_hash_self_and_can_name_their_cache_through_self() {
    let shared = MemoryStore::new();
    let build = |rate| Pricing {
        rate,
        cache: FuncCache::builder("pricing")
            .store(shared.clone())
            .build()
            .unwrap(),
    };
    let (cheap, dear) = (build(2), build(3));
    assert_eq!(cheap.price(10), 20);
    assert_eq!(dear.price(10), 30, "a different self is a different key");
    assert_eq!(cheap.price(10), 20);
    assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(Pricing::unit(5), 5);
}

static GENERIC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = CACHE)]
fn widen<T: Serialize + Into<u64>>(x: T) -> u64 {
    GENERIC_RUNS.fetch_add(1, Ordering::SeqCst);
    x.into() + 1
}

#[test]
fn generic_parameters_are_part_of_the_key() {
    // 1u8 and 1u32 encode to the same bytes; the type name keeps them apart.
    assert_eq!(widen(1u8), 2);
    assert_eq!(widen(1u32), 2);
    assert_eq!(widen(1u32), 2);
    assert_eq!(GENERIC_RUNS.load(Ordering::SeqCst), 2);
}

mod same_name {
    use super::*;

    #[cached(cache = PER_FN, name = "shared")]
    pub fn one(x: u32) -> u32 {
        x + 1
    }

    #[cached(cache = PER_FN, name = "shared")]
    pub fn two(x: u32) -> u32 {
        x + 2
    }
}

#[test]
fn different_bodies_never_share_results() {
    // Same module, same name, same arguments: only the body fingerprint
    // tells them apart, and it must.
    assert_eq!(same_name::one(1), 2);
    assert_eq!(same_name::two(1), 3);
    let pairs = PER_FN.store().pair_names();
    let shared: Vec<_> = pairs.iter().filter(|p| p.contains(":shared#")).collect();
    assert_eq!(shared.len(), 2, "{pairs:?}");
}

#[test]
#[should_panic(expected = "Return Result<T, E>")]
fn plain_functions_panic_on_a_no_exec_miss() {
    Mode::NoExec.scope(|| fib(1000));
}

#[cached(cache = CACHE)]
fn unit_result() {}

#[test]
fn functions_returning_unit_work() {
    unit_result();
    let (_, counts) = stats::count(unit_result);
    assert_eq!(counts.hits, 1);
}
