//! SPEC §9, refresh ahead (XFetch): with a per-entry TTL, a hit recomputes
//! early as the rule `now − Δ·β·ln(r) ≥ deadline` says, Δ being the last
//! computation's duration stored with the value. The random draw is fixed
//! by the test, so every decision is exact; on memory and on Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use redis_func_cache::{AnyStore, FuncCache, FuncId, MemoryStore, Mode, RedisStore, RefreshAhead};
use redis_func_cache_redis::test_server::Server;

static F: FuncId = FuncId::new("refresh_ahead", "f", 1);

#[test]
fn a_hit_recomputes_early_exactly_when_the_draw_says_so() {
    let server = Server::start();
    for (name, store) in [
        ("memory", AnyStore::new(MemoryStore::new())),
        (
            "redis",
            AnyStore::new(RedisStore::open(server.url.as_str()).unwrap()),
        ),
    ] {
        // A draw of 0 gives r = 1 and -ln(r) = 0: never early. A draw just
        // under 1 gives r ≈ 1e-16 and -ln(r) ≈ 37: with Δ ≥ 100 ms that is
        // ≥ 3.7 s early, beyond the 2 s entry TTL: always.
        let eager = Arc::new(AtomicBool::new(false));
        let draw = {
            let eager = eager.clone();
            move || {
                if eager.load(Ordering::SeqCst) {
                    1.0 - 1e-16
                } else {
                    0.0
                }
            }
        };
        let cache = FuncCache::builder(format!("refresh-{name}"))
            .store(store)
            .entry_ttl(Duration::from_secs(2))
            .refresh_ahead(RefreshAhead::new(1.0).with_random(draw))
            .build()
            .unwrap();
        let runs = AtomicUsize::new(0);
        let call = || {
            cache
                .call(&F, &1u32, || {
                    std::thread::sleep(Duration::from_millis(100));
                    runs.fetch_add(1, Ordering::SeqCst) as u32
                })
                .unwrap()
        };
        assert_eq!(call(), 0, "{name}: computed");
        assert_eq!(call(), 0, "{name}: a hit far from the deadline");
        assert_eq!(cache.stats().refreshes, 0, "{name}");
        eager.store(true, Ordering::SeqCst);
        assert_eq!(call(), 1, "{name}: the draw refreshes the hit early");
        eager.store(false, Ordering::SeqCst);
        assert_eq!(call(), 1, "{name}: and the new value is stored");
        let s = cache.stats();
        assert_eq!(
            (s.refreshes, s.hits, s.misses, s.writes),
            (1, 2, 2, 2),
            "{name}: {s:?}"
        );
        cache.purge().unwrap();
    }
}

#[test]
fn refresh_ahead_needs_a_per_entry_ttl_and_a_positive_beta() {
    let no_ttl = FuncCache::builder("refresh-no-ttl")
        .store(MemoryStore::new())
        .refresh_ahead(RefreshAhead::new(1.0))
        .build()
        .unwrap_err();
    assert!(no_ttl.to_string().contains("entry_ttl"), "{no_ttl}");
    let bad_beta = FuncCache::builder("refresh-beta")
        .store(MemoryStore::new())
        .entry_ttl(Duration::from_secs(1))
        .refresh_ahead(RefreshAhead::new(0.0))
        .build()
        .unwrap_err();
    assert!(bad_beta.to_string().contains("beta"), "{bad_beta}");
}

#[test]
fn a_due_hit_is_a_plain_hit_where_a_fresh_result_could_not_be_stored() {
    // Refreshing early is worth its computation only where the function
    // may run and its result be written. In a read-only call a due hit is
    // returned as it is, and in a no-exec call it is a hit, not a miss.
    let cache = FuncCache::builder("refresh-modes")
        .store(MemoryStore::new())
        .entry_ttl(Duration::from_secs(2))
        // Always due once the computation took 100 ms (see above).
        .refresh_ahead(RefreshAhead::new(1.0).with_random(|| 1.0 - 1e-16))
        .build()
        .unwrap();
    let runs = AtomicUsize::new(0);
    let call = || {
        cache.call(&F, &1u32, || {
            std::thread::sleep(Duration::from_millis(100));
            runs.fetch_add(1, Ordering::SeqCst) as u32
        })
    };
    assert_eq!(call().unwrap(), 0, "computed");
    assert_eq!(
        Mode::ReadOnly.scope(call).unwrap(),
        0,
        "read-only: the stored value"
    );
    assert_eq!(Mode::NoExec.scope(call).unwrap(), 0, "no-exec: a hit");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().refreshes, 0);
    // A normal call refreshes it.
    assert_eq!(call().unwrap(), 1);
    assert_eq!(cache.stats().refreshes, 1);
}
