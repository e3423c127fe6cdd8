//! Statistics: per cache (a snapshot at any time) and per block of code or
//! future (everything any cache counted while it ran).

use std::cell::Cell;
use std::future::Future;
use std::ops::{Add, Sub};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crossbeam_utils::CachePadded;

use crate::telemetry::CacheMetrics;
use std::task::{Context, Poll};

/// Counts at one moment.
///
/// ```
/// use redis_func_cache::StatsSnapshot;
/// let a = StatsSnapshot { hits: 3, misses: 1, ..Default::default() };
/// let b = StatsSnapshot { hits: 1, ..Default::default() };
/// assert_eq!((a - b).hits, 2);
/// assert_eq!(a.hit_ratio(), 0.75);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StatsSnapshot {
    /// Reads that returned a stored value.
    pub hits: u64,
    /// Reads that found nothing usable (absent, expired or undecodable).
    pub misses: u64,
    /// Values written after the function ran.
    pub writes: u64,
    /// Entries the store evicted to make room.
    pub evictions: u64,
    /// Stored values that failed to decode (each is also a miss).
    pub decode_failures: u64,
    /// Store operations that failed.
    pub backend_errors: u64,
    /// Results returned but not stored: their encoding was over the
    /// serializer's size limit.
    pub too_large: u64,
    /// Store operations not attempted because the store's circuit breaker
    /// was open (each call failed open at once).
    pub skipped: u64,
    /// Calls that missed while another call in this process was computing
    /// the same result, and waited for it instead of running the function
    /// (single-flight, SPEC §9).
    pub flight_waits: u64,
    /// Calls that missed while another caller, maybe in another process,
    /// held the entry's lease, and waited for its value (SPEC §9).
    pub lease_waits: u64,
    /// Hits that recomputed early (refresh ahead, SPEC §9); each is also
    /// counted as a miss, since the function ran.
    pub refreshes: u64,
}

impl StatsSnapshot {
    /// `hits / (hits + misses)`, or 0 when nothing was read.
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }

    fn zip(self, other: Self, op: fn(u64, u64) -> u64) -> Self {
        StatsSnapshot {
            hits: op(self.hits, other.hits),
            misses: op(self.misses, other.misses),
            writes: op(self.writes, other.writes),
            evictions: op(self.evictions, other.evictions),
            decode_failures: op(self.decode_failures, other.decode_failures),
            backend_errors: op(self.backend_errors, other.backend_errors),
            too_large: op(self.too_large, other.too_large),
            skipped: op(self.skipped, other.skipped),
            flight_waits: op(self.flight_waits, other.flight_waits),
            lease_waits: op(self.lease_waits, other.lease_waits),
            refreshes: op(self.refreshes, other.refreshes),
        }
    }
}

impl Add for StatsSnapshot {
    type Output = StatsSnapshot;
    fn add(self, rhs: Self) -> Self {
        self.zip(rhs, u64::saturating_add)
    }
}

impl Sub for StatsSnapshot {
    type Output = StatsSnapshot;
    fn sub(self, rhs: Self) -> Self {
        self.zip(rhs, u64::saturating_sub)
    }
}

/// One kind of event a cache counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Hit,
    Miss,
    Write,
    Evictions(u64),
    DecodeFailure,
    BackendError,
    TooLarge,
    Skipped,
    FlightWait,
    LeaseWait,
    Refresh,
}

impl Event {
    fn as_snapshot(self) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        match self {
            Event::Hit => s.hits = 1,
            Event::Miss => s.misses = 1,
            Event::Write => s.writes = 1,
            Event::Evictions(n) => s.evictions = n,
            Event::DecodeFailure => s.decode_failures = 1,
            Event::BackendError => s.backend_errors = 1,
            Event::TooLarge => s.too_large = 1,
            Event::Skipped => s.skipped = 1,
            Event::FlightWait => s.flight_waits = 1,
            Event::LeaseWait => s.lease_waits = 1,
            Event::Refresh => s.refreshes = 1,
        }
        s
    }
}

/// How many stripes each cache's counters are split into.
const STRIPES: usize = 8;

/// One stripe of counters, alone on its cache line(s).
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
    evictions: AtomicU64,
    decode_failures: AtomicU64,
    backend_errors: AtomicU64,
    too_large: AtomicU64,
    skipped: AtomicU64,
    flight_waits: AtomicU64,
    lease_waits: AtomicU64,
    refreshes: AtomicU64,
}

/// The live counters of one cache.
///
/// Every hit adds to a counter, so threads sharing one counter would pass
/// its cache line back and forth on each call; each thread adds to its own
/// stripe instead, and a snapshot sums the stripes.
#[derive(Debug)]
pub(crate) struct CacheStats {
    stripes: [CachePadded<Counters>; STRIPES],
    /// The same events, for the `metrics` facade (nothing without the
    /// feature).
    metrics: CacheMetrics,
}

/// The stripe this thread adds to: threads take stripes in turn.
fn stripe_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

impl CacheStats {
    /// The counters of the cache named `cache`.
    pub(crate) fn new(cache: &str) -> Self {
        Self::with_metrics(CacheMetrics::new(cache))
    }

    /// Counters whose events go to `metrics` (which may be
    /// [`CacheMetrics::unregistered`], when each function has its own).
    pub(crate) fn with_metrics(metrics: CacheMetrics) -> Self {
        CacheStats {
            stripes: Default::default(),
            metrics,
        }
    }

    /// Where store latencies go.
    pub(crate) fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// Counts `event` here and in the cache's metrics.
    pub(crate) fn record(&self, event: Event) {
        self.metrics.record(event);
        self.count(event);
    }

    /// Counts `event` here only (its metrics go elsewhere: to a
    /// function's handles).
    pub(crate) fn count(&self, event: Event) {
        let counters = &self.stripes[stripe_of_this_thread()];
        let (counter, n) = match event {
            Event::Hit => (&counters.hits, 1),
            Event::Miss => (&counters.misses, 1),
            Event::Write => (&counters.writes, 1),
            Event::Evictions(0) => return,
            Event::Evictions(n) => (&counters.evictions, n),
            Event::DecodeFailure => (&counters.decode_failures, 1),
            Event::BackendError => (&counters.backend_errors, 1),
            Event::TooLarge => (&counters.too_large, 1),
            Event::Skipped => (&counters.skipped, 1),
            Event::FlightWait => (&counters.flight_waits, 1),
            Event::LeaseWait => (&counters.lease_waits, 1),
            Event::Refresh => (&counters.refreshes, 1),
        };
        counter.fetch_add(n, Relaxed);
        SCOPE.with(|scope| {
            if let Some(counts) = scope.get() {
                scope.set(Some(counts + event.as_snapshot()));
            }
        });
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let sum = |field: fn(&Counters) -> &AtomicU64| {
            self.stripes
                .iter()
                .map(|stripe| field(stripe).load(Relaxed))
                .fold(0, u64::saturating_add)
        };
        StatsSnapshot {
            hits: sum(|c| &c.hits),
            misses: sum(|c| &c.misses),
            writes: sum(|c| &c.writes),
            evictions: sum(|c| &c.evictions),
            decode_failures: sum(|c| &c.decode_failures),
            backend_errors: sum(|c| &c.backend_errors),
            too_large: sum(|c| &c.too_large),
            skipped: sum(|c| &c.skipped),
            flight_waits: sum(|c| &c.flight_waits),
            lease_waits: sum(|c| &c.lease_waits),
            refreshes: sum(|c| &c.refreshes),
        }
    }
}

thread_local! {
    static SCOPE: Cell<Option<StatsSnapshot>> = const { Cell::new(None) };
}

/// Runs `f` and returns, with its result, what every cache counted on this
/// thread while it ran. Scopes nest: an outer scope sees the inner counts too.
///
/// ```
/// use redis_func_cache::stats;
/// let (value, counts) = stats::count(|| 42);
/// assert_eq!(value, 42);
/// assert_eq!(counts.hits + counts.misses, 0);
/// ```
pub fn count<R>(f: impl FnOnce() -> R) -> (R, StatsSnapshot) {
    let mut counts = StatsSnapshot::default();
    let out = counted_step(&mut counts, f);
    (out, counts)
}

/// Adds to `counts` what is counted while `f` runs, and passes the same
/// counts on to an enclosing scope.
fn counted_step<R>(counts: &mut StatsSnapshot, f: impl FnOnce() -> R) -> R {
    struct Restore<'a> {
        outer: Option<StatsSnapshot>,
        before: StatsSnapshot,
        counts: &'a mut StatsSnapshot,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let after = SCOPE.with(|s| s.replace(self.outer)).unwrap_or_default();
            let delta = after - self.before;
            *self.counts = after;
            if let Some(outer) = self.outer {
                SCOPE.with(|s| s.set(Some(outer + delta)));
            }
        }
    }
    let before = *counts;
    let outer = SCOPE.with(|s| s.replace(Some(before)));
    let _restore = Restore {
        outer,
        before,
        counts,
    };
    f()
}

/// Wraps a future so that it returns, with its output, what every cache
/// counted while it was polled.
///
/// ```
/// # use redis_func_cache::stats;
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let (v, counts) = rt.block_on(stats::count_async(async { 7 }));
/// assert_eq!((v, counts.writes), (7, 0));
/// ```
pub fn count_async<F: Future>(future: F) -> Counted<F> {
    Counted {
        counts: StatsSnapshot::default(),
        future,
    }
}

pin_project_lite::pin_project! {
    /// A future that counts cache events; see [`count_async`].
    #[derive(Debug)]
    pub struct Counted<F> {
        counts: StatsSnapshot,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = (F::Output, StatsSnapshot);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let future = this.future;
        match counted_step(this.counts, || future.poll(cx)) {
            Poll::Ready(out) => Poll::Ready((out, *this.counts)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let stats = CacheStats::new("test");
        std::thread::scope(|scope| {
            for _ in 0..(STRIPES + 3) {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        stats.record(Event::Hit);
                    }
                    stats.record(Event::Evictions(2));
                });
            }
        });
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.hits, 1000 * (STRIPES as u64 + 3));
        assert_eq!(snapshot.evictions, 2 * (STRIPES as u64 + 3));
        assert_eq!(snapshot.misses, 0);
    }

    /// A task counted across several polls passes each poll's counts, and
    /// only those, to the scope around it.
    #[test]
    fn a_task_polled_many_times_adds_each_count_once_to_the_enclosing_scope() {
        let stats = CacheStats::new("test");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (((), inner), outer) = count(|| {
            rt.block_on(count_async(async {
                for _ in 0..3 {
                    stats.record(Event::Hit);
                    tokio::task::yield_now().await;
                }
                stats.record(Event::Miss);
            }))
        });
        let ((), nested) = count(|| {
            count(|| stats.record(Event::Write));
            stats.record(Event::Write);
        });
        assert_eq!((inner.hits, inner.misses), (3, 1));
        assert_eq!((outer.hits, outer.misses), (3, 1));
        assert_eq!(nested.writes, 2);
    }
}
