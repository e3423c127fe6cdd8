//! What every store operation passes through: the circuit breaker, and the
//! deadline where the client's own timeouts cannot reach (an async call's
//! whole run, on tokio).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::Poll;
use std::time::Duration;

use redis_func_cache_core::Error;
use redis_func_cache_core::breaker::{Admission, Breaker, BreakerOptions};
use tracing::Instrument;

use crate::{BACKEND, RedisOptions};

/// How much earlier than the deadline the timers keeping it fire.
const TIMER_LEAD: Duration = Duration::from_millis(2);

/// A store's breakers and deadline.
#[derive(Debug)]
pub(crate) struct Guard {
    breakers: Breakers,
    deadline: Duration,
}

/// The breakers a store's operations pass through: one for a single server.
/// In a cluster, one per hash slot that operations touch (a pair's keys
/// share one slot), so a master that is down or cut off costs only the
/// calls whose pairs live in its slots, and every other pair keeps caching.
/// Per slot rather than per node: no map of slots to nodes to go stale
/// while slots move or a replica takes over, and a cache has few pairs
/// (one per cache, or per cache and function), so few slots and probes.
#[derive(Debug)]
enum Breakers {
    One(Arc<Breaker>),
    PerSlot {
        options: BreakerOptions,
        /// For operations on no one slot (a purge by prefix scans them all).
        unrouted: Arc<Breaker>,
        /// At most 16,384, made on first use.
        slots: RwLock<HashMap<u16, Arc<Breaker>>>,
    },
}

impl Breakers {
    /// Every breaker made so far.
    #[cfg(feature = "redis-rs")]
    fn all(&self) -> Vec<Arc<Breaker>> {
        match self {
            Breakers::One(breaker) => vec![breaker.clone()],
            Breakers::PerSlot {
                unrouted, slots, ..
            } => {
                let slots = slots.read().unwrap_or_else(PoisonError::into_inner);
                std::iter::once(unrouted.clone())
                    .chain(slots.values().cloned())
                    .collect()
            }
        }
    }

    /// The breaker an operation on `key` (if it has one key) passes.
    fn of(&self, key: Option<&str>) -> Arc<Breaker> {
        let (options, unrouted, slots) = match self {
            Breakers::One(breaker) => return breaker.clone(),
            Breakers::PerSlot {
                options,
                unrouted,
                slots,
            } => (options, unrouted, slots),
        };
        let Some(key) = key else {
            return unrouted.clone();
        };
        let slot = key_slot(key.as_bytes());
        if let Some(breaker) = slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&slot)
        {
            return breaker.clone();
        }
        slots
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(slot)
            .or_insert_with(|| Arc::new(Breaker::new(BACKEND, *options)))
            .clone()
    }
}

/// An admitted operation's report to its breaker, made when it ends, also
/// when it never does: an async call dropped mid-way (a caller's timeout,
/// a cancelled task) or a panic. A probe that went unreported would leave
/// the breaker open for good.
struct Admitted {
    breaker: Arc<Breaker>,
    admission: Admission,
    reported: bool,
}

impl Admitted {
    fn report(mut self, served: bool) {
        self.reported = true;
        self.breaker.record(self.admission, served);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        // Unknown whether the server would have answered. A probe is
        // released as a failed one ("wait one more interval"); an ordinary
        // call counts for nothing, so callers that cancel many calls (a
        // `select!` that another branch usually wins) never open a breaker.
        if !self.reported && self.admission == Admission::Probe {
            self.breaker.record(self.admission, false);
        }
    }
}

impl Guard {
    /// The guard of a store on one server, or on a cluster (`cluster`).
    pub(crate) fn new(options: &RedisOptions, cluster: bool) -> Self {
        let breakers = if cluster {
            Breakers::PerSlot {
                options: options.breaker,
                unrouted: Arc::new(Breaker::new(BACKEND, options.breaker)),
                slots: RwLock::new(HashMap::new()),
            }
        } else {
            Breakers::One(Arc::new(Breaker::new(BACKEND, options.breaker)))
        };
        Guard {
            breakers,
            deadline: options.deadline,
        }
    }

    /// The deadline itself, for the redis-rs store's sync paths, whose
    /// socket timeouts and waits keep it.
    #[cfg(feature = "redis-rs")]
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// What a timer that keeps the deadline is set to: a little less,
    /// since a tokio timer fires on the first millisecond tick after its
    /// instant, and the woken task or thread then waits for a core (calls
    /// timed at the whole deadline ended up to 1.8 ms past it).
    pub(crate) fn timer_deadline(&self) -> Duration {
        if self.deadline > TIMER_LEAD * 2 {
            self.deadline - TIMER_LEAD
        } else {
            self.deadline
        }
    }

    /// Lets the next operation through each open breaker probe at once
    /// ([`Breaker::probe_now`]): the store has a new connection that
    /// answered everywhere, so the calls need not wait out the interval.
    /// (fred's store makes no such connection: its clients reconnect on
    /// their own, and a cluster's slot table is read again after a failure.)
    #[cfg(feature = "redis-rs")]
    pub(crate) fn probe_now(&self) {
        for breaker in self.breakers.all() {
            breaker.probe_now();
        }
    }

    /// Lets the next operation through the open breakers of `slots` probe
    /// at once: fred's cluster routes read a slot table that names new
    /// masters for them (a replica took over), so a probe may now get
    /// through where the last one timed out.
    #[cfg(feature = "fred")]
    pub(crate) fn probe_now_in(&self, slots: &[u16]) {
        let Breakers::PerSlot { slots: known, .. } = &self.breakers else {
            return;
        };
        let known = known.read().unwrap_or_else(PoisonError::into_inner);
        for slot in slots {
            if let Some(breaker) = known.get(slot) {
                breaker.probe_now();
            }
        }
    }

    /// Asks the breaker of `key` whether an operation may go to Redis.
    fn admit(&self, key: Option<&str>) -> Result<Admitted, Error> {
        let breaker = self.breakers.of(key);
        let admission = breaker.admit();
        if admission == Admission::Skip {
            return Err(breaker.skipped());
        }
        Ok(Admitted {
            breaker,
            admission,
            reported: false,
        })
    }

    /// Runs a sync operation on `key` (the pair's first key; `None` for an
    /// operation on many slots), whose deadline the connection's own
    /// timeouts keep (check-out, connect, read and write).
    pub(crate) fn sync<R>(
        &self,
        key: Option<&str>,
        op: impl FnOnce() -> Result<R, Error>,
    ) -> Result<R, Error> {
        let admitted = self.admit(key)?;
        // A child of the call's span: the part of the call on the network.
        let _span = tracing::trace_span!("redis_op", backend = BACKEND).entered();
        let result = op();
        admitted.report(served(&result));
        result
    }

    /// Runs an async operation on `key` (as for [`Guard::sync`]) within
    /// the deadline. On tokio the whole operation is timed; elsewhere the
    /// connection's own timeouts keep it. `after_failure` sees the error of
    /// an operation the breaker counts as failed (the store may replace
    /// its connection).
    pub(crate) async fn run<R>(
        &self,
        key: Option<&str>,
        op: impl Future<Output = Result<R, Error>>,
        after_failure: impl FnOnce(&Error),
    ) -> Result<R, Error> {
        let admitted = self.admit(key)?;
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
        admitted.report(served(&result));
        if let Err(e) = &result
            && !reached(&result)
        {
            after_failure(e);
        }
        result
    }

    /// A timer for the deadline on the caller's tokio runtime; `None`
    /// outside tokio, or on a runtime built without timers (where tokio
    /// panics instead of making one).
    fn timer(&self) -> Option<tokio::time::Sleep> {
        tokio::runtime::Handle::try_current().ok()?;
        let deadline = self.timer_deadline();
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

/// Whether an operation reached a working server: anything but a transport
/// failure, a reply that did not parse, a refused handshake or a timeout (an
/// error reply, a cluster redirection or `TRYAGAIN` all come from a server
/// that is there).
pub(crate) fn reached<R>(result: &Result<R, Error>) -> bool {
    let Err(Error::Backend { source, .. }) = result else {
        return true;
    };
    if source.downcast_ref::<std::io::Error>().is_some() {
        return false;
    }
    #[cfg(feature = "redis-rs")]
    if let Some(e) = source.downcast_ref::<redis::RedisError>() {
        // A reply that did not parse: the peer is not a Redis server, or the
        // stream broke (the store converts answers to types itself, so a
        // wrong shape never comes as this kind). A refused handshake (a
        // wrong password, or any other error answer to `AUTH`) leaves no
        // connection to call on, as the sync pool's check-out failure does.
        // No connection to a cluster node: its node is out of reach.
        return !(e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || matches!(
                e.kind(),
                redis::ErrorKind::Parse
                    | redis::ErrorKind::AuthenticationFailed
                    | redis::ErrorKind::ClusterConnectionNotFound
            ));
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

/// Whether an operation's result tells its breaker that the server served
/// it: it reached the server (see [`reached`]), and the server did not
/// answer that it serves no command for now. Such answers come at once,
/// but every call would pay a round trip for nothing for as long as the
/// state lasts (a large dataset loads for minutes), so they count against
/// the breaker as a timeout does, and its probes find when the server
/// serves again. The connection is fine and is kept.
pub(crate) fn served<R>(result: &Result<R, Error>) -> bool {
    reached(result) && !result.as_ref().is_err_and(serves_nothing_now)
}

/// The answers of a server that refuses every command for now, whatever
/// it is: `LOADING` (loading its data after a restart or a full sync),
/// `BUSY` (another client's script or function past
/// `busy-reply-threshold`), `MASTERDOWN` (a replica cut off from its
/// primary, set not to serve stale data), `CLUSTERDOWN` (a cluster without
/// a master for some slot). A refused write (`OOM`, `READONLY`, …), a
/// script's error or a redirection is an answer about this call only.
const SERVES_NOTHING_NOW: [&str; 4] = ["LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN"];

fn serves_nothing_now(error: &Error) -> bool {
    let Error::Backend { source, .. } = error else {
        return false;
    };
    #[cfg(feature = "redis-rs")]
    if let Some(e) = source.downcast_ref::<redis::RedisError>() {
        return e
            .code()
            .is_some_and(|code| SERVES_NOTHING_NOW.contains(&code));
    }
    #[cfg(feature = "fred")]
    if let Some(e) = source.downcast_ref::<fred::error::Error>() {
        // fred keeps the whole answer, code first.
        let code = e.details().split_whitespace().next().unwrap_or_default();
        return SERVES_NOTHING_NOW.contains(&code);
    }
    let _ = source;
    false
}

/// The hash slot of a key, as Redis Cluster computes it: CRC16 (XMODEM) of
/// the key's hash tag (the part between the first `{` and the next `}`, if
/// not empty) or of the whole key, modulo 16,384.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16_xmodem(tagged) % 16384
}

fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_the_clusters() {
        // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_ne!(
            key_slot(b"foo{}{bar}"),
            key_slot(b"bar"),
            "an empty tag hashes the whole key"
        );
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(
            key_slot(b"foo{}{bar}"),
            crc16_xmodem(b"foo{}{bar}") % 16384,
            "the whole key, not the empty tag"
        );
    }

    /// Only a failure to reach a working server counts against the
    /// breaker (and may replace a connection): an error the server
    /// answered with does not.
    #[test]
    fn only_failures_to_reach_the_server_count_as_unreached() {
        use std::io::ErrorKind as Io;
        let transient =
            |e: std::io::Error| -> Result<(), Error> { Err(Error::transient_backend(BACKEND, e)) };
        assert!(reached(&Ok(())));
        assert!(reached::<()>(&Err(Error::CacheMiss)));
        assert!(!reached(&transient(Io::TimedOut.into())));
        #[cfg(feature = "redis-rs")]
        {
            use redis::{ErrorKind as K, RedisError, ServerErrorKind};
            let redis_rs = |e: RedisError| -> Result<(), Error> { Err(Error::backend(BACKEND, e)) };
            for io in [
                Io::Other,
                Io::TimedOut,
                Io::ConnectionReset,
                Io::ConnectionRefused,
            ] {
                let e = RedisError::from(std::io::Error::from(io));
                assert!(!reached(&redis_rs(e)), "{io:?}");
            }
            for kind in [
                K::Parse,
                K::AuthenticationFailed,
                K::ClusterConnectionNotFound,
            ] {
                assert!(!reached(&redis_rs((kind, "x").into())), "{kind:?}");
            }
            for kind in [
                K::Server(ServerErrorKind::ResponseError),
                K::Server(ServerErrorKind::ReadOnly),
                K::Server(ServerErrorKind::Moved),
                K::Extension,
            ] {
                assert!(reached(&redis_rs((kind, "x").into())), "{kind:?}");
            }
        }
        #[cfg(feature = "fred")]
        {
            use fred::error::{Error as FredError, ErrorKind as K};
            for kind in [K::IO, K::Timeout, K::Canceled] {
                let e = Error::backend(BACKEND, FredError::new(kind.clone(), "x"));
                assert!(!reached::<()>(&Err(e)), "{kind:?}");
            }
            for kind in [K::Unknown, K::Auth, K::Routing] {
                let e = Error::backend(BACKEND, FredError::new(kind.clone(), "x"));
                assert!(reached::<()>(&Err(e)), "{kind:?}");
            }
        }
    }

    /// A server that answers that it serves nothing for now (loading its
    /// data, busy with a slow script, a replica cut off, a cluster down)
    /// was reached, so its connection is kept, but the answer counts
    /// against the breaker; an answer about the call itself does not.
    #[test]
    fn answers_that_serve_nothing_now_count_against_the_breaker() {
        let answers = [
            ("LOADING Redis is loading the dataset in memory", false),
            (
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
                false,
            ),
            (
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
                false,
            ),
            ("CLUSTERDOWN The cluster is down", false),
            ("BUSYGROUP Consumer Group name already exists", true),
            (
                "OOM command not allowed when used memory > 'maxmemory'.",
                true,
            ),
            (
                "READONLY You can't write against a read only replica.",
                true,
            ),
            (
                "TRYAGAIN Multiple keys request during rehashing of slot",
                true,
            ),
            ("ERR Error running script, loading the dataset", true),
            ("NOSCRIPT No matching script.", true),
        ];
        for (answer, served_it) in answers {
            #[cfg(feature = "redis-rs")]
            {
                let reply = redis::parse_redis_value(format!("-{answer}\r\n").as_bytes())
                    .and_then(redis::Value::extract_error);
                let result: Result<(), Error> =
                    Err(Error::backend(BACKEND, reply.expect_err("an error answer")));
                assert!(reached(&result), "redis-rs {answer}");
                assert_eq!(served(&result), served_it, "redis-rs {answer}");
            }
            #[cfg(feature = "fred")]
            {
                let e = fred::error::Error::new(fred::error::ErrorKind::Unknown, answer);
                let result: Result<(), Error> = Err(Error::backend(BACKEND, e));
                assert!(reached(&result), "fred {answer}");
                assert_eq!(served(&result), served_it, "fred {answer}");
            }
        }
        assert!(served(&Ok(())));
        assert!(!served::<()>(&Err(Error::transient_backend(
            BACKEND,
            std::io::Error::from(std::io::ErrorKind::TimedOut),
        ))));
    }

    /// An async call on tokio ends at the deadline however long the
    /// operation would take; `after_failure` hears of a call the breaker
    /// counts as failed, and of no other.
    #[test]
    fn an_async_call_ends_at_the_deadline_and_reports_its_failure() {
        let deadline = Duration::from_millis(50);
        let guard = Guard::new(&RedisOptions::default().deadline(deadline), false);
        #[cfg(feature = "redis-rs")]
        assert_eq!(guard.deadline(), deadline);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let heard = std::sync::Mutex::new(Vec::new());
        let hear = |e: &Error| heard.lock().unwrap().push(e.to_string());
        let start = std::time::Instant::now();
        let late = runtime.block_on(async {
            let call = guard.run(None, std::future::pending::<Result<(), Error>>(), hear);
            tokio::time::timeout(Duration::from_secs(5), call).await
        });
        let late = late.expect("ended by the store's deadline, not the test's");
        assert!(late.is_err());
        assert!(
            start.elapsed() >= deadline - TIMER_LEAD,
            "{:?}",
            start.elapsed()
        );
        assert_eq!(heard.lock().unwrap().len(), 1, "the timeout is heard");

        let answered =
            runtime.block_on(guard.run(None, async { Err::<(), _>(Error::CacheMiss) }, hear));
        assert!(answered.is_err());
        assert_eq!(heard.lock().unwrap().len(), 1, "an answer is not a failure");
    }

    /// An operation whose connection was refused: a failure the breaker
    /// counts.
    fn refused() -> Result<(), Error> {
        Err(Error::transient_backend(
            BACKEND,
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        ))
    }

    /// After a renewal the next call of every open slot probes, and the
    /// unrouted breaker's too; a closed one stays closed.
    #[test]
    #[cfg(feature = "redis-rs")]
    fn probe_now_reaches_every_slots_breaker() {
        let guard = Guard::new(&RedisOptions::default(), true);
        let open = [Some("{a}:0"), Some("{b}:0"), None];
        for key in open {
            for _ in 0..3 {
                assert!(guard.sync(key, refused).is_err());
            }
            assert!(
                matches!(guard.sync(key, || Ok(())), Err(Error::Skipped { .. })),
                "{key:?}: open"
            );
        }
        assert!(guard.sync(Some("{c}:0"), || Ok(())).is_ok());
        guard.probe_now();
        for key in open {
            assert!(
                guard.sync(key, || Ok(())).is_ok(),
                "{key:?}: probed, closed"
            );
        }
        assert!(guard.sync(Some("{c}:0"), || Ok(())).is_ok());
    }

    /// A new master for some slots lets only their open breakers probe.
    #[test]
    #[cfg(feature = "fred")]
    fn probe_now_in_reaches_only_the_slots_named() {
        let guard = Guard::new(&RedisOptions::default(), true);
        let (moved, stayed) = ("{a}:0", "{b}:0");
        for key in [moved, stayed] {
            for _ in 0..3 {
                assert!(guard.sync(Some(key), refused).is_err());
            }
        }
        guard.probe_now_in(&[key_slot(moved.as_bytes()), 42]);
        assert!(guard.sync(Some(moved), || Ok(())).is_ok(), "probed, closed");
        assert!(
            matches!(
                guard.sync(Some(stayed), || Ok(())),
                Err(Error::Skipped { .. })
            ),
            "still waits for its probe"
        );
    }

    #[test]
    fn a_dead_slot_opens_only_its_own_breaker() {
        let guard = Guard::new(&RedisOptions::default(), true);
        let (dead, alive) = ("{a}:0", "{b}:0");
        assert_ne!(key_slot(dead.as_bytes()), key_slot(alive.as_bytes()));
        for _ in 0..3 {
            assert!(guard.sync(Some(dead), refused).is_err());
            assert!(guard.sync(Some(alive), || Ok(())).is_ok());
        }
        assert!(
            matches!(
                guard.sync(Some(dead), || Ok(())),
                Err(Error::Skipped { .. })
            ),
            "the dead slot's breaker is open"
        );
        assert!(
            guard.sync(Some(alive), || Ok(())).is_ok(),
            "the other slot still goes"
        );
        assert!(
            guard.sync(None, || Ok(())).is_ok(),
            "and so do operations on no one slot"
        );

        // On one server, one breaker: the same failures open it for all.
        let guard = Guard::new(&RedisOptions::default(), false);
        for _ in 0..3 {
            assert!(guard.sync(Some(dead), refused).is_err());
        }
        assert!(matches!(
            guard.sync(Some(alive), || Ok(())),
            Err(Error::Skipped { .. })
        ));
    }

    #[test]
    fn a_cancelled_probe_does_not_leave_the_breaker_open_for_good() {
        let options = RedisOptions::default().breaker(
            BreakerOptions::default()
                .probe_interval(Duration::from_millis(20))
                .max_probe_interval(Duration::from_millis(20)),
        );
        let guard = Guard::new(&options, false);
        for _ in 0..3 {
            let _ = guard.sync(None, refused);
        }
        std::thread::sleep(Duration::from_millis(30));
        // The probe's future is dropped before it ends (a caller's timeout).
        let probe = guard.run(None, std::future::pending::<Result<(), Error>>(), |_| {});
        let waker = std::task::Waker::noop();
        let mut probe = Box::pin(probe);
        assert!(
            probe
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker))
                .is_pending()
        );
        drop(probe);
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            guard.sync(None, || Ok(())).is_ok(),
            "the next interval's probe goes, and closes the breaker"
        );
        assert!(guard.sync(None, || Ok(())).is_ok());
    }

    #[test]
    fn tokio_timers_keep_the_deadline_a_little_early() {
        let timer = |ms| {
            Guard::new(
                &RedisOptions::default().deadline(Duration::from_millis(ms)),
                false,
            )
            .timer_deadline()
        };
        assert_eq!(timer(250), Duration::from_millis(248));
        assert_eq!(timer(5), Duration::from_millis(3));
        assert_eq!(timer(4), Duration::from_millis(4), "too short to shorten");
        assert_eq!(timer(1), Duration::from_millis(1));
    }

    #[test]
    fn cancelled_calls_never_open_the_breaker() {
        let guard = Guard::new(&RedisOptions::default(), false);
        let waker = std::task::Waker::noop();
        for _ in 0..10 {
            let mut call =
                Box::pin(guard.run(None, std::future::pending::<Result<(), Error>>(), |_| {}));
            let mut cx = std::task::Context::from_waker(waker);
            assert!(call.as_mut().poll(&mut cx).is_pending());
            drop(call);
        }
        assert!(guard.sync(None, || Ok(())).is_ok(), "still closed");
    }
}
