//! Call modes (SPEC §8), scoped to a block of code on one thread or to one
//! future (a task), and nestable.
//!
//! What users get (the same as Python's context variables, which a new task
//! copies when it is created): **a cached call keeps the mode in force where
//! it was called**. A cached async call made inside [`Mode::scope`] keeps
//! that mode when it is awaited or spawned later, so
//! `Mode::NoExec.scope(|| cached(1))` followed by `.await`, and
//! `tokio::spawn(cached(1))` inside a scope, both run in the scope's mode.
//! Awaited inside [`Mode::scope_async`], it takes that scope's mode instead
//! (the nearest scope wins, as for nested blocks).
//!
//! What a task does not get: a mode set around `tokio::spawn(async { … })`
//! does not reach cached calls made *inside* the spawned block, since they
//! are called when the task runs, on whichever thread, and Rust's executors
//! offer no hook to copy a value into new tasks. Wrap such a block in
//! [`Mode::scope_async`]:
//!
//! ```
//! use redis_func_cache::Mode;
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! rt.block_on(Mode::ReadOnly.scope_async(async {
//!     // Not inherited: calls made in the spawned block run normally...
//!     let plain = tokio::spawn(async { Mode::current() }).await.unwrap();
//!     assert_eq!(plain, Mode::Normal);
//!     // ...unless the spawned future carries the mode itself.
//!     let carried = tokio::spawn(Mode::current().scope_async(async { Mode::current() }));
//!     assert_eq!(carried.await.unwrap(), Mode::ReadOnly);
//! }));
//! ```

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
    /// The mode of the innermost scope on this thread; `None` outside every
    /// scope (the normal mode, and the place where a call made inside a
    /// scope keeps its own).
    static CURRENT: Cell<Option<Mode>> = const { Cell::new(None) };
}

/// The mode the innermost scope set on this thread, if any.
fn scoped() -> Option<Mode> {
    CURRENT.with(Cell::get)
}

impl Mode {
    /// The mode in force on this thread (or in the future being polled).
    pub fn current() -> Mode {
        scoped().unwrap_or_default()
    }

    /// Runs `f` with this mode in force on this thread; the previous mode
    /// comes back afterwards, even if `f` panics. Cached async calls made
    /// in `f` keep this mode when they are awaited later (see the module
    /// docs); for an `async` block that makes its calls when it runs, use
    /// [`Mode::scope_async`].
    ///
    /// ```
    /// # use redis_func_cache::{FuncCache, FuncId, MemoryStore, Mode, Error};
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let cache = FuncCache::builder("modes").store(MemoryStore::new()).build().unwrap();
    /// static F: FuncId = FuncId::new("doc", "f", 1);
    /// // Made in the no-exec scope, awaited after it: still no-exec.
    /// let call = Mode::NoExec.scope(|| cache.call_async(&F, &1u32, || async { 1u32 }));
    /// assert!(matches!(rt.block_on(call), Err(Error::CacheMiss)));
    /// ```
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _restore = Restore(CURRENT.with(|c| c.replace(Some(self))));
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

struct Restore(Option<Mode>);

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

pin_project_lite::pin_project! {
    /// A cached call's future, which keeps the mode of the scope it was
    /// made in (see [`carry`]).
    #[derive(Debug)]
    pub struct Carried<F> {
        made_in: Option<Mode>,
        #[pin]
        future: F,
    }
}

/// Wraps a cached call's future, made now, so that the mode of the scope
/// it is made in (if any) is in force while it is polled outside every
/// scope. Polled inside a scope, it takes that scope's mode: the nearest
/// scope wins. For the call path and `#[cached]`; see the module docs.
#[doc(hidden)]
pub fn carry<F: Future>(future: F) -> Carried<F> {
    Carried {
        made_in: scoped(),
        future,
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        match (*this.made_in, scoped()) {
            (Some(mode), None) => {
                let future = this.future;
                mode.scope(|| future.poll(cx))
            }
            _ => this.future.poll(cx),
        }
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
