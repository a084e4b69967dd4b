//! Parsing and writing of the authentication headers: challenges
//! (`WWW-Authenticate`, `Proxy-Authenticate`) and credentials
//! (`Authorization`, `Proxy-Authorization`).
//!
//! The grammar is RFC 3261 section 25.1 (`challenge`, `credentials`), read
//! with the list rules of RFC 7235 section 4.1 so that several challenges in
//! one header value (`Digest realm="a", nonce="1", Digest realm="b", ...`)
//! are split correctly:
//!
//! ```text
//! challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
//! quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
//! ```
//!
//! After a comma, `name =` starts another parameter of the same challenge
//! and anything else starts a new challenge. Scheme and parameter names are
//! compared without case; unknown parameters are kept in order so that a
//! parsed value writes back equivalently. Parsing borrows from the input
//! and only allocates for quoted strings that contain escapes.

use std::borrow::Cow;
use std::fmt;

use super::digest::{parse_nc, Algorithm, Qop};

/// Why an authentication header value could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderError {
    /// Byte offset in the header value where parsing stopped.
    pub offset: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed authentication header at byte {}: expected {}",
            self.offset, self.expected
        )
    }
}

impl std::error::Error for HeaderError {}

/// One `name=value` parameter of a challenge or credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// The parameter name as written (compare with `eq_ignore_ascii_case`).
    pub name: &'a str,
    /// The value, with quotes removed and quoted-pairs unescaped.
    pub value: Cow<'a, str>,
    /// Whether the value was (or is to be) written as a quoted string.
    pub quoted: bool,
}

impl<'a> AuthParam<'a> {
    /// A token-valued parameter, written without quotes.
    pub fn token(name: &'a str, value: impl Into<Cow<'a, str>>) -> Self {
        AuthParam {
            name,
            value: value.into(),
            quoted: false,
        }
    }

    /// A parameter written as a quoted string (escaped as needed).
    pub fn quoted(name: &'a str, value: impl Into<Cow<'a, str>>) -> Self {
        AuthParam {
            name,
            value: value.into(),
            quoted: true,
        }
    }
}

/// One challenge or one set of credentials: a scheme and its parameters.
///
/// Shared shape of [`Challenge`] and [`DigestResponse`]; non-Digest schemes
/// (`Basic`, `Negotiate token68`) parse too, so a caller can skip them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuthItem<'a> {
    /// The scheme (`Digest`), as written.
    pub scheme: &'a str,
    /// A `token68` in place of parameters (RFC 7235), if any.
    pub token68: Option<&'a str>,
    /// The parameters, in order.
    pub params: Vec<AuthParam<'a>>,
}

impl<'a> AuthItem<'a> {
    /// Whether the scheme is `Digest` (any case).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// The first parameter called `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// Writes the item in its wire form.
    pub fn write_to(&self, out: &mut String) {
        out.push_str(self.scheme);
        if let Some(t) = self.token68 {
            out.push(' ');
            out.push_str(t);
            return;
        }
        for (i, p) in self.params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(p.name);
            out.push('=');
            if p.quoted || !is_token(&p.value) {
                write_quoted(out, &p.value);
            } else {
                out.push_str(&p.value);
            }
        }
    }
}

impl fmt::Display for AuthItem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge<'a>(pub AuthItem<'a>);

impl<'a> Challenge<'a> {
    /// Parses every challenge of one header value.
    pub fn parse_list(value: &'a str) -> Result<Vec<Challenge<'a>>, HeaderError> {
        Ok(parse_items(value)?.into_iter().map(Challenge).collect())
    }

    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&str> {
        self.0.param("realm")
    }

    /// The `nonce` parameter.
    pub fn nonce(&self) -> Option<&str> {
        self.0.param("nonce")
    }

    /// The `opaque` parameter, echoed back unchanged.
    pub fn opaque(&self) -> Option<&str> {
        self.0.param("opaque")
    }

    /// The algorithm: `Some(Ok)` if known, `Some(Err(token))` if the server
    /// named one this crate does not implement, MD5 if absent
    /// (RFC 7616 section 3.3).
    pub fn algorithm(&self) -> Result<Algorithm, &str> {
        match self.0.param("algorithm") {
            None => Ok(Algorithm::Md5),
            Some(t) => Algorithm::from_token(t).ok_or(t),
        }
    }

    /// Whether the challenge names an algorithm explicitly.
    pub fn has_algorithm(&self) -> bool {
        self.0.param("algorithm").is_some()
    }

    /// The qop options offered (a quoted comma list); unknown ones are
    /// skipped. `None` if the challenge has no `qop` (RFC 2069 mode).
    pub fn qop_options(&self) -> Option<impl Iterator<Item = Qop> + '_> {
        self.0.param("qop").map(|list| {
            list.split(',')
                .filter_map(|t| Qop::from_token(t.trim_matches([' ', '\t'])))
        })
    }

    /// `stale=true` (RFC 7616 section 3.3): the credentials were right but
    /// the nonce has expired; retry with the new nonce without asking the
    /// user again.
    pub fn stale(&self) -> bool {
        self.0
            .param("stale")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// `userhash=true` (RFC 7616 section 3.4.4).
    pub fn userhash(&self) -> bool {
        self.0
            .param("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parsed `Authorization` / `Proxy-Authorization` credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestResponse<'a>(pub AuthItem<'a>);

impl<'a> DigestResponse<'a> {
    /// Parses one credentials header value (RFC 3261: one `credentials`
    /// per header field).
    pub fn parse(value: &'a str) -> Result<DigestResponse<'a>, HeaderError> {
        let mut items = parse_items(value)?;
        match items.len() {
            1 => Ok(DigestResponse(items.remove(0))),
            0 => Err(HeaderError {
                offset: 0,
                expected: "credentials",
            }),
            _ => Err(HeaderError {
                offset: value.len(),
                expected: "one set of credentials",
            }),
        }
    }

    /// The `username` parameter (possibly a userhash).
    pub fn username(&self) -> Option<&str> {
        self.0.param("username")
    }

    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&str> {
        self.0.param("realm")
    }

    /// The `nonce` parameter.
    pub fn nonce(&self) -> Option<&str> {
        self.0.param("nonce")
    }

    /// The `uri` parameter.
    pub fn uri(&self) -> Option<&str> {
        self.0.param("uri")
    }

    /// The `response` parameter.
    pub fn response(&self) -> Option<&str> {
        self.0.param("response")
    }

    /// The `cnonce` parameter.
    pub fn cnonce(&self) -> Option<&str> {
        self.0.param("cnonce")
    }

    /// The `opaque` parameter.
    pub fn opaque(&self) -> Option<&str> {
        self.0.param("opaque")
    }

    /// The `nc` parameter: `Some(Ok(n))`, `Some(Err(()))` if malformed.
    pub fn nc(&self) -> Option<Result<u32, ()>> {
        self.0.param("nc").map(|v| parse_nc(v).ok_or(()))
    }

    /// The `qop` parameter: `Some(Ok)`, `Some(Err(token))` if unknown.
    pub fn qop(&self) -> Option<Result<Qop, &str>> {
        self.0.param("qop").map(|v| Qop::from_token(v).ok_or(v))
    }

    /// The algorithm (MD5 if absent), or the unknown token.
    pub fn algorithm(&self) -> Result<Algorithm, &str> {
        match self.0.param("algorithm") {
            None => Ok(Algorithm::Md5),
            Some(t) => Algorithm::from_token(t).ok_or(t),
        }
    }

    /// `userhash=true`.
    pub fn userhash(&self) -> bool {
        self.0
            .param("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

impl fmt::Display for DigestResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a challenge list or credentials into scheme items.
pub fn parse_items(value: &str) -> Result<Vec<AuthItem<'_>>, HeaderError> {
    let mut p = Parser {
        s: value,
        b: value.as_bytes(),
        pos: 0,
    };
    let mut items = Vec::new();
    loop {
        // #rule: empty list elements are allowed (RFC 7230 section 7).
        p.skip_ws_and_commas();
        if p.at_end() {
            break;
        }
        let scheme = p.token().ok_or(p.err("auth-scheme"))?;
        let mut item = AuthItem {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        let had_space = p.skip_ws();
        if p.at_end() || p.peek() == Some(b',') {
            items.push(item);
            continue;
        }
        if !had_space {
            return Err(p.err("space after auth-scheme"));
        }
        if let Some(t) = p.token68() {
            item.token68 = Some(t);
            items.push(item);
            continue;
        }
        // The parameter list; returns at the end or before a new challenge.
        loop {
            item.params.push(p.param()?);
            p.skip_ws();
            if p.at_end() {
                break;
            }
            if !p.eat(b',') {
                return Err(p.err("',' or end of value"));
            }
            p.skip_ws_and_commas();
            if p.at_end() || !p.param_follows() {
                break;
            }
        }
        items.push(item);
    }
    Ok(items)
}

/// Parses a bare parameter list, as in `Authentication-Info`
/// (RFC 3261 section 20.6: `ainfo *(COMMA ainfo)`).
pub fn parse_params(value: &str) -> Result<Vec<AuthParam<'_>>, HeaderError> {
    let mut p = Parser {
        s: value,
        b: value.as_bytes(),
        pos: 0,
    };
    let mut params = Vec::new();
    loop {
        p.skip_ws_and_commas();
        if p.at_end() {
            return Ok(params);
        }
        params.push(p.param()?);
        p.skip_ws();
        if !p.at_end() && p.peek() != Some(b',') {
            return Err(p.err("',' or end of value"));
        }
    }
}

/// The first parameter called `name` (case-insensitive) of a list.
pub fn find_param<'p>(params: &'p [AuthParam<'_>], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| &*p.value)
}

/// Writes `s` as a quoted string, escaping `"` and `\` (RFC 3261
/// section 25.1, `quoted-pair`).
pub fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// RFC 3261 section 25.1 `token` characters:
/// `alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"`.
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        c += 1;
    }
    t
};

/// RFC 7235 section 2.1 `token68`:
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
const TOKEN68: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        c += 1;
    }
    t
};

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| TOKEN[usize::from(b)])
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn err(&self, expected: &'static str) -> HeaderError {
        HeaderError {
            offset: self.pos,
            expected,
        }
    }

    /// Skips linear white space, including CR LF of a folded line that the
    /// message layer left in place. Returns whether anything was skipped.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n' | b',')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(|b| TOKEN[usize::from(b)]) {
            self.pos += 1;
        }
        // Token bytes are ASCII, so both ends are char boundaries.
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    /// A token68 that stands alone (followed by the end or a comma); leaves
    /// the position unchanged if what follows is a parameter instead.
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let mut i = start;
        while i < self.b.len() && TOKEN68[usize::from(self.b[i])] {
            i += 1;
        }
        if i == start {
            return None;
        }
        while i < self.b.len() && self.b[i] == b'=' {
            i += 1;
        }
        let end = i;
        while i < self.b.len() && matches!(self.b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        if i == self.b.len() || self.b[i] == b',' {
            self.pos = end;
            Some(&self.s[start..end])
        } else {
            None
        }
    }

    /// `token BWS "=" BWS ( token / quoted-string )`.
    fn param(&mut self) -> Result<AuthParam<'a>, HeaderError> {
        let name = self.token().ok_or(self.err("auth-param name"))?;
        self.skip_ws();
        if !self.eat(b'=') {
            return Err(self.err("'='"));
        }
        self.skip_ws();
        let (value, quoted) = if self.peek() == Some(b'"') {
            (self.quoted_string()?, true)
        } else {
            let v = self.bare_value().ok_or(self.err("auth-param value"))?;
            (Cow::Borrowed(v), false)
        };
        Ok(AuthParam {
            name,
            value,
            quoted,
        })
    }

    /// After a comma: is the next thing `token BWS "="` (another param)?
    fn param_follows(&self) -> bool {
        let mut i = self.pos;
        let start = i;
        while i < self.b.len() && TOKEN[usize::from(self.b[i])] {
            i += 1;
        }
        if i == start {
            return false;
        }
        while i < self.b.len() && matches!(self.b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        i < self.b.len() && self.b[i] == b'='
    }

    /// An unquoted value. Lenient beyond `token`: peers send things like
    /// `uri=sip:a@b` or `nonce=abc/+=`; take everything up to white space,
    /// a comma or a quote.
    fn bare_value(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b'"') && b >= 0x20)
        {
            self.pos += 1;
        }
        // Stops only on ASCII bytes, so the slice ends on a char boundary.
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    fn quoted_string(&mut self) -> Result<Cow<'a, str>, HeaderError> {
        let open = self.pos;
        self.pos += 1; // the opening quote, checked by the caller
        let start = self.pos;
        let mut owned: Option<String> = None;
        loop {
            match self.peek() {
                None => {
                    return Err(HeaderError {
                        offset: open,
                        expected: "closing '\"'",
                    })
                }
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok(match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&self.s[start..end]),
                    });
                }
                Some(b'\\') => {
                    let buf = owned.get_or_insert_with(|| self.s[start..self.pos].to_owned());
                    self.pos += 1;
                    // The escaped character may be multi-byte UTF-8.
                    let Some(c) = self.s.get(self.pos..).and_then(|r| r.chars().next()) else {
                        return Err(self.err("character after '\\'"));
                    };
                    buf.push(c);
                    self.pos += c.len_utf8();
                }
                Some(_) => {
                    // pos is on a char boundary: it only ever moves by whole
                    // chars or stops on ASCII bytes.
                    let Some(c) = self.s.get(self.pos..).and_then(|r| r.chars().next()) else {
                        return Err(self.err("UTF-8 text"));
                    };
                    if let Some(buf) = owned.as_mut() {
                        buf.push(c);
                    }
                    self.pos += c.len_utf8();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_section_3_5_challenge() {
        let v = "Digest\r\n realm=\"testrealm@host.com\",\r\n qop=\"auth,auth-int\",\r\n \
                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n \
                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let list = Challenge::parse_list(v).unwrap();
        assert_eq!(list.len(), 1);
        let c = &list[0];
        assert!(c.0.is_digest());
        assert_eq!(c.realm(), Some("testrealm@host.com"));
        assert_eq!(c.nonce(), Some("dcd98b7102dd2f0e8b11d0f600bfb0c093"));
        assert_eq!(c.opaque(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
        assert_eq!(c.algorithm(), Ok(Algorithm::Md5));
        let qops: Vec<_> = c.qop_options().unwrap().collect();
        assert_eq!(qops, [Qop::Auth, Qop::AuthInt]);
        assert!(!c.stale());
    }

    #[test]
    fn rfc7616_section_3_9_1_two_challenges_in_one_value() {
        let v = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let list = Challenge::parse_list(v).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].algorithm(), Ok(Algorithm::Sha256));
        assert_eq!(list[1].algorithm(), Ok(Algorithm::Md5));
        assert_eq!(list[1].0.params.len(), 5);
        assert_eq!(
            list[0].qop_options().unwrap().collect::<Vec<_>>(),
            [Qop::Auth, Qop::AuthInt]
        );
    }

    #[test]
    fn quoted_commas_and_escapes() {
        let v = r#"Digest realm="a, \"b\" \\ c", nonce="x,y", Basic realm="r""#;
        let list = Challenge::parse_list(v).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].realm(), Some(r#"a, "b" \ c"#));
        assert_eq!(list[0].nonce(), Some("x,y"));
        assert!(matches!(list[0].0.params[1].value, Cow::Borrowed(_)));
        assert_eq!(list[1].0.scheme, "Basic");
        assert_eq!(list[1].realm(), Some("r"));
        // Written back, the escapes reappear and the value parses the same.
        let written = list[0].to_string();
        assert_eq!(written, r#"Digest realm="a, \"b\" \\ c", nonce="x,y""#);
        assert_eq!(Challenge::parse_list(&written).unwrap()[0], list[0]);
    }

    #[test]
    fn case_insensitive_names_and_unknown_params_kept() {
        let v = "dIGEST REALM=\"r\", Nonce=n1, ALGORITHM=sha-512-256-SESS, STALE=TRUE, \
                 x-custom=\"keep me\", flag=1";
        let c = &Challenge::parse_list(v).unwrap()[0];
        assert!(c.0.is_digest());
        assert_eq!(c.realm(), Some("r"));
        assert_eq!(c.nonce(), Some("n1"));
        assert_eq!(c.algorithm(), Ok(Algorithm::Sha512_256Sess));
        assert!(c.stale());
        assert_eq!(c.0.param("X-Custom"), Some("keep me"));
        assert_eq!(c.0.param("flag"), Some("1"));
        assert!(c.to_string().contains("x-custom=\"keep me\", flag=1"));
    }

    #[test]
    fn token68_and_bare_schemes() {
        let v = "Negotiate abc+/=, Basic, Digest realm=\"r\", nonce=\"n\"";
        let list = Challenge::parse_list(v).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].0.token68, Some("abc+/="));
        assert_eq!(list[1].0.scheme, "Basic");
        assert!(list[1].0.params.is_empty());
        assert_eq!(list[2].nonce(), Some("n"));
        assert_eq!(list[0].to_string(), "Negotiate abc+/=");
    }

    #[test]
    fn unknown_algorithm_is_reported_not_guessed() {
        let c = &Challenge::parse_list("Digest realm=r, nonce=n, algorithm=SHA-1").unwrap()[0];
        assert_eq!(c.algorithm(), Err("SHA-1"));
    }

    #[test]
    fn rfc2617_section_3_5_credentials() {
        let v = "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n \
                 qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
                 response=\"6629fae49393a05397450978507c4ef1\",\r\n \
                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let r = DigestResponse::parse(v).unwrap();
        assert_eq!(r.username(), Some("Mufasa"));
        assert_eq!(r.uri(), Some("/dir/index.html"));
        assert_eq!(r.qop(), Some(Ok(Qop::Auth)));
        assert_eq!(r.nc(), Some(Ok(1)));
        assert_eq!(r.cnonce(), Some("0a4f113b"));
        assert_eq!(r.response(), Some("6629fae49393a05397450978507c4ef1"));
        assert_eq!(r.algorithm(), Ok(Algorithm::Md5));
        assert!(!r.userhash());
    }

    #[test]
    fn credentials_with_unquoted_sip_uri() {
        let r = DigestResponse::parse(
            "Digest username=bob, uri=sip:bob@example.com;transport=tcp, nc=zz",
        )
        .unwrap();
        assert_eq!(r.uri(), Some("sip:bob@example.com;transport=tcp"));
        assert_eq!(r.nc(), Some(Err(())));
    }

    #[test]
    fn malformed_values_are_errors() {
        for (v, offset) in [
            ("Digest realm=\"unterminated", 13),
            ("Digest realm =", 14),
            ("Digest a=b, c =\"x", 15),
            ("Digest realm=\"a\" nonce=\"b\"", 17),
            ("=x", 0),
            ("Digest{", 6),
            ("Digest realm=\"a\\", 16),
        ] {
            let e = parse_items(v).unwrap_err();
            assert_eq!(e.offset, offset, "{v}: {e}");
        }
        assert!(DigestResponse::parse("").is_err());
        assert!(DigestResponse::parse("Digest a=1, Digest b=2").is_err());
    }

    #[test]
    fn rfc3261_section_20_6_authentication_info() {
        let v = "nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth, rspauth=\"ab\"";
        let params = parse_params(v).unwrap();
        assert_eq!(params.len(), 3);
        assert_eq!(
            find_param(&params, "NextNonce"),
            Some("47364c23432d2e131a5fb210812c")
        );
        assert_eq!(find_param(&params, "qop"), Some("auth"));
        assert!(parse_params("a=1 b=2").is_err());
        assert!(parse_params("").unwrap().is_empty());
    }

    #[test]
    fn empty_list_elements_and_non_ascii() {
        let v = ", ,Digest realm=\"Zürich \\ü\",, nonce=n ,";
        let list = Challenge::parse_list(v).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].realm(), Some("Zürich ü"));
        assert_eq!(list[0].nonce(), Some("n"));
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parser_never_panics(s in "\\PC{0,80}") {
                let _ = parse_items(&s);
                let _ = DigestResponse::parse(&s);
                let _ = parse_params(&s);
            }

            #[test]
            fn parser_never_panics_on_auth_alphabet(
                s in "[Dd]igest ?[a-z=\", \\\\\t\r\n/+é]{0,60}"
            ) {
                if let Ok(list) = Challenge::parse_list(&s) {
                    for c in &list {
                        let _ = (c.realm(), c.algorithm(), c.stale());
                        let _ = c.qop_options().map(|q| q.count());
                    }
                }
            }

            #[test]
            fn write_then_parse_round_trips(
                params in proptest::collection::vec(
                    ("[a-z][a-z0-9-]{0,8}", "\\PC{0,12}", any::<bool>()), 1..6)
            ) {
                let item = AuthItem {
                    scheme: "Digest",
                    token68: None,
                    params: params
                        .iter()
                        .map(|(n, v, q)| AuthParam {
                            name: n,
                            value: Cow::Borrowed(v.as_str()),
                            // Only token values may go unquoted.
                            quoted: *q || !is_token(v),
                        })
                        .collect(),
                };
                let written = item.to_string();
                let parsed = parse_items(&written).unwrap();
                prop_assert_eq!(parsed.len(), 1);
                prop_assert_eq!(parsed[0].params.len(), item.params.len());
                for (a, b) in parsed[0].params.iter().zip(&item.params) {
                    prop_assert_eq!(a.name, b.name);
                    prop_assert_eq!(&a.value, &b.value);
                    prop_assert_eq!(a.quoted, b.quoted);
                }
            }
        }
    }
}
