//! SDP attributes (`a=` lines), kept raw and decoded on access.
//!
//! [`Attribute`] is the raw `name[:value]` view of one line; its typed
//! accessors decode the common attributes of SIP and WebRTC offers. Any
//! attribute that is not understood is still there, unchanged, as
//! [`TypedAttribute::Other`].

use std::fmt;

use super::error::{SdpError, SdpErrorKind};
use super::fields::{parse_payload_type, parse_u16, parse_u32, parse_u8};
use crate::text::{decimal, Digits};

/// The media direction (RFC 3264 s.5.1, RFC 8866 s.6.7).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Send and receive (the default when no direction attribute is present).
    #[default]
    SendRecv,
    /// Send only.
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither send nor receive.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// Decodes a direction attribute name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        // Nearly always written in lower case: compare exactly first.
        match name {
            "sendrecv" => return Some(Self::SendRecv),
            "sendonly" => return Some(Self::SendOnly),
            "recvonly" => return Some(Self::RecvOnly),
            "inactive" => return Some(Self::Inactive),
            _ if name.len() != 8 => return None,
            _ => {}
        }
        [
            Self::SendRecv,
            Self::SendOnly,
            Self::RecvOnly,
            Self::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }

    /// Builds a direction from whether media is sent and received.
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// The same stream seen from the other side: sendonly becomes recvonly
    /// (RFC 3264 s.6.1).
    pub fn reverse(self) -> Self {
        Self::from_flags(self.receives(), self.sends())
    }

    /// What both allow: sends only if both send, receives only if both receive.
    pub fn intersect(self, other: Self) -> Self {
        Self::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One raw attribute line: `a=name` or `a=name:value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The attribute name, as written.
    pub name: &'a str,
    /// The value after the first `:`, as written (`None` for a flag attribute).
    pub value: Option<&'a str>,
    /// The 1-based line number in the description (0 if built, not parsed).
    pub line: u32,
}

fn bad(line: u32) -> SdpError {
    SdpError::new(line, SdpErrorKind::InvalidAttribute)
}

impl<'a> Attribute<'a> {
    /// Splits the value of an `a=` line.
    #[inline]
    pub fn from_line(value: &'a str, line: u32) -> Self {
        // Names are short: a byte loop beats a vectorised search here.
        match value.bytes().position(|b| b == b':') {
            // ':' is ASCII, so both sides are on char boundaries.
            Some(i) => Attribute {
                name: &value[..i],
                value: Some(&value[i + 1..]),
                line,
            },
            None => Attribute {
                name: value,
                value: None,
                line,
            },
        }
    }

    /// Whether the name equals `name` (case-insensitive, as SDP attribute
    /// names are compared in practice).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    fn value_or_err(&self) -> Result<&'a str, SdpError> {
        self.value.map(str::trim).ok_or(bad(self.line))
    }

    /// Decodes the attribute by name. Unknown attributes come back as
    /// [`TypedAttribute::Other`]; a known attribute with a malformed value
    /// is an error carrying the line number.
    pub fn typed(&self) -> Result<TypedAttribute<'a>, SdpError> {
        let n = self.name;
        let line = self.line;
        let t = if n.eq_ignore_ascii_case("rtpmap") {
            TypedAttribute::RtpMap(RtpMap::parse(self.value_or_err()?).map_err(|e| e.at(line))?)
        } else if n.eq_ignore_ascii_case("fmtp") {
            TypedAttribute::Fmtp(Fmtp::parse(self.value_or_err()?).map_err(|e| e.at(line))?)
        } else if n.eq_ignore_ascii_case("ptime") {
            TypedAttribute::Ptime(parse_ptime(self.value_or_err()?).ok_or(bad(line))?)
        } else if n.eq_ignore_ascii_case("maxptime") {
            TypedAttribute::MaxPtime(parse_ptime(self.value_or_err()?).ok_or(bad(line))?)
        } else if let Some(d) = Direction::from_name(n) {
            TypedAttribute::Direction(d)
        } else if n.eq_ignore_ascii_case("rtcp") {
            TypedAttribute::Rtcp(Rtcp::parse(self.value_or_err()?).map_err(|e| e.at(line))?)
        } else if n.eq_ignore_ascii_case("rtcp-mux") {
            TypedAttribute::RtcpMux
        } else if n.eq_ignore_ascii_case("mid") {
            TypedAttribute::Mid(self.value_or_err()?)
        } else if n.eq_ignore_ascii_case("group") {
            TypedAttribute::Group(Group::parse(self.value_or_err()?).map_err(|e| e.at(line))?)
        } else if n.eq_ignore_ascii_case("ssrc") {
            TypedAttribute::Ssrc(Ssrc::parse(self.value_or_err()?).map_err(|e| e.at(line))?)
        } else if n.eq_ignore_ascii_case("crypto") {
            TypedAttribute::Crypto(Crypto::parse(self.value_or_err()?).map_err(|e| e.at(line))?)
        } else if n.eq_ignore_ascii_case("candidate") {
            TypedAttribute::Candidate(
                Candidate::parse(self.value_or_err()?).map_err(|e| e.at(line))?,
            )
        } else if n.eq_ignore_ascii_case("setup") {
            TypedAttribute::Setup(Setup::parse(self.value_or_err()?).ok_or(bad(line))?)
        } else if n.eq_ignore_ascii_case("fingerprint") {
            TypedAttribute::Fingerprint(
                Fingerprint::parse(self.value_or_err()?).map_err(|e| e.at(line))?,
            )
        } else if n.eq_ignore_ascii_case("extmap") {
            TypedAttribute::ExtMap(ExtMap::parse(self.value_or_err()?).map_err(|e| e.at(line))?)
        } else {
            TypedAttribute::Other(*self)
        };
        Ok(t)
    }
}

/// A decoded attribute.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypedAttribute<'a> {
    /// `a=rtpmap` (RFC 8866 s.6.6).
    RtpMap(RtpMap<'a>),
    /// `a=fmtp` (RFC 8866 s.6.15).
    Fmtp(Fmtp<'a>),
    /// `a=ptime` in milliseconds (RFC 8866 s.6.4); fractions are truncated.
    Ptime(u32),
    /// `a=maxptime` in milliseconds (RFC 8866 s.6.5).
    MaxPtime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive`.
    Direction(Direction),
    /// `a=rtcp` (RFC 3605).
    Rtcp(Rtcp<'a>),
    /// `a=rtcp-mux` (RFC 5761).
    RtcpMux,
    /// `a=mid` (RFC 5888).
    Mid(&'a str),
    /// `a=group` (RFC 5888).
    Group(Group<'a>),
    /// `a=ssrc` (RFC 5576).
    Ssrc(Ssrc<'a>),
    /// `a=crypto` (RFC 4568, SDES-SRTP).
    Crypto(Crypto<'a>),
    /// `a=candidate` (RFC 8839, ICE).
    Candidate(Candidate<'a>),
    /// `a=setup` (RFC 4145).
    Setup(Setup),
    /// `a=fingerprint` (RFC 8122).
    Fingerprint(Fingerprint<'a>),
    /// `a=extmap` (RFC 8285).
    ExtMap(ExtMap<'a>),
    /// Any other attribute, as written.
    Other(Attribute<'a>),
}

/// Up to ten decimal digits from `i` (so no overflow) and where they end;
/// `None` if there are none or more. For the short numbers of attributes.
#[inline(always)]
pub(crate) fn small_number(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut j = i;
    while let Some(&c) = b.get(j) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if j - i == 10 {
            return None;
        }
        v = v * 10 + u64::from(d);
        j += 1;
    }
    (j > i).then_some((v, j))
}

/// `ptime`/`maxptime`: integer milliseconds; some peers write `20.0`, so a
/// decimal fraction is accepted and truncated.
pub(crate) fn parse_ptime(v: &str) -> Option<u32> {
    // The usual `20`, without splitting.
    if let Some((p, j)) = small_number(v.as_bytes(), 0) {
        if j == v.len() {
            return u32::try_from(p).ok();
        }
    }
    match v.split_once('.') {
        Some((i, f)) if f.bytes().all(|b| b.is_ascii_digit()) => parse_u32(i),
        Some(_) => None,
        None => parse_u32(v),
    }
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// The payload type, 0..=127.
    pub payload_type: u8,
    /// The encoding name as written (compare case-insensitively).
    pub encoding: &'a str,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The encoding parameters: the channel count for audio.
    pub channels: Option<u8>,
}

impl<'a> RtpMap<'a> {
    /// Decodes an rtpmap value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        match Self::parse_canonical(v) {
            Some(r) => Ok(r),
            None => Self::parse_general(v),
        }
    }

    /// The fast path: `<digits> SP <name>/<rate>[/<channels>]` with no other
    /// blank and only ASCII, which the general path reads the same way
    /// (nothing to trim, a single split point). `None` for anything else.
    /// One pass over the bytes; no splitting iterators.
    #[inline]
    fn parse_canonical(v: &'a str) -> Option<Self> {
        let b = v.as_bytes();
        let (pt, mut i) = small_number(b, 0)?;
        if pt > 127 || b.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        let name_start = i;
        loop {
            match *b.get(i)? {
                b'/' => break,
                c if c <= b' ' || c >= 0x7F => return None,
                _ => i += 1,
            }
        }
        if i == name_start {
            return None;
        }
        let encoding = v.get(name_start..i)?;
        let (clock_rate, j) = small_number(b, i + 1)?;
        let clock_rate = u32::try_from(clock_rate).ok()?;
        let channels = match b.get(j) {
            None => None,
            Some(b'/') => {
                let (c, k) = small_number(b, j + 1)?;
                if k != b.len() {
                    return None;
                }
                Some(u8::try_from(c).ok()?)
            }
            Some(_) => return None,
        };
        Some(RtpMap {
            payload_type: pt as u8,
            encoding,
            clock_rate,
            channels,
        })
    }

    fn parse_general(v: &'a str) -> Result<Self, SdpError> {
        let (pt, rest) = v.trim().split_once([' ', '\t']).ok_or(bad(0))?;
        let payload_type = parse_payload_type(pt).map_err(|k| SdpError::new(0, k))?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty()).ok_or(bad(0))?;
        let clock_rate = parts.next().and_then(parse_u32).ok_or(bad(0))?;
        let channels = match parts.next() {
            Some(c) => Some(parse_u8(c).ok_or(bad(0))?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad(0));
        }
        Ok(RtpMap {
            payload_type,
            encoding,
            clock_rate,
            channels,
        })
    }
}

/// `a=fmtp:<format> <format specific parameters>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// The format (a payload type for RTP), as written.
    pub format: &'a str,
    /// The parameters, as written.
    pub params: &'a str,
}

impl<'a> Fmtp<'a> {
    /// Decodes an fmtp value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        // The usual `<format> SP <params>` with nothing to trim.
        let b = v.as_bytes();
        if let Some(sp) = b.iter().position(|&c| c == b' ') {
            // ASCII and not blank: nothing `trim` would remove.
            let edge = |c: Option<&u8>| c.is_some_and(|&c| c > b' ' && c < 0x80);
            if sp > 0 && edge(b.first()) && edge(b.get(sp + 1)) && edge(b.last()) {
                if let (Some(format), Some(params)) = (v.get(..sp), v.get(sp + 1..)) {
                    if !format.contains('\t') {
                        return Ok(Fmtp { format, params });
                    }
                }
            }
        }
        let v = v.trim();
        let (format, params) = match v.split_once([' ', '\t']) {
            Some((f, p)) => (f, p.trim()),
            None => (v, ""),
        };
        if format.is_empty() {
            return Err(bad(0));
        }
        Ok(Fmtp { format, params })
    }

    /// The format as an RTP payload type.
    pub fn payload_type(&self) -> Option<u8> {
        parse_payload_type(self.format).ok()
    }

    /// The `;`-separated `key[=value]` parameters, trimmed.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.params
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (p, None),
            })
    }

    /// The value of parameter `key` (case-insensitive).
    pub fn param(&self, key: &str) -> Option<&'a str> {
        self.params()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v)
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtcp<'a> {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when not the one in c=.
    pub address: Option<&'a str>,
}

impl<'a> Rtcp<'a> {
    /// Decodes an rtcp value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        // The usual bare port.
        if let Some((p, j)) = small_number(v.as_bytes(), 0) {
            if j == v.len() {
                let port = u16::try_from(p).map_err(|_| bad(0))?;
                return Ok(Rtcp {
                    port,
                    address: None,
                });
            }
        }
        let mut it = v.split_ascii_whitespace();
        let port = it.next().and_then(parse_u16).ok_or(bad(0))?;
        let address = match (it.next(), it.next(), it.next()) {
            (None, _, _) => None,
            (Some(_), Some(_), Some(a)) => Some(a),
            _ => return Err(bad(0)),
        };
        Ok(Rtcp { port, address })
    }
}

/// `a=group:<semantics> *(SP <identification-tag>)` (RFC 5888).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group<'a> {
    /// `BUNDLE`, `LS`, `FID`...
    pub semantics: &'a str,
    /// The mids, space separated, as written.
    pub mids: &'a str,
}

impl<'a> Group<'a> {
    /// Decodes a group value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        let v = v.trim();
        let (semantics, mids) = v.split_once(' ').unwrap_or((v, ""));
        if semantics.is_empty() {
            return Err(bad(0));
        }
        Ok(Group {
            semantics,
            mids: mids.trim(),
        })
    }

    /// The mids, one by one.
    pub fn mids(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.mids.split_ascii_whitespace()
    }
}

/// `a=ssrc:<ssrc-id> <attribute>[:<value>]` (RFC 5576).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssrc<'a> {
    /// The synchronization source.
    pub ssrc: u32,
    /// The source attribute name (`cname`, `msid`...).
    pub attribute: &'a str,
    /// Its value.
    pub value: Option<&'a str>,
}

impl<'a> Ssrc<'a> {
    /// Decodes an ssrc value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        let v = v.trim();
        let (id, rest) = v.split_once(' ').unwrap_or((v, ""));
        let ssrc = parse_u32(id).ok_or(bad(0))?;
        let rest = rest.trim();
        if rest.is_empty() {
            return Err(bad(0));
        }
        let (attribute, value) = match rest.split_once(':') {
            Some((a, v)) => (a, Some(v)),
            None => (rest, None),
        };
        Ok(Ssrc {
            ssrc,
            attribute,
            value,
        })
    }
}

/// `a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]` (RFC 4568 s.9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crypto<'a> {
    /// The tag, unique within the media section.
    pub tag: u32,
    /// `AES_CM_128_HMAC_SHA1_80`...
    pub suite: &'a str,
    /// `inline:<key||salt>[|lifetime][|MKI:length]`, as written.
    pub key_params: &'a str,
    /// The session parameters, as written (empty if none).
    pub session_params: &'a str,
}

impl<'a> Crypto<'a> {
    /// Decodes a crypto value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        let v = v.trim();
        let mut it = v.splitn(4, ' ');
        let tag = it.next().and_then(parse_u32).ok_or(bad(0))?;
        let suite = it.next().filter(|s| !s.is_empty()).ok_or(bad(0))?;
        let key_params = it.next().filter(|s| !s.is_empty()).ok_or(bad(0))?;
        let session_params = it.next().unwrap_or("").trim();
        Ok(Crypto {
            tag,
            suite,
            key_params,
            session_params,
        })
    }
}

/// `a=candidate:` (RFC 8839 s.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The foundation.
    pub foundation: &'a str,
    /// The component id (1 RTP, 2 RTCP).
    pub component: u32,
    /// `UDP`, `TCP`...
    pub transport: &'a str,
    /// The priority.
    pub priority: u32,
    /// The connection address (IP or FQDN, or an mDNS name).
    pub address: &'a str,
    /// The port.
    pub port: u16,
    /// `host`, `srflx`, `prflx`, `relay`.
    pub typ: &'a str,
    /// `raddr`, when present.
    pub related_address: Option<&'a str>,
    /// `rport`, when present.
    pub related_port: Option<u16>,
    /// The extension name/value pairs that follow, as written.
    pub extensions: &'a str,
}

impl<'a> Candidate<'a> {
    /// Decodes a candidate value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        let v = v.trim();
        let mut it = v.split_ascii_whitespace();
        let foundation = it.next().ok_or(bad(0))?;
        let component = it.next().and_then(parse_u32).ok_or(bad(0))?;
        let transport = it.next().ok_or(bad(0))?;
        let priority = it.next().and_then(parse_u32).ok_or(bad(0))?;
        let address = it.next().ok_or(bad(0))?;
        let port = it.next().and_then(parse_u16).ok_or(bad(0))?;
        if !it.next().is_some_and(|t| t == "typ") {
            return Err(bad(0));
        }
        let typ = it.next().ok_or(bad(0))?;
        let mut related_address = None;
        let mut related_port = None;
        let mut extensions = "";
        while let Some(name) = it.next() {
            match name {
                "raddr" => related_address = Some(it.next().ok_or(bad(0))?),
                "rport" => related_port = Some(it.next().and_then(parse_u16).ok_or(bad(0))?),
                _ => {
                    // The rest of the line from this name on.
                    let start = name.as_ptr() as usize - v.as_ptr() as usize;
                    extensions = &v[start..];
                    break;
                }
            }
        }
        Ok(Candidate {
            foundation,
            component,
            transport,
            priority,
            address,
            port,
            typ,
            related_address,
            related_port,
            extensions,
        })
    }
}

/// `a=setup` (RFC 4145 s.4): who opens the connection.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setup {
    /// Opens the connection.
    Active,
    /// Accepts the connection.
    Passive,
    /// Either (offers use this).
    ActPass,
    /// Not yet.
    HoldConn,
}

impl Setup {
    /// Decodes a setup value (case-insensitive).
    pub fn parse(v: &str) -> Option<Self> {
        let v = v.trim();
        [
            ("active", Self::Active),
            ("passive", Self::Passive),
            ("actpass", Self::ActPass),
            ("holdconn", Self::HoldConn),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(v))
        .map(|(_, s)| s)
    }

    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
            Self::ActPass => "actpass",
            Self::HoldConn => "holdconn",
        }
    }
}

/// `a=fingerprint:<hash-func> <fingerprint>` (RFC 8122 s.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint<'a> {
    /// `sha-256`...
    pub hash_function: &'a str,
    /// Colon-separated upper-case hex bytes, as written.
    pub fingerprint: &'a str,
}

impl<'a> Fingerprint<'a> {
    /// Decodes a fingerprint value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        let mut it = v.split_ascii_whitespace();
        let hash_function = it.next().ok_or(bad(0))?;
        let fingerprint = it.next().ok_or(bad(0))?;
        if it.next().is_some()
            || !fingerprint
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':')
        {
            return Err(bad(0));
        }
        Ok(Fingerprint {
            hash_function,
            fingerprint,
        })
    }
}

/// `a=extmap:<id>[/<direction>] <uri> [<extension attributes>]` (RFC 8285 s.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtMap<'a> {
    /// The local identifier, 1..=14 (one-byte) or up to 255 (two-byte).
    pub id: u16,
    /// The direction, when given.
    pub direction: Option<Direction>,
    /// The extension URI.
    pub uri: &'a str,
    /// Extension attributes, as written (empty if none).
    pub attributes: &'a str,
}

impl<'a> ExtMap<'a> {
    /// Decodes an extmap value.
    pub fn parse(v: &'a str) -> Result<Self, SdpError> {
        let v = v.trim();
        let (head, rest) = v.split_once(' ').ok_or(bad(0))?;
        let (id, direction) = match head.split_once('/') {
            Some((i, d)) => (i, Some(Direction::from_name(d).ok_or(bad(0))?)),
            None => (head, None),
        };
        let id = parse_u16(id)
            .filter(|i| (1..=4095).contains(i))
            .ok_or(bad(0))?;
        let rest = rest.trim();
        let (uri, attributes) = rest.split_once(' ').unwrap_or((rest, ""));
        if uri.is_empty() {
            return Err(bad(0));
        }
        Ok(ExtMap {
            id,
            direction,
            uri,
            attributes: attributes.trim(),
        })
    }
}

/// Telephone-event lists (`0-15,66,70`, RFC 4733 s.7.1.1) as a 256-bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EventSet([u64; 4]);

impl EventSet {
    /// RFC 4733 s.7.1.1: with no fmtp, the DTMF events 0-15 are implied.
    pub const DEFAULT_DTMF: EventSet = EventSet([0xFFFF, 0, 0, 0]);

    /// Decodes an events list; `None` if malformed.
    pub fn parse(list: &str) -> Option<Self> {
        if let Some(set) = Self::parse_compact(list.as_bytes()) {
            return Some(set);
        }
        let mut set = EventSet::default();
        for item in list.split(',').map(str::trim) {
            let (lo, hi) = match item.bytes().position(|b| b == b'-') {
                Some(i) => (parse_u8(item[..i].trim())?, parse_u8(item[i + 1..].trim())?),
                None => {
                    let e = parse_u8(item)?;
                    (e, e)
                }
            };
            if lo > hi {
                return None;
            }
            set.insert_range(lo, hi);
        }
        Some(set)
    }

    /// The usual form without blanks (`0-15,66`), in one pass; `None` for
    /// anything else (the general parse then decides).
    fn parse_compact(b: &[u8]) -> Option<Self> {
        let mut set = EventSet::default();
        let mut i = 0;
        loop {
            let (lo, j) = small_number(b, i)?;
            let (hi, j) = match b.get(j) {
                Some(b'-') => small_number(b, j + 1)?,
                _ => (lo, j),
            };
            let (lo, hi) = (u8::try_from(lo).ok()?, u8::try_from(hi).ok()?);
            if lo > hi {
                return None;
            }
            set.insert_range(lo, hi);
            match b.get(j) {
                None => return Some(set),
                Some(b',') => i = j + 1,
                Some(_) => return None,
            }
        }
    }

    /// Adds the events `lo..=hi`, a word at a time.
    fn insert_range(&mut self, lo: u8, hi: u8) {
        let (lo, hi) = (u32::from(lo), u32::from(hi));
        for w in lo / 64..=hi / 64 {
            let from = if w == lo / 64 { lo % 64 } else { 0 };
            let to = if w == hi / 64 { hi % 64 } else { 63 };
            // Bits from..=to of this word.
            let mask = (u64::MAX >> (63 - (to - from))) << from;
            self.0[w as usize] |= mask;
        }
    }

    /// The first event >= `from` that is (`member`) or is not in the set.
    fn next_from(&self, from: u16, member: bool) -> Option<u16> {
        let mut i = from;
        while i < 256 {
            let w = usize::from(i / 64);
            let word = if member { self.0[w] } else { !self.0[w] };
            let bits = word >> (i % 64);
            if bits != 0 {
                return Some(i + bits.trailing_zeros() as u16);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    /// Adds an event.
    pub fn insert(&mut self, e: u8) {
        self.0[usize::from(e / 64)] |= 1 << (e % 64);
    }

    /// Whether the set holds `e`.
    pub fn contains(&self, e: u8) -> bool {
        self.0[usize::from(e / 64)] & (1 << (e % 64)) != 0
    }

    /// The events in both sets.
    pub fn intersect(&self, other: &Self) -> Self {
        let mut out = *self;
        for (o, b) in out.0.iter_mut().zip(other.0) {
            *o &= b;
        }
        out
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// Writes the set in RFC 4733 form, ranges collapsed (`0-16`).
    pub fn write_to(&self, out: &mut String) {
        let mut first = true;
        let mut e: u16 = 0;
        while e < 256 {
            // Skip to the next member, then to the end of its run, a word
            // at a time.
            let Some(start) = self.next_from(e, true) else {
                break;
            };
            e = self.next_from(start, false).unwrap_or(256);
            if !first {
                out.push(',');
            }
            first = false;
            push_u64(out, u64::from(start));
            if e - 1 > start {
                out.push('-');
                push_u64(out, u64::from(e - 1));
            }
        }
    }
}

/// Appends a decimal number without going through `fmt` (this is on the
/// answer fast path). Numbers in descriptions are mostly one to three
/// digits (payload types, ptime, address octets): those are pushed as
/// characters directly; longer ones are written backwards into a small
/// buffer first.
// The short cases are inlined at every call site (a dozen per answer);
// longer numbers go to `push_u64_long`.
#[inline(always)]
pub(crate) fn push_u64(out: &mut String, v: u64) {
    let digit = |d: u64| char::from(b'0' + (d % 10) as u8);
    if v < 10 {
        out.push(digit(v));
    } else if v < 100 {
        out.push(digit(v / 10));
        out.push(digit(v));
    } else if v < 1000 {
        out.push(digit(v / 100));
        out.push(digit(v / 10));
        out.push(digit(v));
    } else {
        push_u64_long(out, v);
    }
}

/// [`push_u64`] for numbers of four digits or more.
#[inline(never)]
fn push_u64_long(out: &mut String, v: u64) {
    // The usual RTP clock rates, as literals (a fixed-size copy).
    match v {
        8000 => return out.push_str("8000"),
        16000 => return out.push_str("16000"),
        48000 => return out.push_str("48000"),
        90000 => return out.push_str("90000"),
        _ => {}
    }
    let mut digits = Digits::default();
    out.push_str(decimal(v, &mut digits));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_rfc8866_s6_6() {
        let r = RtpMap::parse("98 L16/16000/2").unwrap();
        assert_eq!(
            (r.payload_type, r.encoding, r.clock_rate, r.channels),
            (98, "L16", 16000, Some(2))
        );
        assert_eq!(
            RtpMap::parse("4294967296 PCMU/8000").unwrap_err().kind,
            SdpErrorKind::InvalidPayloadType
        );
        assert_eq!(
            RtpMap::parse("99999999999999999999999 PCMU/8000")
                .unwrap_err()
                .kind,
            SdpErrorKind::InvalidNumber
        );
        assert_eq!(
            RtpMap::parse("128 PCMU/8000").unwrap_err().kind,
            SdpErrorKind::InvalidPayloadType
        );
        assert!(RtpMap::parse("0 PCMU").is_err());
        assert!(RtpMap::parse("0 PCMU/99999999999").is_err());
    }

    #[test]
    fn push_u64_writes_every_width() {
        for v in [
            0,
            7,
            10,
            99,
            100,
            101,
            999,
            1000,
            8000,
            16000,
            48000,
            90000,
            65535,
            1_000_000_007,
            u64::MAX,
        ] {
            let mut s = String::from("x");
            push_u64(&mut s, v);
            assert_eq!(s, format!("x{v}"));
        }
    }

    #[test]
    fn rtpmap_fast_and_general_paths_agree() {
        for v in [
            "0 PCMU/8000",
            "111 opus/48000/2",
            " 0 PCMU/8000 ",
            "0\tPCMU/8000",
            "0 PCMU/8000/1/2",
            "0 /8000",
            "0 PCMU/x",
        ] {
            assert_eq!(RtpMap::parse(v), RtpMap::parse_general(v), "{v:?}");
        }
    }

    #[test]
    fn event_ranges_span_words_rfc4733_s7_1_1() {
        let s = EventSet::parse("60-130,255").unwrap();
        assert!((60..=130).all(|e| s.contains(e)) && s.contains(255));
        assert!(!s.contains(59) && !s.contains(131) && !s.contains(254));
        let mut out = String::new();
        s.write_to(&mut out);
        assert_eq!(out, "60-130,255");
    }

    #[test]
    fn fmtp_params_rfc8866_s6_15() {
        let f = Fmtp::parse("111 minptime=10; useinbandfec=1").unwrap();
        assert_eq!(f.payload_type(), Some(111));
        assert_eq!(f.param("USEINBANDFEC"), Some("1"));
        assert_eq!(f.params().count(), 2);
    }

    #[test]
    fn telephone_event_list_rfc4733_s7_1_1() {
        let a = EventSet::parse("0-15,66,70").unwrap();
        let b = EventSet::parse("0-16").unwrap();
        let mut s = String::new();
        a.intersect(&b).write_to(&mut s);
        assert_eq!(s, "0-15");
        s.clear();
        a.write_to(&mut s);
        assert_eq!(s, "0-15,66,70");
        assert!(EventSet::parse("5-3").is_none());
        assert!(EventSet::parse("300").is_none());
    }

    #[test]
    fn typed_attributes_decode() {
        type Check = fn(&TypedAttribute<'_>) -> bool;
        let cases: &[(&str, Check)] = &[
            ("ptime:20", |t| *t == TypedAttribute::Ptime(20)),
            ("maxptime:40.0", |t| *t == TypedAttribute::MaxPtime(40)),
            ("recvonly", |t| *t == TypedAttribute::Direction(Direction::RecvOnly)),
            ("rtcp:53021 IN IP4 192.0.2.1", |t| {
                *t == TypedAttribute::Rtcp(Rtcp { port: 53021, address: Some("192.0.2.1") })
            }),
            ("rtcp-mux", |t| *t == TypedAttribute::RtcpMux),
            ("mid:audio0", |t| *t == TypedAttribute::Mid("audio0")),
            ("group:BUNDLE 0 1", |t| matches!(t, TypedAttribute::Group(g) if g.mids().eq(["0", "1"]))),
            ("ssrc:3735928559 cname:x@y", |t| {
                matches!(t, TypedAttribute::Ssrc(s) if s.ssrc == 3735928559 && s.value == Some("x@y"))
            }),
            ("crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32", |t| {
                matches!(t, TypedAttribute::Crypto(c) if c.tag == 1 && c.suite == "AES_CM_128_HMAC_SHA1_80")
            }),
            ("candidate:1 1 UDP 2130706431 192.0.2.5 50000 typ srflx raddr 10.0.0.1 rport 4000 generation 0", |t| {
                matches!(t, TypedAttribute::Candidate(c) if c.port == 50000 && c.related_port == Some(4000) && c.extensions == "generation 0")
            }),
            ("setup:actpass", |t| *t == TypedAttribute::Setup(Setup::ActPass)),
            ("fingerprint:sha-256 4A:AD:B9", |t| matches!(t, TypedAttribute::Fingerprint(f) if f.hash_function == "sha-256")),
            ("extmap:2/sendonly urn:ietf:params:rtp-hdrext:toffset", |t| {
                matches!(t, TypedAttribute::ExtMap(e) if e.id == 2 && e.direction == Some(Direction::SendOnly))
            }),
            ("x-unknown:whatever", |t| matches!(t, TypedAttribute::Other(a) if a.value == Some("whatever"))),
        ];
        for (raw, check) in cases {
            let t = Attribute::from_line(raw, 7).typed().unwrap();
            assert!(check(&t), "{raw}: {t:?}");
        }
        for raw in [
            "ptime:x",
            "rtcp:70000",
            "ssrc:4294967296 cname:a",
            "setup:sideways",
            "extmap:0 urn:x",
            "candidate:1 1 UDP 1 a 1 host",
            "fingerprint:sha-256 zz",
        ] {
            let e = Attribute::from_line(raw, 9).typed().unwrap_err();
            assert_eq!(e.line, 9, "{raw}");
        }
    }
}
