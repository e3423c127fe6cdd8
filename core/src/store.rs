//! The store abstraction: what a backend must do to carry out a policy.
//!
//! The shape follows what Redis can do atomically in one script (SPEC §5):
//! a read that also applies the hit rule is one request, and a write that
//! evicts, inserts and sets the TTL is another. The memory store does the
//! same two steps under a lock.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use bytes::Bytes;

pub use crate::value::{INLINE_CAPACITY, StoredValue};

use crate::error::Error;
use crate::identity::InvocationHash;
use crate::keys::KeyPair;
use crate::policy::PolicyRules;

/// How long entries live (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// TTL set on both keys of a pair when the pair is created.
    pub pair_ttl: Duration,
    /// Whether every hit and every put restarts the pair TTL.
    pub slide: bool,
    /// A deadline per entry, kept with its value; `None`: entries live as
    /// long as their pair.
    pub entry_ttl: Option<Duration>,
}

impl Expiry {
    /// Whether a hit restarts a pair's TTL that has `remaining` left: once
    /// it has run down by at least 1/16 of itself (SPEC §6), so a hot pair
    /// is not rewritten on every hit and its deadline is never more than
    /// `pair_ttl / 16` short of a full slide. Stores measure `remaining` in
    /// their own unit (the memory store in microseconds, Redis in ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// use redis_func_cache::store::Expiry;
    /// let e = Expiry { pair_ttl: Duration::from_secs(16), slide: true, entry_ttl: None };
    /// assert!(!e.hit_restarts(Duration::from_millis(15_500)));
    /// assert!(e.hit_restarts(Duration::from_secs(15)));
    /// ```
    pub fn hit_restarts(&self, remaining: Duration) -> bool {
        self.slide && remaining <= self.pair_ttl - self.pair_ttl / 16
    }
}

/// A read of one member, which applies the policy's hit rule when it hits.
///
/// Made by the cache (or a test) with [`GetRequest::new`]; stores read its
/// fields.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct GetRequest<'a> {
    /// The pair to read.
    pub pair: &'a KeyPair,
    /// The invocation.
    pub member: InvocationHash,
    /// The policy to carry out.
    pub rules: &'a PolicyRules,
    /// TTL settings.
    pub expiry: Expiry,
}

/// A write of one member: evicts if a new member finds the pair full,
/// inserts or replaces, sets TTLs, and gives back the member's lease if the
/// writer asks ([`PutRequest::releasing_lease`]).
///
/// Made by the cache (or a test) with [`PutRequest::new`]; stores read its
/// fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PutRequest<'a> {
    /// The pair to write.
    pub pair: &'a KeyPair,
    /// The invocation.
    pub member: InvocationHash,
    /// The encoded value.
    pub value: Bytes,
    /// The policy to carry out.
    pub rules: &'a PolicyRules,
    /// The most entries the pair may hold after this put.
    pub maxsize: u64,
    /// TTL settings.
    pub expiry: Expiry,
    /// Whether the put also releases any lease on the member (SPEC §9): set
    /// by caches that take leases, so a store that keeps leases apart from
    /// the pair touches them only then.
    pub release_lease: bool,
}

impl<'a> GetRequest<'a> {
    /// A read of `member` in `pair`.
    pub fn new(
        pair: &'a KeyPair,
        member: InvocationHash,
        rules: &'a PolicyRules,
        expiry: Expiry,
    ) -> Self {
        GetRequest {
            pair,
            member,
            rules,
            expiry,
        }
    }
}

impl<'a> PutRequest<'a> {
    /// A write of `value` for `member` in `pair`, which holds at most
    /// `maxsize` entries afterwards.
    pub fn new(
        pair: &'a KeyPair,
        member: InvocationHash,
        value: Bytes,
        rules: &'a PolicyRules,
        maxsize: u64,
        expiry: Expiry,
    ) -> Self {
        PutRequest {
            pair,
            member,
            value,
            rules,
            maxsize,
            expiry,
            release_lease: false,
        }
    }

    /// This put also releases the member's lease.
    pub fn releasing_lease(mut self, release: bool) -> Self {
        self.release_lease = release;
        self
    }
}

/// What a read found ([`Store::get`]).
///
/// An expired entry is told apart from an absent one because the read
/// removed it: the cache's eviction listener hears it as
/// [`RemovalCause::Expired`](crate::RemovalCause::Expired).
///
/// ```
/// use redis_func_cache::store::{Lookup, StoredValue};
/// let hit = Lookup::Hit(StoredValue::copy_from_slice(b"v"));
/// assert_eq!(hit.into_value().as_deref(), Some(&b"v"[..]));
/// assert_eq!(Lookup::Expired.into_value(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A hit, with the hit rule applied.
    Hit(StoredValue),
    /// A miss: the member is not there (or is unreadable, SPEC §7).
    Miss,
    /// A miss: the member's own TTL had run out, and this read removed it.
    Expired,
}

impl Lookup {
    /// The value of a hit; `None` for either miss.
    pub fn into_value(self) -> Option<StoredValue> {
        match self {
            Lookup::Hit(value) => Some(value),
            Lookup::Miss | Lookup::Expired => None,
        }
    }
}

/// What a read that may take the member's lease found (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leased {
    /// A hit, with the hit rule applied as [`Store::get`] applies it.
    Hit(StoredValue),
    /// A miss, and the caller now holds the lease: it computes and puts.
    Granted,
    /// A miss while another caller holds the lease, for at most this much
    /// longer: wait and read again.
    Held(Duration),
    /// A miss, and the store could not record a lease (a server refusing
    /// writes, a key of another type): compute as after any miss.
    Unleased,
    /// A miss that removed the member's entry, past its own TTL (SPEC §6),
    /// then leased as after any miss: the inner answer is that lease
    /// ([`Leased::Granted`], [`Leased::Held`] or [`Leased::Unleased`]).
    /// The eviction listener hears the removal.
    Expired(Box<Leased>),
}

/// What a put did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOutcome {
    /// The members evicted to make room, in eviction order.
    pub evicted: Vec<InvocationHash>,
    /// How many of `evicted` had already expired (their per-entry TTL had
    /// run out; counted only by caches with a per-entry TTL): the policy
    /// chose them, but they were gone in all but memory. The eviction
    /// listener hears them as expired, the others as evicted for size.
    pub expired: u64,
}

/// What a pair holds, in a form every store can produce, so tests can
/// compare stores pair by pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairContents {
    /// Members with their scores (`None` for a set index), in index order:
    /// lowest (score, member bytes) first; a set's members sorted by bytes.
    pub index: Vec<(InvocationHash, Option<u64>)>,
    /// SIEVE's hand when it is not 0 (see
    /// [`queue_scores`](crate::policy::queue_scores)); `None` for every other
    /// policy.
    pub hand: Option<u64>,
    /// Members with their stored values, sorted by member bytes.
    pub values: Vec<(InvocationHash, Bytes)>,
}

/// What a store can do, so the builder can refuse a combination that cannot
/// work and behaviour tests can pick the cases that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The backend's name, used in errors and logs.
    pub backend: &'static str,
    /// The store talks to a Redis Cluster, so every pair must carry a hash
    /// tag (a cluster layout).
    pub needs_cluster_layout: bool,
    /// Other processes can use the same entries (a server), so a cache
    /// reports its counters there for [`FuncCache::fleet_stats`]; an
    /// in-process store's fleet is the process itself.
    ///
    /// [`FuncCache::fleet_stats`]: crate::FuncCache::fleet_stats
    pub shared_across_processes: bool,
}

impl Capabilities {
    /// Capabilities of a backend with this name and no special needs.
    pub const fn new(backend: &'static str) -> Self {
        Capabilities {
            backend,
            needs_cluster_layout: false,
            shared_across_processes: false,
        }
    }

    /// Marks the backend as reachable from other processes.
    pub const fn with_shared(mut self) -> Self {
        self.shared_across_processes = true;
        self
    }

    /// Marks the backend as a cluster client.
    pub const fn with_cluster(mut self) -> Self {
        self.needs_cluster_layout = true;
        self
    }
}

/// A place to keep cache entries, used from sync and async code.
///
/// Implementations must be cheap to clone or share, thread-safe, and must
/// carry out [`PolicyRules`] exactly as SPEC §3 describes; the memory store is
/// the reference the others are tested against. Every method is required: a
/// wrapper cannot silently fall back to a default.
pub trait Store: Send + Sync + 'static {
    /// What this store is and can do.
    fn capabilities(&self) -> Capabilities;

    /// Reads a member and applies the hit rule: a hit, a miss, or a miss
    /// that removed an entry whose own TTL had run out (SPEC §6).
    ///
    /// A store that keeps values in this process should keep them as
    /// [`StoredValue`]s, so a hit on a short value copies it instead of
    /// sharing a buffer.
    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, Error>;

    /// [`Store::get`], and on a miss, in the same atomic step, a lease on
    /// the member for `lease` unless another caller holds a live one (SPEC
    /// §9). A [`PutRequest::releasing_lease`] gives it back.
    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, Error>;

    /// Reads a member without applying the hit rule or sliding any TTL
    /// (SPEC §10): what [`Store::get`] would return, changing nothing.
    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error>;

    /// Removes one member from its pair; returns whether it was there.
    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, Error>;

    /// Writes a member, evicting first if a new member finds the pair full.
    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error>;

    /// How many entries a pair holds.
    fn len(&self, pair: &KeyPair) -> Result<u64, Error>;

    /// Removes a pair; returns how many entries it held.
    fn purge(&self, pair: &KeyPair) -> Result<u64, Error>;

    /// Removes every pair whose index key starts with `prefix`; returns how
    /// many entries they held.
    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error>;

    /// Adds `counts` to the counters in the hash `key`, in one round trip
    /// (a cache's fleet-wide statistics; see
    /// [`Capabilities::shared_across_processes`]). Called from a background
    /// thread, so there is no async form.
    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), Error>;

    /// The counters in the hash `key` (none if it does not exist).
    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, Error>;

    /// Removes the hash `key`.
    fn remove_counters(&self, key: &str) -> Result<(), Error>;

    /// [`Store::get`], for async code.
    fn get_async(&self, req: &GetRequest<'_>)
    -> impl Future<Output = Result<Lookup, Error>> + Send;

    /// [`Store::get_or_lease`], for async code.
    fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> impl Future<Output = Result<Leased, Error>> + Send;

    /// [`Store::peek`], for async code.
    fn peek_async(
        &self,
        req: &GetRequest<'_>,
    ) -> impl Future<Output = Result<Option<StoredValue>, Error>> + Send;

    /// [`Store::remove`], for async code.
    fn remove_async(
        &self,
        req: &GetRequest<'_>,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// [`Store::put`], for async code.
    fn put_async(
        &self,
        req: &PutRequest<'_>,
    ) -> impl Future<Output = Result<PutOutcome, Error>> + Send;

    /// [`Store::len`], for async code.
    fn len_async(&self, pair: &KeyPair) -> impl Future<Output = Result<u64, Error>> + Send;

    /// [`Store::purge`], for async code.
    fn purge_async(&self, pair: &KeyPair) -> impl Future<Output = Result<u64, Error>> + Send;

    /// [`Store::purge_prefix`], for async code.
    fn purge_prefix_async(&self, prefix: &str) -> impl Future<Output = Result<u64, Error>> + Send;
}

/// The object-safe form of [`Store`], for choosing a backend at run time.
/// Every `Store` is a `DynStore`, and `Arc<dyn DynStore>` is a `Store`.
///
/// The `redis-func-cache` crate's documentation has a worked example.
#[async_trait::async_trait]
pub trait DynStore: Send + Sync + 'static {
    /// See [`Store::capabilities`].
    fn capabilities(&self) -> Capabilities;
    /// See [`Store::get`].
    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, Error>;
    /// See [`Store::get_or_lease`].
    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, Error>;
    /// See [`Store::peek`].
    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error>;
    /// See [`Store::remove`].
    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, Error>;
    /// See [`Store::put`].
    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error>;
    /// See [`Store::len`].
    fn len(&self, pair: &KeyPair) -> Result<u64, Error>;
    /// See [`Store::purge`].
    fn purge(&self, pair: &KeyPair) -> Result<u64, Error>;
    /// See [`Store::purge_prefix`].
    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error>;
    /// See [`Store::add_counters`].
    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), Error>;
    /// See [`Store::read_counters`].
    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, Error>;
    /// See [`Store::remove_counters`].
    fn remove_counters(&self, key: &str) -> Result<(), Error>;
    /// See [`Store::get_async`].
    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Lookup, Error>;
    /// See [`Store::get_or_lease_async`].
    async fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> Result<Leased, Error>;
    /// See [`Store::peek_async`].
    async fn peek_async(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error>;
    /// See [`Store::remove_async`].
    async fn remove_async(&self, req: &GetRequest<'_>) -> Result<bool, Error>;
    /// See [`Store::put_async`].
    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error>;
    /// See [`Store::len_async`].
    async fn len_async(&self, pair: &KeyPair) -> Result<u64, Error>;
    /// See [`Store::purge_async`].
    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, Error>;
    /// See [`Store::purge_prefix_async`].
    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, Error>;
}

#[async_trait::async_trait]
impl<S: Store> DynStore for S {
    fn capabilities(&self) -> Capabilities {
        Store::capabilities(self)
    }
    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        Store::get(self, req)
    }
    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, Error> {
        Store::get_or_lease(self, req, lease)
    }
    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        Store::peek(self, req)
    }
    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        Store::remove(self, req)
    }
    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        Store::put(self, req)
    }
    fn len(&self, pair: &KeyPair) -> Result<u64, Error> {
        Store::len(self, pair)
    }
    fn purge(&self, pair: &KeyPair) -> Result<u64, Error> {
        Store::purge(self, pair)
    }
    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error> {
        Store::purge_prefix(self, prefix)
    }
    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), Error> {
        Store::add_counters(self, key, counts)
    }
    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, Error> {
        Store::read_counters(self, key)
    }
    fn remove_counters(&self, key: &str) -> Result<(), Error> {
        Store::remove_counters(self, key)
    }
    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        Store::get_async(self, req).await
    }
    async fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> Result<Leased, Error> {
        Store::get_or_lease_async(self, req, lease).await
    }
    async fn peek_async(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        Store::peek_async(self, req).await
    }
    async fn remove_async(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        Store::remove_async(self, req).await
    }
    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        Store::put_async(self, req).await
    }
    async fn len_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        Store::len_async(self, pair).await
    }
    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        Store::purge_async(self, pair).await
    }
    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, Error> {
        Store::purge_prefix_async(self, prefix).await
    }
}

impl Store for Arc<dyn DynStore> {
    fn capabilities(&self) -> Capabilities {
        DynStore::capabilities(&**self)
    }
    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        DynStore::get(&**self, req)
    }
    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, Error> {
        DynStore::get_or_lease(&**self, req, lease)
    }
    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        DynStore::peek(&**self, req)
    }
    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        DynStore::remove(&**self, req)
    }
    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        DynStore::put(&**self, req)
    }
    fn len(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::len(&**self, pair)
    }
    fn purge(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::purge(&**self, pair)
    }
    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error> {
        DynStore::purge_prefix(&**self, prefix)
    }
    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), Error> {
        DynStore::add_counters(&**self, key, counts)
    }
    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, Error> {
        DynStore::read_counters(&**self, key)
    }
    fn remove_counters(&self, key: &str) -> Result<(), Error> {
        DynStore::remove_counters(&**self, key)
    }
    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        DynStore::get_async(&**self, req).await
    }
    async fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> Result<Leased, Error> {
        DynStore::get_or_lease_async(&**self, req, lease).await
    }
    async fn peek_async(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        DynStore::peek_async(&**self, req).await
    }
    async fn remove_async(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        DynStore::remove_async(&**self, req).await
    }
    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        DynStore::put_async(&**self, req).await
    }
    async fn len_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::len_async(&**self, pair).await
    }
    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::purge_async(&**self, pair).await
    }
    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, Error> {
        DynStore::purge_prefix_async(&**self, prefix).await
    }
}

/// A store chosen at run time, for async code that spawns: `call_async` on
/// a `FuncCache<AnyStore>` is a `Send` future, so it runs inside
/// `tokio::spawn`. (On `FuncCache<Arc<dyn DynStore>>` the compiler cannot
/// prove that, a limitation of how it checks `Send` for async trait methods
/// of a trait object; use `AnyStore` there.) Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use redis_func_cache::{FuncCache, FuncId};
/// use redis_func_cache::store::AnyStore;
/// # use redis_func_cache::store::{Capabilities, GetRequest, Leased, Lookup, PutOutcome, PutRequest, StoredValue, Store};
/// # use redis_func_cache::{Error, KeyPair};
/// # #[derive(Debug)] struct Nothing;
/// # impl Store for Nothing {
/// #   fn capabilities(&self) -> Capabilities { Capabilities::new("none") }
/// #   fn get(&self, _: &GetRequest<'_>) -> Result<Lookup, Error> { Ok(Lookup::Miss) }
/// #   fn get_or_lease(&self, _: &GetRequest<'_>, _: std::time::Duration) -> Result<Leased, Error> { Ok(Leased::Unleased) }
/// #   fn peek(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
/// #   fn remove(&self, _: &GetRequest<'_>) -> Result<bool, Error> { Ok(false) }
/// #   fn put(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> { Ok(PutOutcome::default()) }
/// #   fn len(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   fn purge(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   fn purge_prefix(&self, _: &str) -> Result<u64, Error> { Ok(0) }
/// #   fn add_counters(&self, _: &str, _: &[(&'static str, u64)]) -> Result<(), Error> { Ok(()) }
/// #   fn read_counters(&self, _: &str) -> Result<Vec<(String, u64)>, Error> { Ok(vec![]) }
/// #   fn remove_counters(&self, _: &str) -> Result<(), Error> { Ok(()) }
/// #   async fn get_async(&self, _: &GetRequest<'_>) -> Result<Lookup, Error> { Ok(Lookup::Miss) }
/// #   async fn get_or_lease_async(&self, _: &GetRequest<'_>, _: std::time::Duration) -> Result<Leased, Error> { Ok(Leased::Unleased) }
/// #   async fn peek_async(&self, _: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> { Ok(None) }
/// #   async fn remove_async(&self, _: &GetRequest<'_>) -> Result<bool, Error> { Ok(false) }
/// #   async fn put_async(&self, _: &PutRequest<'_>) -> Result<PutOutcome, Error> { Ok(PutOutcome::default()) }
/// #   async fn len_async(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   async fn purge_async(&self, _: &KeyPair) -> Result<u64, Error> { Ok(0) }
/// #   async fn purge_prefix_async(&self, _: &str) -> Result<u64, Error> { Ok(0) }
/// # }
/// static F: FuncId = FuncId::with_version("doc", "f", "1");
/// let store = AnyStore::new(Nothing); // a MemoryStore, a RedisStore, ...
/// let cache = Arc::new(FuncCache::builder("any").store(store).build().unwrap());
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let spawned = rt.spawn(async move { cache.call_async(&F, &1u32, || async { 2u32 }).await });
/// assert_eq!(rt.block_on(spawned).unwrap().unwrap(), 2);
/// ```
#[derive(Clone)]
pub struct AnyStore(Arc<dyn DynStore>);

impl AnyStore {
    /// Wraps any store.
    pub fn new(store: impl Store) -> Self {
        AnyStore(Arc::new(store))
    }

    /// The store behind it.
    pub fn inner(&self) -> &Arc<dyn DynStore> {
        &self.0
    }
}

impl From<Arc<dyn DynStore>> for AnyStore {
    fn from(store: Arc<dyn DynStore>) -> Self {
        AnyStore(store)
    }
}

impl std::fmt::Debug for AnyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AnyStore")
            .field(&DynStore::capabilities(&*self.0))
            .finish()
    }
}

impl Store for AnyStore {
    fn capabilities(&self) -> Capabilities {
        DynStore::capabilities(&*self.0)
    }
    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        DynStore::get(&*self.0, req)
    }
    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, Error> {
        DynStore::get_or_lease(&*self.0, req, lease)
    }
    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        DynStore::peek(&*self.0, req)
    }
    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        DynStore::remove(&*self.0, req)
    }
    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        DynStore::put(&*self.0, req)
    }
    fn len(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::len(&*self.0, pair)
    }
    fn purge(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::purge(&*self.0, pair)
    }
    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error> {
        DynStore::purge_prefix(&*self.0, prefix)
    }
    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), Error> {
        DynStore::add_counters(&*self.0, key, counts)
    }
    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, Error> {
        DynStore::read_counters(&*self.0, key)
    }
    fn remove_counters(&self, key: &str) -> Result<(), Error> {
        DynStore::remove_counters(&*self.0, key)
    }
    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        DynStore::get_async(&*self.0, req).await
    }
    async fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> Result<Leased, Error> {
        DynStore::get_or_lease_async(&*self.0, req, lease).await
    }
    async fn peek_async(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        DynStore::peek_async(&*self.0, req).await
    }
    async fn remove_async(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        DynStore::remove_async(&*self.0, req).await
    }
    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        DynStore::put_async(&*self.0, req).await
    }
    async fn len_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::len_async(&*self.0, pair).await
    }
    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        DynStore::purge_async(&*self.0, pair).await
    }
    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, Error> {
        DynStore::purge_prefix_async(&*self.0, prefix).await
    }
}
