//! Book-keeping of stream connections (TCP, TLS) without sockets: how long
//! opening one may take (the connect and the TLS handshake), when to send
//! a keep-alive ping (RFC 5626 section 4.4.1), when a flow has failed (no
//! pong), when an idle connection is closed, and which connection gives
//! way at the cap. Both drivers keep one [`Connections`] table keyed by
//! their own connection handle and act on its [`ConnectionAction`]s; a
//! connection closed as failed is reported to the Party as a transport
//! error, which fails the transactions waiting on it (and RFC 3263 section
//! 4.3 moves on to the next target).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sipparty_core::transport::connection::{ConnectionAction, ConnectionPolicy, Connections};
//!
//! let mut policy = ConnectionPolicy::default();
//! policy.keepalive_interval = Some(Duration::from_secs(30));
//! let mut table = Connections::new(policy);
//! let t0 = Instant::now();
//! table.opened(t0, 7u32, true); // we connected: we ping
//! let mut actions = Vec::new();
//! table.handle_timeout(t0 + Duration::from_secs(31), &mut actions);
//! assert_eq!(actions, vec![ConnectionAction::Ping(7)]);
//! ```

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How connections are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionPolicy {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Close a connection silent for this long.
    pub idle_timeout: Duration,
    /// Ping connections we opened after this much silence (None: never).
    pub keepalive_interval: Option<Duration>,
    /// A ping unanswered for this long means the flow failed (RFC 5626
    /// section 4.4.1 says 10 s).
    pub pong_timeout: Duration,
    /// Longest an opening may take, either side: the TCP connect and, for
    /// TLS, the handshake. Past it the connection fails like a refused one.
    pub open_timeout: Duration,
}

impl Default for ConnectionPolicy {
    fn default() -> Self {
        ConnectionPolicy {
            max_connections: 1024,
            idle_timeout: Duration::from_secs(300),
            // RFC 5626 section 4.4.1 suggests 95 to 120 s for TCP.
            keepalive_interval: Some(Duration::from_secs(90)),
            pong_timeout: Duration::from_secs(10),
            // RFC 3261 sets no connect timer, and the system's own gives up
            // on a silent host only after minutes (Linux retries a SYN for
            // about 127 s), long after Timer B/F (64*T1 = 32 s) ended the
            // transaction: failover (RFC 3263 section 4.3) would never reach
            // the next target. 5 s leaves room for several targets within
            // one transaction and still covers a TCP plus TLS 1.2 handshake
            // (3 round trips) over a slow satellite path. It also keeps a
            // peer that accepts but never handshakes from holding a capped
            // slot until the idle timeout.
            open_timeout: Duration::from_secs(5),
        }
    }
}

/// What the driver must do with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionAction<K> {
    /// Write a keep-alive ping ([`super::stream::PING`]) and tell the
    /// connection's framer ([`super::stream::StreamFramer::ping_sent`]).
    Ping(K),
    /// Close the connection; if `failed`, report it to the core as a
    /// transport error (the peer is gone or never answered), otherwise it
    /// was merely idle.
    Close {
        /// Which connection.
        conn: K,
        /// Whether the flow failed (no pong, or it did not open within
        /// [`ConnectionPolicy::open_timeout`]) rather than went idle.
        failed: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct State {
    outbound: bool,
    /// While connecting or handshaking: since when.
    opening_since: Option<Instant>,
    last_activity: Instant,
    ping_sent_at: Option<Instant>,
}

/// The connections of one endpoint.
#[derive(Debug)]
pub struct Connections<K> {
    policy: ConnectionPolicy,
    conns: HashMap<K, State>,
}

impl<K: Copy + Eq + Hash> Connections<K> {
    /// An empty table.
    pub fn new(policy: ConnectionPolicy) -> Self {
        Connections {
            policy,
            conns: HashMap::new(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ConnectionPolicy {
        &self.policy
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Whether an incoming connection may be accepted (below the cap).
    pub fn admit_inbound(&self) -> bool {
        self.conns.len() < self.policy.max_connections
    }

    /// Before opening a connection: the one to close first to stay within
    /// the cap (the longest silent), if the table is full.
    pub fn evict_for_outbound(&self) -> Option<K> {
        if self.conns.len() < self.policy.max_connections {
            return None;
        }
        self.conns
            .iter()
            .min_by_key(|(_, s)| s.last_activity)
            .map(|(k, _)| *k)
    }

    /// A connection was opened (`outbound`: by us, so we send the pings),
    /// ready for messages at once (an accepted TCP connection).
    pub fn opened(&mut self, now: Instant, conn: K, outbound: bool) {
        self.insert(now, conn, outbound, None);
    }

    /// A connection started opening: we are connecting (`outbound`), or an
    /// accepted one is in its TLS handshake. It has until
    /// [`ConnectionPolicy::open_timeout`] to become
    /// [`established`](Self::established); otherwise it is closed as failed.
    pub fn opening(&mut self, now: Instant, conn: K, outbound: bool) {
        self.insert(now, conn, outbound, Some(now));
    }

    /// The connect (and handshake) of an [`opening`](Self::opening)
    /// connection finished: from now on it is kept by the idle and
    /// keep-alive rules.
    pub fn established(&mut self, now: Instant, conn: K) {
        if let Some(s) = self.conns.get_mut(&conn) {
            s.opening_since = None;
            s.last_activity = now;
        }
    }

    /// Whether `conn` is known and still opening.
    pub fn is_opening(&self, conn: K) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|s| s.opening_since.is_some())
    }

    fn insert(&mut self, now: Instant, conn: K, outbound: bool, opening_since: Option<Instant>) {
        self.conns.insert(
            conn,
            State {
                outbound,
                opening_since,
                last_activity: now,
                ping_sent_at: None,
            },
        );
    }

    /// Bytes went either way.
    pub fn activity(&mut self, now: Instant, conn: K) {
        if let Some(s) = self.conns.get_mut(&conn) {
            s.last_activity = now;
        }
    }

    /// The peer answered our ping.
    pub fn pong(&mut self, now: Instant, conn: K) {
        if let Some(s) = self.conns.get_mut(&conn) {
            s.ping_sent_at = None;
            s.last_activity = now;
        }
    }

    /// The connection is gone (closed by either side).
    pub fn closed(&mut self, conn: K) {
        self.conns.remove(&conn);
    }

    /// The next instant something is due, if any connection is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns.values().map(|s| self.due(s)).min()
    }

    fn due(&self, s: &State) -> Instant {
        if let Some(since) = s.opening_since {
            return since + self.policy.open_timeout;
        }
        let idle = s.last_activity + self.policy.idle_timeout;
        match (s.ping_sent_at, self.policy.keepalive_interval) {
            (Some(at), _) => idle.min(at + self.policy.pong_timeout),
            (None, Some(k)) if s.outbound => idle.min(s.last_activity + k),
            _ => idle,
        }
    }

    /// Time passed: append what is due to `actions`. Connections told to
    /// close are forgotten; pinged ones wait for their pong.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Vec<ConnectionAction<K>>) {
        let policy = self.policy;
        self.conns.retain(|k, s| {
            if let Some(since) = s.opening_since {
                // Bytes queued on it are lost with it: failed, so the
                // driver reports a transport error.
                if now >= since + policy.open_timeout {
                    actions.push(ConnectionAction::Close {
                        conn: *k,
                        failed: true,
                    });
                    return false;
                }
                // Not open yet: no idle close, no ping.
                return true;
            }
            if s.ping_sent_at
                .is_some_and(|t| now >= t + policy.pong_timeout)
            {
                actions.push(ConnectionAction::Close {
                    conn: *k,
                    failed: true,
                });
                return false;
            }
            if now >= s.last_activity + policy.idle_timeout {
                actions.push(ConnectionAction::Close {
                    conn: *k,
                    failed: false,
                });
                return false;
            }
            if s.outbound
                && s.ping_sent_at.is_none()
                && policy
                    .keepalive_interval
                    .is_some_and(|i| now >= s.last_activity + i)
            {
                s.ping_sent_at = Some(now);
                actions.push(ConnectionAction::Ping(*k));
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ConnectionPolicy {
        ConnectionPolicy {
            max_connections: 2,
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Some(Duration::from_secs(90)),
            pong_timeout: Duration::from_secs(10),
            open_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn rfc5626_4_4_1_ping_after_silence_and_fail_without_pong() {
        let t0 = Instant::now();
        let mut c = Connections::new(policy());
        c.opened(t0, 1, true);
        c.opened(t0, 2, false);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(90)));
        let mut a = Vec::new();
        c.handle_timeout(t0 + Duration::from_secs(90), &mut a);
        // Only the client side of a flow pings.
        assert_eq!(a, vec![ConnectionAction::Ping(1)]);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(100)));
        a.clear();
        c.handle_timeout(t0 + Duration::from_secs(100), &mut a);
        assert_eq!(
            a,
            vec![ConnectionAction::Close {
                conn: 1,
                failed: true
            }]
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn rfc5626_4_4_1_pong_keeps_the_flow_and_idle_connections_close() {
        let t0 = Instant::now();
        let mut c = Connections::new(policy());
        c.opened(t0, 1, true);
        let mut a = Vec::new();
        c.handle_timeout(t0 + Duration::from_secs(90), &mut a);
        c.pong(t0 + Duration::from_secs(91), 1);
        a.clear();
        c.handle_timeout(t0 + Duration::from_secs(120), &mut a);
        assert!(a.is_empty(), "{a:?}");
        // A server-side connection nobody uses is closed when idle, without
        // reporting a failure.
        c.opened(t0, 2, false);
        a.clear();
        c.handle_timeout(t0 + Duration::from_secs(300), &mut a);
        assert!(a.contains(&ConnectionAction::Close {
            conn: 2,
            failed: false
        }));
    }

    #[test]
    fn the_cap_refuses_inbound_and_evicts_the_longest_silent_for_outbound() {
        let t0 = Instant::now();
        let mut c = Connections::new(policy());
        c.opened(t0, 1, false);
        assert_eq!(c.evict_for_outbound(), None);
        c.opened(t0 + Duration::from_secs(1), 2, true);
        c.activity(t0 + Duration::from_secs(5), 1);
        assert!(!c.admit_inbound());
        assert_eq!(c.evict_for_outbound(), Some(2));
        c.closed(2);
        assert!(c.admit_inbound());
    }

    #[test]
    fn a_connection_that_does_not_open_in_time_fails() {
        let t0 = Instant::now();
        let mut c = Connections::new(policy());
        // Connecting (a SYN nobody answers), and an accepted connection
        // whose TLS handshake stalls.
        c.opening(t0, 1, true);
        c.opening(t0 + Duration::from_secs(1), 2, false);
        assert!(c.is_opening(1));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        let mut a = Vec::new();
        c.handle_timeout(t0 + Duration::from_millis(4999), &mut a);
        assert!(a.is_empty(), "{a:?}");
        c.handle_timeout(t0 + Duration::from_secs(5), &mut a);
        assert_eq!(
            a,
            vec![ConnectionAction::Close {
                conn: 1,
                failed: true
            }]
        );
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(6)));
        a.clear();
        c.handle_timeout(t0 + Duration::from_secs(6), &mut a);
        assert_eq!(
            a,
            vec![ConnectionAction::Close {
                conn: 2,
                failed: true
            }]
        );
        assert!(c.is_empty());
    }

    #[test]
    fn an_established_connection_follows_the_idle_and_keepalive_rules() {
        let t0 = Instant::now();
        let mut c = Connections::new(policy());
        c.opening(t0, 1, true);
        // An opening connection is never pinged nor closed as idle, even
        // with a long open timeout.
        let mut long = policy();
        long.open_timeout = Duration::from_secs(1000);
        let mut slow = Connections::new(long);
        slow.opening(t0, 9, true);
        let mut a = Vec::new();
        slow.handle_timeout(t0 + Duration::from_secs(400), &mut a);
        assert!(a.is_empty(), "{a:?}");
        // Opened after 2 s: the keep-alive counts from then.
        c.established(t0 + Duration::from_secs(2), 1);
        assert!(!c.is_opening(1));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(92)));
        c.handle_timeout(t0 + Duration::from_secs(10), &mut a);
        assert!(a.is_empty(), "{a:?}");
        c.handle_timeout(t0 + Duration::from_secs(92), &mut a);
        assert_eq!(a, vec![ConnectionAction::Ping(1)]);
    }

    #[test]
    fn opening_connections_count_towards_the_cap() {
        let t0 = Instant::now();
        let mut c = Connections::new(policy());
        c.opening(t0, 1, true);
        c.opening(t0, 2, false);
        assert!(!c.admit_inbound());
        assert!(c.evict_for_outbound().is_some());
    }
}
