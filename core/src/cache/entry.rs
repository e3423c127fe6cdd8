//! One call's entry, without running the function (SPEC §10): read it with
//! or without the hit rule, store a value for it, remove it. Each is one
//! round trip on Redis.
//!
//! Unlike calls, which fail open, these return store errors: a caller that
//! asks for an entry wants to know it could not be read or written.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{FuncCache, PairRef, RemovalCause};
use crate::envelope;
use crate::error::{BoxError, Error};
use crate::identity::{FuncId, InvocationHash};
use crate::serializer::Serializer;
use crate::stats::Event;
use crate::store::{GetRequest, Lookup, PutOutcome, PutRequest, Store, StoredValue};

/// Which call an entry belongs to: a function and its invocation hash. The
/// `key = …` option of `#[cached]` declares a function that makes one from
/// the cached function's arguments, so no one writes a [`FuncId`] by hand.
///
/// ```
/// use redis_func_cache::{CallKey, FuncId};
/// static ADD: FuncId = FuncId::new("doc", "add", 1);
/// let key = CallKey::new(&ADD, ADD.invocation_hash(&(1u32, 2u32)));
/// assert_eq!(key.func(), &ADD);
/// ```
#[derive(Debug)]
pub struct CallKey {
    func: &'static FuncId,
    member: Result<InvocationHash, Error>,
}

impl CallKey {
    /// The key of `func`'s call whose arguments hashed to `member` (or
    /// failed to).
    pub fn new(func: &'static FuncId, member: Result<InvocationHash, Error>) -> Self {
        CallKey { func, member }
    }

    /// The function.
    pub fn func(&self) -> &'static FuncId {
        self.func
    }
}

/// One call's entry in a cache: see [`FuncCache::entry`].
pub struct Entry<'c, S, Z> {
    cache: &'c FuncCache<S, Z>,
    /// Whose entry: its metrics carry the function's label when the cache
    /// labels them so.
    func: FuncId,
    pair: PairRef<'c>,
    member: InvocationHash,
}

impl<S: Store, Z: Serializer> FuncCache<S, Z> {
    /// The entry of `func` called with `args` (the same value a call hashes:
    /// a tuple of the arguments, or the one argument), to read, store or
    /// remove without running the function.
    ///
    /// ```
    /// # use redis_func_cache::*;
    /// # use redis_func_cache::store::*;
    /// # fn demo<S: Store>(cache: FuncCache<S>) -> Result<(), Error> {
    /// static SQUARE: FuncId = FuncId::new("doc", "square", 1);
    /// let entry = cache.entry(&SQUARE, &7u64)?;
    /// entry.insert(&49u64)?; // as if square(7) had run
    /// assert_eq!(entry.peek::<u64>()?, Some(49));
    /// assert!(entry.invalidate()?);
    /// assert_eq!(entry.get::<u64>()?, None);
    /// # Ok(()) }
    /// ```
    pub fn entry<A: Serialize + ?Sized>(
        &self,
        func: &FuncId,
        args: &A,
    ) -> Result<Entry<'_, S, Z>, Error> {
        let member = func.invocation_hash(args)?;
        Ok(Entry {
            cache: self,
            func: *func,
            pair: self.pair(func),
            member,
        })
    }

    /// The entry of a [`CallKey`], as a `#[cached]` function's `key = …`
    /// option makes it.
    pub fn entry_of(&self, key: CallKey) -> Result<Entry<'_, S, Z>, Error> {
        Ok(Entry {
            cache: self,
            func: *key.func,
            pair: self.pair(key.func),
            member: key.member?,
        })
    }
}

impl<S: Store, Z: Serializer> FuncCache<S, Z> {
    /// Counts an entry insert's write and evictions, and tells the listener.
    fn record_insert(&self, func: &FuncId, outcome: &PutOutcome) {
        let tally = self.tally(func);
        tally.record(Event::Write);
        tally.record(Event::Evictions(outcome.evicted.len() as u64));
        self.removed_by_put(outcome);
    }
}

impl<S: Store, Z: Serializer> Entry<'_, S, Z> {
    fn request(&self) -> GetRequest<'_> {
        self.cache.get_request(&self.pair, self.member)
    }

    fn decode<T: DeserializeOwned>(&self, stored: StoredValue) -> Result<T, Error> {
        let payload = envelope::open(&stored, Z::FORMAT).map_err(|m| Error::Decode {
            source: BoxError::from(m),
        })?;
        self.cache.serializer.decode(payload)
    }

    fn write_request<T: Serialize>(&self, value: &T) -> Result<PutRequest<'_>, Error> {
        let payload = self.cache.serializer.encode(value)?;
        if payload.len() > self.cache.serializer.limit() {
            return Err(Error::config(format!(
                "the value encodes to {} bytes, over the serializer's limit of {}",
                payload.len(),
                self.cache.serializer.limit()
            )));
        }
        Ok(PutRequest::new(
            &self.pair,
            self.member,
            Bytes::from(envelope::frame(Z::FORMAT, &payload)),
            self.cache.policy.rules_ref(),
            self.cache.maxsize(),
            self.cache.expiry,
        )
        .releasing_lease(self.cache.lease.is_some()))
    }

    /// The cached value, if any, without applying the hit rule: the entry's
    /// place in the eviction order and every TTL stay as they are, and no
    /// statistic counts it.
    pub fn peek<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.cache
            .store
            .peek(&self.request())?
            .map(|v| self.decode(v))
            .transpose()
    }

    /// The cached value, if any, read as a call reads it: the hit rule
    /// applies, and it counts as a hit or a miss.
    pub fn get<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let found = self.found(self.cache.store.get(&self.request())?);
        found.map(|v| self.decode(v)).transpose()
    }

    /// Stores `value` as this call's result (the cache's policy, `maxsize`
    /// and TTLs apply, as to a put after a miss).
    pub fn insert<T: Serialize>(&self, value: &T) -> Result<(), Error> {
        let req = self.write_request(value)?;
        let outcome = self.cache.store.put(&req)?;
        self.cache.record_insert(&self.func, &outcome);
        Ok(())
    }

    /// Removes this call's entry; returns whether there was one.
    pub fn invalidate(&self) -> Result<bool, Error> {
        let removed = self.cache.store.remove(&self.request())?;
        self.cache
            .removed(u64::from(removed), RemovalCause::Invalidated);
        Ok(removed)
    }

    /// [`peek`](Entry::peek), for async code.
    pub async fn peek_async<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.cache
            .store
            .peek_async(&self.request())
            .await?
            .map(|v| self.decode(v))
            .transpose()
    }

    /// [`get`](Entry::get), for async code.
    pub async fn get_async<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let found = self.found(self.cache.store.get_async(&self.request()).await?);
        found.map(|v| self.decode(v)).transpose()
    }

    /// [`insert`](Entry::insert), for async code.
    pub async fn insert_async<T: Serialize>(&self, value: &T) -> Result<(), Error> {
        let req = self.write_request(value)?;
        let outcome = self.cache.store.put_async(&req).await?;
        self.cache.record_insert(&self.func, &outcome);
        Ok(())
    }

    /// [`invalidate`](Entry::invalidate), for async code.
    pub async fn invalidate_async(&self) -> Result<bool, Error> {
        let removed = self.cache.store.remove_async(&self.request()).await?;
        self.cache
            .removed(u64::from(removed), RemovalCause::Invalidated);
        Ok(removed)
    }

    /// Counts a read as a hit or a miss, and tells the eviction listener
    /// about an expired entry the read removed.
    fn found(&self, lookup: Lookup) -> Option<StoredValue> {
        if lookup == Lookup::Expired {
            self.cache.removed(1, RemovalCause::Expired);
        }
        let found = lookup.into_value();
        self.count(found.is_some());
        found
    }

    fn count(&self, hit: bool) {
        self.cache
            .stats
            .record(if hit { Event::Hit } else { Event::Miss });
    }
}
