//! Refresh ahead (SPEC §9, XFetch, Vattani et al., VLDB 2015): with a
//! per-entry TTL, a hit recomputes early with a probability that grows as
//! the entry nears its deadline and with how long it took to compute, so a
//! hot entry is refreshed by one caller before it expires instead of by
//! every caller after.
//!
//! A hit at time `now` recomputes when `now − Δ·β·ln(r) ≥ deadline`, where
//! `Δ` is the last computation's duration (kept with the value), `β` the
//! eagerness (1 is the paper's default; higher refreshes earlier) and `r` a
//! uniform random number in (0, 1]: `−ln(r)` is exponentially distributed,
//! so most hits far from the deadline never refresh.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::envelope::RefreshStamp;

/// The refresh-ahead setting of a cache: see
/// [`FuncCacheBuilder::refresh_ahead`](crate::FuncCacheBuilder::refresh_ahead).
///
/// ```
/// use redis_func_cache::RefreshAhead;
/// // Tests make the draw fixed: r = 1 never refreshes before the deadline.
/// let never_early = RefreshAhead::new(1.0).with_random(|| 1.0);
/// # let _ = never_early;
/// ```
#[derive(Clone)]
pub struct RefreshAhead {
    beta: f64,
    random: Arc<dyn Fn() -> f64 + Send + Sync>,
}

impl std::fmt::Debug for RefreshAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshAhead")
            .field("beta", &self.beta)
            .finish_non_exhaustive()
    }
}

impl RefreshAhead {
    /// Refresh ahead with eagerness `beta` (1.0 is XFetch's default) and a
    /// thread-local fast random source.
    pub fn new(beta: f64) -> Self {
        RefreshAhead {
            beta,
            random: Arc::new(fastrand::f64),
        }
    }

    /// The same with another source of uniform numbers in [0, 1), so tests
    /// can fix every draw.
    pub fn with_random(mut self, random: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.random = Arc::new(random);
        self
    }

    /// The eagerness.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Whether a hit now on a value with this stamp, in a cache whose
    /// entries live `entry_ttl`, recomputes early.
    pub(crate) fn due(&self, stamp: RefreshStamp, entry_ttl: Duration) -> bool {
        let ttl_us = u64::try_from(entry_ttl.as_micros()).unwrap_or(u64::MAX);
        let deadline = stamp.written_at_us.saturating_add(ttl_us) as f64;
        // ln(0) is −∞, which would refresh on every hit: draw from (0, 1].
        let r = (1.0 - (self.random)()).clamp(f64::MIN_POSITIVE, 1.0);
        let early = f64::from(stamp.took_us) * self.beta * -r.ln();
        now_us() as f64 + early >= deadline
    }
}

/// The writer's clock, in UNIX microseconds.
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(age: Duration, took: Duration) -> RefreshStamp {
        RefreshStamp {
            written_at_us: now_us() - age.as_micros() as u64,
            took_us: took.as_micros() as u32,
        }
    }

    #[test]
    fn the_draw_decides_as_the_xfetch_rule_says() {
        let ttl = Duration::from_secs(60);
        // 50 s old, took 1 s: 10 s left. -ln(r) must reach 10 (β = 1).
        let s = stamp(Duration::from_secs(50), Duration::from_secs(1));
        // random() = 0.0 → r = 1 → -ln(r) = 0: no refresh.
        assert!(!RefreshAhead::new(1.0).with_random(|| 0.0).due(s, ttl));
        // r = e^-11 → -ln(r) = 11 > 10: refresh.
        let draw = 1.0 - (-11.0f64).exp();
        assert!(RefreshAhead::new(1.0).with_random(move || draw).due(s, ttl));
        // r = e^-9 → 9 < 10: no refresh; with β = 2, 18 > 10: refresh.
        let draw = 1.0 - (-9.0f64).exp();
        assert!(!RefreshAhead::new(1.0).with_random(move || draw).due(s, ttl));
        assert!(RefreshAhead::new(2.0).with_random(move || draw).due(s, ttl));
    }

    #[test]
    fn past_the_deadline_is_always_due() {
        let s = stamp(Duration::from_secs(61), Duration::ZERO);
        assert!(
            RefreshAhead::new(1.0)
                .with_random(|| 0.0)
                .due(s, Duration::from_secs(60))
        );
    }
}
