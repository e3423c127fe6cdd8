//! A real `redis-server` per test, on a free loopback port, stopped when
//! dropped. Without `redis-server` on the PATH the test fails, never skips.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use redis_test::server::RedisServer;

pub struct Server {
    server: RedisServer,
    pub url: String,
}

impl Server {
    pub fn start() -> Server {
        let server = RedisServer::new();
        let (host, port) = server
            .host_and_port()
            .expect("redis-test serves on TCP unless REDISRS_SERVER_TYPE says otherwise");
        let url = format!("redis://{host}:{port}/");
        let client = redis::Client::open(url.as_str()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ping = client
                .get_connection()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            match ping {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => panic!(
                    "redis-server did not answer on {url} within 10 s ({e}); is redis-server installed? log: {:?}",
                    server.log_file_contents()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        Server { server, url }
    }

    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}
