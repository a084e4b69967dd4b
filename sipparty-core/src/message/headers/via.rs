//! `Via` (RFC 3261 sections 18.2.1, 20.42):
//! ```text
//! via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//! sent-protocol = protocol-name SLASH protocol-version SLASH transport
//! sent-by       = host [ COLON port ]
//! ```

use std::fmt;

use crate::message::error::ParseError;
use crate::message::lex::{cut, plain_port, run, run_host, skip_lws, token};
use crate::message::params::{
    scan_header_params_noting, scan_plain_header_params, Params, DEFAULT_MAX_PARAMS,
};
use crate::message::tables::{HOST, TOKEN};
use crate::Transport;

/// One `via-parm` (one element of a possibly comma-separated Via header).
/// Two Vias are equal when their parts are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// `protocol-name "/" protocol-version` as written, e.g. `SIP/2.0`.
    pub protocol: &'a str,
    /// The transport token (`UDP`, `TCP`, `TLS`, `SCTP`, `WS` ...).
    pub transport: &'a str,
    /// The sent-by host: name, IPv4, or IPv6 reference with brackets.
    pub host: &'a str,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// The via-params as written (`;branch=..;received=..;rport`).
    params: &'a str,
    /// The value of the first `branch` parameter, found in the same scan.
    branch: Option<&'a str>,
}

/// Parse `host [ COLON port ]` at `i`; returns (host end, port, end).
pub(crate) fn host_port(s: &[u8], i: usize) -> Result<(usize, Option<u16>, usize), ParseError> {
    let host_end = if s.get(i) == Some(&b'[') {
        crate::message::uri::ipv6_reference_end(s, i)?
    } else {
        let e = run_host(s, i);
        if e == i {
            return Err(ParseError::expected(i, "host"));
        }
        e
    };
    let j = skip_lws(s, host_end);
    if s.get(j) == Some(&b':') {
        let p = skip_lws(s, j + 1);
        let e = run(s, p, &DIGITS);
        // `port = 1*DIGIT`, at most 65535 (leading zeros allowed).
        let digits = &s[p..e];
        let mut port: u32 = 0;
        for &d in digits {
            port = port * 10 + u32::from(d - b'0');
            if port > u32::from(u16::MAX) {
                return Err(ParseError::expected(p, "port"));
            }
        }
        if digits.is_empty() {
            return Err(ParseError::expected(p, "port"));
        }
        let port = port as u16;
        Ok((host_end, Some(port), e))
    } else {
        Ok((host_end, None, host_end))
    }
}

const DIGITS: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t
};

impl<'a> Via<'a> {
    /// Parse one via-parm. A header value with several comma-separated
    /// elements must be split first (see
    /// [`Headers::vias`](crate::message::Headers::vias)).
    pub fn parse(raw: &'a str) -> Result<Via<'a>, ParseError> {
        if let Some(via) = Self::parse_plain(raw) {
            return Ok(via);
        }
        Self::parse_general(raw)
    }

    /// The usual via-parm, `SIP/2.0/transport SP host[:port]` and header
    /// parameters, with no other LWS and no IPv6 reference: the value
    /// [`Via::parse_general`] gives for it, else `None` (and the general
    /// path decides, errors included). Only delimiters are looked at
    /// beyond the class runs each part needs, and each part is scanned
    /// once.
    #[inline(always)]
    fn parse_plain(raw: &'a str) -> Option<Via<'a>> {
        let s = raw.as_bytes();
        if !s.starts_with(b"SIP/2.0/") {
            return None;
        }
        let t1 = run(s, 8, &TOKEN);
        let h0 = t1 + 1;
        if t1 == 8 || s.get(t1) != Some(&b' ') {
            return None;
        }
        let host_end = run(s, h0, &HOST);
        if host_end == h0 {
            return None;
        }
        let mut i = host_end;
        let mut port = None;
        if s.get(i) == Some(&b':') {
            // 1 to 5 digits below 65536, as `host_port` takes them.
            let (n, e) = plain_port(s, i + 1)?;
            port = Some(n);
            i = e;
        }
        let branch = scan_plain_header_params(s, i, DEFAULT_MAX_PARAMS, b"branch")?;
        Some(Via {
            protocol: cut(raw, 0, 7),
            transport: cut(raw, 8, t1),
            host: cut(raw, h0, host_end),
            port,
            params: cut(raw, i, s.len()),
            branch: branch.flatten().map(|(a, b)| cut(raw, a, b)),
        })
    }

    /// [`Via::parse`] for any via-parm.
    #[cold]
    fn parse_general(raw: &'a str) -> Result<Via<'a>, ParseError> {
        let s = raw.as_bytes();
        // Nearly every Via starts with exactly this; the general scan below
        // finds the same bounds for it.
        let (p0, v1, t0) = if s.starts_with(b"SIP/2.0/") {
            (0, 7, skip_lws(s, 8))
        } else {
            let p0 = skip_lws(s, 0);
            let p1 = token(s, p0, "protocol-name")?;
            let slash = skip_lws(s, p1);
            if s.get(slash) != Some(&b'/') {
                return Err(ParseError::expected(slash, "\"/\""));
            }
            let v0 = skip_lws(s, slash + 1);
            let v1 = token(s, v0, "protocol-version")?;
            let slash = skip_lws(s, v1);
            if s.get(slash) != Some(&b'/') {
                return Err(ParseError::expected(slash, "\"/\""));
            }
            (p0, v1, skip_lws(s, slash + 1))
        };
        let t1 = token(s, t0, "transport")?;
        let h0 = skip_lws(s, t1);
        if h0 == t1 {
            return Err(ParseError::expected(h0, "LWS before sent-by"));
        }
        let (host_end, port, i) = host_port(s, h0)?;
        let (end, branch) = scan_header_params_noting(s, i, DEFAULT_MAX_PARAMS, b"branch")?;
        let tail = skip_lws(s, end);
        if tail != s.len() {
            return Err(ParseError::expected(tail, "\";\" or end of Via"));
        }
        Ok(Via {
            protocol: cut(raw, p0, v1),
            transport: cut(raw, t0, t1),
            host: cut(raw, h0, host_end),
            port,
            params: cut(raw, i, end),
            branch: branch.flatten().map(|(a, b)| cut(raw, a, b)),
        })
    }

    /// The via-params (`;branch=..;received=..;rport`).
    #[inline]
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// The `branch` parameter (RFC 3261 section 8.1.1.7).
    #[inline]
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }

    /// Whether the branch has the RFC 3261 magic cookie `z9hG4bK`.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }

    /// The `received` parameter (section 18.2.1).
    pub fn received(&self) -> Option<&'a str> {
        self.params().value("received")
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` when present without
    /// a value (as a client sends it), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params()
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params().value("maddr")
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params().value("ttl").and_then(|t| t.parse().ok())
    }

    /// The transport as a [`Transport`], if it is one the core knows.
    pub fn transport_kind(&self) -> Option<Transport> {
        Transport::from_token(self.transport)
    }

    /// Whether the protocol is SIP/2.0 (name and version compared
    /// case-insensitively, LWS around the slash allowed).
    pub fn is_sip_2_0(&self) -> bool {
        let mut parts = self.protocol.split('/').map(str::trim);
        parts.next().is_some_and(|n| n.eq_ignore_ascii_case("SIP")) && parts.next() == Some("2.0")
    }
}

impl fmt::Debug for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Via")
            .field("protocol", &self.protocol)
            .field("transport", &self.transport)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("params", &self.params())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3261 section 20.42 examples.
    #[test]
    fn rfc3261_20_42_examples() {
        let v = Via::parse("SIP/2.0/UDP erlang.bell-telephone.com:5060;branch=z9hG4bK87asdks7")
            .unwrap();
        assert_eq!(v.protocol, "SIP/2.0");
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "erlang.bell-telephone.com");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK87asdks7"));
        assert!(v.is_rfc3261_branch());
        assert_eq!(v.params().as_str(), ";branch=z9hG4bK87asdks7");
        // The first branch counts, as `Params::get` reads it.
        let w = Via::parse("SIP/2.0/UDP h;rport; BRANCH = z9hG4bK1 ;branch=z9hG4bK2").unwrap();
        assert_eq!(w.branch(), Some("z9hG4bK1"));
        assert_eq!(w.branch(), w.params().value("branch"));
        assert_ne!(w, v);
        assert_eq!(Via::parse("SIP/2.0/UDP h;rport").unwrap().branch(), None);
        let v = Via::parse(
            "SIP/2.0/UDP 192.0.2.1:5060 ;received=192.0.2.207\r\n ;branch=z9hG4bK77asjd",
        )
        .unwrap();
        assert_eq!(v.received(), Some("192.0.2.207"));
        assert_eq!(v.branch(), Some("z9hG4bK77asjd"));
        let v = Via::parse("SIP / 2.0 / UDP first.example.com: 4000;ttl=16\r\n ;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1").unwrap();
        assert!(v.is_sip_2_0());
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.port, Some(4000));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some("224.2.0.1"));
    }

    /// The usual shapes take the one-pass path (the figures of the
    /// benchmarks depend on it).
    #[test]
    fn usual_vias_take_the_plain_path() {
        for v in [
            "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101",
            "SIP/2.0/TCP client.biloxi.example.com:5060;branch=z9hG4bKnashds7",
            "SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK1",
            "SIP/2.0/TLS h;x=\"a b\"",
        ] {
            assert_eq!(
                Via::parse_plain(v),
                Some(Via::parse_general(v).unwrap()),
                "{v}"
            );
        }
    }

    /// Pieces of via-parms, usual and not, for the property below.
    const PIECES: &[&str] = &[
        "SIP",
        "/",
        "2.0",
        "tcp",
        " ",
        "\t",
        "\r\n ",
        "[2001:db8::1]",
        "[",
        "]",
        ":",
        "5060",
        "65536",
        "000005060",
        ";",
        "branch",
        "=",
        "\"q;x\"",
        "\"",
        "\\",
        ",",
        "%",
        "@",
        "_",
        "é",
        "",
    ];

    /// A usual via-parm with up to three pieces inserted at random
    /// places.
    fn edited_via() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let params = prop::sample::select(vec![
            ";branch=z9hG4bK1",
            ";BRANCH=x",
            ";branch",
            ";rport",
            ";received=192.0.2.1",
            ";x=\"a;b\"",
            ";maddr=[::1]",
        ]);
        (
            prop::sample::select(vec!["UDP", "TCP", "tls", "X-1"]),
            prop::sample::select(vec!["pc33.atlanta.example.com", "192.0.2.1", "h", "a_b-c"]),
            prop::sample::select(vec!["", ":5060", ":0", ":65535", ":65536", ":123456"]),
            prop::collection::vec(params, 0..4),
            prop::collection::vec((any::<prop::sample::Index>(), 0..PIECES.len()), 0..3),
        )
            .prop_map(|(t, host, port, params, edits)| {
                let mut v = format!("SIP/2.0/{t} {host}{port}{}", params.concat());
                for (at, k) in edits {
                    let mut i = at.index(v.len() + 1);
                    while !v.is_char_boundary(i) {
                        i -= 1;
                    }
                    v.insert_str(i, PIECES[k]);
                }
                v
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        /// Whenever the one-pass path answers, the general decoder gives
        /// the same Via.
        #[test]
        fn plain_path_agrees_with_the_general_decoder(v in edited_via()) {
            if let Some(plain) = Via::parse_plain(&v) {
                proptest::prop_assert_eq!(Ok(plain), Via::parse_general(&v), "{:?}", v);
            }
        }
    }

    #[test]
    fn rport_ipv6_and_errors() {
        let v = Via::parse("SIP/2.0/TCP [2001:db8::1]:5062;rport;branch=z9hG4bKx").unwrap();
        assert_eq!(v.host, "[2001:db8::1]");
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.transport_kind(), Some(Transport::Tcp));
        let v = Via::parse("SIP/2.0/UDP h;rport=5070").unwrap();
        assert_eq!(v.rport(), Some(Some(5070)));
        assert_eq!(v.port, None);
        for bad in [
            "",
            "SIP/2.0",
            "SIP/2.0/UDP",
            "SIP/2.0/UDPhost",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP host;",
            "SIP/2.0/UDP a, SIP/2.0/UDP b",
            "SIP/2.0/UDP [::1",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad:?}");
        }
    }
}
