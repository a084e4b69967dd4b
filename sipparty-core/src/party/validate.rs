//! The checks a UAS makes on every request before processing it (RFC 3261
//! section 8.2), each producing the response the RFC names.

use crate::message::{HeaderName, Message, Method};

use super::{ACCEPT, ALLOW};

/// Option tags we understand in Require (section 8.2.2.3). Not 100rel:
/// we do not send reliable provisional responses (RFC 3262), so a UAC
/// that requires them gets 420.
const UNDERSTOOD: &[&str] = &["timer"];

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
pub(crate) fn check_request(request: &Message) -> Option<Message> {
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
            .filter(|t| !UNDERSTOOD.iter().any(|u| u.eq_ignore_ascii_case(t)))
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
