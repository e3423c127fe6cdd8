//! Waiting for another process's lease (SPEC §9): a caller that missed while
//! someone else holds the member's lease reads again after a pause, until
//! the value appears or the lease runs out and it is granted the lease
//! itself.
//!
//! The pauses grow (5 ms, 10 ms, ... up to 50 ms), so a long computation is
//! polled a few times a second, not in a busy loop, while a short one is
//! seen soon after it lands. A pause never outlasts the holder's lease, so
//! a caller whose holder died takes over as soon as the lease ends. Only one
//! caller per process polls: the others wait on its flight.
//!
//! The wait is bounded: a caller that has waited two lease times (other
//! holders kept taking the lease and none put a value) computes anyway.

use std::time::{Duration, Instant};

/// The first pause.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause.
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// One caller's wait for another's lease.
#[derive(Debug)]
pub(super) struct LeaseWait {
    give_up_at: Instant,
    pause: Duration,
}

impl LeaseWait {
    /// A wait on a cache whose leases last `lease`.
    pub(super) fn new(lease: Duration) -> Self {
        LeaseWait {
            give_up_at: Instant::now() + lease * 2,
            pause: FIRST_PAUSE,
        }
    }

    /// How long to pause before reading again, when the holder's lease has
    /// `left` to run; `None` once the caller has waited long enough and
    /// should compute.
    pub(super) fn next_pause(&mut self, left: Duration) -> Option<Duration> {
        let now = Instant::now();
        if now >= self.give_up_at {
            return None;
        }
        // Read again just after the lease ends, not a full pause later.
        let until_free = left + Duration::from_millis(1);
        let pause = self
            .pause
            .min(until_free)
            .min(self.give_up_at - now)
            .max(Duration::from_millis(1));
        self.pause = (self.pause * 2).min(LONGEST_PAUSE);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_a_ceiling_and_never_outlast_the_lease() {
        let mut wait = LeaseWait::new(Duration::from_secs(60));
        let long = Duration::from_secs(30);
        let pauses: Vec<_> = (0..6).map(|_| wait.next_pause(long).unwrap()).collect();
        let ms: Vec<_> = pauses.iter().map(|p| p.as_millis()).collect();
        assert_eq!(ms, [5, 10, 20, 40, 50, 50]);
        // A lease about to end: read again just after it does.
        assert_eq!(
            wait.next_pause(Duration::from_millis(3)),
            Some(Duration::from_millis(4))
        );
    }

    #[test]
    fn the_wait_ends_after_two_lease_times() {
        let mut wait = LeaseWait::new(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(wait.next_pause(Duration::from_secs(1)), None);
    }
}
