//! The Lua scripts, constant texts loaded once per server.

/// Read a member and apply the hit rule.
pub(crate) const GET: &str = include_str!("lua/get.lua");
/// Evict, insert or replace, set TTLs.
pub(crate) const PUT: &str = include_str!("lua/put.lua");
/// Remove a pair.
pub(crate) const PURGE: &str = include_str!("lua/purge.lua");
