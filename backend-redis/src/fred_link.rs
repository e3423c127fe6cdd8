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
    fn lost_connections_of_a_flapping_client_are_recognised() {
        let lost = Error::new(ErrorKind::IO, format!("{FLAPPING_DETAILS}: reset"));
        assert!(is_flapping(&lost));
        assert!(!is_flapping(&Error::new(ErrorKind::IO, "connection reset")));
        assert!(is_lost(&Error::new(ErrorKind::Canceled, "closed")));
        assert!(!is_lost(&Error::new(ErrorKind::Cluster, "MOVED 1 a:1")));
    }
}
