//! One RTP session with one remote party (RFC 3550), sans-IO.
//!
//! The driver owns the sockets: it passes datagrams to
//! [`RtpSession::handle_rtp`] / [`RtpSession::handle_rtcp`], sends what
//! [`RtpSession::poll_transmit`] returns, and calls
//! [`RtpSession::handle_timeout`] when [`RtpSession::poll_timeout`] says.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use super::jitter::{JitterBuffer, ReceivedPacket};
use super::packet::{is_rtcp, RtpError, RtpHeader, RtpPacket};
use super::rtcp::{
    parse_compound, write_compound, Goodbye, ReceiverReport, ReportBlock, RtcpError, RtcpPacket,
    SdesChunk, SenderInfo, SenderReport, SDES_CNAME,
};
use super::stats::{ReceiveStats, SeqOutcome};
use crate::{Random, SeededRandom};

/// Settings of an [`RtpSession`].
#[derive(Debug, Clone)]
pub struct RtpSessionConfig {
    /// Where to send RTP; `None` until known (the session then only receives).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP; `None` means the RTP port + 1 (RFC 3550 s.11),
    /// or the RTP address itself with `rtcp_mux`.
    pub remote_rtcp: Option<SocketAddr>,
    /// RTP and RTCP share one port (RFC 5761).
    pub rtcp_mux: bool,
    /// RTP clock rate of the payload format (8000 for G.711).
    pub clock_rate: u32,
    /// Symmetric RTP (RFC 4961): send to where the peer's packets come from,
    /// which is what gets media through NATs.
    pub symmetric: bool,
    /// Deterministic RTCP report interval before randomization (RFC 3550
    /// s.6.2 recommends a 5 s minimum).
    pub rtcp_interval: Duration,
    /// How long a packet behind a sequence gap waits for the missing one.
    pub jitter_delay: Duration,
    /// Packets the jitter buffer holds before it gives up on a gap.
    pub jitter_capacity: usize,
    /// The SDES CNAME (RFC 3550 s.6.5.1), e.g. `user@host`.
    pub cname: String,
    /// Wall-clock time at the session's creation in 64-bit NTP format, for
    /// sender reports. The core reads no clock; 0 still gives correct
    /// round-trip times, only the absolute SR time is meaningless.
    pub ntp_at_start: u64,
}

impl Default for RtpSessionConfig {
    fn default() -> Self {
        RtpSessionConfig {
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_mux: false,
            clock_rate: 8000,
            symmetric: true,
            rtcp_interval: Duration::from_secs(5),
            jitter_delay: Duration::from_millis(60),
            jitter_capacity: 16,
            cname: "sipparty".into(),
            ntp_at_start: 0,
        }
    }
}

/// Which of the session's two flows a datagram belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Component {
    /// Media packets.
    Rtp,
    /// Control packets.
    Rtcp,
}

/// A datagram to send: the driver writes `bytes` to `destination` from the
/// socket bound for `component` (the RTP socket when RTCP is multiplexed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpTransmit {
    /// Where to send.
    pub destination: SocketAddr,
    /// RTP or RTCP.
    pub component: Component,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Something the application may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtpEvent {
    /// The peer's SSRC was learned or changed.
    RemoteSource {
        /// The new synchronization source.
        ssrc: u32,
    },
    /// Symmetric RTP moved a destination to where the peer's packets come from.
    RemoteAddressChanged {
        /// RTP or RTCP.
        component: Component,
        /// The new destination.
        address: SocketAddr,
    },
    /// The peer reported on our stream (an SR or RR block about our SSRC).
    Report {
        /// Loss since its previous report, in 1/256 units.
        fraction_lost: u8,
        /// Cumulative loss it saw.
        cumulative_lost: i32,
        /// Its interarrival jitter estimate, in timestamp units.
        jitter: u32,
        /// Round-trip time, when the report echoes one of our SRs.
        round_trip: Option<Duration>,
    },
    /// The peer left (RTCP BYE).
    Goodbye {
        /// The departing source.
        ssrc: u32,
        /// Its reason, if given, lossily decoded as UTF-8.
        reason: Option<String>,
    },
}

/// Counters of one session, for the application and for RTCP.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RtpStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// RTP payload octets sent (the SR octet count).
    pub bytes_sent: u64,
    /// RTP packets received and accepted (duplicates excluded).
    pub packets_received: u64,
    /// RTP payload octets received.
    pub bytes_received: u64,
    /// Packets expected from the peer but never received (RFC 3550 A.3).
    pub packets_lost: u64,
    /// Packets that arrived after a later sequence number.
    pub packets_reordered: u64,
    /// Packets received twice (not counted as received).
    pub packets_duplicated: u64,
    /// Packets that came after the jitter buffer played past them.
    pub packets_late: u64,
    /// Datagrams that failed to parse or were rejected by RFC 3550 A.1.
    pub packets_invalid: u64,
    /// Interarrival jitter (RFC 3550 A.8), in timestamp units.
    pub jitter: u32,
    /// RTCP compound packets sent.
    pub rtcp_sent: u64,
    /// RTCP compound packets received.
    pub rtcp_received: u64,
    /// The peer's SSRC, once seen.
    pub remote_ssrc: Option<u32>,
    /// Last round-trip time computed from an RR/SR block (RFC 3550 s.6.4.1).
    pub round_trip: Option<Duration>,
    /// The last report block the peer sent about our stream.
    pub remote_report: Option<ReportBlock>,
    /// When the last valid RTP packet arrived.
    pub last_received: Option<Instant>,
}

impl RtpStats {
    /// Jitter converted to time at `clock_rate`.
    pub fn jitter_duration(&self, clock_rate: u32) -> Duration {
        if clock_rate == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(u64::from(self.jitter) * 1_000_000_000 / u64::from(clock_rate))
    }
}

/// Why a datagram was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// Malformed RTP.
    Rtp(RtpError),
    /// Malformed RTCP.
    Rtcp(RtcpError),
    /// An RTP packet carrying our own SSRC (a loop, or a collision).
    OwnSsrc,
    /// RFC 3550 A.1 rejected the sequence number (a jump not yet confirmed).
    BadSequence,
    /// The session was closed.
    Closed,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Rtp(e) => write!(f, "invalid RTP: {e}"),
            SessionError::Rtcp(e) => write!(f, "invalid RTCP: {e}"),
            SessionError::OwnSsrc => f.write_str("RTP packet carries our own SSRC"),
            SessionError::BadSequence => f.write_str("RTP sequence number jump not confirmed"),
            SessionError::Closed => f.write_str("RTP session closed"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Rtp(e) => Some(e),
            SessionError::Rtcp(e) => Some(e),
            _ => None,
        }
    }
}

/// Received packets waiting for the application, beyond which the oldest go.
const MAX_READY: usize = 512;
/// Outgoing datagrams the driver has not drained, beyond which the oldest go.
const MAX_TRANSMITS: usize = 512;

#[derive(Debug)]
struct RemoteSource {
    ssrc: u32,
    seq: ReceiveStats,
    /// Middle 32 bits of the last SR's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
    /// Whether packets arrived since our last report.
    fresh: bool,
}

/// An RTP session with one peer: sends our stream, receives theirs, and
/// keeps RTCP going. See the module docs for the driving loop.
#[derive(Debug)]
pub struct RtpSession {
    config: RtpSessionConfig,
    ssrc: u32,
    sequence: u16,
    timestamp_offset: u32,
    remote_rtp: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    sending: bool,
    remote: Option<RemoteSource>,
    /// Loss carried over from earlier remote sources.
    lost_before: u64,
    jitter: JitterBuffer,
    ready: VecDeque<ReceivedPacket>,
    epoch: Instant,
    next_report: Instant,
    /// Whether we sent RTP since the report before last (RFC 3550 s.6.4).
    sent_since: [bool; 2],
    last_sent: Option<(u32, Instant)>,
    transmits: VecDeque<RtpTransmit>,
    events: VecDeque<RtpEvent>,
    stats: RtpStats,
    rng: SeededRandom,
    closed: bool,
}

impl RtpSession {
    /// A session starting at `now`, with a random SSRC, initial sequence
    /// number and timestamp offset (RFC 3550 s.5.1, s.8).
    pub fn new(config: RtpSessionConfig, now: Instant, rng: &mut dyn Random) -> Self {
        let bits = rng.next_u64();
        let mut timer_rng = SeededRandom::new(rng.next_u64());
        let first = report_interval(config.rtcp_interval / 2, &mut timer_rng);
        let mut session = RtpSession {
            ssrc: bits as u32,
            sequence: (bits >> 32) as u16,
            timestamp_offset: rng.next_u64() as u32,
            remote_rtp: None,
            remote_rtcp: None,
            sending: true,
            remote: None,
            lost_before: 0,
            jitter: JitterBuffer::new(config.jitter_delay, config.jitter_capacity),
            ready: VecDeque::new(),
            epoch: now,
            next_report: now + first,
            sent_since: [false; 2],
            last_sent: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: RtpStats::default(),
            rng: timer_rng,
            closed: false,
            config,
        };
        session.set_remote(session.config.remote_rtp, session.config.remote_rtcp);
        session
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The configuration in force.
    pub fn config(&self) -> &RtpSessionConfig {
        &self.config
    }

    /// Where RTP goes now (configured, or learned by symmetric RTP).
    pub fn remote_rtp(&self) -> Option<SocketAddr> {
        self.remote_rtp
    }

    /// Where RTCP goes now.
    pub fn remote_rtcp(&self) -> Option<SocketAddr> {
        self.remote_rtcp
    }

    /// Counters so far.
    pub fn stats(&self) -> &RtpStats {
        &self.stats
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Point the session at a new peer address (a re-INVITE moved the
    /// media). `rtcp` of `None` derives it as in [`RtpSessionConfig::remote_rtcp`].
    pub fn set_remote(&mut self, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        self.config.remote_rtp = rtp;
        self.config.remote_rtcp = rtcp;
        self.remote_rtp = rtp;
        self.remote_rtcp = rtcp.or_else(|| {
            let mut a = rtp?;
            if !self.config.rtcp_mux {
                a.set_port(a.port().checked_add(1)?);
            }
            Some(a)
        });
    }

    /// Stop or resume sending RTP (hold). RTCP continues either way.
    pub fn set_sending(&mut self, sending: bool) {
        self.sending = sending;
    }

    /// Whether RTP is being sent.
    pub fn is_sending(&self) -> bool {
        self.sending
    }

    /// Change the clock rate (a codec change to a different rate).
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        self.config.clock_rate = clock_rate;
    }

    /// Queue one RTP packet. `timestamp` is the media clock in samples from
    /// the start of our stream; the session adds its random offset.
    /// Returns false (and sends nothing) when on hold, closed, or with no
    /// destination yet.
    pub fn send_rtp(
        &mut self,
        now: Instant,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) -> bool {
        let Some(destination) = self
            .remote_rtp
            .filter(|a| self.sending && !self.closed && is_usable(*a))
        else {
            return false;
        };
        let timestamp = self.timestamp_offset.wrapping_add(timestamp);
        let packet = RtpPacket {
            header: RtpHeader {
                marker,
                payload_type: payload_type & 0x7F,
                sequence_number: self.sequence,
                timestamp,
                ssrc: self.ssrc,
                csrc: Default::default(),
            },
            extension: None,
            payload,
            padding: 0,
        };
        let mut bytes = Vec::with_capacity(packet.len());
        if let Err(e) = packet.write_to(&mut bytes) {
            // Unreachable with no CSRC, no extension and a masked payload type.
            warn!(error = %e, "could not build RTP packet");
            return false;
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += payload.len() as u64;
        self.sent_since[0] = true;
        self.last_sent = Some((timestamp, now));
        trace!(
            seq = packet.header.sequence_number,
            ts = timestamp,
            "rtp out"
        );
        self.queue(RtpTransmit {
            destination,
            component: Component::Rtp,
            bytes,
        });
        true
    }

    /// Feed a datagram from a port carrying both RTP and RTCP (RFC 5761 s.4).
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

    /// Feed an RTP datagram that arrived from `source`.
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        bytes: &[u8],
        source: SocketAddr,
    ) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        let packet = match RtpPacket::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.stats.packets_invalid += 1;
                debug!(%source, error = %e, "dropping invalid RTP");
                return Err(SessionError::Rtp(e));
            }
        };
        let h = &packet.header;
        if h.ssrc == self.ssrc {
            self.stats.packets_invalid += 1;
            return Err(SessionError::OwnSsrc);
        }
        if self.remote.as_ref().map(|r| r.ssrc) != Some(h.ssrc) {
            // A new peer source: in a two-party call the old one is gone
            // (a re-INVITE to another media server, a restarted phone).
            if let Some(old) = self.remote.take() {
                self.lost_before += old.seq.cumulative_lost().max(0) as u64;
                debug!(old = old.ssrc, new = h.ssrc, "remote SSRC changed");
            }
            self.jitter.reset();
            self.remote = Some(RemoteSource {
                ssrc: h.ssrc,
                seq: ReceiveStats::new(h.sequence_number),
                last_sr: None,
                fresh: false,
            });
            self.stats.remote_ssrc = Some(h.ssrc);
            self.events
                .push_back(RtpEvent::RemoteSource { ssrc: h.ssrc });
        }
        let clock_rate = self.config.clock_rate;
        let arrival = self.media_clock(now, clock_rate);
        // Just set above when absent.
        let remote = self.remote.as_mut().expect("remote source set above");
        let sequence = match remote.seq.update(h.sequence_number) {
            SeqOutcome::Accepted(s) | SeqOutcome::Probation(s) => s,
            SeqOutcome::Duplicate => {
                self.stats.packets_duplicated = remote.seq.duplicates;
                return Ok(());
            }
            SeqOutcome::Invalid => {
                self.stats.packets_invalid += 1;
                return Err(SessionError::BadSequence);
            }
        };
        remote.seq.update_jitter(arrival, h.timestamp);
        remote.fresh = true;
        self.stats.packets_received += 1;
        self.stats.bytes_received += packet.payload.len() as u64;
        self.stats.last_received = Some(now);
        self.stats.packets_reordered = remote.seq.reordered;
        self.stats.jitter = remote.seq.jitter as u32;
        self.stats.packets_lost = self.lost_before + remote.seq.cumulative_lost().max(0) as u64;
        if self.config.symmetric && self.remote_rtp != Some(source) {
            self.latch(Component::Rtp, source);
        }
        let received = ReceivedPacket {
            sequence,
            timestamp: h.timestamp,
            payload_type: h.payload_type,
            marker: h.marker,
            ssrc: h.ssrc,
            payload: packet.payload.to_vec(),
            arrival: now,
        };
        if !self.jitter.push(received) {
            self.stats.packets_late = self.jitter.late;
        }
        self.drain_jitter(now);
        Ok(())
    }

    /// Feed an RTCP datagram that arrived from `source`.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        bytes: &[u8],
        source: SocketAddr,
    ) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        let packets = parse_compound(bytes).map_err(|e| {
            debug!(%source, error = %e, "dropping invalid RTCP");
            SessionError::Rtcp(e)
        })?;
        self.stats.rtcp_received += 1;
        if self.config.symmetric && !self.config.rtcp_mux && self.remote_rtcp != Some(source) {
            self.latch(Component::Rtcp, source);
        }
        for packet in packets {
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(r) = self.remote.as_mut().filter(|r| r.ssrc == sr.ssrc) {
                        r.last_sr = Some(((sr.sender_info.ntp_timestamp >> 16) as u32, now));
                    }
                    self.handle_blocks(now, &sr.reports);
                }
                RtcpPacket::ReceiverReport(rr) => self.handle_blocks(now, &rr.reports),
                RtcpPacket::Goodbye(bye) => {
                    for ssrc in bye.sources {
                        if ssrc == self.ssrc {
                            continue;
                        }
                        let reason = bye
                            .reason
                            .as_deref()
                            .map(|r| String::from_utf8_lossy(r).into_owned());
                        debug!(ssrc, ?reason, "RTCP BYE");
                        self.events.push_back(RtpEvent::Goodbye { ssrc, reason });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn handle_blocks(&mut self, now: Instant, blocks: &[ReportBlock]) {
        for block in blocks.iter().filter(|b| b.ssrc == self.ssrc) {
            // RFC 3550 s.6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
            let round_trip = (block.last_sr != 0).then(|| {
                let a = (self.ntp(now) >> 16) as u32;
                let units = a
                    .wrapping_sub(block.last_sr)
                    .wrapping_sub(block.delay_since_last_sr);
                // A negative result (clock games, a bogus report) wraps huge; ignore it.
                (units < 0x8000_0000)
                    .then(|| Duration::from_nanos((u64::from(units) * 1_000_000_000) >> 16))
            });
            let round_trip = round_trip.flatten();
            if round_trip.is_some() {
                self.stats.round_trip = round_trip;
            }
            self.stats.remote_report = Some(*block);
            self.events.push_back(RtpEvent::Report {
                fraction_lost: block.fraction_lost,
                cumulative_lost: block.cumulative_lost,
                jitter: block.jitter,
                round_trip,
            });
        }
    }

    fn latch(&mut self, component: Component, address: SocketAddr) {
        debug!(?component, %address, "symmetric RTP: following the peer");
        match component {
            Component::Rtp => self.remote_rtp = Some(address),
            Component::Rtcp => self.remote_rtcp = Some(address),
        }
        if self.config.rtcp_mux {
            self.remote_rtcp = Some(address);
        }
        self.events
            .push_back(RtpEvent::RemoteAddressChanged { component, address });
    }

    fn drain_jitter(&mut self, now: Instant) {
        while let Some(p) = self.jitter.pop(now) {
            if self.ready.len() == MAX_READY {
                self.ready.pop_front();
            }
            self.ready.push_back(p);
        }
    }

    /// The next received packet, in sequence order, once the jitter buffer
    /// releases it.
    pub fn poll_received(&mut self) -> Option<ReceivedPacket> {
        self.ready.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RtpEvent> {
        self.events.pop_front()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<RtpTransmit> {
        self.transmits.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        Some(match self.jitter.poll_timeout() {
            Some(t) => t.min(self.next_report),
            None => self.next_report,
        })
    }

    /// Advance timers: release held packets, send RTCP when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.drain_jitter(now);
        if now >= self.next_report {
            let packets = self.report(now);
            self.send_rtcp(&packets);
            self.next_report = now + report_interval(self.config.rtcp_interval, &mut self.rng);
        }
    }

    /// Leave the session: send a final report with BYE (RFC 3550 s.6.6)
    /// and stop. Further input is refused.
    pub fn close(&mut self, now: Instant, reason: Option<&str>) {
        if self.closed {
            return;
        }
        let mut packets = self.report(now);
        packets.push(RtcpPacket::Goodbye(Goodbye {
            sources: vec![self.ssrc],
            reason: reason.map(|r| r.as_bytes()[..r.len().min(255)].to_vec()),
        }));
        self.send_rtcp(&packets);
        self.closed = true;
    }

    fn send_rtcp(&mut self, packets: &[RtcpPacket]) {
        let Some(destination) = self.remote_rtcp.filter(|a| is_usable(*a)) else {
            return;
        };
        let mut bytes = Vec::with_capacity(128);
        if let Err(e) = write_compound(packets, &mut bytes) {
            warn!(error = %e, "could not build RTCP");
            return;
        }
        self.stats.rtcp_sent += 1;
        self.queue(RtpTransmit {
            destination,
            component: if self.config.rtcp_mux {
                Component::Rtp
            } else {
                Component::Rtcp
            },
            bytes,
        });
    }

    /// SR or RR plus SDES CNAME (RFC 3550 s.6.1: every compound packet
    /// starts with a report and carries a CNAME).
    fn report(&mut self, now: Instant) -> Vec<RtcpPacket> {
        let mut reports = Vec::new();
        if let Some(r) = self.remote.as_mut().filter(|r| r.fresh) {
            r.fresh = false;
            let delay_since_last_sr = r.last_sr.map_or(0, |(_, at)| {
                let d = now.saturating_duration_since(at);
                ((d.as_nanos() << 16) / 1_000_000_000).min(u128::from(u32::MAX)) as u32
            });
            let cumulative = r.seq.cumulative_lost();
            reports.push(ReportBlock {
                ssrc: r.ssrc,
                fraction_lost: r.seq.fraction_lost(),
                cumulative_lost: cumulative.clamp(-0x80_0000, 0x7F_FFFF) as i32,
                highest_sequence: r.seq.extended_max() as u32,
                jitter: r.seq.jitter as u32,
                last_sr: r.last_sr.map_or(0, |(lsr, _)| lsr),
                delay_since_last_sr,
            });
        }
        // RFC 3550 s.6.4: an SR if we sent since the report before last.
        let is_sender = self.sent_since.iter().any(|s| *s);
        self.sent_since = [false, self.sent_since[0]];
        let first = if is_sender {
            let rtp_timestamp = self.last_sent.map_or(self.timestamp_offset, |(ts, at)| {
                let elapsed = now.saturating_duration_since(at);
                let units = elapsed.as_nanos() * u128::from(self.config.clock_rate) / 1_000_000_000;
                ts.wrapping_add(units as u32)
            });
            RtcpPacket::SenderReport(SenderReport {
                ssrc: self.ssrc,
                sender_info: SenderInfo {
                    ntp_timestamp: self.ntp(now),
                    rtp_timestamp,
                    packet_count: self.stats.packets_sent as u32,
                    octet_count: self.stats.bytes_sent as u32,
                },
                reports,
            })
        } else {
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: self.ssrc,
                reports,
            })
        };
        let mut cname = self.config.cname.as_bytes().to_vec();
        cname.truncate(255);
        vec![
            first,
            RtcpPacket::SourceDescription(vec![SdesChunk {
                ssrc: self.ssrc,
                items: vec![(SDES_CNAME, cname)],
            }]),
        ]
    }

    /// `now` in 64-bit NTP format, anchored at `ntp_at_start`.
    fn ntp(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.epoch);
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        self.config
            .ntp_at_start
            .wrapping_add(d.as_secs() << 32 | frac)
    }

    /// `now` in units of `clock_rate` since the session started (A.8 arrival).
    fn media_clock(&self, now: Instant, clock_rate: u32) -> u32 {
        let d = now.saturating_duration_since(self.epoch);
        (d.as_nanos() * u128::from(clock_rate) / 1_000_000_000) as u32
    }

    fn queue(&mut self, t: RtpTransmit) {
        if self.transmits.len() == MAX_TRANSMITS {
            warn!("RTP transmit queue full; dropping the oldest datagram");
            self.transmits.pop_front();
        }
        self.transmits.push_back(t);
    }
}

/// Whether datagrams can be sent to `a`: not the RFC 2543 hold address
/// 0.0.0.0 (or ::), not port 0.
fn is_usable(a: SocketAddr) -> bool {
    !a.ip().is_unspecified() && a.port() != 0
}

/// RFC 3550 s.6.3.1: the interval is randomized to [0.5, 1.5] times the
/// deterministic one so that reports from many members do not synchronize.
fn report_interval(base: Duration, rng: &mut SeededRandom) -> Duration {
    // Bounded: a zero interval would spin the driver, a huge one overflow.
    let base = base.clamp(Duration::from_millis(100), Duration::from_secs(3600));
    let factor = 0.5 + (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    base.mul_f64(factor)
}
