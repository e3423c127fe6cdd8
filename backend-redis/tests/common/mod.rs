//! The shared test server (feature `test-server`).
#![allow(dead_code, unused_imports)]

pub use redis_func_cache_redis::test_server::{Monitor, Server};
