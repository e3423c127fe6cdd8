//! Telling the program what this process's operations removed, as moka's
//! `RemovalCause` does: a listener set on the builder hears, after each put
//! that evicted, each read that removed an expired entry, and each purge,
//! how many entries went and why.
//!
//! Only what this process's own operations report is heard: entries another
//! process evicted and entries Redis expired by itself (a pair's TTL) are
//! not.

use std::sync::Arc;

/// Why entries left the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// A put of a new entry found the pair full; the policy chose them.
    Size,
    /// Their per-entry TTL had run out: a read found one and removed it
    /// (a miss, SPEC §6), or a put of a new entry found the pair full and
    /// the policy chose them.
    Expired,
    /// A purge of the cache or of one function's entries.
    Purged,
    /// One call's entry was invalidated through the entry API.
    Invalidated,
}

/// A listener for removals: see
/// [`FuncCacheBuilder::on_eviction`](crate::FuncCacheBuilder::on_eviction).
#[derive(Clone)]
pub(crate) struct EvictionListener(Arc<dyn Fn(u64, RemovalCause) + Send + Sync>);

impl EvictionListener {
    pub(crate) fn new(listener: impl Fn(u64, RemovalCause) + Send + Sync + 'static) -> Self {
        EvictionListener(Arc::new(listener))
    }

    /// Tells the listener, if anything was removed.
    pub(crate) fn tell(&self, count: u64, cause: RemovalCause) {
        if count > 0 {
            (self.0)(count, cause);
        }
    }
}

impl std::fmt::Debug for EvictionListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvictionListener")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// The listener hears each removal with its count and cause, and
    /// nothing for a put that removed nothing.
    #[test]
    fn the_listener_hears_removals_and_only_removals() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&heard);
        let listener = EvictionListener::new(move |count, cause| {
            log.lock().expect("not poisoned").push((count, cause));
        });
        listener.tell(0, RemovalCause::Size);
        listener.tell(1, RemovalCause::Expired);
        listener.tell(3, RemovalCause::Size);
        let heard = heard.lock().expect("not poisoned").clone();
        assert_eq!(heard, [(1, RemovalCause::Expired), (3, RemovalCause::Size)]);
        assert_eq!(format!("{listener:?}"), "EvictionListener");
    }
}
