//! The store on the `redis` crate (redis-rs): one server or a cluster.

use std::future::Future;
use std::sync::Arc;

use redis::{Cmd, ConnectionInfo, IntoConnectionInfo, RedisResult};
use std::time::Duration;

use redis_func_cache_core::store::{
    Bytes, Capabilities, GetRequest, Leased, Lookup, PairContents, PutOutcome, PutRequest, Store,
    StoredValue,
};
use redis_func_cache_core::{Error, InvocationHash, KeyPair};

use crate::guard::{self, Guard};
use crate::renewal::{self, Renewals};
use crate::scripts::{
    Arg, FunctionRoute, GetAnswer, Refusal, ScriptCall, ScriptText, entry_call, get_call,
    get_leased_call, hit_value, leased, len_call, looked_up, member, outcome, purge_call, put_call,
    sorted_index,
};
use crate::topology::{self, Cluster, Standalone, TimedClient, Topology};
use crate::{BACKEND, RedisOptions, glob_escape, pair_of_index_key};

/// The four ways to send a script call (see [`FunctionRoute`]).
#[derive(Clone, Copy)]
enum Form {
    Fcall,
    Load,
    Evalsha,
    Eval,
}

/// The command of `form` for `script`, up to its keys: `FUNCTION LOAD`
/// whole, the others with the function's name, the hash or the text, and
/// room for `rest` more arguments of `rest_bytes` bytes, so the keys and
/// arguments that follow are written without growing the buffers (a hit's
/// command otherwise grew them about six times).
fn head(script: &ScriptText, form: Form, (rest, rest_bytes): (usize, usize)) -> Cmd {
    let (name, head) = match form {
        Form::Fcall => ("FCALL", &script.function),
        Form::Evalsha => ("EVALSHA", &script.sha),
        Form::Eval => ("EVAL", &script.text),
        Form::Load => {
            let mut cmd = redis::cmd("FUNCTION");
            cmd.arg("LOAD").arg("REPLACE").arg(&script.library);
            return cmd;
        }
    };
    let mut cmd = Cmd::with_capacity(2 + rest, name.len() + head.len() + rest_bytes);
    cmd.arg(name).arg(head);
    cmd
}

/// The length of a plain argument (a cursor, which scripts never take, has
/// none).
fn simple_len(arg: &redis::Arg<&[u8]>) -> usize {
    match arg {
        redis::Arg::Simple(bytes) => bytes.len(),
        _ => 0,
    }
}

/// The longest decimal form of an integer argument.
const INT_BYTES: usize = 20;

impl ScriptCall<'_> {
    fn command(&self, form: Form) -> Cmd {
        let mut cmd = head(self.script, form, self.keys_and_args_size());
        if !matches!(form, Form::Load) {
            self.keys_and_args(&mut cmd);
        }
        cmd
    }

    /// How many arguments [`ScriptCall::keys_and_args`] writes, and at
    /// most how many bytes.
    fn keys_and_args_size(&self) -> (usize, usize) {
        let keys = self.keys().map(str::len);
        let args = self.args.iter().map(|arg| match *arg {
            Arg::Bytes(b) => b.len(),
            Arg::Text(t) => t.len(),
            Arg::Int(_) => INT_BYTES,
        });
        let (count, bytes) = keys
            .chain(args)
            .fold((0, 0), |(count, bytes), len| (count + 1, bytes + len));
        // The key count comes first: one digit.
        (count + 1, bytes + 1)
    }

    fn keys_and_args(&self, cmd: &mut Cmd) {
        cmd.arg(2 + usize::from(self.lease_key.is_some()));
        for key in self.keys() {
            cmd.arg(key);
        }
        for arg in &self.args {
            match *arg {
                Arg::Bytes(b) => cmd.arg(b),
                Arg::Text(t) => cmd.arg(t),
                Arg::Int(n) => cmd.arg(n),
            };
        }
    }

    /// The call with its keys and arguments copied, for a task that
    /// outlives it; each form's command is made when it is sent.
    fn owned(&self, route: &Arc<FunctionRoute>) -> OwnedCall {
        let (count, bytes) = self.keys_and_args_size();
        let mut keys_and_args = Cmd::with_capacity(count, bytes);
        self.keys_and_args(&mut keys_and_args);
        OwnedCall {
            script: self.script,
            keys_and_args,
            route: Arc::clone(route),
        }
    }

    /// Sends the call on `con` (routed by its first key in a cluster), in
    /// the form `route` chooses (see [`send_async`]).
    fn invoke<T: redis::FromRedisValue>(
        &self,
        con: &mut dyn redis::ConnectionLike,
        route: &FunctionRoute,
    ) -> RedisResult<T> {
        if route.functions() {
            match self.command(Form::Fcall).query(con) {
                Err(e) => match refusal(route, &e) {
                    Some(Refusal::NotLoaded) => {
                        if let Err(e) = self.command(Form::Load).query::<redis::Value>(con) {
                            load_refused(route, &e);
                        }
                    }
                    Some(_) => {}
                    None => return Err(e),
                },
                done => return done,
            }
        }
        match self.command(Form::Evalsha).query(con) {
            Err(e) if is_noscript(&e) => self.command(Form::Eval).query(con),
            other => other,
        }
    }

    async fn invoke_async<T, C>(&self, con: &mut C, route: &FunctionRoute) -> RedisResult<T>
    where
        T: redis::FromRedisValue,
        C: redis::aio::ConnectionLike + Send,
    {
        send_async(|form| self.command(form), con, route).await
    }
}

/// A script call, owned (see [`ScriptCall::owned`]).
struct OwnedCall {
    script: &'static ScriptText,
    /// The key count, the keys and the arguments, as every form but
    /// `FUNCTION LOAD` ends.
    keys_and_args: Cmd,
    route: Arc<FunctionRoute>,
}

impl OwnedCall {
    fn command(&self, form: Form) -> Cmd {
        let args = self.keys_and_args.args_iter();
        let bytes = args.clone().map(|arg| simple_len(&arg)).sum();
        let mut cmd = head(self.script, form, (args.len(), bytes));
        if !matches!(form, Form::Load) {
            for arg in args {
                if let redis::Arg::Simple(bytes) = arg {
                    cmd.arg(bytes);
                }
            }
        }
        cmd
    }

    async fn invoke_async<T, C>(self, con: &mut C) -> RedisResult<T>
    where
        T: redis::FromRedisValue,
        C: redis::aio::ConnectionLike + Send,
    {
        send_async(|form| self.command(form), con, &self.route).await
    }
}

/// Sends a script call: `FCALL` while `route` says functions, and after a
/// refusal (see [`Refusal`]) `EVALSHA`, then `EVAL` on `NOSCRIPT`. A server
/// that lost the function gets it again (`FUNCTION LOAD REPLACE`) before
/// the call goes as a script, so the next call is an `FCALL` again.
async fn send_async<T, C>(
    mut command: impl FnMut(Form) -> Cmd,
    con: &mut C,
    route: &FunctionRoute,
) -> RedisResult<T>
where
    T: redis::FromRedisValue,
    C: redis::aio::ConnectionLike + Send,
{
    if route.functions() {
        match command(Form::Fcall).query_async(con).await {
            Err(e) => match refusal(route, &e) {
                Some(Refusal::NotLoaded) => {
                    if let Err(e) = command(Form::Load).query_async::<redis::Value>(con).await {
                        load_refused(route, &e);
                    }
                }
                Some(_) => {}
                None => return Err(e),
            },
            done => return done,
        }
    }
    match command(Form::Evalsha).query_async(con).await {
        Err(e) if is_noscript(&e) => command(Form::Eval).query_async(con).await,
        other => other,
    }
}

/// What a server's error answer to `FCALL` means (see
/// [`FunctionRoute::after_refusal`]); `None` for other errors.
fn refusal(route: &FunctionRoute, e: &redis::RedisError) -> Option<Refusal> {
    route.after_refusal(&server_error(e)?)
}

/// `FUNCTION LOAD` failed: if the server refused it, see
/// [`FunctionRoute::after_load_refused`].
fn load_refused(route: &FunctionRoute, e: &redis::RedisError) {
    if let Some(message) = server_error(e) {
        route.after_load_refused(&message);
    }
}

/// A server's error answer as its code and text; `None` for a lost
/// connection, a timeout or a reply that did not parse.
fn server_error(e: &redis::RedisError) -> Option<String> {
    let code = e.code()?;
    Some(format!("{code} {}", e.detail().unwrap_or_default()))
}

/// A get script's answer, read off redis-rs's reply.
fn get_answer(answer: redis::Value) -> Result<GetAnswer, Error> {
    match answer {
        redis::Value::Nil => Ok(GetAnswer::Nothing),
        redis::Value::Int(n) => Ok(GetAnswer::Number(n)),
        redis::Value::BulkString(b) => Ok(GetAnswer::Value(Bytes::from(b))),
        redis::Value::Array(items) if items.len() == 1 => GetAnswer::expired(
            items
                .into_iter()
                .next()
                .map_or(Ok(GetAnswer::Nothing), get_answer),
        ),
        other => Err(Error::backend(
            BACKEND,
            format!("the get script answered {other:?}"),
        )),
    }
}

fn is_noscript(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// Runtimes whose async connection a store keeps; a program with more
/// live runtimes than this reconnects now and then, nothing worse.
const MAX_RUNTIME_CONNECTIONS: usize = 16;

/// How many deadlines an attempt to renew a connection may take: a connect
/// to each node and a `PING` on each, in turn, with room for a link whose
/// round trip is a large part of the deadline; failed tries are made again
/// within it.
const RENEWAL_DEADLINES: u32 = 8;

/// The least time between two attempts to renew a connection. In a cluster
/// each connects to every node; while a server or a node hangs they all
/// fail, and the breaker's probes (a second apart at first) bring failures
/// that would start them.
const RENEWAL_SPACING: Duration = Duration::from_secs(1);

/// A store on a Redis Cluster: the same scripts, routed by their first key.
/// Build it with [`RedisStore::open_cluster`]; caches on it must use a
/// cluster layout (`LruClusterPolicy`, `LruClusterMultiplePolicy`, ...), which
/// `build()` checks.
pub type RedisClusterStore = RedisStore<Cluster>;

/// Entries kept in Redis: one server ([`Standalone`], the default) or a
/// cluster ([`Cluster`]).
///
/// Cheap to clone: clones share the multiplexed async connections (one per
/// tokio runtime that calls, made on first use, reconnecting on failure)
/// and one pool of sync connections.
pub struct RedisStore<T: Topology = Standalone> {
    shared: Arc<Shared<T>>,
}

impl<T: Topology> Clone for RedisStore<T> {
    fn clone(&self) -> Self {
        RedisStore {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<T: Topology> {
    /// The breaker and the deadline every operation passes through.
    guard: Guard,
    /// Where to start: the server, or one cluster node (its credentials
    /// reach the others for `SCAN`).
    seed: ConnectionInfo,
    pool: r2d2::Pool<T::Client>,
    client: T::Client,
    /// An async connection per tokio runtime that called, driven by that
    /// runtime: a call then never crosses to another thread and back, which
    /// cost a third of an async hit's throughput. A connection dies with its
    /// runtime, so each runtime gets its own (runtime ids are never reused);
    /// the oldest is dropped beyond [`MAX_RUNTIME_CONNECTIONS`]. Callers
    /// outside tokio use the one of the store's own runtime [`Shared::io`].
    per_runtime: std::sync::RwLock<Vec<(tokio::runtime::Id, T::AsyncConnection)>>,
    /// The runtime that drives the async connection of callers on other
    /// executors; made on first such use. It lives as long as the store.
    io: std::sync::OnceLock<tokio::runtime::Runtime>,
    /// Functions or scripts, for every call of the store.
    route: Arc<FunctionRoute>,
    /// New connections made in the background after failures (see
    /// [`RedisStore::renew_caller_connection`]).
    renewals: Arc<Renewals>,
}

impl<T: Topology> Shared<T> {
    /// The connection of the runtime `id`, if it has one.
    fn connection_of(&self, id: tokio::runtime::Id) -> Option<T::AsyncConnection> {
        let list = self.per_runtime.read().unwrap_or_else(|p| p.into_inner());
        list.iter().find(|(r, _)| *r == id).map(|(_, c)| c.clone())
    }

    /// The connection of the runtime `id`: the one it has (another task of
    /// the runtime may have connected meanwhile), or else `made`.
    fn keep_first_connection(
        &self,
        id: tokio::runtime::Id,
        made: T::AsyncConnection,
    ) -> T::AsyncConnection {
        let mut list = self.per_runtime.write().unwrap_or_else(|p| p.into_inner());
        if let Some((_, kept)) = list.iter().find(|(r, _)| *r == id) {
            return kept.clone();
        }
        add_connection(&mut list, id, made.clone());
        made
    }

    /// Puts `con` in the place of the runtime `id`'s connection, or gives
    /// the runtime its first (when the first connect failed, a renewal may
    /// be the one that succeeds).
    fn replace_connection(&self, id: tokio::runtime::Id, con: T::AsyncConnection) {
        let mut list = self.per_runtime.write().unwrap_or_else(|p| p.into_inner());
        match list.iter_mut().find(|(r, _)| *r == id) {
            Some((_, old)) => *old = con,
            None => add_connection(&mut list, id, con),
        }
    }
}

/// Gives the runtime `id` its connection, dropping the oldest runtime's
/// beyond [`MAX_RUNTIME_CONNECTIONS`].
fn add_connection<C>(list: &mut Vec<(tokio::runtime::Id, C)>, id: tokio::runtime::Id, con: C) {
    if list.len() >= MAX_RUNTIME_CONNECTIONS {
        list.remove(0);
    }
    list.push((id, con));
}

impl<T: Topology> Drop for Shared<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Dropping a runtime blocks, which panics inside async code.
            io.shutdown_background();
        }
    }
}

impl<T: Topology> std::fmt::Debug for RedisStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &T::CLUSTER)
            .field("seed", &self.shared.seed.addr())
            .finish_non_exhaustive()
    }
}

/// A server's answer as the type a caller asked for. A wrong shape is an
/// error of its own, not a `redis::RedisError`: redis-rs gives both a reply
/// that did not parse and a value of another shape the kind `Parse`, and
/// only the first is a broken connection (see `guard::reached`).
fn answer_as<V: redis::FromRedisValue>(answer: redis::Value) -> Result<V, Error> {
    redis::from_redis_value(answer).map_err(|e| Error::backend(BACKEND, e))
}

/// Maps a client error into the public error, marking the ones that may pass
/// (a lost connection, a timeout, a cluster moving a slot).
fn backend_error(e: redis::RedisError) -> Error {
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || e.kind() == redis::ErrorKind::ClusterConnectionNotFound;
    if transient {
        Error::transient_backend(BACKEND, e)
    } else {
        Error::backend(BACKEND, e)
    }
}

/// Whether `e` is a call that got no answer in time: the deadline's own
/// error, or the client's timeout.
fn timed_out(e: &Error) -> bool {
    let Error::Backend { source, .. } = e else {
        return false;
    };
    if let Some(e) = source.downcast_ref::<std::io::Error>() {
        return e.kind() == std::io::ErrorKind::TimedOut;
    }
    source
        .downcast_ref::<redis::RedisError>()
        .is_some_and(redis::RedisError::is_timeout)
}

fn pool_error(e: r2d2::Error) -> Error {
    Error::transient_backend(BACKEND, e)
}

impl RedisStore<Standalone> {
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
        let client = redis::Client::open(url).map_err(backend_error)?;
        Ok(RedisStore::from_client_with_options(client, options))
    }

    /// A store on a ready client.
    pub fn from_client(client: redis::Client) -> Self {
        RedisStore::from_client_with_options(client, RedisOptions::default())
    }

    /// [`RedisStore::from_client`] with options.
    pub fn from_client_with_options(client: redis::Client, options: RedisOptions) -> Self {
        let seed = client.get_connection_info().clone();
        RedisStore::new(TimedClient::new(client, options.deadline), seed, &options)
    }
}

impl RedisStore<Cluster> {
    /// A store on the Redis Cluster that these nodes belong to (one is
    /// enough; the client learns the rest).
    ///
    /// ```no_run
    /// use redis_func_cache::RedisClusterStore;
    /// let store = RedisClusterStore::open_cluster(["redis://127.0.0.1:7000/", "redis://127.0.0.1:7001/"]).unwrap();
    /// ```
    pub fn open_cluster<I, U>(nodes: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = U>,
        U: IntoConnectionInfo,
    {
        RedisStore::open_cluster_with_options(nodes, RedisOptions::default())
    }

    /// [`RedisStore::open_cluster`] with options.
    pub fn open_cluster_with_options<I, U>(nodes: I, options: RedisOptions) -> Result<Self, Error>
    where
        I: IntoIterator<Item = U>,
        U: IntoConnectionInfo,
    {
        let infos = nodes
            .into_iter()
            .map(IntoConnectionInfo::into_connection_info)
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend_error)?;
        let seed = infos
            .first()
            .cloned()
            .ok_or_else(|| Error::config("a cluster store needs at least one node URL"))?;
        let client = topology::cluster_client(infos, options.deadline).map_err(backend_error)?;
        Ok(RedisStore::new(client, seed, &options))
    }
}

impl<T: Topology> RedisStore<T> {
    fn new(client: T::Client, seed: ConnectionInfo, options: &RedisOptions) -> Self {
        let guard = Guard::new(options, T::CLUSTER);
        let pool = r2d2::Pool::builder()
            .max_size(options.max_sync_connections)
            .min_idle(Some(0))
            // A check-out that fails (r2d2 tries to connect again and
            // again until then) ends a little before the deadline, as the
            // async timers do: the call's error comes within it.
            .connection_timeout(guard.timer_deadline())
            // A check-out test is a PING: one more round trip on every call.
            // A broken connection is dropped when it comes back instead.
            .test_on_check_out(false)
            .build_unchecked(client.clone());
        RedisStore {
            shared: Arc::new(Shared {
                guard,
                seed,
                pool,
                client,
                per_runtime: std::sync::RwLock::new(Vec::new()),
                io: std::sync::OnceLock::new(),
                route: Arc::new(FunctionRoute::new(options.functions)),
                renewals: Arc::default(),
            }),
        }
    }

    fn sync_connection(&self) -> Result<r2d2::PooledConnection<T::Client>, Error> {
        self.shared.pool.get().map_err(pool_error)
    }

    async fn async_connection(&self) -> Result<T::AsyncConnection, Error> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.io_connection().await;
        };
        self.connection_of(&runtime).await
    }

    /// The connection of `runtime`, made on it if it has none. Made in a
    /// task of its own, kept when the call that asked for it gives up at
    /// its deadline: a cluster connection connects to every node inside
    /// this, and on a link whose round trip is a large part of the deadline
    /// that outlasts one, so no call would ever find it made.
    async fn connection_of(
        &self,
        runtime: &tokio::runtime::Handle,
    ) -> Result<T::AsyncConnection, Error> {
        let id = runtime.id();
        if let Some(connection) = self.shared.connection_of(id) {
            return Ok(connection);
        }
        let shared = Arc::clone(&self.shared);
        runtime
            .spawn(async move {
                let made = T::connect(&shared.client).await.map_err(backend_error)?;
                Ok(shared.keep_first_connection(id, made))
            })
            .await
            .map_err(|e| Error::backend(BACKEND, e))?
    }

    /// Runs a script: on the caller's tokio runtime, or, for callers outside
    /// tokio, wholly on the store's own runtime (the connection's lazy
    /// connect and its reconnects spawn tasks, which need tokio).
    async fn invoke<V: redis::FromRedisValue>(&self, call: &ScriptCall<'_>) -> Result<V, Error> {
        answer_as(self.invoke_for_value(call).await?)
    }

    /// [`RedisStore::invoke`], the answer as it came.
    async fn invoke_for_value(&self, call: &ScriptCall<'_>) -> Result<redis::Value, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            let started = std::time::Instant::now();
            let mut con = self.async_connection().await?;
            let route = &self.shared.route;
            let result = match call.invoke_async(&mut con, route).await {
                // The connection was lost since the last call (a restart,
                // `CLIENT KILL`): the manager connects again, and the call
                // goes once more on the new connection (see `on_pool`).
                Err(e) if !T::CLUSTER && self.may_resend(&e, started) => {
                    call.invoke_async(&mut con, route).await
                }
                other => other,
            };
            return result.map_err(backend_error);
        }
        let owned = call.owned(&self.shared.route);
        self.on_io(move |mut con| async move { owned.invoke_async(&mut con).await })
            .await
    }

    /// Runs `op` with the store's own connection on the store's runtime.
    async fn on_io<V, F, Fut>(&self, op: F) -> Result<V, Error>
    where
        V: Send + 'static,
        F: FnOnce(T::AsyncConnection) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<V>> + Send + 'static,
    {
        let con = self.io_connection().await?;
        let io = self.io_runtime()?;
        io.spawn(op(con))
            .await
            .map_err(|e| Error::backend(BACKEND, e))?
            .map_err(backend_error)
    }

    /// Runs a script for a sync caller. On one server: on a pooled
    /// connection, whose socket timeouts keep the deadline. In a cluster: on
    /// the store's runtime, waited for at most the deadline, since the sync
    /// cluster client answers a silent node's timeout by reconnecting and
    /// retrying, many deadlines long (SPEC §8: no hidden retries that
    /// multiply it).
    fn invoke_sync<V: redis::FromRedisValue>(&self, call: &ScriptCall<'_>) -> Result<V, Error> {
        answer_as(self.invoke_sync_for_value(call)?)
    }

    /// [`RedisStore::invoke_sync`], the answer as it came.
    fn invoke_sync_for_value(&self, call: &ScriptCall<'_>) -> Result<redis::Value, Error> {
        if !T::CLUSTER {
            let route = &self.shared.route;
            return self.on_pool(|con| call.invoke(con, route));
        }
        let owned = call.owned(&self.shared.route);
        self.wait_on_io(move |mut con| async move { owned.invoke_async(&mut con).await })
    }

    /// Runs `op` on a pooled connection. A connection the server closed
    /// while it sat in the pool (a restart, `CLIENT KILL`, an idle timeout)
    /// fails at once; the pool drops it, and `op` runs again on another
    /// while half the deadline is left, at most once per pooled connection.
    /// Without this every idle connection a server dropped cost a failed
    /// call, and after an outage the breaker's probes met them one by one,
    /// a probe interval each, before the first hit.
    /// Whether a call that failed with `e` goes once more: its connection
    /// was dropped, and half the deadline is left.
    fn may_resend(&self, e: &redis::RedisError, started: std::time::Instant) -> bool {
        e.is_connection_dropped() && started.elapsed() < self.shared.guard.deadline() / 2
    }

    fn on_pool<V>(
        &self,
        mut op: impl FnMut(&mut T::SyncConnection) -> RedisResult<V>,
    ) -> Result<V, Error> {
        let started = std::time::Instant::now();
        let deadline = self.shared.guard.deadline();
        let left = || deadline.saturating_sub(started.elapsed());
        let mut con = self.sync_connection()?;
        for _ in 0..self.shared.pool.max_size() {
            T::reply_within(&mut con, left()).map_err(backend_error)?;
            match op(&mut con) {
                Err(e) if self.may_resend(&e, started) => {
                    drop(con);
                    con = self.shared.pool.get_timeout(left()).map_err(pool_error)?;
                }
                other => return other.map_err(backend_error),
            }
        }
        T::reply_within(&mut con, left()).map_err(backend_error)?;
        op(&mut con).map_err(backend_error)
    }

    /// A plain command for a sync caller, as [`RedisStore::invoke_sync`]
    /// runs a script.
    fn query_sync<V: redis::FromRedisValue>(&self, cmd: Cmd) -> Result<V, Error> {
        let answer: redis::Value = if T::CLUSTER {
            self.wait_on_io(move |mut con| async move { cmd.query_async(&mut con).await })?
        } else {
            self.on_pool(|con| cmd.query(con))?
        };
        answer_as(answer)
    }

    /// Runs `op` on the store's runtime with its connection and waits for
    /// the answer at most the deadline; an operation left behind ends on its
    /// own (its answer is dropped). Works from any thread, a tokio worker's
    /// included, since it only waits on a channel.
    fn wait_on_io<V, F, Fut>(&self, op: F) -> Result<V, Error>
    where
        V: Send + 'static,
        F: FnOnce(T::AsyncConnection) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<V>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let store = self.clone();
        let io = self.io_runtime()?;
        io.spawn(async move {
            let result = match store.io_connection().await {
                Ok(con) => op(con).await.map_err(backend_error),
                Err(e) => Err(e),
            };
            let _ = tx.send(result);
        });
        let result = match rx.recv_timeout(self.shared.guard.deadline()) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err(self.shared.guard.past_deadline())
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(Error::backend(BACKEND, "the store's I/O runtime stopped"))
            }
        };
        // As `run` does for async calls (this is the cluster's sync path).
        if !guard::reached(&result) {
            self.renew_connection_of(io.handle());
        }
        result
    }

    /// The connection on the store's own runtime, for callers outside tokio.
    async fn io_connection(&self) -> Result<T::AsyncConnection, Error> {
        self.connection_of(self.io_runtime()?.handle()).await
    }

    /// Runs an async operation through the guard (breaker and deadline).
    /// After a failure the breaker counts, the caller's connection is
    /// replaced, since redis-rs's `ConnectionManager` connects again only
    /// after an I/O error and its cluster client keeps a node's connection
    /// after timeouts:
    /// - A call that got no answer in time (and any failure in a cluster)
    ///   starts a new connection in the background, taken only once it
    ///   answers everywhere ([`RedisStore::renew_caller_connection`]). So a
    ///   connection that stopped answering (a firewall or NAT that lost its
    ///   state, a moved virtual IP: neither closed nor reset) is left within
    ///   a probe; a paused server's connection is kept, and answers the
    ///   first probe after the pause; and on a link whose round trip is a
    ///   large part of the deadline the calls stay on a connection that is
    ///   already made (dropping it after a late reply put every call behind
    ///   a connect and handshake it could not finish in time).
    /// - Any other failure on one server (a lost or refused connection, a
    ///   refused handshake such as a wrong password, a peer that does not
    ///   speak RESP) drops the connection, so the next call makes a new one.
    fn run<'a, R: 'a>(
        &'a self,
        key: Option<&'a str>,
        op: impl Future<Output = Result<R, Error>> + 'a,
    ) -> impl Future<Output = Result<R, Error>> + 'a {
        // (A callback rather than an async wrapper: one more layer of
        // future cost every async hit about 0.5k client instructions,
        // counted with hit_instructions.)
        self.shared.guard.run(key, op, move |e| {
            if T::CLUSTER || timed_out(e) {
                self.renew_caller_connection();
            } else {
                self.forget_caller_connection();
            }
        })
    }

    /// The runtime whose connection an async call from here uses (see
    /// [`RedisStore::async_connection`]): the caller's tokio runtime, or
    /// outside tokio the store's own, if it has been made.
    fn caller_runtime(&self) -> Option<tokio::runtime::Handle> {
        tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| self.shared.io.get().map(|io| io.handle().clone()))
    }

    /// Drops the connection an async call from here uses.
    fn forget_caller_connection(&self) {
        let Some(runtime) = self.caller_runtime() else {
            return;
        };
        let id = runtime.id();
        self.shared
            .per_runtime
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(r, _)| *r != id);
    }

    /// Makes a new connection beside the caller's on the same runtime, and
    /// puts it in the old one's place once the server, or every master of
    /// a cluster, has answered a `PING` on it (`renewal.rs` says why).
    /// While a server or a node hangs, that `PING` fails and the old
    /// connection stays (in a cluster, the calls on the healthy masters are
    /// not held up); once a connection went silent while new ones work, the
    /// next calls go on the new one. An attempt tries again a deadline
    /// after each failed try, ends within [`RENEWAL_DEADLINES`] deadlines,
    /// and starts at most once per [`RENEWAL_SPACING`].
    fn renew_caller_connection(&self) {
        if let Some(runtime) = self.caller_runtime() {
            self.renew_connection_of(&runtime);
        }
    }

    /// [`RedisStore::renew_caller_connection`] for the connection of
    /// `runtime`.
    fn renew_connection_of(&self, runtime: &tokio::runtime::Handle) {
        let id = runtime.id();
        let client = self.shared.client.clone();
        let seed = self.shared.seed.clone();
        let shared = Arc::downgrade(&self.shared);
        let deadline = self.shared.guard.deadline();
        let attempt = move || {
            let (client, seed, shared) = (client.clone(), seed.clone(), shared.clone());
            async move {
                // Tried again until the attempt's time is up: in a cluster
                // whose master hangs, only a connection made after its
                // replica took over answers everywhere, and the failures
                // that start attempts come a probe interval apart, so one
                // try per failure found the new master a probe late.
                renewal::tries_a_deadline_apart(deadline, || {
                    let (client, seed, shared) = (&client, &seed, &shared);
                    async move {
                        let old = shared.upgrade().and_then(|shared| shared.connection_of(id));
                        let renewed = async {
                            let mut con = T::reconnect(client, old, seed, deadline).await?;
                            T::answers_everywhere(&mut con).await?;
                            Ok::<_, redis::RedisError>(con)
                        };
                        match renewed.await {
                            Ok(con) => {
                                let Some(shared) = shared.upgrade() else {
                                    return true;
                                };
                                shared.replace_connection(id, con);
                                shared.guard.probe_now();
                                tracing::debug!("connection renewed");
                                true
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "connection not renewed yet");
                                // Nothing to renew for once the store is gone.
                                shared.strong_count() == 0
                            }
                        }
                    }
                })
                .await
            }
        };
        let within = self.shared.guard.deadline() * RENEWAL_DEADLINES;
        self.shared
            .renewals
            .start(runtime, within, RENEWAL_SPACING, attempt);
    }

    fn io_runtime(&self) -> Result<&tokio::runtime::Runtime, Error> {
        if let Some(io) = self.shared.io.get() {
            return Ok(io);
        }
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("redis-func-cache-io")
            .enable_all()
            .build()
            .map_err(|e| Error::backend(BACKEND, e))?;
        if let Err(unused) = self.shared.io.set(io) {
            // Another caller won the race; drop ours without blocking.
            unused.shutdown_background();
        }
        Ok(self.shared.io.get().expect("set above"))
    }

    /// What a pair holds now, read with `ZRANGE`/`SMEMBERS` and `HGETALL`,
    /// in the form the memory store reports it.
    pub fn contents(&self, pair: &KeyPair) -> Result<PairContents, Error> {
        let mut con = self.sync_connection()?;
        let kind: String = redis::cmd("TYPE")
            .arg(pair.index())
            .query(&mut *con)
            .map_err(backend_error)?;
        let mut hand = None;
        let mut index: Vec<(InvocationHash, Option<u64>)> = match kind.as_str() {
            "zset" => {
                let pairs: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
                    .arg(pair.index())
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(&mut *con)
                    .map_err(backend_error)?;
                let (index, sieve_hand) = sorted_index(pairs)?;
                hand = sieve_hand;
                index
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
            // The field '' is the top score get.lua keeps, not an entry.
            .filter(|(m, _)| !m.is_empty())
            .map(|(m, v)| Ok((member(&m)?, Bytes::from(v))))
            .collect::<Result<Vec<_>, Error>>()?;
        values.sort();
        Ok(PairContents {
            index,
            values,
            hand,
        })
    }

    fn data_nodes(&self) -> Result<Vec<ConnectionInfo>, Error> {
        let mut con = self.sync_connection()?;
        T::data_nodes(&self.shared.client, &mut con, &self.shared.seed).map_err(backend_error)
    }

    /// The pairs whose index key starts with `prefix`, found with `SCAN` on
    /// every node that holds keys (never `KEYS`, which blocks a server).
    fn scan_pairs(&self, prefix: &str) -> Result<Vec<KeyPair>, Error> {
        let pattern = format!("{}*:0", glob_escape(prefix));
        let mut pairs = Vec::new();
        for node in self.data_nodes()? {
            let mut con = redis::Client::open(node)
                .and_then(|c| TimedClient::new(c, self.shared.guard.deadline()).connection())
                .map_err(backend_error)?;
            let keys: Vec<String> = redis::cmd("SCAN")
                .cursor_arg(0)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .clone()
                .iter(&mut con)
                .map_err(backend_error)?
                .collect::<Result<_, _>>()
                .map_err(backend_error)?;
            pairs.extend(keys.iter().filter_map(|k| pair_of_index_key(k)));
        }
        Ok(pairs)
    }

    async fn scan_pairs_async(&self, prefix: &str) -> Result<Vec<KeyPair>, Error> {
        let pattern = format!("{}*:0", glob_escape(prefix));
        let mut pairs = Vec::new();
        let nodes = if T::CLUSTER {
            let mut con = self.async_connection().await?;
            let nodes: String = redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async(&mut con)
                .await
                .map_err(backend_error)?;
            topology::masters(&nodes)
                .into_iter()
                .map(|(host, port)| topology::node_info(&self.shared.seed, host, port))
                .collect()
        } else {
            vec![self.shared.seed.clone()]
        };
        for node in nodes {
            let client = redis::Client::open(node).map_err(backend_error)?;
            let mut con = client
                .get_multiplexed_async_connection()
                .await
                .map_err(backend_error)?;
            let mut cmd = redis::cmd("SCAN");
            cmd.cursor_arg(0)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let mut iter: redis::AsyncIter<'_, String> =
                cmd.iter_async(&mut con).await.map_err(backend_error)?;
            while let Some(key) = iter.next_item().await {
                if let Some(pair) = pair_of_index_key(&key.map_err(backend_error)?) {
                    pairs.push(pair);
                }
            }
        }
        Ok(pairs)
    }
}

impl<T: Topology> Store for RedisStore<T> {
    fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::new(BACKEND).with_shared();
        if T::CLUSTER {
            caps.with_cluster()
        } else {
            caps
        }
    }

    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        self.shared.guard.sync(Some(req.pair.index()), || {
            let answer: redis::Value = self.invoke_sync(&get_call(req)?)?;
            looked_up(req.rules, get_answer(answer)?)
        })
    }

    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        self.shared.guard.sync(Some(req.pair.index()), || {
            let value: Option<Vec<u8>> = self.invoke_sync(&entry_call(req, false))?;
            Ok(value.and_then(|v| hit_value(req.rules, Bytes::from(v))))
        })
    }

    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        self.shared.guard.sync(Some(req.pair.index()), || {
            let removed: u64 = self.invoke_sync(&entry_call(req, true))?;
            Ok(removed > 0)
        })
    }

    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, Error> {
        self.shared.guard.sync(Some(req.pair.index()), || {
            let answer: redis::Value = self.invoke_sync(&get_leased_call(req, lease)?)?;
            leased(req.rules, get_answer(answer)?)
        })
    }

    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        self.shared.guard.sync(Some(req.pair.index()), || {
            let evicted: Vec<Vec<u8>> = self.invoke_sync(&put_call(req)?)?;
            outcome(evicted)
        })
    }

    fn len(&self, pair: &KeyPair) -> Result<u64, Error> {
        self.shared
            .guard
            .sync(Some(pair.index()), || self.invoke_sync(&len_call(pair)))
    }

    fn purge(&self, pair: &KeyPair) -> Result<u64, Error> {
        self.shared
            .guard
            .sync(Some(pair.index()), || self.invoke_sync(&purge_call(pair)))
    }

    fn purge_prefix(&self, prefix: &str) -> Result<u64, Error> {
        let mut removed = 0;
        for pair in self.scan_pairs(prefix)? {
            removed += self.purge(&pair)?;
        }
        Ok(removed)
    }

    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), Error> {
        self.shared.guard.sync(Some(key), || {
            // One script, not a pipeline: a sync cluster connection sends
            // no pipelines, and a script is one round trip on either. Sent
            // whole with EVAL: it runs once per fleet interval, and so no
            // NOSCRIPT can come back.
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(
                "for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end",
            )
            .arg(1)
            .arg(key);
            for &(field, n) in counts {
                cmd.arg(field).arg(n);
            }
            self.query_sync::<()>(cmd)
        })
    }

    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, Error> {
        self.shared.guard.sync(Some(key), || {
            let mut cmd = redis::cmd("HGETALL");
            cmd.arg(key);
            let mut fields: Vec<(String, u64)> = self.query_sync(cmd)?;
            fields.sort();
            Ok(fields)
        })
    }

    fn remove_counters(&self, key: &str) -> Result<(), Error> {
        self.shared.guard.sync(Some(key), || {
            let mut cmd = redis::cmd("UNLINK");
            cmd.arg(key);
            self.query_sync::<()>(cmd)
        })
    }

    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Lookup, Error> {
        self.run(Some(req.pair.index()), async {
            let answer: redis::Value = self.invoke(&get_call(req)?).await?;
            looked_up(req.rules, get_answer(answer)?)
        })
        .await
    }

    async fn peek_async(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, Error> {
        self.run(Some(req.pair.index()), async {
            let value: Option<Vec<u8>> = self.invoke(&entry_call(req, false)).await?;
            Ok(value.and_then(|v| hit_value(req.rules, Bytes::from(v))))
        })
        .await
    }

    async fn remove_async(&self, req: &GetRequest<'_>) -> Result<bool, Error> {
        self.run(Some(req.pair.index()), async {
            let removed: u64 = self.invoke(&entry_call(req, true)).await?;
            Ok(removed > 0)
        })
        .await
    }

    async fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> Result<Leased, Error> {
        self.run(Some(req.pair.index()), async {
            let answer: redis::Value = self.invoke(&get_leased_call(req, lease)?).await?;
            leased(req.rules, get_answer(answer)?)
        })
        .await
    }

    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, Error> {
        self.run(Some(req.pair.index()), async {
            let evicted: Vec<Vec<u8>> = self.invoke(&put_call(req)?).await?;
            outcome(evicted)
        })
        .await
    }

    async fn len_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        self.run(Some(pair.index()), async {
            self.invoke(&len_call(pair)).await
        })
        .await
    }

    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, Error> {
        self.run(Some(pair.index()), async {
            self.invoke(&purge_call(pair)).await
        })
        .await
    }

    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            // Outside tokio the async clients cannot run here: an
            // administrative purge takes the sync path instead.
            return self.purge_prefix(prefix);
        }
        let mut removed = 0;
        for pair in self.scan_pairs_async(prefix).await? {
            removed += self.purge_async(&pair).await?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The room a call's command is made with holds every argument it
    /// writes: the sizes count each one and never fewer bytes.
    #[test]
    fn a_command_is_made_with_room_for_its_keys_and_arguments() {
        let pair = KeyPair::from_names("p:{t}:0".to_owned(), "p:{t}:1".to_owned());
        let member = [7u8; 16];
        let mut call = len_call(&pair);
        call.lease_key = Some(pair.leases());
        call.args = vec![
            Arg::Bytes(&member),
            Arg::Text("'1'"),
            Arg::Int(u64::MAX),
            Arg::Int(0),
        ];
        let (count, bytes) = call.keys_and_args_size();
        let mut written = Cmd::new();
        call.keys_and_args(&mut written);
        assert_eq!(count, written.args_iter().count());
        let written_bytes: usize = written.args_iter().map(|arg| simple_len(&arg)).sum();
        assert!(bytes >= written_bytes, "{bytes} < {written_bytes}");
        for form in [Form::Fcall, Form::Evalsha, Form::Eval] {
            let command = call.command(form);
            assert_eq!(command.args_iter().count(), 2 + count);
            let owned = call.owned(&Arc::new(FunctionRoute::new(true)));
            let args = |c: &Cmd| c.args_iter().map(|a| format!("{a:?}")).collect::<Vec<_>>();
            assert_eq!(args(&owned.command(form)), args(&command));
        }
    }

    /// A call that got no answer in time renews the connection beside the
    /// old one; any other failure drops it (`forget`), so only time-outs
    /// may count as such.
    #[test]
    fn only_calls_without_an_answer_in_time_count_as_timed_out() {
        use std::io::{Error as IoError, ErrorKind as Io};
        let io = |kind: Io| Error::transient_backend(BACKEND, IoError::from(kind));
        let redis_rs = |kind: Io| backend_error(redis::RedisError::from(IoError::from(kind)));
        assert!(timed_out(&io(Io::TimedOut)));
        assert!(timed_out(&redis_rs(Io::TimedOut)));
        assert!(timed_out(&redis_rs(Io::WouldBlock)), "a socket timeout");
        for kind in [Io::ConnectionReset, Io::UnexpectedEof, Io::Other] {
            assert!(!timed_out(&io(kind)), "{kind:?}");
            assert!(!timed_out(&redis_rs(kind)), "{kind:?}");
        }
        let refused = backend_error((redis::ErrorKind::AuthenticationFailed, "no").into());
        assert!(!timed_out(&refused));
        assert!(!timed_out(&Error::CacheMiss));
    }

    /// Each runtime keeps its own connection, up to the limit; past it the
    /// oldest runtime's is dropped.
    #[test]
    fn runtime_connections_are_bounded_dropping_the_oldest() {
        let runtimes: Vec<_> = (0..=MAX_RUNTIME_CONNECTIONS)
            .map(|_| {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap()
            })
            .collect();
        let ids: Vec<_> = runtimes.iter().map(|r| r.handle().id()).collect();
        let mut list = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            add_connection(&mut list, *id, n);
        }
        assert_eq!(list.len(), MAX_RUNTIME_CONNECTIONS);
        assert!(list.iter().all(|(id, _)| *id != ids[0]), "the oldest went");
        assert_eq!(
            list.last(),
            Some(&(ids[MAX_RUNTIME_CONNECTIONS], MAX_RUNTIME_CONNECTIONS))
        );
        assert_eq!(list[0].1, 1);
    }
}
