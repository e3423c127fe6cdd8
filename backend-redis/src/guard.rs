//! What every store operation passes through: the circuit breaker, and the
//! deadline where the client's own timeouts cannot reach (an async call's
//! whole run, on tokio).

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use redis_func_cache_core::Error;
use redis_func_cache_core::breaker::{Admission, Breaker};
use tracing::Instrument;

use crate::{BACKEND, RedisOptions};

/// A store's breaker and deadline.
#[derive(Debug)]
pub(crate) struct Guard {
    breaker: Breaker,
    deadline: Duration,
}

impl Guard {
    pub(crate) fn new(options: &RedisOptions) -> Self {
        Guard {
            breaker: Breaker::new(BACKEND, options.breaker),
            deadline: options.deadline,
        }
    }

    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Runs a sync operation, whose deadline the connection's own timeouts
    /// keep (check-out, connect, read and write).
    pub(crate) fn sync<R>(&self, op: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
        let admission = self.breaker.admit();
        if admission == Admission::Skip {
            return Err(self.breaker.skipped());
        }
        // A child of the call's span: the part of the call on the network.
        let _span = tracing::trace_span!("redis_op", backend = BACKEND).entered();
        let result = op();
        self.breaker.record(admission, reached(&result));
        result
    }

    /// Runs an async operation within the deadline. On tokio the whole
    /// operation is timed; elsewhere the connection's own timeouts keep it.
    pub(crate) async fn run<R>(
        &self,
        op: impl Future<Output = Result<R, Error>>,
    ) -> Result<R, Error> {
        let admission = self.breaker.admit();
        if admission == Admission::Skip {
            return Err(self.breaker.skipped());
        }
        // On the heap: the operation's state is large in debug builds, and
        // callers nest these futures deeply (a test thread's 2 MiB stack
        // overflowed); one allocation is nothing beside a round trip.
        let op = Box::pin(op.instrument(tracing::trace_span!("redis_op", backend = BACKEND)));
        let result = match self.timer() {
            Some(timer) => {
                let mut op = op;
                let mut timer = std::pin::pin!(timer);
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(result) = op.as_mut().poll(cx) {
                        return Poll::Ready(result);
                    }
                    timer.as_mut().poll(cx).map(|()| Err(self.past_deadline()))
                })
                .await
            }
            None => op.await,
        };
        self.breaker.record(admission, reached(&result));
        result
    }

    /// A timer for the deadline on the caller's tokio runtime; `None`
    /// outside tokio, or on a runtime built without timers (where tokio
    /// panics instead of making one).
    fn timer(&self) -> Option<tokio::time::Sleep> {
        tokio::runtime::Handle::try_current().ok()?;
        let deadline = self.deadline;
        std::panic::catch_unwind(move || tokio::time::sleep(deadline)).ok()
    }

    /// The error of an operation that ran out of time.
    pub(crate) fn past_deadline(&self) -> Error {
        Error::transient_backend(
            BACKEND,
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no reply within the deadline of {:?}", self.deadline),
            ),
        )
    }
}

/// Whether an operation reached the server: anything but a transport
/// failure or a timeout (an error reply, a cluster redirection or
/// `TRYAGAIN` all come from a server that is there).
fn reached<R>(result: &Result<R, Error>) -> bool {
    let Err(Error::Backend { source, .. }) = result else {
        return true;
    };
    if source.downcast_ref::<std::io::Error>().is_some() {
        return false;
    }
    #[cfg(feature = "redis-rs")]
    if let Some(e) = source.downcast_ref::<redis::RedisError>() {
        return !(e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal());
    }
    #[cfg(feature = "redis-rs")]
    if source.downcast_ref::<r2d2::Error>().is_some() {
        // No connection could be checked out or made within the deadline.
        return false;
    }
    #[cfg(feature = "fred")]
    if let Some(e) = source.downcast_ref::<fred::error::Error>() {
        use fred::error::ErrorKind as K;
        return !matches!(e.kind(), K::IO | K::Timeout | K::Canceled);
    }
    true
}
