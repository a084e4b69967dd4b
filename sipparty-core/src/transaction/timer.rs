//! The RFC 3261 section 17 timers and a small per-transaction timer table
//! (quinn-proto's `timer.rs` shape: a fixed array indexed by an enum, the
//! next deadline being its minimum).

use std::time::{Duration, Instant};

/// The base timer values of RFC 3261 section 17.1.1.1 (table 4 of
/// appendix A). Every other timer derives from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate: the first retransmission interval (default 500 ms).
    pub t1: Duration,
    /// Cap on non-INVITE request and INVITE response retransmission
    /// intervals (default 4 s).
    pub t2: Duration,
    /// How long a message may linger in the network (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// `64*T1`: Timers B, F, H, J, L and M (32 s by default).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: "at least 32 seconds" over unreliable transports
    /// (RFC 3261 section 17.1.1.2), zero over reliable ones. We take the
    /// larger of 32 s and `64*T1`, so raising T1 never shortens it below the
    /// server's Timer H.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.timeout())
        }
    }

    /// Timers I and K: T4 over unreliable transports, zero over reliable.
    pub fn linger_t4(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: `64*T1` over unreliable transports, zero over reliable.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout()
        }
    }
}

/// A transaction timer, named as in RFC 3261 section 17 and RFC 6026.
///
/// A machine only ever runs a few of them at once, so they share four slots
/// (see [`Timer::slot`]): the retransmission timer, the overall timeout, the
/// wait in Completed/Confirmed/Accepted, and the 100 Trying delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// INVITE client request retransmission (17.1.1.2).
    A,
    /// INVITE client transaction timeout (17.1.1.2).
    B,
    /// INVITE client wait for response retransmissions in Completed.
    D,
    /// Non-INVITE client request retransmission (17.1.2.2).
    E,
    /// Non-INVITE client transaction timeout.
    F,
    /// INVITE server final response retransmission (17.2.1).
    G,
    /// INVITE server wait for ACK.
    H,
    /// INVITE server wait for ACK retransmissions in Confirmed.
    I,
    /// Non-INVITE server wait for request retransmissions in Completed.
    J,
    /// Non-INVITE client wait for response retransmissions in Completed.
    K,
    /// INVITE server wait in Accepted (RFC 6026 section 8.7).
    L,
    /// INVITE client wait in Accepted (RFC 6026 section 8.4).
    M,
    /// INVITE server: send 100 Trying if the TU has not answered in time
    /// (RFC 3261 section 17.2.1).
    Trying,
}

const SLOTS: usize = 4;

impl Timer {
    /// Which table slot the timer lives in. Timers sharing a slot never run
    /// together in one machine (A/E/G retransmit, B/F/H guard the whole
    /// exchange, D/I/J/K/L/M are the final waits).
    fn slot(self) -> usize {
        match self {
            Timer::A | Timer::E | Timer::G => 0,
            Timer::B | Timer::F | Timer::H => 1,
            Timer::D | Timer::I | Timer::J | Timer::K | Timer::L | Timer::M => 2,
            Timer::Trying => 3,
        }
    }
}

/// Armed deadlines of one transaction: one optional deadline per slot and
/// which timer holds it (68 bytes, so a live transaction stays small).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; SLOTS],
    owners: [Timer; SLOTS],
}

impl Default for TimerTable {
    fn default() -> Self {
        Self {
            deadlines: [None; SLOTS],
            // Placeholders: an owner only counts while its deadline is set.
            owners: [Timer::A, Timer::B, Timer::D, Timer::Trying],
        }
    }
}

impl TimerTable {
    /// Arm `timer` to fire at `at` (replacing whatever shared its slot).
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        let slot = timer.slot();
        self.deadlines[slot] = Some(at);
        self.owners[slot] = timer;
    }

    /// Disarm `timer` (a no-op if another timer holds its slot).
    pub(crate) fn stop(&mut self, timer: Timer) {
        let slot = timer.slot();
        if self.owners[slot] == timer {
            self.deadlines[slot] = None;
        }
    }

    /// Disarm everything.
    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; SLOTS];
    }

    /// When `timer` fires, if armed.
    #[cfg(test)]
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        let slot = timer.slot();
        self.deadlines[slot].filter(|_| self.owners[slot] == timer)
    }

    /// The earliest armed deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarm and return the earliest timer due at `now`, if any. Callers
    /// loop until `None`, so two timers due together both fire, earliest
    /// first.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (slot, _) = self
            .deadlines
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|at| (i, at)))
            .filter(|(_, at)| *at <= now)
            .min_by_key(|(_, at)| *at)?;
        self.deadlines[slot] = None;
        Some(self.owners[slot])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_appendix_a_defaults() {
        let c = TimerConfig::default();
        assert_eq!(c.t1, Duration::from_millis(500));
        assert_eq!(c.t2, Duration::from_secs(4));
        assert_eq!(c.t4, Duration::from_secs(5));
        assert_eq!(c.timeout(), Duration::from_secs(32));
        assert_eq!(c.timer_d(false), Duration::from_secs(32));
        assert_eq!(c.timer_d(true), Duration::ZERO);
        assert_eq!(c.linger_t4(false), Duration::from_secs(5));
        assert_eq!(c.timer_j(true), Duration::ZERO);
        let slow = TimerConfig {
            t1: Duration::from_secs(1),
            ..c
        };
        assert_eq!(slow.timer_d(false), Duration::from_secs(64));
    }

    #[test]
    fn table_tracks_the_minimum_and_pops_in_order() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut table = TimerTable::default();
        assert_eq!(table.next_deadline(), None);
        table.set(Timer::B, t0 + s(32));
        table.set(Timer::A, t0 + s(1));
        table.set(Timer::Trying, t0 + s(2));
        assert_eq!(table.next_deadline(), Some(t0 + s(1)));
        assert_eq!(table.get(Timer::A), Some(t0 + s(1)));
        assert_eq!(
            table.get(Timer::E),
            None,
            "E shares A's slot but is not armed"
        );
        assert_eq!(table.pop_expired(t0), None);
        assert_eq!(table.pop_expired(t0 + s(5)), Some(Timer::A));
        assert_eq!(table.pop_expired(t0 + s(5)), Some(Timer::Trying));
        assert_eq!(table.pop_expired(t0 + s(5)), None);
        table.stop(Timer::F);
        assert_eq!(table.get(Timer::B), Some(t0 + s(32)), "stopping F leaves B");
        table.stop(Timer::B);
        assert_eq!(table.next_deadline(), None);
        table.set(Timer::D, t0);
        table.stop_all();
        assert_eq!(table.next_deadline(), None);
    }
}
