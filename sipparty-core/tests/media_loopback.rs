//! Two MediaSessions wired back to back in memory (no sockets, a virtual
//! clock): tone both ways, DTMF, hold and resume, a codec change, BYE.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sipparty_core::media::{
    MediaConfig, MediaEvent, MediaSession, Sink, ToneSource, WavRecorder, G711,
};
use sipparty_core::rtp::{Component, RtpEvent, SessionError};
use sipparty_core::SeededRandom;

const ALICE: &str = "127.0.0.1:41000";
const BOB: &str = "127.0.0.1:42000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A sink the test can look into after handing it to a session.
#[derive(Debug, Clone, Default)]
struct Shared(Arc<Mutex<Vec<i16>>>);

impl Sink for Shared {
    fn write(&mut self, samples: &[i16]) {
        self.0.lock().unwrap().extend_from_slice(samples);
    }
}

struct Loopback {
    now: Instant,
    alice: MediaSession,
    bob: MediaSession,
    /// (arrival, to_bob, component, bytes)
    in_flight: Vec<(Instant, bool, Component, Vec<u8>)>,
    latency: Duration,
    alice_events: Vec<MediaEvent>,
    bob_events: Vec<MediaEvent>,
}

impl Loopback {
    fn new(alice: MediaConfig, bob: MediaConfig) -> Self {
        let now = Instant::now();
        Loopback {
            now,
            alice: MediaSession::new(alice, now, &mut SeededRandom::new(1)),
            bob: MediaSession::new(bob, now, &mut SeededRandom::new(2)),
            in_flight: Vec::new(),
            latency: Duration::from_millis(15),
            alice_events: Vec::new(),
            bob_events: Vec::new(),
        }
    }

    /// Run the virtual clock to `until`, jumping from event to event.
    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let next = [self.alice.poll_timeout(), self.bob.poll_timeout()]
                .into_iter()
                .flatten()
                .chain(self.in_flight.iter().map(|x| x.0))
                .min();
            let Some(next) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            self.now = next.max(self.now);
            let now = self.now;
            // Deliver what has arrived.
            let (due, rest): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|x| x.0 <= now);
            self.in_flight = rest;
            for (_, to_bob, component, bytes) in due {
                let (target, from) = if to_bob {
                    (&mut self.bob, ALICE)
                } else {
                    (&mut self.alice, BOB)
                };
                let mut source = addr(from);
                if component == Component::Rtcp {
                    source.set_port(source.port() + 1);
                }
                let r = match component {
                    Component::Rtp => target.handle_rtp(now, &bytes, source),
                    _ => target.handle_rtcp(now, &bytes, source),
                };
                // Datagrams in flight when a side hung up are refused.
                if let Err(e) = r {
                    assert_eq!(e, SessionError::Closed);
                }
            }
            if self.alice.poll_timeout().is_some_and(|t| t <= now) {
                self.alice.handle_timeout(now);
            }
            if self.bob.poll_timeout().is_some_and(|t| t <= now) {
                self.bob.handle_timeout(now);
            }
            self.flush();
        }
    }

    fn flush(&mut self) {
        let now = self.now;
        while let Some(t) = self.alice.poll_transmit() {
            let to = addr(BOB);
            assert_eq!(t.destination.ip(), to.ip());
            self.in_flight
                .push((now + self.latency, true, t.component, t.bytes));
        }
        while let Some(t) = self.bob.poll_transmit() {
            self.in_flight
                .push((now + self.latency, false, t.component, t.bytes));
        }
        self.alice_events
            .extend(std::iter::from_fn(|| self.alice.poll_event()));
        self.bob_events
            .extend(std::iter::from_fn(|| self.bob.poll_event()));
    }
}

fn zero_crossings(s: &[i16]) -> usize {
    s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count()
}

/// Two seconds of tone each way: 100 packets of 160 bytes per side, all
/// received, nothing lost, no jitter, and the decoded audio is the tone.
#[test]
fn two_seconds_of_tone_both_ways() {
    let mut net = Loopback::new(
        MediaConfig::new(addr(BOB), G711::Pcmu),
        MediaConfig::new(addr(ALICE), G711::Pcmu),
    );
    net.alice
        .set_source(Box::new(ToneSource::new(440.0, 8000).with_limit(16_000)));
    net.bob.set_source(Box::new(ToneSource::new(1000.0, 8000)));
    let heard_by_bob = Shared::default();
    let heard_by_alice = Shared::default();
    net.bob.set_sink(Box::new(heard_by_bob.clone()));
    net.alice.set_sink(Box::new(heard_by_alice.clone()));

    // Frames at 0, 20, ... 1980 ms; the last one lands 15 ms later.
    net.run_for(Duration::from_millis(1999));
    let stats = [("alice", net.alice.stats()), ("bob", net.bob.stats())];
    // Alice hangs up; Bob hears her RTCP BYE, then hangs up too.
    net.alice.close(net.now).unwrap();
    net.flush();
    net.run_for(Duration::from_millis(100));
    net.bob.close(net.now).unwrap();

    for (side, s) in stats {
        assert_eq!(s.frames_sent, 100, "{side}");
        assert_eq!(s.rtp.packets_sent, 100, "{side}");
        assert_eq!(s.rtp.bytes_sent, 16_000, "{side}");
        assert_eq!(s.rtp.packets_received, 100, "{side}");
        assert_eq!(s.rtp.bytes_received, 16_000, "{side}");
        assert_eq!(s.rtp.packets_lost, 0, "{side}");
        assert_eq!(s.rtp.packets_reordered, 0, "{side}");
        assert_eq!(s.rtp.jitter, 0, "{side}");
        assert_eq!(s.samples_played, 16_000, "{side}");
        assert_eq!(s.unknown_payload, 0, "{side}");
    }
    let bob_heard = heard_by_bob.0.lock().unwrap().clone();
    let alice_heard = heard_by_alice.0.lock().unwrap().clone();
    assert_eq!(bob_heard.len(), 16_000);
    // 440 Hz for 2 s: 1760 zero crossings; 1 kHz: 4000.
    assert!((1755..=1762).contains(&zero_crossings(&bob_heard)));
    assert!((3990..=4002).contains(&zero_crossings(&alice_heard)));
    // Each side learned the other's SSRC and saw its BYE.
    let alice_ssrc = net.alice.rtp().ssrc();
    assert!(net.bob_events.iter().any(|e| matches!(
        e,
        MediaEvent::Rtp(RtpEvent::Goodbye { ssrc, .. }) if *ssrc == alice_ssrc
    )));
    assert!(net
        .alice_events
        .iter()
        .any(|e| matches!(e, MediaEvent::Rtp(RtpEvent::RemoteSource { .. }))));
    // No NAT here: nobody had to move.
    assert!(!net
        .alice_events
        .iter()
        .any(|e| matches!(e, MediaEvent::Rtp(RtpEvent::RemoteAddressChanged { .. }))));
}

/// With no source set, silence flows both ways, and RTCP reports run.
#[test]
fn silence_by_default_and_rtcp_reports() {
    let mut net = Loopback::new(
        MediaConfig::new(addr(BOB), G711::Pcma),
        MediaConfig::new(addr(ALICE), G711::Pcma),
    );
    let heard = Shared::default();
    net.bob.set_sink(Box::new(heard.clone()));
    net.run_for(Duration::from_millis(11_999));
    let a = net.alice.stats();
    let b = net.bob.stats();
    assert_eq!(a.frames_sent, 600);
    assert!(b.rtp.packets_received >= 599);
    assert!(heard.0.lock().unwrap().iter().all(|&s| s.abs() <= 8));
    // Reports every ~5 s (randomized) each way, with a round trip of 30 ms.
    assert!(a.rtp.rtcp_sent >= 2 && b.rtp.rtcp_received >= 2);
    let rtt = a.rtp.round_trip.unwrap().as_secs_f64() * 1000.0;
    assert!((29.9..30.1).contains(&rtt), "{rtt}");
    assert_eq!(b.rtp.remote_report.unwrap().cumulative_lost, 0);
}

/// RFC 4733 through the sessions: digits arrive once each, audio pauses
/// for the events and the timestamps stay consistent.
#[test]
fn rfc4733_dtmf_between_sessions() {
    let mut alice = MediaConfig::new(addr(BOB), G711::Pcmu);
    alice.telephone_event_pt = Some(101);
    let mut bob = MediaConfig::new(addr(ALICE), G711::Pcmu);
    bob.telephone_event_pt = Some(101);
    let mut net = Loopback::new(alice, bob);
    net.alice
        .send_dtmf("12#", Duration::from_millis(100))
        .unwrap();
    assert_eq!(
        net.alice.send_dtmf("x", Duration::from_millis(100)),
        Err(sipparty_core::media::MediaError::BadDigit('x'))
    );
    net.run_for(Duration::from_millis(1999));
    let digits: Vec<char> = net
        .bob_events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf(d) => {
                assert!(d.ended);
                assert_eq!(d.duration, 800);
                d.digit
            }
            _ => None,
        })
        .collect();
    assert_eq!(digits, ['1', '2', '#']);
    let a = net.alice.stats();
    // 3 events x (5 progress packets incl. first end + 2 more ends).
    assert_eq!(a.dtmf_packets_sent, 21);
    assert_eq!(a.frames_sent + a.dtmf_packets_sent, 100);
    assert_eq!(net.bob.stats().dtmf_received, 3);
    // Bob's audio sink saw the audio frames only, plus silence filling the
    // time the events took, so the timeline is complete.
    assert!(net.bob.stats().samples_played >= a.frames_sent * 160);

    let mut plain = MediaConfig::new(addr(BOB), G711::Pcmu);
    plain.telephone_event_pt = None;
    net.alice.update(plain);
    assert_eq!(
        net.alice.send_dtmf("1", Duration::from_millis(100)),
        Err(sipparty_core::media::MediaError::DtmfNotNegotiated)
    );
}

/// Hold (sendonly/recvonly) stops one direction; resume restarts it with
/// the marker bit; a codec change is applied; a new address is used.
#[test]
fn hold_resume_codec_change_and_move() {
    let mut net = Loopback::new(
        MediaConfig::new(addr(BOB), G711::Pcmu),
        MediaConfig::new(addr(ALICE), G711::Pcmu),
    );
    net.run_for(Duration::from_millis(999));
    assert_eq!(net.bob.stats().rtp.packets_received, 50);

    // Alice puts Bob on hold: she stops sending, Bob keeps sending.
    let mut hold = net.alice.config().clone();
    hold.send = false;
    net.alice.update(hold.clone());
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.bob.stats().rtp.packets_received, 50);
    assert_eq!(net.alice.stats().rtp.packets_received, 100);

    // Resume with PCMA.
    let mut resume = hold;
    resume.send = true;
    resume.codec = G711::Pcma;
    resume.payload_type = 8;
    net.alice.update(resume);
    let mut bob_pcma = net.bob.config().clone();
    bob_pcma.codec = G711::Pcma;
    bob_pcma.payload_type = 8;
    net.bob.update(bob_pcma);
    net.run_for(Duration::from_secs(1));
    let b = net.bob.stats();
    assert_eq!(b.rtp.packets_received, 100);
    assert_eq!(b.unknown_payload, 0);
    // The hold gap is not "loss": sequence numbers did not advance on hold.
    assert_eq!(b.rtp.packets_lost, 0);

    // Bob moves to a new port: alice follows the re-INVITE's address.
    let mut moved = net.alice.config().clone();
    moved.remote_rtp = addr("127.0.0.1:43000");
    net.alice.update(moved);
    net.alice
        .handle_timeout(net.now + Duration::from_millis(20));
    let t = net.alice.poll_transmit().unwrap();
    assert_eq!(t.destination, addr("127.0.0.1:43000"));
}

/// A writer the test can read back after the session consumed it.
#[derive(Debug, Clone, Default)]
struct SharedFile(Arc<Mutex<std::io::Cursor<Vec<u8>>>>);

impl std::io::Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for SharedFile {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.lock().unwrap().seek(pos)
    }
}

/// The recorder sink produces a WAV file of what was heard, with lost
/// packets replaced by silence of the same length.
#[test]
fn recording_to_wav_with_loss_concealed() {
    let mut net = Loopback::new(
        MediaConfig::new(addr(BOB), G711::Pcmu),
        MediaConfig::new(addr(ALICE), G711::Pcmu),
    );
    net.alice.set_source(Box::new(ToneSource::new(500.0, 8000)));
    let file = SharedFile::default();
    net.bob
        .set_sink(Box::new(WavRecorder::new(file.clone(), 8000)));
    net.run_for(Duration::from_millis(500));
    // Drop alice's next three RTP packets on the floor.
    let mut dropped = 0;
    while dropped < 3 {
        net.run_for(Duration::from_millis(1));
        let before = net.in_flight.len();
        net.in_flight.retain(|x| !(x.1 && x.2 == Component::Rtp));
        dropped += before - net.in_flight.len();
    }
    net.run_for(Duration::from_millis(500));
    net.bob.close(net.now).unwrap();
    let bytes = file.0.lock().unwrap().get_ref().clone();
    let wav = sipparty_core::media::Wav::parse(&bytes).unwrap();
    let stats = net.bob.stats();
    assert_eq!(stats.rtp.packets_lost, 3);
    assert_eq!(wav.samples.len() as u64, stats.samples_played);
    // Received packets plus three packets' worth of silence.
    assert_eq!(stats.samples_played, (stats.rtp.packets_received + 3) * 160);
    let silent_run = wav.samples.windows(480).any(|w| w.iter().all(|&s| s == 0));
    assert!(silent_run, "the lost 60 ms are silence");
}

/// The whole path from SDP offer/answer (RFC 3264) to media: configs from
/// the negotiated streams, audio and DTMF both ways, then a re-INVITE
/// putting Bob on hold (alice sendonly, bob recvonly) stops Bob's RTP.
#[test]
fn rfc3264_negotiated_streams_drive_the_sessions() {
    use sipparty_core::media::capabilities;
    use sipparty_core::sdp::{Direction, Negotiator};
    let ip = "127.0.0.1".parse().unwrap();
    let mut alice_neg = Negotiator::new(capabilities(), ip, 41000, 1);
    let mut bob_neg = Negotiator::new(capabilities(), ip, 42000, 2);
    let offer = alice_neg.create_offer();
    let (answer, bob_session) = bob_neg.accept_offer(&offer.to_bytes()).unwrap();
    let alice_session = alice_neg.accept_answer(&answer.to_bytes()).unwrap();
    let alice_cfg =
        MediaConfig::from_negotiated(alice_session.first_active("audio").unwrap()).unwrap();
    let bob_cfg = MediaConfig::from_negotiated(bob_session.first_active("audio").unwrap()).unwrap();
    assert_eq!(alice_cfg.remote_rtp, addr(BOB));
    assert_eq!(bob_cfg.remote_rtp, addr(ALICE));
    assert_eq!(alice_cfg.codec, G711::Pcmu);
    assert_eq!(alice_cfg.telephone_event_pt, Some(101));
    assert!(alice_cfg.send && alice_cfg.receive && bob_cfg.send && bob_cfg.receive);

    let mut net = Loopback::new(alice_cfg, bob_cfg);
    net.bob.send_dtmf("9", Duration::from_millis(60)).unwrap();
    net.run_for(Duration::from_millis(999));
    assert_eq!(net.alice.stats().rtp.packets_received, 50);
    assert_eq!(net.bob.stats().rtp.packets_received, 50);
    assert!(net
        .alice_events
        .iter()
        .any(|e| matches!(e, MediaEvent::Dtmf(d) if d.digit == Some('9'))));

    // Alice holds: her new offer is sendonly, Bob answers recvonly.
    alice_neg.set_direction(Direction::SendOnly);
    let offer = alice_neg.create_offer();
    let (answer, bob_session) = bob_neg.accept_offer(&offer.to_bytes()).unwrap();
    let alice_session = alice_neg.accept_answer(&answer.to_bytes()).unwrap();
    let alice_hold =
        MediaConfig::from_negotiated(alice_session.first_active("audio").unwrap()).unwrap();
    let bob_held =
        MediaConfig::from_negotiated(bob_session.first_active("audio").unwrap()).unwrap();
    assert!(alice_hold.send && !alice_hold.receive);
    assert!(!bob_held.send && bob_held.receive);
    net.alice.update(alice_hold);
    net.bob.update(bob_held);
    net.run_for(Duration::from_millis(1000));
    // Bob's last frames before the hold were still in flight (15 ms).
    let alice_got = net.alice.stats().rtp.packets_received;
    assert!(alice_got <= 51, "{alice_got}");
    assert_eq!(net.bob.stats().rtp.packets_received, 100);
}
