//! Small scanners shared by the typed header decoders: linear white space,
//! tokens, quoted strings, comments, and comma splitting that respects the
//! grammar (RFC 3261 section 25.1).

use super::error::ParseError;
use super::tables::{LWS, TOKEN};

/// A byte range of a text a decoder has validated: decoded values keep
/// these instead of `&str` sub-slices, and cut the text only when a part
/// is asked for. Ranges always start and end at ASCII delimiters or at
/// the ends of the text, so they are char boundaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    /// `start..end`; decoders refuse texts of 4 GiB and more
    /// ([`check_len`]), so the offsets fit.
    #[inline]
    pub(crate) const fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The part of `text` this range covers.
    #[inline]
    pub(crate) fn of(self, text: &str) -> &str {
        cut(text, self.start as usize, self.end as usize)
    }

    /// Whether the range is empty.
    #[inline]
    pub(crate) const fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// `&text[start..end]` for a range that is in bounds and on char
/// boundaries by construction (the decoders cut at ASCII delimiters of
/// validated UTF-8), as two checked splits: they inline to a few compares
/// where `str` indexing stays a call, and a broken invariant gives `""`
/// rather than a panic.
#[inline(always)]
pub(crate) fn cut(text: &str, start: usize, end: usize) -> &str {
    text.split_at_checked(end)
        .and_then(|(head, _)| head.split_at_checked(start))
        .map_or("", |(_, part)| part)
}

/// Decoders that keep [`Span`]s take texts below 4 GiB.
#[inline]
pub(crate) fn check_len(s: &[u8]) -> Result<(), ParseError> {
    if s.len() > u32::MAX as usize {
        Err(ParseError::expected(u32::MAX as usize, "text below 4 GiB"))
    } else {
        Ok(())
    }
}

/// Index of the first byte at or after `i` that is not LWS (SP, HTAB, or
/// the CR LF of a folded line).
#[inline]
pub(crate) fn skip_lws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && LWS[s[i] as usize] {
        i += 1;
    }
    i
}

/// End of the run of bytes at `i` that are in `class`. Eight bytes a
/// step while eight remain, each tested on its own with an early exit
/// (one load, one table compare, one branch a byte, no bounds checks
/// inside the step): the runs in header values are mostly shorter than
/// a step, so what counts is the cost of the byte that ends them.
#[inline(always)]
pub(crate) fn run(s: &[u8], mut i: usize, class: &[bool; 256]) -> usize {
    if let Some(last) = s.len().checked_sub(8) {
        while i <= last {
            let Some(c) = s.get(i..i + 8) else { break };
            for (k, &b) in c.iter().enumerate() {
                if !class[b as usize] {
                    return i + k;
                }
            }
            i += 8;
        }
    }
    while i < s.len() && class[s[i] as usize] {
        i += 1;
    }
    i
}

/// The usual port, `1*5DIGIT` at `p` below 65536 and not followed by
/// another digit: its value and end, in one loop over the digits.
/// `None` for anything else (none, six or more digits, 65536 and up).
#[inline(always)]
pub(crate) fn plain_port(s: &[u8], p: usize) -> Option<(u16, usize)> {
    let mut n: u32 = 0;
    let mut j = p;
    while let Some(&b) = s.get(j) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if j - p == 5 {
            return None;
        }
        n = n * 10 + u32::from(d);
        j += 1;
    }
    if j == p {
        return None;
    }
    Some((u16::try_from(n).ok()?, j))
}

/// Index of the first `needle` at or after `from`. Sixteen bytes at a time:
/// an OR-reduction of byte compares over a fixed array compiles to one
/// vector compare and a mask test, and only the chunk that holds a match
/// builds the mask that locates it. Header lines and values are too short
/// to pay for a general search's setup.
#[inline(always)]
pub(crate) fn find_byte(s: &[u8], from: usize, needle: u8) -> Option<usize> {
    let mut i = from;
    // The bound of the vector loop computed once, so a step is one
    // compare against it.
    if let Some(last) = s.len().checked_sub(16) {
        while i <= last {
            let chunk: &[u8; 16] = s[i..i + 16].try_into().expect("16 bytes");
            if chunk.iter().fold(false, |hit, &b| hit | (b == needle)) {
                let mut eq = [0u8; 16];
                for (e, &b) in eq.iter_mut().zip(chunk) {
                    *e = if b == needle { 0xff } else { 0 };
                }
                // Non-zero: the chunk holds `needle`.
                let m = u128::from_le_bytes(eq);
                return Some(i + (m.trailing_zeros() / 8) as usize);
            }
            i += 16;
        }
    }
    let rest = s.get(i..)?;
    rest.iter().position(|&b| b == needle).map(|k| i + k)
}

/// Index of the first `a` or `b` at or after `from` (see [`find_byte`]).
#[inline]
pub(crate) fn find_either(s: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = s.get(i..i + 16) {
        if chunk
            .iter()
            .fold(false, |hit, &c| hit | (c == a) | (c == b))
        {
            break;
        }
        i += 16;
    }
    let rest = s.get(i..)?;
    rest.iter().position(|&c| c == a || c == b).map(|k| i + k)
}

/// [`run`] of [`HOST`](super::tables::HOST) characters (`alphanum`, `-`,
/// `.`, `_`), sixteen bytes at a time while whole chunks qualify (the class
/// written as range compares vectorizes, as in [`find_byte`]).
#[inline]
pub(crate) fn run_host(s: &[u8], mut i: usize) -> usize {
    #[inline(always)]
    fn is_host(b: u8) -> bool {
        (b.wrapping_sub(b'0') < 10)
            | ((b | 0x20).wrapping_sub(b'a') < 26)
            | (b == b'-')
            | (b == b'.')
            | (b == b'_')
    }
    while let Some(chunk) = s.get(i..i + 16) {
        if !chunk.iter().fold(true, |all, &b| all & is_host(b)) {
            break;
        }
        i += 16;
    }
    run(s, i, &super::tables::HOST)
}

/// A token at `i` (after LWS): returns its range end, or an error.
#[inline]
pub(crate) fn token(s: &[u8], i: usize, what: &'static str) -> Result<usize, ParseError> {
    let end = run(s, i, &TOKEN);
    if end == i {
        Err(ParseError::expected(i, what))
    } else {
        Ok(end)
    }
}

/// `quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE`, with
/// `s[i] == b'"'`. Returns the index after the closing quote.
pub(crate) fn quoted_string(s: &[u8], i: usize) -> Result<usize, ParseError> {
    debug_assert_eq!(s.get(i), Some(&b'"'));
    let mut j = i + 1;
    // Only `"` and `\` matter inside.
    loop {
        let k = run(s, j, &QUOTED_PLAIN);
        match s.get(k) {
            Some(b'"') => return Ok(k + 1),
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
            Some(_) => match s.get(k + 1) {
                Some(b'\r') | Some(b'\n') | None => {
                    return Err(ParseError::expected(k + 1, "escaped character"))
                }
                Some(_) => j = k + 2,
            },
            None => return Err(ParseError::expected(s.len(), "closing quote")),
        }
    }
}

/// Every byte but `"` and `\`: the run of a quoted string that needs no
/// attention.
pub(crate) const QUOTED_PLAIN: [bool; 256] = {
    let mut t = [true; 256];
    t[b'"' as usize] = false;
    t[b'\\' as usize] = false;
    t
};

/// `comment = LPAREN *(ctext / quoted-pair / comment) RPAREN`, with
/// `s[i] == b'('`. Returns the index after the closing parenthesis.
pub(crate) fn comment(s: &[u8], i: usize) -> Result<usize, ParseError> {
    let mut depth = 0usize;
    let mut j = i;
    while j < s.len() {
        match s[j] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            b'\\' => j += 1,
            _ => {}
        }
        j += 1;
    }
    Err(ParseError::expected(s.len(), "closing parenthesis"))
}

/// Trim LWS on both sides.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    // Byte-wise: LWS is ASCII, so the cut points are char boundaries.
    let b = s.as_bytes();
    // Usually there is nothing to trim (a parsed value is trimmed already).
    if let (Some(&f), Some(&l)) = (b.first(), b.last()) {
        if !LWS[f as usize] && !LWS[l as usize] {
            return s;
        }
    }
    let mut start = 0;
    let mut end = b.len();
    while start < end && LWS[b[start] as usize] {
        start += 1;
    }
    while end > start && LWS[b[end - 1] as usize] {
        end -= 1;
    }
    cut(s, start, end)
}

/// Splits a header value at the commas that separate list elements
/// (`#element`), never inside a quoted string, `<...>` or a comment.
/// Empty elements (`a,,b`) are skipped, as RFC 7230 section 7 allows.
#[derive(Clone, Debug)]
pub struct CommaSplit<'a> {
    rest: &'a str,
}

impl<'a> CommaSplit<'a> {
    /// Split `value`.
    pub fn new(value: &'a str) -> Self {
        Self { rest: value }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let b = self.rest.as_bytes();
            // Most values have no comma at all: one element.
            if find_byte(b, 0, b',').is_none() {
                let item = trim(self.rest);
                self.rest = "";
                return (!item.is_empty()).then_some(item);
            }
            let mut i = 0;
            let mut angle = false;
            let end = loop {
                if i >= b.len() {
                    break b.len();
                }
                match b[i] {
                    b'"' => {
                        // An unterminated quote runs to the end; the typed
                        // decoder reports it.
                        i = quoted_string(b, i).unwrap_or(b.len());
                        continue;
                    }
                    b'(' if !angle => {
                        i = comment(b, i).unwrap_or(b.len());
                        continue;
                    }
                    b'<' => angle = true,
                    b'>' => angle = false,
                    b',' if !angle => break i,
                    _ => {}
                }
                i += 1;
            };
            let item = trim(&self.rest[..end]);
            self.rest = if end < b.len() {
                &self.rest[end + 1..]
            } else {
                ""
            };
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Remove the quotes of a quoted string (escapes are kept as written).
pub(crate) fn unquote(s: &str) -> &str {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Parse a decimal number that must fit `u32` (`1*DIGIT`).
pub(crate) fn parse_u32(s: &[u8], at: usize, what: &'static str) -> Result<u32, ParseError> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::expected(at, what));
    }
    let mut v: u64 = 0;
    for &d in s {
        v = v * 10 + u64::from(d - b'0');
    }
    u32::try_from(v).map_err(|_| ParseError::expected(at, what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tables::HOST;

    /// `run_host` writes the HOST class as range compares for whole
    /// chunks: it must agree with the table for every byte, inside a
    /// 16-byte chunk and in the tail.
    #[test]
    fn run_host_agrees_with_the_host_table_for_every_byte() {
        for b in 0..=255u8 {
            for len in [1, 15, 16, 17, 33] {
                let mut s = vec![b'a'; len];
                s[len / 2] = b;
                assert_eq!(
                    run_host(&s, 0),
                    run(&s, 0, &HOST),
                    "byte {b:#04x}, length {len}"
                );
            }
            let same = [b; 17];
            assert_eq!(
                run_host(&same, 0),
                run(&same, 0, &HOST),
                "byte {b:#04x} repeated"
            );
        }
    }

    /// `run` steps eight bytes at a time while eight remain: it must stop
    /// at the first byte outside the class wherever that falls (inside a
    /// step, at its edges, in the tail) and from any start.
    #[test]
    fn run_stops_at_the_first_byte_outside_the_class() {
        for len in 0..26 {
            for stop in 0..=len {
                let mut s = vec![b'a'; len];
                if stop < len {
                    s[stop] = b';';
                }
                for start in 0..=len {
                    let want = (start..len).find(|&k| s[k] == b';').unwrap_or(len);
                    assert_eq!(
                        run(&s, start, &TOKEN),
                        want,
                        "len {len} stop {stop} start {start}"
                    );
                }
            }
        }
        assert_eq!(run(b"abc", 7, &TOKEN), 7);
    }

    #[test]
    fn plain_port_takes_one_to_five_digits_below_65536() {
        assert_eq!(plain_port(b":5060;x", 1), Some((5060, 5)));
        assert_eq!(plain_port(b"0", 0), Some((0, 1)));
        assert_eq!(plain_port(b"65535>", 0), Some((65535, 5)));
        assert_eq!(plain_port(b"00080", 0), Some((80, 5)));
        for bad in [&b"65536"[..], b"000080", b"123456", b"", b";", b"x1"] {
            assert_eq!(plain_port(bad, 0), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn trim_removes_lws_at_either_end_only() {
        assert_eq!(trim("a b"), "a b");
        assert_eq!(trim(" a b\t"), "a b");
        assert_eq!(trim("a \r\n "), "a");
        assert_eq!(trim("\r\n\tx"), "x");
        assert_eq!(trim("  "), "");
        assert_eq!(trim(""), "");
    }

    #[test]
    fn comma_split_respects_quotes_angles_and_comments() {
        let v: Vec<_> =
            CommaSplit::new(r#""Doe, John" <sip:a@b;x=1,2>;tag=1 , <sip:c@d> (a, comment), ,x"#)
                .collect();
        assert_eq!(
            v,
            [
                r#""Doe, John" <sip:a@b;x=1,2>;tag=1"#,
                "<sip:c@d> (a, comment)",
                "x"
            ]
        );
        let v: Vec<_> = CommaSplit::new(r#""a\",b", c"#).collect();
        assert_eq!(v, [r#""a\",b""#, "c"]);
    }

    #[test]
    fn quoted_strings_and_numbers() {
        assert_eq!(quoted_string(br#""ab\"c" x"#, 0), Ok(7));
        assert!(quoted_string(br#""abc"#, 0).is_err());
        // Escapes at any place, in and after an eight-byte step.
        assert_eq!(quoted_string(br#""0123456789\"\\" x"#, 0), Ok(16));
        assert_eq!(quoted_string(b"\"\xc3\xa9t\xc3\xa9\"", 0), Ok(7));
        assert_eq!(
            quoted_string(b"\"abc\\", 0).unwrap_err().offset,
            5,
            "a backslash at the end escapes nothing"
        );
        assert_eq!(quoted_string(b"\"ab\\\r\n\"", 0).unwrap_err().offset, 4);
        assert_eq!(parse_u32(b"4294967295", 0, "n"), Ok(u32::MAX));
        assert!(parse_u32(b"4294967296", 0, "n").is_err());
        assert!(parse_u32(b"", 0, "n").is_err());
        assert!(parse_u32(b"1a", 0, "n").is_err());
    }
}
