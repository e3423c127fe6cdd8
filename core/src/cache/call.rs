//! The call path: read, on a miss compute once (single-flight), write, and
//! carry on without the cache when the store fails.

use std::future::Future;
use std::time::{Duration, Instant};

use tracing::{Instrument, Span};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::flight::{Landing, Lead, Turn};
use super::lease::LeaseWait;
use super::refresh::now_us;
use super::tally::Tally;
use super::{FuncCache, OnStoreError, RemovalCause};
use crate::envelope::{self, RefreshStamp};
use crate::error::{BoxError, Error};
use crate::identity::{FuncId, InvocationHash};
use crate::keys::KeyPair;
use crate::mode::Mode;
use crate::serializer::Serializer;
use crate::stats::Event;
use crate::store::{GetRequest, Leased, Lookup, PutOutcome, PutRequest, Store, StoredValue};
use crate::telemetry::{StoreClock, StoreOp};

/// The call path, written once for both callers: the sync and the async
/// path differ only in how they wait (`.await` or not), in the store methods
/// they call and in how they pause, so one body serves both and a change to
/// the path cannot reach one caller and miss the other. The body is the
/// caller's own: its `return`s and `?`s leave the calling method.
macro_rules! call_path {
    (
        [$($aw:tt)*] $self:ident, $span:ident, $func:ident, $key:ident,
        $lease:ident, $f:ident, $lift:ident,
        get: $get:ident, get_or_lease: $get_or_lease:ident, put: $put:ident,
        wait: $wait:ident, run: $run:ident, pause: $pause:path $(,)?
    ) => {{
        let lease_time = $lease.or($self.lease);
        let tally = $self.tally($func);
        let mode = Mode::current();
        let member = match $self.usable_key($key, mode) {
            Ok(Some(member)) => member,
            Ok(None) => return $f() $($aw)*,
            Err(e) => match $lift(e) {
                Some(e) => return Err(e),
                None => return $f() $($aw)*,
            },
        };
        let pair = $self.pair($func);
        let mut lead = None;
        // The read failed as an unreachable or slow store does (a lost
        // connection, a timeout, an open breaker): the write is not tried
        // either, so a call that fails open costs at most one deadline
        // besides the function, not two.
        let mut unanswered = false;
        if mode.reads() {
            let req = $self.get_request(&pair, member);
            let refresh = refreshes_ahead(mode);
            let clock = StoreClock::start();
            let traced = $span.clock();
            let read = match lease_time.filter(|_| mode.writes()) {
                None => $self.plain_read(&tally, $self.store.$get(&req) $($aw)*, refresh),
                Some(lease) => {
                    $self.leased_read(&tally, $self.store.$get_or_lease(&req, lease) $($aw)*, refresh)
                }
            };
            tally.store_time(StoreOp::Get, clock);
            $span.store_time(traced);
            let lease = match read {
                Ok(Read::Hit(value)) => {
                    $span.record("outcome", "hit");
                    return Ok(value);
                }
                Ok(Read::Miss(lease)) => lease,
                Ok(Read::Unanswered) => {
                    unanswered = true;
                    Lease::NotTaken
                }
                Err(e) => {
                    unanswered = e.is_transient();
                    lifted($lift(e))?;
                    Lease::NotTaken
                }
            };
            if miss_is_an_error(mode) {
                lifted($lift(Error::CacheMiss))?;
            }
            if let Some(flights) = &$self.flights {
                loop {
                    match flights.join(member) {
                        Turn::Lead(l) => {
                            lead = Some(l);
                            break;
                        }
                        Turn::Recursive => return $f() $($aw)*,
                        // This caller holds the lease; the flight's leader
                        // is waiting for whoever holds it, so compute.
                        Turn::Wait(_) if lease.is_ours() => break,
                        Turn::Wait(waiting) => {
                            tally.record(Event::FlightWait);
                            match $self.shared::<T>(waiting.$wait() $($aw)*) {
                                Shared::Value(value) => {
                                    $span.record("outcome", "waited");
                                    return Ok(value);
                                }
                                Shared::RunUncached => return $f() $($aw)*,
                                Shared::TryAgain => {}
                            }
                        }
                    }
                }
            }
            if let (Lease::Held(mut left), Some(lease)) = (lease, lease_time) {
                // Another caller, maybe in another process, holds the
                // lease: wait for its value, or for the lease to end.
                tally.record(Event::LeaseWait);
                let mut wait = LeaseWait::new(lease);
                while let Some(pause) = wait.next_pause(left) {
                    $pause(pause) $($aw)*;
                    let got = $self.store.$get_or_lease(&req, lease) $($aw)*;
                    match $self.after_pause::<T>(&tally, got) {
                        Waited::Value(value, framed) => {
                            $span.record("outcome", "waited");
                            land(lead, Some(framed));
                            return Ok(value);
                        }
                        Waited::Held(still) => left = still,
                        Waited::Compute => break,
                    }
                }
            }
        }
        let started = Instant::now();
        let value = match &lead {
            Some(lead) => lead.$run($f) $($aw)*?,
            None => $f() $($aw)*?,
        };
        let took = started.elapsed();
        if encodes_result(mode, lead.is_some()) {
            let (req, encode_error) =
                $self.encoded(&tally, &pair, member, &value, lease_time.is_some(), took);
            let mut put_error = None;
            if let (Some(req), true) = (&req, puts_result(mode, unanswered)) {
                let clock = StoreClock::start();
                let outcome = $self.store.$put(req) $($aw)*;
                tally.store_time(StoreOp::Put, clock);
                put_error = $self.record_put(&tally, outcome).err();
            }
            land(lead, req.map(|r| r.value));
            // A result that does not encode matters to the caller only
            // where it was to be written: a flight's waiters just run the
            // function themselves.
            let encode_error = encode_error.filter(|_| mode.writes());
            if let Some(e) = encode_error.or(put_error) {
                lifted($lift(e))?;
            }
        }
        $span.record("outcome", "miss");
        Ok(value)
    }};
}

impl<S: Store, Z: Serializer> FuncCache<S, Z> {
    /// Calls `f` through the cache: returns the cached result of `func` for
    /// `args` if there is one, else runs `f` and caches what it returns.
    ///
    /// `args` is anything serde can serialize, usually a tuple. The mode in
    /// force ([`Mode::scope`]) decides whether the cache is read and written.
    /// Errors: [`Error::CacheMiss`] in no-exec mode, store errors only with
    /// [`OnStoreError::Propagate`].
    pub fn call<A, T, F>(&self, func: &FuncId, args: &A, f: F) -> Result<T, Error>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        self.try_call_keyed(func, func.invocation_hash(args), || Ok(f()))
    }

    /// Like [`call`](FuncCache::call) for a function that can fail: an `Err`
    /// is returned to the caller and never cached. Cache errors reach the
    /// caller through `E: From<Error>`.
    pub fn try_call<A, T, E, F>(&self, func: &FuncId, args: &A, f: F) -> Result<T, E>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Result<T, E>,
    {
        self.try_call_keyed(func, func.invocation_hash(args), f)
    }

    /// [`call`](FuncCache::call) for async functions.
    ///
    /// The arguments are hashed, and the [`Mode`] in force is taken, when
    /// this is called, not when the future is first polled: a call made in
    /// a [`Mode::scope`] keeps its mode when it is awaited or spawned later
    /// (see [`mode`](crate::mode)).
    pub fn call_async<'a, A, T, F, Fut>(
        &'a self,
        func: &'a FuncId,
        args: &A,
        f: F,
    ) -> impl Future<Output = Result<T, Error>> + use<'a, A, T, F, Fut, S, Z>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let key = func.invocation_hash(args);
        crate::mode::carry(self.try_call_keyed_async(func, key, || async { Ok(f().await) }))
    }

    /// [`try_call`](FuncCache::try_call) for async functions; its mode is
    /// taken when it is called, as for [`call_async`](FuncCache::call_async).
    pub fn try_call_async<'a, A, T, E, F, Fut>(
        &'a self,
        func: &'a FuncId,
        args: &A,
        f: F,
    ) -> impl Future<Output = Result<T, E>> + use<'a, A, T, E, F, Fut, S, Z>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = func.invocation_hash(args);
        crate::mode::carry(self.try_call_keyed_async(func, key, f))
    }

    /// The general sync call, with the invocation hash computed beforehand
    /// (the `#[cached]` macro hashes the arguments before moving them into the
    /// function body). A hash that could not be computed runs `f` uncached
    /// (or is returned, with [`OnStoreError::Propagate`]).
    #[doc(hidden)]
    pub fn try_call_keyed<T, E, F>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Result<T, E>,
    {
        self.try_call_keyed_with(func, key, f, |e| Some(E::from(e)))
    }

    /// [`try_call_keyed`](FuncCache::try_call_keyed) for callers whose error
    /// type cannot hold a cache error (`io::Error`, a plain value): `lift`
    /// turns each cache error into the caller's error, or returns `None` to
    /// carry on without the cache (the function runs, or its result is
    /// returned unstored). In a mode that may not run the function
    /// ([`Mode::NoExec`]) there is nothing to carry on with, so `lift` must
    /// return `Some` there; if it does not, the function runs.
    #[doc(hidden)]
    pub fn try_call_keyed_with<T, E, F, L>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T, E>,
        L: Fn(Error) -> Option<E>,
    {
        self.try_call_keyed_leased(func, key, None, f, lift)
    }

    /// [`try_call_keyed_with`](FuncCache::try_call_keyed_with) with the
    /// lease of one function (the macro's `lease_ms`), which overrides the
    /// cache's.
    #[doc(hidden)]
    pub fn try_call_keyed_leased<T, E, F, L>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T, E>,
        L: Fn(Error) -> Option<E>,
    {
        let trace = CallTrace::start(&self.name, func);
        match &trace.0 {
            None => self.call_in(&trace, func, key, lease, f, lift),
            Some(span) => {
                let _entered = span.enter();
                self.call_in(&trace, func, key, lease, f, lift)
            }
        }
    }

    /// The call, inside its span. Inlined: a call frame here would cost a
    /// hit more than the span check it exists for.
    #[inline(always)]
    fn call_in<T, E, F, L>(
        &self,
        span: &CallTrace,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T, E>,
        L: Fn(Error) -> Option<E>,
    {
        call_path!(
            [] self, span, func, key, lease, f, lift,
            get: get, get_or_lease: get_or_lease, put: put,
            wait: wait, run: run, pause: std::thread::sleep,
        )
    }

    /// [`try_call_keyed`](FuncCache::try_call_keyed) for async functions.
    #[doc(hidden)]
    pub async fn try_call_keyed_async<T, E, F, Fut>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<Error>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.try_call_keyed_with_async(func, key, f, |e| Some(E::from(e)))
            .await
    }

    /// [`try_call_keyed_with`](FuncCache::try_call_keyed_with) for async
    /// functions.
    #[doc(hidden)]
    pub async fn try_call_keyed_with_async<T, E, F, Fut, L>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        L: Fn(Error) -> Option<E>,
    {
        self.try_call_keyed_leased_async(func, key, None, f, lift)
            .await
    }

    /// [`try_call_keyed_with_async`](FuncCache::try_call_keyed_with_async) with the
    /// lease of one function (the macro's `lease_ms`), which overrides the
    /// cache's.
    #[doc(hidden)]
    pub async fn try_call_keyed_leased_async<T, E, F, Fut, L>(
        &self,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        L: Fn(Error) -> Option<E>,
    {
        match CallTrace::start(&self.name, func) {
            trace @ CallTrace(Some(_)) => {
                let span = trace.span();
                self.call_in_async(&trace, func, key, lease, f, lift)
                    .instrument(span)
                    .await
            }
            untraced => {
                self.call_in_async(&untraced, func, key, lease, f, lift)
                    .await
            }
        }
    }

    /// The call, inside its span.
    async fn call_in_async<T, E, F, Fut, L>(
        &self,
        span: &CallTrace,
        func: &FuncId,
        key: Result<InvocationHash, Error>,
        lease: Option<Duration>,
        f: F,
        lift: L,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        L: Fn(Error) -> Option<E>,
    {
        call_path!(
            [.await] self, span, func, key, lease, f, lift,
            get: get_async, get_or_lease: get_or_lease_async, put: put_async,
            wait: wait_async, run: run_async, pause: futures_timer::Delay::new,
        )
    }

    /// A plain read: a value, or a miss without a lease.
    fn plain_read<T: DeserializeOwned>(
        &self,
        tally: &Tally<'_>,
        got: Result<Lookup, Error>,
        refresh: bool,
    ) -> Result<Read<T>, Error> {
        let got = match got {
            Ok(Lookup::Hit(value)) => Some(value),
            Ok(Lookup::Miss) => None,
            Ok(Lookup::Expired) => {
                self.removed(1, RemovalCause::Expired);
                None
            }
            Err(e) => return self.failed_read(tally, e),
        };
        Ok(match self.decode_read(tally, got, refresh) {
            Some(value) => Read::Hit(value),
            None => Read::Miss(Lease::NotTaken),
        })
    }

    /// A read that may have taken the lease.
    fn leased_read<T: DeserializeOwned>(
        &self,
        tally: &Tally<'_>,
        got: Result<Leased, Error>,
        refresh: bool,
    ) -> Result<Read<T>, Error> {
        let lease = match self.expiry_heard(got) {
            Ok(Leased::Hit(value)) => {
                return self.plain_read(tally, Ok(Lookup::Hit(value)), refresh);
            }
            Ok(Leased::Granted) => Lease::Granted,
            Ok(Leased::Held(left)) => Lease::Held(left),
            Ok(Leased::Unleased | Leased::Expired(_)) => Lease::NotTaken,
            Err(e) => return self.failed_read(tally, e),
        };
        tally.record(Event::Miss);
        Ok(Read::Miss(lease))
    }

    /// A leased read's answer with the expiry it reported, if any, told to
    /// the eviction listener and taken off.
    fn expiry_heard(&self, got: Result<Leased, Error>) -> Result<Leased, Error> {
        match got {
            Ok(Leased::Expired(mut then)) => {
                self.removed(1, RemovalCause::Expired);
                // Never nested (see `Leased::Expired`); read through if so.
                while let Leased::Expired(inner) = *then {
                    then = inner;
                }
                Ok(*then)
            }
            other => other,
        }
    }

    /// A read that failed: counted, and logged or propagated. A store that
    /// did not answer ([`Error::is_transient`]) leaves the call
    /// [`Read::Unanswered`]; one that answered with an error, a miss.
    fn failed_read<T>(&self, tally: &Tally<'_>, e: Error) -> Result<Read<T>, Error> {
        let unanswered = e.is_transient();
        self.store_failed(tally, "read", e)?;
        Ok(if unanswered {
            Read::Unanswered
        } else {
            Read::Miss(Lease::NotTaken)
        })
    }

    /// What a read after a pause in a lease wait means. The call already
    /// counted its miss, so these reads add to no count but errors.
    fn after_pause<T: DeserializeOwned>(
        &self,
        tally: &Tally<'_>,
        got: Result<Leased, Error>,
    ) -> Waited<T> {
        match self.expiry_heard(got) {
            Ok(Leased::Hit(stored)) => match self.decode_value(&stored) {
                Some(value) => Waited::Value(value, Bytes::copy_from_slice(&stored)),
                None => Waited::Compute,
            },
            Ok(Leased::Held(left)) => Waited::Held(left),
            Ok(Leased::Granted | Leased::Unleased | Leased::Expired(_)) => Waited::Compute,
            Err(e) => {
                // Computing is the way on; an error to propagate would
                // have stopped the call at its first read.
                let _ = self.store_failed(tally, "read", e);
                Waited::Compute
            }
        }
    }

    /// A stored value, decoded, or `None` if it does not decode.
    fn decode_value<T: DeserializeOwned>(&self, framed: &[u8]) -> Option<T> {
        envelope::open(framed, Z::FORMAT)
            .ok()
            .and_then(|payload| self.serializer.decode(payload).ok())
    }

    /// What a waiter makes of its flight's landing.
    fn shared<T: DeserializeOwned>(&self, landing: Landing) -> Shared<T> {
        match landing {
            Landing::Value(bytes) => match self.decode_value(&bytes) {
                Some(value) => Shared::Value(value),
                // The leader encoded it with this serializer moments ago;
                // should it not decode, run rather than fail.
                None => Shared::RunUncached,
            },
            Landing::Unshareable => Shared::RunUncached,
            Landing::Abandoned => Shared::TryAgain,
        }
    }

    /// The put request for a computed value, or the encoding error (only
    /// when errors propagate).
    fn encoded<'a, T: Serialize>(
        &'a self,
        tally: &Tally<'_>,
        pair: &'a KeyPair,
        member: InvocationHash,
        value: &T,
        release_lease: bool,
        took: Duration,
    ) -> (Option<PutRequest<'a>>, Option<Error>) {
        match self.put_request(tally, pair, member, value, release_lease, took) {
            Ok(req) => (req, None),
            Err(e) => (None, Some(e)),
        }
    }

    /// `Some(hash)` if the call can use the cache; `None` if it must run
    /// uncached because its arguments could not be hashed.
    fn usable_key(
        &self,
        key: Result<InvocationHash, Error>,
        mode: Mode,
    ) -> Result<Option<InvocationHash>, Error> {
        match key {
            Ok(member) => Ok(Some(member)),
            Err(e) if mode == Mode::Bypass => {
                drop(e);
                Ok(None)
            }
            Err(e) if self.on_store_error == OnStoreError::Propagate || !mode.executes() => Err(e),
            Err(e) => {
                tracing::warn!(cache = %self.name, error = %e, "arguments not hashable; calling uncached");
                Ok(None)
            }
        }
    }

    pub(super) fn get_request<'a>(
        &'a self,
        pair: &'a KeyPair,
        member: InvocationHash,
    ) -> GetRequest<'a> {
        GetRequest::new(pair, member, self.policy.rules_ref(), self.expiry)
    }

    /// A payload framed for the store: with a refresh stamp when this cache
    /// refreshes ahead.
    fn frame(&self, payload: &[u8], took: Duration) -> Vec<u8> {
        match self.refresh {
            None => envelope::frame(Z::FORMAT, payload),
            Some(_) => {
                let stamp = RefreshStamp {
                    written_at_us: now_us(),
                    took_us: u32::try_from(took.as_micros()).unwrap_or(u32::MAX),
                };
                envelope::frame_stamped(Z::FORMAT, stamp, payload)
            }
        }
    }

    /// Whether a hit on `stored` should recompute early (refresh ahead).
    fn refresh_due(&self, stored: &[u8]) -> bool {
        let Some((refresh, entry_ttl)) = &self.refresh else {
            return false;
        };
        matches!(
            envelope::open_stamped(stored, Z::FORMAT),
            Ok((Some(stamp), _)) if refresh.due(stamp, *entry_ttl)
        )
    }

    /// Turns what a store read found into a value or a miss. With
    /// `refresh`, a hit that draws an early refresh is a miss.
    fn decode_read<T: DeserializeOwned>(
        &self,
        tally: &Tally<'_>,
        got: Option<StoredValue>,
        refresh: bool,
    ) -> Option<T> {
        match got {
            Some(bytes) if refresh && self.refresh_due(&bytes) => {
                tally.record(Event::Refresh);
                tally.record(Event::Miss);
                None
            }
            Some(bytes) => match envelope::open(&bytes, Z::FORMAT)
                .map_err(|m| Error::Decode {
                    source: BoxError::from(m),
                })
                .and_then(|payload| self.serializer.decode(payload))
            {
                Ok(value) => {
                    tally.record(Event::Hit);
                    Some(value)
                }
                Err(e) => {
                    tally.record(Event::DecodeFailure);
                    tally.record(Event::Miss);
                    tracing::warn!(cache = %self.name, error = %e, "cached value does not decode; recomputing");
                    None
                }
            },
            None => {
                tally.record(Event::Miss);
                None
            }
        }
    }

    fn put_request<'a, T: Serialize>(
        &'a self,
        tally: &Tally<'_>,
        pair: &'a KeyPair,
        member: InvocationHash,
        value: &T,
        release_lease: bool,
        took: Duration,
    ) -> Result<Option<PutRequest<'a>>, Error> {
        match self.serializer.encode(value) {
            Ok(payload) if payload.len() > self.serializer.limit() => {
                tally.record(Event::TooLarge);
                tracing::warn!(
                    cache = %self.name,
                    bytes = payload.len(),
                    limit = self.serializer.limit(),
                    "result over the serializer's size limit; returned, not cached"
                );
                Ok(None)
            }
            Ok(payload) => Ok(Some(
                PutRequest::new(
                    pair,
                    member,
                    Bytes::from(self.frame(&payload, took)),
                    self.policy.rules_ref(),
                    self.maxsize(),
                    self.expiry,
                )
                .releasing_lease(release_lease),
            )),
            Err(e) if self.on_store_error == OnStoreError::Propagate => Err(e),
            Err(e) => {
                tracing::warn!(cache = %self.name, error = %e, "result not encodable; not cached");
                Ok(None)
            }
        }
    }

    fn record_put(
        &self,
        tally: &Tally<'_>,
        outcome: Result<PutOutcome, Error>,
    ) -> Result<(), Error> {
        match outcome {
            Ok(outcome) => {
                tally.record(Event::Write);
                tally.record(Event::Evictions(outcome.evicted.len() as u64));
                self.removed_by_put(&outcome);
                Ok(())
            }
            Err(e) => self.store_failed(tally, "write", e),
        }
    }

    fn store_failed(&self, tally: &Tally<'_>, op: &'static str, e: Error) -> Result<(), Error> {
        let skipped = matches!(e, Error::Skipped { .. });
        // Only on failures: the call's span (if a subscriber wants it).
        Span::current().record("store", if skipped { "skipped" } else { "error" });
        tally.record(if skipped {
            Event::Skipped
        } else {
            Event::BackendError
        });
        match self.on_store_error {
            OnStoreError::Propagate => Err(e),
            // The breaker logged when it opened; one line per skipped call
            // would flood the log during an outage.
            OnStoreError::FailOpen if skipped => Ok(()),
            OnStoreError::FailOpen => {
                tracing::warn!(cache = %self.name, op, error = %e, "store failed; carrying on without the cache");
                Ok(())
            }
        }
    }
}

/// A waiter's next step after its flight landed.
enum Shared<T> {
    Value(T),
    RunUncached,
    TryAgain,
}

/// One cached call's span, when TRACE is enabled: cache, function, outcome
/// (`hit`, `miss`, `waited` for another caller's result), the read's store
/// time in µs, and `store` = `error` or `skipped` when the store failed.
/// Without a subscriber that wants TRACE, a call pays one level check and
/// nothing else: no span, no clock.
struct CallTrace(Option<Span>);

impl CallTrace {
    #[inline(always)]
    fn start(cache: &str, func: &FuncId) -> Self {
        if tracing::level_enabled!(tracing::Level::TRACE) {
            Self::traced(cache, func)
        } else {
            CallTrace(None)
        }
    }

    /// The span, when a subscriber may want TRACE: out of the hit path.
    #[cold]
    #[inline(never)]
    fn traced(cache: &str, func: &FuncId) -> Self {
        let span = tracing::trace_span!(
            "cached_call",
            cache,
            function = func.name(),
            outcome = tracing::field::Empty,
            store_us = tracing::field::Empty,
            store = tracing::field::Empty,
        );
        CallTrace((!span.is_disabled()).then_some(span))
    }

    fn span(&self) -> Span {
        self.0.clone().unwrap_or_else(Span::none)
    }

    #[inline(always)]
    fn record(&self, field: &'static str, value: &'static str) {
        if let Some(span) = &self.0 {
            span.record(field, value);
        }
    }

    /// A clock for the store time, only when traced.
    #[inline(always)]
    fn clock(&self) -> Option<Instant> {
        self.0.as_ref().map(|_| Instant::now())
    }

    #[inline(always)]
    fn store_time(&self, started: Option<Instant>) {
        if let (Some(span), Some(started)) = (&self.0, started) {
            span.record("store_us", started.elapsed().as_micros() as u64);
        }
    }
}

/// What a read found, before the function runs.
enum Read<T> {
    Hit(T),
    Miss(Lease),
    /// The store did not answer (a lost connection, a timeout, an open
    /// breaker): compute, and do not write either.
    Unanswered,
}

/// Where a caller that missed stands with the member's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lease {
    /// No lease was asked for or could be taken: compute.
    NotTaken,
    /// This caller holds it: compute and put.
    Granted,
    /// Someone else holds it for at most this long: wait.
    Held(Duration),
}

impl Lease {
    /// This caller holds the lease: it computes even while a flight in
    /// this process waits (that flight's leader waits for the lease).
    fn is_ours(self) -> bool {
        self == Lease::Granted
    }
}

/// A lease waiter's next step after reading again.
enum Waited<T> {
    /// The holder's value (decoded, and as stored).
    Value(T, Bytes),
    Held(Duration),
    Compute,
}

/// Hands a leader's result (as it was framed for the store) to its waiters.
/// Called after the put, so a caller arriving once the flight is gone finds
/// the value in the store.
fn land(lead: Option<Lead<'_>>, framed: Option<Bytes>) {
    if let Some(lead) = lead {
        lead.land(framed);
    }
}

/// A lifted cache error: `Err` to return it, `Ok` to carry on without the
/// cache.
fn lifted<E>(lifted: Option<E>) -> Result<(), E> {
    match lifted {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

// The call path's decisions, as plain functions rather than inside
// `call_path!`: tools that read syntax (cargo-mutants) see a macro's body
// as tokens, so a choice made there would escape mutation testing.

/// Refresh ahead only where the function may run and its result be written.
fn refreshes_ahead(mode: Mode) -> bool {
    mode.executes() && mode.writes()
}

/// A miss in a mode that may not run the function is an error
/// ([`Error::CacheMiss`]), not a computation.
fn miss_is_an_error(mode: Mode) -> bool {
    !mode.executes()
}

/// The result is encoded to be written, or to be handed to the callers
/// waiting on this caller's flight (whatever the mode).
fn encodes_result(mode: Mode, leads_a_flight: bool) -> bool {
    mode.writes() || leads_a_flight
}

/// The result is written where the mode writes and the read was answered:
/// after a store that did not answer, a write would cost a second deadline.
fn puts_result(mode: Mode, read_unanswered: bool) -> bool {
    mode.writes() && !read_unanswered
}
