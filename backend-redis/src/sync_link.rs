//! The socket under a pooled sync connection to one server, bounded per
//! command rather than per read.
//!
//! redis-rs's sync connection times out each read of its socket, not a
//! reply: a link that still carries bytes, a few at a time (short of
//! bandwidth, or losing most of its packets), brings some within every
//! read's timeout, and a hit's reply of 4 KiB kept its caller 2.7 s against
//! a deadline of 250 ms (`tests/blackholed_connections.rs`). Over plain TCP
//! this module owns the socket, reads it with redis-rs's parser, and lets
//! each read and write wait only what is left of the command's time, so a
//! reply that trickles in ends at the deadline like one that never comes.
//! Other links (TLS, a Unix socket, RESP3) stay redis-rs's connection,
//! timed out per read.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use redis::{ConnectionAddr, ConnectionInfo, RedisResult, Value};

/// The socket timeout that ends a blocking read or write within `left`.
/// Linux's timer wheel rounds a timeout up to its level's granularity, an
/// eighth of the level's span (32 ms for a 250 ms timeout at 250 Hz once
/// an idle CPU lets the wheel's clock lag): a 250 ms `SO_RCVTIMEO` fired
/// after 277 ms here while the server held a paused write. 8/9 of `left`
/// plus that eighth is `left`, so a read gives up a little early, never
/// late. (The async clients' tokio timers are precise.)
pub(crate) fn socket_timeout(left: Duration) -> Duration {
    (left * 8 / 9).max(TIMEOUT_SLACK)
}

/// How far the socket timeouts may be off what is left of a command's
/// time before they are set again (two system calls); also the shortest,
/// as a zero timeout means none to a socket.
pub(crate) const TIMEOUT_SLACK: Duration = Duration::from_millis(1);

/// A sync connection to one server: a socket of its own over plain TCP,
/// else redis-rs's.
pub(crate) enum SyncLink {
    Own(OwnLink),
    Library {
        con: redis::Connection,
        /// The time the socket's timeouts are set for.
        timeout: Duration,
    },
}

impl SyncLink {
    /// Connects and authenticates within `connect_timeout`; each command
    /// then has `deadline` until [`SyncLink::budget`] says otherwise.
    pub(crate) fn connect(
        client: &redis::Client,
        deadline: Duration,
        connect_timeout: Duration,
    ) -> RedisResult<SyncLink> {
        let info = client.get_connection_info();
        if let ConnectionAddr::Tcp(host, port) = info.addr()
            && !info.redis_settings().protocol().supports_resp3()
        {
            let mut own = OwnLink::connect(host, *port, info, connect_timeout)?;
            own.left = deadline;
            return Ok(SyncLink::Own(own));
        }
        let con = client.get_connection_with_timeout(connect_timeout)?;
        con.set_read_timeout(Some(socket_timeout(deadline)))?;
        con.set_write_timeout(Some(socket_timeout(deadline)))?;
        Ok(SyncLink::Library {
            con,
            timeout: deadline,
        })
    }

    /// Gives each following command `left`, from its send to its reply.
    /// (redis-rs's connection: its socket timeouts are set to `left`, when
    /// they are off by more than [`TIMEOUT_SLACK`].)
    pub(crate) fn budget(&mut self, left: Duration) -> RedisResult<()> {
        match self {
            SyncLink::Own(own) => own.left = left,
            SyncLink::Library { con, timeout } => {
                if timeout.abs_diff(left) > TIMEOUT_SLACK {
                    con.set_read_timeout(Some(socket_timeout(left)))?;
                    con.set_write_timeout(Some(socket_timeout(left)))?;
                    *timeout = left;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn send_packed_command(&mut self, cmd: &[u8]) -> RedisResult<()> {
        match self {
            SyncLink::Own(own) => own.send(cmd),
            SyncLink::Library { con, .. } => con.send_packed_command(cmd),
        }
    }

    pub(crate) fn recv_response(&mut self) -> RedisResult<Value> {
        match self {
            SyncLink::Own(own) => own.recv(),
            SyncLink::Library { con, .. } => con.recv_response(),
        }
    }

    fn con(&mut self) -> &mut dyn redis::ConnectionLike {
        match self {
            SyncLink::Own(own) => own,
            SyncLink::Library { con, .. } => con,
        }
    }
}

impl redis::ConnectionLike for SyncLink {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.con().req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.con().req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        match self {
            SyncLink::Own(own) => own.db,
            SyncLink::Library { con, .. } => con.get_db(),
        }
    }

    fn check_connection(&mut self) -> bool {
        self.con().check_connection()
    }

    fn is_open(&self) -> bool {
        match self {
            SyncLink::Own(own) => own.open,
            SyncLink::Library { con, .. } => con.is_open(),
        }
    }
}

/// A plain TCP connection whose commands each end within the time they
/// were given, send and reply together.
pub(crate) struct OwnLink {
    stream: TcpStream,
    parser: redis::Parser,
    db: i64,
    /// The time each command has, from its send to its reply.
    left: Duration,
    /// When the command last sent must have its reply.
    until: Instant,
    /// The time the socket's timeouts are set for.
    timeout: Duration,
    /// Replies still to come for commands whose reply did not come in
    /// time: each is read and dropped before the next command's.
    late: usize,
    /// False once the server closed the connection or a send failed.
    open: bool,
}

impl OwnLink {
    /// Connects to `host:port` (each address it resolves to, in turn) and
    /// authenticates and selects the database as `info` says, as redis-rs
    /// does for RESP2, all within `timeout`.
    fn connect(
        host: &str,
        port: u16,
        info: &ConnectionInfo,
        timeout: Duration,
    ) -> RedisResult<OwnLink> {
        let until = Instant::now() + timeout;
        let mut failure = io::Error::new(io::ErrorKind::NotFound, "no address for the host");
        let mut stream = None;
        for addr in (host, port).to_socket_addrs()? {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                failure = io::ErrorKind::TimedOut.into();
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => failure = e,
            }
        }
        let stream = stream.ok_or(failure)?;
        if info.tcp_settings().nodelay() {
            stream.set_nodelay(true)?;
        }
        let settings = info.redis_settings();
        let mut link = OwnLink {
            stream,
            parser: redis::Parser::new(),
            db: settings.db(),
            left: until.saturating_duration_since(Instant::now()),
            until,
            timeout: Duration::ZERO,
            late: 0,
            open: true,
        };
        if let Some(password) = settings.password() {
            let mut auth = redis::cmd("AUTH");
            if let Some(username) = settings.username() {
                auth.arg(username);
            }
            let () = auth.arg(password).query(&mut link)?;
        }
        if settings.db() != 0 {
            link.left = until.saturating_duration_since(Instant::now());
            let () = redis::cmd("SELECT").arg(settings.db()).query(&mut link)?;
        }
        if settings.password().is_none() && settings.db() == 0 {
            // One answer before the connection counts as made, as redis-rs
            // has (its handshake's `CLIENT SETINFO`): a server at its
            // `maxclients`, or something that is not Redis, fails the
            // connect, not the first call made on it.
            let () = redis::cmd("PING").query(&mut link)?;
        }
        Ok(link)
    }

    /// The socket, its reads and writes bounded by `until`.
    fn bounded(&mut self) -> Bounded<'_> {
        Bounded {
            stream: &self.stream,
            until: self.until,
            timeout: &mut self.timeout,
        }
    }

    fn send(&mut self, cmd: &[u8]) -> RedisResult<()> {
        self.until = Instant::now() + self.left;
        let sent = self.bounded().write_all(cmd);
        if sent.is_err() {
            // Part of the command may have gone: nothing more can follow.
            self.open = false;
        }
        Ok(sent?)
    }

    /// The reply to the command last sent, after the late replies of the
    /// ones before it, as redis-rs's connection reads (whose parser keeps
    /// the bytes of a reply cut short by a timeout, for the next read);
    /// unlike it, a reply that does not parse closes the link.
    fn recv(&mut self) -> RedisResult<Value> {
        loop {
            let mut bounded = Bounded {
                stream: &self.stream,
                until: self.until,
                timeout: &mut self.timeout,
            };
            let reply = self.parser.parse_value(&mut bounded);
            match reply {
                // (No RESP3 here: no out-of-band data.)
                Ok(_) if self.late > 0 => self.late -= 1,
                Ok(value) => return Ok(value),
                // Its reply is still to come: the next command's skips it.
                Err(e) if e.is_timeout() => {
                    self.late += 1;
                    return Err(e);
                }
                // Closed or reset, or bytes that are not RESP (after which
                // no one knows where the next reply starts): nothing more
                // is read from it.
                Err(e) => {
                    self.open = false;
                    return Err(e);
                }
            }
        }
    }
}

impl redis::ConnectionLike for OwnLink {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.send(cmd)?;
        self.recv()
    }

    /// Pipelines (the store sends none on this path; no transactions):
    /// every reply is read, and the first failure to read one is returned.
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.send(cmd)?;
        let mut replies = Vec::with_capacity(count);
        let mut failure = None;
        for i in 0..offset + count {
            match self.recv() {
                Ok(value) if i >= offset => replies.push(value),
                Ok(_) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(replies), Err)
    }

    fn get_db(&self) -> i64 {
        self.db
    }

    fn check_connection(&mut self) -> bool {
        redis::cmd("PING").query::<String>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        self.open
    }
}

/// A socket whose every read and write waits at most until `until`.
struct Bounded<'a> {
    stream: &'a TcpStream,
    until: Instant,
    timeout: &'a mut Duration,
}

impl Bounded<'_> {
    /// Sets the socket's timeouts to what is left, when they are off by
    /// more than [`TIMEOUT_SLACK`] (a reply that comes in one read, as most
    /// do, sets nothing); nothing left is a timeout.
    fn arm(&mut self) -> io::Result<()> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        if self.timeout.abs_diff(left) > TIMEOUT_SLACK {
            self.stream.set_read_timeout(Some(socket_timeout(left)))?;
            self.stream.set_write_timeout(Some(socket_timeout(left)))?;
            *self.timeout = left;
        }
        Ok(())
    }
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.stream.read(buf)
    }
}

impl Write for Bounded<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::ConnectionLike;

    /// A peer on a loopback port that answers its first command with
    /// `+PONG` (the handshake) and every later one with `reply`,
    /// `slice_len` bytes every 10 ms. Stops after `lifetime`.
    fn peer(
        reply: &'static [u8],
        slice_len: usize,
        lifetime: Duration,
    ) -> (u16, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let started = Instant::now();
            stream
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut buf = [0u8; 1024];
            let mut first = true;
            while started.elapsed() < lifetime {
                match stream.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) if first => {
                        first = false;
                        let _ = stream.write_all(b"+PONG\r\n");
                    }
                    Ok(_) => {
                        for slice in reply.chunks(slice_len) {
                            if started.elapsed() > lifetime || stream.write_all(slice).is_err() {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                    Err(_) => {}
                }
            }
        });
        (port, peer)
    }

    /// Every read of a reply that trickles in brings bytes well within any
    /// socket timeout; the command still ends when its time is up, as a
    /// timeout (redis-rs's own connection waited for the whole 2.6 s).
    #[test]
    fn a_reply_that_trickles_in_ends_when_its_time_is_up() {
        static REPLY: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
            let mut reply = b"$4096\r\n".to_vec();
            reply.extend([b'v'; 4096]);
            reply.extend(b"\r\n");
            reply
        });
        let (port, peer) = peer(REPLY.as_slice(), 16, Duration::from_secs(5));
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut link =
            SyncLink::connect(&client, Duration::from_millis(200), Duration::from_secs(2)).unwrap();
        assert!(matches!(link, SyncLink::Own(_)));
        let started = Instant::now();
        let late = redis::cmd("GET")
            .arg("k")
            .query::<Vec<u8>>(&mut link)
            .map(|whole| whole.len())
            .expect_err("2.6 s of reply, 0.2 s to read it");
        let took = started.elapsed();
        assert!(late.is_timeout(), "{late:?}");
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_millis(400),
            "{took:?}"
        );
        assert!(link.is_open(), "kept: the late reply is skipped later");
        drop(link);
        peer.join().unwrap();
    }

    /// A reply that is not RESP (something else answers the port) fails
    /// the command, and the link is not used again: where the next reply
    /// would start is unknown.
    #[test]
    fn a_reply_that_is_not_resp_closes_the_link() {
        let (port, peer) = peer(
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            64,
            Duration::from_secs(5),
        );
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut link =
            SyncLink::connect(&client, Duration::from_secs(1), Duration::from_secs(2)).unwrap();
        let refused = redis::cmd("GET")
            .arg("k")
            .query::<Option<String>>(&mut link);
        let refused = refused.expect_err("not RESP");
        assert!(!refused.is_timeout(), "{refused:?}");
        assert!(!link.is_open(), "closed after {refused:?}");
        drop(link);
        peer.join().unwrap();
    }

    /// The handshake sends the URL's credentials and database, as redis-rs
    /// does; a wrong password fails the connect.
    #[cfg(feature = "test-server")]
    #[test]
    fn the_handshake_authenticates_and_selects_the_database() {
        let server = crate::test_server::OwnedServer::start();
        let mut admin = server.connection();
        let () = redis::cmd("CONFIG")
            .arg(&["SET", "requirepass", "secret"])
            .query(&mut admin)
            .unwrap();
        let port = server.port();
        let open = |url: String| {
            SyncLink::connect(
                &redis::Client::open(url).unwrap(),
                Duration::from_secs(2),
                Duration::from_secs(2),
            )
        };
        let mut link = open(format!("redis://:secret@127.0.0.1:{port}/3")).unwrap();
        assert!(matches!(link, SyncLink::Own(_)));
        assert_eq!(link.get_db(), 3);
        let () = redis::cmd("SET")
            .arg("k")
            .arg("in 3")
            .query(&mut link)
            .unwrap();
        let mut check = open(format!("redis://default:secret@127.0.0.1:{port}/3")).unwrap();
        let v: String = redis::cmd("GET").arg("k").query(&mut check).unwrap();
        assert_eq!(v, "in 3");
        let mut zero = open(format!("redis://:secret@127.0.0.1:{port}/")).unwrap();
        let v: Option<String> = redis::cmd("GET").arg("k").query(&mut zero).unwrap();
        assert_eq!(v, None, "database 0 has no k");
        let refused = open(format!("redis://:wrong@127.0.0.1:{port}/")).err();
        assert!(refused.is_some(), "a wrong password fails the connect");
        let refused = open(format!("redis://127.0.0.1:{port}/")).err();
        assert!(refused.is_some(), "no password fails the connect (NOAUTH)");
        let () = redis::cmd("CONFIG")
            .arg(&["SET", "requirepass", ""])
            .query(&mut admin)
            .unwrap();
    }
}
