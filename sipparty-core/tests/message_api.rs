//! The owned message API: parse, typed access, edit, build, serialize.

use sipparty_core::message::{
    new_branch, new_call_id, new_tag, HeaderName, Message, Method, Scheme,
};
use sipparty_core::SeededRandom;

const INVITE: &[u8] = include_bytes!("../../samples/invite.sip");

#[test]
fn sample_invite_parses_with_typed_headers() {
    let m = Message::parse(INVITE).unwrap();
    assert!(m.is_request());
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.request_uri(), Some("sip:bob@biloxi.example.com"));
    let via = m.top_via().unwrap().unwrap();
    assert_eq!(via.transport, "UDP");
    assert_eq!(via.host, "pc33.atlanta.example.com");
    assert_eq!(via.port, Some(5060));
    assert_eq!(via.branch(), Some("z9hG4bK74bf9"));
    assert_eq!(via.received(), Some("192.0.2.101"));
    let from = m.from_header().unwrap().unwrap();
    assert_eq!(from.display_name(), Some("Alice"));
    assert_eq!(from.uri().user, Some("alice"));
    assert_eq!(from.tag(), Some("9fxced76sl"));
    let to = m.to_header().unwrap().unwrap();
    assert_eq!(to.tag(), None);
    assert_eq!(to.uri().scheme, Scheme::Sip);
    assert_eq!(m.call_id(), Some("3848276298220188511@atlanta.example.com"));
    let cseq = m.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, cseq.method), (1, Method::Invite));
    assert_eq!(m.max_forwards(), Some(Ok(70)));
    let contacts: Vec<_> = m.contacts().collect::<Result<_, _>>().unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0].address().unwrap().uri().transport_param(),
        Some("udp")
    );
    assert!(m.content_type().unwrap().unwrap().is_sdp());
    let allow: Vec<_> = m.tokens(&HeaderName::Allow).collect();
    assert_eq!(allow.len(), 10);
    assert_eq!(allow[0], "INVITE");
    assert_eq!(allow[9], "PRACK");
    assert!(m
        .header_section()
        .has_token(&HeaderName::Supported, "100REL"));
    assert_eq!(m.header(&HeaderName::UserAgent), Some("sipparty/0.1"));
    assert!(m.body().starts_with(b"v=0\r\n"));
    assert_eq!(
        m.body().len(),
        m.header_section().content_length().unwrap().unwrap() as usize
    );
}

#[test]
fn unmodified_message_serializes_byte_for_byte() {
    let m = Message::parse(INVITE).unwrap();
    assert_eq!(m.to_bytes(), INVITE);
    // Odd but legal spelling survives: compact names, folding, spacing.
    let odd = b"OPTIONS sip:x@example.com SIP/2.0\r\nv:  SIP/2.0/UDP h;branch=z9hG4bK1\r\nt :<sip:x@example.com>\r\nf: <sip:y@example.com>\r\n ;tag=1\r\ni: abc\r\nCSeq:  7   OPTIONS\r\nX-Thing: a, b\r\nl: 0\r\n\r\n";
    let m = Message::parse(odd).unwrap();
    assert_eq!(m.to_bytes(), odd);
    assert_eq!(m.from_header().unwrap().unwrap().tag(), Some("1"));
}

#[test]
fn modified_message_keeps_untouched_lines() {
    let mut m = Message::parse(INVITE).unwrap();
    m.push_front_header(
        HeaderName::Via,
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1",
    );
    m.remove_header(&HeaderName::UserAgent);
    m.set_header(HeaderName::MaxForwards, "69");
    let out = String::from_utf8(m.to_bytes()).unwrap();
    assert!(out.starts_with("INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\nVia: SIP/2.0/UDP pc33"));
    assert!(out.contains("\r\nMax-Forwards: 69\r\nFrom: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"));
    assert!(!out.contains("User-Agent"));
    let vias: Vec<_> = m.vias().map(|v| v.unwrap().host).collect();
    assert_eq!(vias, ["proxy.example.com", "pc33.atlanta.example.com"]);
    assert!(m.remove_first_header(&HeaderName::Via));
    assert_eq!(
        m.top_via().unwrap().unwrap().host,
        "pc33.atlanta.example.com"
    );
    // Body change recomputes Content-Length.
    m.set_body(Some("text/plain"), b"hello");
    let out = String::from_utf8(m.to_bytes()).unwrap();
    assert!(out.contains("Content-Type: text/plain\r\n"));
    assert!(out.contains("Content-Length: 5\r\n"));
    assert!(out.ends_with("\r\n\r\nhello"));
    let back = Message::parse(out.as_bytes()).unwrap();
    assert_eq!(back.body(), b"hello");
    assert_eq!(back, m);
}

/// RFC 3261 section 8.2.6: responses copy Via, From, To, Call-ID, CSeq and
/// add a To tag.
#[test]
fn rfc3261_8_2_6_response_to() {
    let req = Message::parse(INVITE).unwrap();
    let r = Message::response_to(&req, 180, Some("abc123"));
    assert_eq!(r.status(), Some(180));
    assert_eq!(r.reason(), Some("Ringing"));
    assert_eq!(r.to_header().unwrap().unwrap().tag(), Some("abc123"));
    assert_eq!(r.from_header().unwrap().unwrap().tag(), Some("9fxced76sl"));
    assert_eq!(r.call_id(), req.call_id());
    assert_eq!(r.cseq(), req.cseq());
    assert_eq!(r.top_via().unwrap().unwrap().branch(), Some("z9hG4bK74bf9"));
    assert_eq!(r.header(&HeaderName::Contact), None);
    let bytes = r.to_bytes();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.starts_with("SIP/2.0 180 Ringing\r\nVia: "));
    assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    let back = Message::parse(&bytes).unwrap();
    assert_eq!(back, r);
    // A To that already has a tag keeps it.
    let r2 = Message::response_to(&back, 200, Some("other"));
    assert_eq!(r2.to_header().unwrap().unwrap().tag(), Some("abc123"));
    // No tag asked: To copied as is.
    let r3 = Message::response_to(&req, 100, None);
    assert_eq!(r3.to_header().unwrap().unwrap().tag(), None);
    assert_eq!(r3.reason(), Some("Trying"));
}

#[test]
fn built_request_round_trips_and_ids_are_well_formed() {
    let mut rng = SeededRandom::new(42);
    let branch = new_branch(&mut rng);
    assert!(branch.starts_with("z9hG4bK") && branch.len() == 23);
    let tag = new_tag(&mut rng);
    let call_id = new_call_id(&mut rng, "example.com");
    assert!(call_id.ends_with("@example.com"));
    let mut m = Message::request(Method::Register, "sip:registrar.example.com");
    m.add_header(
        HeaderName::Via,
        &format!("SIP/2.0/UDP 192.0.2.4;branch={branch};rport"),
    );
    m.add_header(
        HeaderName::From,
        &format!("<sip:alice@example.com>;tag={tag}"),
    );
    m.add_header(HeaderName::To, "<sip:alice@example.com>");
    m.add_header(HeaderName::CallId, &call_id);
    m.add_header(HeaderName::CSeq, "2 REGISTER");
    m.add_header(HeaderName::Contact, "<sip:alice@192.0.2.4>;expires=3600");
    m.add_header(HeaderName::Other("X-Injected".into()), "a\r\nEvil: 1");
    let bytes = m.to_bytes();
    let back = Message::parse(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.method(), Some(&Method::Register));
    assert_eq!(back.top_via().unwrap().unwrap().rport(), Some(None));
    assert_eq!(
        back.contacts().next().unwrap().unwrap().expires(),
        Some(3600)
    );
    assert_eq!(
        back.header(&HeaderName::Other("x-injected".into())),
        Some("a  Evil: 1")
    );
    assert_eq!(back.header(&HeaderName::Other("Evil".into())), None);
    m.set_request_uri("sip:other.example.com");
    assert_eq!(m.request_uri(), Some("sip:other.example.com"));
    assert!(m
        .to_bytes()
        .starts_with(b"REGISTER sip:other.example.com SIP/2.0\r\n"));
}
