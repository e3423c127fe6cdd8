//! Core of `redis-func-cache`: the [`Store`] and [`EvictionPolicy`]
//! abstractions, function identities and the stable invocation hash, key
//! names, serializers, modes, statistics, and the [`FuncCache`] front that
//! ties them together.
//!
//! Users normally depend on the `redis-func-cache` facade crate, which
//! re-exports all of this with the policies, the stores and `#[cached]`.
#![warn(missing_docs)]

pub mod breaker;
mod cache;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod envelope;
mod error;
mod identity;
mod keys;
pub mod mode;
pub mod policy;
pub mod serializer;
pub mod stats;
pub mod store;
pub mod telemetry;
mod value;

pub use cache::{
    CallKey, DEFAULT_FLEET_INTERVAL, DEFAULT_MAXSIZE, DEFAULT_TTL, Entry, FuncCache,
    FuncCacheBuilder, NoStore, OnStoreError, RefreshAhead, RemovalCause,
};
pub use error::{BoxError, Error};
pub use identity::{FastNameHasher, FuncId, InvocationHash, InvocationHasher, Xxh3NameHasher};
pub use keys::{DEFAULT_PREFIX, KeyPair, StoreId};
pub use mode::{Mode, WithMode};
pub use policy::{EvictionPolicy, Layout, Policy, PolicyRules};
pub use serializer::{Bincode, Serializer};
pub use stats::StatsSnapshot;
pub use store::{DynStore, Store};
