//! URIs (RFC 3261 section 19.1 and 25.1; RFC 3966 `tel:`), decoded as
//! borrowed slices of the text they were written in.

use std::fmt;

use super::error::ParseError;
use super::lex::{check_len, run, run_host, Span};
use super::params::{scan_uri_params, Params, DEFAULT_MAX_PARAMS};
use super::tables::{ABS_URI, PASSWORD, SCHEME, URI_HEADERS, USER, USER_PLAIN};

/// The URI scheme.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:` (TLS on every hop, RFC 3261 section 19.1).
    Sips,
    /// `tel:` (RFC 3966).
    Tel,
    /// Any other absolute URI, kept opaque (`http:`, `urn:`, `mailto:` ...).
    Other,
}

/// A parsed URI, borrowing the text it was written in. Escapes (`%41`) are
/// kept as written; compare URIs with [`Uri::equivalent`] when RFC 3261
/// section 19.1.4 equality is meant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The whole URI as written.
    pub raw: &'a str,
    /// The scheme.
    pub scheme: Scheme,
    /// The user part (`sip:`/`sips:`), or the number of a `tel:` URI.
    pub user: Option<&'a str>,
    /// The password of `user:password@` (deprecated, but in the grammar).
    pub password: Option<&'a str>,
    /// The host: a domain name, an IPv4 address, or an IPv6 reference with
    /// its brackets. Empty for `tel:` and other schemes.
    pub host: &'a str,
    /// The port, if written.
    pub port: Option<u16>,
    /// The URI parameters (`;transport=tcp;lr`).
    pub params: Params<'a>,
    /// The URI headers after `?`, without the `?`.
    pub headers: Option<&'a str>,
}

fn hex_escapes_ok(s: &[u8], base: usize) -> Result<(), ParseError> {
    // URI parts are short: a plain loop beats a vectorized search here.
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let ok =
                s.len() > i + 2 && s[i + 1].is_ascii_hexdigit() && s[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err(ParseError::expected(base + i, "escaped octet (%HH)"));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Characters of a `tel:` number (RFC 3966 `global-number-digits` and
/// `local-number-digits`, visual separators included).
const TEL_NUMBER: [bool; 256] = {
    let mut t = [false; 256];
    let extra = b"+-.()*#%";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    let mut c = b'a';
    while c <= b'f' {
        t[c as usize] = true;
        t[(c - 32) as usize] = true;
        c += 1;
    }
    t
};

/// Where the parts of a URI are, as byte ranges of the text it was
/// scanned in: what [`scan_uri`] finds, kept by decoders that build the
/// [`Uri`] only when it is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct UriParts {
    pub(crate) scheme: Scheme,
    pub(crate) user: Option<Span>,
    pub(crate) password: Option<Span>,
    /// Empty for `tel:` and other schemes.
    pub(crate) host: Span,
    pub(crate) port: Option<u16>,
    /// Leading `;` included; empty when there are none.
    pub(crate) params: Span,
    /// After the `?`.
    pub(crate) headers: Option<Span>,
}

impl UriParts {
    /// The [`Uri`] these parts describe: `raw` is the whole URI, `text` the
    /// text the ranges index.
    #[inline]
    pub(crate) fn to_uri<'a>(self, text: &'a str, raw: &'a str) -> Uri<'a> {
        Uri {
            raw,
            scheme: self.scheme,
            user: self.user.map(|u| u.of(text)),
            password: self.password.map(|p| p.of(text)),
            host: self.host.of(text),
            port: self.port,
            params: Params::new(self.params.of(text)),
            headers: self.headers.map(|h| h.of(text)),
        }
    }
}

/// The one URI validator (RFC 3261 section 19.1.1 `SIP-URI` / `SIPS-URI`,
/// RFC 3966 `tel:`, other schemes as opaque absolute URIs): scans the URI
/// starting at `start` and returns its parts and the index of the first
/// byte after it. The caller decides whether that is the end: `s.len()`
/// for a URI on its own ([`expect_end`]), or the `>` of a name-addr,
/// which no URI character class admits. Errors report offsets in `s`.
#[inline(always)]
pub(crate) fn scan_uri(
    s: &[u8],
    start: usize,
    max_params: usize,
) -> Result<(UriParts, usize), ParseError> {
    if start >= s.len() || !s[start].is_ascii_alphabetic() {
        return Err(ParseError::expected(start, "URI scheme"));
    }
    // The usual scheme: one word compare.
    let sip_prefix = starts_with_sip_scheme(&s[start..]);
    let mut i = start;
    if sip_prefix {
        i += 3;
    } else {
        while i < s.len() && SCHEME[s[i] as usize] {
            i += 1;
        }
    }
    if i >= s.len() || s[i] != b':' {
        return Err(ParseError::expected(i, "\":\" after URI scheme"));
    }
    let scheme_str = &s[start..i];
    let scheme = if sip_prefix || scheme_str.eq_ignore_ascii_case(b"sip") {
        Scheme::Sip
    } else if scheme_str.eq_ignore_ascii_case(b"sips") {
        Scheme::Sips
    } else if scheme_str.eq_ignore_ascii_case(b"tel") {
        Scheme::Tel
    } else {
        Scheme::Other
    };
    let mut uri = UriParts {
        scheme,
        user: None,
        password: None,
        host: Span::default(),
        port: None,
        params: Span::default(),
        headers: None,
    };
    let mut i = i + 1;
    match scheme {
        Scheme::Other => {
            let end = run(s, i, &ABS_URI);
            if end == i {
                return Err(ParseError::expected(end, "URI character"));
            }
            return Ok((uri, end));
        }
        Scheme::Tel => {
            let end = run(s, i, &TEL_NUMBER);
            if end == i {
                return Err(ParseError::expected(i, "telephone number"));
            }
            uri.user = Some(Span::new(i, end));
            i = end;
        }
        Scheme::Sip | Scheme::Sips => {
            // userinfo: at most one unescaped "@" can occur in a SIP URI
            // (no later part admits it), so the first one ends it.
            // Usually a user part of plain characters ends at "@" (no
            // password, no escapes); a host name stops the same run at a
            // byte other than "@".
            let plain = run(s, i, &USER_PLAIN);
            if plain > i && s.get(plain) == Some(&b'@') {
                uri.user = Some(Span::new(i, plain));
                i = plain + 1;
            } else if let Some(at) = memchr::memchr(b'@', &s[i..]).map(|a| i + a) {
                // One pass over the userinfo finds the first ":" and any
                // escape.
                let mut colon = None;
                let mut escaped = false;
                for (j, &b) in s[i..at].iter().enumerate() {
                    match b {
                        b':' if colon.is_none() => colon = Some(i + j),
                        b'%' => escaped = true,
                        _ => {}
                    }
                }
                let user_end = colon.unwrap_or(at);
                if user_end == i {
                    return Err(ParseError::expected(i, "user"));
                }
                if let Some(bad) = s[i..user_end].iter().position(|&b| !USER[b as usize]) {
                    return Err(ParseError::expected(i + bad, "user character"));
                }
                if escaped {
                    hex_escapes_ok(&s[i..at], i)?;
                }
                uri.user = Some(Span::new(i, user_end));
                if let Some(c) = colon {
                    let p = c + 1;
                    if let Some(bad) = s[p..at].iter().position(|&b| !PASSWORD[b as usize]) {
                        return Err(ParseError::expected(p + bad, "password character"));
                    }
                    uri.password = Some(Span::new(p, at));
                }
                i = at + 1;
            }
            let host_start = i;
            if i < s.len() && s[i] == b'[' {
                // IPv6reference = "[" IPv6address "]"
                i = ipv6_reference_end(s, i)?;
            } else {
                i = run_host(s, i);
                if i == host_start {
                    return Err(ParseError::expected(i, "host"));
                }
            }
            uri.host = Span::new(host_start, i);
            if i < s.len() && s[i] == b':' {
                let p = i + 1;
                let mut j = p;
                let mut port: u32 = 0;
                while j < s.len() && s[j].is_ascii_digit() && port <= 65535 {
                    port = port * 10 + u32::from(s[j] - b'0');
                    j += 1;
                }
                if j == p || port > 65535 || (j < s.len() && s[j].is_ascii_digit()) {
                    return Err(ParseError::expected(p, "port"));
                }
                uri.port = Some(port as u16);
                i = j;
            }
        }
    }
    if s.get(i) == Some(&b';') {
        let params_start = i;
        let pct;
        (i, pct) = scan_uri_params(s, i, max_params)?;
        if pct {
            hex_escapes_ok(&s[params_start..i], params_start)?;
        }
        uri.params = Span::new(params_start, i);
    }
    if i < s.len() && s[i] == b'?' && uri.scheme != Scheme::Tel {
        let h = i + 1;
        let end = run(s, h, &URI_HEADERS);
        hex_escapes_ok(&s[h..end], h)?;
        uri.headers = Some(Span::new(h, end));
        i = end;
    }
    Ok((uri, i))
}

/// The error for a URI that [`scan_uri`] ended at `stop` before `end`.
#[inline]
pub(crate) fn expect_end(parts: &UriParts, stop: usize, end: usize) -> Result<(), ParseError> {
    if stop == end {
        Ok(())
    } else if parts.scheme == Scheme::Other {
        Err(ParseError::expected(stop, "URI character"))
    } else {
        Err(ParseError::expected(stop, "end of URI"))
    }
}

impl<'a> Uri<'a> {
    /// Parse `raw` as a URI. `sip:`, `sips:` and `tel:` are decoded; other
    /// schemes are accepted as opaque absolute URIs.
    pub fn parse(raw: &'a str) -> Result<Uri<'a>, ParseError> {
        Self::parse_with(raw, DEFAULT_MAX_PARAMS)
    }

    /// Like [`Uri::parse`], with a cap on URI parameters.
    pub fn parse_with(raw: &'a str, max_params: usize) -> Result<Uri<'a>, ParseError> {
        let s = raw.as_bytes();
        check_len(s)?;
        let (parts, stop) = scan_uri(s, 0, max_params)?;
        expect_end(&parts, stop, s.len())?;
        Ok(parts.to_uri(raw, raw))
    }

    /// The scheme as written (`sip`, `SIPS`, `urn` ...).
    pub fn scheme_str(&self) -> &'a str {
        let end = self.raw.find(':').unwrap_or(0);
        &self.raw[..end]
    }

    /// The `transport` URI parameter.
    pub fn transport_param(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// Whether the `lr` parameter (loose routing, RFC 3261 section 16.12)
    /// is present.
    pub fn lr(&self) -> bool {
        self.params.contains("lr")
    }

    /// The `maddr` URI parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// The `user` URI parameter (`user=phone`).
    pub fn user_param(&self) -> Option<&'a str> {
        self.params.value("user")
    }

    /// The host with the brackets of an IPv6 reference removed.
    pub fn host_unbracketed(&self) -> &'a str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(self.host)
    }

    /// URI comparison after RFC 3261 section 19.1.4, simplified: scheme,
    /// user (case-sensitive, escapes decoded), password, host
    /// (case-insensitive), port, and the `transport`, `user`, `ttl`,
    /// `method` and `maddr` parameters must match when either side has them.
    /// Other schemes compare as case-insensitive text.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        if self.scheme != other.scheme {
            return false;
        }
        if self.scheme == Scheme::Other || self.scheme == Scheme::Tel {
            return self.raw.eq_ignore_ascii_case(other.raw);
        }
        let unescaped_eq = |a: Option<&str>, b: Option<&str>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => Unescape::new(a).eq(Unescape::new(b)),
            _ => false,
        };
        if !unescaped_eq(self.user, other.user) || !unescaped_eq(self.password, other.password) {
            return false;
        }
        if !self.host.eq_ignore_ascii_case(other.host) || self.port != other.port {
            return false;
        }
        for name in ["transport", "user", "ttl", "method", "maddr"] {
            let a = self.params.get(name);
            let b = other.params.get(name);
            let same = match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => a.unwrap_or("").eq_ignore_ascii_case(b.unwrap_or("")),
                _ => false,
            };
            if !same {
                return false;
            }
        }
        // Parameters present on both sides must agree too. A name repeated
        // in one URI (which RFC 3261 s.19.1.1 forbids, but the wire may
        // carry) is judged by its first occurrence, as `get` reads it, so a
        // URI is always equivalent to itself.
        for (name, _) in self.params.iter() {
            let Some(value) = self.params.get(name) else {
                continue;
            };
            if let Some(other_value) = other.params.get(name) {
                if !value
                    .unwrap_or("")
                    .eq_ignore_ascii_case(other_value.unwrap_or(""))
                {
                    return false;
                }
            }
        }
        true
    }
}

/// Iterator over the bytes of a `%HH`-escaped string, decoded.
struct Unescape<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Unescape<'a> {
    fn new(s: &'a str) -> Self {
        Self {
            s: s.as_bytes(),
            i: 0,
        }
    }
}

impl Iterator for Unescape<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        let b = *self.s.get(self.i)?;
        if b == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (
                self.s.get(self.i + 1).and_then(|&c| hex(c)),
                self.s.get(self.i + 2).and_then(|&c| hex(c)),
            ) {
                self.i += 3;
                return Some((h * 16 + l) as u8);
            }
        }
        self.i += 1;
        Some(b)
    }
}

impl fmt::Debug for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uri")
            .field("scheme", &self.scheme)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("params", &self.params)
            .field("headers", &self.headers)
            .finish()
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Whether `s` starts with `sip:` in any case: one word compare (OR-ing
/// 0x20 folds only letters onto `s`, `i` and `p`; the colon is compared
/// exactly). The fast path of the URI parser and of the Request-URI check.
#[inline]
pub(crate) fn starts_with_sip_scheme(s: &[u8]) -> bool {
    match s.first_chunk::<4>() {
        Some(&[a, b, c, b':']) => {
            u32::from_le_bytes([a, b, c, b':']) | 0x0020_2020 == u32::from_le_bytes(*b"sip:")
        }
        _ => false,
    }
}

/// `IPv6reference = "[" IPv6address "]"` starting at `s[i] == b'['`:
/// returns the index just past the `]`. Only the characters are checked
/// (hex digits, `:` and `.`), as the URI and Via grammars' users need.
pub(crate) fn ipv6_reference_end(s: &[u8], i: usize) -> Result<usize, ParseError> {
    let close = memchr::memchr(b']', &s[i..]).ok_or(ParseError::expected(s.len(), "\"]\""))?;
    let inner = &s[i + 1..i + close];
    if inner.is_empty()
        || !inner
            .iter()
            .all(|b| b.is_ascii_hexdigit() || *b == b':' || *b == b'.')
    {
        return Err(ParseError::expected(i + 1, "IPv6 address"));
    }
    Ok(i + close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3261 section 19.1.3: example SIP and SIPS URIs.
    #[test]
    fn rfc3261_19_1_3_examples() {
        let u = Uri::parse("sip:alice@atlanta.com").unwrap();
        assert_eq!(
            (u.scheme, u.user, u.host, u.port),
            (Scheme::Sip, Some("alice"), "atlanta.com", None)
        );
        let u = Uri::parse("sip:alice:secretword@atlanta.com;transport=tcp").unwrap();
        assert_eq!(u.password, Some("secretword"));
        assert_eq!(u.transport_param(), Some("tcp"));
        let u = Uri::parse("sips:alice@atlanta.com?subject=project%20x&priority=urgent").unwrap();
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.headers, Some("subject=project%20x&priority=urgent"));
        let u = Uri::parse("sip:+1-212-555-1212:1234@gateway.com;user=phone").unwrap();
        assert_eq!(u.user, Some("+1-212-555-1212"));
        assert_eq!(u.password, Some("1234"));
        assert_eq!(u.user_param(), Some("phone"));
        let u = Uri::parse("sips:1212@gateway.com").unwrap();
        assert_eq!(u.host, "gateway.com");
        let u = Uri::parse("sip:alice@192.0.2.4").unwrap();
        assert_eq!(u.host, "192.0.2.4");
        let u = Uri::parse("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com").unwrap();
        assert_eq!(u.user, None);
        assert_eq!(u.params.value("method"), Some("REGISTER"));
        let u = Uri::parse("sip:alice;day=tuesday@atlanta.com").unwrap();
        assert_eq!(u.user, Some("alice;day=tuesday"));
        assert!(u.params.is_empty());
    }

    #[test]
    fn ipv6_ports_tel_and_other_schemes() {
        let u = Uri::parse("sip:[2001:db8::10]:5070;lr").unwrap();
        assert_eq!(u.host, "[2001:db8::10]");
        assert_eq!(u.host_unbracketed(), "2001:db8::10");
        assert_eq!(u.port, Some(5070));
        assert!(u.lr());
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!((t.scheme, t.user), (Scheme::Tel, Some("+1-201-555-0123")));
        assert_eq!(t.params.value("phone-context"), Some("example.com"));
        let o = Uri::parse("urn:service:sos").unwrap();
        assert_eq!(o.scheme, Scheme::Other);
        assert_eq!(o.scheme_str(), "urn");
        for bad in [
            "",
            "sip:",
            "sip:a@",
            "sip:host:70000",
            "sip:host:",
            "sip:[::1",
            "sip:a b",
            "1sip:x",
            "sip:%zz@h",
            "http:",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    /// RFC 3261 section 19.1.4: equivalent and non-equivalent URIs.
    #[test]
    fn rfc3261_19_1_4_comparison() {
        let eq = [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?from=sip:joe%40biloxi.com",
            ),
        ];
        for (a, b) in eq {
            assert!(
                Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap()),
                "{a} == {b}"
            );
        }
        let ne = [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;security=off",
            ),
        ];
        for (a, b) in ne {
            assert!(
                !Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap()),
                "{a} != {b}"
            );
        }
    }
}
