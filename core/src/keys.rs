//! Key names (SPEC §4). Both stores use exactly these names, so a test can
//! compare a memory pair with a Redis pair by name.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::identity::FuncId;
use crate::policy::Layout;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "redis_func_cache:";

/// The two keys that hold one cache (or one function's share of it): the
/// index (`…:0`, a sorted set or set) and the value map (`…:1`, a hash).
///
/// ```
/// use redis_func_cache::{FuncId, KeyPair, Layout};
/// static F: FuncId = FuncId::new("app::math", "fib", 0xab);
/// let p = KeyPair::new("redis_func_cache:", "c", "lru", Layout::ClusterMultiple, &F);
/// assert_eq!(p.index(), "redis_func_cache:c:lru-cm:app::math:fib#{00000000000000ab}:0");
/// assert_eq!(p.values(), "redis_func_cache:c:lru-cm:app::math:fib#{00000000000000ab}:1");
/// ```
///
/// A pair also carries the handle of the first store that served it (see
/// [`KeyPair::handle`]); equality, hashing and `Debug` look at the names
/// only.
#[derive(Clone)]
pub struct KeyPair {
    index: String,
    values: String,
    /// What the first store to serve this pair resolved its names to.
    handle: OnceLock<(StoreId, Arc<dyn Any + Send + Sync>)>,
}

/// One store instance (shared by its clones), so that a handle it left on
/// a [`KeyPair`] is never taken by another store. For store authors; cache
/// users never need it.
///
/// ```
/// use redis_func_cache_core::StoreId;
/// assert_ne!(StoreId::unique(), StoreId::unique());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreId(u64);

impl StoreId {
    /// An id no other call in this process returns.
    pub fn unique() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl KeyPair {
    /// The pair a cache of this prefix, name, policy word and layout uses for
    /// `func` (ignored by the single-pair layouts).
    pub fn new(prefix: &str, name: &str, word: &str, layout: Layout, func: &FuncId) -> Self {
        let suffix = layout.word_suffix();
        let base = match layout {
            Layout::Single => format!("{prefix}{name}:{word}"),
            Layout::Cluster => format!("{prefix}{{{name}:{word}{suffix}}}"),
            Layout::Multiple => format!(
                "{prefix}{name}:{word}{suffix}:{}:{}#{}",
                func.module(),
                func.name(),
                func.fingerprint_text()
            ),
            Layout::ClusterMultiple => format!(
                "{prefix}{name}:{word}{suffix}:{}:{}#{{{}}}",
                func.module(),
                func.name(),
                func.fingerprint_text()
            ),
        };
        KeyPair::from_names(format!("{base}:0"), format!("{base}:1"))
    }

    /// A pair from its two key names as found in a store (by `SCAN`).
    pub fn from_names(index: String, values: String) -> Self {
        KeyPair {
            index,
            values,
            handle: OnceLock::new(),
        }
    }

    /// The index key (`…:0`).
    pub fn index(&self) -> &str {
        &self.index
    }

    /// The value-map key (`…:1`).
    pub fn values(&self) -> &str {
        &self.values
    }

    /// The key of the pair's leases (`…:2`, SPEC §9): a sorted set of
    /// members scored by when their lease ends, in the pair's slot. Only
    /// caches that take leases create it; it expires on its own once no
    /// lease has been granted for a lease time.
    ///
    /// ```
    /// use redis_func_cache::KeyPair;
    /// let pair = KeyPair::from_names("c:lru:0".into(), "c:lru:1".into());
    /// assert_eq!(pair.leases(), "c:lru:2");
    /// ```
    pub fn leases(&self) -> String {
        match self.values.strip_suffix('1') {
            Some(base) => format!("{base}2"),
            None => format!("{}:leases", self.values),
        }
    }

    /// The handle `store` left on this pair with [`KeyPair::keep_handle`],
    /// if it did and it is a `T`.
    ///
    /// A store that finds its state for a pair by name (a map lookup, the
    /// hash of a long key name) keeps what it found here, so every later
    /// call through this pair skips the lookup. A handle must stay valid as
    /// long as the store lives: a store that can forget a pair must not
    /// leave handles.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use redis_func_cache_core::StoreId;
    /// use redis_func_cache::KeyPair;
    /// let pair = KeyPair::from_names("c:0".into(), "c:1".into());
    /// let (mine, other) = (StoreId::unique(), StoreId::unique());
    /// assert_eq!(pair.handle::<u32>(mine), None);
    /// pair.keep_handle(mine, Arc::new(7u32));
    /// assert_eq!(pair.handle::<u32>(mine), Some(&7));
    /// assert_eq!(pair.handle::<u32>(other), None, "another store's handle");
    /// assert_eq!(pair.handle::<u64>(mine), None, "another type");
    /// pair.keep_handle(other, Arc::new(8u32));
    /// assert_eq!(pair.handle::<u32>(other), None, "the first store keeps the slot");
    /// ```
    pub fn handle<T: Any + Send + Sync>(&self, store: StoreId) -> Option<&T> {
        match self.handle.get() {
            Some((owner, handle)) if *owner == store => handle.downcast_ref(),
            _ => None,
        }
    }

    /// Leaves `store`'s handle on this pair, unless a store already left
    /// one (a pair is normally served by one store all its life).
    ///
    /// The pair and its clones keep the handle alive: a memory store's
    /// entries for this pair outlive the store until they are dropped.
    pub fn keep_handle<T: Any + Send + Sync>(&self, store: StoreId, handle: Arc<T>) {
        // Losing the race to another store is fine: that store keeps the slot.
        let _ = self.handle.set((store, handle));
    }
}

impl PartialEq for KeyPair {
    fn eq(&self, other: &Self) -> bool {
        (&self.index, &self.values) == (&other.index, &other.values)
    }
}

impl Eq for KeyPair {}

impl Hash for KeyPair {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state);
        self.values.hash(state);
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("index", &self.index)
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, RandomState};

    static F: FuncId = FuncId::new("m", "f", 1);
    static G: FuncId = FuncId::new("m", "g", 1);

    #[test]
    fn pairs_are_equal_and_hash_alike_by_their_key_names() {
        let one = KeyPair::new("p:", "c", "lru", Layout::Multiple, &F);
        let same = KeyPair::new("p:", "c", "lru", Layout::Multiple, &F);
        let other = KeyPair::new("p:", "c", "lru", Layout::Multiple, &G);
        assert_eq!(one, same);
        assert_ne!(one, other);
        // (A set of pairs would do, but clippy frowns on the handle's
        // interior mutability in a key; the hash reads only the names.)
        let hashes = RandomState::new();
        assert_eq!(
            hashes.hash_one(&one),
            hashes.hash_one(&same),
            "equal pairs hash alike"
        );
        assert_ne!(hashes.hash_one(&one), hashes.hash_one(&other));
        let debug = format!("{one:?}");
        assert!(
            debug.contains(one.index()) && debug.contains(one.values()),
            "{debug}"
        );
    }
}
