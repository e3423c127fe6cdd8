//! TLS (issue 12, point 7): a `redis-server` that listens only with TLS,
//! on a certificate signed by a CA this test makes, reached as a user
//! would: a `rediss://` URL, the CA trusted through `SSL_CERT_FILE` (how a
//! private CA is given to rustls's system roots). The whole conformance
//! suite runs over it on both clients, sync and async; a client that does
//! not trust the CA is refused.
//!
//! Needs `redis-server` built with TLS (Debian's is) and `openssl`; fails,
//! never skips, without them.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::RealTime;
use redis_func_cache_core::conformance;
use redis_func_cache_core::{FuncCache, FuncId, OnStoreError};
use redis_func_cache_redis::{FredStore, RedisStore};

/// Runs a command, panicking with its output if it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate it signed for 127.0.0.1 and localhost.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir));
    openssl(&["genrsa", "-out", "ca.key", "2048"]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-sha256",
        "-days",
        "2",
        "-subj",
        "/CN=redis-func-cache test CA",
        "-out",
        "ca.crt",
    ]);
    openssl(&["genrsa", "-out", "server.key", "2048"]);
    openssl(&[
        "req",
        "-new",
        "-key",
        "server.key",
        "-subj",
        "/CN=localhost",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n\
         basicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-sha256",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
}

/// A `redis-server` with only its TLS port open; killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_tls_server() -> TlsServer {
    let dir = std::env::temp_dir().join(format!("rfc-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    make_certificates(&dir.0);
    let port = free_port();
    let file = |name: &str| dir.0.join(name).display().to_string();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .args(["--tls-port", &port.to_string()])
        .args(["--tls-cert-file", &file("server.crt")])
        .args(["--tls-key-file", &file("server.key")])
        .args(["--tls-ca-cert-file", &file("ca.crt")])
        .args(["--tls-auth-clients", "no"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let server = TlsServer {
        child,
        port,
        _dir: dir,
    };
    // Ready when the TLS port accepts a connection.
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not listen with TLS within 10 s (built without TLS?)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

static F: FuncId = FuncId::new("tls", "f", 1);

/// One test: the environment variable that names the CA is the process's,
/// so nothing else may run beside it.
#[test]
fn both_clients_pass_the_conformance_suite_over_tls() {
    // TLS handshakes nest deep in debug builds: more than a test thread's
    // 2 MiB of stack.
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(over_tls)
        .unwrap()
        .join()
        .unwrap();
}

fn over_tls() {
    let server = start_tls_server();
    let url = format!("rediss://127.0.0.1:{}/", server.port);

    // Before the CA is trusted: the server's certificate is refused, and a
    // cache that propagates store errors says so.
    let untrusting = RedisStore::open(url.as_str()).unwrap();
    let cache = FuncCache::builder("tls-untrusted")
        .on_store_error(OnStoreError::Propagate)
        .store(untrusting)
        .build()
        .unwrap();
    let refused = cache.call(&F, &1u32, || 1u32);
    assert!(refused.is_err(), "an unknown CA is refused: {refused:?}");

    // SAFETY: this test binary runs this one test, so no other thread reads
    // the environment while it changes.
    unsafe { std::env::set_var("SSL_CERT_FILE", server._dir.0.join("ca.crt")) };

    // The four runs (each client, sync and async) mostly sleep out their
    // TTL checks, so they run side by side, each in a database of its own.
    let db = |n: u8| format!("{url}{n}");
    common::side_by_side(vec![
        (
            "redis-rs sync".into(),
            Box::new(|| conformance::run_all(&RealTime(RedisStore::open(db(0).as_str()).unwrap()))),
        ),
        (
            "redis-rs async".into(),
            Box::new(|| {
                let harness = RealTime(RedisStore::open(db(1).as_str()).unwrap());
                common::runtime().block_on(conformance::run_all_async(&harness));
            }),
        ),
        (
            "fred sync".into(),
            Box::new(|| conformance::run_all(&RealTime(FredStore::open(&db(2)).unwrap()))),
        ),
        (
            "fred async".into(),
            Box::new(|| {
                let harness = RealTime(FredStore::open(&db(3)).unwrap());
                common::runtime().block_on(conformance::run_all_async(&harness));
            }),
        ),
    ]);

    // A cache on it hits, as a user sees it.
    let cache = FuncCache::builder("tls-trusted")
        .on_store_error(OnStoreError::Propagate)
        .store(RedisStore::open(url.as_str()).unwrap())
        .build()
        .unwrap();
    assert_eq!(cache.call(&F, &2u32, || 20u32).unwrap(), 20);
    let again: u32 = cache.call(&F, &2u32, || unreachable!("a hit")).unwrap();
    assert_eq!(again, 20);
    assert_eq!(cache.stats().hits, 1);
}
