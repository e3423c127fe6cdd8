//! Tools to measure `redis-func-cache`: trace loading and replay through the
//! public API (the `replay` binary).
#![warn(missing_docs)]

pub mod replay;
pub mod trace;
