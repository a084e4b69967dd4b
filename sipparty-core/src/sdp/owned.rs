//! The owned session description and its builder methods.
//!
//! [`Sdp`] keeps every line as written (value and line ending), exactly like
//! the owned SIP message keeps header values: a parsed description that
//! nobody modified writes back byte for byte, unknown lines included. Typed
//! values are decoded on access; the builder methods write canonical lines.

use std::net::IpAddr;

use smallvec::SmallVec;

use super::attributes::{push_u64, Attribute, Direction, Fmtp, Rtcp, RtpMap, TypedAttribute};
use super::error::{SdpError, SdpLimits};
use super::fields::{addrtype, Connection, MediaLine, Origin, Timing};
use super::parse::{
    self, direction_of, media_accessors, parse, Line, LineEnding, SessionDescription,
};

/// Where one line's value sits in a [`Lines`] buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    kind: u8,
    start: u32,
    end: u32,
    ending: LineEnding,
}

impl Span {
    /// Bytes before the value: `k=`, or nothing for a blank line.
    fn prefix(&self) -> usize {
        if self.kind == 0 {
            0
        } else {
            2
        }
    }

    fn line_start(&self) -> usize {
        self.start as usize - self.prefix()
    }

    fn line_end(&self) -> usize {
        self.end as usize + self.ending.as_str().len()
    }
}

/// Lines kept in one text buffer (line endings included) with their spans:
/// serializing is a copy, and building an answer costs one allocation per
/// section (the text; the spans of a typical section fit inline).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Lines {
    text: String,
    spans: SmallVec<[Span; 12]>,
}

impl Lines {
    fn with_capacity(bytes: usize, lines: usize) -> Self {
        Lines {
            text: String::with_capacity(bytes),
            spans: SmallVec::with_capacity(lines),
        }
    }

    /// Appends a line whose value is written by `f`, ended with CRLF.
    #[inline]
    fn push_with(&mut self, kind: u8, f: impl FnOnce(&mut String)) {
        self.text.push(kind as char);
        self.text.push('=');
        let start = self.text.len() as u32;
        f(&mut self.text);
        let end = self.text.len() as u32;
        self.text.push_str("\r\n");
        self.spans.push(Span {
            kind,
            start,
            end,
            ending: LineEnding::CrLf,
        });
    }

    #[inline]
    fn push(&mut self, kind: u8, value: &str) {
        self.push_with(kind, |t| t.push_str(value));
    }

    /// Appends a line exactly as parsed.
    fn push_raw(&mut self, kind: u8, value: &str, ending: LineEnding) {
        if kind != 0 {
            self.text.push(kind as char);
            self.text.push('=');
        }
        let start = self.text.len() as u32;
        self.text.push_str(value);
        let end = self.text.len() as u32;
        self.text.push_str(ending.as_str());
        self.spans.push(Span {
            kind,
            start,
            end,
            ending,
        });
    }

    fn value(&self, i: usize) -> &str {
        let s = &self.spans[i];
        &self.text[s.start as usize..s.end as usize]
    }

    fn find(&self, kind: u8) -> Option<usize> {
        self.spans.iter().position(|s| s.kind == kind)
    }

    fn find_value(&self, kind: u8) -> Option<&str> {
        self.find(kind).map(|i| self.value(i))
    }

    /// Moves the spans from `from` on by `delta` bytes.
    fn shift(&mut self, from: usize, grow: usize, shrink: usize) {
        for s in &mut self.spans[from..] {
            s.start = (s.start as usize + grow - shrink) as u32;
            s.end = (s.end as usize + grow - shrink) as u32;
        }
    }

    fn replace(&mut self, i: usize, value: &str) {
        let s = self.spans[i];
        let old = (s.end - s.start) as usize;
        self.text
            .replace_range(s.start as usize..s.end as usize, value);
        self.spans[i].end = s.start + value.len() as u32;
        self.shift(i + 1, value.len(), old);
    }

    fn insert(&mut self, i: usize, kind: u8, value: &str) {
        if i >= self.spans.len() {
            self.push(kind, value);
            return;
        }
        let at = self.spans[i].line_start();
        let mut line = String::with_capacity(value.len() + 4);
        line.push(kind as char);
        line.push('=');
        line.push_str(value);
        line.push_str("\r\n");
        self.text.insert_str(at, &line);
        self.shift(i, line.len(), 0);
        self.spans.insert(
            i,
            Span {
                kind,
                start: (at + 2) as u32,
                end: (at + 2 + value.len()) as u32,
                ending: LineEnding::CrLf,
            },
        );
    }

    fn remove(&mut self, i: usize) {
        let s = self.spans[i];
        let (a, b) = (s.line_start(), s.line_end());
        self.text.replace_range(a..b, "");
        self.spans.remove(i);
        self.shift(i, 0, b - a);
    }

    /// Sets the value of the first line of `kind`, or inserts one before
    /// the first line whose kind is in `before` (grammar order).
    fn set(&mut self, kind: u8, value: &str, before: &[u8]) {
        if let Some(i) = self.find(kind) {
            self.replace(i, value);
            return;
        }
        let at = self
            .spans
            .iter()
            .position(|s| before.contains(&s.kind))
            .unwrap_or(self.spans.len());
        self.insert(at, kind, value);
    }

    fn iter(&self) -> impl Iterator<Item = Line<'_>> + '_ {
        self.spans.iter().map(|s| Line {
            kind: s.kind,
            value: &self.text[s.start as usize..s.end as usize],
            ending: s.ending,
        })
    }

    fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> + '_ {
        self.iter()
            .enumerate()
            .filter(|(_, l)| l.kind == b'a')
            .map(|(i, l)| Attribute::from_line(l.value, i as u32 + 1))
    }

    fn remove_directions(&mut self) {
        while let Some(i) = (0..self.spans.len())
            .find(|&i| self.spans[i].kind == b'a' && Direction::from_name(self.value(i)).is_some())
        {
            self.remove(i);
        }
    }
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
/// audio.push_fmtp(101, "0-16");
/// audio.set_direction(Direction::SendRecv);
/// sdp.push_media(audio);
/// let bytes = sdp.to_bytes();
/// assert!(bytes.starts_with(b"v=0\r\no=- 42 1 IN IP4 192.0.2.10\r\ns=-\r\n"));
/// assert_eq!(Sdp::parse(&bytes).unwrap(), sdp);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp {
    session: Lines,
    /// Inline for the usual one or two sections (no allocation).
    media: SmallVec<[Media; 2]>,
}

/// One owned media section; its first line is the m= line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    lines: Lines,
}

impl Sdp {
    /// A minimal description: `v=0`, `o=- <id> <version> IN IP4|IP6 <addr>`,
    /// `s=-`, `c=` with the same address and `t=0 0`.
    pub fn new(session_id: u64, session_version: u64, addr: IpAddr) -> Self {
        let mut session = Lines::with_capacity(128, 8);
        session.push(b'v', "0");
        // Where "IN IP4 <addr>" starts in the o= line: the c= line repeats
        // it, copied rather than written again.
        let mut conn = 0;
        session.push_with(b'o', |o| {
            o.push_str("- ");
            push_u64(o, session_id);
            o.push(' ');
            push_u64(o, session_version);
            o.push(' ');
            conn = o.len();
            o.push_str("IN ");
            o.push_str(addrtype(addr));
            o.push(' ');
            push_ip(o, addr);
        });
        // Before the o= line's CRLF.
        let conn_end = session.text.len() - 2;
        session.push(b's', "-");
        session.push_with(b'c', |c| {
            // "IN IP6 " and the longest IPv6 text fit in 64 bytes.
            let mut copy = [0u8; 64];
            let from = c.as_bytes().get(conn..conn_end);
            match from.and_then(|f| copy.get_mut(..f.len()).map(|to| (f, to))) {
                Some((f, to)) => {
                    to.copy_from_slice(f);
                    // We wrote those bytes (ASCII) just above, so this is UTF-8.
                    c.push_str(std::str::from_utf8(to).unwrap_or_default());
                }
                None => push_connection(c, addr),
            }
        });
        session.push(b't', "0 0");
        Sdp {
            session,
            media: SmallVec::new(),
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
        fn copy(lines: parse::Lines<'_, '_>) -> Lines {
            let bytes = lines.clone().map(|l| l.value.len() + 4).sum();
            let mut out = Lines::with_capacity(bytes, lines.len());
            for l in lines {
                out.push_raw(l.kind, l.value, l.ending);
            }
            out
        }
        Sdp {
            session: copy(view.session_lines()),
            media: view
                .media()
                .map(|m| Media {
                    lines: copy(m.lines()),
                })
                .collect(),
        }
    }

    /// Serializes the description.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.session.text.as_bytes());
        for m in &self.media {
            out.extend_from_slice(m.lines.text.as_bytes());
        }
    }

    /// Serializes the description into a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len =
            self.session.text.len() + self.media.iter().map(|m| m.lines.text.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        self.write_to(&mut out);
        out
    }

    /// The lines of the session section (before the first m=).
    pub fn session_lines(&self) -> impl Iterator<Item = Line<'_>> + '_ {
        self.session.iter()
    }

    /// The o= line; `None` if it was replaced by something malformed.
    pub fn origin(&self) -> Option<Origin<'_>> {
        self.session
            .find_value(b'o')
            .and_then(|v| Origin::parse(v).ok())
    }

    /// Rewrites the o= line with a new session version (RFC 3264 s.8: the
    /// version goes up by one with every changed description).
    pub fn set_session_version(&mut self, version: u64) {
        let Some(o) = self.origin() else { return };
        let mut v = String::with_capacity(64);
        v.push_str(o.username);
        v.push(' ');
        push_u64(&mut v, o.session_id);
        v.push(' ');
        push_u64(&mut v, version);
        for f in [o.nettype, o.addrtype, o.address] {
            v.push(' ');
            v.push_str(f);
        }
        self.session.set(b'o', &v, &[]);
    }

    /// The s= value.
    pub fn session_name(&self) -> Option<&str> {
        self.session.find_value(b's')
    }

    /// Sets the s= value.
    pub fn set_session_name(&mut self, name: &str) {
        self.session.set(b's', name, b"iuepcbtrzka");
    }

    /// The session-level c= line.
    pub fn connection(&self) -> Option<Connection<'_>> {
        self.session
            .find_value(b'c')
            .and_then(|v| Connection::parse(v).ok())
    }

    /// Sets the session-level c= line to a unicast address
    /// (`0.0.0.0` is the RFC 2543 hold address).
    pub fn set_connection(&mut self, addr: IpAddr) {
        let mut c = String::with_capacity(24);
        push_connection(&mut c, addr);
        self.session.set(b'c', &c, b"btrzka");
    }

    /// The first t= line.
    pub fn timing(&self) -> Option<Timing> {
        self.session
            .find_value(b't')
            .and_then(|v| Timing::parse(v).ok())
    }

    /// Sets the t= line as written (RFC 3264 s.6: an answer copies the offer's).
    pub fn set_timing_raw(&mut self, value: &str) {
        self.session.set(b't', value, b"rzka");
    }

    /// The session-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> + '_ {
        self.session.attributes()
    }

    /// The session-level direction attribute.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(self.attributes())
    }

    /// Appends a session-level attribute.
    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) {
        self.session
            .push_with(b'a', |t| push_attribute(t, name, value));
    }

    /// Appends a raw session-level line of any type but m= (kept as given;
    /// media sections are added with [`push_media`](Self::push_media)).
    pub fn push_session_line(&mut self, kind: u8, value: &str) {
        if kind != b'm' && kind.is_ascii_lowercase() {
            self.session.push(kind, value);
        }
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

    /// The description without its o= line, serialized: two descriptions
    /// with the same body differ only in their origin (RFC 3264 s.8: the
    /// version goes up only when something changed).
    pub fn body_without_origin(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_body_without_origin(&mut out);
        out
    }

    /// The pieces of [`body_without_origin`](Self::body_without_origin), in
    /// order, without copying them.
    fn body_pieces(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let t = self.session.text.as_bytes();
        let (before, after) = match self.session.find(b'o') {
            Some(i) => {
                let s = self.session.spans[i];
                (&t[..s.line_start()], &t[s.line_end()..])
            }
            None => (t, &t[t.len()..]),
        };
        [before, after]
            .into_iter()
            .chain(self.media.iter().map(|m| m.lines.text.as_bytes()))
    }

    /// Whether [`body_without_origin`](Self::body_without_origin) would
    /// equal `body`, without building it (the Negotiator's o= version check
    /// runs on every answer).
    pub(crate) fn body_without_origin_eq(&self, body: &[u8]) -> bool {
        let mut rest = body;
        for piece in self.body_pieces() {
            match rest.split_at_checked(piece.len()) {
                Some((head, tail)) if head == piece => rest = tail,
                _ => return false,
            }
        }
        rest.is_empty()
    }

    /// Replaces `out` with [`body_without_origin`](Self::body_without_origin),
    /// reusing its allocation.
    pub(crate) fn write_body_without_origin(&self, out: &mut Vec<u8>) {
        out.clear();
        for piece in self.body_pieces() {
            out.extend_from_slice(piece);
        }
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

fn push_connection(c: &mut String, addr: IpAddr) {
    c.push_str("IN ");
    c.push_str(addrtype(addr));
    c.push(' ');
    push_ip(c, addr);
}

fn push_attribute(t: &mut String, name: &str, value: Option<&str>) {
    t.push_str(name);
    if let Some(value) = value {
        t.push(':');
        t.push_str(value);
    }
}

impl Media {
    /// A media section with just its m= line.
    pub fn new(media: &str, port: u16, proto: &str, formats: &[&str]) -> Self {
        let mut lines = Lines::with_capacity(256, 12);
        lines.push_with(b'm', |m| {
            m.push_str(media);
            m.push(' ');
            push_u64(m, u64::from(port));
            m.push(' ');
            m.push_str(proto);
            for f in formats {
                m.push(' ');
                m.push_str(f);
            }
        });
        Media { lines }
    }

    /// A media section with just its m= line, the formats being RTP
    /// payload types (written as numbers, no string conversions).
    pub(crate) fn with_payload_types(media: &str, port: u16, proto: &str, pts: &[u8]) -> Self {
        let mut lines = Lines::with_capacity(256, 12);
        lines.push_with(b'm', |m| {
            m.push_str(media);
            m.push(' ');
            push_u64(m, u64::from(port));
            m.push(' ');
            m.push_str(proto);
            for &pt in pts {
                m.push(' ');
                push_u64(m, u64::from(pt));
            }
        });
        Media { lines }
    }

    /// The decoded m= line; `None` if it was replaced by something malformed.
    pub fn media_line(&self) -> Option<MediaLine<'_>> {
        MediaLine::parse(self.lines.value(0)).ok()
    }

    /// The port (0 if the m= line is malformed).
    pub fn port(&self) -> u16 {
        self.media_line().map_or(0, |m| m.port)
    }

    /// Rewrites the port of the m= line (0 rejects the stream, RFC 3264 s.6).
    pub fn set_port(&mut self, port: u16) {
        let Some(m) = self.media_line() else { return };
        let mut v = String::with_capacity(self.lines.value(0).len() + 4);
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
        self.lines.replace(0, &v);
    }

    /// The media-level c= line (no session fallback here).
    pub fn connection(&self) -> Option<Connection<'_>> {
        self.lines
            .find_value(b'c')
            .and_then(|v| Connection::parse(v).ok())
    }

    /// Sets the media-level c= line.
    pub fn set_connection(&mut self, addr: IpAddr) {
        let mut c = String::with_capacity(24);
        push_connection(&mut c, addr);
        self.lines.set(b'c', &c, b"bka");
    }

    /// The media-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> + '_ {
        self.lines.attributes()
    }

    /// Appends an attribute.
    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) {
        self.lines
            .push_with(b'a', |t| push_attribute(t, name, value));
    }

    /// Appends `a=rtpmap:<pt> <name>/<rate>[/<channels>]`.
    pub fn push_rtpmap(&mut self, pt: u8, name: &str, clock_rate: u32, channels: Option<u8>) {
        self.lines.push_with(b'a', |v| {
            v.push_str("rtpmap:");
            push_u64(v, u64::from(pt));
            v.push(' ');
            v.push_str(name);
            v.push('/');
            push_u64(v, u64::from(clock_rate));
            if let Some(c) = channels {
                v.push('/');
                push_u64(v, u64::from(c));
            }
        });
    }

    /// Appends `a=fmtp:<pt> <params>`.
    pub fn push_fmtp(&mut self, pt: u8, params: &str) {
        self.lines.push_with(b'a', |v| {
            v.push_str("fmtp:");
            push_u64(v, u64::from(pt));
            v.push(' ');
            v.push_str(params);
        });
    }

    /// Appends `a=fmtp:<pt> <params>` with the parameters written by `f`.
    pub fn push_fmtp_with(&mut self, pt: u8, f: impl FnOnce(&mut String)) {
        self.lines.push_with(b'a', |v| {
            v.push_str("fmtp:");
            push_u64(v, u64::from(pt));
            v.push(' ');
            f(v);
        });
    }

    /// Appends `a=ptime:<ms>`.
    pub fn push_ptime(&mut self, ms: u32) {
        self.lines.push_with(b'a', |v| {
            v.push_str("ptime:");
            push_u64(v, u64::from(ms));
        });
    }

    /// Replaces any direction attribute with `d` (appended last).
    pub fn set_direction(&mut self, d: Direction) {
        self.lines.remove_directions();
        self.lines.push(b'a', d.as_str());
    }

    /// Appends a direction attribute to a section that has none yet.
    pub(crate) fn push_direction(&mut self, d: Direction) {
        self.lines.push(b'a', d.as_str());
    }

    /// Appends a raw line of any type but m= (kept as given).
    pub fn push_line(&mut self, kind: u8, value: &str) {
        if kind != b'm' && kind.is_ascii_lowercase() {
            self.lines.push(kind, value);
        }
    }

    /// The lines, m= first.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> + '_ {
        self.lines.iter()
    }

    media_accessors!('_);
}
