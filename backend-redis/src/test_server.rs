//! Real Redis servers for tests, benches and the tools (feature
//! `test-server`): a `redis-server` per caller on a free loopback port via
//! `redis-test`, stopped on drop, and a `MONITOR` reader that counts round
//! trips.
#![allow(clippy::missing_panics_doc)]

use std::time::{Duration, Instant};

use redis_test::server::RedisServer;

/// A `redis-server` on a free loopback port, stopped when dropped.
pub struct Server {
    server: RedisServer,
    /// `redis://127.0.0.1:PORT/`.
    pub url: String,
}

impl Server {
    /// Starts a server and waits until it answers `PING`, as itself.
    ///
    /// A port found free can be taken by another test's server before ours
    /// binds it; ours then exits, and the port answers for the other one
    /// until that test stops it. So the server must answer with its own
    /// process id, and a server that lost its port is started again on
    /// another (at most [`PORT_ATTEMPTS`] times).
    ///
    /// # Panics
    ///
    /// If `redis-server` is missing or does not answer within 10 s: a test
    /// that needs Redis fails without it, it never skips.
    pub fn start() -> Server {
        let mut lost = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            let mut server = RedisServer::new();
            let (host, port) = server
                .host_and_port()
                .expect("redis-test serves on TCP unless REDISRS_SERVER_TYPE says otherwise");
            let url = format!("redis://{host}:{port}/");
            match wait_until_answering(&mut server.process, &url) {
                Ok(()) => return Server { server, url },
                Err(Start::PortTaken(why)) => lost.push(why),
                Err(Start::Silent(why)) => panic!(
                    "{why}; is redis-server installed? log: {:?}",
                    server.log_file_contents()
                ),
            }
        }
        panic!("redis-server lost its port {PORT_ATTEMPTS} times: {lost:?}")
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.server.host_and_port().map_or(0, |(_, port)| port)
    }

    /// A plain connection, for inspecting the server.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

/// How many ports a test server tries before its test fails.
pub const PORT_ATTEMPTS: usize = 5;

/// Why a `redis-server` did not come up.
enum Start {
    /// Another process has its port (ours exited, or another server
    /// answers there): try another port.
    PortTaken(String),
    /// Nothing answered in time.
    Silent(String),
}

/// The process id a server gives in `INFO server`.
fn process_id(con: &mut redis::Connection) -> redis::RedisResult<Option<u32>> {
    let info: String = redis::cmd("INFO").arg("server").query(con)?;
    Ok(info
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|id| id.trim().parse().ok()))
}

/// Waits (at most 10 s) until `child`, a `redis-server` started for `url`,
/// answers there as itself.
fn wait_until_answering(child: &mut std::process::Child, url: &str) -> Result<(), Start> {
    let client = redis::Client::open(url).map_err(|e| Start::Silent(format!("{url}: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Start::PortTaken(format!(
                "redis-server for {url} exited ({status})"
            )));
        }
        let answer = client
            .get_connection_with_timeout(Duration::from_millis(500))
            .and_then(|mut c| process_id(&mut c));
        match answer {
            Ok(Some(id)) if id == child.id() => return Ok(()),
            Ok(other) => {
                return Err(Start::PortTaken(format!(
                    "{url} answered as process {other:?}, not {}",
                    child.id()
                )));
            }
            Err(e) if Instant::now() > deadline => {
                return Err(Start::Silent(format!(
                    "redis-server did not answer on {url} within 10 s ({e})"
                )));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Every command the server runs, as `MONITOR` shows it, with those a script
/// ran (tagged `lua`) told apart from those clients sent.
pub struct Monitor {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Monitor {
    /// Starts `MONITOR` on the server.
    pub fn start(server: &Server) -> Monitor {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let addr = server
            .url
            .trim_start_matches("redis://")
            .trim_end_matches('/');
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(b"MONITOR\r\n").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut ok = String::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ok.starts_with("+OK") {
            ok.clear();
            let _ = reader.read_line(&mut ok);
            assert!(Instant::now() < deadline, "MONITOR did not start");
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (lines, stop) = (lines.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut line = String::new();
                while !stop.load(Ordering::Relaxed) {
                    match reader.read_line(&mut line) {
                        Ok(0) => break,
                        Ok(_) if line.ends_with('\n') => {
                            lines.lock().unwrap().push(std::mem::take(&mut line));
                        }
                        _ => {}
                    }
                }
            })
        };
        Monitor {
            lines,
            stop,
            reader: Some(handle),
        }
    }

    /// Stops and returns the names of the commands clients sent.
    pub fn client_commands(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(200));
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.reader.take() {
            h.join().unwrap();
        }
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|l| !l.contains(" lua]"))
            .filter_map(|l| {
                let rest = &l[l.find("] \"")? + 3..];
                Some(rest[..rest.find('"')?].to_ascii_lowercase())
            })
            .collect()
    }
}

/// A Redis Cluster on loopback: 3 masters with one replica each, via
/// `redis-test` (`redis-server --cluster-enabled yes` and
/// `redis-cli --cluster create`), ready once its state is ok; every node is
/// stopped when dropped.
pub struct ClusterServers {
    cluster: redis_test::cluster::RedisCluster,
    /// `redis://127.0.0.1:PORT/` of every node.
    pub urls: Vec<String>,
}

impl ClusterServers {
    /// Starts the cluster and waits until its state is ok.
    ///
    /// # Panics
    ///
    /// If `redis-server` or `redis-cli` is missing or the cluster does not
    /// form: a test that needs a cluster fails without one.
    pub fn start() -> ClusterServers {
        ClusterServers::with(
            redis_test::cluster::RedisClusterConfiguration::single_replica_config(),
        )
    }

    /// Three masters without replicas: half the servers and no replication,
    /// for tests that load the cluster but fail nothing over.
    ///
    /// # Panics
    ///
    /// As [`ClusterServers::start`].
    pub fn start_masters_only() -> ClusterServers {
        ClusterServers::with(redis_test::cluster::RedisClusterConfiguration {
            num_nodes: 3,
            num_replicas: 0,
            ..Default::default()
        })
    }

    fn with(configuration: redis_test::cluster::RedisClusterConfiguration) -> ClusterServers {
        let cluster = redis_test::cluster::RedisCluster::new(configuration);
        let urls = cluster
            .servers
            .iter()
            .map(|s| {
                let (host, port) = s.host_and_port().expect("cluster nodes serve on TCP");
                format!("redis://{host}:{port}/")
            })
            .collect();
        ClusterServers { cluster, urls }
    }

    /// A plain (non-cluster) connection to node `i`.
    pub fn node(&self, i: usize) -> redis::Connection {
        redis::Client::open(self.urls[i].as_str())
            .and_then(|c| c.get_connection())
            .expect("a cluster node answers")
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.cluster.servers.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.cluster.servers.is_empty()
    }
}

impl ClusterServers {
    /// The nodes as one fred URL: `redis-cluster://first?node=second&...`.
    pub fn fred_url(&self) -> String {
        let hosts: Vec<&str> = self
            .urls
            .iter()
            .map(|u| u.trim_start_matches("redis://").trim_end_matches('/'))
            .collect();
        let nodes: Vec<String> = hosts[1..].iter().map(|h| format!("node={h}")).collect();
        format!("redis-cluster://{}?{}", hosts[0], nodes.join("&"))
    }
}

/// A `redis-server` this process started itself on a free loopback port, so
/// fault tests can kill it and start it again on the same port, or pause
/// it (`SIGSTOP`) as a hung host would be. Killed when dropped (resumed
/// first if paused).
pub struct OwnedServer {
    port: u16,
    child: Option<std::process::Child>,
    paused: bool,
    /// `redis://127.0.0.1:PORT/`.
    pub url: String,
}

impl OwnedServer {
    /// Starts a server without persistence and waits until it answers, as
    /// itself (on another port if another server took the one found free,
    /// as [`Server::start`] does).
    ///
    /// # Panics
    ///
    /// If `redis-server` is missing or does not answer within 10 s.
    pub fn start() -> OwnedServer {
        let mut lost = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free loopback port");
            let mut server = OwnedServer {
                port,
                child: None,
                paused: false,
                url: format!("redis://127.0.0.1:{port}/"),
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(Start::PortTaken(why)) => lost.push(why),
                Err(Start::Silent(why)) => panic!("{why}"),
            }
        }
        panic!("redis-server lost its port {PORT_ATTEMPTS} times: {lost:?}")
    }

    /// A port nothing listens on yet, and the server that will: not
    /// started until [`OwnedServer::restart`].
    pub fn not_started() -> OwnedServer {
        let mut server = OwnedServer::start();
        server.kill();
        server
    }

    fn spawn(&mut self) -> Result<(), Start> {
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "local",
                // For tests that move its directory (`CONFIG SET dir`), as
                // a disk that fails does.
                "--enable-protected-configs",
                "local",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts (is it installed?)");
        let started = wait_until_answering(&mut child, &self.url);
        // Kept even when it failed, so drop (or kill) still stops it.
        self.child = Some(child);
        started
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain connection, for inspecting or configuring the server.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap()
    }

    /// Kills the server (`SIGKILL`) and waits for it to exit.
    pub fn kill(&mut self) {
        self.resume();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server (`SIGKILL`) without letting a paused process run
    /// first: the kernel resets the connections whose requests it had not
    /// read, where [`OwnedServer::kill`] closes them.
    pub fn crash(&mut self) {
        self.signal("-KILL");
        self.paused = false;
        self.kill();
    }

    /// Starts it again on the same port, empty.
    ///
    /// # Panics
    ///
    /// If it does not answer within 10 s, or another process took the port
    /// while it was down (the tests that restart a server need its port).
    pub fn restart(&mut self) {
        self.kill();
        match self.spawn() {
            Ok(()) => {}
            Err(Start::PortTaken(why) | Start::Silent(why)) => {
                panic!("restarting the server on port {}: {why}", self.port)
            }
        }
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = std::process::Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
        }
    }

    /// Stops the process with `SIGSTOP`: connections stay open, nothing
    /// answers.
    pub fn pause(&mut self) {
        self.signal("-STOP");
        self.paused = true;
    }

    /// Lets a paused process run again (`SIGCONT`).
    pub fn resume(&mut self) {
        if self.paused {
            self.signal("-CONT");
            self.paused = false;
        }
    }
}

impl Drop for OwnedServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fred store on `url` that has connected (for a cluster: learnt its
/// routing state), so a test's first command reaches the server even on a
/// loaded machine; [`crate::FredStore::open`] itself waits one deadline.
///
/// # Panics
///
/// When `url` is malformed or the client is not connected within 10 s.
#[cfg(feature = "fred")]
pub fn connected_fred(url: &str) -> crate::FredStore {
    let store = crate::FredStore::open(url).expect("a valid URL");
    store
        .wait_connected(std::time::Duration::from_secs(10))
        .expect("fred connects within 10 s");
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second server started on a port the first one holds is not taken
    /// for up: it exits (the port is in use), or the port answers as the
    /// other process. (Before, a `PING` there passed, and the test used
    /// another test's server until that one stopped.)
    #[test]
    fn a_port_answered_by_another_server_is_not_ours() {
        let mut first = Server::start();
        let mut second = std::process::Command::new("redis-server")
            .args(["--port", &first.port().to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let answered = wait_until_answering(&mut second, &first.url);
        let _ = second.kill();
        let _ = second.wait();
        assert!(
            matches!(answered, Err(Start::PortTaken(_))),
            "the second server was taken for up"
        );
        // The first still answers as itself.
        assert!(matches!(
            wait_until_answering(&mut first.server.process, &first.url),
            Ok(())
        ));
    }
}

/// One command's line of `INFO commandstats`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommandStats {
    /// Calls that ran (failed or not).
    pub calls: u64,
    /// Calls refused before they ran.
    pub rejected_calls: u64,
    /// Calls that ran and answered an error.
    pub failed_calls: u64,
}

/// `command`'s counts in `INFO commandstats` (all zero when the server has
/// not seen it).
///
/// # Panics
///
/// If the server does not answer or a counter is missing.
pub fn command_stats(con: &mut redis::Connection, command: &str) -> CommandStats {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    let prefix = format!("cmdstat_{command}:");
    let Some(line) = info.lines().find_map(|l| l.strip_prefix(&prefix)) else {
        return CommandStats::default();
    };
    let field = |name: &str| {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    CommandStats {
        calls: field("calls"),
        rejected_calls: field("rejected_calls"),
        failed_calls: field("failed_calls"),
    }
}
