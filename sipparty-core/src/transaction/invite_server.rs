//! The INVITE server transaction (RFC 3261 section 17.2.1, figure 7, as
//! corrected by RFC 6026 section 7.1, figure 4).
//!
//! ```text
//!   INVITE: Proceeding (100 Trying after 200 ms if the TU is silent)
//!     | 1xx from TU: send        | 2xx from TU: send, Timer L
//!     |                          +--> Accepted (ACK, 2xx to TU) --L--> Terminated
//!     | 300-699 from TU: send, Timer G (UDP), Timer H
//!     +--> Completed --ACK--> Confirmed (Timer I) --I--> Terminated
//!             |  Timer G: resend final
//!             +--Timer H (no ACK) / transport error--> Terminated (TU told)
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use tracing::trace;

use super::timer::{Timer, TimerTable};
use super::{Ctx, Peer, TransactionError, TransactionEvent};
use crate::message::Message;
use crate::transport::Payload;
use crate::transport::Transport;

/// States of figure 7 plus RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub(crate) struct InviteServer {
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    /// Where responses go (section 18.2.2).
    pub(crate) peer: Peer,
    /// Current Timer G interval.
    interval: Duration,
    /// The last response sent, resent on request retransmission (and by
    /// Timer G for a final one). Before the TU answers it holds the
    /// prepared 100 Trying, and `answered` is false.
    last_response: Payload,
    /// Whether `last_response` has been sent.
    sent: bool,
    /// Whether the TU has responded at all.
    answered: bool,
    /// The To tag of the TU's responses, so the 200 to a CANCEL carries the
    /// same tag (RFC 3261 section 9.2).
    pub(crate) to_tag: Option<Box<str>>,
    /// Over TCP/TLS, the port at the source's IP where responses go once
    /// the request's connection is gone (section 18.2.2; set by the layer).
    pub(crate) fallback: Option<std::num::NonZeroU16>,
    /// The TU was asked to locate the Via sent-by (`locate_once`).
    located: bool,
}

impl InviteServer {
    /// A new INVITE: enter Proceeding, with `trying` (a prepared 100
    /// Trying) sent after `trying_delay` unless the TU answers first.
    pub(crate) fn start(ctx: &mut Ctx<'_>, peer: Peer, trying: Payload) -> Self {
        let mut s = Self {
            state: State::Proceeding,
            timers: TimerTable::default(),
            peer,
            interval: ctx.timers().t1,
            last_response: trying,
            sent: false,
            answered: false,
            to_tag: None,
            fallback: None,
            located: false,
        };
        if ctx.config.trying_delay.is_zero() {
            s.send_last(ctx);
        } else {
            s.timers
                .set(Timer::Trying, ctx.now + ctx.config.trying_delay);
        }
        s
    }

    fn send_last(&mut self, ctx: &mut Ctx<'_>) {
        self.sent = true;
        ctx.send(self.peer, self.last_response.share());
    }

    /// The TU responds (`bytes` is the serialized `status` response).
    pub(crate) fn send_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        status: u16,
        bytes: Payload,
    ) -> Result<(), TransactionError> {
        match (self.state, status) {
            (State::Proceeding, 100..=199) => {
                self.timers.stop(Timer::Trying);
                self.answered = true;
                self.last_response = bytes;
                self.send_last(ctx);
            }
            (State::Proceeding, 200..=299) => {
                // RFC 6026 section 8.5: Accepted for 64*T1 (Timer L); the
                // TU, not the transaction, retransmits the 2xx.
                self.timers.stop_all();
                self.answered = true;
                self.state = State::Accepted;
                self.timers.set(Timer::L, ctx.now + ctx.timers().timeout());
                if self.fallback.is_some() {
                    // Kept in case the connection is gone and the 2xx must
                    // go on a new one (section 18.2.2, `retarget`): over
                    // TCP/TLS the TU does not retransmit it. Without a
                    // fallback nothing could resend it.
                    let mut bytes = bytes;
                    self.last_response = bytes.share();
                    ctx.send(self.peer, bytes);
                } else {
                    self.last_response = Payload::default();
                    ctx.send(self.peer, bytes);
                }
            }
            (State::Proceeding, 300..=699) => {
                self.timers.stop_all();
                self.answered = true;
                self.state = State::Completed;
                let t = *ctx.timers();
                if !self.peer.transport.is_reliable() {
                    self.timers.set(Timer::G, ctx.now + t.t1);
                }
                self.timers.set(Timer::H, ctx.now + t.timeout());
                self.last_response = bytes;
                self.send_last(ctx);
            }
            (State::Accepted, 200..=299) => {
                // A 2xx retransmission by the TU (section 13.3.1.4).
                ctx.send(self.peer, bytes);
            }
            _ => return Err(TransactionError::InvalidState),
        }
        Ok(())
    }

    /// Where responses go and the one that would be sent again (empty if
    /// none), the first time only: the TU is asked to locate the Via
    /// sent-by once (RFC 3263 section 5).
    pub(crate) fn locate_once(&mut self) -> Option<(Peer, &[u8])> {
        if std::mem::replace(&mut self.located, true) {
            return None;
        }
        Some((self.peer, &self.last_response))
    }

    /// The request's connection is gone: responses go to `destination`
    /// (section 18.2.2), the last one again now with `resend`.
    pub(crate) fn retarget(&mut self, ctx: &mut Ctx<'_>, destination: SocketAddr, resend: bool) {
        self.peer.destination = destination;
        if resend && (self.sent || self.answered) && !self.last_response.is_empty() {
            ctx.send(self.peer, self.last_response.share());
        }
    }

    /// The INVITE arrived again.
    pub(crate) fn handle_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        match self.state {
            State::Proceeding => {
                // Resend the last provisional response; if the TU has not
                // spoken yet, a retransmission means the client is waiting,
                // so the 100 Trying goes now.
                self.timers.stop(Timer::Trying);
                self.send_last(ctx);
            }
            State::Completed => self.send_last(ctx),
            State::Confirmed | State::Accepted | State::Terminated => {
                trace!(id = %ctx.id, state = ?self.state, "INVITE retransmission absorbed");
            }
        }
    }

    /// An ACK matched this transaction.
    pub(crate) fn handle_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        ack: Message,
        source: SocketAddr,
        transport: Transport,
    ) {
        match self.state {
            State::Completed => {
                self.timers.stop_all();
                let wait = ctx.timers().linger_t4(self.peer.transport.is_reliable());
                if wait.is_zero() {
                    self.terminate();
                } else {
                    self.state = State::Confirmed;
                    self.timers.set(Timer::I, ctx.now + wait);
                }
            }
            // RFC 6026 section 8.7: in Accepted the ACK (for the 2xx) goes
            // to the TU.
            State::Accepted => ctx.event(TransactionEvent::Stray {
                message: ack,
                source,
                transport,
            }),
            state => trace!(id = %ctx.id, ?state, "ACK absorbed"),
        }
    }

    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match (self.state, timer) {
            (State::Proceeding, Timer::Trying) => {
                if !self.answered && !self.sent {
                    self.send_last(ctx);
                }
            }
            (State::Completed, Timer::G) => {
                self.interval = (self.interval * 2).min(ctx.timers().t2);
                self.timers.set(Timer::G, ctx.now + self.interval);
                self.send_last(ctx);
            }
            (State::Completed, Timer::H) => {
                self.terminate();
                ctx.event(TransactionEvent::Timeout { id: ctx.id });
            }
            (State::Confirmed, Timer::I) | (State::Accepted, Timer::L) => self.terminate(),
            (state, timer) => trace!(id = %ctx.id, ?state, ?timer, "stale timer ignored"),
        }
    }

    pub(crate) fn transport_error(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            ctx.event(TransactionEvent::TransportError { id: ctx.id });
        }
        self.terminate();
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.stop_all();
    }
}
