//! Leases (SPEC §9), kept beside the pairs: which caller may compute a
//! missing entry, and until when.
//!
//! A read that may take a lease and the put that releases one both take
//! this table's lock, and the read looks up the entry under it, so a lease
//! is granted only on a miss that no put has filled since, as the Redis get
//! script grants it in one atomic step. Only caches configured with a lease
//! come here; every other call never touches this lock.

use std::collections::HashMap;
use std::time::Duration;

use redis_func_cache_core::store::{Leased, Lookup};
use redis_func_cache_core::{Error, InvocationHash, KeyPair};

use crate::sync::Mutex;

/// Live leases by pair (index-key name) and member, with their ends in
/// clock microseconds.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    held: Mutex<HashMap<(Box<str>, InvocationHash), u64>>,
}

impl Leases {
    /// Reads with `read`; on a miss grants `member`'s lease until
    /// `now + lease`, unless a live one is held.
    pub(crate) fn get_or_lease(
        &self,
        pair: &KeyPair,
        member: InvocationHash,
        lease: Duration,
        now: u64,
        read: impl FnOnce() -> Result<Lookup, Error>,
    ) -> Result<Leased, Error> {
        let mut held = self.held.lock();
        let expired = match read()? {
            Lookup::Hit(value) => return Ok(Leased::Hit(value)),
            Lookup::Miss => false,
            Lookup::Expired => true,
        };
        let key = (Box::from(pair.index()), member);
        let leased = match held.get(&key) {
            Some(&end) if end > now => Leased::Held(Duration::from_micros(end - now)),
            _ => {
                // Leases whose holders never put (they failed or died) end
                // here.
                held.retain(|_, end| *end > now);
                let micros = u64::try_from(lease.as_micros()).unwrap_or(u64::MAX);
                held.insert(key, now.saturating_add(micros));
                Leased::Granted
            }
        };
        Ok(if expired {
            Leased::Expired(Box::new(leased))
        } else {
            leased
        })
    }

    /// Ends `member`'s lease, if any (a put of its value).
    pub(crate) fn release(&self, pair: &KeyPair, member: InvocationHash) {
        let mut held = self.held.lock();
        if !held.is_empty() {
            held.remove(&(Box::from(pair.index()), member));
        }
    }

    /// How many leases are live at `now` (for tests).
    #[cfg(test)]
    pub(crate) fn live(&self, now: u64) -> usize {
        self.held.lock().values().filter(|&&end| end > now).count()
    }

    /// How many leases are kept, live or not (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.held.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use redis_func_cache_core::store::StoredValue;

    use super::*;

    fn pair() -> KeyPair {
        KeyPair::from_names("c:lru:0".into(), "c:lru:1".into())
    }

    #[test]
    fn the_first_miss_is_granted_the_next_told_how_long_to_wait() {
        let (leases, m) = (Leases::default(), InvocationHash::from_bytes([1; 16]));
        let lease = Duration::from_millis(100);
        let miss = || Ok(Lookup::Miss);
        assert_eq!(
            leases.get_or_lease(&pair(), m, lease, 0, miss).unwrap(),
            Leased::Granted
        );
        assert_eq!(
            leases
                .get_or_lease(&pair(), m, lease, 40_000, miss)
                .unwrap(),
            Leased::Held(Duration::from_millis(60))
        );
        // Expired: the next caller takes it over.
        assert_eq!(
            leases
                .get_or_lease(&pair(), m, lease, 100_000, miss)
                .unwrap(),
            Leased::Granted
        );
        leases.release(&pair(), m);
        assert_eq!(leases.live(100_001), 0);
    }

    /// A lease whose holder never put is dropped by the first lease taken
    /// at or after its end, so dead holders' leases do not pile up.
    #[test]
    fn ended_leases_are_dropped_when_another_is_taken() {
        let leases = Leases::default();
        let (dead, next) = (
            InvocationHash::from_bytes([3; 16]),
            InvocationHash::from_bytes([4; 16]),
        );
        let lease = Duration::from_millis(100);
        let miss = || Ok(Lookup::Miss);
        assert_eq!(
            leases.get_or_lease(&pair(), dead, lease, 0, miss).unwrap(),
            Leased::Granted
        );
        assert_eq!(
            leases
                .get_or_lease(&pair(), next, lease, 99_999, miss)
                .unwrap(),
            Leased::Granted
        );
        assert_eq!(leases.kept(), 2, "the first lease is still live");
        leases.release(&pair(), next);
        // The first lease ends at 100,000 µs.
        assert_eq!(
            leases
                .get_or_lease(&pair(), next, lease, 100_000, miss)
                .unwrap(),
            Leased::Granted
        );
        assert_eq!(leases.kept(), 1, "only the new lease is kept");
    }

    #[test]
    fn a_hit_takes_no_lease() {
        let (leases, m) = (Leases::default(), InvocationHash::from_bytes([2; 16]));
        let hit = || Ok(Lookup::Hit(StoredValue::from(&b"v"[..])));
        let got = leases.get_or_lease(&pair(), m, Duration::from_secs(1), 0, hit);
        assert!(matches!(got, Ok(Leased::Hit(_))));
        assert_eq!(leases.live(0), 0);
    }
}
