//! `equivalent`: a real store, driven along every path the model explores,
//! must give the same observations and hold the same pair as the model.
//!
//! The search is depth-first over the model's states (a state reached again
//! at no smaller depth is not explored twice: the store's pair was checked
//! equal there, so it behaves the same from it). The store follows: before
//! each sibling it is put back where the parent left it — the memory store
//! by replaying the path, a Redis server by copying the pair back from a
//! snapshot taken with `COPY` when the parent was first reached.
//! Each step is also checked against [`ops::check_bounded`], so a random
//! victim (RR) is checked for what it may be, and the model then follows the
//! store's choice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis_func_cache::clock::ManualClock;
use redis_func_cache::policy::queue_scores::{MAIN_BASE, SMALL_BASE};
use redis_func_cache::policy::{Layout, PolicyRules};
use redis_func_cache::store::{DynStore, Expiry, GetRequest, PairContents, PutRequest, Store};
use redis_func_cache::{
    FredStore, InvocationHash, KeyPair, MemoryStore, RedisClusterStore, RedisStore,
};

use super::model::{CHECKED, CLOCK_START, CacheState, Key, Kind, PolicyModel, member};
use super::ops::{self, Observed, Op};
use super::{Counterexample, Report, Scope};

/// Which store `equivalent` drives.
#[derive(Clone)]
#[non_exhaustive]
pub enum StoreUnderTest {
    /// The in-process memory store (with a manual clock, so ticks are
    /// exact).
    Memory,
    /// A Redis server at this URL, through redis-rs.
    Redis(String),
    /// A Redis Cluster, any of whose nodes is at this URL (a cluster
    /// layout), through redis-rs.
    Cluster(String),
    /// A Redis server at this URL, through fred.
    Fred(String),
    /// A Redis Cluster, any of whose nodes is at this `redis://` URL,
    /// through fred.
    FredCluster(String),
    /// A store of your own ([`CheckedStore`]), opened fresh by this
    /// function for every path, with the clock it must read.
    Custom(OpenStore),
}

impl std::fmt::Debug for StoreUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUnderTest::Memory => write!(f, "Memory"),
            StoreUnderTest::Redis(url) => write!(f, "Redis({url})"),
            StoreUnderTest::Cluster(url) => write!(f, "Cluster({url})"),
            StoreUnderTest::Fred(url) => write!(f, "Fred({url})"),
            StoreUnderTest::FredCluster(url) => write!(f, "FredCluster({url})"),
            StoreUnderTest::Custom(_) => write!(f, "Custom"),
        }
    }
}

impl StoreUnderTest {
    /// Whether the store runs in this process, on the clock the checker
    /// moves (so clock rules and per-entry TTLs can be checked on it).
    fn in_process(&self) -> bool {
        matches!(self, StoreUnderTest::Memory | StoreUnderTest::Custom(_))
    }
}

/// Opens a fresh, empty store of your own that reads `clock` (a manual
/// clock the checker moves one microsecond per tick).
pub type OpenStore =
    std::sync::Arc<dyn Fn(ManualClock) -> Result<Box<dyn CheckedStore>, String> + Send + Sync>;

/// A store of your own under `equivalent`: any [`Store`] (as a
/// [`DynStore`]), and what a pair holds if it can tell. Each path is
/// replayed on a freshly opened store from the start, so it needs no
/// snapshots.
///
/// ```
/// use std::sync::Arc;
/// use redis_func_cache::{KeyPair, MemoryStore};
/// use redis_func_cache::store::{DynStore, PairContents};
/// use redis_func_cache::rules;
/// use redis_func_cache_benches::policycheck::equivalence::{CheckedStore, StoreUnderTest};
/// use redis_func_cache_benches::policycheck::ops::OpSet;
/// use redis_func_cache_benches::policycheck::{Check, Scope, check};
///
/// /// Your store (here the memory store in a wrapper of yours).
/// struct Mine(MemoryStore);
///
/// impl CheckedStore for Mine {
///     fn store(&self) -> &dyn DynStore { &self.0 }
///     fn contents(&self, pair: &KeyPair) -> Result<Option<PairContents>, String> {
///         Ok(Some(self.0.contents(pair)))
///     }
/// }
///
/// let mine = StoreUnderTest::Custom(Arc::new(|clock| {
///     Ok(Box::new(Mine(MemoryStore::with_clock(clock).with_seed(7))) as Box<dyn CheckedStore>)
/// }));
/// let scope = Scope { keys: 3, depth: 4, capacities: (1, 2), ops: OpSet::All, entry_ttl: None };
/// let report = check(&Check::Equivalent(mine), rules::SIEVE, &scope).unwrap();
/// assert!(report.holds, "{report}");
/// ```
pub trait CheckedStore: Send + Sync + 'static {
    /// The store the checker drives.
    fn store(&self) -> &dyn DynStore;
    /// What `pair` holds now, compared with the model's pair after every
    /// step; `Ok(None)` when the store cannot tell, and then only what
    /// gets and puts observe is compared.
    fn contents(&self, pair: &KeyPair) -> Result<Option<PairContents>, String>;
}

impl CheckedStore for MemoryStore {
    fn store(&self) -> &dyn DynStore {
        self
    }
    fn contents(&self, pair: &KeyPair) -> Result<Option<PairContents>, String> {
        Ok(Some(MemoryStore::contents(self, pair)))
    }
}

const EXPIRY: Expiry = Expiry {
    pair_ttl: Duration::from_secs(3600),
    slide: true,
    entry_ttl: None,
};

/// The expiry a store is driven with: an hour's pair TTL, and the model's
/// per-entry TTL with a tick of the clock as 1 µs.
fn expiry_of(policy: &PolicyModel) -> Expiry {
    Expiry {
        entry_ttl: policy.entry_ttl().map(Duration::from_micros),
        ..EXPIRY
    }
}

/// A store the explorer drives, with a way back to an earlier point.
trait Subject {
    fn store(&self) -> &dyn StoreOps;
    fn pair(&self) -> &KeyPair;
    /// The TTLs every get and put carries.
    fn expiry(&self) -> Expiry;
    fn tick(&mut self) -> Result<(), String>;
    /// Remembers the pair as it is now, as the point at `depth`.
    fn save(&mut self, depth: usize) -> Result<(), String>;
    /// Puts the pair back to the point saved at `depth`, reached by `path`.
    fn restore(&mut self, depth: usize, path: &[(Op, u64)]) -> Result<(), String>;
    /// What the pair holds, if the store can tell.
    fn contents(&self) -> Result<Option<PairContents>, String>;
    fn cleanup(&mut self) -> Result<(), String>;
}

/// The store calls the explorer makes, object-safe.
trait StoreOps {
    fn get(&self, req: &GetRequest<'_>) -> Result<Option<Bytes>, String>;
    fn put(&self, req: &PutRequest<'_>) -> Result<Vec<InvocationHash>, String>;
    fn purge(&self, pair: &KeyPair) -> Result<(), String>;
}

impl StoreOps for Box<dyn CheckedStore> {
    fn get(&self, req: &GetRequest<'_>) -> Result<Option<Bytes>, String> {
        DynStore::get(self.store(), req)
            .map(|v| v.into_value().map(|v| Bytes::copy_from_slice(&v)))
            .map_err(|e| e.to_string())
    }
    fn put(&self, req: &PutRequest<'_>) -> Result<Vec<InvocationHash>, String> {
        DynStore::put(self.store(), req)
            .map(|o| o.evicted)
            .map_err(|e| e.to_string())
    }
    fn purge(&self, pair: &KeyPair) -> Result<(), String> {
        DynStore::purge(self.store(), pair)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

impl<S: Store> StoreOps for S {
    fn get(&self, req: &GetRequest<'_>) -> Result<Option<Bytes>, String> {
        Store::get(self, req)
            .map(|v| v.into_value().map(|v| Bytes::copy_from_slice(&v)))
            .map_err(|e| e.to_string())
    }
    fn put(&self, req: &PutRequest<'_>) -> Result<Vec<InvocationHash>, String> {
        Store::put(self, req)
            .map(|o| o.evicted)
            .map_err(|e| e.to_string())
    }
    fn purge(&self, pair: &KeyPair) -> Result<(), String> {
        Store::purge(self, pair)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// An in-process store (the memory store, or one of yours), put back to
/// a point by replaying the path on a fresh one.
struct ReplayedSubject {
    open: OpenStore,
    store: Box<dyn CheckedStore>,
    clock: ManualClock,
    pair: KeyPair,
    rules: PolicyRules,
    expiry: Expiry,
}

impl ReplayedSubject {
    fn new(open: OpenStore, policy: &PolicyModel, name: &str) -> Result<Self, String> {
        let clock = ManualClock::new(CLOCK_START);
        let store = open(clock.clone())?;
        let rules = *policy.rules();
        let layout = if store.store().capabilities().needs_cluster_layout {
            Layout::Cluster
        } else {
            Layout::Single
        };
        Ok(ReplayedSubject {
            open,
            store,
            clock,
            pair: KeyPair::new("policycheck:", name, rules.word, layout, &CHECKED),
            rules,
            expiry: expiry_of(policy),
        })
    }
}

impl Subject for ReplayedSubject {
    fn store(&self) -> &dyn StoreOps {
        &self.store
    }
    fn pair(&self) -> &KeyPair {
        &self.pair
    }
    fn expiry(&self) -> Expiry {
        self.expiry
    }
    fn tick(&mut self) -> Result<(), String> {
        self.clock.advance(Duration::from_micros(1));
        Ok(())
    }
    fn save(&mut self, _depth: usize) -> Result<(), String> {
        // Replayed on restore: a path of a few in-process calls costs less
        // than copying the pair.
        Ok(())
    }
    fn restore(&mut self, _depth: usize, path: &[(Op, u64)]) -> Result<(), String> {
        // A fresh store, not a purged one: its random victims (RR) then
        // come from the same seed along the same path, as the model saw.
        self.clock.set(CLOCK_START);
        self.store = (self.open)(self.clock.clone())?;
        let rules = self.rules;
        for &(op, maxsize) in path {
            self.drive(&rules, op, maxsize)?;
        }
        Ok(())
    }
    fn contents(&self) -> Result<Option<PairContents>, String> {
        self.store.contents(&self.pair)
    }
    fn cleanup(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// The memory store as [`StoreUnderTest::Memory`] opens it: on the
/// checker's clock, with a fixed seed for its random victims.
fn open_memory() -> OpenStore {
    std::sync::Arc::new(|clock| {
        Ok(Box::new(MemoryStore::with_clock(clock).with_seed(7)) as Box<dyn CheckedStore>)
    })
}

/// A Redis store, with a plain connection for the snapshots.
struct RedisSubject<S: Store> {
    store: S,
    connection: Box<dyn redis::ConnectionLike>,
    pair: KeyPair,
    /// Depths whose snapshot keys exist (a snapshot of an absent key is
    /// its absence).
    saved: Vec<[bool; 2]>,
    /// The connection pipelines (one server; not a cluster).
    pipelines: bool,
}

impl<S: Store> RedisSubject<S> {
    fn snapshot_key(&self, half: usize, depth: usize) -> String {
        // The pair's key with a suffix: the same hash tag, so the same
        // cluster slot, as COPY needs.
        let key = if half == 0 {
            self.pair.index()
        } else {
            self.pair.values()
        };
        format!("{key}:policycheck-snapshot:{depth}")
    }

    fn key(&self, half: usize) -> &str {
        if half == 0 {
            self.pair.index()
        } else {
            self.pair.values()
        }
    }

    /// Sends integer-replying commands: in one round trip on one server,
    /// one by one on a cluster (whose sync connection does not pipeline).
    fn send(&mut self, commands: Vec<redis::Cmd>) -> redis::RedisResult<Vec<i64>> {
        if self.pipelines {
            let mut pipe = redis::pipe();
            for c in commands {
                pipe.add_command(c);
            }
            pipe.query(self.connection.as_mut())
        } else {
            commands
                .into_iter()
                .map(|c| c.query(self.connection.as_mut()))
                .collect()
        }
    }
}

/// The Redis stores' way of reading a whole pair.
trait ReadPair {
    fn read_pair(&self, pair: &KeyPair) -> Result<PairContents, String>;
}

impl ReadPair for RedisStore {
    fn read_pair(&self, pair: &KeyPair) -> Result<PairContents, String> {
        self.contents(pair).map_err(|e| e.to_string())
    }
}

impl ReadPair for FredStore {
    fn read_pair(&self, pair: &KeyPair) -> Result<PairContents, String> {
        self.contents(pair).map_err(|e| e.to_string())
    }
}

impl ReadPair for RedisClusterStore {
    fn read_pair(&self, pair: &KeyPair) -> Result<PairContents, String> {
        self.contents(pair).map_err(|e| e.to_string())
    }
}

impl<S: Store + ReadPair> Subject for RedisSubject<S> {
    fn store(&self) -> &dyn StoreOps {
        &self.store
    }
    fn pair(&self) -> &KeyPair {
        &self.pair
    }
    fn expiry(&self) -> Expiry {
        // `run` refuses per-entry TTLs on Redis.
        EXPIRY
    }
    fn tick(&mut self) -> Result<(), String> {
        Err(
            "the Redis stores read the server's clock: check clock rules on the memory store"
                .into(),
        )
    }
    fn save(&mut self, depth: usize) -> Result<(), String> {
        if self.saved.len() <= depth {
            self.saved.resize(depth + 1, [false; 2]);
        }
        // Copy both halves, and drop a stale snapshot of a half that is
        // absent now.
        let mut commands = Vec::new();
        for half in 0..2 {
            let mut del = redis::cmd("DEL");
            del.arg(self.snapshot_key(half, depth));
            let mut copy = redis::cmd("COPY");
            copy.arg(self.key(half)).arg(self.snapshot_key(half, depth));
            commands.extend([del, copy]);
        }
        let replies = self
            .send(commands)
            .map_err(|e| format!("saving the pair: {e}"))?;
        self.saved[depth] = [replies[1] == 1, replies[3] == 1];
        Ok(())
    }
    fn restore(&mut self, depth: usize, _path: &[(Op, u64)]) -> Result<(), String> {
        let mut commands = Vec::new();
        for half in 0..2 {
            let mut del = redis::cmd("DEL");
            del.arg(self.key(half));
            commands.push(del);
            if self.saved.get(depth).is_some_and(|s| s[half]) {
                let mut copy = redis::cmd("COPY");
                copy.arg(self.snapshot_key(half, depth)).arg(self.key(half));
                commands.push(copy);
            }
        }
        self.send(commands)
            .map_err(|e| format!("restoring the pair: {e}"))?;
        Ok(())
    }
    fn contents(&self) -> Result<Option<PairContents>, String> {
        self.store.read_pair(&self.pair).map(Some)
    }
    fn cleanup(&mut self) -> Result<(), String> {
        let mut del = redis::cmd("DEL");
        del.arg(self.key(0)).arg(self.key(1));
        let _: i64 = del
            .query(self.connection.as_mut())
            .map_err(|e| e.to_string())?;
        for depth in 0..self.saved.len() {
            for half in 0..2 {
                let _: i64 = redis::cmd("DEL")
                    .arg(self.snapshot_key(half, depth))
                    .query(self.connection.as_mut())
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// [`Subject`] plus the one operation, so [`ReplayedSubject::restore`] can
/// replay through the same code the explorer uses.
trait SubjectMut {
    fn drive(&mut self, rules: &PolicyRules, op: Op, maxsize: u64) -> Result<Observed, String>;
}

impl<T: Subject + ?Sized> SubjectMut for T {
    fn drive(&mut self, rules: &PolicyRules, op: Op, maxsize: u64) -> Result<Observed, String> {
        let get = |s: &T, k: Key| -> Result<Option<u8>, String> {
            let req = GetRequest::new(s.pair(), member(k), rules, s.expiry());
            let value = s.store().get(&req)?;
            match value.as_deref() {
                None => Ok(None),
                Some([v]) => Ok(Some(*v)),
                Some(other) => Err(format!("get {k}: a value of {} bytes", other.len())),
            }
        };
        let put = |s: &T, k: Key, v: u8| -> Result<Vec<Key>, String> {
            let req = PutRequest::new(
                s.pair(),
                member(k),
                Bytes::copy_from_slice(&[v]),
                rules,
                maxsize,
                s.expiry(),
            );
            s.store().put(&req)?.iter().map(key_of).collect()
        };
        Ok(match op {
            Op::Call(k) => match get(self, k)? {
                Some(v) => Observed::Hit(v),
                None => Observed::Miss(put(self, k, super::model::call_value(k))?),
            },
            Op::Get(k) => match get(self, k)? {
                Some(v) => Observed::Hit(v),
                None => Observed::Miss(Vec::new()),
            },
            Op::Put(k, v) => Observed::Stored(put(self, k, v)?),
            Op::Resize(_) => Observed::Nothing,
            Op::Purge => {
                self.store().purge(self.pair())?;
                Observed::Nothing
            }
            Op::Tick => {
                self.tick()?;
                Observed::Nothing
            }
        })
    }
}

fn key_of(m: &InvocationHash) -> Result<Key, String> {
    (0..=u8::MAX)
        .find(|k| member(*k) == *m)
        .ok_or_else(|| format!("evicted {m:?}, which no key of the checker stands for"))
}

/// Whether the store's pair is the model's: the same entries with the same
/// values, in the same index order; exact scores where they count (LFU's
/// counts, the clock); S3-FIFO's queues, ghost and counters; SIEVE's queue,
/// visited bits and the entry its hand points at.
pub fn compare(policy: &PolicyModel, model: &CacheState, got: &PairContents) -> Result<(), String> {
    let rules = policy.rules();
    let queue = rules.index.is_queue();
    let mut values = Vec::new();
    let mut flags = HashMap::new();
    for (m, v) in &got.values {
        let k = key_of(m)?;
        let (value, flag) = if queue {
            match v.as_ref() {
                [value, flag] => (*value, *flag),
                _ => {
                    return Err(format!(
                        "{k}: stored value {v:?} is not a value and a counter"
                    ));
                }
            }
        } else {
            match v.as_ref() {
                [value] => (*value, 0),
                _ => return Err(format!("{k}: stored value {v:?} is not one byte")),
            }
        };
        values.push((k, value));
        flags.insert(k, flag);
    }
    values.sort_unstable();
    let want: Vec<(Key, u8)> = model.entries.iter().map(|e| (e.key, e.value)).collect();
    if values != want {
        return Err(format!("values: store {values:?}, model {want:?}"));
    }
    let index: Vec<(Key, Option<u64>)> = got
        .index
        .iter()
        .map(|(m, s)| Ok((key_of(m)?, *s)))
        .collect::<Result<_, String>>()?;
    let ranked = |e: &super::model::Entry| (e.score, member(e.key));
    match policy.kind() {
        Kind::SortedSet => {
            let mut entries = model.entries.clone();
            entries.sort_by_key(ranked);
            let got_order: Vec<Key> = index.iter().map(|(k, _)| *k).collect();
            let want_order: Vec<Key> = entries.iter().map(|e| e.key).collect();
            if got_order != want_order {
                return Err(format!(
                    "index order: store {got_order:?}, model {want_order:?}"
                ));
            }
            let exact = !([rules.on_insert, rules.on_hit, rules.on_overwrite]
                .iter()
                .all(|r| {
                    matches!(
                        r,
                        redis_func_cache::policy::ScoreRule::Keep
                            | redis_func_cache::policy::ScoreRule::MaxPlusOne
                    )
                }));
            if exact {
                let got_scores: Vec<Option<u64>> = index.iter().map(|(_, s)| *s).collect();
                let want_scores: Vec<Option<u64>> = entries.iter().map(|e| Some(e.score)).collect();
                if got_scores != want_scores {
                    return Err(format!(
                        "scores: store {got_scores:?}, model {want_scores:?}"
                    ));
                }
            }
        }
        Kind::Set => {
            let mut got_keys: Vec<Key> = index.iter().map(|(k, _)| *k).collect();
            got_keys.sort_unstable();
            let want_keys: Vec<Key> = model.entries.iter().map(|e| e.key).collect();
            if got_keys != want_keys {
                return Err(format!("members: store {got_keys:?}, model {want_keys:?}"));
            }
        }
        Kind::S3Fifo => {
            let queue_of = |lo: u64, hi: u64| -> Vec<(Key, u8)> {
                index
                    .iter()
                    .filter(|(_, s)| s.is_some_and(|s| (lo..hi).contains(&s)))
                    .map(|(k, _)| (*k, flags.get(k).copied().unwrap_or(0)))
                    .collect()
            };
            let model_queue = |tag: u64| -> Vec<(Key, u8)> {
                let mut q: Vec<_> = model
                    .entries
                    .iter()
                    .filter(|e| e.score >> 32 == tag)
                    .collect();
                q.sort_by_key(|e| e.score);
                q.iter().map(|e| (e.key, e.flag)).collect()
            };
            let ghost: Vec<Key> = queue_of(0, SMALL_BASE).into_iter().map(|e| e.0).collect();
            let (small, main) = (
                queue_of(SMALL_BASE, MAIN_BASE),
                queue_of(MAIN_BASE, u64::MAX),
            );
            if small != model_queue(1) || main != model_queue(2) || ghost != model.ghost {
                return Err(format!(
                    "queues: store S {small:?} M {main:?} G {ghost:?}; model S {:?} M {:?} G {:?}",
                    model_queue(1),
                    model_queue(2),
                    model.ghost
                ));
            }
        }
        Kind::Sieve => {
            let got_queue: Vec<(Key, u8)> = index
                .iter()
                .map(|(k, _)| (*k, flags.get(k).copied().unwrap_or(0)))
                .collect();
            let mut entries = model.entries.clone();
            entries.sort_by_key(|e| e.score);
            let want_queue: Vec<(Key, u8)> = entries.iter().map(|e| (e.key, e.flag)).collect();
            if got_queue != want_queue {
                return Err(format!("queue: store {got_queue:?}, model {want_queue:?}"));
            }
            let hand = got.hand.unwrap_or(0);
            let got_at = index
                .iter()
                .find(|(_, s)| s.is_some_and(|s| s >= hand))
                .or(index.first())
                .map(|e| e.0);
            let want_at = entries
                .iter()
                .find(|e| e.score >= model.hand)
                .or(entries.first())
                .map(|e| e.key);
            if got_at != want_at {
                return Err(format!(
                    "the hand points at {got_at:?}, the model's at {want_at:?}"
                ));
            }
        }
    }
    Ok(())
}

struct Explorer<'a> {
    policy: &'a PolicyModel,
    scope: &'a Scope,
    subject: &'a mut dyn Subject,
    /// The shallowest depth each (pair, maxsize) was reached at.
    seen: HashMap<(CacheState, u64), usize>,
    path: Vec<(Op, u64)>,
    steps: usize,
    limit: usize,
}

/// What broke, and where.
struct Broken {
    path: Vec<(Op, u64)>,
    capacity: u64,
    message: String,
}

impl Explorer<'_> {
    fn visit(
        &mut self,
        state: &CacheState,
        maxsize: u64,
        last_put: &[Option<u8>],
        capacity: u64,
    ) -> Result<(), Broken> {
        let depth = self.path.len();
        if depth == self.limit {
            return Ok(());
        }
        self.subject
            .save(depth)
            .map_err(|e| self.broken(capacity, e))?;
        let mut actions = Vec::new();
        ops::actions(
            self.policy,
            self.scope.ops,
            self.scope.capacities,
            maxsize,
            &mut actions,
        );
        for (i, op) in actions.into_iter().enumerate() {
            if i > 0 {
                self.subject
                    .restore(depth, &self.path)
                    .map_err(|e| self.broken(capacity, e))?;
            }
            self.steps += 1;
            let rules = *self.policy.rules();
            let got = self
                .subject
                .drive(&rules, op, maxsize)
                .map_err(|e| self.broken_at(capacity, op, maxsize, e))?;
            let (next, next_maxsize) = self
                .follow(state, maxsize, op, &got)
                .map_err(|e| self.broken_at(capacity, op, maxsize, e))?;
            let keys = |s: &CacheState| s.entries.iter().map(|e| e.key).collect::<Vec<Key>>();
            let live = ops::live_keys(state, op);
            ops::check_bounded(&live, last_put, maxsize, op, &got, &keys(&next))
                .map_err(|e| self.broken_at(capacity, op, maxsize, e))?;
            let contents = self
                .subject
                .contents()
                .map_err(|e| self.broken_at(capacity, op, maxsize, e))?;
            if let Some(contents) = contents {
                compare(self.policy, &next, &contents).map_err(|e| {
                    self.broken_at(capacity, op, maxsize, format!("after {op}: {e}"))
                })?;
            }
            let key = (next.clone(), next_maxsize);
            let fresh = self.seen.get(&key).is_none_or(|d| *d > depth + 1);
            if fresh {
                self.seen.insert(key, depth + 1);
                let mut last = last_put.to_vec();
                if let Some((k, v)) = ops::value_put(op, &got) {
                    last[usize::from(k)] = Some(v);
                }
                self.path.push((op, maxsize));
                self.visit(&next, next_maxsize, &last, capacity)?;
                self.path.pop();
            }
        }
        Ok(())
    }

    /// The model's step given what the store observed: the same outcome,
    /// or an error that says how they differ.
    fn follow(
        &self,
        state: &CacheState,
        maxsize: u64,
        op: Op,
        got: &Observed,
    ) -> Result<(CacheState, u64), String> {
        let mut next_maxsize = maxsize;
        let mut next = state.clone();
        let want = if self.policy.is_random() && ops::value_put(op, got).is_some() {
            let (k, v) = ops::value_put(op, got).expect("checked");
            if matches!(op, Op::Call(_)) && self.policy.get(&mut next, k).is_some() {
                return Err(format!("{op}: the store missed; the model hits"));
            }
            let evicted = self
                .policy
                .put_chosen(&mut next, k, v, maxsize, got.evicted())?;
            match op {
                Op::Call(_) => Observed::Miss(evicted),
                _ => Observed::Stored(evicted),
            }
        } else {
            let (s, o) = ops::apply(self.policy, state, &mut next_maxsize, op)
                .into_iter()
                .next()
                .expect("one outcome");
            next = s;
            o
        };
        if want != *got {
            return Err(format!("{op}: the store saw {got:?}, the model {want:?}"));
        }
        Ok((next, next_maxsize))
    }

    fn broken(&self, capacity: u64, message: String) -> Broken {
        Broken {
            path: self.path.clone(),
            capacity,
            message,
        }
    }

    fn broken_at(&self, capacity: u64, op: Op, maxsize: u64, message: String) -> Broken {
        let mut path = self.path.clone();
        path.push((op, maxsize));
        Broken {
            path,
            capacity,
            message,
        }
    }
}

/// Opens the store under test on a fresh pair.
fn open(store: &StoreUnderTest, policy: &PolicyModel) -> Result<Box<dyn Subject>, String> {
    let rules = *policy.rules();
    let name = format!("pc{}", std::process::id());
    let single = KeyPair::new("policycheck:", &name, rules.word, Layout::Single, &CHECKED);
    let cluster = KeyPair::new("policycheck:", &name, rules.word, Layout::Cluster, &CHECKED);
    let one_server = |url: &str| {
        redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .map_err(|e| format!("{url}: {e}"))
    };
    let a_cluster = |url: &str| {
        redis::cluster::ClusterClient::new(vec![url])
            .and_then(|c| c.get_connection())
            .map_err(|e| format!("{url}: {e}"))
    };
    Ok(match store {
        StoreUnderTest::Memory => Box::new(ReplayedSubject::new(open_memory(), policy, &name)?),
        StoreUnderTest::Custom(open) => {
            Box::new(ReplayedSubject::new(open.clone(), policy, &name)?)
        }
        StoreUnderTest::Redis(url) => Box::new(RedisSubject {
            store: RedisStore::open(url.as_str()).map_err(|e| format!("{url}: {e}"))?,
            connection: Box::new(one_server(url)?),
            pair: single,
            saved: Vec::new(),
            pipelines: true,
        }),
        StoreUnderTest::Cluster(url) => Box::new(RedisSubject {
            store: RedisClusterStore::open_cluster([url.as_str()])
                .map_err(|e| format!("{url}: {e}"))?,
            connection: Box::new(a_cluster(url)?),
            pair: cluster,
            saved: Vec::new(),
            pipelines: false,
        }),
        StoreUnderTest::Fred(url) => Box::new(RedisSubject {
            store: FredStore::open(url.as_str()).map_err(|e| format!("{url}: {e}"))?,
            connection: Box::new(one_server(url)?),
            pair: single,
            saved: Vec::new(),
            pipelines: true,
        }),
        StoreUnderTest::FredCluster(url) => {
            // fred names a cluster by its scheme; one node is enough to
            // find the others.
            let node = url
                .trim_start_matches("redis://")
                .trim_end_matches('/')
                .to_string();
            let fred_url = format!("redis-cluster://{node}");
            Box::new(RedisSubject {
                store: FredStore::open(&fred_url).map_err(|e| format!("{fred_url}: {e}"))?,
                connection: Box::new(a_cluster(url)?),
                pair: cluster,
                saved: Vec::new(),
                pipelines: false,
            })
        }
    })
}

/// Explores every path of the scope on the model with the store following;
/// on a difference, explores again below its depth until the shortest
/// difference is found.
pub(crate) fn run(
    store: &StoreUnderTest,
    policy: PolicyModel,
    scope: &Scope,
) -> Result<Report, String> {
    if !store.in_process() && policy.scores_by_clock() {
        return Err(format!(
            "`{}` reads the clock, which on Redis is the server's TIME: check it on the memory store",
            policy.rules().word
        ));
    }
    if !store.in_process() && policy.entry_ttl().is_some() {
        return Err(
            "per-entry TTLs run on the Redis server's clock, which ticks cannot move: check them on the memory store"
                .into(),
        );
    }
    let started = Instant::now();
    let mut subject = open(store, &policy)?;
    let mut limit = scope.depth;
    let mut found: Option<Broken> = None;
    let mut steps = 0;
    let mut unique = 0;
    loop {
        let mut broken = None;
        for capacity in scope.capacities.0..=scope.capacities.1 {
            subject.store().purge(subject.pair())?;
            subject.restore(0, &[])?;
            let mut explorer = Explorer {
                policy: &policy,
                scope,
                subject: subject.as_mut(),
                seen: HashMap::new(),
                path: Vec::new(),
                steps: 0,
                limit,
            };
            let last_put = vec![None; usize::from(policy.keys())];
            let outcome = explorer.visit(&policy.empty(), capacity, &last_put, capacity);
            steps += explorer.steps;
            unique += explorer.seen.len();
            if let Err(b) = outcome {
                broken = Some(b);
                break;
            }
        }
        match broken {
            Some(b) if b.path.len() > 1 => {
                limit = b.path.len() - 1;
                found = Some(b);
            }
            Some(b) => {
                found = Some(b);
                break;
            }
            None => break,
        }
    }
    subject.cleanup()?;
    let seconds = started.elapsed().as_secs_f64();
    let counterexample = found.map(|b| Counterexample {
        capacities: vec![b.capacity],
        steps: b.path.iter().map(|(op, _)| (*op, Vec::new())).collect(),
        hits: None,
        message: b.message,
    });
    Ok(Report {
        property: "equivalent".into(),
        holds: counterexample.is_none(),
        policy: policy.rules().word.into(),
        scope: *scope,
        unique_states: unique,
        states: steps,
        seconds,
        // The explorer does not tell a cut-off path from a finished one.
        exhaustive: false,
        // Paths are replayed on a store in the names they were taken in.
        symmetry: false,
        counterexample,
    })
}
