//! The checks a UAS makes on every request before processing it (RFC 3261
//! section 8.2), each producing the response the RFC names.

use crate::message::{HeaderName, Message, Method, ParseError};

use super::{ACCEPT, ALLOW};

/// Option tags we understand in Require (section 8.2.2.3). 100rel (RFC
/// 3262) unless the configuration turns it off: the INVITE handling
/// answers 420 itself then.
const UNDERSTOOD: &[&str] = &["timer", "100rel"];

/// Checks made before the transaction layer sees a request: without a
/// well-formed Via, From, To, Call-ID and CSeq (whose method agrees with
/// the request line) a request cannot be matched to a transaction, so it
/// is answered 400 statelessly (section 8.2; 8.1.1 lists the mandatory
/// headers). `None` when the request is fine or cannot be answered (no
/// usable Via: then it is dropped by the transaction layer).
pub(crate) fn check_mandatory(request: &Message) -> Option<Message> {
    // Presence only for From and To: parsing them here would repeat what
    // the dialog layer does anyway (a malformed From gets 400 there).
    request.header(&HeaderName::Via)?;
    let problem = if request.header(&HeaderName::From).is_none() {
        Some("Missing From")
    } else if request.header(&HeaderName::To).is_none() {
        Some("Missing To")
    } else if request.call_id().map_or(true, |c| c.trim().is_empty()) {
        Some("Missing Call-ID")
    } else {
        match request.cseq() {
            Some(Ok(c)) if Some(&c.method) == request.method() => None,
            Some(Ok(_)) => Some("CSeq method does not match the request"),
            _ => Some("Missing or malformed CSeq"),
        }
    };
    problem.map(|why| {
        let mut resp = Message::response_to(request, 400, None);
        // RFC 3261 section 21.4.1: the reason phrase may say what was wrong.
        let mut named = Message::response(400, why);
        for (name, value) in headers_of(&resp) {
            named.add_header(name, &value);
        }
        resp = named;
        resp
    })
}

fn headers_of(resp: &Message) -> Vec<(HeaderName, String)> {
    let mut out = Vec::new();
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        for v in resp.headers(&name) {
            out.push((name.clone(), v.to_string()));
        }
    }
    out
}

/// Checks made once the server transaction exists (section 8.2.1 to
/// 8.2.3), in the RFC's order. Returns the response to send, if the
/// request is refused.
///
/// `with_100rel`: whether the party does reliable provisionals (RFC 3262);
/// when it does not, `Require: 100rel` is an extension it does not
/// support, for an initial INVITE and a re-INVITE alike.
pub(crate) fn check_request(request: &Message, with_100rel: bool) -> Option<Message> {
    let method = request.method()?;
    // Section 8.2 / 21.5.7: another major or minor version.
    if !request.version().eq_ignore_ascii_case("SIP/2.0") {
        return Some(Message::response_to(request, 505, None));
    }
    // 8.2.1: methods. 405 for ones we know but do not do, 501 for ones we
    // have never heard of; both list what we do (section 20.5).
    let refused = match method {
        Method::Invite
        | Method::Ack
        | Method::Bye
        | Method::Cancel
        | Method::Options
        | Method::Info
        | Method::Message
        | Method::Update
        | Method::Prack => None,
        Method::Extension(_) => Some(501),
        _ => Some(405),
    };
    if let Some(code) = refused {
        let mut resp = Message::response_to(request, code, None);
        resp.add_header(HeaderName::Allow, ALLOW);
        return Some(resp);
    }
    // 8.2.2.1: a Request-URI scheme we do not understand.
    let uri = request.request_uri().unwrap_or("");
    let scheme = uri.split(':').next().unwrap_or("");
    if !(scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")) {
        return Some(Message::response_to(request, 416, None));
    }
    // 8.2.2.3: Require with extensions we do not support (never for ACK
    // or CANCEL, which must not be refused this way).
    if !matches!(method, Method::Ack | Method::Cancel) {
        let unsupported: Vec<&str> = request
            .tokens(&HeaderName::Require)
            .filter(|t| {
                !UNDERSTOOD
                    .iter()
                    .any(|u| u.eq_ignore_ascii_case(t) && (with_100rel || *u != "100rel"))
            })
            .collect();
        if !unsupported.is_empty() {
            let mut resp = Message::response_to(request, 420, None);
            resp.add_header(HeaderName::Unsupported, &unsupported.join(", "));
            return Some(resp);
        }
    }
    // 8.2.3: bodies we cannot read. Session descriptions only for the
    // offer/answer methods; MESSAGE and INFO bodies go to the application
    // whatever their type.
    if !request.body().is_empty() {
        if let Some(enc) = request.header(&HeaderName::ContentEncoding) {
            if !enc.trim().eq_ignore_ascii_case("identity") {
                let mut resp = Message::response_to(request, 415, None);
                resp.add_header(HeaderName::Other("Accept-Encoding".into()), "identity");
                resp.add_header(HeaderName::Accept, ACCEPT);
                return Some(resp);
            }
        }
        if matches!(
            method,
            Method::Invite | Method::Ack | Method::Update | Method::Prack
        ) {
            let is_sdp = match request.content_type() {
                Some(Ok(ct)) => {
                    ct.type_.eq_ignore_ascii_case("application")
                        && ct.subtype.eq_ignore_ascii_case("sdp")
                }
                // RFC 3261 section 20.15: a body without Content-Type is
                // taken as SDP by long tradition; be liberal.
                None => true,
                Some(Err(_)) => false,
            };
            if !is_sdp {
                let mut resp = Message::response_to(request, 415, None);
                resp.add_header(HeaderName::Accept, ACCEPT);
                return Some(resp);
            }
        }
    }
    None
}

/// What a datagram that failed to parse still tells: enough to answer it?
#[derive(Debug)]
pub(crate) struct Salvaged {
    /// The response to send statelessly.
    pub(crate) response: Message,
    /// The Request-URI as written (to pick the Party behind an Endpoint).
    pub(crate) request_uri: String,
}

/// The answer to a request that failed to parse with `error` (RFC 3261
/// section 21.4.1: 400 with a reason phrase naming the problem, or the
/// status the error calls for: 413, 414, 416, 505). `None` when the bytes
/// do not look like a request, when it is an ACK (never answered, section
/// 17.2.1), or when a header a response must echo (Via, From, To, Call-ID,
/// CSeq; section 8.2.6.2) is missing: such a datagram is dropped.
pub(crate) fn salvage_bad_request(bytes: &[u8], error: &ParseError) -> Option<Salvaged> {
    // Only the header section; its lines are read one by one so a single
    // bad line (not UTF-8, too long) does not hide the others.
    let end = find_header_end(bytes);
    let mut lines = bytes[..end].split(|b| *b == b'\n').map(trim_cr);
    let start = std::str::from_utf8(lines.next()?).ok()?;
    let mut parts = start.split(' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
    };
    if parts.next().is_some()
        || !is_token(method)
        || uri.is_empty()
        || !version
            .get(..4)
            .is_some_and(|v| v.eq_ignore_ascii_case("SIP/"))
        || method.eq_ignore_ascii_case("ACK")
    {
        return None;
    }
    const ECHOED: [HeaderName; 5] = [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ];
    // (name index, value) in order; folded lines (section 7.3.1) join the
    // header above.
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in lines {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let (Some(i), Ok(more)) = (current, std::str::from_utf8(line)) {
                if let Some(last) = found.get_mut(i) {
                    last.1.push(' ');
                    last.1.push_str(more.trim());
                }
            }
            continue;
        }
        current = None;
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if let Some(k) = ECHOED.iter().position(|h| h.matches(name)) {
            current = Some(found.len());
            found.push((k, value.trim().to_string()));
        }
    }
    if (0..ECHOED.len()).any(|k| !found.iter().any(|(n, v)| *n == k && !v.is_empty())) {
        return None;
    }
    let status = error.status();
    let reason = match status {
        400 => capitalized(&error.kind.to_string()),
        code => crate::message::reason_phrase(code).to_string(),
    };
    let mut response = Message::response(status, &reason);
    for (k, name) in ECHOED.iter().enumerate() {
        for (_, v) in found.iter().filter(|(n, _)| *n == k) {
            response.add_header(name.clone(), v);
        }
    }
    Some(Salvaged {
        response,
        request_uri: uri.to_string(),
    })
}

/// Where the header section ends (the empty line), or the whole datagram.
fn find_header_end(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(bytes.len())
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
