//! Fleet-wide statistics in one process: two caches of one name on one
//! server report in the background and read the same sums; the memory
//! store's fleet is its own statistics; a purge clears the counters.

use std::time::Duration;

use redis_func_cache::{AnyStore, FuncCache, FuncId, MemoryStore, RedisStore, StatsSnapshot};
use redis_func_cache_redis::test_server::{Server, connected_fred};

static F: FuncId = FuncId::new("fleet", "f", 1);

fn calls(cache: &FuncCache<AnyStore>, keys: std::ops::Range<u32>) {
    for k in keys {
        assert_eq!(cache.call(&F, &k, || k * 2).unwrap(), k * 2);
    }
}

fn fleet_counts(s: StatsSnapshot) -> (u64, u64, u64, u64) {
    (s.hits, s.misses, s.writes, s.evictions)
}

#[test]
fn processes_report_in_the_background_and_read_the_sum() {
    let server = Server::start();
    type Open<'a> = Box<dyn Fn() -> AnyStore + 'a>;
    let opens: [(&str, Open<'_>); 2] = [
        (
            "redis-rs",
            Box::new(|| AnyStore::new(RedisStore::open(server.url.as_str()).unwrap())),
        ),
        (
            "fred",
            Box::new(|| AnyStore::new(connected_fred(server.url.as_str()))),
        ),
    ];
    for (name, open) in opens {
        let build = |interval| {
            FuncCache::builder(format!("fleet-{name}"))
                .maxsize(4)
                .fleet_stats_interval(interval)
                .store(open())
                .build()
                .unwrap()
        };
        let (a, b) = (
            build(Some(Duration::from_millis(200))),
            build(Some(Duration::from_millis(200))),
        );
        a.purge().unwrap();
        calls(&a, 0..6); // 6 misses, 6 writes, 2 evictions
        calls(&b, 4..6); // 2 hits
        // No flush: the background reports arrive within an interval.
        let want = (2, 6, 6, 2);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while fleet_counts(a.fleet_stats().unwrap()) != want {
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: {:?}",
                a.fleet_stats()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(fleet_counts(b.fleet_stats().unwrap()), want, "{name}");
        // Idle: nothing more is sent, and the totals stay.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(fleet_counts(a.fleet_stats().unwrap()), want, "{name}");
        a.purge().unwrap();
        assert_eq!(
            fleet_counts(a.fleet_stats().unwrap()),
            (0, 0, 0, 0),
            "{name}: purged"
        );
        // Background reports off: nothing arrives until a flush.
        let silent = build(None);
        calls(&silent, 100..103);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(
            fleet_counts(silent.fleet_stats().unwrap()),
            (0, 0, 0, 0),
            "{name}"
        );
        silent.flush_fleet_stats().unwrap();
        assert_eq!(
            fleet_counts(silent.fleet_stats().unwrap()),
            (0, 3, 3, 0),
            "{name}"
        );
        // Another cache on the same server counts apart.
        let other = FuncCache::builder(format!("fleet-other-{name}"))
            .fleet_stats_interval(None)
            .store(open())
            .build()
            .unwrap();
        other.purge().unwrap();
        calls(&other, 0..1);
        other.flush_fleet_stats().unwrap();
        assert_eq!(
            fleet_counts(other.fleet_stats().unwrap()),
            (0, 1, 1, 0),
            "{name}"
        );
        assert_eq!(
            fleet_counts(silent.fleet_stats().unwrap()),
            (0, 3, 3, 0),
            "{name}: its own counters only"
        );
        // Counts not yet reported when the purge came are purged with it.
        calls(&silent, 200..202);
        silent.purge().unwrap();
        silent.flush_fleet_stats().unwrap();
        assert_eq!(
            fleet_counts(silent.fleet_stats().unwrap()),
            (0, 0, 0, 0),
            "{name}: a purge forgets what was not yet reported"
        );
        other.purge().unwrap();
    }
}

#[test]
fn on_the_memory_store_the_fleet_is_this_process() {
    let cache = FuncCache::builder("fleet-memory")
        .maxsize(4)
        .store(AnyStore::new(MemoryStore::new()))
        .build()
        .unwrap();
    calls(&cache, 0..6);
    calls(&cache, 4..6);
    assert_eq!(fleet_counts(cache.fleet_stats().unwrap()), (2, 6, 6, 2));
}
