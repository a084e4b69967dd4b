//! Fuzz entry points for the message layer. Each one also exercises what a
//! caller would do next with a successful parse (typed decoding, owned
//! copy, serialization) and checks the invariants that must hold.

use crate::message::{
    parse_datagram, parse_stream, CSeq, Contact, HeaderName, Headers, Limits, MediaType, Message,
    NameAddr, RAck, Status, Uri, Via,
};

/// Decode every typed header the section offers; results are ignored, only
/// panics matter.
fn touch_headers(h: &Headers<'_>) {
    for v in h.vias() {
        let _ = v.map(|v| (v.branch(), v.rport(), v.ttl()));
    }
    let _ = h.from();
    let _ = h.to();
    let _ = h.cseq();
    let _ = h.max_forwards();
    for c in h.contacts() {
        let _ = c.map(|c| (c.expires(), c.q()));
    }
    for r in h.routes().chain(h.record_routes()) {
        let _ = r;
    }
    let _ = h.content_type();
    let _ = h.expires();
    for t in h.tokens(&HeaderName::Allow) {
        let _ = t;
    }
}

/// Parse `data` as one datagram; on success decode the headers, take an
/// owned copy and check that it serializes back to the same message.
pub fn datagram(data: &[u8]) {
    let Ok(view) = parse_datagram(data, &Limits::default()) else {
        return;
    };
    touch_headers(&view.headers());
    let _ = view.validate();
    let msg = Message::from_view(&view);
    if let Some(Ok(parts)) = msg.body_parts() {
        for part in parts.flatten() {
            let _ = (part.content_type(), part.headers().count());
        }
    }
    let bytes = msg.to_bytes();
    let again = Message::parse(&bytes).expect("a serialized message parses");
    assert_eq!(again.to_bytes(), bytes, "serialization is stable");
    let _ = Message::response_to(&msg, 200, Some("tag"));
}

/// Parse `data` as a stream of messages until it is used up or an error.
pub fn stream(data: &[u8]) {
    let limits = Limits::default();
    let mut rest = data;
    loop {
        match parse_stream(rest, &limits) {
            Ok(Status::Complete((view, used))) => {
                assert!(used > 0 && used <= rest.len(), "progress within the input");
                touch_headers(&view.headers());
                rest = &rest[used..];
            }
            Ok(Status::Partial) | Err(_) => return,
        }
    }
}

/// Parse `data` as a URI.
pub fn uri(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(u) = Uri::parse(s) {
            let _ = (u.transport_param(), u.lr(), u.maddr(), u.equivalent(&u));
            assert!(u.equivalent(&u), "a URI is equivalent to itself");
        }
    }
}

/// Decode `data[1..]` with the typed header decoder chosen by `data[0]`.
pub fn headers(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 8 {
        0 => drop(Via::parse(s)),
        1 => drop(NameAddr::parse(s)),
        2 => drop(Contact::parse(s)),
        3 => drop(CSeq::parse(s)),
        4 => drop(MediaType::parse(s)),
        5 => drop(RAck::parse(s)),
        6 => {
            for v in crate::message::CommaSplit::new(s) {
                let _ = NameAddr::parse(v);
            }
        }
        _ => crate::message::headers::decode_any(which, s),
    }
}
