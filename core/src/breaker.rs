//! A circuit breaker for a store (SPEC §8): after repeated transport
//! failures or timeouts, calls skip the store at once, and one probe per
//! interval tests it; a probe that succeeds closes the breaker.
//!
//! A store consults its breaker before each operation ([`Breaker::admit`])
//! and reports whether the server served it ([`Breaker::record`]). Transport
//! failures and timeouts count, and so do answers that say the server
//! serves no command for now (Redis still loading its data, or busy with
//! another client's script): every call would pay a round trip for
//! nothing while that lasts. A script error, a refused write or a cluster
//! redirection is an answer about one call and does not count. The store
//! decides which of its errors are which.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use redis_func_cache::breaker::{Admission, Breaker, BreakerOptions};
//! use redis_func_cache::clock::ManualClock;
//! use redis_func_cache::Error;
//!
//! let clock = ManualClock::new(0);
//! let breaker = Breaker::with_clock(BreakerOptions::default(), Arc::new(clock.clone()));
//! for _ in 0..3 {
//!     let admitted = breaker.admit();
//!     assert_eq!(admitted, Admission::Pass);
//!     breaker.record(admitted, false); // refused, or no reply in time
//! }
//! assert_eq!(breaker.admit(), Admission::Skip, "open: calls skip the store");
//! clock.advance(Duration::from_secs(1));
//! let probe = breaker.admit();
//! assert_eq!(probe, Admission::Probe, "one probe per interval");
//! assert_eq!(breaker.admit(), Admission::Skip, "only one");
//! breaker.record(probe, true);
//! assert_eq!(breaker.admit(), Admission::Pass, "closed again");
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::Error;

/// When a breaker opens and how it probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerOptions {
    /// Consecutive transport failures or timeouts that open the breaker
    /// (default 3). 0 turns the breaker off: every call goes to the store.
    pub failures_to_open: u32,
    /// How long an open breaker waits before its first probe (default 1 s).
    pub probe_interval: Duration,
    /// The longest wait between probes: each failed probe multiplies the
    /// wait by 1.25 up to this (default 1.25 s, so caching resumes within
    /// about a second of the server's return).
    pub max_probe_interval: Duration,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            failures_to_open: 3,
            probe_interval: Duration::from_secs(1),
            max_probe_interval: Duration::from_millis(1250),
        }
    }
}

impl BreakerOptions {
    /// Sets [`failures_to_open`](BreakerOptions::failures_to_open).
    pub fn failures_to_open(mut self, failures: u32) -> Self {
        self.failures_to_open = failures;
        self
    }

    /// Sets [`probe_interval`](BreakerOptions::probe_interval) (and raises
    /// the maximum to it if it was lower).
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval;
        self.max_probe_interval = self.max_probe_interval.max(interval);
        self
    }

    /// Sets [`max_probe_interval`](BreakerOptions::max_probe_interval).
    pub fn max_probe_interval(mut self, interval: Duration) -> Self {
        self.max_probe_interval = interval.max(self.probe_interval);
        self
    }
}

/// What the breaker lets an operation do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go to the store.
    Pass,
    /// Open, and this operation is the interval's probe: go to the store
    /// and report how it went.
    Probe,
    /// Open: do not touch the store; the call fails open at once.
    Skip,
}

/// A per-store circuit breaker; cheap to consult (two atomic loads while
/// closed).
#[derive(Debug)]
pub struct Breaker {
    options: BreakerOptions,
    clock: Arc<dyn Clock>,
    /// Consecutive transport failures while closed.
    failures: AtomicU32,
    /// Whether the breaker is open.
    open: AtomicBool,
    /// When (clock µs) the next probe may go.
    next_probe_at: AtomicU64,
    /// The current wait between probes, µs.
    interval: AtomicU64,
    /// A probe is out.
    probing: AtomicBool,
    /// Which store, for the log lines.
    name: &'static str,
}

impl Breaker {
    /// A breaker on the system clock, named after its store in log lines.
    pub fn new(name: &'static str, options: BreakerOptions) -> Self {
        let mut breaker = Breaker::with_clock(options, Arc::new(SystemClock));
        breaker.name = name;
        breaker
    }

    /// A breaker on the given clock (a `ManualClock` makes tests exact).
    pub fn with_clock(options: BreakerOptions, clock: Arc<dyn Clock>) -> Self {
        Breaker {
            options,
            clock,
            failures: AtomicU32::new(0),
            open: AtomicBool::new(false),
            next_probe_at: AtomicU64::new(0),
            interval: AtomicU64::new(micros(options.probe_interval)),
            probing: AtomicBool::new(false),
            name: "store",
        }
    }

    /// Whether the breaker is open now.
    pub fn is_open(&self) -> bool {
        self.open.load(Relaxed)
    }

    /// Whether an operation may go to the store.
    pub fn admit(&self) -> Admission {
        if !self.open.load(Relaxed) {
            return Admission::Pass;
        }
        if self.clock.now_micros() < self.next_probe_at.load(Relaxed) {
            return Admission::Skip;
        }
        match self.probing.compare_exchange(false, true, Relaxed, Relaxed) {
            Ok(_) => Admission::Probe,
            Err(_) => Admission::Skip,
        }
    }

    /// Reports how an admitted operation ended: `reached` is false for a
    /// transport failure, a timeout or an answer that the server serves
    /// nothing for now; true for any other answer (an error reply about the
    /// call included).
    pub fn record(&self, admission: Admission, reached: bool) {
        if self.options.failures_to_open == 0 {
            return;
        }
        let failed = !reached;
        match (admission, failed) {
            (Admission::Skip, _) => {}
            (Admission::Pass, false) => {
                if self.failures.load(Relaxed) != 0 {
                    self.failures.store(0, Relaxed);
                }
            }
            (Admission::Pass, true) => {
                let failures = self.failures.fetch_add(1, Relaxed) + 1;
                if failures >= self.options.failures_to_open && !self.open.swap(true, Relaxed) {
                    let interval = micros(self.options.probe_interval);
                    self.interval.store(interval, Relaxed);
                    self.next_probe_at
                        .store(self.clock.now_micros().saturating_add(interval), Relaxed);
                    tracing::warn!(
                        store = self.name,
                        failures,
                        probe_in_ms = interval / 1000,
                        "circuit breaker open: calls skip the store until a probe succeeds"
                    );
                }
            }
            (Admission::Probe, false) => {
                self.failures.store(0, Relaxed);
                self.open.store(false, Relaxed);
                self.probing.store(false, Relaxed);
                tracing::info!(
                    store = self.name,
                    "circuit breaker closed: the store answered a probe"
                );
            }
            (Admission::Probe, true) => {
                // A probe that `probe_now` released while it was out went
                // before the sign: its failure says nothing about the
                // store now, and must not put the next probe an interval
                // off (with one caller, no other call gets in first).
                if !self.probing.swap(false, Relaxed) {
                    return;
                }
                let max = micros(self.options.max_probe_interval);
                let interval = (self.interval.load(Relaxed).saturating_mul(5) / 4).min(max);
                self.interval.store(interval, Relaxed);
                self.next_probe_at
                    .store(self.clock.now_micros().saturating_add(interval), Relaxed);
                tracing::debug!(
                    store = self.name,
                    next_probe_in_ms = interval / 1000,
                    "probe failed"
                );
            }
        }
    }

    /// Lets the next operation probe at once if the breaker is open, not
    /// when the interval ends: for a sign that the store answers again,
    /// such as a new connection that answered where the old one went
    /// silent. That holds even while a probe is out: it went before the
    /// sign (on the old connection, likely to time out), and its failure
    /// would put the next probe an interval off.
    ///
    /// ```
    /// use redis_func_cache::breaker::{Admission, Breaker, BreakerOptions};
    ///
    /// let breaker = Breaker::new("redis", BreakerOptions::default());
    /// for _ in 0..3 {
    ///     let admitted = breaker.admit();
    ///     breaker.record(admitted, false);
    /// }
    /// assert_eq!(breaker.admit(), Admission::Skip, "open: the next probe is a second away");
    /// breaker.probe_now();
    /// assert_eq!(breaker.admit(), Admission::Probe);
    /// ```
    pub fn probe_now(&self) {
        if self.open.load(Relaxed) {
            self.next_probe_at.store(0, Relaxed);
            self.probing.store(false, Relaxed);
        }
    }

    /// The error a skipped operation returns.
    pub fn skipped(&self) -> Error {
        Error::Skipped { backend: self.name }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn open_breaker(clock: &ManualClock) -> Breaker {
        let breaker = Breaker::with_clock(BreakerOptions::default(), Arc::new(clock.clone()));
        for _ in 0..3 {
            let a = breaker.admit();
            breaker.record(a, false);
        }
        assert!(breaker.is_open());
        breaker
    }

    /// How long each of `probes` probes waited after the previous one
    /// failed, the clock moved on in `step`s.
    fn failed_probe_waits(
        breaker: &Breaker,
        clock: &ManualClock,
        probes: usize,
        step: Duration,
    ) -> Vec<Duration> {
        (0..probes)
            .map(|_| {
                let mut waited = Duration::ZERO;
                while breaker.admit() != Admission::Probe {
                    clock.advance(step);
                    waited += step;
                }
                breaker.record(Admission::Probe, false);
                waited
            })
            .collect()
    }

    #[test]
    fn only_failures_in_a_row_open_it() {
        let clock = ManualClock::new(0);
        let breaker = Breaker::with_clock(BreakerOptions::default(), Arc::new(clock.clone()));
        breaker.record(Admission::Pass, false);
        breaker.record(Admission::Pass, false);
        breaker.record(Admission::Pass, true);
        breaker.record(Admission::Pass, false);
        breaker.record(Admission::Pass, false);
        assert!(!breaker.is_open(), "an answer in between resets the count");
        breaker.record(Admission::Pass, false);
        assert!(breaker.is_open());
    }

    #[test]
    fn failed_probes_back_off_up_to_the_maximum() {
        let clock = ManualClock::new(0);
        let breaker = open_breaker(&clock);
        let waits = failed_probe_waits(&breaker, &clock, 5, Duration::from_millis(10));
        let ms = |n: u64| Duration::from_millis(n);
        assert_eq!(waits, [ms(1000), ms(1250), ms(1250), ms(1250), ms(1250)]);
    }

    #[test]
    fn the_probe_interval_options_keep_the_maximum_at_least_the_interval() {
        let options = BreakerOptions::default().probe_interval(Duration::from_secs(2));
        assert_eq!(options.probe_interval, Duration::from_secs(2));
        assert_eq!(options.max_probe_interval, Duration::from_secs(2));
        let options = options.max_probe_interval(Duration::from_secs(1));
        assert_eq!(options.max_probe_interval, Duration::from_secs(2));
        let options = options.max_probe_interval(Duration::from_secs(5));
        assert_eq!(options.max_probe_interval, Duration::from_secs(5));
    }

    /// Each failed probe lengthens the wait by a quarter, not more, until
    /// the maximum: 1 s, 1.25 s, 1.5625 s, ... 3 s.
    #[test]
    fn each_failed_probe_waits_a_quarter_longer() {
        let clock = ManualClock::new(0);
        let options = BreakerOptions::default().max_probe_interval(Duration::from_secs(3));
        let breaker = Breaker::with_clock(options, Arc::new(clock.clone()));
        for _ in 0..3 {
            let a = breaker.admit();
            breaker.record(a, false);
        }
        let waits = failed_probe_waits(&breaker, &clock, 7, Duration::from_micros(500));
        // 1,000,000 µs × 5/4 each time (rounded up to the 500 µs steps).
        let us = [
            1_000_000, 1_250_000, 1_562_500, 1_953_500, 2_441_500, 3_000_000, 3_000_000,
        ];
        assert_eq!(waits, us.map(Duration::from_micros));
    }

    #[test]
    fn a_probe_that_meets_a_live_server_closes_it() {
        let clock = ManualClock::new(0);
        let breaker = open_breaker(&clock);
        clock.advance(Duration::from_millis(999));
        assert_eq!(breaker.admit(), Admission::Skip);
        clock.advance(Duration::from_millis(1));
        let probe = breaker.admit();
        assert_eq!(probe, Admission::Probe);
        breaker.record(probe, true);
        assert!(!breaker.is_open());
        assert_eq!(breaker.admit(), Admission::Pass);
    }

    #[test]
    fn probe_now_lets_the_next_operation_probe_and_keeps_the_back_off() {
        let clock = ManualClock::new(0);
        let breaker = open_breaker(&clock);
        let waits = failed_probe_waits(&breaker, &clock, 2, Duration::from_millis(10));
        assert_eq!(waits[1], Duration::from_millis(1250));
        clock.advance(Duration::from_millis(100));
        assert_eq!(breaker.admit(), Admission::Skip);
        breaker.probe_now();
        let probe = breaker.admit();
        assert_eq!(probe, Admission::Probe, "at once, not 1.15 s later");
        assert_eq!(breaker.admit(), Admission::Skip, "one probe at a time");
        breaker.record(probe, false);
        // A probe out when the sign comes does not hold up the next one,
        // and its late failure does not reopen a breaker the next closed.
        clock.advance(Duration::from_millis(1250));
        let before_the_sign = breaker.admit();
        assert_eq!(before_the_sign, Admission::Probe);
        breaker.probe_now();
        let after_the_sign = breaker.admit();
        assert_eq!(after_the_sign, Admission::Probe, "beside the one out");
        breaker.record(after_the_sign, true);
        breaker.record(before_the_sign, false);
        assert!(!breaker.is_open());
        assert_eq!(breaker.admit(), Admission::Pass);
        // Open again, for the back-off below.
        for _ in 0..3 {
            breaker.record(Admission::Pass, false);
        }
        clock.advance(Duration::from_millis(1000));
        let probe = breaker.admit();
        breaker.record(probe, false);
        let waits = failed_probe_waits(&breaker, &clock, 1, Duration::from_millis(10));
        assert_eq!(
            waits,
            [Duration::from_millis(1250)],
            "its failure backs off as any probe's (here at the maximum)"
        );
    }

    /// The case a single caller meets: its own call is the probe out when
    /// the sign comes, so no other call is admitted before that probe's
    /// failure (a timeout on the old connection) is recorded.
    #[test]
    fn a_probe_out_when_the_sign_comes_does_not_put_the_next_off() {
        let clock = ManualClock::new(0);
        let breaker = open_breaker(&clock);
        clock.advance(Duration::from_secs(1));
        let out = breaker.admit();
        assert_eq!(out, Admission::Probe);
        breaker.probe_now();
        clock.advance(Duration::from_millis(250));
        breaker.record(out, false);
        let next = breaker.admit();
        assert_eq!(
            next,
            Admission::Probe,
            "at once, not 1.25 s after the old one failed"
        );
        assert_eq!(breaker.admit(), Admission::Skip, "one probe at a time");
        // A probe admitted after the sign that fails backs off as before.
        breaker.record(next, false);
        assert_eq!(breaker.admit(), Admission::Skip);
        let waits = failed_probe_waits(&breaker, &clock, 1, Duration::from_millis(10));
        assert_eq!(waits, [Duration::from_millis(1250)]);
    }

    #[test]
    fn probe_now_leaves_a_closed_breaker_closed() {
        let clock = ManualClock::new(0);
        let breaker = Breaker::with_clock(BreakerOptions::default(), Arc::new(clock.clone()));
        breaker.probe_now();
        assert!(!breaker.is_open());
        assert_eq!(breaker.admit(), Admission::Pass);
        // And an open one waits the interval again after its probe failed.
        let breaker = open_breaker(&clock);
        breaker.probe_now();
        let probe = breaker.admit();
        breaker.record(probe, false);
        assert_eq!(breaker.admit(), Admission::Skip);
    }

    #[test]
    fn zero_failures_to_open_turns_it_off() {
        let breaker = Breaker::new("test", BreakerOptions::default().failures_to_open(0));
        for _ in 0..10 {
            breaker.record(Admission::Pass, false);
        }
        assert_eq!(breaker.admit(), Admission::Pass);
    }
}
