//! In-process single-flight (SPEC §9): concurrent calls that miss on the
//! same invocation run the function once; the others wait for its result.
//!
//! The table is consulted only after a miss, so hits pay nothing for it. A
//! flight is keyed by the invocation hash, which already names the function,
//! and lives in one of several shards, each behind its own short-lived lock:
//! unrelated keys never wait on one another's computation, and a shard lock
//! is held only to look up, add or remove one entry.
//!
//! The leader hands its result to the waiters as the encoded value it is
//! about to store (waiters decode it, so results need not be `Clone`). If the
//! leader returns an error, panics or is dropped mid-computation (a
//! cancelled future), its [`Lead`] is dropped unlanded: the flight is
//! removed and every waiter wakes to try again, and the first of them to
//! reach the table leads the next attempt while the rest wait on it.
//!
//! A leader that calls its own function with the same arguments would wait
//! for itself. Each leader marks its computation on the thread that runs it
//! (for a future: on whichever thread polls it) and a call that finds its
//! own flight runs uncached instead. The mark does not follow work handed
//! to another thread or task: a computation that waits for one that makes
//! the same call, or two computations that wait for each other's, wait for
//! good, as on any lock (README.md says so).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use event_listener::{Event, Listener};
use parking_lot::Mutex;

use crate::identity::{FastNameHasher, InvocationHash};

/// Shards in a cache's flight table; a power of two.
const SHARDS: usize = 32;

/// One shard of a flight table: the flights in progress whose invocation
/// hashes fall in it.
type Shard = Mutex<HashMap<InvocationHash, Arc<Flight>, FastNameHasher>>;

/// The flights of one cache.
pub(crate) struct Flights {
    shards: Box<[Shard]>,
}

impl Default for Flights {
    fn default() -> Self {
        Flights {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

/// One computation in progress, and the waiters' view of how it ended.
struct Flight {
    /// Unique in this process: recursion is detected by it.
    id: u64,
    landing: Mutex<Option<Landing>>,
    landed: Event,
}

/// How a flight ended, as a waiter sees it.
#[derive(Debug, Clone)]
pub(crate) enum Landing {
    /// The leader's result, framed as it was stored.
    Value(Bytes),
    /// The leader returned a result it could not share (not encodable, or
    /// over the size limit): each waiter runs the function itself.
    Unshareable,
    /// The leader failed, panicked or was cancelled: try again.
    Abandoned,
}

/// What a caller that missed does next.
pub(crate) enum Turn<'a> {
    /// Compute: this caller leads the flight.
    Lead(Lead<'a>),
    /// Wait for the leader.
    Wait(Waiting),
    /// This caller is already computing this very invocation further up its
    /// own stack: run uncached.
    Recursive,
}

impl Flights {
    fn shard(&self, member: &InvocationHash) -> &Shard {
        let bytes = member.as_bytes();
        &self.shards[usize::from(bytes[0]) % SHARDS]
    }

    /// Joins the flight for `member`, or starts one.
    pub(crate) fn join(&self, member: InvocationHash) -> Turn<'_> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let mut shard = self.shard(&member).lock();
        if let Some(flight) = shard.get(&member) {
            if leading(flight.id) {
                return Turn::Recursive;
            }
            return Turn::Wait(Waiting {
                flight: Arc::clone(flight),
            });
        }
        let flight = Arc::new(Flight {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            landing: Mutex::new(None),
            landed: Event::new(),
        });
        shard.insert(member, Arc::clone(&flight));
        Turn::Lead(Lead {
            flights: self,
            member,
            flight,
        })
    }

    /// How many flights are in progress (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// The right and duty to compute one invocation. Dropping it without
/// [`land`](Lead::land)ing abandons the flight, and the waiters try again.
pub(crate) struct Lead<'a> {
    flights: &'a Flights,
    member: InvocationHash,
    flight: Arc<Flight>,
}

impl Lead<'_> {
    /// Runs the computation, marked as this flight's on this thread so that a
    /// recursive call with the same arguments is recognised.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _mark = Mark::set(self.flight.id);
        f()
    }

    /// Starts the computation and wraps its future so it is marked while
    /// polled.
    pub(crate) fn run_async<F: Future>(&self, f: impl FnOnce() -> F) -> Marked<F> {
        Marked {
            id: self.flight.id,
            future: f(),
        }
    }

    /// Ends the flight with the encoded result (`None`: not shareable).
    pub(crate) fn land(self, value: Option<Bytes>) {
        let landing = match value {
            Some(bytes) => Landing::Value(bytes),
            None => Landing::Unshareable,
        };
        self.finish(landing);
    }

    fn finish(&self, landing: Landing) {
        // Out of the table first: a caller arriving now reads the store
        // (where the value is, if it landed) or starts a fresh flight.
        {
            let mut shard = self.flights.shard(&self.member).lock();
            if shard
                .get(&self.member)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                shard.remove(&self.member);
            }
        }
        let mut slot = self.flight.landing.lock();
        if slot.is_none() {
            *slot = Some(landing);
        }
        drop(slot);
        self.flight.landed.notify(usize::MAX);
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        // After `land` the slot is full and there is nothing left to do.
        if self.flight.landing.lock().is_none() {
            self.finish(Landing::Abandoned);
        }
    }
}

/// A caller waiting for another's computation.
pub(crate) struct Waiting {
    flight: Arc<Flight>,
}

impl Waiting {
    fn landed(&self) -> Option<Landing> {
        self.flight.landing.lock().clone()
    }

    /// Parks this thread until the flight lands.
    pub(crate) fn wait(self) -> Landing {
        loop {
            // Listen before looking, so a landing between the two still
            // wakes this thread.
            let listener = self.flight.landed.listen();
            if let Some(landing) = self.landed() {
                return landing;
            }
            listener.wait();
        }
    }

    /// Waits for the flight to land without blocking a thread.
    pub(crate) async fn wait_async(self) -> Landing {
        loop {
            let listener = self.flight.landed.listen();
            if let Some(landing) = self.landed() {
                return landing;
            }
            listener.await;
        }
    }
}

thread_local! {
    /// The flights whose computations are running on this thread, innermost
    /// last.
    static LEADING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn leading(id: u64) -> bool {
    LEADING.with(|l| l.borrow().contains(&id))
}

/// Marks a flight's computation as running on this thread until dropped
/// (also when the computation panics).
struct Mark;

impl Mark {
    fn set(id: u64) -> Mark {
        LEADING.with(|l| l.borrow_mut().push(id));
        Mark
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        LEADING.with(|l| {
            l.borrow_mut().pop();
        });
    }
}

pin_project_lite::pin_project! {
    /// A leader's computation, marked as its flight's while it is polled.
    pub(crate) struct Marked<F> {
        id: u64,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Marked<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _mark = Mark::set(*this.id);
        this.future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::thread;

    fn member(n: u8) -> InvocationHash {
        InvocationHash::from_bytes([n; 16])
    }

    #[test]
    fn the_first_leads_and_the_rest_wait_for_its_value() {
        let flights = Flights::default();
        let Turn::Lead(lead) = flights.join(member(1)) else {
            panic!("the first caller must lead");
        };
        let waiters: Vec<_> = (0..3)
            .map(|_| match flights.join(member(1)) {
                Turn::Wait(w) => w,
                _ => panic!("later callers must wait"),
            })
            .collect();
        lead.land(Some(Bytes::from_static(b"v")));
        assert_eq!(flights.len(), 0, "a landed flight leaves the table");
        for w in waiters {
            assert!(matches!(w.wait(), Landing::Value(v) if v == "v"));
        }
    }

    #[test]
    fn a_dropped_lead_abandons_and_the_next_caller_leads() {
        let flights = Flights::default();
        let lead = flights.join(member(2));
        let Turn::Wait(waiter) = flights.join(member(2)) else {
            panic!("must wait");
        };
        drop(lead);
        assert!(matches!(waiter.wait(), Landing::Abandoned));
        assert!(matches!(flights.join(member(2)), Turn::Lead(_)));
    }

    #[test]
    fn a_leader_joining_its_own_flight_is_told_it_recurses() {
        let flights = Flights::default();
        let Turn::Lead(lead) = flights.join(member(3)) else {
            panic!("must lead");
        };
        lead.run(|| {
            assert!(matches!(flights.join(member(3)), Turn::Recursive));
            // Another key is an ordinary flight, even inside.
            assert!(matches!(flights.join(member(4)), Turn::Lead(_)));
        });
        // Outside the computation the mark is gone: another caller waits.
        assert!(matches!(flights.join(member(3)), Turn::Wait(_)));
    }

    #[test]
    fn waiters_on_other_threads_wake_when_the_flight_lands() {
        let flights = Flights::default();
        let Turn::Lead(lead) = flights.join(member(5)) else {
            panic!("must lead");
        };
        let ready = Barrier::new(5);
        thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let turn = flights.join(member(5));
                        ready.wait();
                        match turn {
                            Turn::Wait(w) => w.wait(),
                            _ => panic!("must wait"),
                        }
                    })
                })
                .collect();
            ready.wait();
            lead.land(None);
            for h in handles {
                assert!(matches!(h.join().unwrap(), Landing::Unshareable));
            }
        });
    }
}
