//! What a cache removes, on the memory store and a manual clock: the
//! eviction listener hears each removal with its cause (a put's victims,
//! expired or not; invalidations; purges, sync and async, of one pair and
//! of per-function pairs), never of nothing, and purges return how many
//! entries they removed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_func_cache::{
    EvictionPolicy, FifoPolicy, FuncCache, FuncId, LruMultiplePolicy, LruPolicy, ManualClock,
    MemoryStore, RemovalCause,
};

static F: FuncId = FuncId::new("removals", "f", 1);
static G: FuncId = FuncId::new("removals", "g", 1);

type Heard = Arc<Mutex<Vec<(u64, RemovalCause)>>>;

fn listened(policy: impl EvictionPolicy, clock: &ManualClock) -> (FuncCache<MemoryStore>, Heard) {
    let heard = Heard::default();
    let ear = heard.clone();
    let cache = FuncCache::builder("removals")
        .policy(policy)
        .maxsize(2)
        .entry_ttl(Duration::from_secs(10))
        .on_eviction(move |n, cause| ear.lock().unwrap().push((n, cause)))
        .store(MemoryStore::with_clock(clock.clone()))
        .build()
        .unwrap();
    (cache, heard)
}

fn take(heard: &Heard) -> Vec<(u64, RemovalCause)> {
    std::mem::take(&mut *heard.lock().unwrap())
}

#[test]
fn puts_tell_expired_victims_from_live_ones() {
    let clock = ManualClock::new(1_000_000);
    let (cache, heard) = listened(FifoPolicy, &clock);
    for k in [1u32, 2] {
        cache.entry(&F, &k).unwrap().insert(&k).unwrap();
    }
    clock.advance(Duration::from_secs(11));
    // Both expired; the put of 3 evicts one of them (FIFO's oldest).
    cache.entry(&F, &3u32).unwrap().insert(&3u32).unwrap();
    assert_eq!(take(&heard), [(1, RemovalCause::Expired)]);
    // 2 is still there, expired; 3 is live: the next put's victim is 2.
    cache.entry(&F, &4u32).unwrap().insert(&4u32).unwrap();
    assert_eq!(take(&heard), [(1, RemovalCause::Expired)]);
    cache.entry(&F, &5u32).unwrap().insert(&5u32).unwrap();
    assert_eq!(take(&heard), [(1, RemovalCause::Size)]);
    assert_eq!(cache.stats().evictions, 3);
}

#[test]
fn purges_and_invalidations_sync_and_async() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = ManualClock::new(1_000_000);
    for (layout, (cache, heard)) in [
        ("one pair", listened(LruPolicy, &clock)),
        ("a pair per function", listened(LruMultiplePolicy, &clock)),
    ] {
        let fill = || {
            cache.call(&F, &1u32, || 1u32).unwrap();
            cache.call(&G, &1u32, || 1u32).unwrap();
        };
        fill();
        assert_eq!(cache.purge().unwrap(), 2, "{layout}");
        fill();
        assert_eq!(rt.block_on(cache.purge_async()).unwrap(), 2, "{layout}");
        assert_eq!(rt.block_on(cache.purge_async()).unwrap(), 0, "{layout}");
        assert!(cache.is_empty(&F).unwrap() && cache.is_empty(&G).unwrap());
        fill();
        let one = cache.entry(&F, &1u32).unwrap();
        assert!(rt.block_on(one.invalidate_async()).unwrap(), "{layout}");
        assert!(!rt.block_on(one.invalidate_async()).unwrap(), "{layout}");
        assert!(cache.entry(&G, &1u32).unwrap().invalidate().unwrap());
        assert_eq!(
            take(&heard),
            [
                (2, RemovalCause::Purged),
                (2, RemovalCause::Purged),
                (1, RemovalCause::Invalidated),
                (1, RemovalCause::Invalidated),
            ],
            "{layout}"
        );
    }
}

/// A read that finds an entry past its per-entry TTL removes it and tells
/// the listener `Expired`, once: sync and async calls, the entry API's
/// `get` (sync and async), and leased calls (the lease is taken in the
/// same step). The call that follows computes; a peek removes nothing.
#[test]
fn reads_tell_expired_entries_they_removed() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for leased in [false, true] {
        let clock = ManualClock::new(1_000_000);
        let heard = Heard::default();
        let ear = heard.clone();
        let builder = FuncCache::builder("read-expired")
            .maxsize(10)
            .entry_ttl(Duration::from_secs(10))
            .on_eviction(move |n, cause| ear.lock().unwrap().push((n, cause)));
        let builder = if leased {
            builder.lease(Duration::from_secs(5))
        } else {
            builder
        };
        let cache = builder
            .store(MemoryStore::with_clock(clock.clone()))
            .build()
            .unwrap();
        for k in 1..=5u32 {
            cache.call(&F, &k, || k).unwrap();
        }
        clock.advance(Duration::from_secs(11));
        let peeked: Option<u32> = cache.entry(&F, &5u32).unwrap().peek().unwrap();
        assert_eq!((peeked, take(&heard)), (None, vec![]), "leased: {leased}");
        assert_eq!(cache.call(&F, &1u32, || 10u32).unwrap(), 10);
        let async_call = cache.call_async(&F, &2u32, || async { 20u32 });
        assert_eq!(rt.block_on(async_call).unwrap(), 20);
        assert_eq!(cache.entry(&F, &3u32).unwrap().get::<u32>().unwrap(), None);
        let entry = cache.entry(&F, &4u32).unwrap();
        assert_eq!(rt.block_on(entry.get_async::<u32>()).unwrap(), None);
        assert_eq!(
            take(&heard),
            [(1, RemovalCause::Expired); 4],
            "leased: {leased}"
        );
        // Removed: read again, there is nothing to tell.
        assert_eq!(cache.entry(&F, &3u32).unwrap().get::<u32>().unwrap(), None);
        assert_eq!(cache.call(&F, &1u32, || 0u32).unwrap(), 10, "a hit");
        assert_eq!(take(&heard), [], "leased: {leased}");
        assert_eq!(cache.len(&F).unwrap(), 3, "1, 2 put again; 5 only peeked");
        assert_eq!(
            cache.stats().evictions,
            0,
            "a read's removal is no eviction"
        );
    }
}
