//! The INVITE client transaction (RFC 3261 section 17.1.1, figure 5, as
//! corrected by RFC 6026 section 7.2, figure 3).
//!
//! ```text
//!            send INVITE, Timer A (UDP), Timer B
//!   Calling --1xx--> Proceeding --1xx--> Proceeding
//!      |  \                |  \
//!      |   2xx            2xx  300-699: send ACK, Timer D
//!      |    \              |     \
//!      |     Accepted <----+      Completed --Timer D--> Terminated
//!      |        (Timer M; 2xx to TU)
//!   Timer B / transport error --> Terminated (TU told)
//! ```

use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use super::timer::{Timer, TimerTable};
use super::{Ctx, Peer, TransactionEvent};
use crate::message::{HeaderName, Message, Method};
use crate::transport::Payload;

/// States of figure 5 plus RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug)]
pub(crate) struct InviteClient {
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    pub(crate) peer: Peer,
    /// Current Timer A interval (doubles with each retransmission).
    interval: Duration,
    /// The INVITE as sent: retransmitted by Timer A, and the source of the
    /// ACK (section 17.1.1.3) and of a CANCEL (section 9.1).
    pub(crate) request: Payload,
    /// The ACK for the failure response, once built, resent for each
    /// retransmission of that response.
    ack: Option<Payload>,
}

impl InviteClient {
    /// Send the INVITE and arm Timers A and B (section 17.1.1.2).
    pub(crate) fn start(ctx: &mut Ctx<'_>, mut request: Payload, peer: Peer) -> Self {
        let t = *ctx.timers();
        let mut timers = TimerTable::default();
        if !peer.transport.is_reliable() {
            timers.set(Timer::A, ctx.now + t.t1);
        }
        timers.set(Timer::B, ctx.now + t.timeout());
        ctx.send(peer, request.share());
        Self {
            state: State::Calling,
            timers,
            peer,
            interval: t.t1,
            request,
            ack: None,
        }
    }

    pub(crate) fn handle_response(&mut self, ctx: &mut Ctx<'_>, response: Message, status: u16) {
        match (self.state, status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                // Proceeding: no more retransmissions, and Timer B no longer
                // applies (figure 5 arms it in Calling only).
                self.state = State::Proceeding;
                self.timers.stop(Timer::A);
                self.timers.stop(Timer::B);
                ctx.event(TransactionEvent::Response {
                    id: ctx.id,
                    response,
                });
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                // RFC 6026 section 8.4: Accepted, so that retransmissions
                // of the 2xx still reach the TU, which ACKs each one.
                self.state = State::Accepted;
                self.timers.stop_all();
                self.timers.set(Timer::M, ctx.now + ctx.timers().timeout());
                ctx.event(TransactionEvent::Response {
                    id: ctx.id,
                    response,
                });
            }
            (State::Calling | State::Proceeding, 300..=699) => {
                self.state = State::Completed;
                self.timers.stop_all();
                match build_ack(&self.request, &response) {
                    Some(ack) => {
                        let mut ack = Payload::from(ack);
                        ctx.send(self.peer, ack.share());
                        self.ack = Some(ack);
                    }
                    // Our own INVITE always re-parses; a response whose To
                    // is unusable still completes the transaction.
                    None => warn!(id = %ctx.id, "could not build the ACK for a failure response"),
                }
                let wait = ctx.timers().timer_d(self.peer.transport.is_reliable());
                if wait.is_zero() {
                    self.state = State::Terminated;
                } else {
                    self.timers.set(Timer::D, ctx.now + wait);
                }
                ctx.event(TransactionEvent::Response {
                    id: ctx.id,
                    response,
                });
            }
            (State::Completed, 300..=699) => {
                // Section 17.1.1.2: a retransmitted final response is
                // acknowledged again and not passed up.
                if let Some(ack) = &mut self.ack {
                    trace!(id = %ctx.id, "failure response retransmitted, resending ACK");
                    ctx.send(self.peer, ack.share());
                }
            }
            (State::Accepted, 200..=299) => {
                ctx.event(TransactionEvent::Response {
                    id: ctx.id,
                    response,
                });
            }
            (state, status) => {
                debug!(id = %ctx.id, ?state, status, "response absorbed by INVITE client transaction");
            }
        }
    }

    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match (self.state, timer) {
            (State::Calling, Timer::A) => {
                // Section 17.1.1.2: resend, and double the interval (no cap
                // for INVITE: 0.5, 1, 2, 4, 8, 16 s).
                self.interval *= 2;
                self.timers.set(Timer::A, ctx.now + self.interval);
                ctx.send(self.peer, self.request.share());
            }
            (State::Calling, Timer::B) => {
                self.terminate();
                ctx.event(TransactionEvent::Timeout { id: ctx.id });
            }
            // Section 9.1: no final response within 64*T1 of our CANCEL:
            // the INVITE is considered cancelled and the transaction ends.
            (State::Proceeding, Timer::B) => {
                self.terminate();
                ctx.event(TransactionEvent::Timeout { id: ctx.id });
            }
            (State::Completed, Timer::D) | (State::Accepted, Timer::M) => self.terminate(),
            (state, timer) => trace!(id = %ctx.id, ?state, ?timer, "stale timer ignored"),
        }
    }

    /// A CANCEL for this INVITE went out (RFC 3261 section 9.1): if no
    /// final response arrives within 64*T1, give up on the INVITE rather
    /// than wait in Proceeding forever (the peer may have lost every
    /// retransmission of its final response).
    pub(crate) fn cancel_sent(&mut self, now: Instant, timeout: Duration) {
        if self.state == State::Proceeding {
            self.timers.set(Timer::B, now + timeout);
        }
    }

    pub(crate) fn transport_error(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(
            self.state,
            State::Calling | State::Proceeding | State::Completed
        ) {
            ctx.event(TransactionEvent::TransportError { id: ctx.id });
        }
        self.terminate();
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub(crate) fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.stop_all();
    }
}

/// The ACK for a non-2xx final response (RFC 3261 section 17.1.1.3): the
/// INVITE's Request-URI, Call-ID, From, CSeq number, top Via (same branch)
/// and Route set, the response's To (with its tag), no body.
pub(crate) fn build_ack(invite: &[u8], response: &Message) -> Option<Vec<u8>> {
    let invite = Message::parse(invite).ok()?;
    let mut ack = Message::request(Method::Ack, invite.request_uri()?);
    ack.add_header(
        HeaderName::Via,
        invite.header_values(&HeaderName::Via).next()?,
    );
    if let Some(mf) = invite.header(&HeaderName::MaxForwards) {
        ack.add_header(HeaderName::MaxForwards, mf);
    }
    for route in invite.headers(&HeaderName::Route) {
        ack.add_header(HeaderName::Route, route);
    }
    ack.add_header(HeaderName::From, invite.header(&HeaderName::From)?);
    ack.add_header(HeaderName::To, response.header(&HeaderName::To)?);
    ack.add_header(HeaderName::CallId, invite.call_id()?);
    let cseq = invite.cseq()?.ok()?;
    ack.add_header(HeaderName::CSeq, &format!("{} ACK", cseq.seq));
    Some(ack.into_bytes())
}

/// The CANCEL for an INVITE (RFC 3261 section 9.1): same Request-URI,
/// Call-ID, To, From, CSeq number and top Via (so the same branch), the
/// INVITE's Route set, no body.
pub(crate) fn build_cancel(invite: &[u8]) -> Option<Message> {
    let invite = Message::parse(invite).ok()?;
    let mut cancel = Message::request(Method::Cancel, invite.request_uri()?);
    cancel.add_header(
        HeaderName::Via,
        invite.header_values(&HeaderName::Via).next()?,
    );
    if let Some(mf) = invite.header(&HeaderName::MaxForwards) {
        cancel.add_header(HeaderName::MaxForwards, mf);
    }
    for route in invite.headers(&HeaderName::Route) {
        cancel.add_header(HeaderName::Route, route);
    }
    cancel.add_header(HeaderName::From, invite.header(&HeaderName::From)?);
    cancel.add_header(HeaderName::To, invite.header(&HeaderName::To)?);
    cancel.add_header(HeaderName::CallId, invite.call_id()?);
    let cseq = invite.cseq()?.ok()?;
    cancel.add_header(HeaderName::CSeq, &format!("{} CANCEL", cseq.seq));
    Some(cancel)
}
