//! The media side of a call: local RTP ports, the SDP offer/answer
//! (RFC 3264) through the sdp layer's `Negotiator`, and the events that
//! tell the driver which media sockets to open and close.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, trace};

use super::event::{DialogError, DialogId, Event, MediaInfo, MediaTransmit};
use super::timer::CallTimer;
use super::{Error, Party};
use crate::media::{MediaConfig, MediaEvent, MediaSession, G711};
use crate::rtp::Component;
use crate::sdp::{Direction, MediaCapabilities, NegotiatedSession, Negotiator};

/// Even RTP ports (RTCP on the next one, RFC 3550 section 11) handed out
/// from a range, lowest free first after the last one given, so a port is
/// not reused at once by the next call.
#[derive(Debug)]
pub(crate) struct PortPool {
    first: u16,
    last: u16,
    next: u16,
    used: BTreeSet<u16>,
}

impl PortPool {
    pub(crate) fn new((first, last): (u16, u16)) -> Self {
        let first = first.max(2) & !1;
        let last = last.max(first + 1);
        PortPool {
            first,
            last,
            next: first,
            used: BTreeSet::new(),
        }
    }

    /// A free even port whose successor is also in range.
    pub(crate) fn allocate(&mut self) -> Option<u16> {
        let span = u32::from(self.last.saturating_sub(self.first)) / 2 + 1;
        let mut p = self.next;
        for _ in 0..span {
            if p < self.first || u32::from(p) + 1 > u32::from(self.last) {
                p = self.first;
            }
            if !self.used.contains(&p) {
                self.used.insert(p);
                self.next = p.saturating_add(2);
                return Some(p);
            }
            p = p.saturating_add(2);
        }
        None
    }

    pub(crate) fn release(&mut self, port: u16) {
        self.used.remove(&port);
    }
}

/// The media of one call.
#[derive(Debug)]
pub(crate) struct CallMedia {
    pub(crate) rtp: SocketAddr,
    pub(crate) rtcp: SocketAddr,
    pub(crate) negotiator: Negotiator,
    /// We sent an offer and wait for the answer.
    pub(crate) offer_pending: bool,
    /// What the last completed negotiation agreed.
    pub(crate) info: Option<MediaInfo>,
    pub(crate) started: bool,
    pub(crate) hold: bool,
    /// The RTP stream, once negotiated on a codec we can encode (G.711).
    pub(crate) session: Option<Box<MediaSession>>,
}

impl CallMedia {
    pub(crate) fn set_hold(&mut self, hold: bool) {
        self.hold = hold;
        // RFC 3264 section 8.4: hold is a sendonly offer (inactive if the
        // peer already holds us is left to the answerer).
        self.negotiator.set_direction(if hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        });
    }
}

impl Party {
    /// Pick a local RTP/RTCP port pair for a call and ask the driver to
    /// open it.
    pub(crate) fn open_media(
        &mut self,
        id: DialogId,
        ip: IpAddr,
        caps: MediaCapabilities,
    ) -> Result<CallMedia, Error> {
        let port = self
            .ports
            .allocate()
            .ok_or(Error::Transaction("no free RTP port".into()))?;
        let rtp = SocketAddr::new(ip, port);
        let rtcp = SocketAddr::new(ip, port + 1);
        let session_id = self.rng.next_u64() >> 1;
        let negotiator = Negotiator::new(caps, ip, port, session_id);
        self.media_addrs.insert(rtp, id);
        self.media_addrs.insert(rtcp, id);
        self.events.push_back(Event::MediaSocketOpen {
            dialog: id,
            rtp,
            rtcp,
        });
        self.unannounced_sockets += 1;
        Ok(CallMedia {
            rtp,
            rtcp,
            negotiator,
            offer_pending: false,
            info: None,
            started: false,
            hold: false,
            session: None,
        })
    }

    /// Give back a call's ports and tell the driver to close them.
    pub(crate) fn release_media(&mut self, id: DialogId, mut media: CallMedia) {
        if let Some(mut s) = media.session.take() {
            // RTCP BYE (RFC 3550 section 6.6) on the way out.
            if let Some(now) = self.last_now {
                let _ = s.close(now);
            }
            self.drain_media_session(id, media.rtp, media.rtcp, &mut s);
        }
        if media.started {
            self.events.push_back(Event::MediaStopped { dialog: id });
        }
        self.release_media_quietly(id, media);
    }

    /// As [`Party::release_media`], announcing only the socket close.
    pub(crate) fn release_media_quietly(&mut self, id: DialogId, media: CallMedia) {
        self.ports.release(media.rtp.port());
        self.media_addrs.remove(&media.rtp);
        self.media_addrs.remove(&media.rtcp);
        self.events.push_back(Event::MediaSocketClose {
            dialog: id,
            rtp: media.rtp,
            rtcp: media.rtcp,
        });
    }

    /// Release media that was never attached to a call.
    pub(crate) fn close_media_quietly(&mut self, id: DialogId, media: &CallMedia) {
        self.ports.release(media.rtp.port());
        self.media_addrs.remove(&media.rtp);
        self.media_addrs.remove(&media.rtcp);
        self.events.push_back(Event::MediaSocketClose {
            dialog: id,
            rtp: media.rtp,
            rtcp: media.rtcp,
        });
    }

    /// Our offer for a call (an INVITE without SDP is answered with one).
    pub(crate) fn create_offer(&mut self, id: DialogId) -> Vec<u8> {
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return Vec::new();
        };
        m.offer_pending = true;
        m.negotiator.create_offer().to_bytes()
    }

    /// The peer's answer to our offer.
    pub(crate) fn apply_answer(
        &mut self,
        now: Instant,
        id: DialogId,
        answer: &[u8],
    ) -> Result<(), DialogError> {
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return Ok(());
        };
        m.offer_pending = false;
        match m.negotiator.accept_answer(answer) {
            Ok(session) => {
                m.info = media_info(m.rtp, &session);
                self.media_negotiated(now, id);
                Ok(())
            }
            Err(e) => {
                debug!(%id, error = %e, "unusable answer");
                Err(DialogError::NotAcceptable(e.to_string()))
            }
        }
    }

    /// The peer's offer: our answer, or why it is not acceptable (488).
    pub(crate) fn apply_offer(
        &mut self,
        _now: Instant,
        id: DialogId,
        offer: &[u8],
    ) -> Result<Vec<u8>, DialogError> {
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return Err(DialogError::NotAcceptable("no media configured".into()));
        };
        match m.negotiator.accept_offer(offer) {
            Ok((answer, session)) => {
                m.info = media_info(m.rtp, &session);
                Ok(answer.to_bytes())
            }
            Err(e) => {
                debug!(%id, error = %e, "unacceptable offer");
                Err(DialogError::NotAcceptable(e.to_string()))
            }
        }
    }

    /// A negotiation completed: report the media as started or updated,
    /// and start or update the RTP stream.
    pub(crate) fn media_negotiated(&mut self, now: Instant, id: DialogId) {
        let run = self.config.run_media;
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        let Some(info) = m.info.clone() else { return };
        if run {
            let codec = G711::from_name(&info.codec);
            match (&mut m.session, codec, info.remote_rtp) {
                (Some(s), Some(codec), remote) => {
                    let remote = remote.unwrap_or(s.config().remote_rtp);
                    s.update(media_config(&info, codec, remote));
                }
                (None, Some(codec), Some(remote)) => {
                    let config = media_config(&info, codec, remote);
                    m.session = Some(Box::new(MediaSession::new(config, now, &mut *self.rng)));
                }
                (None, None, _) => {
                    debug!(%id, codec = %info.codec, "no RTP stream: codec not G.711")
                }
                _ => {}
            }
            self.arm_media_timer(id);
        }
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        if m.started {
            self.events.push_back(Event::MediaUpdated {
                dialog: id,
                stream: info,
            });
        } else {
            m.started = true;
            self.events.push_back(Event::MediaStarted {
                dialog: id,
                stream: info,
            });
        }
    }

    /// The call is ending: stop media now (the sockets close when the call
    /// is forgotten).
    pub(crate) fn stop_media(&mut self, id: DialogId) {
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        if let Some(mut s) = m.session.take() {
            let (rtp, rtcp) = (m.rtp, m.rtcp);
            if let Some(now) = self.last_now {
                let _ = s.close(now);
            }
            self.drain_media_session(id, rtp, rtcp, &mut s);
        }
        self.stop_call_timer(id, CallTimer::Media);
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        if m.started {
            m.started = false;
            self.events.push_back(Event::MediaStopped { dialog: id });
        }
    }

    /// RTP or RTCP arrived on a call's media address.
    pub(crate) fn handle_media(
        &mut self,
        now: Instant,
        id: DialogId,
        source: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
    ) {
        trace!(%id, %source, %local, len = bytes.len(), "media in");
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        let (rtp, rtcp) = (m.rtp, m.rtcp);
        let Some(mut s) = m.session.take() else {
            return;
        };
        let r = if local == rtcp {
            s.handle_rtcp(now, bytes, source)
        } else {
            s.handle_datagram(now, bytes, source)
        };
        if let Err(e) = r {
            trace!(%id, error = %e, "media packet dropped");
        }
        self.drain_media_session(id, rtp, rtcp, &mut s);
        if let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
            m.session = Some(s);
        }
        self.arm_media_timer(id);
    }

    /// The media stream's timer: frames and RTCP are due.
    pub(crate) fn media_timeout(&mut self, now: Instant, id: DialogId) {
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        let (rtp, rtcp) = (m.rtp, m.rtcp);
        let Some(mut s) = m.session.take() else {
            return;
        };
        s.handle_timeout(now);
        self.drain_media_session(id, rtp, rtcp, &mut s);
        if let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
            m.session = Some(s);
        }
        self.arm_media_timer(id);
    }

    fn arm_media_timer(&mut self, id: DialogId) {
        let next = self
            .calls
            .get(&id)
            .and_then(|c| c.media.as_ref())
            .and_then(|m| m.session.as_ref())
            .and_then(|s| s.poll_timeout());
        match next {
            Some(at) => {
                let current = self
                    .calls
                    .get(&id)
                    .and_then(|c| c.timers.get(CallTimer::Media));
                if current != Some(at) {
                    self.set_call_timer(id, CallTimer::Media, at);
                }
            }
            None => self.stop_call_timer(id, CallTimer::Media),
        }
    }

    /// Move a media stream's packets and events out to the driver.
    fn drain_media_session(
        &mut self,
        id: DialogId,
        rtp: SocketAddr,
        rtcp: SocketAddr,
        s: &mut MediaSession,
    ) {
        while let Some(t) = s.poll_transmit() {
            let source = if t.component == Component::Rtcp {
                rtcp
            } else {
                rtp
            };
            self.media_out.push_back(MediaTransmit {
                source,
                destination: t.destination,
                bytes: t.bytes,
            });
        }
        let rate = u64::from(s.config().clock_rate.max(1));
        while let Some(e) = s.poll_event() {
            if let MediaEvent::Dtmf(d) = e {
                // Events 0-15 are digits; others (flash...) are not reported.
                let Some(digit) = d.digit else { continue };
                self.events.push_back(Event::Dtmf {
                    dialog: id,
                    digit,
                    duration: Duration::from_millis(u64::from(d.duration) * 1000 / rate),
                });
            }
        }
    }

    /// Send DTMF as RFC 4733 telephone-events when the stream has them.
    /// Returns false when it does not (the caller falls back to INFO).
    pub(crate) fn send_rtp_dtmf(&mut self, id: DialogId, digits: &str) -> bool {
        let Some(s) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.media.as_mut())
            .and_then(|m| m.session.as_mut())
        else {
            return false;
        };
        s.send_dtmf(digits, Duration::from_millis(160)).is_ok()
    }

    /// The RTP stream of a call, to set its source and sink or read its
    /// statistics.
    pub(crate) fn media_session(&mut self, id: DialogId) -> Option<&mut MediaSession> {
        self.calls
            .get_mut(&id)?
            .media
            .as_mut()?
            .session
            .as_deref_mut()
    }
}

fn media_config(info: &MediaInfo, codec: G711, remote: SocketAddr) -> MediaConfig {
    MediaConfig {
        remote_rtp: remote,
        remote_rtcp: info.remote_rtcp,
        payload_type: info.payload_type,
        codec,
        clock_rate: info.clock_rate,
        ptime: if info.ptime == 0 { 20 } else { info.ptime },
        telephone_event_pt: info.telephone_event_pt,
        send: info.send,
        receive: info.recv,
    }
}

/// The first usable audio stream of a negotiation, as the driver needs it.
fn media_info(local_rtp: SocketAddr, session: &NegotiatedSession) -> Option<MediaInfo> {
    let s = session.streams.iter().find(|s| !s.rejected)?;
    let (send, recv) = match s.direction {
        Direction::SendRecv => (true, true),
        Direction::SendOnly => (true, false),
        Direction::RecvOnly => (false, true),
        _ => (false, false),
    };
    Some(MediaInfo {
        local_rtp,
        remote_rtp: s.remote_rtp,
        remote_rtcp: s.remote_rtcp,
        codec: s.codec.name.clone(),
        payload_type: s.codec.payload_type,
        clock_rate: s.codec.clock_rate,
        telephone_event_pt: s.telephone_event_pt,
        ptime: s.ptime,
        send,
        recv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_even_pairs_in_range_and_reused_after_release() {
        let mut pool = PortPool::new((20000, 20005));
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        let c = pool.allocate().unwrap();
        assert_eq!((a, b, c), (20000, 20002, 20004));
        assert_eq!(pool.allocate(), None, "20006 would put RTCP out of range");
        pool.release(b);
        assert_eq!(pool.allocate(), Some(20002));
        assert_eq!(pool.allocate(), None);
    }
}
