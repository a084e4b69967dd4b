//! A small reordering jitter buffer. Packets leave in sequence order: the
//! next expected packet leaves at once; when one is missing, the packets
//! behind the gap wait up to `delay` for it before the gap is skipped.
//! Packets arriving after their slot was played are dropped as late.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A received RTP packet, owned, as it leaves the jitter buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPacket {
    /// Extended sequence number (RFC 3550 A.1: cycles + sequence number).
    pub sequence: u64,
    /// RTP timestamp as sent by the peer.
    pub timestamp: u32,
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// The synchronization source.
    pub ssrc: u32,
    /// Payload, padding removed.
    pub payload: Vec<u8>,
    /// When it arrived.
    pub arrival: Instant,
}

/// The longest a packet may wait for a missing predecessor.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// A sequence jump backwards larger than this is a peer restart, not a late packet.
const RESTART_GAP: u64 = 1000;

#[derive(Debug)]
pub(crate) struct JitterBuffer {
    delay: Duration,
    capacity: usize,
    packets: BTreeMap<u64, ReceivedPacket>,
    next: Option<u64>,
    pub(crate) late: u64,
}

impl JitterBuffer {
    pub(crate) fn new(delay: Duration, capacity: usize) -> Self {
        JitterBuffer {
            // Bounded so that `arrival + delay` cannot overflow an Instant.
            delay: delay.min(MAX_DELAY),
            capacity: capacity.max(1),
            packets: BTreeMap::new(),
            next: None,
            late: 0,
        }
    }

    /// Queue a packet. Returns false if it came too late to be played.
    pub(crate) fn push(&mut self, packet: ReceivedPacket) -> bool {
        if let Some(next) = self.next {
            if packet.sequence + RESTART_GAP < next {
                // The source restarted its numbering: start over.
                self.reset();
            } else if packet.sequence < next {
                self.late += 1;
                return false;
            }
        }
        self.packets.insert(packet.sequence, packet);
        true
    }

    pub(crate) fn reset(&mut self) {
        self.packets.clear();
        self.next = None;
    }

    /// The next packet due at `now`, if any.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<ReceivedPacket> {
        let (&seq, first) = self.packets.first_key_value()?;
        let in_order = self.next.map_or(true, |n| n == seq);
        let waited = first.arrival + self.delay <= now;
        if in_order || waited || self.packets.len() > self.capacity {
            self.next = Some(seq + 1);
            return self.packets.pop_first().map(|(_, p)| p);
        }
        None
    }

    /// When [`pop`](Self::pop) will next return something without new input.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let (&seq, first) = self.packets.first_key_value()?;
        if self.next.map_or(true, |n| n == seq) {
            Some(first.arrival)
        } else {
            Some(first.arrival + self.delay)
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.packets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(sequence: u64, arrival: Instant) -> ReceivedPacket {
        ReceivedPacket {
            sequence,
            timestamp: sequence as u32 * 160,
            payload_type: 0,
            marker: false,
            ssrc: 1,
            payload: vec![sequence as u8],
            arrival,
        }
    }

    #[test]
    fn reorders_within_delay() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_millis(60), 16);
        assert!(jb.push(pkt(1, t0)));
        assert_eq!(jb.pop(t0).map(|p| p.sequence), Some(1));
        // 3 arrives before 2: held.
        let t1 = t0 + Duration::from_millis(20);
        jb.push(pkt(3, t1));
        assert_eq!(jb.pop(t1), None);
        assert_eq!(jb.poll_timeout(), Some(t1 + Duration::from_millis(60)));
        let t2 = t1 + Duration::from_millis(10);
        jb.push(pkt(2, t2));
        assert_eq!(jb.pop(t2).map(|p| p.sequence), Some(2));
        assert_eq!(jb.pop(t2).map(|p| p.sequence), Some(3));
        assert_eq!(jb.pop(t2), None);
        assert_eq!(jb.late, 0);
    }

    #[test]
    fn skips_a_gap_after_delay_and_drops_late() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_millis(60), 16);
        jb.push(pkt(10, t0));
        jb.pop(t0);
        jb.push(pkt(12, t0));
        jb.push(pkt(13, t0));
        assert_eq!(jb.pop(t0 + Duration::from_millis(59)), None);
        let later = t0 + Duration::from_millis(60);
        let order: Vec<u64> = std::iter::from_fn(|| jb.pop(later).map(|p| p.sequence)).collect();
        assert_eq!(order, [12, 13]);
        // 11 finally shows up: its slot has been played.
        assert!(!jb.push(pkt(11, later)));
        assert_eq!(jb.late, 1);
        assert_eq!(jb.len(), 0);
    }

    #[test]
    fn overflow_releases_oldest_and_restart_resets() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(Duration::from_secs(10), 2);
        jb.push(pkt(1, t0));
        jb.pop(t0);
        for s in [3, 4, 5] {
            jb.push(pkt(s, t0));
        }
        assert_eq!(jb.pop(t0).map(|p| p.sequence), Some(3));
        assert_eq!(jb.pop(t0).map(|p| p.sequence), Some(4));
        assert_eq!(jb.pop(t0).map(|p| p.sequence), Some(5));
        assert!(jb.push(pkt(5000, t0)));
        jb.pop(t0 + Duration::from_secs(10));
        // A jump far back is a restart, not a late packet.
        assert!(jb.push(pkt(7, t0)));
        assert_eq!(jb.pop(t0).map(|p| p.sequence), Some(7));
    }
}
