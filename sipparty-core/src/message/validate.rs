//! Semantic checks a UAS makes after the syntax is known good (RFC 3261
//! sections 8.1.1, 8.2.1, 8.2.2, 16.3), reported apart from syntax errors:
//! mandatory headers missing, single-valued headers repeated, CSeq method
//! not matching the request method, unsupported version or URI scheme.

use super::error::{ParseError, ParseErrorKind};
use super::headers::cseq::parse_number;
use super::headers::misc::parse_call_id;
use super::headers::CSeq;
use super::name::{canonical, HeaderName};
use super::section::Headers;
use super::uri::{Scheme, Uri};

/// The headers every request must carry (RFC 3261 section 8.1.1); responses
/// need all but Max-Forwards.
const MANDATORY: &[HeaderName] = &[
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
];

/// Headers whose grammar admits exactly one value (no `#element` list).
const SINGLE: &[HeaderName] = &[
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
    HeaderName::ContentType,
    HeaderName::ContentDisposition,
    HeaderName::Expires,
    HeaderName::MinExpires,
    HeaderName::MimeVersion,
    HeaderName::Date,
    HeaderName::Timestamp,
    HeaderName::RetryAfter,
    HeaderName::Priority,
    HeaderName::ReplyTo,
    HeaderName::Subject,
    HeaderName::Organization,
    HeaderName::UserAgent,
    HeaderName::Server,
    HeaderName::RSeq,
    HeaderName::RAck,
    HeaderName::SessionExpires,
    HeaderName::MinSe,
    HeaderName::Event,
    HeaderName::SubscriptionState,
    HeaderName::ReferTo,
    HeaderName::ReferredBy,
    HeaderName::Replaces,
];

/// The start line as the checks need it.
pub(crate) struct StartInfo<'a> {
    pub(crate) method: Option<&'a str>,
    pub(crate) request_uri: Option<&'a str>,
    pub(crate) version: &'a str,
}

/// Run the checks; `base` is the offset of the header text in the message
/// (so errors point into the message).
pub(crate) fn validate(
    start: &StartInfo<'_>,
    h: &Headers<'_>,
    base: usize,
) -> Result<(), ParseError> {
    // RFC 3261 section 8.2.1 / 21.5.6: only SIP/2.0 is served.
    if !start.version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(ParseError::new(base, ParseErrorKind::UnsupportedVersion));
    }
    let mut first = [None::<usize>; 64];
    let mut seen = [0u8; 256];
    for (i, slot) in h.slots.iter().enumerate() {
        let id = usize::from(slot.id);
        seen[id] = seen[id].saturating_add(1);
        if id < first.len() && first[id].is_none() {
            first[id] = Some(i);
        }
    }
    let offset_of = |id: u8| {
        first
            .get(usize::from(id))
            .copied()
            .flatten()
            .map_or(base, |i| base + h.slots[i].value_start as usize)
    };
    let is_request = start.method.is_some();
    for name in MANDATORY {
        if !is_request && *name == HeaderName::MaxForwards {
            continue;
        }
        if seen[usize::from(name.known_id())] == 0 {
            return Err(ParseError::new(
                base,
                ParseErrorKind::MissingHeader(canonical(name.known_id()).unwrap_or("")),
            ));
        }
    }
    for name in SINGLE {
        let id = name.known_id();
        if seen[usize::from(id)] > 1 {
            let second = h.slots.iter().filter(|s| s.id == id).nth(1);
            let at = second.map_or(base, |s| base + s.name_start as usize);
            return Err(ParseError::new(
                at,
                ParseErrorKind::RepeatedHeader(canonical(id).unwrap_or("")),
            ));
        }
    }
    // The mandatory headers must decode.
    let at = |id: u8| move |e: ParseError| e.shifted(offset_of(id));
    for via in h.vias() {
        via.map_err(at(HeaderName::Via.known_id()))?;
    }
    if let Some(from) = h.from() {
        from.map_err(at(HeaderName::From.known_id()))?;
    }
    if let Some(to) = h.to() {
        to.map_err(at(HeaderName::To.known_id()))?;
    }
    if let Some(v) = h.get(&HeaderName::CallId) {
        parse_call_id(v).map_err(at(HeaderName::CallId.known_id()))?;
    }
    if let Some(v) = h.get(&HeaderName::MaxForwards) {
        // Max-Forwards counts hops from at most 255 (RFC 4475 3.1.2.4).
        let n = parse_number(v, "Max-Forwards").map_err(at(HeaderName::MaxForwards.known_id()))?;
        if n > 255 {
            return Err(ParseError::expected(
                offset_of(HeaderName::MaxForwards.known_id()),
                "Max-Forwards 0 to 255",
            ));
        }
    }
    if let Some(v) = h.get(&HeaderName::Expires) {
        parse_number(v, "Expires").map_err(at(HeaderName::Expires.known_id()))?;
    }
    if let Some(r) = h.retry_after() {
        r.map_err(at(HeaderName::RetryAfter.known_id()))?;
    }
    for c in h.contacts() {
        c.map_err(at(HeaderName::Contact.known_id()))?;
    }
    if let Some(d) = h.date() {
        if !is_rfc1123_date(d) {
            return Err(ParseError::expected(
                offset_of(HeaderName::Date.known_id()),
                "rfc1123-date in GMT",
            ));
        }
    }
    for w in h.values(&HeaderName::Warning) {
        // warning-value = warn-code SP warn-agent SP warn-text; 3DIGIT code.
        let b = w.as_bytes();
        if b.len() < 4 || !b[..3].iter().all(u8::is_ascii_digit) || b[3] != b' ' {
            return Err(ParseError::expected(
                offset_of(HeaderName::Warning.known_id()),
                "warn-code (3 digits)",
            ));
        }
    }
    if let Some(v) = h.get(&HeaderName::ContentType) {
        super::headers::MediaType::parse(v).map_err(at(HeaderName::ContentType.known_id()))?;
    }
    let cseq = h
        .get(&HeaderName::CSeq)
        .map(CSeq::parse)
        .transpose()
        .map_err(at(HeaderName::CSeq.known_id()))?;
    if let (Some(method), Some(cseq)) = (start.method, cseq) {
        // RFC 3261 section 8.1.1.5: the CSeq method matches the request's.
        if !cseq.method.is(method) {
            return Err(ParseError::new(
                offset_of(HeaderName::CSeq.known_id()),
                ParseErrorKind::CSeqMethodMismatch,
            ));
        }
    }
    if let Some(uri) = start.request_uri {
        // RFC 3261 section 8.2.2.1: 416 for a scheme we do not serve.
        let parsed = Uri::parse(uri).map_err(|e| e.shifted(base))?;
        if !matches!(parsed.scheme, Scheme::Sip | Scheme::Sips | Scheme::Tel) {
            return Err(ParseError::new(base, ParseErrorKind::UnsupportedScheme));
        }
        // RFC 3261 section 19.1.1: headers are not allowed in a Request-URI.
        if parsed.headers.is_some() {
            return Err(ParseError::expected(base, "Request-URI without headers"));
        }
    }
    Ok(())
}

/// `rfc1123-date = wkday "," SP date1 SP time SP "GMT"` (RFC 3261 section
/// 20.17), e.g. `Sat, 13 Nov 2010 23:29:00 GMT`.
fn is_rfc1123_date(d: &str) -> bool {
    const WKDAY: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTH: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = d.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    d.is_ascii()
        && b.len() == 29
        && WKDAY.contains(&&d[..3])
        && &d[3..5] == ", "
        && digits(5..7)
        && b[7] == b' '
        && MONTH.contains(&&d[8..11])
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &d[25..] == " GMT"
}
