//! `Content-Type` / `Accept` media types (RFC 3261 section 20.15):
//! ```text
//! media-type = m-type SLASH m-subtype *(SEMI m-parameter)
//! ```

use std::fmt;

use crate::message::error::ParseError;
use crate::message::lex::{skip_lws, token, unquote};
use crate::message::params::{scan_header_params, Params, DEFAULT_MAX_PARAMS};

/// A media type with parameters, e.g. `multipart/mixed;boundary=x`.
/// Type and subtype compare case-insensitively.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// The type (`application`).
    pub type_: &'a str,
    /// The subtype (`sdp`).
    pub subtype: &'a str,
    /// The parameters.
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parse a media type (one element of Accept, or Content-Type).
    /// `*` is accepted as type or subtype (Accept's media ranges).
    pub fn parse(raw: &'a str) -> Result<MediaType<'a>, ParseError> {
        let s = raw.as_bytes();
        let t0 = skip_lws(s, 0);
        let t1 = token(s, t0, "m-type")?;
        let sl = skip_lws(s, t1);
        if s.get(sl) != Some(&b'/') {
            return Err(ParseError::expected(sl, "\"/\""));
        }
        let u0 = skip_lws(s, sl + 1);
        let u1 = token(s, u0, "m-subtype")?;
        let end = scan_header_params(s, u1, DEFAULT_MAX_PARAMS)?;
        if skip_lws(s, end) != s.len() {
            return Err(ParseError::expected(end, "\";\" or end of media type"));
        }
        Ok(MediaType {
            type_: &raw[t0..t1],
            subtype: &raw[u0..u1],
            params: Params::new(&raw[u1..end]),
        })
    }

    /// Whether this is `type_/subtype` (case-insensitive).
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// Whether this is `application/sdp`.
    pub fn is_sdp(&self) -> bool {
        self.is("application", "sdp")
    }

    /// Whether the type is `multipart`.
    pub fn is_multipart(&self) -> bool {
        self.type_.eq_ignore_ascii_case("multipart")
    }

    /// The value of parameter `name`, with quotes removed.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.value(name).map(unquote)
    }
}

impl fmt::Debug for MediaType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{:?}", self.type_, self.subtype, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3261 section 20.15 examples.
    #[test]
    fn rfc3261_20_15_examples() {
        let m = MediaType::parse("application/sdp").unwrap();
        assert!(m.is_sdp());
        let m = MediaType::parse("text/html; charset=ISO-8859-4").unwrap();
        assert!(m.is("TEXT", "HTML"));
        assert_eq!(m.param("charset"), Some("ISO-8859-4"));
        let m = MediaType::parse("multipart/mixed;boundary=\"unique boundary 1\"").unwrap();
        assert!(m.is_multipart());
        assert_eq!(m.param("boundary"), Some("unique boundary 1"));
        for bad in ["", "application", "application/", "/sdp", "a/b c"] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?}");
        }
    }
}
