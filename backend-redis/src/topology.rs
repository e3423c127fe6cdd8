//! One server or a cluster: the connections each needs, and which nodes to
//! `SCAN`.

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{ConnectionAddr, ConnectionInfo, RedisResult};

use crate::sync_link::SyncLink;

/// A one-server client whose connections keep the store's deadline: each
/// command, its send and its whole reply, times out after it, so a paused,
/// partitioned or starved server fails a sync call instead of blocking it.
#[derive(Debug, Clone)]
pub struct TimedClient {
    client: redis::Client,
    deadline: Duration,
}

impl TimedClient {
    pub(crate) fn new(client: redis::Client, deadline: Duration) -> Self {
        TimedClient { client, deadline }
    }

    /// A plain connection whose commands each have the deadline, from the
    /// send to the whole reply (see [`crate::sync_link`]), and
    /// [`CONNECT_DEADLINES`] deadlines for the connect and the handshake:
    /// the pool connects on threads of its own while a caller waits at
    /// most the deadline, so a longer connect holds up no call, and on a
    /// link whose round trip is a large part of the deadline a connect and
    /// handshake (two round trips or more) could never finish within one.
    pub(crate) fn connection(&self) -> RedisResult<SyncLink> {
        SyncLink::connect(
            &self.client,
            self.deadline,
            self.deadline * CONNECT_DEADLINES,
        )
    }
}

/// How many deadlines a connect and its handshake may take where no caller
/// waits for them: a pooled connection's, and a cluster node's.
pub(crate) const CONNECT_DEADLINES: u32 = 4;

/// A pooled connection that remembers a transport failure. Such a
/// connection is never used again: after a lost server it would fail the
/// next call (the breaker's probe among them) instead of connecting afresh,
/// and after a send that failed part way the next command would follow a
/// partial one. A reply that did not come in time is different: redis-rs
/// skips it when it comes, before the next command's reply, so the
/// connection is kept (on a link whose round trip is a large part of the
/// deadline, dropping it put the next calls behind a new connect). Two such
/// in a row, and it is taken for silent (a firewall or NAT that lost its
/// state, neither closed nor reset) and never used again.
pub struct TimedConnection {
    inner: SyncLink,
    failed: bool,
    /// The last command's reply did not come in time.
    late: bool,
}

impl TimedConnection {
    /// Gives the commands `left`, what remains of the call's deadline
    /// after the check-out, so that check-out, send and reply together
    /// stay within it (a check-out that had to connect can take tens of
    /// milliseconds).
    fn reply_within(&mut self, left: Duration) -> RedisResult<()> {
        self.inner.budget(left)
    }

    fn note<T>(&mut self, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(e) = &result
            && (e.is_io_error()
                || e.is_timeout()
                || e.is_connection_dropped()
                || e.is_connection_refusal())
        {
            self.failed = true;
        }
        result
    }

    /// Notes the reply to a command that was sent whole: one that did not
    /// come in time makes the connection late (the second in a row,
    /// failed); other transport failures as [`TimedConnection::note`].
    fn note_reply(&mut self, reply: RedisResult<redis::Value>) -> RedisResult<redis::Value> {
        match &reply {
            Ok(_) => self.late = false,
            Err(e) if e.is_timeout() => {
                self.failed |= self.late;
                self.late = true;
            }
            Err(_) => return self.note(reply),
        }
        reply
    }
}

impl redis::ConnectionLike for TimedConnection {
    /// Sent and read apart, so that a reply that came late is told from a
    /// send that failed part way (both are timeouts to redis-rs).
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<redis::Value> {
        let sent = self.inner.send_packed_command(cmd);
        self.note(sent)?;
        loop {
            let reply = match self.inner.recv_response() {
                // Out-of-band data (RESP3), not a reply.
                Ok(redis::Value::Push { .. }) => continue,
                reply => reply,
            };
            return self.note_reply(reply);
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<redis::Value>> {
        let result = self.inner.req_packed_commands(cmd, offset, count);
        self.note(result)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        !self.failed && redis::ConnectionLike::is_open(&self.inner)
    }
}

impl r2d2::ManageConnection for TimedClient {
    type Connection = TimedConnection;
    type Error = redis::RedisError;

    fn connect(&self) -> RedisResult<TimedConnection> {
        Ok(TimedConnection {
            inner: self.connection()?,
            failed: false,
            late: false,
        })
    }

    fn is_valid(&self, con: &mut TimedConnection) -> RedisResult<()> {
        redis::cmd("PING").query(con)
    }

    fn has_broken(&self, con: &mut TimedConnection) -> bool {
        !redis::ConnectionLike::is_open(con)
    }
}

mod private {
    pub trait Sealed {}
}

/// How a [`RedisStore`](crate::RedisStore) reaches Redis: [`Standalone`] or
/// [`Cluster`]. Sealed: the store's scripts and routing are written for these
/// two.
pub trait Topology: private::Sealed + Send + Sync + 'static {
    /// The client that makes connections.
    type Client: r2d2::ManageConnection<Connection = Self::SyncConnection, Error = redis::RedisError>
        + Clone;
    /// A sync connection, pooled.
    type SyncConnection: redis::ConnectionLike + Send + 'static;
    /// The async connection, multiplexed and shared by every call.
    type AsyncConnection: redis::aio::ConnectionLike + Clone + Send + Sync + 'static;
    /// Whether the store talks to a Redis Cluster.
    const CLUSTER: bool;

    /// Makes the shared async connection.
    fn connect(
        client: &Self::Client,
    ) -> impl Future<Output = RedisResult<Self::AsyncConnection>> + Send;

    /// Makes a connection to replace `old`, the caller's (if it has one),
    /// after it failed; `seed` and `deadline` are the store's. Before the
    /// new one is taken it must pass [`Topology::answers_everywhere`].
    fn reconnect(
        client: &Self::Client,
        old: Option<Self::AsyncConnection>,
        seed: &ConnectionInfo,
        deadline: Duration,
    ) -> impl Future<Output = RedisResult<Self::AsyncConnection>> + Send;

    /// Whether every node that holds keys answers a `PING` on `con`: a
    /// connection made to replace one that stopped answering is taken only
    /// then (see `renewal.rs`).
    fn answers_everywhere(
        con: &mut Self::AsyncConnection,
    ) -> impl Future<Output = RedisResult<()>> + Send;

    /// Bounds the reply to a command on a pooled connection to `left`, the
    /// rest of the call's deadline.
    fn reply_within(con: &mut Self::SyncConnection, left: Duration) -> RedisResult<()>;

    /// The nodes that hold keys (the one server, or every master), for `SCAN`.
    fn data_nodes(
        client: &Self::Client,
        con: &mut Self::SyncConnection,
        seed: &ConnectionInfo,
    ) -> RedisResult<Vec<ConnectionInfo>>;
}

/// One Redis server.
#[derive(Debug, Clone, Copy)]
pub struct Standalone;

impl private::Sealed for Standalone {}

impl Topology for Standalone {
    type Client = TimedClient;
    type SyncConnection = TimedConnection;
    type AsyncConnection = redis::aio::ConnectionManager;
    const CLUSTER: bool = false;

    /// Lazy: made at once, connected on first use and again after a loss,
    /// each connect and reply bounded by the deadline, one reconnect try per
    /// request (the breaker, not the client, decides when to try again).
    async fn connect(client: &TimedClient) -> RedisResult<redis::aio::ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(client.deadline))
            .set_response_timeout(Some(client.deadline))
            .set_number_of_retries(0);
        redis::aio::ConnectionManager::new_lazy_with_config(client.client.clone(), config)
    }

    async fn reconnect(
        client: &TimedClient,
        _: Option<redis::aio::ConnectionManager>,
        _: &ConnectionInfo,
        _: Duration,
    ) -> RedisResult<redis::aio::ConnectionManager> {
        Self::connect(client).await
    }

    async fn answers_everywhere(con: &mut redis::aio::ConnectionManager) -> RedisResult<()> {
        redis::cmd("PING").query_async(con).await
    }

    fn reply_within(con: &mut TimedConnection, left: Duration) -> RedisResult<()> {
        con.reply_within(left)
    }

    fn data_nodes(
        _: &TimedClient,
        _: &mut TimedConnection,
        seed: &ConnectionInfo,
    ) -> RedisResult<Vec<ConnectionInfo>> {
        Ok(vec![seed.clone()])
    }
}

/// A Redis Cluster: scripts are routed by their first key, and each pair's
/// two keys share a hash tag, so a script touches one slot.
#[derive(Debug, Clone, Copy)]
pub struct Cluster;

impl private::Sealed for Cluster {}

impl Topology for Cluster {
    type Client = ClusterClient;
    type SyncConnection = redis::cluster::ClusterConnection;
    type AsyncConnection = redis::cluster_async::ClusterConnection;
    const CLUSTER: bool = true;

    async fn connect(
        client: &ClusterClient,
    ) -> RedisResult<redis::cluster_async::ClusterConnection> {
        client.get_async_connection().await
    }

    /// redis-rs's cluster connection learns a new slot table only from a
    /// redirection, which a master that hangs never sends: after its
    /// replica takes over, only a new connection finds it. So the old
    /// connection is asked for the current table, through the nodes it
    /// knows, and the new one starts from that table's masters, once those
    /// the old one knows answer it:
    /// - while a master hangs and still owns slots, the try fails within
    ///   the deadline instead of waiting on it for a connect (the renewal
    ///   tries again, so a failover is found within a try);
    /// - once its replica took over, the new connection does not start
    ///   from it: a new connection with it among the seeds waits out its
    ///   connect timeout, and with it as the only seed none can be made
    ///   while it hangs.
    ///
    /// With no old connection, or one that gives no table (every
    /// connection silent: a firewall that lost its state), the connection
    /// starts from the seeds the store was opened with.
    async fn reconnect(
        client: &ClusterClient,
        old: Option<redis::cluster_async::ClusterConnection>,
        seed: &ConnectionInfo,
        deadline: Duration,
    ) -> RedisResult<redis::cluster_async::ClusterConnection> {
        let Some(mut old) = old else {
            return Self::connect(client).await;
        };
        let Some(slots) = slot_table_from_any(&old).await else {
            return Self::connect(client).await;
        };
        let masters = masters_of(&slots)?;
        for (host, port) in &masters {
            match ping_at(&mut old, host, *port).await {
                // Not one of its nodes: a replica that took over, which
                // the new connection's own check asks.
                Err(e) if e.kind() == redis::ErrorKind::ClusterConnectionNotFound => {}
                answer => answer?,
            }
        }
        let seeds = masters
            .into_iter()
            .map(|(host, port)| node_info(seed, host, port));
        cluster_client(seeds, deadline)?
            .get_async_connection()
            .await
    }

    /// Every master that owns slots, by its address, one after another
    /// (a replica is not asked: the store sends it nothing). By address,
    /// since redis-rs sends a command routed by slot or to all masters to
    /// some other node when it has no connection to the right one: that
    /// check would pass while a master hangs.
    async fn answers_everywhere(
        con: &mut redis::cluster_async::ClusterConnection,
    ) -> RedisResult<()> {
        let any = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
        let slots = con.route_command(slots_command(), any).await?;
        for (host, port) in masters_of(&slots)? {
            ping_at(con, &host, port).await?;
        }
        Ok(())
    }

    /// Sync cluster calls do not run on pooled connections (see
    /// `RedisStore::invoke_sync`): they are waited for at most the deadline
    /// on the store's runtime. The pool serves only `SCAN`'s setup, whose
    /// client keeps the deadline per request.
    fn reply_within(_: &mut redis::cluster::ClusterConnection, _: Duration) -> RedisResult<()> {
        Ok(())
    }

    fn data_nodes(
        _: &ClusterClient,
        con: &mut redis::cluster::ClusterConnection,
        seed: &ConnectionInfo,
    ) -> RedisResult<Vec<ConnectionInfo>> {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(con)?;
        Ok(masters(&nodes)
            .into_iter()
            .map(|(host, port)| node_info(seed, host, port))
            .collect())
    }
}

/// The cluster client of a store on `nodes`. Its overall response timeout
/// covers each request with its retries and redirections, so the deadline
/// is not multiplied. A connect to a node and its handshake, made in the
/// background (a renewal, a reconnect) or inside a call that keeps its own
/// deadline, get more: on a link whose round trip is a large part of the
/// deadline they could never finish within one.
pub(crate) fn cluster_client(
    nodes: impl IntoIterator<Item = ConnectionInfo>,
    deadline: Duration,
) -> RedisResult<ClusterClient> {
    ClusterClientBuilder::new(nodes)
        .connection_timeout(deadline * CONNECT_DEADLINES)
        .response_timeout(deadline)
        .build()
}

fn slots_command() -> redis::Cmd {
    redis::cmd("CLUSTER").arg("SLOTS").clone()
}

/// How many nodes of an old connection are asked for the slot table at
/// once: each ask goes to a node picked at random, and the first answer
/// wins, so one node that hangs rarely holds it up.
const TABLE_ASKS: usize = 3;

/// `CLUSTER SLOTS` from any node `con` knows, or `None` if none of
/// [`TABLE_ASKS`] asks got an answer.
async fn slot_table_from_any(
    con: &redis::cluster_async::ClusterConnection,
) -> Option<redis::Value> {
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..TABLE_ASKS {
        let mut con = con.clone();
        asks.spawn(async move {
            let any = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
            con.route_command(slots_command(), any).await
        });
    }
    while let Some(asked) = asks.join_next().await {
        if let Ok(Ok(slots)) = asked {
            return Some(slots);
        }
    }
    None
}

/// [`slot_masters`], or the error that says why there are none.
fn masters_of(slots: &redis::Value) -> RedisResult<Vec<(String, u16)>> {
    slot_masters(slots).ok_or_else(|| {
        redis::RedisError::from((
            redis::ErrorKind::Client,
            "CLUSTER SLOTS named a master without a usable address",
        ))
    })
}

/// `PING` on `con`'s connection to the node at `host`:`port`.
async fn ping_at(
    con: &mut redis::cluster_async::ClusterConnection,
    host: &str,
    port: u16,
) -> RedisResult<()> {
    let at = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
        host: host.to_owned(),
        port,
    });
    con.route_command(redis::cmd("PING"), at).await.map(drop)
}

/// The connection to one node, made like the seed's: the same scheme (TLS
/// stays TLS, with its settings) and the same credentials and database.
pub(crate) fn node_info(seed: &ConnectionInfo, host: String, port: u16) -> ConnectionInfo {
    let addr = match seed.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host, port),
    };
    seed.clone().set_addr(addr)
}

/// The (host, port) of every master that serves slots, from `CLUSTER NODES`.
pub(crate) fn masters(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            let serves_slots = fields.len() > 8;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") || !serves_slots {
                return None;
            }
            // ip:port@cport[,hostname]
            let addr = fields.get(1)?.split('@').next()?;
            let (host, port) = addr.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

/// The address of every master in a `CLUSTER SLOTS` answer (each range's
/// first node), once each; `None` if one has no usable address (an
/// unknown endpoint is `?` or empty: redis-rs then puts in the address it
/// asked, which this cannot know).
fn slot_masters(slots: &redis::Value) -> Option<Vec<(String, u16)>> {
    use redis::Value;
    let Value::Array(ranges) = slots else {
        return None;
    };
    let mut masters = Vec::new();
    for range in ranges {
        let Value::Array(fields) = range else {
            return None;
        };
        let Some(Value::Array(node)) = fields.get(2) else {
            return None;
        };
        let host = match node.first()? {
            Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok()?,
            Value::SimpleString(text) => text.clone(),
            _ => return None,
        };
        let Value::Int(port) = node.get(1)? else {
            return None;
        };
        if host.is_empty() || host == "?" {
            return None;
        }
        let master = (host, u16::try_from(*port).ok()?);
        if !masters.contains(&master) {
            masters.push(master);
        }
    }
    Some(masters)
}

#[cfg(test)]
mod tests {
    use redis::{ConnectionAddr, IntoConnectionInfo};

    #[test]
    fn nodes_keep_the_seeds_scheme_and_credentials() {
        let seed = "redis://user:pw@10.0.0.1:7000/"
            .into_connection_info()
            .unwrap()
            .set_addr(ConnectionAddr::TcpTls {
                host: "10.0.0.1".into(),
                port: 7000,
                insecure: false,
                tls_params: None,
            });
        let node = super::node_info(&seed, "10.0.0.2".into(), 7001);
        assert!(
            matches!(node.addr(), ConnectionAddr::TcpTls { host, port: 7001, .. } if host == "10.0.0.2")
        );
        assert_eq!(node.redis_settings().username(), Some("user"));
        assert_eq!(node.redis_settings().password(), Some("pw"));
        let plain = "redis://10.0.0.1:7000/".into_connection_info().unwrap();
        assert!(
            matches!(super::node_info(&plain, "h".into(), 1).addr(), ConnectionAddr::Tcp(h, 1) if h == "h")
        );
    }

    /// The socket timeouts follow what is left of the call's deadline,
    /// both ways: a reply that would come in 0.5 s fails with 0.1 s left,
    /// and arrives once the whole (2 s) deadline is left again.
    #[cfg(feature = "test-server")]
    #[test]
    fn a_reply_waits_only_what_is_left_of_the_deadline() {
        use super::{Standalone, TimedClient, Topology};
        use std::time::Duration;
        let server = crate::test_server::OwnedServer::start();
        let client = TimedClient::new(
            redis::Client::open(server.url.as_str()).unwrap(),
            Duration::from_secs(2),
        );
        let mut con = r2d2::ManageConnection::connect(&client).unwrap();
        let slow = |con: &mut super::TimedConnection| {
            redis::cmd("DEBUG").arg("SLEEP").arg(0.5).query::<()>(con)
        };
        Standalone::reply_within(&mut con, Duration::from_millis(100)).unwrap();
        let late = slow(&mut con).expect_err("0.1 s left, the reply takes 0.5 s");
        assert!(late.is_timeout(), "{late:?}");

        let mut con = r2d2::ManageConnection::connect(&client).unwrap();
        Standalone::reply_within(&mut con, Duration::from_millis(100)).unwrap();
        Standalone::reply_within(&mut con, Duration::from_millis(1999)).unwrap();
        slow(&mut con).expect("the whole deadline is left again");
    }

    /// A reply that came late is skipped, and the next command gets its
    /// own: the connection is kept. A second late reply in a row, and the
    /// connection is taken for silent and dropped by the pool.
    #[cfg(feature = "test-server")]
    #[test]
    fn a_late_reply_answers_no_other_command() {
        use super::{Standalone, TimedClient, Topology};
        use redis::ConnectionLike;
        use std::time::Duration;
        let server = crate::test_server::OwnedServer::start();
        let client = TimedClient::new(
            redis::Client::open(server.url.as_str()).unwrap(),
            Duration::from_millis(100),
        );
        let mut con = r2d2::ManageConnection::connect(&client).unwrap();
        let echo = |con: &mut super::TimedConnection, text: &str| {
            redis::cmd("ECHO").arg(text).query::<String>(con)
        };
        let slow = |con: &mut super::TimedConnection| {
            redis::cmd("DEBUG").arg("SLEEP").arg(0.2).query::<()>(con)
        };
        Standalone::reply_within(&mut con, Duration::from_millis(100)).unwrap();
        for round in 0..3 {
            let late = slow(&mut con).expect_err("the reply takes 0.2 s");
            assert!(late.is_timeout(), "{late:?}");
            assert!(con.is_open(), "round {round}: kept after one late reply");
            std::thread::sleep(Duration::from_millis(150));
            let text = format!("round {round}");
            assert_eq!(echo(&mut con, &text).unwrap(), text, "its own reply");
        }
        slow(&mut con).expect_err("late");
        slow(&mut con).expect_err("late again");
        assert!(
            !con.is_open(),
            "two late replies in a row: taken for silent"
        );
        assert!(r2d2::ManageConnection::has_broken(&client, &mut con));
    }

    /// A connection the server closed or reset fails its next command and
    /// is never used again (so the pool connects afresh); a healthy one is
    /// kept. (redis-rs closes a connection on an end of stream itself, but
    /// keeps one that was reset, as after a late reply.)
    #[cfg(feature = "test-server")]
    #[test]
    fn a_connection_the_server_closed_or_reset_is_dropped() {
        use super::{TimedClient, TimedConnection};
        use redis::ConnectionLike;
        use std::time::Duration;
        let mut server = crate::test_server::OwnedServer::start();
        let client = TimedClient::new(
            redis::Client::open(server.url.as_str()).unwrap(),
            Duration::from_secs(2),
        );
        let echo = |con: &mut TimedConnection| redis::cmd("ECHO").arg("e").query::<String>(con);
        let mut con = r2d2::ManageConnection::connect(&client).unwrap();
        assert_eq!(echo(&mut con).unwrap(), "e");
        assert!(!r2d2::ManageConnection::has_broken(&client, &mut con));

        // Closed: the server ends the connection between two commands.
        let killed: u64 = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
            .query(&mut server.connection())
            .unwrap();
        assert_eq!(killed, 1);
        let lost = echo(&mut con).expect_err("the server closed the connection");
        assert!(!lost.is_timeout(), "{lost:?}");
        assert!(
            r2d2::ManageConnection::has_broken(&client, &mut con),
            "{lost:?}"
        );

        // Reset: the server dies holding a request it has not read.
        let mut con = r2d2::ManageConnection::connect(&client).unwrap();
        assert_eq!(echo(&mut con).unwrap(), "e");
        server.pause();
        let waiting = std::thread::spawn(move || {
            let reply = echo(&mut con);
            (con, reply)
        });
        std::thread::sleep(Duration::from_millis(300));
        server.crash();
        let (mut con, reply) = waiting.join().unwrap();
        let reset = reply.expect_err("the server died");
        assert!(!reset.is_timeout(), "{reset:?}");
        assert!(
            r2d2::ManageConnection::has_broken(&client, &mut con),
            "{reset:?}"
        );
        assert!(!con.is_open());
    }

    #[test]
    fn masters_are_read_from_cluster_nodes() {
        let nodes = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003 master - 0 1426238318243 3 connected 10923-16383
6ec2 127.0.0.1:30005@40005 master,fail - 0 1426238316232 5 connected
6ec3 127.0.0.1:30007@40007 master,fail - 0 1426238316232 7 connected 100-200
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
aaaa 127.0.0.1:30006@40006 master - 0 0 6 connected
";
        let mut got = super::masters(nodes);
        got.sort();
        assert_eq!(
            got,
            [
                ("127.0.0.1".into(), 30001),
                ("127.0.0.1".into(), 30002),
                ("127.0.0.1".into(), 30003)
            ]
        );
    }

    #[test]
    fn slot_masters_are_read_from_cluster_slots() {
        use redis::Value;
        let node = |host: &str, port: i64, id: &str| {
            Value::Array(vec![
                Value::BulkString(host.into()),
                Value::Int(port),
                Value::BulkString(id.into()),
            ])
        };
        let range = |start: i64, end: i64, nodes: Vec<Value>| {
            let mut fields = vec![Value::Int(start), Value::Int(end)];
            fields.extend(nodes);
            Value::Array(fields)
        };
        let slots = Value::Array(vec![
            range(
                0,
                5460,
                vec![node("127.0.0.1", 30001, "a"), node("127.0.0.1", 30004, "d")],
            ),
            range(5461, 5470, vec![node("127.0.0.1", 30002, "b")]),
            range(5471, 10922, vec![node("127.0.0.1", 30002, "b")]),
            range(10923, 16000, vec![node("10.0.0.3", 30003, "c")]),
            // (RESP3 clients may read the host as a simple string.)
            range(
                16001,
                16383,
                vec![Value::Array(vec![
                    Value::SimpleString("10.0.0.4".into()),
                    Value::Int(30008),
                ])],
            ),
        ]);
        assert_eq!(
            super::slot_masters(&slots),
            Some(vec![
                ("127.0.0.1".into(), 30001),
                ("127.0.0.1".into(), 30002),
                ("10.0.0.3".into(), 30003),
                ("10.0.0.4".into(), 30008)
            ])
        );
        for unknown in ["", "?"] {
            let slots = Value::Array(vec![
                range(0, 5460, vec![node("127.0.0.1", 30001, "a")]),
                range(5461, 16383, vec![node(unknown, 30002, "b")]),
            ]);
            assert_eq!(super::slot_masters(&slots), None, "{unknown:?}");
        }
        assert_eq!(super::slot_masters(&Value::Nil), None);
    }
}
