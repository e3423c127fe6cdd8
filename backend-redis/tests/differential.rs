//! The memory store and a standalone Redis on the same operation sequences,
//! through every layout (see `common/differential.rs`).

mod common;

use common::differential::{Check, run};
use redis_func_cache_core::policy::Layout;
use redis_func_cache_policies::rules;
use redis_func_cache_redis::RedisStore;

fn check(rules: redis_func_cache_core::PolicyRules, check: Check) {
    let server = common::Server::start();
    let store = RedisStore::open(server.url.as_str()).unwrap();
    run(&store, rules, check, &Layout::ALL, 48);
}

#[test]
fn lru_identical() {
    check(rules::LRU, Check::Identical);
}

#[test]
fn mru_identical() {
    check(rules::MRU, Check::Identical);
}

#[test]
fn fifo_identical() {
    check(rules::FIFO, Check::Identical);
}

#[test]
fn lfu_identical() {
    check(rules::LFU, Check::Identical);
}

#[test]
fn s3fifo_identical() {
    check(rules::S3FIFO, Check::Identical);
}

#[test]
fn sieve_identical() {
    check(rules::SIEVE, Check::Identical);
}

#[test]
fn rr_invariants() {
    check(rules::RR, Check::Invariants);
}

#[test]
fn tlru_invariants() {
    check(rules::TLRU, Check::Invariants);
}
