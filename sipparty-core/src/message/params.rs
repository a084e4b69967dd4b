//! Parameters (`*( SEMI generic-param )`) of headers and URIs, kept as the
//! raw text and decoded on access.

use std::fmt;

use super::error::{ParseError, ParseErrorKind};
use super::lex::{find_either, quoted_string, run, skip_lws, trim};
use super::tables::{GEN_VALUE, LWS, TOKEN, URI_PARAM_PLAIN};

/// Default cap on parameters of one header element or URI
/// ([`Limits::max_params`](super::Limits)).
pub const DEFAULT_MAX_PARAMS: usize = 64;

/// A parameter list as written, including its leading `;` (empty when there
/// are none). Names compare case-insensitively (RFC 3261 section 7.3.1);
/// values are returned as written (a quoted value keeps its quotes).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// Wrap already-validated parameter text (`;a=b;c`).
    pub(crate) const fn new(raw: &'a str) -> Self {
        Self { raw }
    }

    /// No parameters.
    pub const fn empty() -> Self {
        Self { raw: "" }
    }

    /// The value of parameter `name`: `None` if absent, `Some(None)` for a
    /// parameter without a value (`;lr`), `Some(Some(v))` otherwise.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of `name` if it has one.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    /// Whether parameter `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The parameters in order, as `(name, value)`.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { rest: self.raw }
    }

    /// The raw text, leading `;` included.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Params`].
#[derive(Clone, Debug)]
pub struct ParamIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        // One pass per parameter for the common shape `;name[=value]`
        // (LWS allowed around both); anything else goes through the general
        // item split below, which defines the result.
        loop {
            let b = self.rest.as_bytes();
            let Some(semi) = b.iter().position(|&c| c == b';') else {
                self.rest = "";
                return None;
            };
            let mut i = skip_lws(b, semi + 1);
            let name_start = i;
            while i < b.len() && !matches!(b[i], b'=' | b';' | b'"' | b' ' | b'\t' | b'\r' | b'\n')
            {
                i += 1;
            }
            let name_end = i;
            i = skip_lws(b, i);
            match b.get(i) {
                None | Some(b';') => {
                    let all = self.rest;
                    self.rest = &all[i..];
                    if name_end == name_start {
                        continue;
                    }
                    return Some((&all[name_start..name_end], None));
                }
                Some(b'=') => {
                    let value_start = skip_lws(b, i + 1);
                    // Usually no quotes: straight to the next `;`.
                    let mut j = find_either(b, value_start, b';', b'"').unwrap_or(b.len());
                    while j < b.len() && b[j] != b';' {
                        if b[j] == b'"' {
                            j = quoted_string(b, j).unwrap_or(b.len());
                        } else {
                            j += 1;
                        }
                    }
                    let mut value_end = j;
                    while value_end > value_start && LWS[b[value_end - 1] as usize] {
                        value_end -= 1;
                    }
                    let all = self.rest;
                    self.rest = &all[j..];
                    return Some((
                        &all[name_start..name_end],
                        Some(&all[value_start..value_end]),
                    ));
                }
                Some(_) => return self.next_general(semi),
            }
        }
    }
}

impl<'a> ParamIter<'a> {
    /// The general split: the item runs to the next `;` outside quotes and
    /// is divided at its first `=`, LWS trimmed everywhere.
    fn next_general(&mut self, semi: usize) -> Option<(&'a str, Option<&'a str>)> {
        let b = self.rest.as_bytes();
        let start = semi + 1;
        let mut j = start;
        while j < b.len() && b[j] != b';' {
            if b[j] == b'"' {
                j = quoted_string(b, j).unwrap_or(b.len());
            } else {
                j += 1;
            }
        }
        let item = trim(&self.rest[start..j]);
        self.rest = &self.rest[j..];
        if item.is_empty() {
            return self.next();
        }
        Some(match item.find('=') {
            Some(eq) => (trim(&item[..eq]), Some(trim(&item[eq + 1..]))),
            None => (item, None),
        })
    }
}

/// Scan header parameters starting at `i`:
/// `*( SEMI generic-param )`, `generic-param = token [ EQUAL gen-value ]`,
/// `gen-value = token / host / quoted-string`. Returns the end of the last
/// parameter (trailing LWS not included).
pub(crate) fn scan_header_params(s: &[u8], i: usize, max: usize) -> Result<usize, ParseError> {
    scan_header_params_noting(s, i, max, b"").map(|(end, _)| end)
}

/// What [`scan_header_params_noting`] found for its parameter: `None` if
/// absent, `Some(None)` without a value, else the value's byte range.
pub(crate) type Noted = Option<Option<(usize, usize)>>;

/// [`scan_header_params`] that also notes the value of the first parameter
/// named `want` (case-insensitive): `None` if absent, `Some(None)` without
/// a value, else the value's range (a quoted value with its quotes). On
/// text this scan accepts, that is what [`Params::get`] returns, so the
/// typed headers answer `branch` and `tag` without a second scan.
#[inline]
pub(crate) fn scan_header_params_noting(
    s: &[u8],
    mut i: usize,
    max: usize,
    want: &[u8],
) -> Result<(usize, Noted), ParseError> {
    let mut count = 0;
    let mut found = None;
    loop {
        // LWS is allowed around `;` and `=` (SEMI, EQUAL) but rarely
        // written: look at the byte itself before skipping any.
        let j = match s.get(i) {
            Some(b';') => i,
            Some(&b) if LWS[b as usize] => match skip_lws(s, i) {
                j if s.get(j) == Some(&b';') => j,
                _ => return Ok((i, found)),
            },
            _ => return Ok((i, found)),
        };
        count += 1;
        if count > max {
            return Err(ParseError::new(j, ParseErrorKind::TooManyParams));
        }
        let mut n = j + 1;
        let mut name_end = run(s, n, &TOKEN);
        if name_end == n {
            n = skip_lws(s, n);
            name_end = run(s, n, &TOKEN);
            if name_end == n {
                return Err(ParseError::expected(n, "parameter name"));
            }
        }
        i = name_end;
        let wanted = found.is_none() && eq_lower(&s[n..name_end], want);
        let k = match s.get(name_end) {
            Some(b'=') => name_end,
            Some(&b) if LWS[b as usize] => skip_lws(s, name_end),
            _ => name_end,
        };
        if k < s.len() && s[k] == b'=' {
            let v = match s.get(k + 1) {
                Some(&b) if LWS[b as usize] => skip_lws(s, k + 1),
                _ => k + 1,
            };
            if v < s.len() && s[v] == b'"' {
                i = quoted_string(s, v)?;
            } else {
                let end = run(s, v, &GEN_VALUE);
                if end == v {
                    return Err(ParseError::expected(v, "parameter value"));
                }
                i = end;
            }
            if wanted {
                found = Some(Some((v, i)));
            }
        } else if wanted {
            found = Some(None);
        }
    }
}

/// The usual header parameters, written without LWS and running to the
/// end of `s`: `*( ";" token [ "=" ( 1*GEN_VALUE / quoted-string ) ] )`
/// from `i`, at most `max` of them. Returns what
/// [`scan_header_params_noting`] notes for `want` on the same text (which
/// it then scans to `s.len()`), or `None` for anything else (LWS, an empty
/// name or value, a byte that ends the list early, too many parameters,
/// an unterminated quote), where the general scan decides, errors
/// included. One branch a byte on the usual text and no LWS skips.
#[inline(always)]
pub(crate) fn scan_plain_header_params(
    s: &[u8],
    mut i: usize,
    max: usize,
    want: &[u8],
) -> Option<Noted> {
    let mut count = 0;
    let mut found = None;
    while i < s.len() {
        if s[i] != b';' || count == max {
            return None;
        }
        count += 1;
        let n = i + 1;
        let name_end = run(s, n, &TOKEN);
        if name_end == n {
            return None;
        }
        let wanted = found.is_none() && eq_lower_word(s, n, name_end, want);
        i = name_end;
        if s.get(name_end) == Some(&b'=') {
            let v = name_end + 1;
            i = if s.get(v) == Some(&b'"') {
                quoted_string(s, v).ok()?
            } else {
                run(s, v, &GEN_VALUE)
            };
            if i == v {
                return None;
            }
            if wanted {
                found = Some(Some((v, i)));
            }
        } else if wanted {
            found = Some(None);
        }
    }
    Some(found)
}

/// [`eq_lower`] of `s[n..end]` and `want` (at most eight lower-case
/// letters), as one masked word compare when eight bytes follow `n`.
#[inline(always)]
fn eq_lower_word(s: &[u8], n: usize, end: usize, want: &[u8]) -> bool {
    if end - n != want.len() || want.is_empty() || want.len() > 8 {
        return eq_lower(&s[n..end], want);
    }
    match s.get(n..).and_then(<[u8]>::first_chunk::<8>) {
        Some(w) => {
            let mut lower = [0u8; 8];
            lower[..want.len()].copy_from_slice(want);
            let keep = u64::MAX >> (64 - 8 * want.len());
            (u64::from_le_bytes(*w) | 0x2020_2020_2020_2020) & keep == u64::from_le_bytes(lower)
        }
        None => eq_lower(&s[n..end], want),
    }
}

/// Whether the token `name` is `want` (lower-case letters) in any case:
/// OR-ing 0x20 folds only letters onto letters among token characters.
#[inline]
fn eq_lower(name: &[u8], want: &[u8]) -> bool {
    name.len() == want.len() && name.iter().zip(want).all(|(&a, &b)| a | 0x20 == b)
}

/// Scan URI parameters starting at `i` (no LWS allowed inside a URI):
/// `*( ";" uri-parameter )`, `other-param = pname [ "=" pvalue ]`. Returns
/// the end and whether a `%` occurred (escapes are checked by the caller).
pub(crate) fn scan_uri_params(
    s: &[u8],
    mut i: usize,
    max: usize,
) -> Result<(usize, bool), ParseError> {
    let mut count = 0;
    let mut pct = false;
    while i < s.len() && s[i] == b';' {
        count += 1;
        if count > max {
            return Err(ParseError::new(i, ParseErrorKind::TooManyParams));
        }
        let n = i + 1;
        let name_end = run_pct(s, n, &mut pct);
        if name_end == n {
            return Err(ParseError::expected(n, "URI parameter name"));
        }
        i = name_end;
        if i < s.len() && s[i] == b'=' {
            let end = run_pct(s, i + 1, &mut pct);
            if end == i + 1 {
                return Err(ParseError::expected(end, "URI parameter value"));
            }
            i = end;
        }
    }
    Ok((i, pct))
}

/// A run of `paramchar` (`%` included), noting in `pct` whether a `%` was crossed.
#[inline]
fn run_pct(s: &[u8], mut i: usize, pct: &mut bool) -> usize {
    loop {
        i = run(s, i, &URI_PARAM_PLAIN);
        if i < s.len() && s[i] == b'%' {
            *pct = true;
            i += 1;
        } else {
            return i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_is_case_insensitive_and_distinguishes_bare_params() {
        let p = Params::new(";branch=z9hG4bK1;RPORT; received = 192.0.2.1 ;x=\"a;b\"");
        assert_eq!(p.get("branch"), Some(Some("z9hG4bK1")));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.get("Received"), Some(Some("192.0.2.1")));
        assert_eq!(p.get("x"), Some(Some("\"a;b\"")));
        assert_eq!(p.get("maddr"), None);
        assert_eq!(p.iter().count(), 4);
        assert!(Params::empty().is_empty());
    }

    /// The word compare agrees with the byte compare, with eight bytes
    /// after the name and without.
    #[test]
    fn eq_lower_word_agrees_with_eq_lower() {
        for text in [
            &b";branch=1;x=2"[..],
            b";BRANCH",
            b";Branch=z9hG4bK",
            b";branches=1;xx",
            b";bran=1;xxxxxxx",
            b";tag=1;xxxxxxxx",
            b";TaG",
            b";t@g=1xxxxxxxxx",
        ] {
            let end = run(text, 1, &TOKEN);
            for want in [&b"branch"[..], b"tag"] {
                assert_eq!(
                    eq_lower_word(text, 1, end, want),
                    eq_lower(&text[1..end], want),
                    "{:?} {:?}",
                    std::str::from_utf8(text),
                    std::str::from_utf8(want)
                );
            }
        }
    }

    #[test]
    fn scanners_stop_at_the_end_of_the_list() {
        let s = b";a=1 ; b ;c=\"q;\" , next";
        let end = scan_header_params(s, 0, 10).unwrap();
        assert_eq!(&s[..end], b";a=1 ; b ;c=\"q;\"");
        assert!(scan_header_params(b";=1", 0, 10).is_err());
        for (text, want) in [
            (&b" ; Tag = \"x;y\" ;tag=2"[..], Some(Some("\"x;y\""))),
            (b";a=1;TAG;tag=3", Some(None)),
            (b";a=1;tags=3", None),
            (b";tag=3 ;x", Some(Some("3"))),
        ] {
            let (end, found) = scan_header_params_noting(text, 0, 10, b"tag").unwrap();
            let params = Params::new(std::str::from_utf8(&text[..end]).unwrap());
            let found = found.map(|v| v.map(|(a, b)| std::str::from_utf8(&text[a..b]).unwrap()));
            assert_eq!(found, want);
            assert_eq!(found, params.get("tag"));
        }
        assert_eq!(
            scan_header_params(b";a;b;c", 0, 2).unwrap_err().kind,
            ParseErrorKind::TooManyParams
        );
        let u = b";transport=tcp;lr?h=v";
        assert_eq!(scan_uri_params(u, 0, 10).unwrap(), (17, false));
        assert_eq!(scan_uri_params(b";a=%41", 0, 10).unwrap(), (6, true));
    }
}
