//! The non-INVITE client transaction (RFC 3261 section 17.1.2, figure 6).
//!
//! ```text
//!           send request, Timer E (UDP), Timer F
//!   Trying --1xx--> Proceeding --1xx--> Proceeding
//!     |                 |
//!   200-699          200-699
//!     +-----> Completed (Timer K) --K--> Terminated
//!   Timer F / transport error --> Terminated (TU told)
//! ```

use std::time::Duration;

use tracing::trace;

use super::timer::{Timer, TimerTable};
use super::{Ctx, Peer, TransactionEvent};
use crate::message::Message;
use crate::transport::Payload;

/// States of figure 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE client transaction.
#[derive(Debug)]
pub(crate) struct NonInviteClient {
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    pub(crate) peer: Peer,
    /// Current Timer E interval: doubles up to T2 in Trying, T2 in
    /// Proceeding.
    interval: Duration,
    /// The request as sent, for retransmission.
    request: Payload,
}

impl NonInviteClient {
    /// Send the request and arm Timers E and F (section 17.1.2.2).
    pub(crate) fn start(ctx: &mut Ctx<'_>, mut request: Payload, peer: Peer) -> Self {
        let t = *ctx.timers();
        let mut timers = TimerTable::default();
        if !peer.transport.is_reliable() {
            timers.set(Timer::E, ctx.now + t.t1);
        }
        timers.set(Timer::F, ctx.now + t.timeout());
        ctx.send(peer, request.share());
        Self {
            state: State::Trying,
            timers,
            peer,
            interval: t.t1,
            request,
        }
    }

    pub(crate) fn handle_response(&mut self, ctx: &mut Ctx<'_>, response: Message, status: u16) {
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                ctx.event(TransactionEvent::Response {
                    id: ctx.id,
                    response,
                });
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                self.timers.stop_all();
                let wait = ctx.timers().linger_t4(self.peer.transport.is_reliable());
                if wait.is_zero() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Completed;
                    self.timers.set(Timer::K, ctx.now + wait);
                }
                ctx.event(TransactionEvent::Response {
                    id: ctx.id,
                    response,
                });
            }
            (state, status) => {
                trace!(id = %ctx.id, ?state, status, "response absorbed by non-INVITE client transaction");
            }
        }
    }

    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        let t2 = ctx.timers().t2;
        match (self.state, timer) {
            (State::Trying | State::Proceeding, Timer::E) => {
                // Section 17.1.2.2: in Trying the interval doubles up to T2;
                // once a provisional response came it is T2 flat.
                self.interval = if self.state == State::Trying {
                    (self.interval * 2).min(t2)
                } else {
                    t2
                };
                self.timers.set(Timer::E, ctx.now + self.interval);
                ctx.send(self.peer, self.request.share());
            }
            (State::Trying | State::Proceeding, Timer::F) => {
                self.terminate();
                ctx.event(TransactionEvent::Timeout { id: ctx.id });
            }
            (State::Completed, Timer::K) => self.terminate(),
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
    }
}
