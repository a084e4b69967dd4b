//! RFC 3264 offer/answer as pure functions, and the per-session
//! [`Negotiator`] state that str0m-style callers drive.
//!
//! The functions take a parsed description and the local capabilities and
//! return a new description plus the [`NegotiatedSession`], a plain value the
//! media layer can act on. Nothing here does I/O or keeps hidden state.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use smallvec::SmallVec;
use tracing::{debug, warn};

use super::attributes::{parse_ptime, Direction, EventSet, Fmtp, Rtcp, RtpMap};
use super::caps::{static_payload_type, Codec, MediaCapabilities};
use super::error::{SdpError, SdpLimits};
use super::fields::{parse_payload_type, Connection, Fields};
use super::owned::{Media, Sdp};
use super::parse::{parse, MediaView, SessionDescription};

/// The outcome of an offer/answer exchange, one entry per m= line.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct NegotiatedSession {
    /// The streams, in m= line order.
    pub streams: Vec<NegotiatedStream>,
}

// By hand so `clone_from` reuses the strings of the streams (the
// Negotiator keeps a copy of every result).
impl Clone for NegotiatedSession {
    fn clone(&self) -> Self {
        NegotiatedSession {
            streams: self.streams.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.streams.clone_from(&source.streams);
    }
}

impl NegotiatedSession {
    /// The first accepted stream of media type `media` (e.g. `audio`).
    pub fn first_active(&self, media: &str) -> Option<&NegotiatedStream> {
        self.streams
            .iter()
            .find(|s| !s.rejected && s.media.eq_ignore_ascii_case(media))
    }
}

/// One negotiated stream.
#[derive(Debug, PartialEq, Eq)]
pub struct NegotiatedStream {
    /// The media type of the m= line.
    pub media: String,
    /// Where to send RTP; `None` when rejected or when the peer gave no
    /// usable address (`c=0.0.0.0` hold, an FQDN).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP (`a=rtcp`, RFC 3605, else the RTP port + 1).
    pub remote_rtcp: Option<SocketAddr>,
    /// The local RTP port of this stream.
    pub local_port: u16,
    /// The codec to send, with the offerer's payload type and the peer's
    /// fmtp. For a rejected stream, the first offered format, if known.
    pub codec: Codec,
    /// The telephone-event payload type both sides agreed on.
    pub telephone_event_pt: Option<u8>,
    /// The packetization time to send with, in milliseconds.
    pub ptime: u32,
    /// The direction from the local point of view.
    pub direction: Direction,
    /// Whether the stream was rejected (port 0).
    pub rejected: bool,
}

impl Clone for NegotiatedStream {
    fn clone(&self) -> Self {
        NegotiatedStream {
            media: self.media.clone(),
            remote_rtp: self.remote_rtp,
            remote_rtcp: self.remote_rtcp,
            local_port: self.local_port,
            codec: self.codec.clone(),
            telephone_event_pt: self.telephone_event_pt,
            ptime: self.ptime,
            direction: self.direction,
            rejected: self.rejected,
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.media.clone_from(&source.media);
        self.remote_rtp = source.remote_rtp;
        self.remote_rtcp = source.remote_rtcp;
        self.local_port = source.local_port;
        self.codec.clone_from(&source.codec);
        self.telephone_event_pt = source.telephone_event_pt;
        self.ptime = source.ptime;
        self.direction = source.direction;
        self.rejected = source.rejected;
    }
}

/// Why an offer or an answer could not be used.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiationError {
    /// The description did not parse.
    Parse(SdpError),
    /// No stream could be accepted (answer the offer with 488).
    NoAcceptedStream,
    /// An answer arrived with no offer pending.
    NoPendingOffer,
    /// An offer arrived while ours is pending (glare: answer 491).
    OfferPending,
    /// The answer has a different number of m= lines than the offer.
    MediaCountMismatch {
        /// m= lines in the offer.
        offer: usize,
        /// m= lines in the answer.
        answer: usize,
    },
    /// The answer changed the media type of the m= line at this index.
    MediaKindMismatch {
        /// The m= line index.
        index: usize,
    },
}

impl NegotiationError {
    /// The SIP status with which to refuse an offer that failed this way.
    pub fn status(&self) -> u16 {
        match self {
            Self::Parse(e) => e.status(),
            Self::OfferPending => 491,
            _ => 488,
        }
    }
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(e) => write!(f, "{e}"),
            Self::NoAcceptedStream => f.write_str("no acceptable media stream"),
            Self::NoPendingOffer => f.write_str("answer without a pending offer"),
            Self::OfferPending => f.write_str("offer received while an offer is pending"),
            Self::MediaCountMismatch { offer, answer } => {
                write!(f, "answer has {answer} m= lines, offer had {offer}")
            }
            Self::MediaKindMismatch { index } => {
                write!(f, "answer changed the media type of m= line {index}")
            }
        }
    }
}

impl std::error::Error for NegotiationError {}

impl From<SdpError> for NegotiationError {
    fn from(e: SdpError) -> Self {
        Self::Parse(e)
    }
}

/// The local side of a session: address, base RTP port and o= identity.
///
/// The stream at m= line index `i` uses RTP port `rtp_port + 2 * i` (RTCP on
/// the next port up), so ports stay stable across re-offers, where m= lines
/// never move (RFC 3264 s.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address put in o= and c=.
    pub addr: IpAddr,
    /// The RTP port of the first m= line.
    pub rtp_port: u16,
    /// The o= session id.
    pub session_id: u64,
    /// The o= session version.
    pub session_version: u64,
}

impl LocalMedia {
    fn port_for(&self, index: usize) -> Option<u16> {
        u16::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(2))
            .and_then(|off| self.rtp_port.checked_add(off))
    }
}

fn is_telephone_event(name: &str) -> bool {
    name.eq_ignore_ascii_case("telephone-event")
}

/// The formats of an m= line that are RTP payload types (0..=127), in
/// order; other formats are skipped. The m= line's own field splitter.
fn payload_types(formats: &str) -> impl Iterator<Item = u8> + '_ {
    Fields::new(formats).filter_map(|t| parse_payload_type(t).ok())
}

/// RTP profiles we can run without SRTP or DTLS.
fn plain_rtp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

/// The attributes of one media section that negotiation looks at,
/// collected in one pass (lookups by payload type would otherwise rescan
/// every attribute for every format).
struct MediaInfo<'a> {
    rtpmaps: SmallVec<[RtpMap<'a>; 8]>,
    fmtps: SmallVec<[(u8, &'a str); 8]>,
    ptime: Option<u32>,
    direction: Direction,
    rtcp: Option<Rtcp<'a>>,
    rtcp_mux: bool,
}

impl<'a> MediaInfo<'a> {
    fn new(m: &MediaView<'_, 'a>) -> Self {
        let mut info = Self::empty();
        info.read(m);
        info
    }

    fn empty() -> Self {
        MediaInfo {
            rtpmaps: SmallVec::new(),
            fmtps: SmallVec::new(),
            ptime: None,
            direction: Direction::SendRecv,
            rtcp: None,
            rtcp_mux: false,
        }
    }

    /// Fills an [`MediaInfo::empty`] value in place: the value is large
    /// (its inline tables), and returning it costs a copy of ~450 bytes.
    #[inline(always)]
    fn read(&mut self, m: &MediaView<'_, 'a>) {
        let info = self;
        let mut direction = None;
        for a in m.attributes() {
            let n = a.name.as_bytes();
            // Names are nearly always written in lower case: try the exact
            // comparison (a couple of word compares) before the folding one.
            let is = |lit: &str| n == lit.as_bytes() || n.eq_ignore_ascii_case(lit.as_bytes());
            match (n.len(), a.value) {
                (6, Some(v)) if is("rtpmap") => {
                    if let Ok(r) = RtpMap::parse(v) {
                        info.rtpmaps.push(r);
                    }
                }
                (4, Some(v)) if is("fmtp") => {
                    if let Some((pt, f)) = Fmtp::parse(v)
                        .ok()
                        .and_then(|f| Some((f.payload_type()?, f)))
                    {
                        info.fmtps.push((pt, f.params));
                    }
                }
                (5, Some(v)) if is("ptime") => {
                    if let Some(p) = parse_ptime(v.trim()) {
                        info.ptime = Some(p);
                    }
                }
                (4, Some(v)) if is("rtcp") => info.rtcp = Rtcp::parse(v).ok(),
                (8, None) if is("rtcp-mux") => info.rtcp_mux = true,
                (8, None) => direction = direction.or(Direction::from_name(a.name)),
                _ => {}
            }
        }
        // RFC 8866 s.6.7: a media-level direction overrides the session's.
        info.direction = direction.unwrap_or_else(|| m.effective_direction());
    }

    /// Name, clock rate and channels of payload type `pt`: its rtpmap, else
    /// the RFC 3551 static assignment.
    fn describe(&self, pt: u8) -> Option<(&'a str, u32, u8)> {
        match self.rtpmaps.iter().find(|r| r.payload_type == pt) {
            Some(r) => Some((r.encoding, r.clock_rate, r.channels.unwrap_or(1))),
            None => static_payload_type(pt),
        }
    }

    fn fmtp(&self, pt: u8) -> Option<&'a str> {
        self.fmtps
            .iter()
            .find(|f| f.0 == pt)
            .map(|f| f.1)
            .filter(|p| !p.is_empty())
    }

    fn codec(&self, pt: u8) -> Codec {
        let (name, rate, ch) = self.describe(pt).unwrap_or(("", 0, 1));
        let mut c = Codec::new(name, rate, ch, pt);
        c.fmtp = self.fmtp(pt).map(str::to_owned);
        c
    }
}

/// The first format of a rejected stream, described if possible.
fn rejected_codec(m: &MediaView<'_, '_>) -> Codec {
    m.formats()
        .next()
        .and_then(|f| parse_payload_type(f).ok())
        .map(|pt| MediaInfo::new(m).codec(pt))
        .unwrap_or_else(|| Codec::new("", 0, 1, 0))
}

fn rejected_stream(m: &MediaView<'_, '_>, local_port: u16) -> NegotiatedStream {
    NegotiatedStream {
        media: m.media().to_owned(),
        remote_rtp: None,
        remote_rtcp: None,
        local_port,
        codec: rejected_codec(m),
        telephone_event_pt: None,
        ptime: 0,
        direction: Direction::Inactive,
        rejected: true,
    }
}

/// A copy of an m= line with port 0 (RFC 3264 s.6: a rejected stream keeps
/// its media type, proto and formats).
fn rejected_media(m: &MediaView<'_, '_>) -> Media {
    let formats: SmallVec<[&str; 16]> = m.formats().collect();
    Media::new(m.media(), 0, m.proto(), &formats)
}

/// The peer's RTP and RTCP addresses for a media section.
fn remote_addresses(
    m: &MediaView<'_, '_>,
    conn: Option<Connection<'_>>,
    info: &MediaInfo<'_>,
) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let ip = conn
        .filter(|c| !c.is_hold_address())
        .and_then(|c| c.ip())
        .filter(|ip| !ip.is_unspecified());
    let Some(ip) = ip else { return (None, None) };
    let rtp = SocketAddr::new(ip, m.port());
    let rtcp = match info.rtcp {
        Some(r) => {
            let rip = r
                .address
                .and_then(|a| a.parse::<IpAddr>().ok())
                .unwrap_or(ip);
            Some(SocketAddr::new(rip, r.port))
        }
        None if info.rtcp_mux => Some(rtp),
        None => m.port().checked_add(1).map(|p| SocketAddr::new(ip, p)),
    };
    (Some(rtp), rtcp)
}

/// The direction the peer declared for a media section, with RFC 2543 hold
/// (`c=0.0.0.0`) read as "do not send to me" (RFC 3264 s.8.4).
fn declared_direction(conn: Option<Connection<'_>>, info: &MediaInfo<'_>) -> Direction {
    let d = info.direction;
    if conn.is_some_and(|c| c.is_hold_address()) {
        Direction::from_flags(d.sends(), false)
    } else {
        d
    }
}

/// Builds an initial offer from the capabilities: one m= line per media
/// type with codecs (audio, then video).
pub fn create_offer(caps: &MediaCapabilities, direction: Direction, local: &LocalMedia) -> Sdp {
    let mut sdp = Sdp::new(local.session_id, local.session_version, local.addr);
    let mut index = 0;
    for kind in ["audio", "video"] {
        if caps.codecs_for(kind).is_empty() {
            continue;
        }
        if let Some(port) = local.port_for(index) {
            sdp.push_media(offer_media(caps, kind, port, "RTP/AVP", direction));
        }
        index += 1;
    }
    sdp
}

/// One offered media section with all our codecs of that type.
fn offer_media(
    caps: &MediaCapabilities,
    kind: &str,
    port: u16,
    proto: &str,
    direction: Direction,
) -> Media {
    let codecs = caps.codecs_for(kind);
    let with_te = caps.telephone_event && kind.eq_ignore_ascii_case("audio");
    let mut pts: SmallVec<[u8; 8]> = codecs.iter().map(|c| c.payload_type).collect();
    if with_te {
        pts.push(caps.telephone_event_pt);
    }
    let mut m = Media::with_payload_types(kind, port, proto, &pts);
    for c in codecs {
        m.push_rtpmap(
            c.payload_type,
            &c.name,
            c.clock_rate,
            (c.channels != 1).then_some(c.channels),
        );
        if let Some(f) = &c.fmtp {
            m.push_fmtp(c.payload_type, f);
        }
    }
    if with_te {
        m.push_rtpmap(caps.telephone_event_pt, "telephone-event", 8000, None);
        m.push_fmtp_with(caps.telephone_event_pt, |s| {
            caps.telephone_events.write_to(s)
        });
    }
    if let Some(p) = caps.ptime {
        m.push_ptime(p);
    }
    m.push_direction(direction);
    m
}

/// Answers an offer (RFC 3264 s.6): one m= line per offered m= line, in
/// order; streams with port 0, unknown media types, secure or non-RTP
/// profiles or no common codec are rejected with port 0. Codecs keep the
/// offerer's payload types and order; the answer never adds a codec.
///
/// Returns [`NegotiationError::NoAcceptedStream`] when nothing was accepted:
/// the caller answers 488.
pub fn create_answer(
    offer: &SessionDescription<'_>,
    caps: &MediaCapabilities,
    direction: Direction,
    local: &LocalMedia,
) -> Result<(Sdp, NegotiatedSession), NegotiationError> {
    let mut sdp = Sdp::new(local.session_id, local.session_version, local.addr);
    // RFC 3264 s.6: the t= line of the answer equals the offer's.
    if let Some(t) = offer.timing() {
        if (t.start, t.stop) != (0, 0) {
            let mut v = String::with_capacity(24);
            super::attributes::push_u64(&mut v, t.start);
            v.push(' ');
            super::attributes::push_u64(&mut v, t.stop);
            sdp.set_timing_raw(&v);
        }
    }
    let mut streams = Vec::with_capacity(offer.media_count());
    let mut accepted = 0;
    for (i, m) in offer.media().enumerate() {
        let port = local.port_for(i);
        // The answered section is pushed onto `sdp` by `answer_media` (no
        // copies of the section through return values).
        let stream = match port.and_then(|p| answer_media(&m, caps, direction, p, &mut sdp)) {
            Some(stream) => {
                accepted += 1;
                stream
            }
            None => {
                sdp.push_media(rejected_media(&m));
                rejected_stream(&m, 0)
            }
        };
        streams.push(stream);
    }
    if accepted == 0 {
        debug!("offer has no acceptable stream");
        return Err(NegotiationError::NoAcceptedStream);
    }
    Ok((sdp, NegotiatedSession { streams }))
}

fn answer_media(
    m: &MediaView<'_, '_>,
    caps: &MediaCapabilities,
    direction: Direction,
    local_port: u16,
    sdp: &mut Sdp,
) -> Option<NegotiatedStream> {
    if m.port() == 0 || !plain_rtp(m.proto()) {
        return None;
    }
    let codecs = caps.codecs_for(m.media());
    if codecs.is_empty() {
        return None;
    }
    let is_audio = m.media().eq_ignore_ascii_case("audio");
    let mut info = MediaInfo::empty();
    info.read(m);
    // (offered pt, index of our codec), in the offerer's order.
    let mut matched: SmallVec<[(u8, usize); 8]> = SmallVec::new();
    let mut te: SmallVec<[(u8, u32); 2]> = SmallVec::new();
    for pt in payload_types(m.media_line().formats) {
        let Some((name, rate, channels)) = info.describe(pt) else {
            continue;
        };
        if is_telephone_event(name) {
            te.push((pt, rate));
        } else if let Some(ci) = codecs.iter().position(|c| c.matches(name, rate, channels)) {
            if !matched.iter().any(|&(p, _)| p == pt) {
                matched.push((pt, ci));
            }
        }
    }
    let &(first_pt, first_ci) = matched.first()?;
    let first_rate = codecs[first_ci].clock_rate;

    // RFC 4733 s.7.1.1: telephone-event at the clock rate of the chosen
    // codec, else at 8000; events are the intersection of both lists.
    let mut te_answer = None;
    if is_audio && caps.telephone_event {
        let pick = te
            .iter()
            .find(|t| t.1 == first_rate)
            .or_else(|| te.iter().find(|t| t.1 == 8000));
        if let Some(&(pt, rate)) = pick {
            let offered = info
                .fmtps
                .iter()
                .find(|f| f.0 == pt)
                .map(|f| EventSet::parse(f.1).unwrap_or_default())
                .unwrap_or(EventSet::DEFAULT_DTMF);
            let common = offered.intersect(&caps.telephone_events);
            if !common.is_empty() {
                te_answer = Some((pt, rate, common));
            }
        }
    }

    let mut pts: SmallVec<[u8; 8]> = matched.iter().map(|&(pt, _)| pt).collect();
    if let Some((pt, _, _)) = te_answer {
        pts.push(pt);
    }
    let mut media = Media::with_payload_types(m.media(), local_port, m.proto(), &pts);
    for &(pt, ci) in &matched {
        let c = &codecs[ci];
        media.push_rtpmap(
            pt,
            &c.name,
            c.clock_rate,
            (c.channels != 1).then_some(c.channels),
        );
        if let Some(f) = &c.fmtp {
            media.push_fmtp(pt, f);
        }
    }
    if let Some((pt, rate, events)) = te_answer {
        media.push_rtpmap(pt, "telephone-event", rate, None);
        media.push_fmtp_with(pt, |s| events.write_to(s));
    }
    if let Some(p) = caps.ptime {
        media.push_ptime(p);
    }
    // RFC 3264 s.6.1: sendonly is answered recvonly, recvonly sendonly,
    // inactive inactive; and we never do more than we want ourselves.
    // The c= line is decoded once for both uses.
    let conn = m.connection();
    let ours = declared_direction(conn, &info)
        .reverse()
        .intersect(direction);
    // A new section has no direction yet: append, nothing to replace.
    media.push_direction(ours);

    let (remote_rtp, remote_rtcp) = remote_addresses(m, conn, &info);
    let c = &codecs[first_ci];
    let mut codec = Codec::new(&c.name, c.clock_rate, c.channels, first_pt);
    codec.fmtp = info.fmtp(first_pt).map(str::to_owned);
    let stream = NegotiatedStream {
        media: m.media().to_owned(),
        remote_rtp,
        remote_rtcp,
        local_port,
        codec,
        telephone_event_pt: te_answer.map(|t| t.0),
        ptime: info.ptime.or(caps.ptime).unwrap_or(20),
        direction: ours,
        rejected: false,
    };
    sdp.push_media(media);
    Some(stream)
}

/// Reads the answer to our offer (RFC 3264 s.7): the same m= lines in the
/// same order; the codec to send is the first answered format that we
/// offered (formats we did not offer are ignored).
pub fn process_answer(
    offer: &SessionDescription<'_>,
    answer: &SessionDescription<'_>,
    local: &LocalMedia,
) -> Result<NegotiatedSession, NegotiationError> {
    if offer.media_count() != answer.media_count() {
        return Err(NegotiationError::MediaCountMismatch {
            offer: offer.media_count(),
            answer: answer.media_count(),
        });
    }
    let mut streams = Vec::with_capacity(offer.media_count());
    for (i, (om, am)) in offer.media().zip(answer.media()).enumerate() {
        if !om.media().eq_ignore_ascii_case(am.media()) {
            return Err(NegotiationError::MediaKindMismatch { index: i });
        }
        let local_port = if om.port() == 0 {
            0
        } else {
            local.port_for(i).unwrap_or(0)
        };
        if om.port() == 0 || am.port() == 0 {
            streams.push(rejected_stream(&om, 0));
            continue;
        }
        let oi = MediaInfo::new(&om);
        let ai = MediaInfo::new(&am);
        let offered = |pt: u8| om.formats().any(|f| parse_payload_type(f) == Ok(pt));
        let mut chosen = None;
        let mut te_pt = None;
        for fmt in am.formats() {
            let Ok(pt) = parse_payload_type(fmt) else {
                continue;
            };
            if !offered(pt) {
                warn!(
                    pt,
                    "answer lists a payload type that was not offered; ignored"
                );
                continue;
            }
            let name = oi.describe(pt).or_else(|| ai.describe(pt)).map(|d| d.0);
            if name.is_some_and(is_telephone_event) {
                te_pt = te_pt.or(Some(pt));
            } else if chosen.is_none() && name.is_some() {
                chosen = Some(pt);
            }
        }
        let Some(pt) = chosen else {
            warn!(index = i, "answer accepted a stream without a common codec");
            streams.push(rejected_stream(&om, 0));
            continue;
        };
        let mut codec = oi.codec(pt);
        codec.fmtp = ai.fmtp(pt).map(str::to_owned);
        let conn = am.connection();
        let ours = oi
            .direction
            .intersect(declared_direction(conn, &ai).reverse());
        let (remote_rtp, remote_rtcp) = remote_addresses(&am, conn, &ai);
        streams.push(NegotiatedStream {
            media: om.media().to_owned(),
            remote_rtp,
            remote_rtcp,
            local_port,
            codec,
            telephone_event_pt: te_pt,
            ptime: ai.ptime.or(oi.ptime).unwrap_or(20),
            direction: ours,
            rejected: false,
        });
    }
    if streams.iter().all(|s| s.rejected) {
        return Err(NegotiationError::NoAcceptedStream);
    }
    Ok(NegotiatedSession { streams })
}

/// One m= line of the current session, remembered for re-offers (RFC 3264
/// s.8: m= lines are never removed, only set to port 0, and may be reused).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Slot {
    media: String,
    proto: String,
    formats: String,
    active: bool,
}

#[derive(Clone, Debug)]
struct Saved {
    version: u64,
    last_body: Option<Vec<u8>>,
    direction: Direction,
}

#[derive(Clone, Debug)]
struct Pending {
    offer: Vec<u8>,
    saved: Saved,
}

/// The offer/answer state of one session (one dialog).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use sipparty_core::sdp::{MediaCapabilities, Negotiator, Direction};
/// let ip = |d| IpAddr::V4(Ipv4Addr::new(192, 0, 2, d));
/// let mut alice = Negotiator::new(MediaCapabilities::default_audio(), ip(1), 4000, 11);
/// let mut bob = Negotiator::new(MediaCapabilities::default_audio(), ip(2), 6000, 22);
/// let offer = alice.create_offer().to_bytes();
/// let (answer, bob_view) = bob.accept_offer(&offer).unwrap();
/// let alice_view = alice.accept_answer(&answer.to_bytes()).unwrap();
/// assert_eq!(alice_view.streams[0].codec.name, "PCMU");
/// assert_eq!(bob_view.streams[0].remote_rtp, Some("192.0.2.1:4000".parse().unwrap()));
/// // Hold: a re-offer with a=sendonly is answered recvonly.
/// let hold = alice.create_offer_with_direction(Direction::SendOnly).to_bytes();
/// let (_, bob_view) = bob.accept_offer(&hold).unwrap();
/// assert_eq!(bob_view.streams[0].direction, Direction::RecvOnly);
/// ```
#[derive(Clone, Debug)]
pub struct Negotiator {
    caps: MediaCapabilities,
    local: LocalMedia,
    direction: Direction,
    committed_direction: Direction,
    limits: SdpLimits,
    last_body: Option<Vec<u8>>,
    slots: Vec<Slot>,
    current: Option<NegotiatedSession>,
    remote_origin: Option<(u64, u64)>,
    pending: Option<Pending>,
}

impl Negotiator {
    /// A negotiator for one session. `rng_session_id` becomes the o= session
    /// id and first version (kept below 2^62 so peers that read it as a
    /// signed 64-bit number cope).
    pub fn new(
        caps: MediaCapabilities,
        local_addr: IpAddr,
        rtp_port: u16,
        rng_session_id: u64,
    ) -> Self {
        let id = rng_session_id & 0x3FFF_FFFF_FFFF_FFFF;
        let direction = caps.direction;
        Negotiator {
            caps,
            local: LocalMedia {
                addr: local_addr,
                rtp_port,
                session_id: id,
                session_version: id,
            },
            direction,
            committed_direction: direction,
            limits: SdpLimits::lenient(),
            last_body: None,
            slots: Vec::new(),
            current: None,
            remote_origin: None,
            pending: None,
        }
    }

    /// Limits used to parse remote descriptions (lenient by default: real
    /// peers send bare LFs and trailing blanks).
    pub fn set_limits(&mut self, limits: SdpLimits) {
        self.limits = limits;
    }

    /// The capabilities used for the next offer or answer.
    pub fn capabilities(&self) -> &MediaCapabilities {
        &self.caps
    }

    /// Replaces the capabilities: a re-offer then adds a stream for a new
    /// media type, or disables (port 0) one whose codecs are gone.
    pub fn set_capabilities(&mut self, caps: MediaCapabilities) {
        self.caps = caps;
    }

    /// The direction wanted for the next offer or answer (hold: sendonly or
    /// inactive; resume: sendrecv).
    pub fn set_direction(&mut self, d: Direction) {
        self.direction = d;
    }

    /// The direction wanted now.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The result of the last completed exchange.
    pub fn current(&self) -> Option<&NegotiatedSession> {
        self.current.as_ref()
    }

    /// The (session id, version) of the peer's last description: an offer
    /// with the same pair as before is a session refresh (RFC 3264 s.8).
    pub fn remote_origin(&self) -> Option<(u64, u64)> {
        self.remote_origin
    }

    /// Whether an offer of ours awaits its answer.
    pub fn has_pending_offer(&self) -> bool {
        self.pending.is_some()
    }

    /// The o= session version of the last description produced.
    pub fn session_version(&self) -> u64 {
        self.local.session_version
    }

    fn save(&self) -> Saved {
        Saved {
            version: self.local.session_version,
            last_body: self.last_body.clone(),
            direction: self.committed_direction,
        }
    }

    /// Sets the o= version: unchanged if the body is the same as the last
    /// description we sent, else one more (RFC 3264 s.8).
    fn stamp(&mut self, sdp: &mut Sdp) {
        // Compared and stored without a new buffer: an unchanged answer
        // (the common re-INVITE refresh) allocates nothing here.
        match &mut self.last_body {
            Some(last) if sdp.body_without_origin_eq(last) => {}
            Some(last) => {
                self.local.session_version = self.local.session_version.wrapping_add(1);
                sdp.write_body_without_origin(last);
            }
            None => self.last_body = Some(sdp.body_without_origin()),
        }
        if sdp.origin().map(|o| o.session_version) != Some(self.local.session_version) {
            sdp.set_session_version(self.local.session_version);
        }
    }

    /// Makes an offer (initial, or a re-offer keeping every m= line of the
    /// current session in place) and keeps it pending until
    /// [`accept_answer`](Self::accept_answer) or [`rollback`](Self::rollback).
    /// A pending offer that was not answered is replaced.
    pub fn create_offer(&mut self) -> Sdp {
        if self.pending.is_some() {
            self.rollback();
        }
        let saved = self.save();
        let mut sdp = if self.slots.is_empty() {
            create_offer(&self.caps, self.direction, &self.local)
        } else {
            self.reoffer()
        };
        self.stamp(&mut sdp);
        self.pending = Some(Pending {
            offer: sdp.to_bytes(),
            saved,
        });
        sdp
    }

    /// Convenience for a hold or resume re-INVITE: sets the direction and
    /// makes the offer. [`rollback`](Self::rollback) restores the direction
    /// of the last completed exchange.
    pub fn create_offer_with_direction(&mut self, d: Direction) -> Sdp {
        self.set_direction(d);
        self.create_offer()
    }

    fn reoffer(&self) -> Sdp {
        let mut sdp = Sdp::new(
            self.local.session_id,
            self.local.session_version,
            self.local.addr,
        );
        let mut placed: SmallVec<[&str; 2]> = SmallVec::new();
        let wanted = |kind: &str| !self.caps.codecs_for(kind).is_empty();
        let mut sections: Vec<Option<Media>> = vec![None; self.slots.len()];
        // Active streams stay where they are.
        for (i, s) in self.slots.iter().enumerate() {
            let kind = if s.media.eq_ignore_ascii_case("audio") {
                "audio"
            } else {
                "video"
            };
            if s.active && wanted(&s.media) && plain_rtp(&s.proto) && !placed.contains(&kind) {
                if let Some(port) = self.local.port_for(i) {
                    sections[i] = Some(offer_media(
                        &self.caps,
                        kind,
                        port,
                        &s.proto,
                        self.direction,
                    ));
                    placed.push(kind);
                }
            }
        }
        // New media types reuse a disabled m= line of their type, else are
        // appended (RFC 3264 s.8.1, s.8.2).
        let mut extra = Vec::new();
        for kind in ["audio", "video"] {
            if !wanted(kind) || placed.contains(&kind) {
                continue;
            }
            let reuse = self.slots.iter().enumerate().position(|(i, s)| {
                sections[i].is_none() && s.media.eq_ignore_ascii_case(kind) && plain_rtp(&s.proto)
            });
            let index = reuse.unwrap_or(self.slots.len() + extra.len());
            let Some(port) = self.local.port_for(index) else {
                continue;
            };
            let m = offer_media(&self.caps, kind, port, "RTP/AVP", self.direction);
            match reuse {
                Some(i) => sections[i] = Some(m),
                None => extra.push(m),
            }
        }
        for (i, s) in self.slots.iter().enumerate() {
            let m = sections[i].take().unwrap_or_else(|| {
                let fmts: SmallVec<[&str; 16]> = s.formats.split_ascii_whitespace().collect();
                Media::new(&s.media, 0, &s.proto, &fmts)
            });
            sdp.push_media(m);
        }
        for m in extra {
            sdp.push_media(m);
        }
        sdp
    }

    /// Takes the answer to the pending offer.
    pub fn accept_answer(&mut self, answer: &[u8]) -> Result<NegotiatedSession, NegotiationError> {
        let Some(pending) = self.pending.take() else {
            return Err(NegotiationError::NoPendingOffer);
        };
        let result = self.finish_offer(&pending, answer);
        if result.is_err() {
            // A bad answer leaves the offer pending: the caller decides
            // whether to roll back (e.g. after sending BYE or a new offer).
            self.pending = Some(pending);
        }
        result
    }

    fn finish_offer(
        &mut self,
        pending: &Pending,
        answer: &[u8],
    ) -> Result<NegotiatedSession, NegotiationError> {
        let answer_view = parse(answer, &self.limits)?;
        // Our own offer was written by us and parses strictly; lenient is
        // used only so a caller-modified offer cannot wedge the session.
        let offer_view = parse(&pending.offer, &SdpLimits::lenient())?;
        let session = process_answer(&offer_view, &answer_view, &self.local)?;
        update_slots(&mut self.slots, &offer_view, &session);
        let o = answer_view.origin();
        self.remote_origin = Some((o.session_id, o.session_version));
        self.committed_direction = self.direction;
        set_current(&mut self.current, &session);
        Ok(session)
    }

    /// Answers a remote offer (initial or re-offer). On error nothing
    /// changes, and the caller answers with [`NegotiationError::status`]
    /// (488, or 491 when our own offer is pending).
    pub fn accept_offer(
        &mut self,
        offer: &[u8],
    ) -> Result<(Sdp, NegotiatedSession), NegotiationError> {
        if self.pending.is_some() {
            return Err(NegotiationError::OfferPending);
        }
        let view = parse(offer, &self.limits)?;
        if view.media_count() < self.slots.len() {
            // RFC 3264 s.8: a re-offer keeps every m= line.
            warn!(
                previous = self.slots.len(),
                now = view.media_count(),
                "re-offer dropped m= lines"
            );
        }
        let (mut sdp, session) = create_answer(&view, &self.caps, self.direction, &self.local)?;
        self.stamp(&mut sdp);
        update_slots(&mut self.slots, &view, &session);
        let o = view.origin();
        self.remote_origin = Some((o.session_id, o.session_version));
        self.committed_direction = self.direction;
        set_current(&mut self.current, &session);
        Ok((sdp, session))
    }

    /// Drops the pending offer (491 glare, a failed re-INVITE): the session
    /// stays as last negotiated, with the o= version and direction it had.
    pub fn rollback(&mut self) {
        if let Some(p) = self.pending.take() {
            self.local.session_version = p.saved.version;
            self.last_body = p.saved.last_body;
            self.direction = p.saved.direction;
        }
    }
}

/// Remembers the m= lines of the session for re-offers, reusing the
/// strings already there (a refresh with the same lines allocates nothing).
fn update_slots(slots: &mut Vec<Slot>, desc: &SessionDescription<'_>, session: &NegotiatedSession) {
    let n = desc.media_count().min(session.streams.len());
    slots.truncate(n);
    for (i, (m, s)) in desc.media().zip(&session.streams).enumerate() {
        let set = |to: &mut String, from: &str| {
            if to != from {
                to.clear();
                to.push_str(from);
            }
        };
        match slots.get_mut(i) {
            Some(slot) => {
                set(&mut slot.media, m.media());
                set(&mut slot.proto, m.proto());
                set(&mut slot.formats, m.media_line().formats);
                slot.active = !s.rejected;
            }
            None => slots.push(Slot {
                media: m.media().to_owned(),
                proto: m.proto().to_owned(),
                formats: m.media_line().formats.to_owned(),
                active: !s.rejected,
            }),
        }
    }
}

/// Keeps a copy of the negotiated session, reusing the previous one's
/// allocations (`clone_from` all the way down).
fn set_current(current: &mut Option<NegotiatedSession>, session: &NegotiatedSession) {
    match current {
        Some(c) => c.clone_from(session),
        None => *current = Some(session.clone()),
    }
}

/// Whether `addr` is the RFC 2543 hold address.
pub fn is_hold_address(addr: IpAddr) -> bool {
    addr == IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &[u8] = include_bytes!("../../tests/data/sdp/audio_offer_320.sdp");

    fn version(sdp: &Sdp) -> u64 {
        sdp.origin().map(|o| o.session_version).unwrap_or(0)
    }

    /// The hand-written `clone_from`s (they reuse strings) copy every
    /// field: each field of `a` differs from `b`'s.
    #[test]
    fn clone_from_copies_every_field() {
        let a = NegotiatedStream {
            media: "audio".into(),
            remote_rtp: Some("127.0.0.1:4000".parse().unwrap()),
            remote_rtcp: Some("127.0.0.1:4001".parse().unwrap()),
            local_port: 6000,
            codec: Codec {
                fmtp: Some("useinbandfec=1".into()),
                ..Codec::new("opus", 48000, 2, 111)
            },
            telephone_event_pt: Some(101),
            ptime: 20,
            direction: Direction::SendOnly,
            rejected: false,
        };
        let b = NegotiatedStream {
            media: "video".into(),
            remote_rtp: None,
            remote_rtcp: None,
            local_port: 0,
            codec: Codec::new("PCMU", 8000, 1, 0),
            telephone_event_pt: None,
            ptime: 30,
            direction: Direction::Inactive,
            rejected: true,
        };
        let mut stream = b.clone();
        stream.clone_from(&a);
        assert_eq!(stream, a);
        let mut codec = b.codec.clone();
        codec.clone_from(&a.codec);
        assert_eq!(codec, a.codec);
        let session = NegotiatedSession {
            streams: vec![a, b],
        };
        let mut other = NegotiatedSession::default();
        other.clone_from(&session);
        assert_eq!(other, session);
        assert_eq!(session.clone(), session);
    }

    #[test]
    fn body_comparison_in_place_matches_the_built_body() {
        let bob = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let mut n = Negotiator::new(MediaCapabilities::default_audio(), bob, 6000, 9);
        let (answer, _) = n.accept_offer(OFFER).unwrap();
        let body = answer.body_without_origin();
        assert!(answer.body_without_origin_eq(&body));
        assert!(!answer.body_without_origin_eq(&body[..body.len() - 1]));
        let mut longer = body.clone();
        longer.push(b'x');
        assert!(!answer.body_without_origin_eq(&longer));
        let mut reused = vec![1, 2, 3];
        answer.write_body_without_origin(&mut reused);
        assert_eq!(reused, body);
    }

    /// RFC 3264 s.8: the version goes up only when the description changes;
    /// the Negotiator's reused state (slots, current session, last body)
    /// must give the same results as a fresh one.
    #[test]
    fn repeated_offers_keep_the_version_rfc3264_s8() {
        let bob = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let mut n = Negotiator::new(MediaCapabilities::default_audio(), bob, 6000, 9);
        let (first, s1) = n.accept_offer(OFFER).unwrap();
        let (again, s2) = n.accept_offer(OFFER).unwrap();
        assert_eq!(again.to_bytes(), first.to_bytes());
        assert_eq!(s1, s2);
        assert_eq!(n.current(), Some(&s2));
        // A hold re-offer changes our answer (recvonly): one version more.
        let hold = String::from_utf8(OFFER.to_vec())
            .unwrap()
            .replace("a=sendrecv", "a=sendonly");
        let (held, s3) = n.accept_offer(hold.as_bytes()).unwrap();
        assert_eq!(version(&held), version(&first) + 1);
        assert_eq!(s3.streams[0].direction, Direction::RecvOnly);
        assert_eq!(n.current(), Some(&s3));
        // Resuming changes it back: one more again.
        let (resumed, _) = n.accept_offer(OFFER).unwrap();
        assert_eq!(version(&resumed), version(&first) + 2);
        assert!(String::from_utf8(resumed.to_bytes())
            .unwrap()
            .contains("a=sendrecv\r\n"));
    }
}
