//! Replacing a connection in the background, one attempt at a time.
//!
//! redis-rs keeps a connection that stopped answering: its
//! `ConnectionManager` connects again only after an I/O error, and its
//! cluster client keeps a node's connection after timeouts. So one that
//! went silent (a firewall or NAT that lost its state, a moved virtual IP:
//! neither closed nor reset) would time out every call for good. Dropping
//! it is no cure: in a cluster a new connection connects to every node, and
//! while one node hung that held up the calls on the healthy ones
//! (`cluster_faults.rs`); on one server the next call then waits for a
//! connect and a handshake, which on a slow link outlast the deadline. So a
//! new connection is made beside the old one, and the store takes it only
//! once it has answered (on every master); until then calls keep going on
//! the old one. An attempt tries until its time is up (in a cluster whose
//! master hangs, the try after its replica took over is the one that
//! succeeds), and a connection taken lets the open breakers probe at once.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether an attempt is under way; shared by the store's attempts.
#[derive(Debug, Default)]
pub(crate) struct Renewals {
    running: AtomicBool,
    /// Another attempt was asked for while one ran: if that one fails, the
    /// next follows it at once, so the failures of an outage (a probe
    /// interval apart) leave no time without an attempt.
    again: AtomicBool,
}

/// Clears [`Renewals::running`] when the attempt's task ends, however it
/// ends (done, timed out, panicked, or dropped with its runtime).
struct Running(Arc<Renewals>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

impl Renewals {
    /// Spawns an attempt made by `attempt` on `runtime`, given at most
    /// `within`, unless one is under way (then one more is made after it,
    /// if it fails: its answer says whether it renewed). The next one may
    /// start `spacing` after this one started, at the earliest: failures
    /// come at the call rate before the breaker opens, and each attempt
    /// connects to every node. A runtime without timers gets no attempt
    /// (tokio panics instead of making a timer there).
    pub(crate) fn start<F, Fut>(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        within: Duration,
        spacing: Duration,
        attempt: F,
    ) where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        if self.running.swap(true, Ordering::AcqRel) {
            self.again.store(true, Ordering::Release);
            return;
        }
        self.again.store(false, Ordering::Release);
        let running = Running(Arc::clone(self));
        let _context = runtime.enter();
        let timed = std::panic::catch_unwind(AssertUnwindSafe(|| {
            (
                tokio::time::timeout(within, attempt()),
                tokio::time::sleep(spacing),
            )
        }));
        let Ok((first, spaced)) = timed else {
            return;
        };
        let renewals = Arc::clone(self);
        runtime.spawn(async move {
            let _running = running;
            let (mut timed, mut spaced) = (first, spaced);
            loop {
                let renewed = match timed.await {
                    Ok(renewed) => renewed,
                    Err(_) => {
                        tracing::debug!(
                            ?within,
                            "no new connection that answers everywhere in time"
                        );
                        false
                    }
                };
                spaced.await;
                if renewed || !renewals.again.swap(false, Ordering::AcqRel) {
                    return;
                }
                timed = tokio::time::timeout(within, attempt());
                spaced = tokio::time::sleep(spacing);
            }
        });
    }
}

/// Runs `try_once` until it answers true (done), the tries' starts a
/// `deadline` apart: a try that ended early waits out the rest, one that
/// took the whole deadline (waiting on a node that hangs) goes again at
/// once. Spaced end to start instead, a renewal found a failover up to two
/// deadlines after the new master served, not one.
pub(crate) async fn tries_a_deadline_apart<F, Fut>(deadline: Duration, mut try_once: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        let started = tokio::time::Instant::now();
        if try_once().await {
            return true;
        }
        tokio::time::sleep_until(started + deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    /// An attempt that counts its starts in `started` and says `renews`.
    fn counting(
        started: &Arc<AtomicUsize>,
        renews: bool,
    ) -> impl Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Clone + Send + 'static {
        let started = Arc::clone(started);
        move || {
            let started = Arc::clone(&started);
            Box::pin(async move {
                started.fetch_add(1, Ordering::SeqCst);
                renews
            })
        }
    }

    /// Each try's start, from a paused clock, of tries that take
    /// `lasting[i]` and fail until the last.
    fn starts_of_tries(lasting: &[u64]) -> Vec<u64> {
        let runtime = runtime();
        runtime.block_on(async {
            let begin = tokio::time::Instant::now();
            let mut starts = Vec::new();
            let mut n = 0;
            tries_a_deadline_apart(Duration::from_millis(250), || {
                let started = begin.elapsed().as_millis() as u64;
                starts.push(started);
                let (lasts, last) = (lasting[n], n + 1 == lasting.len());
                n += 1;
                async move {
                    tokio::time::sleep(Duration::from_millis(lasts)).await;
                    last
                }
            })
            .await;
            starts
        })
    }

    #[test]
    fn tries_start_a_deadline_apart() {
        assert_eq!(
            starts_of_tries(&[0, 10, 0]),
            [0, 250, 500],
            "quick failures wait"
        );
        assert_eq!(
            starts_of_tries(&[250, 250, 100, 0]),
            [0, 250, 500, 750],
            "a try that waited out the deadline goes again at once"
        );
        assert_eq!(starts_of_tries(&[400, 0]), [0, 400], "even a late one");
    }

    #[test]
    fn one_attempt_at_a_time_spaced() {
        let runtime = runtime();
        let renewals = Arc::new(Renewals::default());
        let started = Arc::new(AtomicUsize::new(0));
        let spacing = Duration::from_secs(1);
        let within = Duration::from_millis(100);
        runtime.block_on(async {
            let handle = tokio::runtime::Handle::current();
            renewals.start(&handle, within, spacing, counting(&started, true));
            renewals.start(&handle, within, spacing, counting(&started, true));
            tokio::time::sleep(spacing / 2).await;
            assert_eq!(started.load(Ordering::SeqCst), 1, "one at a time");
            renewals.start(&handle, within, spacing, counting(&started, true));
            tokio::time::sleep(spacing / 2 + Duration::from_millis(1)).await;
            assert_eq!(started.load(Ordering::SeqCst), 1, "spaced");
            renewals.start(&handle, within, spacing, counting(&started, true));
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert_eq!(started.load(Ordering::SeqCst), 2, "after the spacing");
        });
    }

    /// A failed attempt that was asked for again meanwhile is followed by
    /// another once the spacing is over; one asked for once is not.
    #[test]
    fn a_failed_attempt_asked_for_again_runs_again_after_the_spacing() {
        let runtime = runtime();
        let renewals = Arc::new(Renewals::default());
        let started = Arc::new(AtomicUsize::new(0));
        let failing = counting(&started, false);
        let spacing = Duration::from_secs(1);
        let within = Duration::from_millis(100);
        runtime.block_on(async {
            let handle = tokio::runtime::Handle::current();
            renewals.start(&handle, within, spacing, failing.clone());
            tokio::time::sleep(spacing + Duration::from_millis(1)).await;
            assert_eq!(started.load(Ordering::SeqCst), 1, "asked for once");
            assert!(!renewals.running.load(Ordering::Acquire));
            renewals.start(&handle, within, spacing, failing.clone());
            renewals.start(&handle, within, spacing, failing.clone());
            tokio::time::sleep(spacing / 2).await;
            assert_eq!(started.load(Ordering::SeqCst), 2, "not before the spacing");
            tokio::time::sleep(spacing / 2 + Duration::from_millis(1)).await;
            assert_eq!(started.load(Ordering::SeqCst), 3, "again after it");
            tokio::time::sleep(spacing * 2).await;
            assert_eq!(started.load(Ordering::SeqCst), 3, "and then no more");
        });
    }

    #[test]
    fn an_attempt_that_hangs_ends_within_its_time() {
        let runtime = runtime();
        let renewals = Arc::new(Renewals::default());
        runtime.block_on(async {
            let handle = tokio::runtime::Handle::current();
            let within = Duration::from_millis(100);
            renewals.start(&handle, within, within, std::future::pending::<bool>);
            tokio::time::sleep(within * 2).await;
            assert!(!renewals.running.load(Ordering::Acquire));
        });
    }

    /// (tokio's panic message is printed, then caught.)
    #[test]
    fn a_runtime_without_timers_gets_no_attempt() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let renewals = Arc::new(Renewals::default());
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        renewals.start(
            runtime.handle(),
            Duration::from_millis(1),
            Duration::from_millis(1),
            move || {
                let flag = Arc::clone(&flag);
                async move {
                    flag.store(true, Ordering::SeqCst);
                    true
                }
            },
        );
        runtime.block_on(tokio::task::yield_now());
        assert!(!ran.load(Ordering::SeqCst));
        assert!(!renewals.running.load(Ordering::Acquire), "free again");
    }
}
