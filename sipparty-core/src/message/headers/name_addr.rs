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
use crate::message::lex::{find_byte, quoted_string, skip_lws, trim, unquote};
use crate::message::params::{scan_header_params_noting, Params, DEFAULT_MAX_PARAMS};
use crate::message::tables::LWS;
use crate::message::uri::Uri;

/// An address with optional display name and header parameters.
#[derive(Clone, Copy)]
pub struct NameAddr<'a> {
    /// The display name: quotes removed, escapes kept as written; a token
    /// display name trimmed. `None` when absent or empty.
    pub display_name: Option<&'a str>,
    /// The URI.
    pub uri: Uri<'a>,
    /// Header parameters after the address (`;tag=..`, `;expires=..`).
    pub params: Params<'a>,
    /// Whether the address was written in angle brackets.
    pub bracketed: bool,
    /// The tag as noted while scanning `parsed_params`, the parameter text
    /// at parse time ([`NameAddr::tag`] uses it while `params` is still
    /// that text).
    tag: Option<&'a str>,
    parsed_params: &'a str,
}

impl PartialEq for NameAddr<'_> {
    fn eq(&self, other: &Self) -> bool {
        // The public fields; the noted tag follows from them.
        self.display_name == other.display_name
            && self.uri == other.uri
            && self.params == other.params
            && self.bracketed == other.bracketed
    }
}

impl Eq for NameAddr<'_> {}

impl<'a> NameAddr<'a> {
    /// Parse one element (From, To, one Route/Contact entry).
    pub fn parse(raw: &'a str) -> Result<NameAddr<'a>, ParseError> {
        let s = raw.as_bytes();
        let start = skip_lws(s, 0);
        let (display_name, uri_start, uri_end, after) = if s.get(start) == Some(&b'"') {
            let end = quoted_string(s, start)?;
            let lt = skip_lws(s, end);
            if s.get(lt) != Some(&b'<') {
                return Err(ParseError::expected(lt, "\"<\""));
            }
            let gt = find_far(s, lt + 1, b'>').ok_or(ParseError::expected(s.len(), "\">\""))?;
            (Some(unquote(&raw[start..end])), lt + 1, gt, gt + 1)
        } else if let Some(lt) = find(s, start, b'<') {
            // Token display name; real traffic also sends unquoted UTF-8.
            if let Some(bad) = s[start..lt].iter().position(|&b| {
                !(crate::message::tables::TOKEN[b as usize] || LWS[b as usize] || b >= 0x80)
            }) {
                return Err(ParseError::expected(start + bad, "display-name"));
            }
            let gt = find_far(s, lt + 1, b'>').ok_or(ParseError::expected(s.len(), "\">\""))?;
            let name = trim(&raw[start..lt]);
            (
                if name.is_empty() { None } else { Some(name) },
                lt + 1,
                gt,
                gt + 1,
            )
        } else {
            let end = s[start..]
                .iter()
                .position(|&b| b == b';' || b == b',' || LWS[b as usize])
                .map_or(s.len(), |e| start + e);
            (None, start, end, end)
        };
        let bracketed = after != uri_end;
        let uri_text = &raw[uri_start..uri_end];
        let uri = Uri::parse(uri_text).map_err(|e| e.shifted(uri_start))?;
        if !bracketed && uri.headers.is_some() {
            return Err(ParseError::expected(
                uri_start,
                "angle brackets around URI with headers",
            ));
        }
        let (end, tag) = scan_header_params_noting(s, after, DEFAULT_MAX_PARAMS, b"tag")?;
        let tail = skip_lws(s, end);
        if tail != s.len() {
            return Err(ParseError::expected(tail, "\";\" or end of address"));
        }
        let params = &raw[after..end];
        Ok(NameAddr {
            display_name: display_name.filter(|d| !d.is_empty()),
            uri,
            params: Params::new(params),
            bracketed,
            tag: tag.flatten().map(|(a, b)| &raw[a..b]),
            parsed_params: params,
        })
    }

    /// The `tag` parameter (RFC 3261 section 19.3).
    pub fn tag(&self) -> Option<&'a str> {
        // Noted during parsing, unless `params` was replaced since.
        if std::ptr::eq(self.params.as_str(), self.parsed_params) {
            self.tag
        } else {
            self.params.value("tag")
        }
    }
}

/// A byte that is usually near (`<` after a display name).
fn find(s: &[u8], from: usize, b: u8) -> Option<usize> {
    find_byte(s, from, b)
}

/// A byte that is usually a URI's length away (`>`): a general search
/// pays for its setup there.
fn find_far(s: &[u8], from: usize, b: u8) -> Option<usize> {
    memchr::memchr(b, s.get(from..)?).map(|p| from + p)
}

impl fmt::Debug for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameAddr")
            .field("display_name", &self.display_name)
            .field("uri", &self.uri)
            .field("params", &self.params)
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
        if trim(raw) == "*" {
            Ok(Contact::Star)
        } else {
            NameAddr::parse(raw).map(Contact::Address)
        }
    }

    /// The address, unless this is `*`.
    pub fn address(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Address(a) => Some(a),
        }
    }

    /// The `expires` contact parameter (section 20.10).
    pub fn expires(&self) -> Option<u32> {
        self.address()?.params.value("expires")?.parse().ok()
    }

    /// The `q` contact parameter, 0.0 to 1.0.
    pub fn q(&self) -> Option<f32> {
        let q: f32 = self.address()?.params.value("q")?.parse().ok()?;
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
        assert_eq!(a.display_name, Some("A. G. Bell"));
        assert_eq!(a.uri.user, Some("agb"));
        assert_eq!(a.tag(), Some("a48s"));
        // A replaced parameter list is read, not the one noted at parse.
        let mut b = a;
        b.params = Params::new(";TAG=other");
        assert_eq!(b.tag(), Some("other"));
        assert_ne!(a, b);
        let a = NameAddr::parse("sip:+12125551212@server.phone2net.com;tag=887s").unwrap();
        assert_eq!(a.display_name, None);
        assert_eq!(a.uri.raw, "sip:+12125551212@server.phone2net.com");
        assert!(a.uri.params.is_empty());
        assert_eq!(a.tag(), Some("887s"));
        let a = NameAddr::parse("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8").unwrap();
        assert_eq!(a.display_name, Some("Anonymous"));
        let a = NameAddr::parse("The Operator <sip:operator@cs.columbia.edu>;tag=287447").unwrap();
        assert_eq!(a.display_name, Some("The Operator"));
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
        assert_eq!(c.address().unwrap().uri.scheme, Scheme::Other);
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Star);
        let c = Contact::parse("<sip:a@b;transport=tcp>;expires=60").unwrap();
        let a = c.address().unwrap();
        assert_eq!(a.uri.transport_param(), Some("tcp"));
        assert_eq!(c.expires(), Some(60));
    }

    #[test]
    fn quoted_names_with_escapes_and_errors() {
        let a = NameAddr::parse(r#""Bob \"B\" <x>" <sip:bob@b>"#).unwrap();
        assert_eq!(a.display_name, Some(r#"Bob \"B\" <x>"#));
        let a = NameAddr::parse("\"\" <sip:x@y>").unwrap();
        assert_eq!(a.display_name, None);
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
