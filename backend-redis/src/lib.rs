//! The Redis store of `redis-func-cache`, on the `redis` crate.
//!
//! Each policy description is carried out by one of three constant Lua
//! scripts, so a hit is one round trip (`EVALSHA` of the get script) and a
//! miss two (the get script, then the put script that evicts, inserts and sets
//! the TTL). Scripts touch only the two keys of a pair, passed as `KEYS`;
//! values travel only as `ARGV`. After `SCRIPT FLUSH`, a restart or a
//! failover, `NOSCRIPT` is answered by loading the script again.
//!
//! ```no_run
//! use redis_func_cache_core::{FuncCache, FuncId};
//! use redis_func_cache_policies::LruPolicy;
//! use redis_func_cache_redis::RedisStore;
//!
//! static FIB: FuncId = FuncId::with_version(module_path!(), "fib", "1");
//! let store = RedisStore::open("redis://127.0.0.1:6379/").unwrap();
//! let cache = FuncCache::builder("my-first-lru-cache").policy(LruPolicy).store(store).build().unwrap();
//! let v: u64 = cache.call(&FIB, &10u64, || 55).unwrap();
//! ```
#![warn(missing_docs)]

mod scripts;
#[cfg(feature = "test-server")]
pub mod test_server;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Client, Cmd, IntoConnectionInfo, RedisResult};
use redis_func_cache_core::policy::{IndexKind, PolicyRules, ScoreRule, Victim};
use redis_func_cache_core::store::{
    Bytes, Capabilities, Expiry, GetRequest, PairContents, PutOutcome, PutRequest, Store,
};
use redis_func_cache_core::{Error, InvocationHash, KeyPair};
use tokio::sync::OnceCell;

const BACKEND: &str = "redis";

static GET: LazyLock<ScriptText> = LazyLock::new(|| ScriptText::new(scripts::GET));
static PUT: LazyLock<ScriptText> = LazyLock::new(|| ScriptText::new(scripts::PUT));
static PURGE: LazyLock<ScriptText> = LazyLock::new(|| ScriptText::new(scripts::PURGE));

/// A script's text and SHA1.
struct ScriptText {
    text: &'static str,
    sha: String,
}

impl ScriptText {
    fn new(text: &'static str) -> Self {
        ScriptText {
            text,
            sha: redis::Script::new(text).get_hash().to_owned(),
        }
    }
}

/// One call of a script on the two keys of a pair.
///
/// It is sent as `EVALSHA`; a `NOSCRIPT` answer (after `SCRIPT FLUSH`, a
/// restart or a failover) is met with `EVAL` of the full text, which runs it
/// and caches it again in one step. (Loading it and retrying `EVALSHA` would
/// fail again if another flush came in between.)
struct ScriptCall {
    script: &'static ScriptText,
    cmd: Cmd,
}

impl ScriptCall {
    fn new(script: &'static ScriptText, pair: &KeyPair) -> Self {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&script.sha)
            .arg(2)
            .arg(pair.index())
            .arg(pair.values());
        ScriptCall { script, cmd }
    }

    fn arg(mut self, arg: impl redis::ToRedisArgs) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// The same call as `EVAL` with the script's text.
    fn eval(&self) -> Cmd {
        let mut eval = redis::cmd("EVAL");
        eval.arg(self.script.text);
        for arg in self.cmd.args_iter().skip(2) {
            if let redis::Arg::Simple(bytes) = arg {
                eval.arg(bytes);
            }
        }
        eval
    }

    fn invoke<T: redis::FromRedisValue>(
        &self,
        con: &mut dyn redis::ConnectionLike,
    ) -> RedisResult<T> {
        match self.cmd.query(con) {
            Err(e) if is_noscript(&e) => self.eval().query(con),
            other => other,
        }
    }

    async fn invoke_async<T: redis::FromRedisValue>(
        &self,
        con: &mut ConnectionManager,
    ) -> RedisResult<T> {
        match self.cmd.query_async(con).await {
            Err(e) if is_noscript(&e) => self.eval().query_async(con).await,
            other => other,
        }
    }
}

fn is_noscript(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// Entries kept in one Redis server (for Redis Cluster, see the cluster
/// store).
///
/// Cheap to clone: clones share one multiplexed async connection (made on
/// first async use, reconnecting on failure) and one pool of sync
/// connections.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    pool: r2d2::Pool<Client>,
    manager: OnceCell<ConnectionManager>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.shared.client.get_connection_info().addr())
            .finish_non_exhaustive()
    }
}

/// Maps a client error into the public error, marking the ones that may pass
/// (a lost connection, a timeout, a cluster moving a slot).
fn backend_error(e: redis::RedisError) -> Error {
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error();
    if transient {
        Error::transient_backend(BACKEND, e)
    } else {
        Error::backend(BACKEND, e)
    }
}

fn pool_error(e: r2d2::Error) -> Error {
    Error::transient_backend(BACKEND, e)
}

/// Options for [`RedisStore::with_options`].
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Most sync connections kept open (default 16).
    pub max_sync_connections: u32,
    /// How long a sync call waits for a free connection (default 5 s).
    pub connection_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            max_sync_connections: 16,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisStore {
    /// A store on the server at `url` (`redis://`, `rediss://` with the TLS
    /// features of `redis`, user and password in the URL). Connections are
    /// made on first use, so this fails only for a malformed URL.
    pub fn open(url: impl IntoConnectionInfo) -> Result<Self, Error> {
        RedisStore::with_options(url, RedisOptions::default())
    }

    /// [`RedisStore::open`] with options.
    pub fn with_options(
        url: impl IntoConnectionInfo,
        options: RedisOptions,
    ) -> Result<Self, Error> {
        let client = Client::open(url).map_err(backend_error)?;
        Ok(RedisStore::from_client_with_options(client, options))
    }

    /// A store on a ready client.
    pub fn from_client(client: Client) -> Self {
        RedisStore::from_client_with_options(client, RedisOptions::default())
    }

    fn from_client_with_options(client: Client, options: RedisOptions) -> Self {
        let pool = r2d2::Pool::builder()
            .max_size(options.max_sync_connections)
            .min_idle(Some(0))
            .connection_timeout(options.connection_timeout)
            // A check-out test is a PING: one more round trip on every call.
            // A broken connection is dropped when it comes back instead.
            .test_on_check_out(false)
            .build_unchecked(client.clone());
        RedisStore {
            shared: Arc::new(Shared {
                client,
                pool,
                manager: OnceCell::new(),
            }),
        }
    }

    /// The client this store uses.
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    fn sync_connection(&self) -> Result<r2d2::PooledConnection<Client>, Error> {
        self.shared.pool.get().map_err(pool_error)
    }

    async fn async_connection(&self) -> Result<ConnectionManager, Error> {
        let manager = self
            .shared
            .manager
            .get_or_try_init(|| ConnectionManager::new(self.shared.client.clone()))
            .await
            .map_err(backend_error)?;
        Ok(manager.clone())
    }

    /// What a pair holds now, read with `ZRANGE`/`SMEMBERS` and `HGETALL`,
    /// in the form the memory store reports it.
    pub fn contents(&self, pair: &KeyPair) -> Result<PairContents, Error> {
        let mut con = self.sync_connection()?;
        let kind: String = redis::cmd("TYPE")
            .arg(pair.index())
            .query(&mut *con)
            .map_err(backend_error)?;
        let mut index: Vec<(InvocationHash, Option<u64>)> = match kind.as_str() {
            "zset" => {
                let pairs: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
                    .arg(pair.index())
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(&mut *con)
                    .map_err(backend_error)?;
                pairs
                    .into_iter()
                    .map(|(m, s)| Ok((member(&m)?, Some(s as u64))))
                    .collect::<Result<_, Error>>()?
            }
            "set" => {
                let members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
                    .arg(pair.index())
                    .query(&mut *con)
                    .map_err(backend_error)?;
                members
                    .iter()
                    .map(|m| Ok((member(m)?, None)))
                    .collect::<Result<_, Error>>()?
            }
            _ => Vec::new(),
        };
        if index.iter().all(|(_, s)| s.is_none()) {
            index.sort();
        }
        let map: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(pair.values())
            .query(&mut *con)
            .map_err(backend_error)?;
        let mut values = map
            .into_iter()
            .map(|(m, v)| Ok((member(&m)?, Bytes::from(v))))
            .collect::<Result<Vec<_>, Error>>()?;
        values.sort();
        Ok(PairContents { index, values })
    }

    /// The keys of every pair whose index key starts with `prefix`, found
    /// with `SCAN` (never `KEYS`, which blocks the server).
    fn scan_pairs(&self, prefix: &str) -> Result<Vec<KeyPair>, Error> {
        let mut con = self.sync_connection()?;
        let pattern = format!("{}*:0", glob_escape(prefix));
        let keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut *con)
            .map_err(backend_error)?
            .collect::<Result<_, _>>()
            .map_err(backend_error)?;
        Ok(keys.iter().filter_map(|k| pair_of_index_key(k)).collect())
    }

    async fn scan_pairs_async(&self, prefix: &str) -> Result<Vec<KeyPair>, Error> {
        use redis::AsyncIter;
        let mut con = self.async_connection().await?;
        let pattern = format!("{}*:0", glob_escape(prefix));
        let mut cmd = redis::cmd("SCAN");
        cmd.cursor_arg(0)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000);
        let mut iter: AsyncIter<'_, String> =
            cmd.iter_async(&mut con).await.map_err(backend_error)?;
        let mut pairs = Vec::new();
        while let Some(key) = iter.next_item().await {
            if let Some(pair) = pair_of_index_key(&key.map_err(backend_error)?) {
                pairs.push(pair);
            }
        }
        Ok(pairs)
    }
}

/// The pair an index key belongs to.
fn pair_of_index_key(key: &str) -> Option<KeyPair> {
    let base = key.strip_suffix(":0")?;
    Some(KeyPair::from_names(key.to_owned(), format!("{base}:1")))
}

/// Escapes the glob characters of `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn member(bytes: &[u8]) -> Result<InvocationHash, Error> {
    let raw: [u8; 16] = bytes.try_into().map_err(|_| {
        Error::backend(
            BACKEND,
            format!(
                "a member of {} bytes is not an invocation hash",
                bytes.len()
            ),
        )
    })?;
    Ok(InvocationHash::from_bytes(raw))
}

fn rule_word(rule: ScoreRule) -> &'static str {
    match rule {
        ScoreRule::Keep => "keep",
        ScoreRule::MaxPlusOne => "max1",
        ScoreRule::One => "one",
        ScoreRule::Increment => "incr",
        ScoreRule::ClockMicros => "clock",
    }
}

fn kind_word(rules: &PolicyRules) -> &'static str {
    match rules.index {
        IndexKind::SortedSet => "z",
        IndexKind::Set => "s",
    }
}

fn victim_word(victim: Victim) -> &'static str {
    match victim {
        Victim::Lowest => "low",
        Victim::Highest => "high",
        Victim::Random => "rand",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

fn get_call(req: &GetRequest<'_>) -> ScriptCall {
    let expiry: Expiry = req.expiry;
    ScriptCall::new(&GET, req.pair)
        .arg(&req.member.as_bytes()[..])
        .arg(kind_word(req.rules))
        .arg(rule_word(req.rules.on_hit))
        .arg(millis(expiry.pair_ttl))
        .arg(flag(expiry.slide))
        .arg(flag(expiry.entry_ttl.is_some()))
}

fn put_call(req: &PutRequest<'_>) -> ScriptCall {
    let expiry = req.expiry;
    let entry_ttl_us = expiry.entry_ttl.map_or(0, |d| {
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
    });
    ScriptCall::new(&PUT, req.pair)
        .arg(&req.member.as_bytes()[..])
        .arg(&req.value[..])
        .arg(kind_word(req.rules))
        .arg(rule_word(req.rules.on_insert))
        .arg(rule_word(req.rules.on_overwrite))
        .arg(victim_word(req.rules.victim))
        .arg(req.maxsize)
        .arg(millis(expiry.pair_ttl))
        .arg(flag(expiry.slide))
        .arg(entry_ttl_us)
}

fn purge_call(pair: &KeyPair) -> ScriptCall {
    ScriptCall::new(&PURGE, pair)
}

fn outcome(evicted: Vec<Vec<u8>>) -> Result<PutOutcome, Error> {
    Ok(PutOutcome {
        evicted: evicted
            .iter()
            .map(|m| member(m))
            .collect::<Result<_, _>>()?,
    })
}

impl Store for RedisStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(BACKEND)
    }

    fn get(&self, req: &GetRequest<'_>) -> Result<Option<Bytes>, Error> {
        let mut con = self.sync_connection()?;
        let value: Option<Vec<u8>> = get_call(req).invoke(&mut *con).map_err(backend_error)?;
        Ok(value.map(Bytes::from))
    }

    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        let mut con = self.sync_connection()?;
        let evicted: Vec<Vec<u8>> = put_call(req).invoke(&mut *con).map_err(backend_error)?;
        outcome(evicted)
    }

    fn len(&self, pair: &KeyPair) -> Result<u64, Error> {
        let mut con = self.sync_connection()?;
        redis::cmd("HLEN")
            .arg(pair.values())
            .query(&mut *con)
            .map_err(backend_error)
    }

    fn purge(&self, pair: &KeyPair) -> Result<u64, Error> {
        let mut con = self.sync_connection()?;
        purge_call(pair).invoke(&mut *con).map_err(backend_error)
    }

    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error> {
        let mut removed = 0;
        for pair in self.scan_pairs(prefix)? {
            removed += self.purge(&pair)?;
        }
        Ok(removed)
    }

    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Option<Bytes>, Error> {
        let mut con = self.async_connection().await?;
        let value: Option<Vec<u8>> = get_call(req)
            .invoke_async(&mut con)
            .await
            .map_err(backend_error)?;
        Ok(value.map(Bytes::from))
    }

    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        let mut con = self.async_connection().await?;
        let evicted: Vec<Vec<u8>> = put_call(req)
            .invoke_async(&mut con)
            .await
            .map_err(backend_error)?;
        outcome(evicted)
    }

    async fn len_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        let mut con = self.async_connection().await?;
        redis::cmd("HLEN")
            .arg(pair.values())
            .query_async(&mut con)
            .await
            .map_err(backend_error)
    }

    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        let mut con = self.async_connection().await?;
        purge_call(pair)
            .invoke_async(&mut con)
            .await
            .map_err(backend_error)
    }

    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, Error> {
        let mut removed = 0;
        for pair in self.scan_pairs_async(prefix).await? {
            removed += self.purge_async(&pair).await?;
        }
        Ok(removed)
    }
}
