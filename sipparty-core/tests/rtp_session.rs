//! RtpSession behaviour over an in-memory link: loss and reorder
//! statistics from a seeded lossy sequence, jitter buffer ordering, RTCP
//! SR/RR contents and round-trip time, symmetric RTP, hold and BYE.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::rtp::rtcp::{parse_compound, RtcpPacket, SDES_CNAME};
use sipparty_core::rtp::{
    Component, RtpEvent, RtpPacket, RtpSession, RtpSessionConfig, RtpTransmit,
};
use sipparty_core::{Random, SeededRandom};

const A: &str = "127.0.0.1:40000";
const B: &str = "127.0.0.1:40010";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn session(remote: &str, seed: u64, now: Instant) -> RtpSession {
    let config = RtpSessionConfig {
        remote_rtp: Some(addr(remote)),
        cname: format!("test{seed}@127.0.0.1"),
        ..RtpSessionConfig::default()
    };
    RtpSession::new(config, now, &mut SeededRandom::new(seed))
}

fn drain(s: &mut RtpSession) -> Vec<RtpTransmit> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

/// RFC 3550 A.1/A.3 over a seeded lossy, reordering, duplicating link:
/// the receiver's counters match what the link did.
#[test]
fn rfc3550_a3_loss_and_reorder_statistics_from_a_seeded_link() {
    let t0 = Instant::now();
    let mut tx = session(B, 1, t0);
    let mut rx = session(A, 2, t0);
    let mut link = SeededRandom::new(0x5EED);
    let frame = Duration::from_millis(20);

    // Build the send schedule: 1000 packets, one per 20 ms.
    let mut sent = Vec::new();
    for i in 0..1000u32 {
        let now = t0 + frame * i;
        assert!(tx.send_rtp(now, 0, i == 0, i * 160, &[0xFF; 160]));
        let t = drain(&mut tx).pop().unwrap();
        assert_eq!(t.component, Component::Rtp);
        sent.push((now, t.bytes));
    }
    // The link: 5% loss, 3% swap with the next packet, 1% duplication.
    // The first two always pass so the source validates (A.1 probation).
    let mut arrivals: Vec<(Instant, usize)> = Vec::new();
    let mut i = 0;
    while i < sent.len() {
        let roll = |r: &mut SeededRandom| (r.next_u64() % 1000) as u32;
        let at = sent[i].0 + Duration::from_millis(30);
        if i >= 2 && roll(&mut link) < 50 {
            i += 1;
            continue;
        }
        if i >= 2 && i + 1 < sent.len() && roll(&mut link) < 30 {
            // i+1 overtakes i; both arrive 5 ms apart.
            let later = sent[i + 1].0 + Duration::from_millis(30);
            arrivals.push((later, i + 1));
            arrivals.push((later + Duration::from_millis(5), i));
            i += 2;
            continue;
        }
        arrivals.push((at, i));
        if roll(&mut link) < 10 {
            arrivals.push((at + Duration::from_millis(1), i));
        }
        i += 1;
    }

    // What the receiver should count, worked out from the schedule.
    let mut seen = BTreeSet::new();
    let (mut duplicates, mut reordered, mut max) = (0u64, 0u64, 0usize);
    for &(_, idx) in &arrivals {
        if !seen.insert(idx) {
            duplicates += 1;
        } else if idx < max {
            reordered += 1;
        }
        max = max.max(idx);
    }
    let expected = (max + 1) as u64;
    let lost = expected - seen.len() as u64;
    assert!(
        lost > 20 && reordered > 5 && duplicates > 2,
        "link too kind"
    );

    let mut played = Vec::new();
    for &(at, idx) in &arrivals {
        rx.handle_rtp(at, &sent[idx].1, addr(B)).unwrap();
        while let Some(p) = rx.poll_received() {
            played.push(p.sequence);
        }
    }
    rx.handle_timeout(arrivals.last().unwrap().0 + Duration::from_secs(1));
    while let Some(p) = rx.poll_received() {
        played.push(p.sequence);
    }

    let stats = rx.stats();
    assert_eq!(stats.packets_received, seen.len() as u64);
    assert_eq!(stats.packets_lost, lost);
    assert_eq!(stats.packets_reordered, reordered);
    assert_eq!(stats.packets_duplicated, duplicates);
    assert_eq!(stats.packets_late, 0);
    assert_eq!(stats.remote_ssrc, Some(tx.ssrc()));
    // Arrival spacing varies by at most 5 ms against 20 ms sends, so the
    // jitter estimate stays well under a frame (160 units).
    assert!(stats.jitter > 0 && stats.jitter < 80, "{}", stats.jitter);

    // The jitter buffer hands packets over strictly in order, each once.
    assert!(played.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(played.len(), seen.len());
    let first = played[0];
    let offsets: BTreeSet<usize> = played.iter().map(|s| (s - first) as usize).collect();
    assert_eq!(offsets, seen);
}

/// RFC 3550 s.6.4: a sender reports with SR, a pure receiver with RR
/// carrying a block about the sender; the sender derives the round trip
/// from LSR/DLSR (s.6.4.1).
#[test]
fn rfc3550_s6_4_sender_and_receiver_reports() {
    let t0 = Instant::now();
    let mut a = session(B, 3, t0);
    let mut b = session(A, 4, t0);
    b.set_sending(false);
    let one_way = Duration::from_millis(10);
    let mut srs = Vec::new();
    let mut rrs = Vec::new();
    let mut round_trips = Vec::new();
    let mut in_flight: Vec<(Instant, bool, RtpTransmit)> = Vec::new();
    let mut now = t0;
    let mut next_frame = t0;
    let mut frames = 0u32;
    let end = t0 + Duration::from_secs(16);
    while now < end {
        if now >= next_frame {
            a.send_rtp(now, 0, false, frames * 160, &[0xFF; 160]);
            frames += 1;
            next_frame += Duration::from_millis(20);
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
        for t in drain(&mut a) {
            in_flight.push((now + one_way, true, t));
        }
        for t in drain(&mut b) {
            in_flight.push((now + one_way, false, t));
        }
        in_flight.sort_by_key(|x| x.0);
        while in_flight.first().is_some_and(|x| x.0 <= now) {
            let (_, from_a, t) = in_flight.remove(0);
            if from_a {
                match t.component {
                    Component::Rtp => b.handle_rtp(now, &t.bytes, addr(A)).unwrap(),
                    Component::Rtcp => {
                        assert_eq!(t.destination.port(), 40011, "RTCP goes to RTP port + 1");
                        srs.push(parse_compound(&t.bytes).unwrap());
                        b.handle_rtcp(now, &t.bytes, addr("127.0.0.1:40001"))
                            .unwrap();
                    }
                    _ => unreachable!(),
                }
            } else {
                assert_eq!(t.component, Component::Rtcp, "b is on hold: no RTP");
                rrs.push(parse_compound(&t.bytes).unwrap());
                a.handle_rtcp(now, &t.bytes, addr("127.0.0.1:40011"))
                    .unwrap();
            }
        }
        while let Some(e) = a.poll_event() {
            if let RtpEvent::Report {
                round_trip: Some(rtt),
                fraction_lost,
                ..
            } = e
            {
                assert_eq!(fraction_lost, 0);
                round_trips.push(rtt);
            }
        }
        while b.poll_received().is_some() {}
        let wake = [a.poll_timeout(), b.poll_timeout(), Some(next_frame)]
            .into_iter()
            .flatten()
            .chain(in_flight.first().map(|x| x.0))
            .min()
            .unwrap();
        now = wake.max(now + Duration::from_micros(1));
    }

    // About one report per 5 s (randomized 2.5..7.5 s, first one sooner).
    assert!((2..=7).contains(&srs.len()), "{}", srs.len());
    assert!((2..=7).contains(&rrs.len()), "{}", rrs.len());
    for compound in &srs {
        let RtcpPacket::SenderReport(sr) = &compound[0] else {
            panic!("a sender reports with SR: {compound:?}");
        };
        assert_eq!(sr.ssrc, a.ssrc());
        // Packet and octet counts are consistent: 160 bytes per packet.
        assert_eq!(
            sr.sender_info.octet_count,
            sr.sender_info.packet_count * 160
        );
        assert!(sr.sender_info.packet_count > 0);
        let RtcpPacket::SourceDescription(chunks) = &compound[1] else {
            panic!("CNAME follows the report");
        };
        assert_eq!(
            chunks[0].items[0],
            (SDES_CNAME, b"test3@127.0.0.1".to_vec())
        );
    }
    for compound in &rrs {
        let RtcpPacket::ReceiverReport(rr) = &compound[0] else {
            panic!("a receiver reports with RR: {compound:?}");
        };
        assert_eq!(rr.ssrc, b.ssrc());
        assert_eq!(rr.reports.len(), 1);
        let block = rr.reports[0];
        assert_eq!(block.ssrc, a.ssrc());
        assert_eq!(block.cumulative_lost, 0);
        assert_eq!(block.fraction_lost, 0);
        // A constant 10 ms delay: no jitter.
        assert_eq!(block.jitter, 0);
    }
    // B's highest sequence number advances report by report.
    let highest: Vec<u32> = rrs
        .iter()
        .map(|c| match &c[0] {
            RtcpPacket::ReceiverReport(rr) => rr.reports[0].highest_sequence,
            _ => unreachable!(),
        })
        .collect();
    assert!(highest.windows(2).all(|w| w[0] < w[1]));
    // Round trip: 2 x 10 ms, to within the 1/65536 s resolution.
    assert!(!round_trips.is_empty());
    for rtt in &round_trips {
        let ms = rtt.as_secs_f64() * 1000.0;
        assert!((19.9..20.1).contains(&ms), "{ms}");
    }
    assert_eq!(a.stats().round_trip, round_trips.last().copied());
    assert_eq!(a.stats().remote_report.unwrap().ssrc, a.ssrc());
}

/// RFC 4961: with symmetric RTP the session follows the peer's source
/// address; without, it keeps the signalled one.
#[test]
fn rfc4961_symmetric_rtp_follows_the_peer() {
    let t0 = Instant::now();
    // The signalled address is a documentation address that is never used
    // on a socket here; the peer's packets come from behind a "NAT".
    let mut a = session("192.0.2.10:5004", 5, t0);
    let mut peer = session(A, 6, t0);
    peer.send_rtp(t0, 0, true, 0, &[0xFF; 160]);
    let pkt = drain(&mut peer).pop().unwrap();
    let natted = addr("127.0.0.1:61000");
    a.handle_rtp(t0, &pkt.bytes, natted).unwrap();
    assert_eq!(
        a.poll_event(),
        Some(RtpEvent::RemoteSource { ssrc: peer.ssrc() })
    );
    assert_eq!(
        a.poll_event(),
        Some(RtpEvent::RemoteAddressChanged {
            component: Component::Rtp,
            address: natted
        })
    );
    a.send_rtp(t0, 0, true, 0, &[0xFF; 160]);
    assert_eq!(drain(&mut a)[0].destination, natted);

    let mut fixed = RtpSession::new(
        RtpSessionConfig {
            remote_rtp: Some(addr("192.0.2.10:5004")),
            symmetric: false,
            ..RtpSessionConfig::default()
        },
        t0,
        &mut SeededRandom::new(7),
    );
    fixed.handle_rtp(t0, &pkt.bytes, natted).unwrap();
    fixed.send_rtp(t0, 0, true, 0, &[0xFF; 160]);
    assert_eq!(drain(&mut fixed)[0].destination, addr("192.0.2.10:5004"));
}

/// RFC 3550 s.5.1/s.8: random initial numbers, consecutive sequence
/// numbers, timestamps offset from the media clock; hold sends nothing.
#[test]
fn rfc3550_s5_1_sequence_and_timestamps_on_the_wire() {
    let t0 = Instant::now();
    let mut a = session(B, 8, t0);
    let mut b = session(B, 9, t0);
    assert_ne!(a.ssrc(), b.ssrc());
    let mut headers = Vec::new();
    for i in 0..3u32 {
        a.send_rtp(t0, 8, i == 0, i * 160, &[0xD5; 160]);
        let t = drain(&mut a).pop().unwrap();
        headers.push(RtpPacket::parse(&t.bytes).unwrap().header);
    }
    assert!(headers[0].marker && !headers[1].marker);
    assert_eq!(
        headers[1].sequence_number,
        headers[0].sequence_number.wrapping_add(1)
    );
    assert_eq!(headers[2].timestamp, headers[0].timestamp.wrapping_add(320));
    assert_eq!(headers[0].payload_type, 8);
    a.set_sending(false);
    assert!(!a.send_rtp(t0, 8, false, 480, &[0xD5; 160]));
    assert!(drain(&mut a).is_empty());
    a.set_sending(true);
    a.send_rtp(t0, 8, false, 480, &[0xD5; 160]);
    let h = RtpPacket::parse(&drain(&mut a)[0].bytes).unwrap().header;
    assert_eq!(
        h.sequence_number,
        headers[2].sequence_number.wrapping_add(1)
    );
    assert_eq!(a.stats().packets_sent, 4);
    assert_eq!(a.stats().bytes_sent, 640);
    let _ = b.poll_transmit();
}

/// RFC 3550 s.6.6: closing sends a report with BYE; the peer hears it.
#[test]
fn rfc3550_s6_6_bye_on_close() {
    let t0 = Instant::now();
    let mut a = session(B, 10, t0);
    let mut b = session(A, 11, t0);
    a.close(t0, Some("hangup"));
    assert!(a.is_closed());
    assert_eq!(a.poll_timeout(), None);
    let t = drain(&mut a).pop().unwrap();
    assert_eq!(t.component, Component::Rtcp);
    let parts = parse_compound(&t.bytes).unwrap();
    assert!(matches!(parts[0], RtcpPacket::ReceiverReport(_)));
    assert!(matches!(parts.last(), Some(RtcpPacket::Goodbye(_))));
    b.handle_rtcp(t0, &t.bytes, addr("127.0.0.1:40011"))
        .unwrap();
    let events: Vec<RtpEvent> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(events.contains(&RtpEvent::Goodbye {
        ssrc: a.ssrc(),
        reason: Some("hangup".into())
    }));
    assert!(a.handle_rtp(t0, &t.bytes, addr(B)).is_err());
}

/// A new SSRC from the peer (a restarted phone) is followed, and loss
/// counted against the old one is kept.
#[test]
fn remote_ssrc_change_is_followed() {
    let t0 = Instant::now();
    let mut skipped = session(B, 13, t0);
    for i in 0..6u32 {
        skipped.send_rtp(t0, 0, false, i * 160, &[0xFF; 160]);
    }
    let all = drain(&mut skipped);
    let mut rx2 = session(A, 14, t0);
    // Two packets (3 and 4) never arrive.
    for i in [0usize, 1, 2, 5] {
        rx2.handle_rtp(t0, &all[i].bytes, addr(B)).unwrap();
    }
    assert_eq!(rx2.stats().packets_lost, 2);
    let mut fresh = session(B, 15, t0);
    fresh.send_rtp(t0, 0, true, 0, &[0xFF; 160]);
    fresh.send_rtp(t0, 0, false, 160, &[0xFF; 160]);
    for p in drain(&mut fresh) {
        rx2.handle_rtp(t0, &p.bytes, addr(B)).unwrap();
    }
    let stats = rx2.stats();
    assert_eq!(stats.remote_ssrc, Some(fresh.ssrc()));
    assert_eq!(stats.packets_received, 6);
    assert_eq!(stats.packets_lost, 2);
}

/// Garbage is refused with an error and counted, never panics.
#[test]
fn invalid_input_is_counted() {
    let t0 = Instant::now();
    let mut rx = session(A, 16, t0);
    assert!(rx.handle_rtp(t0, &[0x80, 0], addr(B)).is_err());
    assert!(rx.handle_rtcp(t0, &[0x80, 201, 0, 9], addr(B)).is_err());
    assert!(rx.handle_datagram(t0, &[0x40; 20], addr(B)).is_err());
    assert_eq!(rx.stats().packets_invalid, 2);
    // Our own SSRC looped back.
    let mut me = RtpSession::new(
        RtpSessionConfig {
            remote_rtp: Some(addr(A)),
            ..RtpSessionConfig::default()
        },
        t0,
        &mut SeededRandom::new(16),
    );
    me.send_rtp(t0, 0, true, 0, &[0xFF; 160]);
    let looped = drain(&mut me).pop().unwrap();
    assert!(rx.handle_rtp(t0, &looped.bytes, addr(A)).is_err());
}

proptest::proptest! {
    /// Random but well-formed traffic (sequence jumps, SSRC switches,
    /// time going anywhere) never panics, and what the jitter buffer hands
    /// out for one source is in strictly increasing order.
    #[test]
    fn random_traffic_keeps_invariants(
        steps in proptest::collection::vec(
            (0u8..4, proptest::prelude::any::<u16>(), proptest::prelude::any::<u32>(), 0u64..200),
            1..200,
        )
    ) {
        let t0 = Instant::now();
        let mut rx = session(A, 20, t0);
        let mut now = t0;
        let mut last: Option<(u32, u64)> = None;
        let mut fed = 0u64;
        for (ssrc, seq, ts, ms) in steps {
            now += Duration::from_millis(ms);
            let header = sipparty_core::rtp::RtpHeader {
                marker: false,
                payload_type: 0,
                sequence_number: seq,
                timestamp: ts,
                ssrc: u32::from(ssrc) + 1,
                csrc: Default::default(),
            };
            let bytes = RtpPacket { header, extension: None, payload: &[0xFF; 20], padding: 0 }
                .to_bytes()
                .unwrap();
            let _ = rx.handle_rtp(now, &bytes, addr(B));
            fed += 1;
            rx.handle_timeout(now);
            while let Some(p) = rx.poll_received() {
                if let Some((s, q)) = last {
                    // Same source and no restart: the buffer resets when a
                    // packet is more than 1000 behind the next expected
                    // sequence number, which is q + 1.
                    if s == p.ssrc && p.sequence + 1000 > q {
                        proptest::prop_assert!(p.sequence > q, "{} after {}", p.sequence, q);
                    }
                }
                last = Some((p.ssrc, p.sequence));
            }
            while rx.poll_transmit().is_some() {}
            while rx.poll_event().is_some() {}
        }
        let s = rx.stats();
        proptest::prop_assert!(s.packets_received + s.packets_duplicated + s.packets_invalid <= fed);
    }
}

/// The boundary proptest once found: a packet exactly 1000 behind the last
/// one delivered (1001 behind the next expected) is a source restart, so it
/// is delivered after a reset rather than dropped as late.
#[test]
fn rfc3550_jump_back_past_restart_gap_resets_the_buffer() {
    let t0 = Instant::now();
    let mut rx = session(A, 20, t0);
    let mut delivered = Vec::new();
    for (i, seq) in [47345u16, 46345].into_iter().enumerate() {
        let header = sipparty_core::rtp::RtpHeader {
            marker: false,
            payload_type: 0,
            sequence_number: seq,
            timestamp: 0,
            ssrc: 2,
            csrc: Default::default(),
        };
        let bytes = RtpPacket {
            header,
            extension: None,
            payload: &[0xFF; 20],
            padding: 0,
        }
        .to_bytes()
        .unwrap();
        let now = t0 + Duration::from_millis(20 * i as u64);
        let _ = rx.handle_rtp(now, &bytes, addr(B));
        rx.handle_timeout(now);
        while let Some(p) = rx.poll_received() {
            delivered.push(p.sequence);
        }
    }
    assert_eq!(delivered, vec![47345, 46345]);
}
