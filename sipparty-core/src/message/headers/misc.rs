//! The smaller typed headers: session timers (RFC 4028), events (RFC 6665),
//! REFER (RFC 3515), Replaces (RFC 3891), Reason (RFC 3326), Retry-After and
//! Timestamp (RFC 3261 sections 20.33, 20.38).

use crate::message::error::ParseError;
use crate::message::lex::{comment, run, skip_lws, token, trim, unquote};
use crate::message::params::{scan_header_params, Params, DEFAULT_MAX_PARAMS};
use crate::message::tables::WORD;

use super::cseq::number;

/// `value *(SEMI generic-param)` where value is scanned by `head`; returns
/// the value's range and the params.
fn with_params<'a>(
    raw: &'a str,
    head: impl FnOnce(&[u8], usize) -> Result<usize, ParseError>,
) -> Result<(usize, usize, Params<'a>), ParseError> {
    let s = raw.as_bytes();
    let v0 = skip_lws(s, 0);
    let v1 = head(s, v0)?;
    let end = scan_header_params(s, v1, DEFAULT_MAX_PARAMS)?;
    let tail = skip_lws(s, end);
    if tail != s.len() {
        return Err(ParseError::expected(tail, "\";\" or end of header"));
    }
    Ok((v0, v1, Params::new(&raw[v1..end])))
}

fn digits(s: &[u8], i: usize, what: &'static str) -> Result<usize, ParseError> {
    number(s, i, what).map(|(_, e)| e)
}

/// `Session-Expires = delta-seconds *(SEMI se-params)` (RFC 4028 section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// The session interval in seconds.
    pub delta: u32,
    /// Parameters (`refresher`).
    pub params: Params<'a>,
}

/// Who refreshes the session (RFC 4028 `refresher` parameter).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresher {
    /// The UAC refreshes.
    Uac,
    /// The UAS refreshes.
    Uas,
}

impl<'a> SessionExpires<'a> {
    /// Parse a Session-Expires value.
    pub fn parse(raw: &'a str) -> Result<SessionExpires<'a>, ParseError> {
        let (v0, v1, params) = with_params(raw, |s, i| digits(s, i, "delta-seconds"))?;
        let delta = number(raw.as_bytes(), v0, "delta-seconds")?.0;
        debug_assert_eq!(v1 - v0, raw[v0..v1].len());
        Ok(SessionExpires { delta, params })
    }

    /// The `refresher` parameter, if it is `uac` or `uas`.
    pub fn refresher(&self) -> Option<Refresher> {
        match self.params.value("refresher") {
            Some(r) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(r) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            _ => None,
        }
    }
}

/// `delta-seconds *(SEMI generic-param)`: Min-SE (RFC 4028), RSeq has no
/// params but parses the same way.
pub(crate) fn delta_with_params(raw: &str, what: &'static str) -> Result<u32, ParseError> {
    let (v0, _, _) = with_params(raw, |s, i| digits(s, i, what))?;
    Ok(number(raw.as_bytes(), v0, what)?.0)
}

/// `Event = event-type *( SEMI event-param )` (RFC 6665 section 8.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event package, with templates (`presence`, `refer`,
    /// `presence.winfo`).
    pub package: &'a str,
    /// Parameters (`id`).
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    /// Parse an Event value (also one element of Allow-Events).
    pub fn parse(raw: &'a str) -> Result<Event<'a>, ParseError> {
        let (v0, v1, params) = with_params(raw, |s, i| token(s, i, "event-type"))?;
        Ok(Event {
            package: &raw[v0..v1],
            params,
        })
    }

    /// The `id` parameter.
    pub fn id(&self) -> Option<&'a str> {
        self.params.value("id")
    }
}

/// `Subscription-State = substate-value *( SEMI subexp-params )`
/// (RFC 6665 section 8.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// `active`, `pending`, `terminated` or an extension.
    pub state: &'a str,
    /// Parameters (`expires`, `reason`, `retry-after`).
    pub params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    /// Parse a Subscription-State value.
    pub fn parse(raw: &'a str) -> Result<SubscriptionState<'a>, ParseError> {
        let (v0, v1, params) = with_params(raw, |s, i| token(s, i, "substate-value"))?;
        Ok(SubscriptionState {
            state: &raw[v0..v1],
            params,
        })
    }

    /// The `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        self.params.value("expires")?.parse().ok()
    }

    /// The `reason` parameter.
    pub fn reason(&self) -> Option<&'a str> {
        self.params.value("reason")
    }

    /// The `retry-after` parameter.
    pub fn retry_after(&self) -> Option<u32> {
        self.params.value("retry-after")?.parse().ok()
    }
}

/// `callid = word [ "@" word ]` at `i`.
pub(crate) fn call_id_end(s: &[u8], i: usize) -> Result<usize, ParseError> {
    let e = run(s, i, &WORD);
    if e == i {
        return Err(ParseError::expected(i, "Call-ID word"));
    }
    if s.get(e) == Some(&b'@') {
        let e2 = run(s, e + 1, &WORD);
        if e2 == e + 1 {
            return Err(ParseError::expected(e + 1, "Call-ID word after \"@\""));
        }
        return Ok(e2);
    }
    Ok(e)
}

/// Check a Call-ID value (`callid = word [ "@" word ]`, RFC 3261 section
/// 20.8) and return it trimmed.
pub fn parse_call_id(raw: &str) -> Result<&str, ParseError> {
    let s = raw.as_bytes();
    let i = skip_lws(s, 0);
    let e = call_id_end(s, i)?;
    if skip_lws(s, e) != s.len() {
        return Err(ParseError::expected(e, "end of Call-ID"));
    }
    Ok(&raw[i..e])
}

/// `Replaces = callid *(SEMI replaces-param)` (RFC 3891 section 6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replaces<'a> {
    /// The Call-ID of the dialog to replace.
    pub call_id: &'a str,
    /// Parameters (`to-tag`, `from-tag`, `early-only`).
    pub params: Params<'a>,
}

impl<'a> Replaces<'a> {
    /// Parse a Replaces value.
    pub fn parse(raw: &'a str) -> Result<Replaces<'a>, ParseError> {
        let (v0, v1, params) = with_params(raw, call_id_end)?;
        Ok(Replaces {
            call_id: &raw[v0..v1],
            params,
        })
    }

    /// The `to-tag` parameter.
    pub fn to_tag(&self) -> Option<&'a str> {
        self.params.value("to-tag")
    }

    /// The `from-tag` parameter.
    pub fn from_tag(&self) -> Option<&'a str> {
        self.params.value("from-tag")
    }

    /// Whether `early-only` is present.
    pub fn early_only(&self) -> bool {
        self.params.contains("early-only")
    }
}

/// One Reason element: `protocol *(SEMI reason-params)` (RFC 3326).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason<'a> {
    /// `SIP`, `Q.850` or an extension.
    pub protocol: &'a str,
    /// Parameters (`cause`, `text`).
    pub params: Params<'a>,
}

impl<'a> Reason<'a> {
    /// Parse one Reason element.
    pub fn parse(raw: &'a str) -> Result<Reason<'a>, ParseError> {
        let (v0, v1, params) = with_params(raw, |s, i| token(s, i, "protocol"))?;
        Ok(Reason {
            protocol: &raw[v0..v1],
            params,
        })
    }

    /// The `cause` parameter.
    pub fn cause(&self) -> Option<u16> {
        self.params.value("cause")?.parse().ok()
    }

    /// The `text` parameter, quotes removed.
    pub fn text(&self) -> Option<&'a str> {
        self.params.value("text").map(unquote)
    }
}

/// `Retry-After = delta-seconds [ comment ] *( SEMI retry-param )`
/// (RFC 3261 section 20.33).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    /// Seconds to wait.
    pub delay: u32,
    /// The comment, parentheses removed.
    pub comment: Option<&'a str>,
    /// Parameters (`duration`).
    pub params: Params<'a>,
}

impl<'a> RetryAfter<'a> {
    /// Parse a Retry-After value.
    pub fn parse(raw: &'a str) -> Result<RetryAfter<'a>, ParseError> {
        let s = raw.as_bytes();
        let i = skip_lws(s, 0);
        let (delay, e) = number(s, i, "delta-seconds")?;
        let c = skip_lws(s, e);
        let (comment, after) = if s.get(c) == Some(&b'(') {
            let ce = comment(s, c)?;
            (Some(trim(&raw[c + 1..ce - 1])), ce)
        } else {
            (None, e)
        };
        let end = scan_header_params(s, after, DEFAULT_MAX_PARAMS)?;
        if skip_lws(s, end) != s.len() {
            return Err(ParseError::expected(end, "end of Retry-After"));
        }
        Ok(RetryAfter {
            delay,
            comment,
            params: Params::new(&raw[after..end]),
        })
    }

    /// The `duration` parameter.
    pub fn duration(&self) -> Option<u32> {
        self.params.value("duration")?.parse().ok()
    }
}

/// `Timestamp = 1*(DIGIT) [ "." *(DIGIT) ] [ LWS delay ]` (RFC 3261
/// section 20.38), kept as text so a UAS can echo it exactly (section
/// 8.2.6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp<'a> {
    /// The timestamp as written.
    pub value: &'a str,
    /// The delay as written.
    pub delay: Option<&'a str>,
}

fn decimal(s: &[u8], i: usize, what: &'static str) -> Result<usize, ParseError> {
    let mut e = i;
    while e < s.len() && s[e].is_ascii_digit() {
        e += 1;
    }
    if e == i {
        return Err(ParseError::expected(i, what));
    }
    if s.get(e) == Some(&b'.') {
        e += 1;
        while e < s.len() && s[e].is_ascii_digit() {
            e += 1;
        }
    }
    Ok(e)
}

impl<'a> Timestamp<'a> {
    /// Parse a Timestamp value.
    pub fn parse(raw: &'a str) -> Result<Timestamp<'a>, ParseError> {
        let s = raw.as_bytes();
        let i = skip_lws(s, 0);
        let e = decimal(s, i, "timestamp")?;
        let d = skip_lws(s, e);
        let delay = if d < s.len() {
            if d == e {
                return Err(ParseError::expected(e, "LWS"));
            }
            let de = decimal(s, d, "delay")?;
            if skip_lws(s, de) != s.len() {
                return Err(ParseError::expected(de, "end of Timestamp"));
            }
            Some(&raw[d..de])
        } else {
            None
        };
        Ok(Timestamp {
            value: &raw[i..e],
            delay,
        })
    }
}

/// Fuzzing helper: run the decoder selected by `which` on `s`.
#[doc(hidden)]
pub fn decode_any(which: u8, s: &str) {
    match (which / 8) % 10 {
        0 => drop(SessionExpires::parse(s).map(|x| x.refresher())),
        1 => drop(Event::parse(s).map(|e| e.id())),
        2 => drop(SubscriptionState::parse(s).map(|x| (x.expires(), x.reason()))),
        3 => drop(Replaces::parse(s).map(|r| (r.to_tag(), r.early_only()))),
        4 => drop(Reason::parse(s).map(|r| (r.cause(), r.text()))),
        5 => drop(RetryAfter::parse(s).map(|r| r.duration())),
        6 => drop(Timestamp::parse(s)),
        7 => drop(parse_call_id(s)),
        8 => drop(delta_with_params(s, "n")),
        _ => drop(crate::message::Uri::parse(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4028 section 4 and 5 examples.
    #[test]
    fn rfc4028_session_expires_and_min_se() {
        let se = SessionExpires::parse("4000;refresher=uac").unwrap();
        assert_eq!((se.delta, se.refresher()), (4000, Some(Refresher::Uac)));
        assert_eq!(SessionExpires::parse("90").unwrap().refresher(), None);
        assert!(SessionExpires::parse("uac").is_err());
        assert_eq!(delta_with_params("60", "Min-SE"), Ok(60));
        assert_eq!(delta_with_params(" 90 ;x=1", "Min-SE"), Ok(90));
    }

    /// RFC 6665 section 8.2 examples.
    #[test]
    fn rfc6665_8_2_event_and_subscription_state() {
        let e = Event::parse("refer;id=93809824").unwrap();
        assert_eq!((e.package, e.id()), ("refer", Some("93809824")));
        assert_eq!(
            Event::parse("presence.winfo").unwrap().package,
            "presence.winfo"
        );
        let s = SubscriptionState::parse("active;expires=60").unwrap();
        assert_eq!((s.state, s.expires()), ("active", Some(60)));
        let s = SubscriptionState::parse("terminated;reason=timeout;retry-after=30").unwrap();
        assert_eq!((s.reason(), s.retry_after()), (Some("timeout"), Some(30)));
        assert!(Event::parse("").is_err());
    }

    /// RFC 3891 section 6.1 example.
    #[test]
    fn rfc3891_6_1_replaces() {
        let r = Replaces::parse("98732@sip.example.com\r\n ;from-tag=r33th4x0r\r\n ;to-tag=ff87ff")
            .unwrap();
        assert_eq!(r.call_id, "98732@sip.example.com");
        assert_eq!(r.from_tag(), Some("r33th4x0r"));
        assert_eq!(r.to_tag(), Some("ff87ff"));
        assert!(!r.early_only());
        assert!(Replaces::parse("abc;early-only").unwrap().early_only());
        assert!(Replaces::parse(";to-tag=1").is_err());
    }

    /// RFC 3326 section 2 examples.
    #[test]
    fn rfc3326_2_reason() {
        let r = Reason::parse("SIP ;cause=200 ;text=\"Call completed elsewhere\"").unwrap();
        assert_eq!(r.protocol, "SIP");
        assert_eq!(r.cause(), Some(200));
        assert_eq!(r.text(), Some("Call completed elsewhere"));
        assert_eq!(
            Reason::parse("Q.850 ;cause=16 ;text=\"Terminated\"")
                .unwrap()
                .cause(),
            Some(16)
        );
    }

    /// RFC 3261 sections 20.33 and 20.38 examples.
    #[test]
    fn rfc3261_20_33_retry_after_and_20_38_timestamp() {
        let r = RetryAfter::parse("18000;duration=3600").unwrap();
        assert_eq!(
            (r.delay, r.duration(), r.comment),
            (18000, Some(3600), None)
        );
        let r = RetryAfter::parse("120 (I'm in a meeting)").unwrap();
        assert_eq!((r.delay, r.comment), (120, Some("I'm in a meeting")));
        assert!(RetryAfter::parse("soon").is_err());
        let t = Timestamp::parse("54").unwrap();
        assert_eq!((t.value, t.delay), ("54", None));
        let t = Timestamp::parse("54.3 0.5").unwrap();
        assert_eq!((t.value, t.delay), ("54.3", Some("0.5")));
        assert!(Timestamp::parse("x").is_err());
        assert_eq!(
            parse_call_id(" f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com "),
            Ok("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com")
        );
        assert!(parse_call_id("a b").is_err());
        assert!(parse_call_id("a@").is_err());
    }
}
