//! A call's audio stream: an [`RtpSession`] plus a G.711 codec, a
//! [`Source`] for what we say, a [`Sink`] for what we hear, and DTMF.
//!
//! Configured from the SDP negotiation result through [`MediaConfig`] (a
//! plain struct, so this module does not depend on `sdp/`); a re-INVITE is
//! applied with [`MediaSession::update`].

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, trace};

use super::dtmf::{event_for_digit, DtmfReceiver, DtmfSender, ReceivedDtmf};
use super::g711::G711;
use super::sink::{Discard, Sink};
use super::source::{Silence, Source};
use crate::rtp::{
    is_rtcp, ReceivedPacket, RtpEvent, RtpSession, RtpSessionConfig, RtpStats, RtpTransmit,
    SessionError,
};
use crate::sdp::{Direction, NegotiatedStream};
use crate::Random;

/// What the negotiation decided for one audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// The peer's RTP address (`c=` and `m=` port).
    pub remote_rtp: SocketAddr,
    /// The peer's RTCP address (`a=rtcp`), if it gave one.
    pub remote_rtcp: Option<SocketAddr>,
    /// The payload type to send audio with (the peer's number for the codec).
    pub payload_type: u8,
    /// The codec.
    pub codec: G711,
    /// RTP clock rate (8000 for G.711).
    pub clock_rate: u32,
    /// Packetization interval in milliseconds (`a=ptime`, 20 by default).
    pub ptime: u32,
    /// The payload type of telephone-event, if negotiated.
    pub telephone_event_pt: Option<u8>,
    /// Whether we send (sendrecv or sendonly from our side).
    pub send: bool,
    /// Whether we receive (sendrecv or recvonly from our side).
    pub receive: bool,
}

impl MediaConfig {
    /// sendrecv G.711 at 8 kHz, 20 ms, static payload type, no DTMF.
    pub fn new(remote_rtp: SocketAddr, codec: G711) -> Self {
        MediaConfig {
            remote_rtp,
            remote_rtcp: None,
            payload_type: codec.payload_type(),
            codec,
            clock_rate: 8000,
            ptime: 20,
            telephone_event_pt: None,
            send: true,
            receive: true,
        }
    }

    /// The configuration for a stream the SDP offer/answer settled on.
    ///
    /// The direction is the local one (sendonly: we send, recvonly: we
    /// receive). A stream with no usable peer address (the RFC 2543
    /// `c=0.0.0.0` hold) gets an unspecified address and `send: false`;
    /// apply it with [`MediaSession::update`] to hold.
    pub fn from_negotiated(stream: &NegotiatedStream) -> Result<MediaConfig, MediaError> {
        if stream.rejected {
            return Err(MediaError::Rejected);
        }
        let codec = G711::from_name(&stream.codec.name)
            .filter(|_| stream.codec.clock_rate == 8000 && stream.codec.channels <= 1)
            .ok_or(MediaError::UnsupportedCodec)?;
        let (send, receive) = match stream.direction {
            Direction::SendRecv => (true, true),
            Direction::SendOnly => (true, false),
            Direction::RecvOnly => (false, true),
            _ => (false, false),
        };
        let remote_rtp = stream
            .remote_rtp
            .filter(|a| !a.ip().is_unspecified() && a.port() != 0);
        Ok(MediaConfig {
            remote_rtp: remote_rtp
                .unwrap_or(SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))),
            remote_rtcp: stream.remote_rtcp.filter(|_| remote_rtp.is_some()),
            payload_type: stream.codec.payload_type,
            codec,
            clock_rate: stream.codec.clock_rate,
            ptime: if stream.ptime == 0 { 20 } else { stream.ptime },
            telephone_event_pt: stream.telephone_event_pt,
            send: send && remote_rtp.is_some(),
            receive,
        })
    }

    fn samples_per_frame(&self) -> usize {
        let n = u64::from(self.clock_rate) * u64::from(self.ptime.clamp(10, 200)) / 1000;
        n.clamp(1, 8000) as usize
    }

    fn frame_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.ptime.clamp(10, 200)))
    }
}

/// Something that happened on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A DTMF key from the peer (RFC 4733).
    Dtmf(ReceivedDtmf),
    /// From the RTP layer (peer source, address learned, reports, BYE).
    Rtp(RtpEvent),
    /// The source ran out; silence is sent from now on.
    SourceEnded,
}

/// Errors of commands on a media session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaError {
    /// telephone-event was not negotiated.
    DtmfNotNegotiated,
    /// Not a DTMF key (0-9, *, #, A-D).
    BadDigit(char),
    /// The negotiated stream was rejected (port 0).
    Rejected,
    /// The negotiated codec is not G.711 (offer only what
    /// [`capabilities`](super::capabilities) lists).
    UnsupportedCodec,
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::DtmfNotNegotiated => f.write_str("telephone-event was not negotiated"),
            MediaError::BadDigit(c) => write!(f, "{c:?} is not a DTMF key"),
            MediaError::Rejected => f.write_str("the media stream was rejected"),
            MediaError::UnsupportedCodec => f.write_str("the negotiated codec is not PCMU or PCMA"),
        }
    }
}

impl std::error::Error for MediaError {}

/// Counters beyond the RTP ones.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct MediaStats {
    /// The RTP session's counters.
    pub rtp: RtpStats,
    /// Audio frames sent.
    pub frames_sent: u64,
    /// Telephone-event packets sent.
    pub dtmf_packets_sent: u64,
    /// DTMF events received.
    pub dtmf_received: u64,
    /// Samples handed to the sink (decoded audio plus concealment silence).
    pub samples_played: u64,
    /// Received packets with a payload type we did not negotiate.
    pub unknown_payload: u64,
}

/// Gaps in the received timestamps longer than this are not filled with
/// silence (the peer was on hold, or restarted).
const MAX_CONCEALMENT: u32 = 8000;
/// If the driver wakes us this many frames late, skip ahead instead of bursting.
const MAX_CATCH_UP: u32 = 10;

/// One audio stream of a call. Drive it like an [`RtpSession`]: feed
/// datagrams, drain [`poll_transmit`](Self::poll_transmit), sleep until
/// [`poll_timeout`](Self::poll_timeout), call
/// [`handle_timeout`](Self::handle_timeout).
///
/// ```
/// use std::time::Instant;
/// use sipparty_core::media::{G711, MediaConfig, MediaSession};
/// use sipparty_core::SeededRandom;
///
/// let now = Instant::now();
/// let config = MediaConfig::new("127.0.0.1:40002".parse().unwrap(), G711::Pcmu);
/// let mut media = MediaSession::new(config, now, &mut SeededRandom::new(1));
/// media.handle_timeout(now); // first 20 ms frame (silence: no source set)
/// let t = media.poll_transmit().unwrap();
/// assert_eq!(t.bytes.len(), 12 + 160);
/// assert_eq!(media.poll_timeout(), Some(now + std::time::Duration::from_millis(20)));
/// ```
#[derive(Debug)]
pub struct MediaSession {
    config: MediaConfig,
    rtp: RtpSession,
    source: Box<dyn Source>,
    sink: Box<dyn Sink>,
    source_ended: bool,
    next_frame: Instant,
    /// Media clock of the next frame, in samples from our stream's start.
    media_clock: u32,
    /// Set the marker on the next audio packet (start of a talkspurt).
    marker: bool,
    dtmf_tx: DtmfSender,
    dtmf_rx: DtmfReceiver,
    /// Timestamp just past the last decoded audio, for gap concealment.
    play_position: Option<u32>,
    frame: Vec<i16>,
    encoded: Vec<u8>,
    decoded: Vec<i16>,
    events: std::collections::VecDeque<MediaEvent>,
    stats: MediaStats,
    closed: bool,
}

impl MediaSession {
    /// A stream starting at `now`, sending silence until a source is set.
    pub fn new(config: MediaConfig, now: Instant, rng: &mut dyn Random) -> Self {
        let rtp_config = RtpSessionConfig {
            clock_rate: config.clock_rate,
            ..RtpSessionConfig::default()
        };
        Self::with_rtp_config(config, rtp_config, now, rng)
    }

    /// Like [`new`](Self::new) with RTP settings (CNAME, RTCP interval,
    /// multiplexing, jitter buffer). The addresses and clock rate of
    /// `config` override those of `rtp_config`.
    pub fn with_rtp_config(
        config: MediaConfig,
        mut rtp_config: RtpSessionConfig,
        now: Instant,
        rng: &mut dyn Random,
    ) -> Self {
        rtp_config.remote_rtp = Some(config.remote_rtp);
        rtp_config.remote_rtcp = config.remote_rtcp;
        rtp_config.clock_rate = config.clock_rate;
        let mut rtp = RtpSession::new(rtp_config, now, rng);
        rtp.set_sending(config.send);
        MediaSession {
            frame: vec![0; config.samples_per_frame()],
            config,
            rtp,
            source: Box::new(Silence),
            sink: Box::new(Discard),
            source_ended: false,
            next_frame: now,
            media_clock: 0,
            marker: true,
            dtmf_tx: DtmfSender::new(),
            dtmf_rx: DtmfReceiver::new(),
            play_position: None,
            encoded: Vec::new(),
            decoded: Vec::new(),
            events: Default::default(),
            stats: MediaStats::default(),
            closed: false,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// The RTP session underneath.
    pub fn rtp(&self) -> &RtpSession {
        &self.rtp
    }

    /// Mutable access to the RTP session (e.g. to close it yourself).
    pub fn rtp_mut(&mut self) -> &mut RtpSession {
        &mut self.rtp
    }

    /// Counters so far.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            rtp: self.rtp.stats().clone(),
            ..self.stats.clone()
        }
    }

    /// Send audio from `source` from the next frame on.
    pub fn set_source(&mut self, source: Box<dyn Source>) {
        self.source = source;
        self.source_ended = false;
    }

    /// Hand received audio to `sink`, returning the previous one.
    pub fn set_sink(&mut self, sink: Box<dyn Sink>) -> Box<dyn Sink> {
        std::mem::replace(&mut self.sink, sink)
    }

    /// Apply a renegotiation (re-INVITE or UPDATE): a new address, codec,
    /// ptime, or direction (hold stops sending).
    pub fn update(&mut self, config: MediaConfig) {
        if config.remote_rtp != self.config.remote_rtp
            || config.remote_rtcp != self.config.remote_rtcp
        {
            debug!(rtp = %config.remote_rtp, "media moved");
            self.rtp
                .set_remote(Some(config.remote_rtp), config.remote_rtcp);
        }
        if config.send && !self.config.send {
            // Resuming from hold starts a talkspurt.
            self.marker = true;
        }
        if config.clock_rate != self.config.clock_rate {
            self.rtp.set_clock_rate(config.clock_rate);
        }
        self.rtp.set_sending(config.send);
        self.frame = vec![0; config.samples_per_frame()];
        self.config = config;
    }

    /// Queue DTMF `digits`, each lasting `duration` (RFC 4733).
    pub fn send_dtmf(&mut self, digits: &str, duration: Duration) -> Result<(), MediaError> {
        if self.config.telephone_event_pt.is_none() {
            return Err(MediaError::DtmfNotNegotiated);
        }
        let events = digits
            .chars()
            .map(|d| event_for_digit(d).ok_or(MediaError::BadDigit(d)))
            .collect::<Result<Vec<u8>, MediaError>>()?;
        let units = duration.as_millis() * u128::from(self.config.clock_rate) / 1000;
        for e in events {
            self.dtmf_tx
                .queue(e, units.min(u128::from(u32::MAX)) as u32);
        }
        Ok(())
    }

    /// Feed a datagram from a socket carrying both RTP and RTCP.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        bytes: &[u8],
        source: SocketAddr,
    ) -> Result<(), SessionError> {
        if is_rtcp(bytes) {
            self.handle_rtcp(now, bytes, source)
        } else {
            self.handle_rtp(now, bytes, source)
        }
    }

    /// Feed an RTP datagram.
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        bytes: &[u8],
        source: SocketAddr,
    ) -> Result<(), SessionError> {
        let r = self.rtp.handle_rtp(now, bytes, source);
        self.drain_received();
        r
    }

    /// Feed an RTCP datagram.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        bytes: &[u8],
        source: SocketAddr,
    ) -> Result<(), SessionError> {
        let r = self.rtp.handle_rtcp(now, bytes, source);
        self.drain_rtp_events();
        r
    }

    /// Send the frames that are due, release held packets, send RTCP.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let interval = self.config.frame_interval();
        let mut sent = 0;
        while self.next_frame <= now {
            if sent == MAX_CATCH_UP {
                // Woken far too late (a suspended laptop): skip ahead,
                // keeping the media clock in step with real time.
                while self.next_frame <= now {
                    self.next_frame += interval;
                    self.media_clock = self
                        .media_clock
                        .wrapping_add(self.config.samples_per_frame() as u32);
                }
                break;
            }
            self.send_frame(now);
            self.next_frame += interval;
            sent += 1;
        }
        self.rtp.handle_timeout(now);
        self.drain_received();
    }

    fn send_frame(&mut self, now: Instant) {
        let samples = self.frame.len() as u32;
        let timestamp = self.media_clock;
        self.media_clock = self.media_clock.wrapping_add(samples);
        if let Some(pt) = self.config.telephone_event_pt {
            if let Some(p) = self.dtmf_tx.next_packet(timestamp, samples) {
                if self
                    .rtp
                    .send_rtp(now, pt, p.marker, p.timestamp, &p.payload)
                {
                    self.stats.dtmf_packets_sent += 1;
                }
                return;
            }
        }
        if !self.config.send {
            return;
        }
        if !self.source.fill(&mut self.frame) && !self.source_ended {
            self.source_ended = true;
            self.events.push_back(MediaEvent::SourceEnded);
        }
        self.encoded.clear();
        self.config.codec.encode(&self.frame, &mut self.encoded);
        if self.rtp.send_rtp(
            now,
            self.config.payload_type,
            self.marker,
            timestamp,
            &self.encoded,
        ) {
            self.marker = false;
            self.stats.frames_sent += 1;
        }
    }

    fn drain_received(&mut self) {
        while let Some(p) = self.rtp.poll_received() {
            self.play(p);
        }
        self.drain_rtp_events();
    }

    fn drain_rtp_events(&mut self) {
        while let Some(e) = self.rtp.poll_event() {
            if matches!(e, RtpEvent::RemoteSource { .. }) {
                self.play_position = None;
            }
            self.events.push_back(MediaEvent::Rtp(e));
        }
    }

    fn play(&mut self, p: ReceivedPacket) {
        if Some(p.payload_type) == self.config.telephone_event_pt {
            self.dtmf_rx.handle(p.timestamp, &p.payload);
            while let Some(d) = self.dtmf_rx.poll() {
                self.stats.dtmf_received += 1;
                self.events.push_back(MediaEvent::Dtmf(d));
            }
            return;
        }
        // RFC 3264 s.6.1: the peer may send any codec of the answer; accept
        // both G.711 laws by their static numbers as well as ours.
        let codec = if p.payload_type == self.config.payload_type {
            self.config.codec
        } else if p.payload_type == 0 {
            G711::Pcmu
        } else if p.payload_type == 8 {
            G711::Pcma
        } else {
            trace!(pt = p.payload_type, "ignoring payload type");
            self.stats.unknown_payload += 1;
            return;
        };
        if !self.config.receive {
            return;
        }
        // Fill a gap left by lost packets with silence so that the
        // recording keeps its timing.
        if let Some(expected) = self.play_position {
            let gap = p.timestamp.wrapping_sub(expected);
            if gap > 0 && gap <= MAX_CONCEALMENT {
                self.decoded.clear();
                self.decoded.resize(gap as usize, 0);
                self.sink.write(&self.decoded);
                self.stats.samples_played += u64::from(gap);
            }
        }
        self.decoded.clear();
        codec.decode(&p.payload, &mut self.decoded);
        self.sink.write(&self.decoded);
        self.stats.samples_played += self.decoded.len() as u64;
        self.play_position = Some(p.timestamp.wrapping_add(self.decoded.len() as u32));
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<RtpTransmit> {
        self.rtp.poll_transmit()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        Some(match self.rtp.poll_timeout() {
            Some(t) => t.min(self.next_frame),
            None => self.next_frame,
        })
    }

    /// End the stream (the call is over): RTCP BYE, and the sink finished.
    pub fn close(&mut self, now: Instant) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.rtp.close(now, None);
        self.sink.finish()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::Codec;

    fn stream() -> NegotiatedStream {
        NegotiatedStream {
            media: "audio".into(),
            remote_rtp: Some("127.0.0.1:5004".parse().unwrap()),
            remote_rtcp: Some("127.0.0.1:5005".parse().unwrap()),
            local_port: 6000,
            codec: Codec::pcma(),
            telephone_event_pt: Some(96),
            ptime: 30,
            direction: Direction::RecvOnly,
            rejected: false,
        }
    }

    #[test]
    fn config_from_negotiated_stream() {
        let c = MediaConfig::from_negotiated(&stream()).unwrap();
        assert_eq!(c.codec, G711::Pcma);
        assert_eq!(c.payload_type, 8);
        assert_eq!(c.ptime, 30);
        assert_eq!(c.samples_per_frame(), 240);
        assert_eq!(c.telephone_event_pt, Some(96));
        assert_eq!(c.remote_rtcp, Some("127.0.0.1:5005".parse().unwrap()));
        assert!(!c.send && c.receive);

        let mut s = stream();
        s.rejected = true;
        assert_eq!(MediaConfig::from_negotiated(&s), Err(MediaError::Rejected));
        let mut s = stream();
        s.codec = Codec::g722();
        assert_eq!(
            MediaConfig::from_negotiated(&s),
            Err(MediaError::UnsupportedCodec)
        );
    }

    /// RFC 3264 s.8.4 / RFC 2543 hold: c=0.0.0.0 means no address, so
    /// nothing is sent even though the direction says sendrecv.
    #[test]
    fn hold_address_sends_nothing() {
        let mut s = stream();
        s.direction = Direction::SendRecv;
        s.remote_rtp = Some("0.0.0.0:5004".parse().unwrap());
        let c = MediaConfig::from_negotiated(&s).unwrap();
        assert!(!c.send);
        assert!(c.remote_rtcp.is_none());
        let now = Instant::now();
        let mut m = MediaSession::new(c, now, &mut crate::SeededRandom::new(3));
        m.handle_timeout(now + Duration::from_secs(10));
        assert!(m.poll_transmit().is_none());
    }

    #[test]
    fn capabilities_are_what_we_can_encode() {
        let caps = crate::media::capabilities();
        assert!(caps
            .audio
            .iter()
            .all(|c| G711::from_name(&c.name).is_some()));
        assert_eq!(caps.audio.len(), 2);
        assert!(caps.telephone_event);
    }
}
