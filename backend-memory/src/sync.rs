//! The locks and atomics the store is built on: std, parking_lot,
//! crossbeam and arc-swap normally; shuttle's when built with
//! `RUSTFLAGS="--cfg shuttle"`, so `tests/shuttle.rs` can run the store's
//! concurrent paths under shuttle's scheduler and explore their
//! interleavings. Nothing else in the crate names a lock's crate.

#[cfg(not(shuttle))]
pub(crate) use arc_swap::ArcSwap;
#[cfg(not(shuttle))]
pub(crate) use crossbeam_utils::sync::{
    ShardedLock as RwLock, ShardedLockWriteGuard as RwLockWriteGuard,
};
#[cfg(not(shuttle))]
pub(crate) use parking_lot::Mutex;
#[cfg(not(shuttle))]
pub(crate) use std::sync::atomic::AtomicU64;
#[cfg(not(shuttle))]
pub(crate) use std::thread_local;

#[cfg(shuttle)]
pub(crate) use modelled::{ArcSwap, Mutex};
#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::AtomicU64;
#[cfg(shuttle)]
pub(crate) use shuttle::sync::{RwLock, RwLockWriteGuard};
#[cfg(shuttle)]
pub(crate) use shuttle::thread_local;

/// The parts of parking_lot's `Mutex` and arc-swap's `ArcSwap` the store
/// uses, on shuttle's primitives.
#[cfg(shuttle)]
mod modelled {
    use std::sync::{Arc, PoisonError};

    /// A mutex whose `lock` returns the guard, as parking_lot's does.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(shuttle::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(shuttle::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> shuttle::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    /// An `Arc` swapped whole, as arc-swap's `ArcSwap` is (here under a
    /// lock, which shuttle schedules).
    #[derive(Debug)]
    pub(crate) struct ArcSwap<T>(shuttle::sync::RwLock<Arc<T>>);

    impl<T> ArcSwap<T> {
        pub(crate) fn from_pointee(value: T) -> Self {
            ArcSwap(shuttle::sync::RwLock::new(Arc::new(value)))
        }

        pub(crate) fn load(&self) -> Arc<T> {
            self.load_full()
        }

        pub(crate) fn load_full(&self) -> Arc<T> {
            Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
        }

        pub(crate) fn store(&self, value: Arc<T>) {
            *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
        }
    }
}
