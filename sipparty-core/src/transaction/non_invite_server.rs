//! The non-INVITE server transaction (RFC 3261 section 17.2.2, figure 8).
//!
//! ```text
//!   request: Trying --1xx from TU--> Proceeding --1xx--> Proceeding
//!              |                        |
//!         200-699 from TU          200-699 from TU
//!              +--> Completed (Timer J) --J--> Terminated
//!   transport error --> Terminated (TU told)
//!
//! Over TCP/TLS Timer J is zero, but a final response that has a section
//! 18.2.2 fallback stays in Completed for T4, so that a failed send can be
//! tried again on a new connection.
//! ```

use tracing::trace;

use super::timer::{Timer, TimerTable};
use super::{Ctx, Peer, TransactionError, TransactionEvent};
use crate::transport::Payload;

/// States of figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE server transaction.
#[derive(Debug)]
pub(crate) struct NonInviteServer {
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    /// Where responses go (section 18.2.2).
    pub(crate) peer: Peer,
    /// The last response sent, resent for a retransmitted request (empty
    /// in Trying).
    last_response: Payload,
    /// Over TCP/TLS, the port at the source's IP where responses go once
    /// the request's connection is gone (section 18.2.2; set by the layer).
    pub(crate) fallback: Option<std::num::NonZeroU16>,
    /// The TU was asked to locate the Via sent-by (`locate_once`).
    located: bool,
}

impl NonInviteServer {
    /// A new request: enter Trying (the TU is told by the layer).
    pub(crate) fn start(peer: Peer) -> Self {
        Self {
            state: State::Trying,
            timers: TimerTable::default(),
            peer,
            last_response: Payload::default(),
            fallback: None,
            located: false,
        }
    }

    /// The TU responds (`bytes` is the serialized `status` response).
    pub(crate) fn send_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        status: u16,
        mut bytes: Payload,
    ) -> Result<(), TransactionError> {
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                ctx.send(self.peer, bytes.share());
                self.last_response = bytes;
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                let reliable = self.peer.transport.is_reliable();
                let wait = match ctx.timers().timer_j(reliable) {
                    // Over TCP/TLS nothing will be retransmitted to us, but
                    // the send may fail: with a section 18.2.2 fallback
                    // the response is kept a short while (T4, as long as
                    // a message may take to leave) so that a transport
                    // error can still send it there (`retarget`).
                    j if j.is_zero() && self.fallback.is_some() => ctx.timers().t4,
                    j => j,
                };
                if wait.is_zero() {
                    // Nothing could resend it: it need not be kept.
                    self.state = State::Terminated;
                    ctx.send(self.peer, bytes);
                } else {
                    self.state = State::Completed;
                    self.timers.set(Timer::J, ctx.now + wait);
                    ctx.send(self.peer, bytes.share());
                    self.last_response = bytes;
                }
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
    pub(crate) fn retarget(
        &mut self,
        ctx: &mut Ctx<'_>,
        destination: std::net::SocketAddr,
        resend: bool,
    ) {
        self.peer.destination = destination;
        if resend && !self.last_response.is_empty() {
            ctx.send(self.peer, self.last_response.share());
        }
    }

    /// The request arrived again (section 17.2.2): silence in Trying, the
    /// last response otherwise.
    pub(crate) fn handle_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        match self.state {
            State::Proceeding | State::Completed => {
                ctx.send(self.peer, self.last_response.share());
            }
            State::Trying | State::Terminated => {
                trace!(id = %ctx.id, "request retransmission absorbed");
            }
        }
    }

    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match (self.state, timer) {
            (State::Completed, Timer::J) => self.terminate(),
            (state, timer) => trace!(id = %ctx.id, ?state, ?timer, "stale timer ignored"),
        }
    }

    pub(crate) fn transport_error(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(self.state, State::Trying | State::Proceeding) {
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
        self.last_response = Payload::default();
    }
}
