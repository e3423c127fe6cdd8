//! The shared test servers (feature `test-server`) and the differential
//! checks.
#![allow(dead_code, unused_imports)]

pub mod differential;

pub use redis_func_cache_redis::test_server::{
    ClusterServers, CommandStats, Monitor, OwnedServer, Server, command_stats, connected_fred,
};

use redis_func_cache_core::store::AnyStore;
use redis_func_cache_redis::RedisStore;

/// The conformance harness for a store on a real server: time passes by
/// sleeping, and TTLs are checked in units of 100 ms.
pub struct RealTime<S>(pub S);

impl<S: redis_func_cache_core::Store> redis_func_cache_core::conformance::Harness for RealTime<S> {
    type Store = S;
    fn store(&self) -> &S {
        &self.0
    }
    fn advance(&self, by: std::time::Duration) {
        std::thread::sleep(by);
    }
    fn tick(&self) -> std::time::Duration {
        std::time::Duration::from_millis(100)
    }
}

/// A store on the server at `url` for each client, named: redis-rs's, and
/// fred's connected at once.
pub fn stores_of_both_clients(url: &str) -> Vec<(&'static str, AnyStore)> {
    vec![
        ("redis-rs", AnyStore::new(RedisStore::open(url).unwrap())),
        ("fred", AnyStore::new(connected_fred(url))),
    ]
}

/// A two-worker tokio runtime for the async faces of the tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs each of `runs` on a thread of its own named as the run is (so a
/// panic says which case failed), all at once, and waits for them all; a
/// panic in any is re-raised here, so it fails the test. For
/// cases that mostly wait (sleeps, timeouts, fault windows): side by side
/// they take the time of the longest. Each thread has 32 MiB of stack, as
/// TLS handshakes nest deep in debug builds.
pub fn side_by_side<'a>(runs: Vec<(String, Box<dyn FnOnce() + Send + 'a>)>) {
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = runs
            .into_iter()
            .map(|(name, run)| {
                std::thread::Builder::new()
                    .name(name)
                    .stack_size(32 << 20)
                    .spawn_scoped(scope, run)
                    .unwrap()
            })
            .collect();
        threads.into_iter().map(|thread| thread.join()).collect()
    });
    for outcome in outcomes {
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// A barrier for cases run side by side ([`side_by_side`]) that must pass
/// points of a scenario together (a fault that one of them starts for
/// all). Unlike `std::sync::Barrier`, a wait ends in a panic instead of
/// hanging when another case panicked (each case holds a [`PhaseMember`])
/// or when the others have not come within [`PHASE_WAIT_LIMIT`]: a failing
/// case fails the test, never stalls it.
pub struct Phases {
    cases: usize,
    state: std::sync::Mutex<PhaseState>,
    turned: std::sync::Condvar,
}

struct PhaseState {
    arrived: usize,
    phase: u64,
    broken: bool,
}

/// The longest a case waits for the others at one point of [`Phases`].
pub const PHASE_WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Phases {
    /// A barrier for `cases` cases.
    pub fn new(cases: usize) -> Phases {
        Phases {
            cases,
            state: std::sync::Mutex::new(PhaseState {
                arrived: 0,
                phase: 0,
                broken: false,
            }),
            turned: std::sync::Condvar::new(),
        }
    }

    /// A case's membership: dropped while its thread panics, it ends every
    /// other case's wait.
    pub fn member(&self) -> PhaseMember<'_> {
        PhaseMember(self)
    }

    /// Waits until every case has come here, lets one of them do `act`
    /// (a fault that concerns all), and returns once it is done, so every
    /// case goes on from the same point.
    pub fn together(&self, act: impl FnOnce()) {
        if self.wait() {
            act();
        }
        self.wait();
    }

    /// Waits until every case has come here; `true` for exactly one of
    /// them (the last to come), which acts for all.
    fn wait(&self) -> bool {
        let mut state = self.lock();
        assert!(
            !state.broken,
            "another case failed (its panic is told above)"
        );
        let phase = state.phase;
        state.arrived += 1;
        if state.arrived == self.cases {
            state.arrived = 0;
            state.phase += 1;
            self.turned.notify_all();
            return true;
        }
        let until = std::time::Instant::now() + PHASE_WAIT_LIMIT;
        while state.phase == phase && !state.broken {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                state.broken = true;
                self.turned.notify_all();
                drop(state);
                panic!("the other cases did not come within {PHASE_WAIT_LIMIT:?}");
            }
            state = self
                .turned
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        assert!(
            !state.broken,
            "another case failed (its panic is told above)"
        );
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PhaseState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A case's membership in [`Phases`] (see [`Phases::member`]).
pub struct PhaseMember<'a>(&'a Phases);

impl Drop for PhaseMember<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().broken = true;
            self.0.turned.notify_all();
        }
    }
}

/// `CONFIG SET` of each (name, value) on one connection.
pub fn config_set(con: &mut redis::Connection, settings: &[(&str, &str)]) {
    for (name, value) in settings {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(con)
            .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
    }
}

/// How a test calls a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Sync,
    /// Async on a tokio runtime: the connection of that runtime.
    Tokio,
    /// Async on another executor: the connection of the store's runtime.
    OtherExecutor,
}

impl Face {
    pub const ALL: [Face; 3] = [Face::Sync, Face::Tokio, Face::OtherExecutor];

    /// `cache`'s call of `func(k) = k + 1`, made this way (`runtime` for
    /// [`Face::Tokio`]); panics on an error.
    pub fn call_plus_one<S: redis_func_cache_core::Store>(
        self,
        cache: &redis_func_cache_core::FuncCache<S>,
        runtime: &tokio::runtime::Runtime,
        func: &redis_func_cache_core::FuncId,
        k: u32,
    ) -> u32 {
        match self {
            Face::Sync => cache.call(func, &k, || k + 1),
            Face::Tokio => runtime.block_on(cache.call_async(func, &k, async || k + 1)),
            Face::OtherExecutor => {
                futures::executor::block_on(cache.call_async(func, &k, async || k + 1))
            }
        }
        .unwrap()
    }
}

/// Whether a read on a socket with a read timeout only ran out of time.
pub fn read_timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
