//! Call modes (SPEC §8), scoped to a block of code on one thread or to one
//! future (a task), and nestable.
//!
//! A mode belongs to the code that set it: a block ([`Mode::scope`]) or a
//! future ([`Mode::scope_async`]). It does not travel on its own to a task
//! spawned inside, which tokio may run on another thread (Python's context
//! variables copy themselves into new tasks; Rust's executors offer no hook
//! for that). Wrap what you spawn instead:
//!
//! ```
//! use redis_func_cache::Mode;
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! rt.block_on(Mode::ReadOnly.scope_async(async {
//!     // Not inherited: the spawned task runs in the normal mode...
//!     let plain = tokio::spawn(async { Mode::current() }).await.unwrap();
//!     assert_eq!(plain, Mode::Normal);
//!     // ...unless the spawned future carries the mode itself.
//!     let carried = tokio::spawn(Mode::current().scope_async(async { Mode::current() }));
//!     assert_eq!(carried.await.unwrap(), Mode::ReadOnly);
//! }));
//! ```
//!
//! For async code use [`Mode::scope_async`]: `Mode::NoExec.scope(|| fut)`
//! only sets the mode while the future is *created*, not while it runs, so
//! the calls it makes when awaited run in the surrounding mode.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a cached call may do.
///
/// ```
/// use redis_func_cache::Mode;
/// assert_eq!(Mode::current(), Mode::Normal);
/// let inner = Mode::Bypass.scope(|| Mode::current());
/// assert_eq!(inner, Mode::Bypass);
/// assert_eq!(Mode::current(), Mode::Normal);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Read; on a miss run the function and write its result.
    #[default]
    Normal,
    /// Read; on a miss run the function, but never write.
    ReadOnly,
    /// Never read; always run the function and write its result (a refresh).
    WriteOnly,
    /// Neither read nor write: just run the function.
    Bypass,
    /// Read only; a miss is [`Error::CacheMiss`](crate::Error::CacheMiss) and
    /// the function never runs.
    NoExec,
}

thread_local! {
    static CURRENT: Cell<Mode> = const { Cell::new(Mode::Normal) };
}

impl Mode {
    /// The mode in force on this thread (or in the future being polled).
    pub fn current() -> Mode {
        CURRENT.with(Cell::get)
    }

    /// Runs `f` with this mode in force on this thread; the previous mode
    /// comes back afterwards, even if `f` panics. For a future, use
    /// [`Mode::scope_async`]: a future returned from `f` runs later,
    /// outside this scope.
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _restore = Restore(CURRENT.with(|c| c.replace(self)));
        f()
    }

    /// Wraps a future so that this mode is in force while it is polled,
    /// whichever thread polls it.
    ///
    /// ```
    /// # use redis_func_cache::Mode;
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let seen = rt.block_on(Mode::ReadOnly.scope_async(async { Mode::current() }));
    /// assert_eq!(seen, Mode::ReadOnly);
    /// ```
    pub fn scope_async<F: Future>(self, future: F) -> WithMode<F> {
        WithMode { mode: self, future }
    }

    /// Whether the cache is read.
    pub const fn reads(self) -> bool {
        matches!(self, Mode::Normal | Mode::ReadOnly | Mode::NoExec)
    }

    /// Whether a computed result is written.
    pub const fn writes(self) -> bool {
        matches!(self, Mode::Normal | Mode::WriteOnly)
    }

    /// Whether the function may run.
    pub const fn executes(self) -> bool {
        !matches!(self, Mode::NoExec)
    }
}

struct Restore(Mode);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

pin_project_lite::pin_project! {
    /// A future with a [`Mode`] in force while it runs; see [`Mode::scope_async`].
    #[derive(Debug)]
    pub struct WithMode<F> {
        mode: Mode,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for WithMode<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mode = *this.mode;
        let future = this.future;
        mode.scope(|| future.poll(cx))
    }
}
