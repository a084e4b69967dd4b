//! `name-addr` / `addr-spec` with header parameters (RFC 3261 section 25.1),
//! shared by From, To, Contact, Route, Record-Route, Reply-To, Refer-To,
//! Referred-By, P-Asserted-Identity:
//! ```text
//! name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
//! display-name = *(token LWS)/ quoted-string
//! ```
//! RFC 3261 section 20.10: an addr-spec without angle brackets ends at the
//! first semicolon; what follows are header parameters, not URI parameters.

use std::fmt;

use crate::message::error::ParseError;
use crate::message::lex::{
    check_len, find_byte, plain_port, quoted_string, run, skip_lws, trim, Span, QUOTED_PLAIN,
};
use crate::message::params::{
    scan_header_params_noting, scan_plain_header_params, Params, DEFAULT_MAX_PARAMS,
};
use crate::message::tables::{HOST, LWS, TOKEN, URI_PARAM_PLAIN, USER_PLAIN};
use crate::message::uri::{expect_end, scan_uri, starts_with_sip_scheme, Scheme, Uri, UriParts};

/// An address with optional display name and header parameters, as the
/// byte ranges of its parts in the element's text: decoding validates the
/// whole element in one forward pass, and the accessors cut the text when
/// asked. Two addresses are equal when they were written the same way.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The element as passed to [`NameAddr::parse`].
    text: &'a str,
    /// Quotes removed, or a token display name trimmed; `None` when absent
    /// or empty.
    display_name: Option<Span>,
    /// The URI as written (inside the angle brackets, if any).
    uri_text: Span,
    uri: UriParts,
    /// Header parameters, leading `;` included.
    params: Span,
    /// The value of the first `tag` parameter, if it has one.
    tag: Option<Span>,
    bracketed: bool,
}

impl<'a> NameAddr<'a> {
    /// Parse one element (From, To, one Route/Contact entry).
    pub fn parse(raw: &'a str) -> Result<NameAddr<'a>, ParseError> {
        if let Some(a) = Self::parse_plain(raw) {
            return Ok(a);
        }
        Self::parse_general(raw)
    }

    /// The usual element, `["display name" [SP]] <sip:user@host[:port][;uri-params]>`
    /// and header parameters, with no other LWS, escapes, password or
    /// URI headers: the value [`NameAddr::parse_general`] gives for it,
    /// else `None` (and the general path decides, errors included). Each
    /// part is scanned once, by the class run it needs.
    #[inline(always)]
    fn parse_plain(raw: &'a str) -> Option<NameAddr<'a>> {
        let s = raw.as_bytes();
        if check_len(s).is_err() {
            return None;
        }
        let (display_name, lt) = match s.first() {
            Some(b'<') => (None, 0),
            Some(b'"') => {
                let q = run(s, 1, &QUOTED_PLAIN);
                if s.get(q) != Some(&b'"') {
                    return None;
                }
                let lt = if s.get(q + 1) == Some(&b' ') {
                    q + 2
                } else {
                    q + 1
                };
                if s.get(lt) != Some(&b'<') {
                    return None;
                }
                (Some(Span::new(1, q)).filter(|d| !d.is_empty()), lt)
            }
            _ => return None,
        };
        let u0 = lt + 1;
        if !starts_with_sip_scheme(s.get(u0..)?) {
            return None;
        }
        let i = u0 + 4;
        let user_end = run(s, i, &USER_PLAIN);
        if user_end == i || s.get(user_end) != Some(&b'@') {
            return None;
        }
        let h0 = user_end + 1;
        let mut j = run(s, h0, &HOST);
        if j == h0 {
            return None;
        }
        let host = Span::new(h0, j);
        let mut port = None;
        if s.get(j) == Some(&b':') {
            // 1 to 5 digits below 65536, as `scan_uri` takes them.
            let (n, e) = plain_port(s, j + 1)?;
            port = Some(n);
            j = e;
        }
        // URI parameters without escapes (`scan_uri_params` on the same
        // text): a `%` or an empty name or value ends the list at a byte
        // other than the `>`.
        let params_start = j;
        let mut count = 0;
        while s.get(j) == Some(&b';') && count < DEFAULT_MAX_PARAMS {
            count += 1;
            let n = j + 1;
            j = run(s, n, &URI_PARAM_PLAIN);
            if j == n {
                return None;
            }
            if s.get(j) == Some(&b'=') {
                let v = j + 1;
                j = run(s, v, &URI_PARAM_PLAIN);
                if j == v {
                    return None;
                }
            }
        }
        // No parameters: the empty range `scan_uri` gives.
        let params = if j == params_start {
            Span::default()
        } else {
            Span::new(params_start, j)
        };
        if s.get(j) != Some(&b'>') {
            return None;
        }
        let after = j + 1;
        let tag = scan_plain_header_params(s, after, DEFAULT_MAX_PARAMS, b"tag")?;
        Some(NameAddr {
            text: raw,
            display_name,
            uri_text: Span::new(u0, j),
            uri: UriParts {
                scheme: Scheme::Sip,
                user: Some(Span::new(i, user_end)),
                password: None,
                host,
                port,
                params,
                headers: None,
            },
            params: Span::new(after, s.len()),
            tag: tag.flatten().map(|(a, b)| Span::new(a, b)),
            bracketed: true,
        })
    }

    /// [`NameAddr::parse`] for any element.
    #[inline(never)]
    fn parse_general(raw: &'a str) -> Result<NameAddr<'a>, ParseError> {
        let s = raw.as_bytes();
        check_len(s)?;
        let start = skip_lws(s, 0);
        let (display_name, lt) = if s.get(start) == Some(&b'"') {
            let end = quoted_string(s, start)?;
            let lt = skip_lws(s, end);
            if s.get(lt) != Some(&b'<') {
                return Err(ParseError::expected(lt, "\"<\""));
            }
            (Some(Span::new(start + 1, end - 1)), lt)
        } else if s.get(start) == Some(&b'<') {
            // No display name (as the search below would find).
            (None, start)
        } else if let Some(lt) = find_byte(s, start, b'<') {
            // Token display name; real traffic also sends unquoted UTF-8.
            let mut end = start;
            for (k, &b) in s[start..lt].iter().enumerate() {
                if TOKEN[b as usize] || b >= 0x80 {
                    end = start + k + 1;
                } else if !LWS[b as usize] {
                    return Err(ParseError::expected(start + k, "display-name"));
                }
            }
            (Some(Span::new(start, end)), lt)
        } else {
            return Self::parse_addr_spec(raw, start);
        };
        // One scan of the URI up to the first byte no URI admits; when that
        // is the ">" (as it always is for a well-formed address), the scan
        // covered exactly the bracketed text. Anything else (errors
        // included) is decided on the bracketed text alone, so errors come
        // out as for a URI on its own.
        let uri_start = lt + 1;
        let (uri, gt) = match scan_uri(s, uri_start, DEFAULT_MAX_PARAMS) {
            Ok((uri, stop)) if s.get(stop) == Some(&b'>') => (uri, stop),
            _ => Self::bracketed_uri(s, uri_start)?,
        };
        Self::finish(raw, display_name, Span::new(uri_start, gt), uri, true)
    }

    /// The URI between `<` (before `uri_start`) and the first `>`, and
    /// that `>`: the errors of a URI on its own.
    #[cold]
    fn bracketed_uri(s: &[u8], uri_start: usize) -> Result<(UriParts, usize), ParseError> {
        let gt = memchr::memchr(b'>', &s[uri_start..])
            .map(|g| uri_start + g)
            .ok_or(ParseError::expected(s.len(), "\">\""))?;
        let (uri, stop) = scan_uri(&s[..gt], uri_start, DEFAULT_MAX_PARAMS)?;
        expect_end(&uri, stop, gt)?;
        Ok((uri, gt))
    }

    /// An addr-spec without angle brackets: it ends at the first semicolon,
    /// comma or LWS (RFC 3261 section 20.10), and may not carry URI headers.
    #[cold]
    fn parse_addr_spec(raw: &'a str, start: usize) -> Result<NameAddr<'a>, ParseError> {
        let s = raw.as_bytes();
        let end = s[start..]
            .iter()
            .position(|&b| b == b';' || b == b',' || LWS[b as usize])
            .map_or(s.len(), |e| start + e);
        let (uri, stop) = scan_uri(&s[..end], start, DEFAULT_MAX_PARAMS)?;
        expect_end(&uri, stop, end)?;
        if uri.headers.is_some() {
            return Err(ParseError::expected(
                start,
                "angle brackets around URI with headers",
            ));
        }
        Self::finish(raw, None, Span::new(start, end), uri, false)
    }

    /// The header parameters after the address, and the end of the element.
    #[inline]
    fn finish(
        raw: &'a str,
        display_name: Option<Span>,
        uri_text: Span,
        uri: UriParts,
        bracketed: bool,
    ) -> Result<NameAddr<'a>, ParseError> {
        let s = raw.as_bytes();
        let after = uri_text.end as usize + usize::from(bracketed);
        let (end, tag) = scan_header_params_noting(s, after, DEFAULT_MAX_PARAMS, b"tag")?;
        let tail = skip_lws(s, end);
        if tail != s.len() {
            return Err(ParseError::expected(tail, "\";\" or end of address"));
        }
        Ok(NameAddr {
            text: raw,
            display_name: display_name.filter(|d| !d.is_empty()),
            uri_text,
            uri,
            params: Span::new(after, end),
            tag: tag.flatten().map(|(a, b)| Span::new(a, b)),
            bracketed,
        })
    }

    /// The display name: quotes removed, escapes kept as written; a token
    /// display name trimmed. `None` when absent or empty.
    #[inline]
    pub fn display_name(&self) -> Option<&'a str> {
        self.display_name.map(|d| d.of(self.text))
    }

    /// The URI.
    #[inline]
    pub fn uri(&self) -> Uri<'a> {
        self.uri.to_uri(self.text, self.uri_text.of(self.text))
    }

    /// Header parameters after the address (`;tag=..`, `;expires=..`).
    #[inline]
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params.of(self.text))
    }

    /// Whether the address was written in angle brackets.
    #[inline]
    pub fn bracketed(&self) -> bool {
        self.bracketed
    }

    /// The `tag` parameter (RFC 3261 section 19.3).
    #[inline]
    pub fn tag(&self) -> Option<&'a str> {
        self.tag.map(|t| t.of(self.text))
    }
}

impl fmt::Debug for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameAddr")
            .field("display_name", &self.display_name())
            .field("uri", &self.uri())
            .field("params", &self.params())
            .finish()
    }
}

/// One Contact element (RFC 3261 section 20.10): `*` (REGISTER removal of
/// all bindings) or an address.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`
    Star,
    /// An address with parameters.
    Address(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parse one contact element.
    pub fn parse(raw: &'a str) -> Result<Contact<'a>, ParseError> {
        // Most contacts start with their `<` or display name: not `*`.
        if matches!(raw.as_bytes().first(), Some(b'<' | b'"')) {
            return NameAddr::parse(raw).map(Contact::Address);
        }
        if trim(raw) == "*" {
            Ok(Contact::Star)
        } else {
            NameAddr::parse(raw).map(Contact::Address)
        }
    }

    /// The address, unless this is `*`.
    #[inline]
    pub fn address(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Address(a) => Some(a),
        }
    }

    /// The `expires` contact parameter (section 20.10).
    pub fn expires(&self) -> Option<u32> {
        self.address()?.params().value("expires")?.parse().ok()
    }

    /// The `q` contact parameter, 0.0 to 1.0.
    pub fn q(&self) -> Option<f32> {
        let q: f32 = self.address()?.params().value("q")?.parse().ok()?;
        (0.0..=1.0).contains(&q).then_some(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Scheme;

    /// RFC 3261 section 20.20 (From) and 20.39 (To) examples.
    #[test]
    fn rfc3261_20_20_and_20_39_examples() {
        let a = NameAddr::parse("\"A. G. Bell\" <sip:agb@bell-telephone.com> ;tag=a48s").unwrap();
        assert_eq!(a.display_name(), Some("A. G. Bell"));
        assert_eq!(a.uri().user, Some("agb"));
        assert_eq!(a.tag(), Some("a48s"));
        assert_eq!(a.params().as_str(), " ;tag=a48s");
        assert!(a.bracketed());
        // The first tag counts, as `Params::get` reads it; its name is
        // case-insensitive and a tag without a value has none.
        let b = NameAddr::parse("<sip:a@b>;x=1 ; TAG = t1;tag=t2").unwrap();
        assert_eq!(b.tag(), Some("t1"));
        assert_eq!(b.tag(), b.params().value("tag"));
        assert_eq!(NameAddr::parse("<sip:a@b>;tag;tag=2").unwrap().tag(), None);
        assert_ne!(a, b);
        assert_eq!(
            a,
            NameAddr::parse("\"A. G. Bell\" <sip:agb@bell-telephone.com> ;tag=a48s").unwrap()
        );
        let a = NameAddr::parse("sip:+12125551212@server.phone2net.com;tag=887s").unwrap();
        assert_eq!(a.display_name(), None);
        assert!(!a.bracketed());
        assert_eq!(a.uri().raw, "sip:+12125551212@server.phone2net.com");
        assert!(a.uri().params.is_empty());
        assert_eq!(a.tag(), Some("887s"));
        let a = NameAddr::parse("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8").unwrap();
        assert_eq!(a.display_name(), Some("Anonymous"));
        let a = NameAddr::parse("The Operator <sip:operator@cs.columbia.edu>;tag=287447").unwrap();
        assert_eq!(a.display_name(), Some("The Operator"));
        let a = NameAddr::parse("sip:+12125551212@phone2net.com").unwrap();
        assert_eq!(a.tag(), None);
    }

    /// RFC 3261 section 20.10 Contact examples, including `*`.
    #[test]
    fn rfc3261_20_10_contact_examples() {
        let c = Contact::parse(
            "\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>\r\n ;q=0.7; expires=3600",
        )
        .unwrap();
        assert_eq!(c.q(), Some(0.7));
        assert_eq!(c.expires(), Some(3600));
        let c = Contact::parse("\"Mr. Watson\" <mailto:watson@bell-telephone.com> ;q=0.1").unwrap();
        assert_eq!(c.address().unwrap().uri().scheme, Scheme::Other);
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Star);
        let c = Contact::parse("<sip:a@b;transport=tcp>;expires=60").unwrap();
        let a = c.address().unwrap();
        assert_eq!(a.uri().transport_param(), Some("tcp"));
        assert_eq!(c.expires(), Some(60));
    }

    /// The usual shapes take the one-pass path (the figures of the
    /// benchmarks depend on it).
    #[test]
    fn usual_addresses_take_the_plain_path() {
        for a in [
            "\"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl",
            "\"Bob\" <sip:bob@biloxi.example.com>",
            "<sip:alice@pc33.atlanta.example.com;transport=udp>",
            "<sip:bob@192.0.2.4:5060;lr>;expires=3600;q=0.5",
            "\"\"<SIP:a@b>;tag=\"x;y\"",
        ] {
            assert_eq!(
                NameAddr::parse_plain(a),
                Some(NameAddr::parse_general(a).unwrap()),
                "{a}"
            );
        }
    }

    /// Pieces of name-addrs, usual and not, for the property below.
    const PIECES: &[&str] = &[
        "\"",
        "\\",
        " ",
        "\t",
        "\r\n ",
        "<",
        ">",
        "sips:",
        "tel:",
        "x:",
        "@",
        "[::1]",
        ":",
        "65536",
        "000005060",
        ";",
        "=",
        "%41",
        "%4",
        "?",
        "h=v",
        "\"q;x\"",
        ",",
        "*",
        "_",
        "é",
        "",
    ];

    /// A usual name-addr with up to three pieces inserted at random
    /// places.
    fn edited_name_addr() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let uri_params = prop::sample::select(vec![";transport=udp", ";lr", ";maddr=x", ";a=b"]);
        let params = prop::sample::select(vec![";tag=9fx", ";TAG=\"a;b\"", ";expires=60", ";tag"]);
        (
            prop::sample::select(vec!["", "\"Alice\" ", "\"\"", "\"A\"", "Bob "]),
            prop::sample::select(vec!["sip:", "SIP:"]),
            prop::sample::select(vec!["alice", "a;b", "+1-212", ""]),
            prop::sample::select(vec!["atlanta.example.com", "192.0.2.1", "h"]),
            prop::sample::select(vec!["", ":5060", ":0", ":65536", ":123456"]),
            prop::collection::vec(uri_params, 0..3),
            prop::collection::vec(params, 0..3),
            prop::collection::vec((any::<prop::sample::Index>(), 0..PIECES.len()), 0..3),
        )
            .prop_map(
                |(name, scheme, user, host, port, uri_params, params, edits)| {
                    let at = if user.is_empty() { "" } else { "@" };
                    let mut a = format!(
                        "{name}<{scheme}{user}{at}{host}{port}{}>{}",
                        uri_params.concat(),
                        params.concat()
                    );
                    for (at, k) in edits {
                        let mut i = at.index(a.len() + 1);
                        while !a.is_char_boundary(i) {
                            i -= 1;
                        }
                        a.insert_str(i, PIECES[k]);
                    }
                    a
                },
            )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        /// Whenever the one-pass path answers, the general decoder gives
        /// the same address.
        #[test]
        fn plain_path_agrees_with_the_general_decoder(a in edited_name_addr()) {
            if let Some(plain) = NameAddr::parse_plain(&a) {
                proptest::prop_assert_eq!(Ok(plain), NameAddr::parse_general(&a), "{:?}", a);
            }
        }
    }

    #[test]
    fn quoted_names_with_escapes_and_errors() {
        let a = NameAddr::parse(r#""Bob \"B\" <x>" <sip:bob@b>"#).unwrap();
        assert_eq!(a.display_name(), Some(r#"Bob \"B\" <x>"#));
        let a = NameAddr::parse("\"\" <sip:x@y>").unwrap();
        assert_eq!(a.display_name(), None);
        for bad in [
            "",
            "<sip:a@b",
            "\"a <sip:a@b>",
            "sip:a@b?x=y",
            "<sip:a@b> junk",
            "a\"b <sip:x@y>",
            "<>",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad:?}");
        }
    }
}
