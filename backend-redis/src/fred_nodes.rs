//! A cluster reached through one fred client per master, routed by slot
//! here.
//!
//! fred's own cluster client keeps one routing state for all nodes: when a
//! master dies and stays listed in `CLUSTER SLOTS` (no replica to take
//! over), every resync tries to connect to it, fails, and starts over, so
//! the whole client stops and pairs on healthy masters fail too. Here each
//! master has a client of its own that reconnects on its own; a dead master
//! costs only its slots, as SPEC §8 asks (the store's breakers are per slot
//! too). The slot table comes from `CLUSTER SLOTS`, read from any node that
//! answers, and is read again after a `MOVED`, a failed call or a slot no
//! one was known to serve; an `ASK` is followed with `ASKING` and the
//! command on one connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use fred::error::{Error, ErrorKind};
use fred::prelude::*;
use fred::types::config::Server;
use fred::types::{ClusterHash, CustomCommand, Value};

use crate::RedisOptions;
use crate::fred_link::{Link, LinkCommand};

/// Slots in a Redis cluster.
const SLOTS: usize = 16384;
/// No node known for a slot.
const UNKNOWN: u16 = u16::MAX;
/// Redirections followed per command before giving up.
const MAX_REDIRECTIONS: u32 = 4;
/// Reads of `CLUSTER SLOTS` after a failed call come at most this often
/// (a dead master fails every probe; its slots' breakers keep those rare).
const REFRESH_AFTER_FAILURE: Duration = Duration::from_millis(500);
/// After a failed call the slot table is read again, every
/// [`REFRESH_AFTER_FAILURE`], until this long has passed without another
/// failure: once a master's breakers are open its probes, a probe interval
/// apart, are the only failures, and a read only after each found a
/// replica that took over up to that interval late.
const WATCH_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// What [`NodeRoutes::on_new_masters`] calls.
type NewMasters = Box<dyn Fn(&[u16]) + Send + Sync>;

/// Masters and the slot table, replaced whole when it changes.
struct Routing {
    /// For each slot, its master's position in `nodes`, or [`UNKNOWN`].
    slots: Vec<u16>,
    nodes: Vec<(Server, Link)>,
}

impl Routing {
    /// The master of `slot` and its client, if one is known.
    fn node(&self, slot: u16) -> Option<&(Server, Link)> {
        let at = *self.slots.get(usize::from(slot))?;
        self.nodes.get(usize::from(at))
    }

    fn link(&self, slot: u16) -> Option<Link> {
        self.node(slot).map(|(_, l)| l.clone())
    }

    /// The master of `slot`, if one is known.
    fn master(&self, slot: u16) -> Option<&Server> {
        self.node(slot).map(|(s, _)| s)
    }

    fn position(&self, server: &Server) -> Option<usize> {
        self.nodes.iter().position(|(s, _)| s == server)
    }
}

/// One fred client per cluster master, and the slot table that routes
/// keyed commands to them.
pub(crate) struct NodeRoutes {
    /// The URL's configuration (credentials, TLS, protocol), each node's
    /// client made from it with the node as its one server.
    template: Config,
    options: RedisOptions,
    /// The nodes the URL names: asked for the slot table while no other
    /// node is known, or when none of the known ones answers.
    seeds: Vec<Server>,
    routing: RwLock<Arc<Routing>>,
    /// Held while the slot table is read; when it was last read.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// Reads after a failed call are under way (one task at a time).
    refresh_due: AtomicBool,
    /// Until when those reads go on (the last failure and
    /// [`WATCH_AFTER_FAILURE`]).
    watch_until: std::sync::Mutex<Option<Instant>>,
    /// Told the slots whose master a new slot table changed (see
    /// [`NodeRoutes::on_new_masters`]).
    new_masters: NewMasters,
}

impl NodeRoutes {
    pub(crate) fn new(template: Config, options: RedisOptions) -> Self {
        let seeds = template.server.hosts();
        NodeRoutes {
            template,
            options,
            seeds,
            routing: RwLock::new(Arc::new(Routing {
                slots: vec![UNKNOWN; SLOTS],
                nodes: Vec::new(),
            })),
            refreshed: tokio::sync::Mutex::new(None),
            refresh_due: AtomicBool::new(false),
            watch_until: std::sync::Mutex::new(None),
            new_masters: Box::new(|_| {}),
        }
    }

    /// Calls `hook` with the slots whose master changed each time a slot
    /// table read again names another master for some (a replica that
    /// took over, a slot moved). The store lets those slots' breakers probe
    /// at once: while one is open its probes are the only calls, the table
    /// is read again after a failed one, and without this the first call
    /// to the new master waited out one more probe interval.
    pub(crate) fn on_new_masters(mut self, hook: impl Fn(&[u16]) + Send + Sync + 'static) -> Self {
        self.new_masters = Box::new(hook);
        self
    }

    fn routing(&self) -> Arc<Routing> {
        self.routing
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the slot table and waits until every master's client is
    /// connected.
    pub(crate) async fn wait_connected(&self) -> Result<(), Error> {
        self.refresh(Duration::ZERO).await?;
        for (_, link) in &self.routing().nodes {
            link.client().wait_for_connect().await?;
        }
        Ok(())
    }

    /// A client of one node, connecting in the background (on the calling
    /// task's runtime: the store's).
    fn connect(&self, server: Server) -> Result<Link, Error> {
        let mut config = self.template.clone();
        config.server = ServerConfig::Centralized { server };
        let client = crate::fred_store::build_client(config, &self.options)?;
        drop(client.connect());
        Ok(Link::new(client))
    }

    /// The client of `server`, made and kept if it is new (the target of a
    /// redirection, or a seed).
    fn link_at(&self, server: &Server) -> Result<Link, Error> {
        let mut routing = self.routing.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = routing.position(server) {
            return Ok(routing.nodes[at].1.clone());
        }
        let link = self.connect(server.clone())?;
        let mut next = Routing {
            slots: routing.slots.clone(),
            nodes: routing.nodes.clone(),
        };
        next.nodes.push((server.clone(), link.clone()));
        *routing = Arc::new(next);
        Ok(link)
    }

    /// After `MOVED`: the slot is served by `server` from now on.
    fn moved(&self, slot: u16, server: &Server) -> Result<Link, Error> {
        let link = self.link_at(server)?;
        let mut routing = self.routing.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = routing.position(server) {
            let mut slots = routing.slots.clone();
            slots[usize::from(slot) % SLOTS] = at as u16;
            *routing = Arc::new(Routing {
                slots,
                nodes: routing.nodes.clone(),
            });
        }
        Ok(link)
    }

    /// Reads the slot table again, unless it was read less than `fresh`
    /// ago (by this caller or one it waited for), and keeps the masters'
    /// clients that are still masters.
    async fn refresh(&self, fresh: Duration) -> Result<(), Error> {
        let mut last = self.refreshed.lock().await;
        if last.is_some_and(|at| at.elapsed() < fresh) {
            return Ok(());
        }
        let known = self.routing().nodes.clone();
        // Connected masters first; the seeds only when no master answers
        // (none known yet, or all of them gone).
        let mut masters = known.clone();
        masters.sort_by_key(|(_, l)| !l.client().is_connected());
        let mut table = self.slots_of_any(masters).await;
        if table.is_err() {
            let mut seeds = Vec::new();
            for seed in &self.seeds {
                if !known.iter().any(|(s, _)| s == seed) {
                    seeds.push((seed.clone(), self.link_at(seed)?));
                }
            }
            table = self.slots_of_any(seeds).await;
        }
        *last = Some(Instant::now());
        self.install(table?)
    }

    /// The slot table from the first of `nodes` that gives it.
    async fn slots_of_any(
        &self,
        nodes: Vec<(Server, Link)>,
    ) -> Result<Vec<(u16, u16, Server)>, Error> {
        let mut failure = Error::new(ErrorKind::Cluster, "no cluster node to ask for its slots");
        for (server, link) in nodes {
            match self.slots_of(&server, link.client()).await {
                Ok(table) => return Ok(table),
                Err(e) => failure = e,
            }
        }
        Err(failure)
    }

    /// One node's `CLUSTER SLOTS`, within the deadline.
    async fn slots_of(
        &self,
        server: &Server,
        client: &Client,
    ) -> Result<Vec<(u16, u16, Server)>, Error> {
        let ask = client.custom::<Value, Value>(
            CustomCommand::new_static("CLUSTER", ClusterHash::Random, false),
            vec!["SLOTS".into()],
        );
        match tokio::time::timeout(self.options.deadline, ask).await {
            Ok(reply) => slot_table(reply?, server),
            Err(_) => Err(Error::new(ErrorKind::Timeout, "CLUSTER SLOTS timed out")),
        }
    }

    /// Makes `table` the routing: clients of masters already known are
    /// kept, new masters get one, and nodes no longer masters are let go.
    fn install(&self, table: Vec<(u16, u16, Server)>) -> Result<(), Error> {
        let old = self.routing();
        let mut next = Routing {
            slots: vec![UNKNOWN; SLOTS],
            nodes: Vec::new(),
        };
        for (start, end, server) in table {
            let at = match next.position(&server) {
                Some(at) => at,
                None => {
                    let link = match old.position(&server) {
                        Some(at) => old.nodes[at].1.clone(),
                        None => self.connect(server.clone())?,
                    };
                    next.nodes.push((server, link));
                    next.nodes.len() - 1
                }
            };
            for slot in start..=end.min(SLOTS as u16 - 1) {
                next.slots[usize::from(slot)] = at as u16;
            }
        }
        for (server, link) in &old.nodes {
            if next.position(server).is_none() {
                // Not a master now (failed, or a seed that is a replica).
                drop(link.client().quit());
            }
        }
        let changed = new_masters(&old, &next);
        *self.routing.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        if !changed.is_empty() {
            (self.new_masters)(&changed);
        }
        Ok(())
    }

    /// Reads the slot table in the background after a failed call, so a
    /// master that failed over is found by the next call of its slots, and
    /// again every [`REFRESH_AFTER_FAILURE`] until [`WATCH_AFTER_FAILURE`]
    /// passed without a failure (a new master found lets its slots' open
    /// breakers probe at once: [`NodeRoutes::on_new_masters`]). A read made
    /// less than [`REFRESH_AFTER_FAILURE`] ago defers the next one to the
    /// end of that time rather than dropping it (the table it read may be
    /// from before the failover); one task reads at a time.
    fn refresh_soon(self: &Arc<Self>) {
        *self
            .watch_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + WATCH_AFTER_FAILURE);
        if self.refresh_due.swap(true, Ordering::AcqRel) {
            return;
        }
        let routes = self.clone();
        tokio::spawn(async move {
            // This task's own last read too: a read that fails before it
            // is recorded (no client for a seed) must not make this spin.
            let mut read_at: Option<Instant> = None;
            loop {
                let last = (*routes.refreshed.lock().await).max(read_at);
                if let Some(wait) =
                    last.and_then(|at| REFRESH_AFTER_FAILURE.checked_sub(at.elapsed()))
                {
                    tokio::time::sleep(wait).await;
                }
                read_at = Some(Instant::now());
                let _ = routes.refresh(Duration::ZERO).await;
                if !routes.watching() {
                    routes.refresh_due.store(false, Ordering::Release);
                    // Unless a failure came just now, found this task still
                    // running and left its reads to it.
                    if !routes.watching() || routes.refresh_due.swap(true, Ordering::AcqRel) {
                        return;
                    }
                }
            }
        });
    }

    /// Whether the reads after a failure go on.
    fn watching(&self) -> bool {
        self.watch_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until)
    }

    /// Sends a command to the master of `slot`, following redirections.
    pub(crate) async fn send(
        self: &Arc<Self>,
        slot: u16,
        send: &LinkCommand<'_>,
    ) -> Result<Value, Error> {
        let link = match self.routing().link(slot) {
            Some(link) => link,
            None => {
                self.refresh(Duration::from_millis(100)).await?;
                self.routing().link(slot).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Cluster,
                        format!("CLUSTERDOWN no node serves slot {slot}"),
                    )
                })?
            }
        };
        let mut link = link;
        if !link.client().is_connected() {
            // Its master may be dead and replaced by a replica: read the
            // table first (at most every 100 ms), so the call, often the
            // breaker's probe, goes to the new master at once.
            let _ = self.refresh(Duration::from_millis(100)).await;
            if let Some(now_serving) = self.routing().link(slot) {
                link = now_serving;
            }
        }
        let mut asking = false;
        let mut redirections = 0;
        loop {
            let result = link.send(send, asking).await;
            let e = match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let redirect = redirection(&e);
            match redirect {
                Some((ask, to_slot, server)) if redirections < MAX_REDIRECTIONS => {
                    redirections += 1;
                    asking = ask;
                    link = if ask {
                        self.link_at(&server)?
                    } else {
                        let link = self.moved(to_slot, &server)?;
                        self.refresh_soon();
                        link
                    };
                }
                Some(_) => {
                    return Err(Error::new(
                        ErrorKind::Cluster,
                        format!("Too many redirections: {}", e.details()),
                    ));
                }
                None => {
                    if matches!(
                        e.kind(),
                        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled
                    ) {
                        self.refresh_soon();
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// The slots that `next` gives a master and `old` gave none or another.
fn new_masters(old: &Routing, next: &Routing) -> Vec<u16> {
    (0..SLOTS as u16)
        .filter(|&slot| {
            let now = next.master(slot);
            now.is_some() && now != old.master(slot)
        })
        .collect()
}

/// `MOVED slot host:port` or `ASK slot host:port`: (is it `ASK`, slot,
/// where to).
fn redirection(e: &Error) -> Option<(bool, u16, Server)> {
    if *e.kind() != ErrorKind::Cluster {
        return None;
    }
    let mut words = e.details().split_whitespace();
    let ask = match words.next()? {
        "MOVED" => false,
        "ASK" => true,
        _ => return None,
    };
    let slot = words.next()?.parse().ok()?;
    let (host, port) = words.next()?.rsplit_once(':')?;
    Some((
        ask,
        slot,
        Server::new(host.trim_matches(['[', ']']), port.parse().ok()?),
    ))
}

/// The (first slot, last slot, master) ranges of a `CLUSTER SLOTS` reply
/// from `asked`; an empty host there means `asked`'s.
fn slot_table(reply: Value, asked: &Server) -> Result<Vec<(u16, u16, Server)>, Error> {
    let malformed = |what: &str| {
        Error::new(
            ErrorKind::Protocol,
            format!("CLUSTER SLOTS answered {what}"),
        )
    };
    let mut table = Vec::new();
    for range in reply.into_array() {
        let range = range.into_array();
        let [start, end, master, ..] = &range[..] else {
            return Err(malformed("a range of fewer than three parts"));
        };
        let slot = |v: &Value| {
            v.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| malformed("a slot that is not a number"))
        };
        let master = master.clone().into_array();
        let [host, port, ..] = &master[..] else {
            return Err(malformed("a master without host and port"));
        };
        let host = host.as_string().unwrap_or_default();
        let host = if host.is_empty() || host == "?" {
            asked.host.to_string()
        } else {
            host
        };
        let port = port
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| malformed("a port that is not a number"))?;
        table.push((slot(start)?, slot(end)?, Server::new(host, port)));
    }
    if table.is_empty() {
        return Err(malformed("no slots"));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirections_are_read_from_the_error() {
        let moved = Error::new(ErrorKind::Cluster, "MOVED 3999 127.0.0.1:6381");
        let (ask, slot, server) = redirection(&moved).unwrap();
        assert!(!ask);
        assert_eq!(slot, 3999);
        assert_eq!(server, Server::new("127.0.0.1", 6381));
        let asked = Error::new(ErrorKind::Cluster, "ASK 12 ::1:7000");
        assert_eq!(
            redirection(&asked).unwrap(),
            (true, 12, Server::new("::1", 7000))
        );
        for other in [
            Error::new(ErrorKind::Cluster, "CLUSTERDOWN The cluster is down"),
            Error::new(ErrorKind::Unknown, "MOVED 1 127.0.0.1:1"),
            Error::new(ErrorKind::Cluster, "MOVED x 127.0.0.1:1"),
            Error::new(ErrorKind::Cluster, "MOVED 1 nowhere"),
        ] {
            assert_eq!(redirection(&other), None, "{other:?}");
        }
    }

    /// The master `routes` sends `slot`'s commands to, if it knows one.
    fn master_of(routes: &NodeRoutes, slot: u16) -> Option<Server> {
        routes.routing().master(slot).cloned()
    }

    #[tokio::test]
    async fn a_moved_slot_is_sent_to_its_new_master_from_then_on() {
        // Nothing listens on these ports: the clients connect in the
        // background and are never used here.
        let template = Config::from_url("redis://127.0.0.1:1").unwrap();
        let routes = NodeRoutes::new(template, RedisOptions::default());
        let (a, b) = (Server::new("127.0.0.1", 1), Server::new("127.0.0.1", 2));
        routes.moved(5000, &a).unwrap();
        routes.moved(16383, &b).unwrap();
        assert_eq!(master_of(&routes, 5000), Some(a.clone()));
        assert_eq!(master_of(&routes, 16383), Some(b.clone()));
        assert_eq!(master_of(&routes, 0), None, "no other slot moves");
        routes.moved(5000, &b).unwrap();
        assert_eq!(master_of(&routes, 5000), Some(b));
        assert_eq!(routes.routing().nodes.len(), 2, "one client per master");
    }

    /// How often `server` was asked for `CLUSTER SLOTS` (answered or not).
    #[cfg(feature = "test-server")]
    fn cluster_slots_asked(server: &crate::test_server::OwnedServer) -> u64 {
        let stats = crate::test_server::command_stats(&mut server.connection(), "cluster|slots");
        stats.calls + stats.rejected_calls
    }

    #[cfg(feature = "test-server")]
    #[tokio::test]
    async fn the_slot_table_is_read_again_only_once_it_is_older_than_asked() {
        // A server without cluster support: every read fails, and still
        // counts as one.
        let server = crate::test_server::OwnedServer::start();
        let template = Config::from_url(&server.url).unwrap();
        let routes = NodeRoutes::new(template, RedisOptions::default());
        assert!(routes.refresh(Duration::from_secs(60)).await.is_err());
        for _ in 0..2 {
            // Read less than 60 s ago: nothing to do.
            routes.refresh(Duration::from_secs(60)).await.unwrap();
        }
        assert_eq!(
            cluster_slots_asked(&server),
            1,
            "read within 60 s of the last"
        );
        assert!(routes.refresh(Duration::ZERO).await.is_err());
        assert_eq!(
            cluster_slots_asked(&server),
            2,
            "a read that wants it fresh"
        );
    }

    /// After a failed call the table is read at once, then every
    /// REFRESH_AFTER_FAILURE until WATCH_AFTER_FAILURE passed without
    /// another failure, and not after.
    #[cfg(feature = "test-server")]
    #[tokio::test]
    async fn after_a_failure_the_table_is_read_again_for_a_while() {
        let server = crate::test_server::OwnedServer::start();
        let template = Config::from_url(&server.url).unwrap();
        let routes = Arc::new(NodeRoutes::new(template, RedisOptions::default()));
        let failed = Instant::now();
        routes.refresh_soon();
        // (A read takes a round trip on loopback, so a few ms of slack.)
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cluster_slots_asked(&server), 1, "at once");
        routes.refresh_soon();
        assert_eq!(cluster_slots_asked(&server), 1, "spaced, one task");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        // At about 0, 0.5 and 1.0 s.
        let within = cluster_slots_asked(&server);
        assert!((2..=4).contains(&within), "{within} reads in 1.25 s");
        // The second failure, at about 0.25 s, keeps it up until about
        // 2.25 s (reads at 1.5, 2.0 and 2.5 s); then it stops.
        let failed = tokio::time::Instant::from_std(failed);
        tokio::time::sleep_until(failed + Duration::from_millis(3250)).await;
        let all = cluster_slots_asked(&server);
        assert!((4..=7).contains(&all), "{all} reads in 3.25 s");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(
            cluster_slots_asked(&server),
            all,
            "none once the watch ended"
        );
    }

    #[cfg(feature = "test-server")]
    #[tokio::test]
    async fn the_seeds_not_known_as_masters_are_asked_when_no_master_answers() {
        let live = crate::test_server::OwnedServer::start();
        // A port nothing listens on, as a master that died.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let url = format!(
            "redis-cluster://127.0.0.1:{dead}?node=127.0.0.1:{}",
            live.port()
        );
        let routes = NodeRoutes::new(Config::from_url(&url).unwrap(), RedisOptions::default());
        // The dead seed is a known master (a redirection named it).
        routes.link_at(&Server::new("127.0.0.1", dead)).unwrap();
        // (The live seed is no cluster node: its answer is an error.)
        assert!(routes.refresh(Duration::ZERO).await.is_err());
        assert_eq!(cluster_slots_asked(&live), 1, "the live seed was asked");
    }

    #[tokio::test]
    async fn a_slot_table_past_the_last_slot_is_cut_at_it() {
        let template = Config::from_url("redis://127.0.0.1:1").unwrap();
        let routes = NodeRoutes::new(template, RedisOptions::default());
        let (a, b) = (Server::new("127.0.0.1", 1), Server::new("127.0.0.1", 2));
        // (As a server that is not Redis might answer.)
        routes
            .install(vec![(0, 9, a.clone()), (16000, u16::MAX, b.clone())])
            .unwrap();
        assert_eq!(master_of(&routes, 9), Some(a));
        assert_eq!(master_of(&routes, 10), None);
        assert_eq!(master_of(&routes, 16383), Some(b));
    }

    #[tokio::test]
    async fn a_new_table_names_the_slots_whose_master_changed() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::<Vec<u16>>::new()));
        let hear = heard.clone();
        let template = Config::from_url("redis://127.0.0.1:1").unwrap();
        let routes = NodeRoutes::new(template, RedisOptions::default())
            .on_new_masters(move |slots| hear.lock().unwrap().push(slots.to_vec()));
        let (a, b, c) = (
            Server::new("127.0.0.1", 1),
            Server::new("127.0.0.1", 2),
            Server::new("127.0.0.1", 3),
        );
        let first = vec![(0, 8191, a.clone()), (8192, 16383, b.clone())];
        routes.install(first.clone()).unwrap();
        routes.install(first).unwrap();
        // b's replica c took over its slots but the last ten; a's stay.
        routes
            .install(vec![(0, 8191, a), (8192, 16373, c), (16374, 16383, b)])
            .unwrap();
        let heard = heard.lock().unwrap();
        assert_eq!(heard.len(), 2, "the same table again changes nothing");
        assert_eq!(
            heard[0],
            (0..16384).collect::<Vec<u16>>(),
            "all new at first"
        );
        assert_eq!(heard[1], (8192..16374).collect::<Vec<u16>>());
    }

    #[test]
    fn the_slot_table_is_read_from_cluster_slots() {
        let asked = Server::new("10.0.0.9", 7000);
        let node =
            |host: &str, port: i64| Value::Array(vec![host.into(), port.into(), "id".into()]);
        let reply = Value::Array(vec![
            Value::Array(vec![
                0.into(),
                5460.into(),
                node("10.0.0.1", 7001),
                node("10.0.0.4", 7004),
            ]),
            Value::Array(vec![5461.into(), 16383.into(), node("", 7000)]),
        ]);
        let table = slot_table(reply, &asked).unwrap();
        assert_eq!(
            table,
            vec![
                (0, 5460, Server::new("10.0.0.1", 7001)),
                (5461, 16383, Server::new("10.0.0.9", 7000)),
            ]
        );
        assert!(slot_table(Value::Array(vec![]), &asked).is_err());
        assert!(slot_table(Value::Array(vec![Value::Array(vec![1.into()])]), &asked).is_err());
    }
}
