//! Two MediaSessions across the deterministic network simulator with a
//! seeded lossy, jittery, duplicating, reordering link: each side's
//! statistics agree with what the network log says happened.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::media::{MediaConfig, MediaSession, ToneSource, G711};
use sipparty_core::rtp::{is_rtcp, RtpPacket, RtpSessionConfig};
use sipparty_core::sim::{Endpoint, LinkConfig, Network};
use sipparty_core::{SeededRandom, Transmit, Transport};

/// A media session at one simulated address (RTCP multiplexed on the
/// RTP port, RFC 5761, so one address carries both).
struct Media(MediaSession);

impl Endpoint for Media {
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, _: SocketAddr, bytes: &[u8]) {
        // Malformed or late input is refused by value; the test checks stats.
        let _ = self.0.handle_datagram(now, bytes, source);
        while self.0.poll_event().is_some() {}
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
        while self.0.poll_event().is_some() {}
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.0.poll_transmit().map(|t| Transmit {
            transport: Transport::Udp,
            destination: t.destination,
            bytes: t.bytes.into(),
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

fn media(remote: SocketAddr, seed: u64, now: Instant) -> Media {
    let rtp = RtpSessionConfig {
        rtcp_mux: true,
        ..RtpSessionConfig::default()
    };
    let mut m = MediaSession::with_rtp_config(
        MediaConfig::new(remote, G711::Pcmu),
        rtp,
        now,
        &mut SeededRandom::new(seed),
    );
    m.set_source(Box::new(ToneSource::new(300.0 * seed as f64, 8000)));
    Media(m)
}

#[test]
fn stats_match_the_network_log_on_a_bad_link() {
    let alice: SocketAddr = "127.0.0.1:41000".parse().unwrap();
    let bob: SocketAddr = "127.0.0.1:42000".parse().unwrap();
    let t0 = Instant::now();
    let mut net = Network::new(0xBAD_11AC, t0);
    net.add(alice, media(bob, 1, t0));
    net.add(bob, media(alice, 2, t0));
    net.set_link(LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(8),
        loss: 0.05,
        duplicate: 0.02,
        reorder: 0.02,
    });
    net.run_until(t0 + Duration::from_millis(19_999));
    // Stop sending, let everything in flight land.
    for a in [alice, bob] {
        let m = &mut net.endpoint_mut(a).0;
        let mut c = m.config().clone();
        c.send = false;
        m.update(c);
    }
    net.run_until(t0 + Duration::from_secs(21));

    for (from, to) in [(alice, bob), (bob, alice)] {
        // The truth, from the log: distinct RTP sequence numbers delivered.
        let mut sent = 0u64;
        let mut delivered = BTreeSet::new();
        for d in net.log() {
            if d.source != from || is_rtcp(&d.bytes) {
                continue;
            }
            let seq = RtpPacket::parse(&d.bytes).unwrap().header.sequence_number;
            if !d.duplicate {
                sent += 1;
            }
            if d.delivered() {
                delivered.insert(seq);
            }
        }
        // 20 s at 50 packets a second.
        assert_eq!(sent, 1000);
        let stats = net.endpoint(to).0.stats();
        let theirs = net.endpoint(from).0.stats();
        assert_eq!(theirs.rtp.packets_sent, sent);
        assert_eq!(stats.rtp.packets_received, delivered.len() as u64);
        // Sequence numbers may wrap; count the span the receiver saw.
        let first = *delivered.iter().min().unwrap();
        let last = *delivered.iter().max().unwrap();
        if last - first < 2000 {
            let span = u64::from(last - first) + 1;
            assert_eq!(stats.rtp.packets_lost, span - delivered.len() as u64);
        }
        let loss = stats.rtp.packets_lost as f64 / sent as f64;
        assert!((0.02..0.09).contains(&loss), "loss {loss}");
        assert!(stats.rtp.packets_duplicated > 0);
        assert!(stats.rtp.packets_reordered > 0);
        // Up to 8 ms jitter: the estimate is a few ms worth (timestamp units).
        assert!((8..=80).contains(&stats.rtp.jitter), "{}", stats.rtp.jitter);
        // Nothing waited past the 60 ms jitter buffer... except packets
        // the link held back by up to three latencies (60 ms + jitter).
        assert!(stats.rtp.packets_late <= stats.rtp.packets_reordered);
        // Every received audio packet was played, plus concealment.
        assert!(
            stats.samples_played >= (stats.rtp.packets_received - stats.rtp.packets_late) * 160
        );
        // RTCP ran both ways; the round trip is 40 ms plus jitter.
        let rtt = stats
            .rtp
            .round_trip
            .expect("an RTT from RTCP")
            .as_secs_f64()
            * 1000.0;
        assert!((39.0..60.0).contains(&rtt), "rtt {rtt}");
        let report = theirs.rtp.remote_report.expect("a report about our stream");
        assert!(report.cumulative_lost > 0);
    }
}
