//! The four RFC 3261 section 17 transaction machines, with the RFC 6026
//! corrections, and the table that matches messages to them.
//!
//! A transaction is one request and the responses to it. The client side
//! retransmits the request over UDP until a response arrives (Timers A and
//! E), gives up after `64*T1` (Timers B and F), and for INVITE acknowledges a
//! failure response itself (section 17.1.1.3). The server side absorbs
//! retransmitted requests, resends its last response, retransmits a final
//! INVITE response until the ACK arrives (Timer G), and sends 100 Trying when
//! the transaction user (TU) is slow to answer an INVITE. RFC 6026 adds the
//! Accepted state: after a 2xx to INVITE the transaction stays for `64*T1`
//! (Timers L and M) so 2xx retransmissions and the ACK go to the TU and are
//! not mistaken for new requests.
//!
//! [`TransactionLayer`] is sans-IO, in quinn-proto's vocabulary: feed
//! messages with [`TransactionLayer::handle_message`] and deadlines with
//! [`TransactionLayer::handle_timeout`]; drain
//! [`TransactionLayer::poll_transmit`] and [`TransactionLayer::poll_event`];
//! sleep until [`TransactionLayer::poll_timeout`].
//!
//! ```
//! use sipparty_core::message::Message;
//! use sipparty_core::transaction::{TransactionConfig, TransactionEvent, TransactionLayer};
//! use sipparty_core::Transport;
//! use std::time::{Duration, Instant};
//!
//! let mut layer = TransactionLayer::new(TransactionConfig::default());
//! let now = Instant::now();
//! let request = Message::parse(
//!     b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\n\
//!       From: <sip:alice@127.0.0.1>;tag=a1\r\n\
//!       To: <sip:bob@127.0.0.1>\r\n\
//!       Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
//! ).unwrap();
//! let source = "127.0.0.1:5070".parse().unwrap();
//! layer.handle_message(now, request, source, Transport::Udp);
//! // The TU sees the new request and answers it within its transaction.
//! let Some(TransactionEvent::Request { id, request, .. }) = layer.poll_event() else { panic!() };
//! let ok = Message::response_to(&request, 200, Some("b1"));
//! layer.send_response(now, id, ok).unwrap();
//! let out = layer.poll_transmit().unwrap();
//! assert_eq!(out.destination, source);
//! // Over UDP the transaction lingers for Timer J (64*T1) to absorb retransmissions.
//! assert_eq!(layer.poll_timeout(), Some(now + Duration::from_secs(32)));
//! layer.handle_timeout(now + Duration::from_secs(32));
//! assert!(layer.is_empty());
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::message::Message;
use crate::transport::Transport;

mod invite_client;
mod invite_server;
mod key;
mod layer;
mod non_invite_client;
mod non_invite_server;
mod stateless;
mod timer;

pub use layer::TransactionLayer;
pub use stateless::response_destination;
pub use timer::TimerConfig;

/// Configuration of a [`TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionConfig {
    /// T1, T2 and T4.
    pub timers: TimerConfig,
    /// The most transactions (client and server) the table holds. A new
    /// request arriving when it is full is answered statelessly with 503 and
    /// `Retry-After`; a new client request is refused with
    /// [`TransactionError::Full`].
    pub max_transactions: usize,
    /// How long an INVITE server transaction waits for the TU's first
    /// response before sending 100 Trying itself (RFC 3261 section 17.2.1
    /// says 200 ms).
    pub trying_delay: Duration,
    /// The `Retry-After` value (seconds) of the 503 sent when the table is
    /// full.
    pub retry_after: u32,
}

impl Default for TransactionConfig {
    fn default() -> Self {
        Self {
            timers: TimerConfig::default(),
            max_transactions: 10_000,
            trying_delay: Duration::from_millis(200),
            retry_after: 5,
        }
    }
}

/// Names one transaction for as long as it lives; never reused within one
/// [`TransactionLayer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub(crate) u64);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// What [`TransactionLayer::handle_message`] did with a message. The
/// matching [`TransactionEvent`]s (if any) are queued for
/// [`TransactionLayer::poll_event`]; this value is for logging, metrics and
/// tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Matched {
    /// A new server transaction; [`TransactionEvent::Request`] is queued.
    New(TransactionId),
    /// Matched a live transaction: a response for a client transaction, a
    /// retransmitted request or an ACK absorbed by a server transaction.
    Existing(TransactionId),
    /// A CANCEL: it got its own server transaction (`cancel`), already
    /// answered (200, or 481 when `invite` is `None`). When the INVITE was
    /// still unanswered, [`TransactionEvent::Cancelled`] is queued.
    Cancel {
        /// The CANCEL's own server transaction.
        cancel: TransactionId,
        /// The INVITE server transaction it matched (RFC 3261 section 9.2).
        invite: Option<TransactionId>,
    },
    /// No transaction, but the TU wants it: an ACK for a 2xx, or a 2xx to
    /// INVITE after its client transaction ended (RFC 6026 section 7.2).
    /// [`TransactionEvent::Stray`] is queued.
    Stray,
    /// Answered statelessly with this status before any transaction existed:
    /// 503 when the table is full, 400 for a request missing the headers a
    /// transaction needs.
    Rejected(u16),
    /// Discarded: a response matching nothing, a response with several Via
    /// values (RFC 3261 section 18.1.2), or a request without a usable Via.
    Dropped,
}

/// What the transaction layer tells its user.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TransactionEvent {
    /// A new request; a server transaction `id` now waits for the TU's
    /// responses ([`TransactionLayer::send_response`]). Not emitted for
    /// CANCEL (see [`TransactionEvent::Cancelled`]) nor ACK.
    Request {
        /// The new server transaction.
        id: TransactionId,
        /// The request; its top Via carries `received`/`rport` as section
        /// 18.2.1 and RFC 3581 require, so `Message::response_to` copies
        /// them into the response.
        request: Message,
        /// Where it came from.
        source: SocketAddr,
        /// Over which transport.
        transport: Transport,
    },
    /// A response for client transaction `id`, provisional or final. For an
    /// INVITE, every 2xx is passed on, retransmissions included (RFC 6026
    /// Accepted state), so the TU can ACK each; a non-2xx final response has
    /// already been acknowledged by the transaction.
    Response {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Message,
    },
    /// A message outside any transaction that the TU must see: an ACK for a
    /// 2xx (whether or not the INVITE server transaction still lingers in
    /// Accepted), or a 2xx to INVITE whose client transaction is gone.
    Stray {
        /// The message.
        message: Message,
        /// Where it came from.
        source: SocketAddr,
        /// Over which transport.
        transport: Transport,
    },
    /// Server transaction `id`'s response could not go over its
    /// connection nor, on a new one, to the top Via's `received` address
    /// at the sent-by port, and the sent-by is a host name: RFC 3261
    /// section 18.2.2 then locates it as RFC 3263 section 5 says (SRV for
    /// `host` when `port` is absent, else its addresses). The transaction
    /// waits (until its own timers end it): give the address found to
    /// [`TransactionLayer::send_responses_to`], or report that it was not
    /// found with [`TransactionLayer::locate_failed`]. If sending there
    /// fails as well, the transaction fails.
    LocateSentBy {
        /// The server transaction.
        id: TransactionId,
        /// The Via's sent-by host.
        host: String,
        /// The Via's sent-by port, if written.
        port: Option<u16>,
        /// The transport (TCP or TLS) of the request.
        transport: Transport,
    },
    /// The INVITE server transaction `id` was cancelled while still
    /// unanswered. The CANCEL itself has been answered with 200; the TU
    /// should now answer the INVITE with 487 (RFC 3261 section 9.2).
    Cancelled {
        /// The INVITE's server transaction.
        id: TransactionId,
        /// The CANCEL request.
        cancel: Message,
    },
    /// The transaction timed out: no final response (Timer B or F; treat as
    /// 408), or no ACK for a final INVITE response (Timer H).
    Timeout {
        /// The transaction.
        id: TransactionId,
    },
    /// The driver reported that sending failed (treat as 503, RFC 3261
    /// section 8.1.3.1).
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// The transaction is gone from the table; `id` will not appear again.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// Why the transaction layer refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionError {
    /// The table holds `max_transactions` already.
    Full,
    /// The request has no top Via with a `branch` parameter.
    NoBranch,
    /// A live client transaction already has this branch and method.
    Duplicate,
    /// `send_request` was given a response, or `send_response` a request.
    WrongKind,
    /// ACK is not sent in a transaction of its own: the INVITE client
    /// transaction sends the ACK for a failure, and the TU sends the ACK for
    /// a 2xx with [`TransactionLayer::send_stateless_request`].
    AckNeedsNoTransaction,
    /// No live transaction has this id (it may have terminated).
    UnknownTransaction,
    /// The transaction is of the wrong side for the command (a response to
    /// a client transaction, a CANCEL of a non-INVITE).
    WrongSide,
    /// The machine's state does not allow it (for example a second final
    /// response).
    InvalidState,
}

impl fmt::Display for TransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransactionError::Full => "the transaction table is full",
            TransactionError::NoBranch => "the request has no top Via with a branch",
            TransactionError::Duplicate => "a transaction with this branch and method exists",
            TransactionError::WrongKind => "expected a request or a response, got the other",
            TransactionError::AckNeedsNoTransaction => {
                "ACK is sent by the INVITE transaction or statelessly"
            }
            TransactionError::UnknownTransaction => "no such transaction",
            TransactionError::WrongSide => "the transaction is of the wrong kind for this command",
            TransactionError::InvalidState => "the transaction's state does not allow this",
        })
    }
}

impl std::error::Error for TransactionError {}

/// Where a transaction sends: the next hop and the transport to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) destination: SocketAddr,
    pub(crate) transport: Transport,
}

/// What one machine call may produce, borrowed from the layer's queues.
pub(crate) struct Ctx<'a> {
    pub(crate) now: std::time::Instant,
    pub(crate) config: &'a TransactionConfig,
    pub(crate) id: TransactionId,
    pub(crate) transmits: &'a mut std::collections::VecDeque<crate::transport::Transmit>,
    pub(crate) events: &'a mut std::collections::VecDeque<TransactionEvent>,
}

impl Ctx<'_> {
    pub(crate) fn send(&mut self, peer: Peer, bytes: crate::transport::Payload) {
        self.transmits.push_back(crate::transport::Transmit {
            transport: peer.transport,
            destination: peer.destination,
            bytes,
        });
    }

    pub(crate) fn event(&mut self, event: TransactionEvent) {
        self.events.push_back(event);
    }

    pub(crate) fn timers(&self) -> &TimerConfig {
        &self.config.timers
    }
}
