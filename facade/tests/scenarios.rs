//! The Python library's scenarios and the rest of SPEC §§4–8, through the
//! public front on the memory store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis_func_cache::store::{Capabilities, GetRequest, PutOutcome, PutRequest};
use redis_func_cache::{
    DynStore, Error, EvictionPolicy, FifoPolicy, FuncCache, FuncId, KeyPair, LfuPolicy,
    LruClusterMultiplePolicy, LruClusterPolicy, LruMultiplePolicy, LruPolicy, ManualClock,
    MemoryStore, Mode, MruPolicy, OnStoreError, RrPolicy, Store, TLruPolicy, stats,
};

static F: FuncId = FuncId::with_version("scenarios", "f", "1");
static G: FuncId = FuncId::with_version("scenarios", "g", "1");

fn cache(policy: impl EvictionPolicy, maxsize: u64) -> FuncCache<MemoryStore> {
    FuncCache::builder("scenarios")
        .policy(policy)
        .maxsize(maxsize)
        .store(MemoryStore::new())
        .build()
        .unwrap()
}

/// Calls f(k) = k * 10 through the cache and counts real executions.
struct Counted {
    runs: AtomicUsize,
}

impl Counted {
    fn new() -> Self {
        Counted {
            runs: AtomicUsize::new(0),
        }
    }
    fn call<S: Store>(&self, cache: &FuncCache<S>, k: u32) -> u32 {
        cache
            .call(&F, &k, || {
                self.runs.fetch_add(1, Ordering::SeqCst);
                k * 10
            })
            .unwrap()
    }
    /// Whether calling k now is a hit (the function does not run).
    fn hits<S: Store>(&self, cache: &FuncCache<S>, k: u32) -> bool {
        let before = self.runs.load(Ordering::SeqCst);
        assert_eq!(self.call(cache, k), k * 10);
        self.runs.load(Ordering::SeqCst) == before
    }
}

#[test]
fn lru_keeps_a_touched_entry() {
    let (c, f) = (cache(LruPolicy, 3), Counted::new());
    for k in [1, 2, 3] {
        assert!(!f.hits(&c, k));
    }
    assert!(f.hits(&c, 1));
    assert!(!f.hits(&c, 4)); // evicts 2, the least recently used
    assert!(f.hits(&c, 1));
    assert!(!f.hits(&c, 2));
}

#[test]
fn fifo_evicts_the_oldest_even_after_hits() {
    let (c, f) = (cache(FifoPolicy, 3), Counted::new());
    for k in [1, 2, 3] {
        f.call(&c, k);
    }
    for _ in 0..3 {
        assert!(f.hits(&c, 1));
    }
    assert!(!f.hits(&c, 4));
    assert!(!f.hits(&c, 1), "1 was first in, so first out");
}

#[test]
fn lfu_evicts_the_least_used() {
    let (c, f) = (cache(LfuPolicy, 3), Counted::new());
    for k in [1, 2, 3, 1, 1, 3] {
        f.call(&c, k);
    }
    assert!(!f.hits(&c, 4)); // 2 was used once
    assert!(f.hits(&c, 1) && f.hits(&c, 3));
    assert!(!f.hits(&c, 2));
}

#[test]
fn mru_evicts_the_most_recent() {
    let (c, f) = (cache(MruPolicy, 3), Counted::new());
    for k in [1, 2, 3] {
        f.call(&c, k);
    }
    assert!(f.hits(&c, 2));
    assert!(!f.hits(&c, 4)); // evicts 2, used last
    assert!(f.hits(&c, 1) && f.hits(&c, 3));
    assert!(!f.hits(&c, 2));
}

#[test]
fn size_stays_at_maxsize_for_every_policy() {
    fn check(policy: impl EvictionPolicy + Copy) {
        let (c, f) = (cache(policy, 16), Counted::new());
        for k in 0..500 {
            f.call(&c, k % 97);
            assert!(c.len(&F).unwrap() <= 16);
        }
        assert_eq!(c.len(&F).unwrap(), 16);
        let s = c.stats();
        assert_eq!(s.hits + s.misses, 500);
        assert_eq!(s.writes, s.misses);
        assert_eq!(s.evictions, s.writes - 16);
    }
    check(LruPolicy);
    check(MruPolicy);
    check(FifoPolicy);
    check(LfuPolicy);
    check(RrPolicy);
    check(TLruPolicy);
}

#[test]
fn lowering_maxsize_evicts_the_surplus_on_the_next_put() {
    let (c, f) = (cache(LruPolicy, 10), Counted::new());
    for k in 0..10 {
        f.call(&c, k);
    }
    c.set_maxsize(4).unwrap();
    assert_eq!(c.len(&F).unwrap(), 10, "nothing happens before a put");
    f.call(&c, 100);
    assert_eq!(c.len(&F).unwrap(), 4);
    assert_eq!(c.stats().evictions, 7);
    assert!(c.set_maxsize(0).is_err());
}

#[test]
fn modes_read_write_and_execute_as_specified() {
    let (c, f) = (cache(LruPolicy, 10), Counted::new());
    // read-only: runs on a miss, never writes.
    Mode::ReadOnly.scope(|| assert!(!f.hits(&c, 1)));
    assert_eq!(c.len(&F).unwrap(), 0);
    // no-exec: a miss is an error and the function does not run.
    let runs = f.runs.load(Ordering::SeqCst);
    let err = Mode::NoExec
        .scope(|| c.call(&F, &1u32, || 0u32))
        .unwrap_err();
    assert!(matches!(err, Error::CacheMiss));
    assert_eq!(f.runs.load(Ordering::SeqCst), runs);
    // normal: writes.
    assert!(!f.hits(&c, 1));
    assert!(f.hits(&c, 1));
    // no-exec on a hit returns it; read-only reads.
    assert_eq!(
        Mode::NoExec.scope(|| c.call(&F, &1u32, || 0u32)).unwrap(),
        10
    );
    assert!(Mode::ReadOnly.scope(|| f.hits(&c, 1)));
    // write-only: never reads, always runs, writes (a refresh).
    let fresh: u32 = Mode::WriteOnly.scope(|| c.call(&F, &1u32, || 99)).unwrap();
    assert_eq!(fresh, 99);
    assert_eq!(
        c.call(&F, &1u32, || 0u32).unwrap(),
        99,
        "the refresh was written"
    );
    // bypass: neither reads nor writes.
    let before = c.stats();
    let v: u32 = Mode::Bypass.scope(|| c.call(&F, &2u32, || 7)).unwrap();
    assert_eq!(v, 7);
    assert_eq!(c.stats(), before, "bypass counts nothing");
    assert_eq!(c.len(&F).unwrap(), 1);
}

#[test]
fn mode_scopes_nest_and_restore() {
    assert_eq!(Mode::current(), Mode::Normal);
    Mode::ReadOnly.scope(|| {
        Mode::Bypass.scope(|| assert_eq!(Mode::current(), Mode::Bypass));
        assert_eq!(Mode::current(), Mode::ReadOnly);
    });
    let caught = std::panic::catch_unwind(|| Mode::NoExec.scope(|| panic!("inside")));
    assert!(caught.is_err());
    assert_eq!(Mode::current(), Mode::Normal, "restored after a panic");
    // Another thread is not affected by this thread's scope.
    Mode::Bypass.scope(|| {
        let other = std::thread::spawn(Mode::current).join().unwrap();
        assert_eq!(other, Mode::Normal);
    });
}

#[tokio::test]
async fn mode_scopes_apply_to_a_task() {
    let c = Arc::new(cache(LruPolicy, 10));
    let task = {
        let c = c.clone();
        tokio::spawn(Mode::ReadOnly.scope_async(async move {
            tokio::task::yield_now().await;
            let v: u32 = c.call_async(&F, &5u32, || async { 50 }).await.unwrap();
            (v, Mode::current())
        }))
    };
    assert_eq!(task.await.unwrap(), (50, Mode::ReadOnly));
    assert_eq!(c.len(&F).unwrap(), 0, "read-only task wrote nothing");
    assert_eq!(Mode::current(), Mode::Normal);
    let err = Mode::NoExec
        .scope_async(c.call_async(&F, &5u32, || async { 0u32 }))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CacheMiss));
}

#[test]
fn statistics_per_cache_and_per_block() {
    let (a, b, f) = (cache(LruPolicy, 2), cache(LruPolicy, 2), Counted::new());
    let ((), counts) = stats::count(|| {
        f.call(&a, 1);
        f.call(&a, 1);
        let ((), inner) = stats::count(|| {
            f.call(&b, 1);
        });
        assert_eq!((inner.hits, inner.misses, inner.writes), (0, 1, 1));
        f.call(&a, 2);
        f.call(&a, 3); // evicts
    });
    assert_eq!(
        (counts.hits, counts.misses, counts.writes, counts.evictions),
        (1, 4, 4, 1),
        "the outer block sees its own and the inner block's counts"
    );
    let sa = a.stats();
    assert_eq!((sa.hits, sa.misses, sa.writes, sa.evictions), (1, 3, 3, 1));
    assert_eq!(b.stats().misses, 1);
    // Counts outside any block are not attributed to a finished block.
    f.call(&a, 9);
    assert_eq!(counts.misses, 4);
}

#[tokio::test]
async fn statistics_per_task() {
    let c = cache(LruPolicy, 4);
    let ((), counts) = stats::count_async(async {
        let _: u32 = c.call_async(&F, &1u32, || async { 1 }).await.unwrap();
        tokio::task::yield_now().await;
        let _: u32 = c.call_async(&F, &1u32, || async { 1 }).await.unwrap();
    })
    .await;
    assert_eq!((counts.hits, counts.misses, counts.writes), (1, 1, 1));
}

#[derive(Debug, PartialEq)]
struct AppError(String);
impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError(e.to_string())
    }
}

#[test]
fn errors_from_the_function_are_not_cached_and_reach_the_caller() {
    let c = cache(LruPolicy, 4);
    let runs = AtomicUsize::new(0);
    let call = |fail: bool| {
        c.try_call(&F, &1u32, || {
            runs.fetch_add(1, Ordering::SeqCst);
            if fail {
                Err(AppError("boom".into()))
            } else {
                Ok(5u32)
            }
        })
    };
    assert_eq!(call(true), Err(AppError("boom".into())));
    assert_eq!(c.len(&F).unwrap(), 0, "the error was not cached");
    assert_eq!(call(true), Err(AppError("boom".into())));
    assert_eq!(call(false), Ok(5));
    assert_eq!(call(true), Ok(5), "now a hit: the function does not run");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    // A cache error reaches the caller through From.
    let err = Mode::NoExec.scope(|| c.try_call(&F, &2u32, || Ok::<u32, AppError>(0)));
    assert!(err.unwrap_err().0.contains("no-exec"));
}

#[test]
fn a_value_that_does_not_decode_is_a_miss_and_is_overwritten() {
    let c = cache(LruPolicy, 4);
    let s: String = c.call(&F, &1u32, || "text".to_owned()).unwrap();
    assert_eq!(s, "text");
    // Same identity and arguments, another type: the bytes do not decode.
    let n: u64 = c.call(&F, &1u32, || 77).unwrap();
    assert_eq!(n, 77);
    let st = c.stats();
    assert_eq!((st.decode_failures, st.misses, st.writes), (1, 2, 2));
    let again: u64 = c
        .call(&F, &1u32, || unreachable!("overwritten, so a hit"))
        .unwrap();
    assert_eq!(again, 77);
}

/// A store whose every operation fails: as a Redis that went away would
/// (`transient`), or as one that refuses every command would.
#[derive(Debug, Clone, Copy)]
struct BrokenStore {
    cluster: bool,
    transient: bool,
}

impl BrokenStore {
    const DOWN: BrokenStore = BrokenStore {
        cluster: false,
        transient: true,
    };
}

fn down() -> Error {
    Error::transient_backend("broken", std::io::Error::other("connection refused"))
}

fn refused() -> Error {
    Error::backend("broken", std::io::Error::other("ERR unknown command"))
}

impl Store for BrokenStore {
    fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::new("broken");
        if self.cluster {
            caps.with_cluster()
        } else {
            caps
        }
    }
    fn get(&self, _: &GetRequest<'_>) -> Result<redis_func_cache::store::Lookup, Error> {
        Err(if self.transient { down() } else { refused() })
    }
    fn get_or_lease(
        &self,
        _: &GetRequest<'_>,
        _: Duration,
    ) -> Result<redis_func_cache::store::Leased, Error> {
        Err(down())
    }
    fn peek(
        &self,
        _: &GetRequest<'_>,
    ) -> Result<Option<redis_func_cache::store::StoredValue>, Error> {
        Err(down())
    }
    fn remove(&self, _: &GetRequest<'_>) -> Result<bool, Error> {
        Err(down())
    }
    fn put(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        Err(if self.transient { down() } else { refused() })
    }
    fn len(&self, _: &KeyPair) -> Result<u64, Error> {
        Err(down())
    }
    fn purge(&self, _: &KeyPair) -> Result<u64, Error> {
        Err(down())
    }
    fn purge_prefix(&self, _: &str) -> Result<u64, Error> {
        Err(down())
    }
    fn add_counters(&self, _: &str, _: &[(&'static str, u64)]) -> Result<(), Error> {
        Err(down())
    }
    fn read_counters(&self, _: &str) -> Result<Vec<(String, u64)>, Error> {
        Err(down())
    }
    fn remove_counters(&self, _: &str) -> Result<(), Error> {
        Err(down())
    }
    async fn get_async(
        &self,
        _: &GetRequest<'_>,
    ) -> Result<redis_func_cache::store::Lookup, Error> {
        Err(if self.transient { down() } else { refused() })
    }
    async fn get_or_lease_async(
        &self,
        _: &GetRequest<'_>,
        _: Duration,
    ) -> Result<redis_func_cache::store::Leased, Error> {
        Err(down())
    }
    async fn peek_async(
        &self,
        _: &GetRequest<'_>,
    ) -> Result<Option<redis_func_cache::store::StoredValue>, Error> {
        Err(down())
    }
    async fn remove_async(&self, _: &GetRequest<'_>) -> Result<bool, Error> {
        Err(down())
    }
    async fn put_async(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        Err(if self.transient { down() } else { refused() })
    }
    async fn len_async(&self, _: &KeyPair) -> Result<u64, Error> {
        Err(down())
    }
    async fn purge_async(&self, _: &KeyPair) -> Result<u64, Error> {
        Err(down())
    }
    async fn purge_prefix_async(&self, _: &str) -> Result<u64, Error> {
        Err(down())
    }
}

#[tokio::test]
async fn store_errors_fail_open_by_default_and_propagate_on_request() {
    let open = FuncCache::builder("broken")
        .store(BrokenStore::DOWN)
        .build()
        .unwrap();
    assert_eq!(open.call(&F, &1u32, || 3u32).unwrap(), 3);
    assert_eq!(
        open.call_async(&F, &1u32, || async { 4u32 }).await.unwrap(),
        4
    );
    let s = open.stats();
    assert_eq!(
        (s.backend_errors, s.hits, s.writes),
        (2, 0, 0),
        "two failed reads; a store that did not answer the read is not \
         written to (a second deadline on the call)"
    );

    // A store that answers, with an error, is still written to: the write
    // may succeed (or heal what made the read fail).
    let refusing = FuncCache::builder("refusing")
        .store(BrokenStore {
            cluster: false,
            transient: false,
        })
        .build()
        .unwrap();
    assert_eq!(refusing.call(&F, &1u32, || 3u32).unwrap(), 3);
    assert_eq!(
        refusing
            .call_async(&F, &1u32, || async { 4u32 })
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        refusing.stats().backend_errors,
        4,
        "two failed reads, two failed writes"
    );

    let strict = FuncCache::builder("broken")
        .store(BrokenStore::DOWN)
        .on_store_error(OnStoreError::Propagate)
        .build()
        .unwrap();
    let err = strict.call(&F, &1u32, || 3u32).unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("connection refused"));
    assert_eq!(strict.stats().backend_errors, 1);
}

#[test]
fn bad_configuration_is_refused_with_a_message_that_says_what_to_change() {
    let mem = MemoryStore::new;
    let msg = |r: Result<FuncCache<MemoryStore>, Error>| r.unwrap_err().to_string();
    assert!(msg(FuncCache::builder("").store(mem()).build()).contains("name is empty"));
    assert!(msg(FuncCache::builder("a{b}").store(mem()).build()).contains("hash tag"));
    assert!(
        msg(FuncCache::builder("c").prefix("").store(mem()).build()).contains("prefix is empty")
    );
    assert!(msg(FuncCache::builder("c").maxsize(0).store(mem()).build()).contains("maxsize is 0"));
    assert!(
        msg(FuncCache::builder("c")
            .ttl(Duration::ZERO)
            .store(mem())
            .build())
        .contains("TTL is zero")
    );
    assert!(
        msg(FuncCache::builder("c")
            .entry_ttl(Duration::ZERO)
            .store(mem())
            .build())
        .contains("entry TTL is zero")
    );
    let err = FuncCache::builder("c")
        .policy(LruMultiplePolicy)
        .store(BrokenStore {
            cluster: true,
            transient: true,
        })
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }));
    let text = err.to_string();
    assert!(
        text.contains("LruMultiplePolicy")
            && text.contains("LruClusterMultiplePolicy")
            && text.contains("LruClusterPolicy"),
        "{text}"
    );
    let tlru = FuncCache::builder("c")
        .policy(TLruPolicy)
        .store(BrokenStore {
            cluster: true,
            transient: true,
        })
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        tlru.contains("TLruPolicy") && tlru.contains("TLruClusterPolicy"),
        "{tlru}"
    );
    assert!(
        FuncCache::builder("c")
            .policy(LruClusterPolicy)
            .store(BrokenStore {
                cluster: true,
                transient: true,
            })
            .build()
            .is_ok()
    );
}

/// SPEC §4: a bad name or prefix is refused with a message that says which
/// character, why, and what to use instead.
#[test]
fn bad_names_and_prefixes_are_refused_with_what_to_change() {
    let build = |name: &str, prefix: &str| {
        FuncCache::builder(name)
            .prefix(prefix)
            .store(MemoryStore::new())
            .build()
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let (tag, glob, control) = ("hash tag", "glob characters", "control characters");
    for (name, why) in [
        ("a{b", tag),
        ("a}b", tag),
        ("{}", tag),
        ("acl:lru-m:evil", "colon"),
        ("a*", glob),
        ("a?", glob),
        ("a[b]", glob),
        ("a\\b", glob),
        ("a\nb", control),
        ("a\u{7f}", control),
    ] {
        let err = build(name, "redis_func_cache:").unwrap_err();
        assert!(
            err.contains("cache name") && err.contains(why) && err.contains("use letters"),
            "{name:?}: {err}"
        );
    }
    for (prefix, why) in [
        ("p{", tag),
        ("p}", tag),
        ("p*", glob),
        ("p?", glob),
        ("p[", glob),
        ("p]", glob),
        ("p\\", glob),
        ("p\t", control),
    ] {
        let err = build("ok", prefix).unwrap_err();
        assert!(
            err.contains("key prefix") && err.contains(why) && err.contains("use letters"),
            "{prefix:?}: {err}"
        );
    }
    assert_eq!(
        build("my-cache_v1.2", "app:cache:"),
        Ok(()),
        "a colon is allowed in a prefix"
    );
    assert_eq!(build("näme", "p:"), Ok(()), "letters of any script");
}

/// Leases and refresh-ahead settings that cannot work are refused before
/// a cache exists.
#[test]
fn leases_and_refresh_ahead_are_checked_before_a_cache_exists() {
    let lease = FuncCache::builder("c")
        .lease(Duration::from_micros(999))
        .store(MemoryStore::new())
        .build()
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(lease.contains("lease is zero"), "{lease}");

    let refresh = |beta: f64, entry_ttl: Option<Duration>| {
        let builder = FuncCache::builder("c")
            .refresh_ahead(redis_func_cache::RefreshAhead::new(beta))
            .store(MemoryStore::new());
        match entry_ttl {
            Some(ttl) => builder.entry_ttl(ttl),
            None => builder,
        }
        .build()
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let second = Some(Duration::from_secs(1));
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = refresh(beta, second).unwrap_err();
        assert!(err.contains("beta"), "{beta}: {err}");
    }
    assert_eq!(refresh(f64::MIN_POSITIVE, second), Ok(()));
    assert_eq!(refresh(2.5, second), Ok(()));
    let debug = format!("{:?}", redis_func_cache::RefreshAhead::new(2.5));
    assert!(debug.starts_with("RefreshAhead { beta: 2.5"), "{debug}");
    assert!(refresh(1.0, None).unwrap_err().contains("entry_ttl"));
}

/// A memory cache's fleet is this process: `fleet_stats` gives its own
/// hits, misses, writes and evictions; and a cache tells what it is.
#[test]
fn a_memory_caches_fleet_is_this_process_and_it_says_what_it_is() {
    let c = cache(LruPolicy, 1);
    for k in [1u32, 1, 2, 3, 3] {
        c.call(&F, &k, || k).unwrap();
    }
    let own = c.stats();
    assert_eq!(
        (own.hits, own.misses, own.writes, own.evictions),
        (2, 3, 3, 2)
    );
    c.flush_fleet_stats().unwrap();
    let fleet = c.fleet_stats().unwrap();
    assert_eq!(
        (fleet.hits, fleet.misses, fleet.writes, fleet.evictions),
        (2, 3, 3, 2)
    );
    assert_eq!(c.name(), "scenarios");
    let debug = format!("{c:?}");
    for part in [
        "FuncCache",
        "name: \"scenarios\"",
        "maxsize: 1",
        "word: \"lru\"",
    ] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
}

#[test]
fn is_empty_follows_len() {
    let c = cache(LruPolicy, 4);
    assert!(c.is_empty(&F).unwrap());
    assert_eq!(c.len(&F).unwrap(), 0);
    c.call(&F, &1u32, || 1u32).unwrap();
    assert!(!c.is_empty(&F).unwrap());
    assert_eq!(c.len(&F).unwrap(), 1);
}

#[test]
fn key_names_follow_the_layouts() {
    static FIB: FuncId = FuncId::new("app::math", "fib", 0xabc);
    let names = |policy: &dyn Fn(
        redis_func_cache::FuncCacheBuilder<redis_func_cache::NoStore>,
    ) -> redis_func_cache::FuncCacheBuilder<
        redis_func_cache::NoStore,
    >| {
        let store = MemoryStore::new();
        let c = policy(FuncCache::builder("my-cache"))
            .store(store.clone())
            .build()
            .unwrap();
        let _: u8 = c.call(&FIB, &1u8, || 1).unwrap();
        store.pair_names()
    };
    assert_eq!(
        names(&|b| b.policy(LruPolicy)),
        ["redis_func_cache:my-cache:lru:0"]
    );
    assert_eq!(
        names(&|b| b.policy(LruMultiplePolicy)),
        ["redis_func_cache:my-cache:lru-m:app::math:fib#0000000000000abc:0"]
    );
    assert_eq!(
        names(&|b| b.policy(LruClusterPolicy)),
        ["redis_func_cache:{my-cache:lru-c}:0"]
    );
    assert_eq!(
        names(&|b| b.policy(LruClusterMultiplePolicy).prefix("p:")),
        ["p:my-cache:lru-cm:app::math:fib#{0000000000000abc}:0"]
    );
    assert_eq!(
        names(&|b| b.policy(TLruPolicy)),
        ["redis_func_cache:my-cache:tlru:0"]
    );
}

#[test]
fn multiple_layouts_give_each_function_its_own_pair_and_purge_all_of_them() {
    let c = cache(LruMultiplePolicy, 2);
    for k in 0..5u32 {
        let _: u32 = c.call(&F, &k, || k).unwrap();
        let _: u32 = c.call(&G, &k, || k).unwrap();
    }
    assert_eq!(
        (c.len(&F).unwrap(), c.len(&G).unwrap()),
        (2, 2),
        "each pair bounded on its own"
    );
    assert_ne!(c.key_pair(&F), c.key_pair(&G));
    assert_eq!(c.purge_func(&F).unwrap(), 2);
    assert_eq!((c.len(&F).unwrap(), c.len(&G).unwrap()), (0, 2));
    let other = FuncCache::builder("other")
        .policy(LruMultiplePolicy)
        .store(c.store().clone())
        .build()
        .unwrap();
    let _: u32 = other.call(&F, &1u32, || 1).unwrap();
    assert_eq!(c.purge().unwrap(), 2);
    assert_eq!(
        other.len(&F).unwrap(),
        1,
        "another cache's pairs are not touched"
    );
}

#[test]
fn entry_ttl_and_pair_ttl_on_a_manual_clock() {
    let clock = ManualClock::new(1_000_000);
    let c = FuncCache::builder("ttl")
        .ttl(Duration::from_secs(60))
        .entry_ttl(Duration::from_secs(10))
        .store(MemoryStore::with_clock(clock.clone()))
        .build()
        .unwrap();
    let f = Counted::new();
    f.call(&c, 1);
    clock.advance(Duration::from_secs(9));
    assert!(f.hits(&c, 1));
    clock.advance(Duration::from_secs(1));
    assert!(!f.hits(&c, 1), "the entry reached its deadline");
    clock.advance(Duration::from_secs(61));
    assert_eq!(c.len(&F).unwrap(), 0, "the pair expired while idle");
}

#[test]
fn a_store_chosen_at_run_time() {
    let store: Arc<dyn DynStore> = Arc::new(MemoryStore::new());
    let c = FuncCache::builder("dyn").store(store).build().unwrap();
    let f = Counted::new();
    assert!(!f.hits(&c, 3));
    assert!(f.hits(&c, 3));
}

#[test]
fn unhashable_arguments_run_uncached_or_error_when_propagating() {
    struct Unhashable;
    impl serde::Serialize for Unhashable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refuses to serialize"))
        }
    }
    let c = cache(LruPolicy, 4);
    assert_eq!(c.call(&F, &Unhashable, || 1u8).unwrap(), 1);
    assert_eq!(c.stats().writes, 0);
    let strict = FuncCache::builder("s")
        .on_store_error(OnStoreError::Propagate)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    assert!(matches!(
        strict.call(&F, &Unhashable, || 1u8),
        Err(Error::Encode { .. })
    ));
}

#[cfg(feature = "json")]
#[test]
fn json_values() {
    let c = FuncCache::builder("json")
        .serializer(redis_func_cache::serializer::Json::<{ 1 << 20 }>)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    let v: Vec<String> = c.call(&F, &1u32, || vec!["a".into()]).unwrap();
    let again: Vec<String> = c.call(&F, &1u32, || unreachable!()).unwrap();
    assert_eq!(v, again);
    let pair = c.key_pair(&F);
    // The header (SPEC §7): 0xFF, then version 1 and serializer 2 (JSON).
    let stored = &c.store().contents(&pair).values[0].1;
    assert_eq!(&stored[..2], &[0xFF, (1 << 5) | 2]);
    assert_eq!(&stored[2..], br#"["a"]"#);
}

#[cfg(feature = "msgpack")]
#[test]
fn msgpack_values() {
    let c = FuncCache::builder("mp")
        .serializer(redis_func_cache::serializer::MessagePack::<{ 1 << 20 }>)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    let v: (u8, String) = c.call(&F, &1u32, || (1, "x".into())).unwrap();
    let again: (u8, String) = c.call(&F, &1u32, || unreachable!()).unwrap();
    assert_eq!(v, again);
}

/// A cache whose store always fails and which asks for store errors to be
/// propagated: the hardest case for functions that cannot carry them.
static STRICT_BROKEN: LazyLock<FuncCache<BrokenStore>> = LazyLock::new(|| {
    FuncCache::builder("strict-broken")
        .store(BrokenStore::DOWN)
        .on_store_error(OnStoreError::Propagate)
        .build()
        .unwrap()
});

#[redis_func_cache::cached(cache = STRICT_BROKEN)]
fn plain_double(x: u32) -> u32 {
    x * 2
}

#[redis_func_cache::cached(cache = STRICT_BROKEN)]
fn read_config(name: String) -> std::io::Result<String> {
    if name.is_empty() {
        return Err(std::io::Error::other("no name"));
    }
    Ok(format!("config of {name}"))
}

#[redis_func_cache::cached(cache = STRICT_BROKEN)]
async fn parse_async(text: String) -> Result<u64, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

#[tokio::test]
async fn functions_that_cannot_carry_a_cache_error_fail_open_instead() {
    // No panic for a plain value, even though store errors propagate.
    assert_eq!(plain_double(4), 8);
    // io::Error cannot hold our error: the store error is dropped, the
    // function's own errors still arrive.
    assert_eq!(read_config("db".into()).unwrap(), "config of db");
    assert_eq!(
        read_config(String::new()).unwrap_err().to_string(),
        "no name"
    );
    assert_eq!(parse_async("12".into()).await, Ok(12));
    assert_eq!(parse_async("x".into()).await, Err("not a number: x".into()));
    assert!(STRICT_BROKEN.stats().backend_errors >= 4);
}

#[test]
#[should_panic(expected = "cannot carry a cache error")]
fn a_no_exec_miss_still_panics_where_the_error_cannot_be_returned() {
    let _ = Mode::NoExec.scope(|| read_config("db".into()));
}
