//! The Redis store on a real Redis Cluster (3 masters, one replica each):
//! the conformance suite, the differential checks in the cluster layouts,
//! both keys of a pair in one slot, spread across slots per function, and a
//! builder that refuses non-cluster layouts.

mod common;

use common::differential::{Check, run};
use common::{ClusterServers, RealTime};
use redis_func_cache_core::conformance;
use redis_func_cache_core::policy::Layout;
use redis_func_cache_core::{Error, FuncCache, FuncId};
use redis_func_cache_policies::{
    LruClusterMultiplePolicy, LruClusterPolicy, LruMultiplePolicy, LruPolicy, rules,
};
use redis_func_cache_redis::RedisClusterStore;

fn open(cluster: &ClusterServers) -> RedisClusterStore {
    RedisClusterStore::open_cluster(cluster.urls.iter().map(String::as_str)).unwrap()
}

fn slot(con: &mut redis::Connection, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(con)
        .unwrap()
}

// One cluster for the whole file: starting one takes seconds.
#[test]
fn the_cluster_store_behaves_as_the_memory_store() {
    let cluster = ClusterServers::start();
    let store = open(&cluster);

    // The shared suite, sync and async.
    let harness = RealTime(store.clone());
    conformance::run_all(&harness);
    let rt = common::runtime();
    rt.block_on(conformance::run_all_async(&harness));

    // Identical to the memory store in the cluster layouts.
    let layouts = [Layout::Cluster, Layout::ClusterMultiple];
    for rules in rules::DETERMINISTIC {
        run(&store, rules, Check::Identical, &layouts, 16);
    }
    for rules in [rules::RR, rules::TLRU] {
        run(&store, rules, Check::Invariants, &layouts, 16);
    }
    functions_on_every_master(&cluster, store);
}

#[test]
fn pairs_sit_in_one_slot_and_functions_spread() {
    let cluster = ClusterServers::start();
    let store = open(&cluster);
    let mut con = cluster.node(0);

    // Both keys of a pair share a slot in both cluster layouts.
    let f = FuncId::new("app", "f", 1);
    let single = FuncCache::builder("spread")
        .policy(LruClusterPolicy)
        .store(store.clone())
        .build()
        .unwrap();
    let pair = single.key_pair(&f);
    assert_eq!(slot(&mut con, pair.index()), slot(&mut con, pair.values()));
    let _: u32 = single.call(&f, &1u32, || 1).unwrap();

    // In the cluster-multiple layout each function has its own slot.
    let multi = FuncCache::builder("spread")
        .policy(LruClusterMultiplePolicy)
        .store(store.clone())
        .build()
        .unwrap();
    let funcs: Vec<FuncId> = (0..16u64).map(|i| FuncId::new("app", "f", i)).collect();
    let mut slots = std::collections::BTreeSet::new();
    for func in &funcs {
        let pair = multi.key_pair(func);
        let s = slot(&mut con, pair.index());
        assert_eq!(s, slot(&mut con, pair.values()), "{}", pair.index());
        slots.insert(s);
        let v: u32 = multi.call(func, &7u32, || 7).unwrap();
        assert_eq!(v, 7);
    }
    assert!(slots.len() >= 14, "16 functions on {} slots", slots.len());
    // Purging the cache finds its pairs on every master.
    assert_eq!(multi.purge().unwrap(), 16);
    assert_eq!(
        single.len(&f).unwrap(),
        1,
        "another layout's pair is untouched"
    );
}

#[test]
fn a_cluster_store_refuses_layouts_that_split_a_pair() {
    let cluster = ClusterServers::start();
    let store = open(&cluster);
    for (built, right) in [
        (
            FuncCache::builder("c")
                .policy(LruPolicy)
                .store(store.clone())
                .build(),
            "LruClusterPolicy",
        ),
        (
            FuncCache::builder("c")
                .policy(LruMultiplePolicy)
                .store(store.clone())
                .build(),
            "LruClusterMultiplePolicy",
        ),
    ] {
        let err = built.unwrap_err();
        assert!(matches!(err, Error::Config { .. }));
        assert!(err.to_string().contains(right), "{err}");
    }
}

#[test]
fn the_fred_cluster_store_behaves_as_the_memory_store() {
    let cluster = ClusterServers::start();
    let store = common::connected_fred(&cluster.fred_url());
    let harness = RealTime(store.clone());
    conformance::run_all(&harness);
    let rt = common::runtime();
    rt.block_on(conformance::run_all_async(&harness));
    let layouts = [Layout::Cluster, Layout::ClusterMultiple];
    for rules in rules::DETERMINISTIC {
        run(&store, rules, Check::Identical, &layouts, 16);
    }
    for rules in [rules::RR, rules::TLRU] {
        run(&store, rules, Check::Invariants, &layouts, 16);
    }
    functions_on_every_master(&cluster, store.clone());
    // A fred cluster store refuses a layout that splits a pair too.
    let err = FuncCache::builder("c")
        .policy(LruPolicy)
        .store(store)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("LruClusterPolicy"), "{err}");
}

/// Connections to the cluster's masters.
fn masters(cluster: &ClusterServers) -> Vec<redis::Connection> {
    (0..cluster.len())
        .map(|i| cluster.node(i))
        .filter_map(|mut con| {
            let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con).unwrap();
            let master = matches!(&role[0], redis::Value::BulkString(r) if r == b"master");
            master.then_some(con)
        })
        .collect()
}

/// Every master ran the scripts as functions (`FCALL`), and none refused
/// one; after `FUNCTION FLUSH` on every master, calls on pairs spread over
/// them load the functions again, with no error to a caller.
fn functions_on_every_master<S>(cluster: &ClusterServers, store: S)
where
    S: redis_func_cache_core::Store + Clone + 'static,
{
    let mut masters = masters(cluster);
    assert_eq!(masters.len(), 3);
    for con in &mut masters {
        let fcall = common::command_stats(con, "fcall");
        assert!(fcall.calls > 0, "{fcall:?}");
        assert_eq!(fcall.rejected_calls, 0, "{fcall:?}");
        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(con).unwrap();
        let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(con).unwrap();
    }
    let cache = FuncCache::builder("reload")
        .policy(LruClusterMultiplePolicy)
        .on_store_error(redis_func_cache_core::OnStoreError::Propagate)
        .fleet_stats_interval(None)
        .store(store)
        .build()
        .unwrap();
    let funcs: Vec<FuncId> = (0..16u64).map(|i| FuncId::new("app", "r", i)).collect();
    for _ in 0..3 {
        for func in &funcs {
            let v: u32 = cache.call(func, &7u32, || 7).unwrap();
            assert_eq!(v, 7);
        }
    }
    for con in &mut masters {
        let fcall = common::command_stats(con, "fcall");
        let load = common::command_stats(con, "function|load");
        assert!(load.calls > 0, "loaded again: {load:?}");
        assert!(fcall.calls > fcall.failed_calls, "{fcall:?}");
        let libraries: Vec<redis::Value> = redis::cmd("FUNCTION").arg("LIST").query(con).unwrap();
        assert!(!libraries.is_empty());
    }
    assert_eq!(cache.stats().backend_errors, 0);
    cache.purge().unwrap();
}
