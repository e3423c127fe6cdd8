//! A fred client, and whether its calls wait when its connection is lost.
//!
//! fred sends a command again once it has connected again if the
//! connection is lost under it, and holds commands sent meanwhile (a
//! millisecond or two: see `reconnect_policy`). After one loss, a restart
//! or a `CLIENT KILL`, that short wait is better than a failed call. A
//! server that keeps dropping connections (a kill loop, a flapping link or
//! proxy) turns it into a wait on many calls: they still succeed, slowly,
//! so the breaker never opens and the application runs at a fraction of
//! its speed with the cache in its way. So while the client reconnects
//! again and again (twice within [`FLAPPING`], the last time less than
//! that ago) its calls are sent with fred's fail-fast option: a call that
//! meets a lost connection fails at once, and is not sent again, the
//! breaker opens after a few of them, and calls skip the store until a
//! probe gets through.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use fred::clients::WithOptions;
use fred::error::{Error, ErrorKind};
use fred::prelude::*;
use fred::types::Value;
use tokio::sync::broadcast::error::RecvError;

/// Two connections made closer than this apart, the last one less than
/// this ago, make a client flapping.
pub(crate) const FLAPPING: Duration = Duration::from_secs(1);

/// How the error of a call that met a lost connection of a flapping
/// client begins.
const FLAPPING_DETAILS: &str = "the server keeps dropping the connection";

/// A command for a client, the client given with the options of the call
/// (fail-fast or not), and whether to send `ASKING` before it on the same
/// connection.
pub(crate) type LinkCommand<'a> = dyn Fn(WithOptions<Client>, bool) -> Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>
    + Send
    + Sync
    + 'a;

/// A fred client and when it connected lately.
#[derive(Clone)]
pub(crate) struct Link {
    client: Client,
    connections: Arc<Connections>,
}

impl Link {
    /// Watches `client`'s connections from now on, until the client is
    /// gone. Inside the runtime that runs the client (it spawns the
    /// watcher there).
    pub(crate) fn new(client: Client) -> Self {
        let connections = Arc::new(Connections::new());
        let seen = connections.clone();
        // Not fred's `on_reconnect`: its task ends for good once it falls
        // behind the channel, which a flapping client is the one to cause.
        let mut made = client.reconnect_rx();
        tokio::spawn(async move {
            loop {
                match made.recv().await {
                    Ok(_) => seen.made(seen.now()),
                    // More connections than the channel holds, since the
                    // last one seen: flapping.
                    Err(RecvError::Lagged(_)) => {
                        seen.made(seen.now());
                        seen.made(seen.now());
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        Link {
            client,
            connections,
        }
    }

    /// The client, for what does not go through [`Link::send`].
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Sends `command` on this client; fails at once, not waiting for a
    /// new connection, if the client flaps.
    pub(crate) async fn send(
        &self,
        command: &LinkCommand<'_>,
        asking: bool,
    ) -> Result<Value, Error> {
        let flapping = self.connections.flapping(self.connections.now());
        let options = Options {
            fail_fast: flapping,
            ..Options::default()
        };
        let result = command(self.client.with_options(&options), asking).await;
        match result {
            Err(e) if flapping && is_lost(&e) => Err(Error::new(
                e.kind().clone(),
                format!("{FLAPPING_DETAILS}: {}", e.details()),
            )),
            other => other,
        }
    }
}

/// Whether `e` is a lost connection of a flapping client: sending again
/// at once would meet the same connection.
pub(crate) fn is_flapping(e: &Error) -> bool {
    e.details().starts_with(FLAPPING_DETAILS)
}

/// What a lost connection does to a fail-fast command.
fn is_lost(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::IO | ErrorKind::Canceled)
}

/// When the last two connections were made.
struct Connections {
    epoch: Instant,
    /// In µs since `epoch`; [`NEVER`] before the first.
    last: AtomicU64,
    before_last: AtomicU64,
}

const NEVER: u64 = u64::MAX;

impl Connections {
    fn new() -> Self {
        Connections {
            epoch: Instant::now(),
            last: AtomicU64::new(NEVER),
            before_last: AtomicU64::new(NEVER),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(NEVER - 1)
    }

    /// A connection was made at `now`.
    fn made(&self, now: u64) {
        let previous = self.last.swap(now, Relaxed);
        self.before_last.store(previous, Relaxed);
    }

    /// Whether the client flaps at `now`.
    fn flapping(&self, now: u64) -> bool {
        let (last, before) = (self.last.load(Relaxed), self.before_last.load(Relaxed));
        let within = micros(FLAPPING);
        last != NEVER
            && before != NEVER
            && now.saturating_sub(last) < within
            && last.saturating_sub(before) < within
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(NEVER)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    #[test]
    fn one_connection_or_connections_far_apart_do_not_flap() {
        let connections = Connections::new();
        assert!(!connections.flapping(0), "never connected");
        connections.made(10 * MS);
        assert!(!connections.flapping(20 * MS), "connected once");
        connections.made(1200 * MS);
        assert!(
            !connections.flapping(1250 * MS),
            "connected again 1.19 s later"
        );
        connections.made(2200 * MS);
        assert!(
            !connections.flapping(2201 * MS),
            "connected again exactly 1 s later: not closer than that"
        );
    }

    #[test]
    fn connections_close_together_flap_until_one_interval_after_the_last() {
        let connections = Connections::new();
        connections.made(0);
        connections.made(5 * MS);
        assert!(connections.flapping(6 * MS));
        connections.made(900 * MS);
        assert!(connections.flapping(1800 * MS), "895 ms apart, 900 ms ago");
        assert!(
            !connections.flapping(1900 * MS),
            "1 s after the last: steady again"
        );
    }

    #[test]
    fn the_clock_counts_microseconds_from_the_start() {
        let connections = Connections::new();
        std::thread::sleep(Duration::from_millis(20));
        let now = connections.now();
        assert!(
            (20 * MS..60_000 * MS).contains(&now),
            "{now} µs after a 20 ms sleep"
        );
        assert!(connections.now() >= now, "the clock went back");
    }

    /// What [`Link::send`] gave the command (its fail-fast option), and a
    /// command that answers `answer` to every call.
    fn answering(
        answer: fn() -> Result<Value, Error>,
    ) -> (Arc<std::sync::Mutex<Vec<bool>>>, Box<LinkCommand<'static>>) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sent = seen.clone();
        let command: Box<LinkCommand<'static>> = Box::new(move |client, _asking| {
            sent.lock().unwrap().push(client.options().fail_fast);
            Box::pin(async move { answer() })
        });
        (seen, command)
    }

    #[tokio::test]
    async fn only_a_flapping_client_fails_fast_and_marks_its_lost_calls() {
        // A client that never connects: the commands here answer for it.
        let link = Link::new(Builder::default_centralized().build().unwrap());
        let lost = || Err(Error::new(ErrorKind::IO, "connection reset"));
        let moved = || Err(Error::new(ErrorKind::Cluster, "MOVED 1 127.0.0.1:7000"));

        let (steady_options, steady_lost) = answering(lost);
        let e = link.send(&*steady_lost, false).await.unwrap_err();
        assert!(!is_flapping(&e), "steady client: {e:?}");
        assert_eq!(e.details(), "connection reset");

        let now = link.connections.now();
        link.connections.made(now);
        link.connections.made(now);
        let (flapping_options, flapping_lost) = answering(lost);
        let e = link.send(&*flapping_lost, false).await.unwrap_err();
        assert!(is_flapping(&e), "flapping client, lost call: {e:?}");
        assert_eq!(*e.kind(), ErrorKind::IO);
        assert!(e.details().ends_with("connection reset"), "{e:?}");

        let (_, flapping_moved) = answering(moved);
        let e = link.send(&*flapping_moved, false).await.unwrap_err();
        assert!(!is_flapping(&e), "a redirection is not a lost call: {e:?}");
        let (_, answered) = answering(|| Ok(Value::Integer(7)));
        assert_eq!(
            link.send(&*answered, false).await.unwrap(),
            Value::Integer(7)
        );

        assert_eq!(*steady_options.lock().unwrap(), [false]);
        assert_eq!(*flapping_options.lock().unwrap(), [true]);
    }

    #[tokio::test]
    async fn the_client_is_the_one_watched() {
        let client = Builder::default_centralized().build().unwrap();
        let link = Link::new(client.clone());
        assert_eq!(link.client().id(), client.id());
    }

    #[test]
    fn lost_connections_of_a_flapping_client_are_recognised() {
        let lost = Error::new(ErrorKind::IO, format!("{FLAPPING_DETAILS}: reset"));
        assert!(is_flapping(&lost));
        assert!(!is_flapping(&Error::new(ErrorKind::IO, "connection reset")));
        assert!(is_lost(&Error::new(ErrorKind::Canceled, "closed")));
        assert!(!is_lost(&Error::new(ErrorKind::Cluster, "MOVED 1 a:1")));
    }
}
