//! The Redis store of `redis-func-cache`.
//!
//! Not implemented yet: this crate only reserves its place in the workspace
//! so that the facade's `redis` feature and the compile-time backend choice
//! can be built and tested now. It exports nothing a user can call.
#![warn(missing_docs)]

/// The key words the Redis scripts will carry out: the same descriptions the
/// memory store uses, re-exported so the crate's dependency is real.
pub use redis_func_cache_core::policy::PolicyRules;
