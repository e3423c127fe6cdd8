//! The store on the `fred` client: one server or a cluster, chosen by the
//! URL (`redis://` or `redis-cluster://host:port?node=host:port`).
//!
//! The same scripts as the redis-rs store, sent as `FCALL` (and, where
//! functions are refused, `EVALSHA` and `EVAL` on `NOSCRIPT`: see
//! [`FunctionRoute`]); in a cluster, to the master of the first key's slot
//! through a client per master (`fred_nodes`), so that a dead master costs
//! only its own slots. fred is async only: the client lives on a runtime of
//! the store's own, which also serves the sync calls, so the store works
//! from any runtime or thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use fred::clients::WithOptions;
use fred::prelude::*;
use fred::types::config::UnresponsiveConfig;
use fred::types::{ClusterHash, CustomCommand, Key, Value};
use futures::StreamExt;
use redis_func_cache_core::store::{
    Bytes, Capabilities, GetRequest, Leased, Lookup, PairContents, PutOutcome, PutRequest, Store,
    StoredValue,
};
use redis_func_cache_core::{Error as CacheError, InvocationHash, KeyPair};

use crate::fred_link::{Link, LinkCommand, is_flapping};
use crate::fred_nodes::NodeRoutes;
use crate::guard::{Guard, key_slot};
use crate::scripts::{
    Arg, FunctionRoute, GetAnswer, Refusal, ScriptCall, ScriptText, entry_call, get_call,
    get_leased_call, hit_value, leased, len_call, looked_up, member, outcome, purge_call, put_call,
    sorted_index,
};
use crate::{BACKEND, RedisOptions, glob_escape, pair_of_index_key};

/// Entries kept in Redis through the `fred` client.
///
/// ```no_run
/// use redis_func_cache::FredStore;
/// let one = FredStore::open("redis://127.0.0.1:6379/").unwrap();
/// let cluster = FredStore::open("redis-cluster://127.0.0.1:7000?node=127.0.0.1:7001").unwrap();
/// ```
#[derive(Clone)]
pub struct FredStore {
    shared: Arc<Shared>,
}

struct Shared {
    /// The client of the server, or of the whole cluster: for a cluster,
    /// only `SCAN` over every node goes through it.
    link: Link,
    /// For a cluster, a client per master: every keyed command goes
    /// through them, so a dead master stops only its own slots.
    nodes: Option<Arc<NodeRoutes>>,
    /// The breaker and the deadline every operation passes through (the
    /// cluster's routes hold it weakly, to let slots with a new master
    /// probe at once).
    guard: Arc<Guard>,
    cluster: bool,
    io: Option<tokio::runtime::Runtime>,
    /// Functions or scripts, for every call of the store.
    route: Arc<FunctionRoute>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Dropping a runtime blocks, which panics inside async code.
            io.shutdown_background();
        }
    }
}

impl std::fmt::Debug for FredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FredStore")
            .field("cluster", &self.shared.cluster)
            .finish_non_exhaustive()
    }
}

/// A fred operation with its error mapped into ours.
async fn fred_result<R>(
    future: impl Future<Output = Result<R, fred::error::Error>>,
) -> Result<R, CacheError> {
    future.await.map_err(fred_error)
}

fn fred_error(e: fred::error::Error) -> CacheError {
    use fred::error::ErrorKind as K;
    let transient = matches!(
        e.kind(),
        K::IO | K::Timeout | K::Routing | K::Cluster | K::Canceled
    ) || e.details().starts_with("TRYAGAIN")
        || e.details().starts_with("CLUSTERDOWN");
    if transient {
        CacheError::transient_backend(BACKEND, e)
    } else {
        CacheError::backend(BACKEND, e)
    }
}

/// Whether to send a script again after `attempt` tries: on `TRYAGAIN`
/// during a slot migration, or a reply lost or late while fred re-maps the
/// cluster.
fn may_retry(e: &fred::error::Error, attempt: u32) -> bool {
    use fred::error::ErrorKind as K;
    if is_flapping(e) {
        return false;
    }
    if e.details().starts_with("TRYAGAIN") || e.details().starts_with("Too many redirections") {
        return attempt < TRYAGAIN_ATTEMPTS;
    }
    let lost = e.details().contains("channel closed")
        || matches!(e.kind(), K::IO | K::Canceled | K::Timeout);
    lost && attempt < LOST_REPLY_ATTEMPTS
}

fn is_noscript(e: &fred::error::Error) -> bool {
    e.details().starts_with("NOSCRIPT")
}

/// A script call with owned arguments, as fred sends them from another task.
struct OwnedCall {
    script: &'static ScriptText,
    keys: Vec<Key>,
    args: Vec<Value>,
    route: Arc<FunctionRoute>,
}

impl OwnedCall {
    fn new(call: ScriptCall<'_>, route: &Arc<FunctionRoute>) -> Self {
        OwnedCall {
            script: call.script,
            keys: call.keys().map(Key::from).collect(),
            args: call
                .args
                .iter()
                .map(|a| match *a {
                    Arg::Bytes(b) => Value::Bytes(Bytes::copy_from_slice(b)),
                    Arg::Text(t) => Value::from_static_str(t),
                    Arg::Int(n) => Value::String(n.to_string().into()),
                })
                .collect(),
            route: Arc::clone(route),
        }
    }
}

/// The three ways to send a script call (see [`FunctionRoute`]).
#[derive(Clone, Copy)]
enum Form {
    Fcall,
    Evalsha,
    Eval,
}

/// How often a script is sent again on `TRYAGAIN` while a cluster moves its
/// slot (about a second in all).
const TRYAGAIN_ATTEMPTS: u32 = 12;
/// Redirections fred follows per command (see [`FredStore::with_options`]).
const FRED_MAX_REDIRECTIONS: u32 = 4;
/// How often after a lost or late reply: each wait is a command timeout.
const LOST_REPLY_ATTEMPTS: u32 = 2;

impl OwnedCall {
    /// `EVALSHA`, `EVAL` on `NOSCRIPT`, and again after a short pause on
    /// `TRYAGAIN`, a lost connection or a reply that did not come in time.
    /// While a slot migrates, a script whose two keys are on different
    /// nodes is refused and did not run, so sending it again is safe
    /// (redis-rs does the same on its own; fred leaves it to us). A reply
    /// lost with its connection may belong to a script that ran; it runs
    /// again: for a get that counts one more use, for a put it writes the
    /// same value again.
    async fn invoke(self, to: Target) -> Result<Value, fred::error::Error> {
        let mut attempt = 0;
        let call = Arc::new(self);
        let send = |client: WithOptions<Client>, asking: bool| {
            let call = call.clone();
            Box::pin(async move { call.send(client, asking).await })
                as Pin<Box<dyn Future<Output = _> + Send>>
        };
        loop {
            let result = to.send(&send).await;
            match result {
                Err(e) if may_retry(&e, attempt) => {
                    // 2, 4, 8 ... ms, at most 100 ms: about a second in all.
                    let pause = Duration::from_millis((2u64 << attempt).min(100));
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// `FCALL`, or after a refusal `EVALSHA` and `EVAL` on `NOSCRIPT` (see
    /// [`FunctionRoute`]), to one server (after `ASKING`, on one
    /// connection, when a cluster redirected the call with `ASK`). A server
    /// that lost the function gets it again (`FUNCTION LOAD REPLACE`)
    /// before the call goes as a script.
    async fn send(
        &self,
        client: WithOptions<Client>,
        asking: bool,
    ) -> Result<Value, fred::error::Error> {
        let sent = |form: Form| {
            let (command, spelt) = self.spelt(form);
            if asking {
                Box::pin(after_asking(&client, command, spelt))
                    as Pin<Box<dyn Future<Output = _> + Send + '_>>
            } else {
                Box::pin(client.custom(command, spelt))
            }
        };
        if self.route.functions() {
            match sent(Form::Fcall).await {
                Err(e) => match self.route.after_refusal(e.details()) {
                    Some(Refusal::NotLoaded) => {
                        let load =
                            CustomCommand::new_static("FUNCTION", ClusterHash::Random, false);
                        let loaded = client
                            .custom::<Value, _>(load, vec!["LOAD", "REPLACE", &self.script.library])
                            .await;
                        // (fred gives a lost connection or a timeout
                        // kinds of their own; any other error is the
                        // server's answer.)
                        if let Err(e) = loaded {
                            use fred::error::ErrorKind as K;
                            if !matches!(e.kind(), K::IO | K::Timeout | K::Canceled) {
                                self.route.after_load_refused(e.details());
                            }
                        }
                    }
                    Some(_) => {}
                    None => return Err(e),
                },
                done => return done,
            }
        }
        match sent(Form::Evalsha).await {
            Err(e) if is_noscript(&e) => sent(Form::Eval).await,
            other => other,
        }
    }

    /// `FCALL`, `EVALSHA` or `EVAL` spelt out: the function's name, the
    /// script's hash or the script, the number of keys, the keys, the
    /// arguments. (fred's own `evalsha` takes no per-call options; a custom
    /// command does.)
    fn spelt(&self, form: Form) -> (CustomCommand, Vec<Value>) {
        let script: &'static ScriptText = self.script;
        let (name, head) = match form {
            Form::Fcall => ("FCALL", script.function.as_str()),
            Form::Evalsha => ("EVALSHA", script.sha.as_str()),
            Form::Eval => ("EVAL", script.text.as_str()),
        };
        let mut spelt = Vec::with_capacity(2 + self.keys.len() + self.args.len());
        // The texts live as long as the process: shared, not copied.
        spelt.push(Value::from_static_str(head));
        spelt.push(Value::Integer(self.keys.len() as i64));
        // A key's bytes are shared, not copied.
        spelt.extend(self.keys.iter().cloned().map(Value::from));
        spelt.extend(self.args.iter().cloned());
        (
            CustomCommand::new_static(name, ClusterHash::Offset(2), false),
            spelt,
        )
    }
}

/// `ASKING` and then `command`, in one pipeline so that nothing comes
/// between them on the connection (a cluster's `ASK` redirection asks for
/// exactly that); `command`'s answer.
async fn after_asking(
    client: &WithOptions<Client>,
    command: CustomCommand,
    args: Vec<Value>,
) -> Result<Value, fred::error::Error> {
    let pipeline = client.pipeline();
    let () = pipeline
        .custom(
            CustomCommand::new_static("ASKING", ClusterHash::FirstKey, false),
            Vec::<Value>::new(),
        )
        .await?;
    let () = pipeline.custom(command, args).await?;
    pipeline
        .try_all::<Value>()
        .await
        .pop()
        .unwrap_or(Ok(Value::Null))
}

/// Where a keyed command goes: the one server's client, or the master of
/// the command's slot.
#[derive(Clone)]
enum Target {
    One(Link),
    Slot(Arc<NodeRoutes>, u16),
}

impl Target {
    async fn send(&self, send: &LinkCommand<'_>) -> Result<Value, fred::error::Error> {
        match self {
            Target::One(link) => link.send(send, false).await,
            Target::Slot(nodes, slot) => nodes.send(*slot, send).await,
        }
    }
}

fn bytes_of(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::Bytes(b) => Some(b.to_vec()),
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// A hit's value, shared with the reply when it is long; any other reply
/// is given back.
fn stored_bytes_of(value: Value) -> Result<Bytes, Value> {
    match value {
        Value::Bytes(b) => Ok(b),
        Value::String(s) => Ok(Bytes::copy_from_slice(s.as_bytes())),
        other => Err(other),
    }
}

/// The entry script's answer to `remove`: 1 if the member was there.
fn removed_of(value: Value) -> Result<bool, CacheError> {
    match value {
        Value::Integer(n) => Ok(n > 0),
        other => Err(CacheError::backend(
            BACKEND,
            format!("the entry script answered {other:?} to a removal"),
        )),
    }
}

/// A get script's answer, read off fred's reply.
fn get_answer(value: Value) -> Result<GetAnswer, CacheError> {
    match value {
        Value::Null => Ok(GetAnswer::Nothing),
        Value::Integer(n) => Ok(GetAnswer::Number(n)),
        Value::Array(items) if items.len() == 1 => GetAnswer::expired(
            items
                .into_iter()
                .next()
                .map_or(Ok(GetAnswer::Nothing), get_answer),
        ),
        other => stored_bytes_of(other)
            .map(GetAnswer::Value)
            .map_err(|other| {
                CacheError::backend(BACKEND, format!("the get script answered {other:?}"))
            }),
    }
}

fn evicted_of(value: Value) -> Result<Vec<Vec<u8>>, CacheError> {
    match value {
        Value::Array(items) => Ok(items.into_iter().filter_map(bytes_of).collect()),
        Value::Null => Ok(Vec::new()),
        other => Err(CacheError::backend(
            BACKEND,
            format!("the put script answered {other:?}"),
        )),
    }
}

fn count_of(value: Value) -> Result<u64, CacheError> {
    value
        .as_u64()
        .ok_or_else(|| CacheError::backend(BACKEND, format!("expected a count, got {value:?}")))
}

/// Reconnect at once (5 ms, and 0-5 ms of jitter, instead of fred's
/// 50 ms of jitter alone) after a lost connection, then back off to twice
/// a second while the server stays away.
fn reconnect_policy() -> ReconnectPolicy {
    let mut policy = ReconnectPolicy::new_exponential(0, 1, 500, 2);
    policy.set_jitter(1);
    policy
}

/// When fred closes a connection and connects again: a command waited
/// twice the deadline for its reply (its caller failed open long ago),
/// checked every half deadline. Without it fred reconnects only after the
/// connection is closed or reset, so one that stopped answering (a firewall
/// or NAT that lost its state, a moved virtual IP) timed out every call for
/// good, though new connections would have worked.
fn unresponsive(deadline: Duration) -> UnresponsiveConfig {
    UnresponsiveConfig {
        max_timeout: Some(deadline * 2),
        interval: (deadline / 2).max(Duration::from_millis(5)),
    }
}

/// A fred client for `config` with the store's options: every command
/// bounded by the deadline, reconnecting in the background.
pub(crate) fn build_client(
    config: Config,
    options: &RedisOptions,
) -> Result<Client, fred::error::Error> {
    Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = options.deadline;
            // fred 10.1 follows an `ASK` only while the command has write
            // attempts left, and if it has none its router task stops
            // for good: every later command of the client times out
            // (seen after a slot move). Each redirection also costs an
            // attempt, so redirections must run out first; the command
            // then fails with "Too many redirections", which we retry.
            c.max_redirections = FRED_MAX_REDIRECTIONS;
            c.max_command_attempts = FRED_MAX_REDIRECTIONS + 6;
            c.unresponsive = unresponsive(options.deadline);
        })
        .with_performance_config(|p| {
            p.default_command_timeout = options.deadline;
        })
        // Reconnect at least twice a second while the server is away,
        // so caching resumes soon after it returns (the breaker keeps
        // callers from waiting meanwhile).
        .set_policy(reconnect_policy())
        .build()
}

impl FredStore {
    /// A store on the server or cluster at `url`. It does not wait for the
    /// server: it connects in the background (and again after a loss), so
    /// an application starts while Redis is down and caches once it is up;
    /// until then calls fail open within the deadline. Fails only for a
    /// malformed URL.
    pub fn open(url: &str) -> Result<Self, CacheError> {
        FredStore::with_options(url, RedisOptions::default())
    }

    /// [`FredStore::open`] with options.
    pub fn with_options(url: &str, options: RedisOptions) -> Result<Self, CacheError> {
        let mut config = Config::from_url(url).map_err(fred_error)?;
        // Keep trying to connect from the start, under the reconnect
        // policy, instead of giving up when the first attempt fails: the
        // server may come up after the application.
        config.fail_fast = false;
        let cluster = config.server.is_clustered();
        let client = build_client(config.clone(), &options).map_err(fred_error)?;
        let guard = Arc::new(Guard::new(&options, cluster));
        let nodes = cluster.then(|| {
            let guard = Arc::downgrade(&guard);
            Arc::new(
                NodeRoutes::new(config, options.clone()).on_new_masters(move |slots| {
                    if let Some(guard) = guard.upgrade() {
                        guard.probe_now_in(slots);
                    }
                }),
            )
        });
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("redis-func-cache-fred")
            .enable_all()
            .build()
            .map_err(|e| CacheError::backend(BACKEND, e))?;
        let link = {
            // Starts the connection task on the store's runtime, and waits
            // for it at most one deadline: a server that is up is ready for
            // the first call, one that is down does not hold the
            // application's start; the task keeps trying in the background.
            let _inside = io.enter();
            drop(client.connect());
            Link::new(client)
        };
        let store = FredStore {
            shared: Arc::new(Shared {
                link,
                nodes,
                guard,
                cluster,
                io: Some(io),
                route: Arc::new(FunctionRoute::new(options.functions)),
            }),
        };
        // Not connected within the deadline is no error here: see above.
        let _ = store.wait_connected(options.deadline);
        Ok(store)
    }

    /// Waits until the client is connected (for a cluster: has its routing
    /// state), at most `within`. [`FredStore::open`] waits only one
    /// deadline, so that a server that is down does not hold an
    /// application's start; call this after it when the first calls must
    /// reach the cache, as a batch job or a test does.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use redis_func_cache::FredStore;
    ///
    /// let store = FredStore::open("redis://127.0.0.1:6379")?;
    /// store.wait_connected(Duration::from_secs(5))?;
    /// # Ok::<(), redis_func_cache::Error>(())
    /// ```
    pub fn wait_connected(&self, within: Duration) -> Result<(), CacheError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (client, nodes) = (self.shared.link.client().clone(), self.shared.nodes.clone());
        self.io().spawn(async move {
            let connected = async {
                client.wait_for_connect().await?;
                match nodes {
                    Some(nodes) => nodes.wait_connected().await,
                    None => Ok(()),
                }
            };
            let outcome = match tokio::time::timeout(within, connected).await {
                Ok(connected) => connected.map_err(fred_error),
                Err(_) => Err(CacheError::transient_backend(
                    BACKEND,
                    format!("not connected within {within:?}"),
                )),
            };
            let _ = tx.send(outcome);
        });
        rx.recv()
            .map_err(|_| CacheError::backend(BACKEND, "the store's I/O runtime stopped"))?
    }

    fn io(&self) -> &tokio::runtime::Runtime {
        self.shared
            .io
            .as_ref()
            .expect("the runtime lives until the store is dropped")
    }

    /// Runs an operation on the store's runtime within the deadline, past
    /// the breaker, and waits for it, from any thread.
    fn block<R: Send + 'static>(
        &self,
        key: Option<&str>,
        future: impl Future<Output = Result<R, CacheError>> + Send + 'static,
    ) -> Result<R, CacheError> {
        self.shared.guard.sync(key, || {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            self.io().spawn(self.timed(future, tx));
            rx.recv()
                .map_err(|_| CacheError::backend(BACKEND, "the store's I/O runtime stopped"))?
        })
    }

    /// [`FredStore::block`] for async callers on any runtime.
    async fn run<R: Send + 'static>(
        &self,
        key: Option<&str>,
        future: impl Future<Output = Result<R, CacheError>> + Send + 'static,
    ) -> Result<R, CacheError> {
        self.shared
            .guard
            .run(
                key,
                async {
                    let (tx, rx) = std::sync::mpsc::sync_channel(1);
                    self.io()
                        .spawn(self.timed(future, tx))
                        .await
                        .map_err(|e| CacheError::backend(BACKEND, e))?;
                    rx.try_recv()
                        .map_err(|_| CacheError::backend(BACKEND, "the operation sent no result"))?
                },
                // fred replaces a connection that stopped answering itself
                // (see `unresponsive`).
                |_| {},
            )
            .await
    }

    /// The operation bounded by the deadline on the store's runtime (which
    /// has timers whatever the caller's executor), its result sent to `tx`.
    fn timed<R: Send + 'static>(
        &self,
        future: impl Future<Output = Result<R, CacheError>> + Send + 'static,
        tx: std::sync::mpsc::SyncSender<Result<R, CacheError>>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let deadline = self.shared.guard.timer_deadline();
        let late = self.shared.guard.past_deadline();
        async move {
            let result = tokio::time::timeout(deadline, future)
                .await
                .unwrap_or(Err(late));
            let _ = tx.send(result);
        }
    }

    // The two below are boxed: fred's futures are large (with TLS on,
    // large enough that a debug build's test thread overflowed its 2 MiB
    // stack while they were moved from frame to frame), and a box is
    // nothing beside a round trip.
    fn script(
        &self,
        call: ScriptCall<'_>,
    ) -> impl Future<Output = Result<Value, fred::error::Error>> + Send + 'static {
        let to = self.target(call.pair.index());
        Box::pin(OwnedCall::new(call, &self.shared.route).invoke(to))
    }

    /// Where a command on `key` goes.
    fn target(&self, key: &str) -> Target {
        match &self.shared.nodes {
            Some(nodes) => Target::Slot(nodes.clone(), key_slot(key.as_bytes())),
            None => Target::One(self.shared.link.clone()),
        }
    }

    /// A command whose first argument is `key`.
    fn command(
        &self,
        key: &str,
        name: &'static str,
        args: Vec<Value>,
    ) -> impl Future<Output = Result<Value, fred::error::Error>> + Send + 'static {
        let to = self.target(key);
        let args = Arc::new(args);
        Box::pin(async move {
            let send = |client: WithOptions<Client>, asking: bool| {
                let args = args.clone();
                Box::pin(async move {
                    let command = CustomCommand::new_static(name, ClusterHash::FirstKey, false);
                    if asking {
                        after_asking(&client, command, (*args).clone()).await
                    } else {
                        client.custom(command, (*args).clone()).await
                    }
                }) as Pin<Box<dyn Future<Output = _> + Send>>
            };
            to.send(&send).await
        })
    }

    /// What a pair holds now, in the form the memory store reports it.
    pub fn contents(&self, pair: &KeyPair) -> Result<PairContents, CacheError> {
        let (index_key, values_key) = (pair.index().to_owned(), pair.values().to_owned());
        let kind = self.block(
            Some(pair.index()),
            fred_result(self.command(&index_key, "TYPE", vec![index_key.clone().into()])),
        )?;
        let kind = kind.as_str().map(|s| s.to_string()).unwrap_or_default();
        let mut hand = None;
        let mut index: Vec<(InvocationHash, Option<u64>)> = match kind.as_str() {
            "zset" => {
                let args = vec![index_key.into(), 0.into(), (-1).into(), "WITHSCORES".into()];
                let flat = self.block(
                    Some(pair.index()),
                    fred_result(self.command(pair.index(), "ZRANGE", args)),
                )?;
                let items = flat.into_array();
                let pairs = items
                    .chunks(2)
                    .map(|kv| {
                        let m = bytes_of(kv[0].clone()).unwrap_or_default();
                        let score = kv.get(1).and_then(|s| s.as_f64()).unwrap_or(0.0);
                        (m, score)
                    })
                    .collect();
                let (index, sieve_hand) = sorted_index(pairs)?;
                hand = sieve_hand;
                index
            }
            "set" => {
                let flat = self.block(
                    Some(pair.index()),
                    fred_result(self.command(pair.index(), "SMEMBERS", vec![index_key.into()])),
                )?;
                flat.into_array()
                    .into_iter()
                    .map(|m| Ok((member(&bytes_of(m).unwrap_or_default())?, None)))
                    .collect::<Result<_, CacheError>>()?
            }
            _ => Vec::new(),
        };
        if index.iter().all(|(_, s)| s.is_none()) {
            index.sort();
        }
        let flat = self.block(
            Some(pair.index()),
            fred_result(self.command(pair.values(), "HGETALL", vec![values_key.into()])),
        )?;
        let items = match flat {
            Value::Map(map) => map
                .inner()
                .into_iter()
                .flat_map(|(k, v)| [Value::Bytes(k.into_bytes()), v])
                .collect(),
            other => other.into_array(),
        };
        let mut values = items
            .chunks(2)
            .map(|kv| {
                let m = bytes_of(kv[0].clone()).unwrap_or_default();
                let v = kv.get(1).cloned().and_then(bytes_of).unwrap_or_default();
                (m, v)
            })
            // The field '' is the top score get.lua keeps, not an entry.
            .filter(|(m, _)| !m.is_empty())
            .map(|(m, v)| Ok((member(&m)?, Bytes::from(v))))
            .collect::<Result<Vec<_>, CacheError>>()?;
        values.sort();
        Ok(PairContents {
            index,
            values,
            hand,
        })
    }

    fn scan_pairs(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<KeyPair>, fred::error::Error>> + Send + 'static {
        let pattern = format!("{}*:0", glob_escape(prefix));
        let (client, cluster) = (self.shared.link.client().clone(), self.shared.cluster);
        async move {
            let mut keys = if cluster {
                client
                    .scan_cluster_buffered(pattern, Some(1000), None)
                    .boxed()
            } else {
                client.scan_buffered(pattern, Some(1000), None).boxed()
            };
            let mut pairs = Vec::new();
            while let Some(key) = keys.next().await {
                if let Some(pair) = key?.as_str().and_then(pair_of_index_key) {
                    pairs.push(pair);
                }
            }
            Ok(pairs)
        }
    }

    fn purge_prefix_future(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<u64, CacheError>> + Send + 'static {
        let scan = self.scan_pairs(prefix);
        let store = self.clone();
        // Boxed, as `script` is.
        Box::pin(async move {
            let mut removed = 0;
            for pair in scan.await.map_err(fred_error)? {
                let value = store.script(purge_call(&pair)).await.map_err(fred_error)?;
                removed += count_of(value)?;
            }
            Ok(removed)
        })
    }
}

impl Store for FredStore {
    fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::new(BACKEND).with_shared();
        if self.shared.cluster {
            caps.with_cluster()
        } else {
            caps
        }
    }

    fn get(&self, req: &GetRequest<'_>) -> Result<Lookup, CacheError> {
        let value = self.block(
            Some(req.pair.index()),
            fred_result(self.script(get_call(req)?)),
        )?;
        looked_up(req.rules, get_answer(value)?)
    }

    fn peek(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, CacheError> {
        let value = self.block(
            Some(req.pair.index()),
            fred_result(self.script(entry_call(req, false))),
        )?;
        Ok(stored_bytes_of(value)
            .ok()
            .and_then(|v| hit_value(req.rules, v)))
    }

    fn remove(&self, req: &GetRequest<'_>) -> Result<bool, CacheError> {
        let value = self.block(
            Some(req.pair.index()),
            fred_result(self.script(entry_call(req, true))),
        )?;
        removed_of(value)
    }

    fn get_or_lease(&self, req: &GetRequest<'_>, lease: Duration) -> Result<Leased, CacheError> {
        let value = self.block(
            Some(req.pair.index()),
            fred_result(self.script(get_leased_call(req, lease)?)),
        )?;
        leased(req.rules, get_answer(value)?)
    }

    fn put(&self, req: &PutRequest<'_>) -> Result<PutOutcome, CacheError> {
        let value = self.block(
            Some(req.pair.index()),
            fred_result(self.script(put_call(req)?)),
        )?;
        outcome(evicted_of(value)?)
    }

    fn len(&self, pair: &KeyPair) -> Result<u64, CacheError> {
        let value = self.block(Some(pair.index()), fred_result(self.script(len_call(pair))))?;
        count_of(value)
    }

    fn purge(&self, pair: &KeyPair) -> Result<u64, CacheError> {
        let value = self.block(
            Some(pair.index()),
            fred_result(self.script(purge_call(pair))),
        )?;
        count_of(value)
    }

    fn purge_prefix(&self, prefix: &str) -> Result<u64, CacheError> {
        self.block(None, self.purge_prefix_future(prefix))
    }

    fn add_counters(&self, key: &str, counts: &[(&'static str, u64)]) -> Result<(), CacheError> {
        // Sent together: fred pipelines commands that are in flight at once.
        let increments: Vec<_> = counts
            .iter()
            .map(|&(field, n)| {
                let args = vec![key.into(), field.into(), n.to_string().into()];
                fred_result(self.command(key, "HINCRBY", args))
            })
            .collect();
        self.block(Some(key), async move {
            futures::future::try_join_all(increments).await?;
            Ok(())
        })
    }

    fn read_counters(&self, key: &str) -> Result<Vec<(String, u64)>, CacheError> {
        let flat = self.block(
            Some(key),
            fred_result(self.command(key, "HGETALL", vec![key.into()])),
        )?;
        let mut fields: Vec<(String, u64)> = match flat {
            Value::Map(map) => map
                .iter()
                .map(|(k, v)| {
                    let field = k.as_str().map(str::to_owned).unwrap_or_default();
                    (field, v.as_u64().unwrap_or(0))
                })
                .collect(),
            other => other
                .into_array()
                .chunks(2)
                .filter_map(|pair| match pair {
                    [field, count] => Some((
                        field.as_string().unwrap_or_default(),
                        count.as_u64().unwrap_or(0),
                    )),
                    _ => None,
                })
                .collect(),
        };
        fields.sort();
        Ok(fields)
    }

    fn remove_counters(&self, key: &str) -> Result<(), CacheError> {
        self.block(
            Some(key),
            fred_result(self.command(key, "UNLINK", vec![key.into()])),
        )?;
        Ok(())
    }

    async fn get_async(&self, req: &GetRequest<'_>) -> Result<Lookup, CacheError> {
        let value = self
            .run(
                Some(req.pair.index()),
                fred_result(self.script(get_call(req)?)),
            )
            .await?;
        looked_up(req.rules, get_answer(value)?)
    }

    async fn peek_async(&self, req: &GetRequest<'_>) -> Result<Option<StoredValue>, CacheError> {
        let value = self
            .run(
                Some(req.pair.index()),
                fred_result(self.script(entry_call(req, false))),
            )
            .await?;
        Ok(stored_bytes_of(value)
            .ok()
            .and_then(|v| hit_value(req.rules, v)))
    }

    async fn remove_async(&self, req: &GetRequest<'_>) -> Result<bool, CacheError> {
        let value = self
            .run(
                Some(req.pair.index()),
                fred_result(self.script(entry_call(req, true))),
            )
            .await?;
        removed_of(value)
    }

    async fn get_or_lease_async(
        &self,
        req: &GetRequest<'_>,
        lease: Duration,
    ) -> Result<Leased, CacheError> {
        let value = self
            .run(
                Some(req.pair.index()),
                fred_result(self.script(get_leased_call(req, lease)?)),
            )
            .await?;
        leased(req.rules, get_answer(value)?)
    }

    async fn put_async(&self, req: &PutRequest<'_>) -> Result<PutOutcome, CacheError> {
        let value = self
            .run(
                Some(req.pair.index()),
                fred_result(self.script(put_call(req)?)),
            )
            .await?;
        outcome(evicted_of(value)?)
    }

    async fn len_async(&self, pair: &KeyPair) -> Result<u64, CacheError> {
        let value = self
            .run(Some(pair.index()), fred_result(self.script(len_call(pair))))
            .await?;
        count_of(value)
    }

    async fn purge_async(&self, pair: &KeyPair) -> Result<u64, CacheError> {
        let value = self
            .run(
                Some(pair.index()),
                fred_result(self.script(purge_call(pair))),
            )
            .await?;
        count_of(value)
    }

    async fn purge_prefix_async(&self, prefix: &str) -> Result<u64, CacheError> {
        self.run(None, self.purge_prefix_future(prefix)).await
    }
}
