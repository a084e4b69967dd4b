//! `CSeq` (RFC 3261 section 20.16) and `RAck` (RFC 3262 section 7.2).

use crate::message::error::ParseError;
use crate::message::lex::{parse_u32, run, skip_lws, token};
use crate::message::method::Method;
use crate::message::tables::{LWS, TOKEN};

const DIGIT: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t
};

/// `CSeq = 1*DIGIT LWS Method`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number (RFC 3261 requires it below 2^31).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

/// Parse `1*DIGIT` at `i`, returning the number and its end.
pub(crate) fn number(s: &[u8], i: usize, what: &'static str) -> Result<(u32, usize), ParseError> {
    let e = run(s, i, &DIGIT);
    Ok((parse_u32(&s[i..e], i, what)?, e))
}

impl CSeq {
    /// Parse a CSeq value.
    pub fn parse(raw: &str) -> Result<CSeq, ParseError> {
        let s = raw.as_bytes();
        // The usual form, `1*DIGIT SP token`, in one pass.
        if let Some(cseq) = Self::parse_plain(raw) {
            return Ok(cseq);
        }
        let i = skip_lws(s, 0);
        let (seq, e) = number(s, i, "CSeq number")?;
        let m = skip_lws(s, e);
        if m == e || !LWS[s[e] as usize] {
            return Err(ParseError::expected(e, "LWS"));
        }
        let me = token(s, m, "Method")?;
        if skip_lws(s, me) != s.len() {
            return Err(ParseError::expected(me, "end of CSeq"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(&raw[m..me]),
        })
    }

    /// `1*10DIGIT SP token` and nothing else, with the number below 2^32:
    /// the value the general path above gives for it, else `None` (and
    /// the general path decides, errors included).
    #[inline]
    fn parse_plain(raw: &str) -> Option<CSeq> {
        let s = raw.as_bytes();
        let mut seq: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            seq = seq * 10 + u64::from(s[i] - b'0');
            i += 1;
            if i > 10 {
                return None;
            }
        }
        if i == 0 || s.get(i) != Some(&b' ') {
            return None;
        }
        let seq = u32::try_from(seq).ok()?;
        let m = i + 1;
        // A known method is a token: no class check for it.
        if let Some(method) = Method::known(&s[m..]) {
            return Some(CSeq { seq, method });
        }
        if run(s, m, &TOKEN) != s.len() || m == s.len() {
            return None;
        }
        Some(CSeq {
            seq,
            method: Method::from_token(raw.get(m..)?),
        })
    }
}

/// `RAck = response-num LWS CSeq-num LWS Method` (RFC 3262 section 7.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RAck {
    /// The RSeq of the provisional response being acknowledged.
    pub rseq: u32,
    /// The CSeq number of the request it answered.
    pub cseq: u32,
    /// The CSeq method.
    pub method: Method,
}

impl RAck {
    /// Parse a RAck value.
    pub fn parse(raw: &str) -> Result<RAck, ParseError> {
        let s = raw.as_bytes();
        let i = skip_lws(s, 0);
        let (rseq, e) = number(s, i, "response-num")?;
        let j = skip_lws(s, e);
        if j == e {
            return Err(ParseError::expected(e, "LWS"));
        }
        let (cseq, e) = number(s, j, "CSeq-num")?;
        let m = skip_lws(s, e);
        if m == e {
            return Err(ParseError::expected(e, "LWS"));
        }
        let me = token(s, m, "Method")?;
        if skip_lws(s, me) != s.len() {
            return Err(ParseError::expected(me, "end of RAck"));
        }
        Ok(RAck {
            rseq,
            cseq,
            method: Method::from_token(&raw[m..me]),
        })
    }
}

/// A header whose whole value is `1*DIGIT` (Max-Forwards, Expires,
/// Min-Expires, RSeq, Min-SE without parameters, Content-Length).
pub(crate) fn parse_number(raw: &str, what: &'static str) -> Result<u32, ParseError> {
    let s = raw.as_bytes();
    let i = skip_lws(s, 0);
    let (n, e) = number(s, i, what)?;
    if skip_lws(s, e) != s.len() {
        return Err(ParseError::expected(e, what));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3261 section 20.16 and RFC 3262 section 7.2 examples.
    #[test]
    fn rfc3261_20_16_cseq_and_rfc3262_7_2_rack() {
        assert_eq!(
            CSeq::parse("4711 INVITE").unwrap(),
            CSeq {
                seq: 4711,
                method: Method::Invite
            }
        );
        assert_eq!(
            CSeq::parse(" 1\r\n  FOO ").unwrap().method,
            Method::Extension("FOO".into())
        );
        for bad in [
            "",
            "INVITE",
            "1",
            "1INVITE",
            "x INVITE",
            "99999999999 INVITE",
            "1 INVITE x",
        ] {
            assert!(CSeq::parse(bad).is_err(), "{bad:?}");
        }
        let r = RAck::parse("776656 1 INVITE").unwrap();
        assert_eq!((r.rseq, r.cseq, r.method), (776656, 1, Method::Invite));
        assert!(RAck::parse("1 INVITE").is_err());
        assert_eq!(parse_number(" 70 ", "n"), Ok(70));
        assert!(parse_number("7 0", "n").is_err());
    }
}
