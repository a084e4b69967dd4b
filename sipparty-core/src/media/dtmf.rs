//! DTMF as RTP telephone-events (RFC 4733 sections 2 and 3).
//!
//! An event is sent as a run of packets that share the RTP timestamp of
//! the event's start, the first with the marker bit, each with the
//! duration so far; the last carries the E bit and is sent three times
//! (s.2.5.1.4). The receiver reports each event once, however many of its
//! packets arrive.

use std::collections::VecDeque;

/// Telephone-event payload length (RFC 4733 s.2.3).
pub const PAYLOAD_LEN: usize = 4;

/// How many times the final (E bit) packet is sent (RFC 4733 s.2.5.1.4).
pub const END_RETRANSMISSIONS: u8 = 3;

/// The event code of a DTMF key (RFC 4733 s.3.2: 0-9, * = 10, # = 11, A-D = 12-15).
pub fn event_for_digit(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// The key of a DTMF event code, if it is one.
pub fn digit_for_event(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// The fields of one telephone-event payload (RFC 4733 s.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code.
    pub event: u8,
    /// The E bit: this is the end of the event.
    pub end: bool,
    /// Power level, 0 to 63, as -dBm0.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Decode a payload; `None` if it is shorter than four bytes.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let p: &[u8; 4] = payload.get(..PAYLOAD_LEN)?.try_into().ok()?;
        Some(TelephoneEvent {
            event: p[0],
            end: p[1] & 0x80 != 0,
            volume: p[1] & 0x3F,
            duration: u16::from_be_bytes([p[2], p[3]]),
        })
    }

    /// Encode as a payload (R bit zero).
    pub fn to_bytes(self) -> [u8; PAYLOAD_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// One telephone-event packet for the RTP session to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The marker bit (set on the first packet of an event).
    pub marker: bool,
    /// Media timestamp of the event's start, the same for all its packets.
    pub timestamp: u32,
    /// The payload.
    pub payload: [u8; PAYLOAD_LEN],
}

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    start: u32,
    target: u16,
    elapsed: u16,
    ends_sent: u8,
}

/// Sends queued events, one packet per packetization interval.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    queue: VecDeque<(u8, u16)>,
    active: Option<Active>,
    /// Intervals of silence still to leave between two events.
    pause: u32,
    /// Intervals between events (a key must be released before the next).
    gap_frames: u32,
    volume: u8,
}

impl Default for DtmfSender {
    fn default() -> Self {
        DtmfSender {
            queue: VecDeque::new(),
            active: None,
            pause: 0,
            gap_frames: 3,
            volume: 10,
        }
    }
}

impl DtmfSender {
    /// A sender with a 10 dBm0 volume and a three-interval gap between events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue `event` lasting `duration` timestamp units (capped at 0xFFFF,
    /// which RFC 4733 s.2.5.1.3 would split; 8 s at 8 kHz is plenty for a key).
    pub fn queue(&mut self, event: u8, duration: u32) {
        self.queue
            .push_back((event, duration.clamp(1, u32::from(u16::MAX)) as u16));
    }

    /// Whether an event is in progress or queued.
    pub fn is_active(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// The packet for the interval starting at media time `timestamp`, of
    /// `frame` timestamp units, or `None` to send audio in this interval
    /// (an event replaces the audio while it lasts, RFC 4733 s.2.5.1.1).
    pub fn next_packet(&mut self, timestamp: u32, frame: u32) -> Option<DtmfPacket> {
        let frame = frame.min(u32::from(u16::MAX)) as u16;
        let (marker, a) = match self.active.as_mut() {
            Some(a) => (false, a),
            None => {
                if self.pause > 0 {
                    self.pause -= 1;
                    return None;
                }
                let (event, target) = self.queue.pop_front()?;
                let a = self.active.insert(Active {
                    event,
                    start: timestamp,
                    target,
                    elapsed: 0,
                    ends_sent: 0,
                });
                (true, a)
            }
        };
        if a.elapsed < a.target {
            a.elapsed = a.elapsed.saturating_add(frame).min(a.target);
        }
        let end = a.elapsed >= a.target;
        if end {
            a.ends_sent += 1;
        }
        let packet = DtmfPacket {
            marker,
            timestamp: a.start,
            payload: TelephoneEvent {
                event: a.event,
                end,
                volume: self.volume,
                duration: a.elapsed,
            }
            .to_bytes(),
        };
        if a.ends_sent >= END_RETRANSMISSIONS {
            self.active = None;
            self.pause = self.gap_frames;
        }
        Some(packet)
    }
}

/// A telephone event as received, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDtmf {
    /// Event code.
    pub event: u8,
    /// The key, for codes 0 to 15.
    pub digit: Option<char>,
    /// Duration in timestamp units (the longest seen).
    pub duration: u16,
    /// RTP timestamp of the event start.
    pub timestamp: u32,
    /// Whether the end packet was seen (false when the event was cut short
    /// by the next one with all end packets lost).
    pub ended: bool,
}

/// Turns telephone-event packets into one report per event.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<(ReceivedDtmf, bool /* reported */)>,
    out: VecDeque<ReceivedDtmf>,
}

impl DtmfReceiver {
    /// A receiver with no event in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the payload of a telephone-event packet and its RTP timestamp.
    /// Returns false if the payload is malformed.
    pub fn handle(&mut self, timestamp: u32, payload: &[u8]) -> bool {
        let Some(ev) = TelephoneEvent::parse(payload) else {
            return false;
        };
        match self.current.as_mut() {
            Some((cur, reported)) if cur.timestamp == timestamp && cur.event == ev.event => {
                cur.duration = cur.duration.max(ev.duration);
                if ev.end && !*reported {
                    cur.ended = true;
                    *reported = true;
                    self.out.push_back(*cur);
                }
            }
            _ => {
                // A new event; report the previous one if its end was lost.
                if let Some((prev, false)) = self.current {
                    self.out.push_back(prev);
                }
                let cur = ReceivedDtmf {
                    event: ev.event,
                    digit: digit_for_event(ev.event),
                    duration: ev.duration,
                    timestamp,
                    ended: ev.end,
                };
                if ev.end {
                    self.out.push_back(cur);
                }
                self.current = Some((cur, ev.end));
            }
        }
        true
    }

    /// The next completed event.
    pub fn poll(&mut self) -> Option<ReceivedDtmf> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4733_s3_2_event_codes() {
        let keys = "0123456789*#ABCD";
        for (code, key) in keys.chars().enumerate() {
            assert_eq!(event_for_digit(key), Some(code as u8));
            assert_eq!(digit_for_event(code as u8), Some(key));
        }
        assert_eq!(event_for_digit('a'), Some(12));
        assert_eq!(event_for_digit('x'), None);
        assert_eq!(digit_for_event(16), None);
    }

    /// RFC 4733 s.2.3 payload layout.
    #[test]
    fn rfc4733_s2_3_payload_layout() {
        let ev = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(ev.to_bytes(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Some(ev));
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
    }

    /// RFC 4733 s.2.5.1: marker on the first packet, a constant timestamp,
    /// growing durations, and the end packet three times.
    #[test]
    fn rfc4733_s2_5_1_sender_packets() {
        let mut tx = DtmfSender::new();
        tx.queue(5, 800); // 100 ms at 8 kHz
        assert!(tx.is_active());
        let mut packets = Vec::new();
        let mut ts = 16_000;
        while let Some(p) = tx.next_packet(ts, 160) {
            packets.push(p);
            ts += 160;
        }
        // 5 progress intervals (the 5th reaches 800 and carries E) + 2 more ends.
        assert_eq!(packets.len(), 7);
        assert!(packets[0].marker);
        assert!(packets[1..].iter().all(|p| !p.marker));
        assert!(packets.iter().all(|p| p.timestamp == 16_000));
        let evs: Vec<TelephoneEvent> = packets
            .iter()
            .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
            .collect();
        let durations: Vec<u16> = evs.iter().map(|e| e.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends = evs.iter().filter(|e| e.end).count();
        assert_eq!(ends, usize::from(END_RETRANSMISSIONS));
        assert!(evs[..4].iter().all(|e| !e.end));
        assert!(!tx.is_active());
    }

    #[test]
    fn sender_leaves_a_gap_between_events() {
        let mut tx = DtmfSender::new();
        tx.queue(1, 160);
        tx.queue(2, 160);
        let mut ts = 0;
        let mut seen = Vec::new();
        for _ in 0..12 {
            seen.push(tx.next_packet(ts, 160).map(|p| (p.timestamp, p.payload[0])));
            ts += 160;
        }
        // 3 end packets for event 1, 3 silent intervals, 3 end packets for event 2.
        assert_eq!(&seen[..3], &[Some((0, 1)); 3]);
        assert_eq!(&seen[3..6], &[None; 3]);
        assert_eq!(&seen[6..9], &[Some((960, 2)); 3]);
        assert_eq!(&seen[9..], &[None; 3]);
    }

    #[test]
    fn receiver_reports_each_event_once() {
        let mut tx = DtmfSender::new();
        let mut rx = DtmfReceiver::new();
        for d in "1#".chars() {
            tx.queue(event_for_digit(d).unwrap(), 480);
        }
        let mut ts = 0;
        for _ in 0..30 {
            if let Some(p) = tx.next_packet(ts, 160) {
                assert!(rx.handle(p.timestamp, &p.payload));
            }
            ts += 160;
        }
        let got: Vec<ReceivedDtmf> = std::iter::from_fn(|| rx.poll()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].digit, Some('1'));
        assert_eq!(got[1].digit, Some('#'));
        assert!(got.iter().all(|e| e.ended && e.duration == 480));
        assert!(!rx.handle(0, &[1]));
    }

    #[test]
    fn receiver_reports_an_event_whose_end_was_lost() {
        let mut rx = DtmfReceiver::new();
        let start = TelephoneEvent {
            event: 3,
            end: false,
            volume: 10,
            duration: 160,
        };
        rx.handle(1000, &start.to_bytes());
        assert_eq!(rx.poll(), None);
        let next = TelephoneEvent {
            event: 4,
            end: true,
            volume: 10,
            duration: 160,
        };
        rx.handle(5000, &next.to_bytes());
        let a = rx.poll().unwrap();
        assert_eq!((a.digit, a.ended), (Some('3'), false));
        let b = rx.poll().unwrap();
        assert_eq!((b.digit, b.ended), (Some('4'), true));
    }
}
