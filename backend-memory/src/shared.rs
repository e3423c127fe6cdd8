//! One pair shared by threads: hits read under a shared lock, and
//! everything else runs under the exclusive one.
//!
//! Most hits change their member's score (an LRU hit moves it to the top),
//! so under one mutex two threads hitting the same cache would take turns
//! for every call. Here a hit only reads: it draws its new score from an
//! atomic counter (`max + 1` stays exact, since the counter *is* the
//! highest score) and leaves the change in a buffer of its thread's own.
//! Every exclusive operation (a put, an eviction, a count, a purge) first
//! applies all buffered changes, so each one sees the index exactly as the
//! same calls made one at a time would have left it.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{OnceLock, PoisonError};

use crossbeam_utils::CachePadded;
use redis_func_cache_core::Error;
use redis_func_cache_core::policy::IndexKind;
use redis_func_cache_core::store::{GetRequest, Lookup};

use crate::pair::{PairState, SharedGet, Touch};
use crate::sync::{Mutex, RwLock, RwLockWriteGuard, thread_local};

/// Buffered changes a hit tries to apply itself, if nobody holds the lock
/// (a few under shuttle, so its tests reach every path).
const APPLY_AT: usize = if cfg!(shuttle) { 2 } else { 512 };
/// Buffered changes after which a hit waits for the lock to apply them, so
/// a buffer never grows without bound.
const APPLY_BY: usize = if cfg!(shuttle) { 4 } else { 8192 };

/// A buffer of score changes, used (almost always) by one thread.
type Buffer = CachePadded<Mutex<Vec<Touch>>>;

/// A pair and the score changes of hits not yet applied to it.
#[derive(Debug)]
pub(crate) struct SharedPair {
    /// Readers lock one shard of their own, so hits from several threads
    /// write no shared line to take the lock; writers lock every shard.
    state: RwLock<PairState>,
    buffers: Box<[Buffer]>,
}

/// One buffer per core: enough that threads rarely share one.
fn buffer_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    if cfg!(shuttle) {
        // Two, so shuttle's tests merge buffers of several threads.
        return 2;
    }
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .clamp(1, 64)
    })
}

/// The number this thread picks its buffer by: threads take numbers in turn.
fn thread_number() -> usize {
    // A plain std atomic even under shuttle: numbering threads synchronises
    // nothing, and shuttle's own atomics cannot be used while it sets up a
    // thread local.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Relaxed);
    }
    NUMBER.with(|n| *n)
}

impl SharedPair {
    pub(crate) fn new(kind: IndexKind, rng: fastrand::Rng) -> Self {
        SharedPair {
            state: RwLock::new(PairState::new(kind, rng)),
            buffers: (0..buffer_count()).map(|_| Buffer::default()).collect(),
        }
    }

    /// Runs `f` on the pair with every buffered hit applied first.
    pub(crate) fn exclusive<R>(&self, f: impl FnOnce(&mut PairState) -> R) -> R {
        let mut state = self.write();
        self.apply_buffered(&mut state);
        let out = f(&mut state);
        state.sync_top();
        out
    }

    fn write(&self) -> RwLockWriteGuard<'_, PairState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies every buffered change in the order of the scores they give:
    /// the order the hits took them in, whichever buffer holds them (so an
    /// LRU pair stays in its appended form). The caller holds the write
    /// lock, so no hit can add to a buffer meanwhile. One filled buffer (one
    /// thread hitting) is applied in place, with no allocation; several are
    /// merged into a vector freed at once.
    fn apply_buffered(&self, state: &mut PairState) {
        let mut filled = self.buffers.iter().filter(|b| !b.lock().is_empty());
        match (filled.next(), filled.next()) {
            (None, _) => {}
            (Some(only), None) => only.lock().drain(..).for_each(|touch| state.apply(touch)),
            (Some(_), Some(_)) => {
                let mut touches: Vec<Touch> = Vec::new();
                for buffer in self.buffers.iter() {
                    touches.extend(buffer.lock().drain(..));
                }
                touches.sort_by_key(Touch::order);
                touches.into_iter().for_each(|touch| state.apply(touch));
            }
        }
    }

    /// A read with the policy's hit rule, as [`PairState::get`] does it.
    pub(crate) fn get(&self, req: &GetRequest<'_>, now: u64) -> Result<Lookup, Error> {
        let buffered = {
            // Nothing panics while holding the lock; if something did, the
            // pair is still whole (every change completes before the next).
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            match state.shared_get(req, now) {
                SharedGet::Miss => return Ok(Lookup::Miss),
                SharedGet::Hit(value, None) => return Ok(Lookup::Hit(value)),
                SharedGet::Hit(value, Some(touch)) => {
                    let buffer = &self.buffers[thread_number() % self.buffers.len()];
                    let mut buffer = buffer.lock();
                    buffer.push(touch);
                    Some((value, buffer.len()))
                }
                SharedGet::NeedsExclusive => None,
            }
        };
        match buffered {
            Some((value, pending)) => {
                if pending >= APPLY_BY {
                    self.exclusive(|_| ());
                } else if pending >= APPLY_AT
                    && let Ok(mut state) = self.state.try_write()
                {
                    self.apply_buffered(&mut state);
                    state.sync_top();
                }
                Ok(Lookup::Hit(value))
            }
            None => self.exclusive(|state| state.get(req, now)),
        }
    }
}

#[cfg(all(test, not(shuttle)))]
mod tests {
    use std::time::Duration;

    use redis_func_cache_core::policy::PolicyRules;
    use redis_func_cache_core::store::{Expiry, PutRequest};
    use redis_func_cache_core::{FuncId, InvocationHash, KeyPair, Layout};
    use redis_func_cache_policies::rules;

    use super::*;

    static F: FuncId = FuncId::new("shared", "f", 0);
    const EXPIRY: Expiry = Expiry {
        pair_ttl: Duration::from_secs(600),
        slide: false,
        entry_ttl: None,
    };

    fn member(k: u64) -> InvocationHash {
        F.invocation_hash(&k).expect("u64 encodes")
    }

    impl SharedPair {
        /// Hits buffered and not yet applied.
        fn pending(&self) -> usize {
            self.buffers.iter().map(|b| b.lock().len()).sum()
        }
    }

    /// A pair of `rules` holding keys 0..n.
    fn filled(rules: &PolicyRules, n: u64) -> (SharedPair, KeyPair) {
        let pair = KeyPair::new("shared:", "p", rules.word, Layout::Single, &F);
        let shared = SharedPair::new(rules.index, fastrand::Rng::with_seed(1));
        for k in 0..n {
            let value = bytes::Bytes::from(vec![k as u8]);
            let req = PutRequest::new(&pair, member(k), value, rules, 100, EXPIRY);
            shared.exclusive(|s| s.put(&req, 0)).expect("a put");
        }
        (shared, pair)
    }

    fn hit(shared: &SharedPair, pair: &KeyPair, rules: &PolicyRules, k: u64) {
        let req = GetRequest::new(pair, member(k), rules, EXPIRY);
        let found = shared.get(&req, 0).expect("a get");
        assert!(matches!(found, Lookup::Hit(_)), "{k} hits");
    }

    /// A hit leaves its score change in a buffer (it took only the shared
    /// lock); the change is applied by the hit that fills the buffer to
    /// [`APPLY_AT`], so buffers stay short without every hit writing.
    #[test]
    fn hits_are_buffered_until_enough_are_pending() {
        let (shared, pair) = filled(&rules::LRU, 2);
        hit(&shared, &pair, &rules::LRU, 0);
        assert_eq!(shared.pending(), 1, "the first hit is only buffered");
        for _ in 1..APPLY_AT - 1 {
            hit(&shared, &pair, &rules::LRU, 1);
        }
        assert_eq!(shared.pending(), APPLY_AT - 1);
        hit(&shared, &pair, &rules::LRU, 0);
        assert_eq!(
            shared.pending(),
            0,
            "the hit that made {APPLY_AT} applied them"
        );
    }

    /// SIEVE's hits after an entry's first, and S3-FIFO's once its counter
    /// is 3, change nothing: they buffer nothing either (read-only hits).
    #[test]
    fn hits_that_change_nothing_buffer_nothing() {
        let (sieve, pair) = filled(&rules::SIEVE, 2);
        hit(&sieve, &pair, &rules::SIEVE, 0);
        assert_eq!(sieve.pending(), 1, "the first hit sets the visited bit");
        sieve.exclusive(|_| ());
        hit(&sieve, &pair, &rules::SIEVE, 0);
        assert_eq!(sieve.pending(), 0, "a visited entry's hit writes nothing");

        let (s3, pair) = filled(&rules::S3FIFO, 2);
        for n in 1..=3 {
            hit(&s3, &pair, &rules::S3FIFO, 0);
            assert_eq!(s3.pending(), 1, "hit {n} raises the counter");
            s3.exclusive(|_| ());
        }
        hit(&s3, &pair, &rules::S3FIFO, 0);
        assert_eq!(s3.pending(), 0, "a saturated counter's hit writes nothing");
    }

    /// Threads take numbers in turn, so two threads hitting at once use
    /// different buffers (where there are two or more).
    #[test]
    fn threads_take_different_buffer_numbers() {
        let numbers: Vec<usize> = (0..2)
            .map(|_| std::thread::spawn(thread_number).join().expect("joins"))
            .collect();
        assert_ne!(numbers[0], numbers[1]);
        assert_eq!(
            thread_number(),
            thread_number(),
            "a thread keeps its number"
        );
    }
}
