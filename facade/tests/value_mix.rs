//! SPEC §7: whatever mix of serializers, per-entry TTL settings and format
//! versions writes to one pair, a reader gets the right value or a miss
//! (counted and overwritten), never a wrong value. A matrix on the memory
//! store and on Redis; and the size limit on write.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis_func_cache::serializer::{Bincode, Json, MessagePack};
use redis_func_cache::store::{Expiry, PutRequest};
use redis_func_cache::{
    DynStore, EvictionPolicy, FuncCache, FuncId, LruPolicy, MemoryStore, RedisStore, Serializer,
};
use redis_func_cache_redis::test_server::Server;

static F: FuncId = FuncId::with_version("value_mix", "f", "1");
const LIMIT: usize = 1 << 20;

/// What a writer or reader is configured with.
#[derive(Debug, Clone, Copy)]
struct Setup {
    serializer: u8,
    entry_ttl: bool,
}

fn cache<Z: Serializer>(
    store: &Arc<dyn DynStore>,
    z: Z,
    entry_ttl: bool,
) -> FuncCache<Arc<dyn DynStore>, Z> {
    let builder = FuncCache::builder("mix")
        .policy(LruPolicy)
        .store(store.clone())
        .serializer(z);
    let builder = if entry_ttl {
        builder.entry_ttl(Duration::from_secs(3600))
    } else {
        builder
    };
    builder.build().unwrap()
}

/// Calls f(k) -> value through a cache of `setup`; returns the value and
/// whether it was a hit, and the decode failures counted.
fn call(
    store: &Arc<dyn DynStore>,
    setup: Setup,
    k: u32,
    value: &(u64, String),
) -> ((u64, String), bool, u64) {
    fn go<Z: Serializer>(
        c: FuncCache<Arc<dyn DynStore>, Z>,
        k: u32,
        value: &(u64, String),
    ) -> ((u64, String), bool, u64) {
        let mut ran = false;
        let got: (u64, String) = c
            .call(&F, &k, || {
                ran = true;
                value.clone()
            })
            .unwrap();
        (got, !ran, c.stats().decode_failures)
    }
    match setup.serializer {
        1 => go(cache(store, Bincode::<LIMIT>, setup.entry_ttl), k, value),
        2 => go(cache(store, Json::<LIMIT>, setup.entry_ttl), k, value),
        _ => go(
            cache(store, MessagePack::<LIMIT>, setup.entry_ttl),
            k,
            value,
        ),
    }
}

fn check_the_matrix(store: Arc<dyn DynStore>) {
    let setups: Vec<Setup> = [1, 2, 3]
        .into_iter()
        .flat_map(|serializer| {
            [false, true].map(|entry_ttl| Setup {
                serializer,
                entry_ttl,
            })
        })
        .collect();
    let mut k = 0u32;
    for writer in &setups {
        for reader in &setups {
            k += 1;
            // Values whose bytes other decoders could take for something
            // else: a JSON number, a 33-byte string.
            let truth = (20u64, "x".repeat(33));
            let (written, hit, _) = call(&store, *writer, k, &truth);
            assert_eq!((written, hit), (truth.clone(), false));
            let (read, hit, failures) = call(&store, *reader, k, &truth);
            assert_eq!(
                read, truth,
                "writer {writer:?}, reader {reader:?}: a wrong value"
            );
            let same_serializer = writer.serializer == reader.serializer;
            let deadline_ok = writer.entry_ttl || !reader.entry_ttl;
            assert_eq!(
                hit,
                same_serializer && deadline_ok,
                "writer {writer:?}, reader {reader:?}"
            );
            // A value without the deadline this reader wants is a plain
            // miss, before any decoding.
            assert_eq!(
                failures,
                u64::from(!same_serializer && deadline_ok),
                "writer {writer:?}, reader {reader:?}: counted"
            );
            // Overwritten by the reader: its own next read hits.
            let (_, hit, _) = call(&store, *reader, k, &truth);
            assert!(hit, "writer {writer:?}, reader {reader:?}: overwritten");
        }
    }
}

/// Values as other releases wrote them: no header (with and without the
/// old deadline digits in front), and a later format version.
fn check_foreign_versions(store: Arc<dyn DynStore>) {
    let reader = cache(&store, Bincode::<LIMIT>, false);
    let pair = reader.key_pair(&F);
    let payload =
        bincode::serde::encode_to_vec((20u64, "x".repeat(33)), bincode::config::standard())
            .unwrap();
    let mut version_two = vec![0xFF, (2 << 5) | 1];
    version_two.extend_from_slice(&payload);
    let mut old_deadline = b"9999999999999999".to_vec();
    old_deadline.extend_from_slice(&payload);
    for (i, raw) in [payload.clone(), old_deadline, version_two]
        .into_iter()
        .enumerate()
    {
        let k = 1000 + i as u32;
        let member = F.invocation_hash(&k).unwrap();
        let rules = EvictionPolicy::rules(&LruPolicy);
        store
            .put(&PutRequest::new(
                &pair,
                member,
                Bytes::from(raw),
                &rules,
                100,
                Expiry {
                    pair_ttl: Duration::from_secs(60),
                    slide: true,
                    entry_ttl: None,
                },
            ))
            .unwrap();
        let before = reader.stats().decode_failures;
        let mut ran = false;
        let got: (u64, String) = reader
            .call(&F, &k, || {
                ran = true;
                (7, "recomputed".into())
            })
            .unwrap();
        assert!(ran, "value {i}: a miss, not a guess");
        assert_eq!(got, (7, "recomputed".into()));
        assert_eq!(
            reader.stats().decode_failures,
            before + 1,
            "value {i}: counted"
        );
        let again: (u64, String) = reader.call(&F, &k, || unreachable!("overwritten")).unwrap();
        assert_eq!(again, (7, "recomputed".into()));
    }
}

#[test]
fn every_mix_of_writers_and_readers_on_memory() {
    check_the_matrix(Arc::new(MemoryStore::new()));
    check_foreign_versions(Arc::new(MemoryStore::new()));
}

#[test]
fn every_mix_of_writers_and_readers_on_redis() {
    let server = Server::start();
    let store: Arc<dyn DynStore> = Arc::new(RedisStore::open(server.url.as_str()).unwrap());
    check_the_matrix(store.clone());
    check_foreign_versions(store);
}

#[test]
fn a_result_over_the_size_limit_is_returned_not_stored() {
    let c = FuncCache::builder("big")
        .store(MemoryStore::new())
        .serializer(Bincode::<LIMIT>)
        .build()
        .unwrap();
    let big: Vec<u8> = c.call(&F, &1u32, || vec![7u8; LIMIT + 1]).unwrap();
    assert_eq!(big.len(), LIMIT + 1);
    assert_eq!(c.len(&F).unwrap(), 0, "not stored");
    let stats = c.stats();
    assert_eq!((stats.too_large, stats.writes), (1, 0));
    let small: Vec<u8> = c.call(&F, &2u32, || vec![7u8; 10]).unwrap();
    assert_eq!(small.len(), 10);
    assert_eq!(c.len(&F).unwrap(), 1);
}
