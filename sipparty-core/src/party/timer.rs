//! The Party's own timers (not the transaction layer's): a small table per
//! call indexed by [`CallTimer`], and one heap for the whole Party whose
//! stale entries are skipped (quinn-proto's timer table, with lazy deletion
//! so a Party with 100,000 calls finds its next deadline in O(log n)).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::event::{DialogId, RegistrationId};

/// Timers of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum CallTimer {
    /// Ring-then-answer delay, or the application's decision deadline.
    Answer = 0,
    /// Retransmit our 2xx until the ACK comes (RFC 3261 section 13.3.1.4).
    Retransmit2xx = 1,
    /// Give up waiting for the ACK (64*T1) and end the call with BYE.
    AckWait = 2,
    /// Retry a re-INVITE after 491 glare (RFC 3261 section 14.1).
    Glare = 3,
    /// Send a session refresh (RFC 4028 section 10).
    SessionRefresh = 4,
    /// The session expired (RFC 4028 section 10): send BYE.
    SessionExpiry = 5,
    /// The RTP stream's next frame or RTCP report is due.
    Media = 6,
    /// Retransmit our reliable provisional response until its PRACK, and
    /// give up after 64*T1 (RFC 3262 section 3).
    Retransmit1xx = 7,
}

pub(crate) const CALL_TIMERS: usize = 8;

/// A per-call timer table.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    slots: [Option<Instant>; CALL_TIMERS],
}

impl TimerTable {
    pub(crate) fn get(&self, t: CallTimer) -> Option<Instant> {
        self.slots[t as usize]
    }

    pub(crate) fn stop(&mut self, t: CallTimer) {
        self.slots[t as usize] = None;
    }
}

/// Who a heap entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerOwner {
    Call(DialogId, CallTimer),
    Registration(RegistrationId),
}

/// All pending deadlines of a Party, earliest first. An entry is live only
/// if the owner's table still holds the same instant; others are dropped
/// when they surface.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<(Instant, TimerOwner)>>,
}

impl TimerHeap {
    /// Arm `t` of a call at `at` (replacing any earlier setting).
    pub(crate) fn set_call(
        &mut self,
        table: &mut TimerTable,
        id: DialogId,
        t: CallTimer,
        at: Instant,
    ) {
        table.slots[t as usize] = Some(at);
        self.heap.push(Reverse((at, TimerOwner::Call(id, t))));
    }

    pub(crate) fn push(&mut self, at: Instant, owner: TimerOwner) {
        self.heap.push(Reverse((at, owner)));
    }

    /// Peek at the earliest entry (possibly stale).
    pub(crate) fn peek(&self) -> Option<(Instant, TimerOwner)> {
        self.heap.peek().map(|Reverse(e)| *e)
    }

    pub(crate) fn pop(&mut self) -> Option<(Instant, TimerOwner)> {
        self.heap.pop().map(|Reverse(e)| e)
    }
}
