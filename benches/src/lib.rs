//! Tools to measure `redis-func-cache`: trace loading and replay through the
//! public API (the `replay` binary), side-by-side comparisons with baselines
//! (the `compare` binary) and hit ratios against Bélády's optimum (the
//! `hitratio` binary).
#![warn(missing_docs)]

pub mod belady;
pub mod compare;
pub mod hitratio;
pub mod policycheck;
pub mod replay;
pub mod trace;
