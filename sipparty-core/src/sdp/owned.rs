//! The owned session description and its builder methods.
//!
//! [`Sdp`] keeps every line as written (value and line ending), exactly like
//! the owned SIP message keeps header values: a parsed description that
//! nobody modified writes back byte for byte, unknown lines included. Typed
//! values are decoded on access; the builder methods write canonical lines.

use std::net::IpAddr;

use super::attributes::{push_u64, Attribute, Direction, Fmtp, Rtcp, RtpMap, TypedAttribute};
use super::error::{SdpError, SdpLimits};
use super::fields::{addrtype, Connection, MediaLine, Origin, Timing};
use super::parse::{direction_of, media_accessors, parse, LineEnding, SessionDescription};

/// One owned line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OwnedLine {
    kind: u8,
    value: String,
    ending: LineEnding,
}

impl OwnedLine {
    fn new(kind: u8, value: String) -> Self {
        Self {
            kind,
            value,
            ending: LineEnding::CrLf,
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        if self.kind != 0 {
            out.push(self.kind);
            out.push(b'=');
        }
        out.extend_from_slice(self.value.as_bytes());
        out.extend_from_slice(self.ending.as_str().as_bytes());
    }
}

/// Borrowed line views of owned lines, for the shared accessors.
fn views(lines: &[OwnedLine]) -> impl Iterator<Item = super::parse::Line<'_>> + '_ {
    lines.iter().map(|l| super::parse::Line {
        kind: l.kind,
        value: &l.value,
        ending: l.ending,
    })
}

/// An owned session description.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use sipparty_core::sdp::{Sdp, Media, Direction};
/// let addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
/// let mut sdp = Sdp::new(42, 1, addr);
/// let mut audio = Media::new("audio", 49170, "RTP/AVP", &["0", "101"]);
/// audio.push_rtpmap(0, "PCMU", 8000, None);
/// audio.push_rtpmap(101, "telephone-event", 8000, None);
/// audio.push_attribute("fmtp", Some("101 0-16"));
/// audio.set_direction(Direction::SendRecv);
/// sdp.push_media(audio);
/// let bytes = sdp.to_bytes();
/// assert_eq!(Sdp::parse(&bytes).unwrap(), sdp);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp {
    session: Vec<OwnedLine>,
    media: Vec<Media>,
}

/// One owned media section; its first line is the m= line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    lines: Vec<OwnedLine>,
}

fn line_value<'s>(lines: &'s [OwnedLine], kind: u8) -> Option<&'s str> {
    lines
        .iter()
        .find(|l| l.kind == kind)
        .map(|l| l.value.as_str())
}

fn set_line(lines: &mut Vec<OwnedLine>, kind: u8, value: String, before: &[u8]) {
    if let Some(l) = lines.iter_mut().find(|l| l.kind == kind) {
        l.value = value;
        return;
    }
    // Insert at its grammar position: before the first line of a later kind.
    let at = lines
        .iter()
        .position(|l| before.contains(&l.kind))
        .unwrap_or(lines.len());
    lines.insert(at, OwnedLine::new(kind, value));
}

fn remove_directions(lines: &mut Vec<OwnedLine>) {
    lines.retain(|l| !(l.kind == b'a' && Direction::from_name(&l.value).is_some()));
}

impl Sdp {
    /// A minimal description: `v=0`, `o=- <id> <version> IN IP4|IP6 <addr>`,
    /// `s=-`, `c=` with the same address and `t=0 0`.
    pub fn new(session_id: u64, session_version: u64, addr: IpAddr) -> Self {
        let mut o = String::with_capacity(48);
        o.push_str("- ");
        push_u64(&mut o, session_id);
        o.push(' ');
        push_u64(&mut o, session_version);
        o.push_str(" IN ");
        o.push_str(addrtype(addr));
        o.push(' ');
        push_ip(&mut o, addr);
        let mut c = String::with_capacity(24);
        c.push_str("IN ");
        c.push_str(addrtype(addr));
        c.push(' ');
        push_ip(&mut c, addr);
        Sdp {
            session: vec![
                OwnedLine::new(b'v', "0".into()),
                OwnedLine::new(b'o', o),
                OwnedLine::new(b's', "-".into()),
                OwnedLine::new(b'c', c),
                OwnedLine::new(b't', "0 0".into()),
            ],
            media: Vec::new(),
        }
    }

    /// Parses with the default (strict) limits.
    pub fn parse(input: &[u8]) -> Result<Sdp, SdpError> {
        Self::parse_with(input, &SdpLimits::default())
    }

    /// Parses with the given limits.
    pub fn parse_with(input: &[u8], limits: &SdpLimits) -> Result<Sdp, SdpError> {
        parse(input, limits).map(|d| Sdp::from_view(&d))
    }

    /// Copies a borrowed description, keeping every line as written.
    pub fn from_view(view: &SessionDescription<'_>) -> Sdp {
        let own = |l: &super::parse::Line<'_>| OwnedLine {
            kind: l.kind,
            value: l.value.to_owned(),
            ending: l.ending,
        };
        Sdp {
            session: view.session_lines().iter().map(own).collect(),
            media: view
                .media()
                .map(|m| Media {
                    lines: m.lines().iter().map(own).collect(),
                })
                .collect(),
        }
    }

    /// Serializes the description.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for l in &self.session {
            l.write_to(out);
        }
        for m in &self.media {
            for l in &m.lines {
                l.write_to(out);
            }
        }
    }

    /// Serializes the description into a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len_hint());
        self.write_to(&mut out);
        out
    }

    fn len_hint(&self) -> usize {
        let count = |ls: &[OwnedLine]| ls.iter().map(|l| l.value.len() + 4).sum::<usize>();
        count(&self.session) + self.media.iter().map(|m| count(&m.lines)).sum::<usize>()
    }

    /// The o= line; `None` if it was replaced by something malformed.
    pub fn origin(&self) -> Option<Origin<'_>> {
        line_value(&self.session, b'o').and_then(|v| Origin::parse(v).ok())
    }

    /// Rewrites the o= line with a new session version (RFC 3264 s.8: the
    /// version goes up by one with every changed description).
    pub fn set_session_version(&mut self, version: u64) {
        let Some(o) = self.origin() else { return };
        let mut v = String::with_capacity(48);
        v.push_str(o.username);
        v.push(' ');
        push_u64(&mut v, o.session_id);
        v.push(' ');
        push_u64(&mut v, version);
        for f in [o.nettype, o.addrtype, o.address] {
            v.push(' ');
            v.push_str(f);
        }
        set_line(&mut self.session, b'o', v, &[]);
    }

    /// The s= value.
    pub fn session_name(&self) -> Option<&str> {
        line_value(&self.session, b's')
    }

    /// Sets the s= value.
    pub fn set_session_name(&mut self, name: &str) {
        set_line(&mut self.session, b's', name.to_owned(), b"iuepcbtrzkam");
    }

    /// The session-level c= line.
    pub fn connection(&self) -> Option<Connection<'_>> {
        line_value(&self.session, b'c').and_then(|v| Connection::parse(v).ok())
    }

    /// Sets the session-level c= line to a unicast address.
    pub fn set_connection(&mut self, addr: IpAddr) {
        set_line(&mut self.session, b'c', connection_value(addr), b"btrzka");
    }

    /// The first t= line.
    pub fn timing(&self) -> Option<Timing> {
        line_value(&self.session, b't').and_then(|v| Timing::parse(v).ok())
    }

    /// Sets the t= line (RFC 3264 s.6: an answer copies the offer's).
    pub fn set_timing_raw(&mut self, value: &str) {
        set_line(&mut self.session, b't', value.to_owned(), b"rzka");
    }

    /// The session-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> + '_ {
        self.session
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == b'a')
            .map(|(i, l)| Attribute::from_line(&l.value, i as u32 + 1))
    }

    /// The session-level direction attribute.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(self.attributes())
    }

    /// Appends a session-level attribute.
    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) {
        self.session
            .push(OwnedLine::new(b'a', attribute_value(name, value)));
    }

    /// Appends a raw session-level line of any type (kept as given).
    pub fn push_session_line(&mut self, kind: u8, value: &str) {
        self.session.push(OwnedLine::new(kind, value.to_owned()));
    }

    /// The media sections.
    pub fn media(&self) -> &[Media] {
        &self.media
    }

    /// The media sections, mutably.
    pub fn media_mut(&mut self) -> &mut [Media] {
        &mut self.media
    }

    /// Appends a media section.
    pub fn push_media(&mut self, media: Media) {
        self.media.push(media);
    }

    /// The lines of the description other than o=, serialized: two
    /// descriptions with the same body differ only in their origin (used to
    /// decide whether the o= version must go up, RFC 3264 s.8).
    pub fn body_without_origin(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len_hint());
        for l in self.session.iter().filter(|l| l.kind != b'o') {
            l.write_to(&mut out);
        }
        for m in &self.media {
            for l in &m.lines {
                l.write_to(&mut out);
            }
        }
        out
    }
}

fn push_ip(out: &mut String, addr: IpAddr) {
    use std::fmt::Write;
    match addr {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(*o));
            }
        }
        // Writing to a String cannot fail.
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

fn connection_value(addr: IpAddr) -> String {
    let mut c = String::with_capacity(24);
    c.push_str("IN ");
    c.push_str(addrtype(addr));
    c.push(' ');
    push_ip(&mut c, addr);
    c
}

fn attribute_value(name: &str, value: Option<&str>) -> String {
    let mut v = String::with_capacity(name.len() + value.map_or(0, |v| v.len() + 1));
    v.push_str(name);
    if let Some(value) = value {
        v.push(':');
        v.push_str(value);
    }
    v
}

impl Media {
    /// A media section with just its m= line.
    pub fn new(media: &str, port: u16, proto: &str, formats: &[&str]) -> Self {
        let mut m = String::with_capacity(32);
        m.push_str(media);
        m.push(' ');
        push_u64(&mut m, u64::from(port));
        m.push(' ');
        m.push_str(proto);
        for f in formats {
            m.push(' ');
            m.push_str(f);
        }
        Media {
            lines: vec![OwnedLine::new(b'm', m)],
        }
    }

    /// The decoded m= line; `None` if it was replaced by something malformed.
    pub fn media_line(&self) -> Option<MediaLine<'_>> {
        MediaLine::parse(&self.lines[0].value).ok()
    }

    /// The port (0 if the m= line is malformed).
    pub fn port(&self) -> u16 {
        self.media_line().map_or(0, |m| m.port)
    }

    /// Rewrites the port of the m= line (0 rejects the stream, RFC 3264 s.6).
    pub fn set_port(&mut self, port: u16) {
        let Some(m) = self.media_line() else { return };
        let mut v = String::with_capacity(self.lines[0].value.len());
        v.push_str(m.media);
        v.push(' ');
        push_u64(&mut v, u64::from(port));
        if let Some(c) = m.port_count {
            v.push('/');
            push_u64(&mut v, u64::from(c));
        }
        v.push(' ');
        v.push_str(m.proto);
        v.push(' ');
        v.push_str(m.formats);
        self.lines[0].value = v;
    }

    /// The media-level c= line (no session fallback here).
    pub fn connection(&self) -> Option<Connection<'_>> {
        line_value(&self.lines, b'c').and_then(|v| Connection::parse(v).ok())
    }

    /// Sets the media-level c= line.
    pub fn set_connection(&mut self, addr: IpAddr) {
        set_line(&mut self.lines, b'c', connection_value(addr), b"bka");
    }

    /// The media-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> + '_ {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == b'a')
            .map(|(i, l)| Attribute::from_line(&l.value, i as u32 + 1))
    }

    /// Appends an attribute.
    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) {
        self.lines
            .push(OwnedLine::new(b'a', attribute_value(name, value)));
    }

    /// Appends `a=rtpmap:<pt> <name>/<rate>[/<channels>]`.
    pub fn push_rtpmap(&mut self, pt: u8, name: &str, clock_rate: u32, channels: Option<u8>) {
        let mut v = String::with_capacity(24 + name.len());
        v.push_str("rtpmap:");
        push_u64(&mut v, u64::from(pt));
        v.push(' ');
        v.push_str(name);
        v.push('/');
        push_u64(&mut v, u64::from(clock_rate));
        if let Some(c) = channels {
            v.push('/');
            push_u64(&mut v, u64::from(c));
        }
        self.lines.push(OwnedLine::new(b'a', v));
    }

    /// Appends `a=fmtp:<pt> <params>`.
    pub fn push_fmtp(&mut self, pt: u8, params: &str) {
        let mut v = String::with_capacity(12 + params.len());
        v.push_str("fmtp:");
        push_u64(&mut v, u64::from(pt));
        v.push(' ');
        v.push_str(params);
        self.lines.push(OwnedLine::new(b'a', v));
    }

    /// Appends `a=ptime:<ms>`.
    pub fn push_ptime(&mut self, ms: u32) {
        let mut v = String::with_capacity(12);
        v.push_str("ptime:");
        push_u64(&mut v, u64::from(ms));
        self.lines.push(OwnedLine::new(b'a', v));
    }

    /// Replaces any direction attribute with `d`.
    pub fn set_direction(&mut self, d: Direction) {
        remove_directions(&mut self.lines);
        self.lines.push(OwnedLine::new(b'a', d.as_str().to_owned()));
    }

    /// Appends a raw line of any type (kept as given).
    pub fn push_line(&mut self, kind: u8, value: &str) {
        self.lines.push(OwnedLine::new(kind, value.to_owned()));
    }

    /// The lines as borrowed views, m= first.
    pub fn lines(&self) -> impl Iterator<Item = super::parse::Line<'_>> + '_ {
        views(&self.lines)
    }

    media_accessors!('_);
}
