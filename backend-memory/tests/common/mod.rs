//! Set-up shared by the memory store's integration tests.

use std::time::Duration;

use redis_func_cache_core::store::Expiry;
use redis_func_cache_core::{FuncId, InvocationHash};

/// A long, sliding pair TTL and no entry TTL: nothing expires in a test.
pub const EXPIRY: Expiry = Expiry {
    pair_ttl: Duration::from_secs(600),
    slide: true,
    entry_ttl: None,
};

/// The member of `f(k)`.
pub fn member(f: &FuncId, k: u64) -> InvocationHash {
    f.invocation_hash(&k).expect("u64 encodes")
}
