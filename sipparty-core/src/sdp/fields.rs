//! Typed values of the structural SDP lines (RFC 8866 s.5): o=, c=, m=, b=,
//! t=. They borrow from the line they were decoded from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::{SdpError, SdpErrorKind};

/// Parses ASCII decimal digits into a `u64`, refusing empty input, signs,
/// anything that is not a digit and values that overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    // Up to 19 digits cannot overflow a u64 (10^19 - 1 < 2^64), so the
    // common case needs no overflow checks.
    if b.len() <= 19 {
        let mut v: u64 = 0;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Like [`parse_u64`], narrowed to `u32`.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

/// Like [`parse_u64`], narrowed to `u16` (ports).
pub(crate) fn parse_u16(s: &str) -> Option<u16> {
    parse_u64(s).and_then(|v| u16::try_from(v).ok())
}

/// Like [`parse_u64`], narrowed to `u8`.
pub(crate) fn parse_u8(s: &str) -> Option<u8> {
    parse_u64(s).and_then(|v| u8::try_from(v).ok())
}

/// An RTP payload type: 0..=127 (RFC 3550 s.5.1, seven bits).
pub(crate) fn parse_payload_type(s: &str) -> Result<u8, SdpErrorKind> {
    match parse_u64(s) {
        Some(v) if v <= 127 => Ok(v as u8),
        Some(_) => Err(SdpErrorKind::InvalidPayloadType),
        None => Err(SdpErrorKind::InvalidNumber),
    }
}

/// Word-at-a-time scanning (SWAR): eight bytes are tested with a few integer
/// operations instead of one comparison each. This is what keeps the
/// borrowed parse of a whole description within a few hundred nanoseconds.
pub(crate) mod swar {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;

    /// Marks (high bit of each byte) the bytes of `w` (little endian) below
    /// `n`, for `n <= 0x80`. The lowest mark is exact; a mark above a true
    /// one may be false (borrow), never missing, so callers check the byte.
    #[inline(always)]
    pub(crate) fn below(w: u64, n: u8) -> u64 {
        w.wrapping_sub(LO * u64::from(n)) & !w & HI
    }

    /// The eight bytes of `b` from `i` as a little-endian word, and how many
    /// of them are real: near the end the last eight bytes are loaded and
    /// shifted, so the missing ones read as zero bytes.
    #[inline(always)]
    pub(crate) fn word_at(b: &[u8], i: usize) -> (u64, usize) {
        if let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
            return (u64::from_le_bytes(*c), 8);
        }
        let valid = b.len().saturating_sub(i);
        if let Some(c) = b.last_chunk::<8>() {
            let skip = 8 - valid;
            return (u64::from_le_bytes(*c) >> (8 * skip), valid);
        }
        let mut w = 0u64;
        for (k, &x) in b.iter().skip(i).enumerate() {
            w |= u64::from(x) << (8 * k);
        }
        (w, valid)
    }
}

/// The fields of a structural value in canonical form: separated by exactly
/// one SP, none at either end, no tab (what strict mode requires, and what
/// nearly every peer sends). Up to `N` fields; the last one takes the rest of
/// the value. `None` when the value is not canonical: callers then take the
/// general path, which also says what is wrong with it.
pub(crate) fn canonical_fields<const N: usize>(v: &str) -> Option<([&str; N], usize)> {
    let b = v.as_bytes();
    let mut out = [""; N];
    let mut n = 0;
    // The start of the field being scanned, and of the one going to out[n]
    // (they differ once the last field collects the rest).
    let mut cur = 0;
    let mut tail = 0;
    let mut i = 0;
    while i < b.len() {
        let (w, valid) = swar::word_at(b, i);
        let mut m = swar::below(w, 0x21);
        while m != 0 {
            let k = (m.trailing_zeros() / 8) as usize;
            if k >= valid {
                break;
            }
            let j = i + k;
            match b[j] {
                b' ' => {
                    if j == cur {
                        return None; // leading or double space
                    }
                    if n + 1 < N {
                        out[n] = &v[tail..j];
                        n += 1;
                        tail = j + 1;
                    }
                    cur = j + 1;
                }
                b'\t' => return None,
                _ => {}
            }
            m &= m - 1;
        }
        i += 8;
    }
    if cur >= b.len() {
        return None; // empty, or a trailing space
    }
    out[n] = &v[tail..];
    Some((out, n + 1))
}

/// Space- or tab-separated fields, runs of blanks skipped (a byte loop:
/// these lines are on the parse fast path).
#[derive(Clone, Debug)]
pub(crate) struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Fields { rest: s }
    }

    /// What is left, from the next field on.
    pub(crate) fn remainder(&mut self) -> &'a str {
        let b = self.rest.as_bytes();
        let start = b
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .unwrap_or(b.len());
        &self.rest[start..]
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.remainder();
        if rest.is_empty() {
            self.rest = rest;
            return None;
        }
        let b = rest.as_bytes();
        let end = b
            .iter()
            .position(|&c| c == b' ' || c == b'\t')
            .unwrap_or(b.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

fn field<'a>(it: &mut Fields<'a>, kind: u8) -> Result<&'a str, SdpError> {
    it.next()
        .ok_or(SdpError::new(0, SdpErrorKind::InvalidField(kind)))
}

fn number<T>(s: &str, f: impl Fn(&str) -> Option<T>) -> Result<T, SdpError> {
    f(s).ok_or(SdpError::new(0, SdpErrorKind::InvalidNumber))
}

/// The `o=` line (RFC 8866 s.5.2): who made the description, and its
/// session id and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The originator's login, or `-`.
    pub username: &'a str,
    /// The session id.
    pub session_id: u64,
    /// The session version, incremented when the description changes
    /// (RFC 3264 s.8).
    pub session_version: u64,
    /// The network type, `IN`.
    pub nettype: &'a str,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: &'a str,
    /// The originating host: an address or a fully qualified domain name.
    pub address: &'a str,
}

impl<'a> Origin<'a> {
    /// Decodes the value of an `o=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(o) => Ok(o),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canonical_fields`]);
    /// `None` for anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &'a str) -> Option<Self> {
        match canonical_fields::<7>(value)? {
            ([username, id, version, nettype, addrtype, address, _], 6) => Some(Origin {
                username,
                session_id: parse_u64(id)?,
                session_version: parse_u64(version)?,
                nettype,
                addrtype,
                address,
            }),
            _ => None,
        }
    }

    pub(crate) fn parse_general(value: &'a str) -> Result<Self, SdpError> {
        let mut it = Fields::new(value);
        let o = Origin {
            username: field(&mut it, b'o')?,
            session_id: number(field(&mut it, b'o')?, parse_u64)?,
            session_version: number(field(&mut it, b'o')?, parse_u64)?,
            nettype: field(&mut it, b'o')?,
            addrtype: field(&mut it, b'o')?,
            address: field(&mut it, b'o')?,
        };
        if it.next().is_some() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'o')));
        }
        Ok(o)
    }
}

/// The `c=` line (RFC 8866 s.5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection<'a> {
    /// The network type, `IN`.
    pub nettype: &'a str,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: &'a str,
    /// The address without the multicast suffixes: an IP address or an FQDN.
    pub address: &'a str,
    /// The IPv4 multicast TTL (`/ttl`).
    pub ttl: Option<u8>,
    /// The number of consecutive multicast addresses (`/count`).
    pub count: Option<u32>,
}

impl<'a> Connection<'a> {
    /// Decodes the value of a `c=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(c) => Ok(c),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canonical_fields`]);
    /// `None` for anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &'a str) -> Option<Self> {
        match canonical_fields::<4>(value)? {
            ([nettype, addrtype, full, _], 3) => Self::from_parts(nettype, addrtype, full).ok(),
            _ => None,
        }
    }

    pub(crate) fn parse_general(value: &'a str) -> Result<Self, SdpError> {
        let mut it = Fields::new(value);
        let nettype = field(&mut it, b'c')?;
        let addrtype = field(&mut it, b'c')?;
        let full = field(&mut it, b'c')?;
        if it.next().is_some() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'c')));
        }
        Self::from_parts(nettype, addrtype, full)
    }

    fn from_parts(nettype: &'a str, addrtype: &'a str, full: &'a str) -> Result<Self, SdpError> {
        let bad = || SdpError::new(0, SdpErrorKind::InvalidField(b'c'));
        // address[/first[/second]]; a byte loop, as addresses are short.
        let slash = |s: &'a str| {
            s.bytes()
                .position(|c| c == b'/')
                .map(|i| (&s[..i], &s[i + 1..]))
        };
        let (address, first, second) = match slash(full) {
            None => (full, None, None),
            Some((a, rest)) => match slash(rest) {
                None => (a, Some(rest), None),
                Some((f, second)) => {
                    if second.contains('/') {
                        return Err(bad());
                    }
                    (a, Some(f), Some(second))
                }
            },
        };
        if address.is_empty() {
            return Err(bad());
        }
        // RFC 8866 s.5.7: IPv4 multicast is addr/ttl[/count]; IPv6 has no
        // TTL, so its single suffix is the count.
        let (ttl, count) = if addrtype.eq_ignore_ascii_case("IP6") {
            if second.is_some() {
                return Err(bad());
            }
            (None, first.map(|c| number(c, parse_u32)).transpose()?)
        } else {
            (
                first.map(|t| number(t, parse_u8)).transpose()?,
                second.map(|c| number(c, parse_u32)).transpose()?,
            )
        };
        Ok(Connection {
            nettype,
            addrtype,
            address,
            ttl,
            count,
        })
    }

    /// The address as an IP address; `None` for an FQDN.
    pub fn ip(&self) -> Option<IpAddr> {
        if self.addrtype.eq_ignore_ascii_case("IP6") {
            self.address.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else {
            self.address.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        }
    }

    /// `c=IN IP4 0.0.0.0`: the RFC 2543 way of putting a call on hold
    /// (RFC 3264 s.8.4).
    pub fn is_hold_address(&self) -> bool {
        self.address == "0.0.0.0"
    }
}

/// The `m=` line (RFC 8866 s.5.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaLine<'a> {
    /// The media type: `audio`, `video`, `text`, `application`, `message`...
    pub media: &'a str,
    /// The transport port; 0 rejects or disables the stream (RFC 3264 s.6).
    pub port: u16,
    /// The number of ports (`port/count`).
    pub port_count: Option<u32>,
    /// The transport protocol: `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `udp`...
    pub proto: &'a str,
    /// The formats, space separated (payload types for RTP).
    pub formats: &'a str,
}

impl<'a> MediaLine<'a> {
    /// Decodes the value of an `m=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(m) => Ok(m),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canonical_fields`]);
    /// `None` for anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &'a str) -> Option<Self> {
        let ([media, port_field, proto, formats], 4) = canonical_fields::<4>(value)? else {
            return None;
        };
        let (port, port_count) = match port_field.bytes().position(|c| c == b'/') {
            Some(i) => (
                parse_u16(&port_field[..i])?,
                Some(parse_u32(&port_field[i + 1..])?),
            ),
            None => (parse_u16(port_field)?, None),
        };
        Some(MediaLine {
            media,
            port,
            port_count,
            proto,
            formats,
        })
    }

    pub(crate) fn parse_general(value: &'a str) -> Result<Self, SdpError> {
        let value = value.trim_end_matches([' ', '\t']);
        let mut it = Fields::new(value);
        let media = field(&mut it, b'm')?;
        let port_field = field(&mut it, b'm')?;
        let proto = field(&mut it, b'm')?;
        let (port, port_count) = match port_field.split_once('/') {
            Some((p, c)) => (number(p, parse_u16)?, Some(number(c, parse_u32)?)),
            None => (number(port_field, parse_u16)?, None),
        };
        // The formats are the rest of the line after the proto token.
        let formats = it.remainder();
        if formats.is_empty() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'm')));
        }
        Ok(MediaLine {
            media,
            port,
            port_count,
            proto,
            formats,
        })
    }

    /// The formats, one by one.
    pub fn formats(&self) -> impl Iterator<Item = &'a str> + 'a {
        Fields::new(self.formats)
    }

    /// Whether the proto is RTP-based (`RTP/...` or `.../RTP/...`), so the
    /// formats are payload types.
    pub fn is_rtp(&self) -> bool {
        self.proto.split('/').any(|p| p.eq_ignore_ascii_case("RTP"))
    }
}

/// The `b=` line (RFC 8866 s.5.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    /// `CT`, `AS`, `TIAS`, `RR`, `RS`...
    pub bwtype: &'a str,
    /// The bandwidth in kbit/s (bit/s for TIAS).
    pub bandwidth: u64,
}

impl<'a> Bandwidth<'a> {
    /// Decodes the value of a `b=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        let (t, v) = value
            .trim()
            .split_once(':')
            .ok_or(SdpError::new(0, SdpErrorKind::InvalidField(b'b')))?;
        if t.is_empty() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'b')));
        }
        Ok(Bandwidth {
            bwtype: t,
            bandwidth: number(v, parse_u64)?,
        })
    }
}

/// The `t=` line (RFC 8866 s.5.9): NTP start and stop times, 0 for unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Start time (NTP seconds), 0 if unbounded.
    pub start: u64,
    /// Stop time (NTP seconds), 0 if unbounded.
    pub stop: u64,
}

impl Timing {
    /// Decodes the value of a `t=` line.
    pub fn parse(value: &str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(t) => Ok(t),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canonical_fields`]);
    /// `None` for anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &str) -> Option<Self> {
        match canonical_fields::<3>(value)? {
            ([start, stop, _], 2) => Some(Timing {
                start: parse_u64(start)?,
                stop: parse_u64(stop)?,
            }),
            _ => None,
        }
    }

    pub(crate) fn parse_general(value: &str) -> Result<Self, SdpError> {
        let mut it = Fields::new(value);
        let t = Timing {
            start: number(field(&mut it, b't')?, parse_u64)?,
            stop: number(field(&mut it, b't')?, parse_u64)?,
        };
        if it.next().is_some() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b't')));
        }
        Ok(t)
    }
}

/// Checks an `r=` or `z=` value: non-empty fields of digits with an
/// optional `d`/`h`/`m`/`s` unit and, for `z=`, a sign on offsets.
pub(crate) fn check_repeat_or_zone(value: &str, kind: u8) -> Result<(), SdpError> {
    let mut n = 0;
    for f in value.split_ascii_whitespace() {
        n += 1;
        let f = f.strip_prefix('-').unwrap_or(f);
        let f = f.strip_suffix(['d', 'h', 'm', 's']).unwrap_or(f);
        if parse_u64(f).is_none() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(kind)));
        }
    }
    // r= has at least interval, duration and one offset; z= pairs.
    let ok = match kind {
        b'r' => n >= 3,
        _ => n >= 2 && n % 2 == 0,
    };
    if ok {
        Ok(())
    } else {
        Err(SdpError::new(0, SdpErrorKind::InvalidField(kind)))
    }
}

/// The `addrtype` token for an address.
pub(crate) fn addrtype(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_fields_split_at_single_spaces() {
        let ([a, b, c, rest], 4) = canonical_fields::<4>("audio 49170 RTP/AVP 0 8 101").unwrap()
        else {
            panic!("four fields expected");
        };
        assert_eq!((a, b, c, rest), ("audio", "49170", "RTP/AVP", "0 8 101"));
        assert_eq!(canonical_fields::<3>("0 0").map(|f| f.1), Some(2));
        // Anything a strict parse would refuse for its blanks is not canonical.
        for v in [
            "",
            " 0 0",
            "0 0 ",
            "0  0",
            "0\t0",
            "a b c d e f g h i j k l m n o p q ",
        ] {
            assert!(canonical_fields::<3>(v).is_none(), "{v:?}");
        }
    }

    #[test]
    fn structural_fast_paths_match_the_general_ones() {
        for v in [
            "- 1 2 IN IP4 192.0.2.1",
            "- 1 2 IN IP4",
            "- 18446744073709551616 1 IN IP4 h",
            "a  1 2 IN IP4 h",
        ] {
            assert_eq!(Origin::parse(v), Origin::parse_general(v), "{v:?}");
        }
        for v in [
            "IN IP4 233.252.0.1/127/3",
            "IN IP6 ff00::1/3",
            "IN IP4 a/1/2/3",
            "IN IP4 /1",
            "IN IP4 h x",
        ] {
            assert_eq!(Connection::parse(v), Connection::parse_general(v), "{v:?}");
        }
        for v in [
            "audio 49170/2 RTP/AVP 0 8",
            "audio 70000 RTP/AVP 0",
            "audio 1 RTP/AVP",
            "audio 1 RTP/AVP 0 ",
        ] {
            assert_eq!(MediaLine::parse(v), MediaLine::parse_general(v), "{v:?}");
        }
        for v in ["0 0", "3034423619 3042462419", "0", "0 0 0", "x 0"] {
            assert_eq!(Timing::parse(v), Timing::parse_general(v), "{v:?}");
        }
    }
}
