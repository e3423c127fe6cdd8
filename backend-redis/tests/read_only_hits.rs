//! Hits that only read (issue 15, SPEC §6): FIFO, RR, SIEVE after an entry's
//! first hit and S3-FIFO after its counter saturates execute no write
//! command while the pair's TTL needs no restart. Counted by the server
//! itself (`INFO commandstats`, which counts the commands scripts call).

mod common;

use redis_func_cache_core::{EvictionPolicy, FuncCache, FuncId};
use redis_func_cache_policies::{
    FifoPolicy, LfuPolicy, LruPolicy, MruPolicy, RrPolicy, S3FifoPolicy, SievePolicy, TLruPolicy,
};
use redis_func_cache_redis::RedisStore;

static F: FuncId = FuncId::new("read_only_hits", "f", 1);

/// Every command a cache script may write with.
const WRITES: [&str; 12] = [
    "zadd", "zincrby", "zrem", "zpopmin", "zpopmax", "hset", "hdel", "sadd", "srem", "spop",
    "pexpire", "del",
];

fn write_calls(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            if !WRITES.contains(&name) {
                return None;
            }
            let calls = rest.strip_prefix("calls=")?.split(',').next()?;
            calls.parse::<u64>().ok()
        })
        .sum()
}

/// Writes the server counted during 200 hits, after `warm_hits` hits per
/// entry (which may write) have been made.
fn writes_during_hits(policy: impl EvictionPolicy, warm_hits: usize) -> u64 {
    let server = common::Server::start();
    let mut con = server.connection();
    let cache = FuncCache::builder("ro")
        .policy(policy)
        .maxsize(100)
        .store(RedisStore::open(server.url.as_str()).unwrap())
        .build()
        .unwrap();
    for k in 0..20u32 {
        let _: u32 = cache.call(&F, &k, || k).unwrap();
    }
    for _ in 0..warm_hits {
        for k in 0..20u32 {
            let _: u32 = cache.call(&F, &k, || unreachable!()).unwrap();
        }
    }
    let before = write_calls(&mut con);
    for round in 0..10 {
        for k in 0..20u32 {
            let v: u32 = cache
                .call(&F, &k, || unreachable!("round {round}"))
                .unwrap();
            assert_eq!(v, k);
        }
    }
    assert_eq!(cache.stats().hits as usize, 200 + 20 * warm_hits);
    write_calls(&mut con) - before
}

#[test]
fn fifo_and_rr_hits_write_nothing() {
    assert_eq!(writes_during_hits(FifoPolicy, 0), 0, "fifo");
    assert_eq!(writes_during_hits(RrPolicy, 0), 0, "rr");
}

#[test]
fn sieve_hits_write_only_the_first_time() {
    assert_eq!(writes_during_hits(SievePolicy, 1), 0);
    assert!(
        writes_during_hits(SievePolicy, 0) >= 20,
        "a first hit sets the bit"
    );
}

#[test]
fn s3fifo_hits_write_only_until_the_counter_saturates() {
    assert_eq!(writes_during_hits(S3FifoPolicy, 3), 0);
    assert!(
        writes_during_hits(S3FifoPolicy, 2) >= 20,
        "the third hit counts"
    );
}

/// The policies whose hit rule is a new score still write on every hit: the
/// counter above can see a write.
#[test]
fn lru_mru_lfu_and_tlru_hits_still_write() {
    assert!(writes_during_hits(LruPolicy, 1) >= 200, "lru");
    assert!(writes_during_hits(MruPolicy, 1) >= 200, "mru");
    assert!(writes_during_hits(LfuPolicy, 1) >= 200, "lfu");
    assert!(writes_during_hits(TLruPolicy, 1) >= 200, "tlru");
}
