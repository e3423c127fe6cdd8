//! The shared test servers (feature `test-server`) and the differential
//! checks.
#![allow(dead_code, unused_imports)]

pub mod differential;

pub use redis_func_cache_redis::test_server::{ClusterServers, Monitor, Server};
