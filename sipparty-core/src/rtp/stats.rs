//! Reception statistics for one remote source: the sequence number
//! bookkeeping of RFC 3550 A.1, the interarrival jitter of A.8 and the
//! loss fractions of A.3, plus duplicate and reorder counts.

/// RFC 3550 A.1: a jump this far ahead is taken as packets lost.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: a step back this far is a reordered (late) packet.
const MAX_MISORDER: u16 = 100;
/// RFC 3550 A.1: packets in sequence before a new source is believed.
const MIN_SEQUENTIAL: u8 = 2;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// What [`ReceiveStats::update`] made of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqOutcome {
    /// Accepted; carries the extended sequence number.
    Accepted(u64),
    /// Still in probation (the source is not yet validated); the packet is
    /// delivered anyway so the first syllable is not lost.
    Probation(u64),
    /// Seen before: not counted, not delivered.
    Duplicate,
    /// A jump too large to be believed (A.1 `bad_seq`); dropped.
    Invalid,
}

/// Per-source reception state (RFC 3550 A.1 `source` struct).
#[derive(Debug, Clone)]
pub(crate) struct ReceiveStats {
    max_seq: u16,
    /// Wraps seen, shifted left 16 (A.1); 64-bit so a hostile peer
    /// racing through wraps cannot overflow it.
    cycles: u64,
    base_seq: u32,
    bad_seq: u32,
    probation: u8,
    probation_base: u16,
    /// Packets counted by A.1 (duplicates excluded).
    pub(crate) received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Bit i set: extended sequence `max - 1 - i` was received (duplicate detection).
    window: u64,
    /// A.8: last transit time, in timestamp units.
    transit: Option<i64>,
    /// A.8 jitter estimate, in timestamp units.
    pub(crate) jitter: f64,
    pub(crate) duplicates: u64,
    pub(crate) reordered: u64,
}

impl ReceiveStats {
    /// RFC 3550 A.1 `init_seq` + probation start.
    pub(crate) fn new(seq: u16) -> Self {
        ReceiveStats {
            max_seq: seq.wrapping_sub(1),
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            probation_base: seq,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            window: 0,
            transit: None,
            jitter: 0.0,
            duplicates: 0,
            reordered: 0,
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.window = 0;
    }

    /// The extended highest sequence number (A.1: cycles + max_seq).
    pub(crate) fn extended_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    fn extend(&self, seq: u16) -> u64 {
        // The sequence number nearest to max_seq in the extended space.
        let max = self.extended_max() as i64;
        let delta = i64::from(seq.wrapping_sub(self.max_seq) as i16);
        (max + delta).max(0) as u64
    }

    /// RFC 3550 A.1 `update_seq`, with duplicate detection over the last 64
    /// sequence numbers and a reorder count.
    pub(crate) fn update(&mut self, seq: u16) -> SeqOutcome {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    // Validated. A.1 would start counting at this packet;
                    // we count the probation packets too so the received
                    // count matches what the peer sent.
                    let base = self.probation_base;
                    self.init_seq(seq);
                    self.base_seq = u32::from(base);
                    self.received = u64::from(MIN_SEQUENTIAL);
                    self.window = (1 << (MIN_SEQUENTIAL - 1)) - 1;
                    return SeqOutcome::Accepted(self.extended_max());
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.probation_base = seq;
                self.max_seq = seq;
            }
            return SeqOutcome::Probation(u64::from(seq));
        }
        if udelta == 0 {
            self.duplicates += 1;
            return SeqOutcome::Duplicate;
        }
        if udelta < MAX_DROPOUT {
            // In order, with permissible gap.
            if seq < self.max_seq {
                self.cycles += u64::from(RTP_SEQ_MOD);
            }
            self.window = if udelta >= 64 {
                0
            } else {
                (self.window << udelta) | (1 << (udelta - 1))
            };
            self.max_seq = seq;
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            // The sequence number made a very large jump.
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: assume the other side restarted
                // without telling us, so re-sync.
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return SeqOutcome::Invalid;
            }
        } else {
            // Duplicate or reordered packet.
            let back = self.max_seq.wrapping_sub(seq);
            if back <= 64 {
                let bit = 1u64 << (back - 1);
                if self.window & bit != 0 {
                    self.duplicates += 1;
                    return SeqOutcome::Duplicate;
                }
                self.window |= bit;
            }
            self.reordered += 1;
        }
        self.received += 1;
        SeqOutcome::Accepted(self.extend(seq))
    }

    /// RFC 3550 A.8: `arrival` and `timestamp` in the same clock.
    pub(crate) fn update_jitter(&mut self, arrival: u32, timestamp: u32) {
        let transit = i64::from(arrival.wrapping_sub(timestamp) as i32);
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// A.3: packets expected since the base sequence number.
    pub(crate) fn expected(&self) -> u64 {
        (self.extended_max() + 1).saturating_sub(u64::from(self.base_seq))
    }

    /// A.3: cumulative lost (negative with duplicates in the RFC; here
    /// duplicates are not counted so it only goes negative on resync).
    pub(crate) fn cumulative_lost(&self) -> i64 {
        if self.probation > 0 {
            return 0;
        }
        self.expected() as i64 - self.received as i64
    }

    /// A.3: loss fraction since the last call, in 1/256 units, and roll the interval.
    pub(crate) fn fraction_lost(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost = expected_interval.saturating_sub(received_interval);
        if expected_interval == 0 || lost == 0 {
            0
        } else {
            ((lost << 8) / expected_interval).min(255) as u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u16]) -> ReceiveStats {
        let mut s = ReceiveStats::new(seqs[0]);
        for &q in seqs {
            s.update(q);
        }
        s
    }

    /// RFC 3550 A.1: in-order packets after probation, across the wrap.
    #[test]
    fn rfc3550_a1_sequence_wrap() {
        let seqs: Vec<u16> = (0..10u16).map(|i| 65530u16.wrapping_add(i)).collect();
        let s = feed(&seqs);
        assert_eq!(s.received, 10);
        assert_eq!(s.cycles, 1 << 16);
        assert_eq!(s.extended_max(), (1 << 16) + 3);
        assert_eq!(s.expected(), 10);
        assert_eq!(s.cumulative_lost(), 0);
    }

    /// RFC 3550 A.1: probation restarts on a gap, then validates.
    #[test]
    fn rfc3550_a1_probation() {
        let mut s = ReceiveStats::new(100);
        assert_eq!(s.update(100), SeqOutcome::Probation(100));
        assert_eq!(s.update(105), SeqOutcome::Probation(105));
        assert_eq!(s.update(106), SeqOutcome::Accepted(106));
        assert_eq!(s.received, 2);
        assert_eq!(s.expected(), 2);
        assert_eq!(s.update(107), SeqOutcome::Accepted(107));
    }

    /// RFC 3550 A.1: a big jump is believed only when the next packet follows it.
    #[test]
    fn rfc3550_a1_resync_after_restart() {
        let mut s = feed(&[1, 2, 3]);
        assert_eq!(s.update(40000), SeqOutcome::Invalid);
        assert_eq!(s.update(40001), SeqOutcome::Accepted(40001));
        assert_eq!(s.received, 1);
        assert_eq!(s.expected(), 1);
    }

    /// RFC 3550 A.1/A.3: loss and reorder, duplicates detected.
    #[test]
    fn rfc3550_a3_loss_reorder_duplicates() {
        // 1..=20 with 5 and 6 lost, 10 and 11 swapped, 15 duplicated.
        let seqs = [
            1, 2, 3, 4, 7, 8, 9, 11, 10, 12, 13, 14, 15, 15, 16, 17, 18, 19, 20,
        ];
        let mut s = feed(&seqs);
        assert_eq!(s.received, 18);
        assert_eq!(s.expected(), 20);
        assert_eq!(s.cumulative_lost(), 2);
        assert_eq!(s.reordered, 1);
        assert_eq!(s.duplicates, 1);
        // 2 of 20 lost: 2 * 256 / 20 = 25.
        assert_eq!(s.fraction_lost(), 25);
        // Nothing new: zero for the next interval.
        assert_eq!(s.fraction_lost(), 0);
    }

    /// RFC 3550 A.8: constant transit gives zero jitter; one late packet
    /// moves the estimate by |D|/16.
    #[test]
    fn rfc3550_a8_jitter() {
        let mut s = ReceiveStats::new(0);
        for i in 0..10u32 {
            s.update_jitter(1000 + i * 160, i * 160);
        }
        assert_eq!(s.jitter, 0.0);
        // Arrives 80 units late: D = 80, J = 80/16 = 5.
        s.update_jitter(1000 + 10 * 160 + 80, 10 * 160);
        assert!((s.jitter - 5.0).abs() < 1e-9);
        // Back on time: D = 80 again, J = 5 + (80 - 5)/16.
        s.update_jitter(1000 + 11 * 160, 11 * 160);
        assert!((s.jitter - (5.0 + 75.0 / 16.0)).abs() < 1e-9);
    }
}
