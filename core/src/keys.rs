//! Key names (SPEC §4). Both stores use exactly these names, so a test can
//! compare a memory pair with a Redis pair by name.

use crate::identity::FuncId;
use crate::policy::Layout;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "redis_func_cache:";

/// The two keys that hold one cache (or one function's share of it): the
/// index (`…:0`, a sorted set or set) and the value map (`…:1`, a hash).
///
/// ```
/// use redis_func_cache_core::{FuncId, KeyPair, Layout};
/// static F: FuncId = FuncId::new("app::math", "fib", 0xab);
/// let p = KeyPair::new("redis_func_cache:", "c", "lru", Layout::ClusterMultiple, &F);
/// assert_eq!(p.index(), "redis_func_cache:c:lru-cm:app::math:fib#{00000000000000ab}:0");
/// assert_eq!(p.values(), "redis_func_cache:c:lru-cm:app::math:fib#{00000000000000ab}:1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPair {
    index: String,
    values: String,
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
        KeyPair {
            index: format!("{base}:0"),
            values: format!("{base}:1"),
        }
    }

    /// A pair from its two key names as found in a store (by `SCAN`).
    pub fn from_names(index: String, values: String) -> Self {
        KeyPair { index, values }
    }

    /// The index key (`…:0`).
    pub fn index(&self) -> &str {
        &self.index
    }

    /// The value-map key (`…:1`).
    pub fn values(&self) -> &str {
        &self.values
    }
}
