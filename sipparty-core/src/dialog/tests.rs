use super::*;

fn invite() -> Message {
    Message::parse(
        b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Record-Route: <sip:p2.biloxi.example.com;lr>, <sip:p1.atlanta.example.com;lr>\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=udp>\r\n\
Content-Length: 0\r\n\r\n",
    )
    .unwrap()
}

fn ok_200() -> Message {
    Message::parse(
        b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
Record-Route: <sip:p2.biloxi.example.com;lr>\r\n\
Record-Route: <sip:p1.atlanta.example.com;lr>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=314159\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:bob@client.biloxi.example.com>\r\n\
Content-Length: 0\r\n\r\n",
    )
    .unwrap()
}

#[test]
fn rfc3261_12_1_2_uac_dialog_reverses_record_route() {
    let d = Dialog::from_uac_response(&invite(), &ok_200()).unwrap();
    assert_eq!(d.call_id(), "3848276298220188511@atlanta.example.com");
    assert_eq!(d.local_tag(), "9fxced76sl");
    assert_eq!(d.remote_tag(), "314159");
    assert_eq!(d.remote_target(), "sip:bob@client.biloxi.example.com");
    assert_eq!(
        d.route_set().collect::<Vec<_>>(),
        [
            "<sip:p1.atlanta.example.com;lr>",
            "<sip:p2.biloxi.example.com;lr>"
        ]
    );
    assert_eq!(d.local_seq, 1);
    assert_eq!(d.remote_seq, None);
    assert_eq!(d.phase, Phase::Confirmed);
}

#[test]
fn rfc3261_12_1_1_uas_dialog_keeps_record_route_order() {
    let d = Dialog::from_uas_request(&invite(), "314159").unwrap();
    assert_eq!(d.local_tag(), "314159");
    assert_eq!(d.remote_tag(), "9fxced76sl");
    assert_eq!(d.remote_seq, Some(1));
    assert_eq!(d.local_seq, 0);
    assert_eq!(
        d.remote_target(),
        "sip:alice@client.atlanta.example.com;transport=udp"
    );
    assert_eq!(
        d.route_set().collect::<Vec<_>>(),
        [
            "<sip:p2.biloxi.example.com;lr>",
            "<sip:p1.atlanta.example.com;lr>"
        ]
    );
    assert_eq!(
        d.local_header(),
        "Bob <sip:bob@biloxi.example.com>;tag=314159"
    );
    assert_eq!(d.phase, Phase::Early);
}

#[test]
fn rfc3261_12_2_1_1_loose_routing_keeps_remote_target_in_request_uri() {
    let mut d = Dialog::from_uac_response(&invite(), &ok_200()).unwrap();
    let bye = d.create_request(Method::Bye, None);
    assert_eq!(bye.request_uri(), Some("sip:bob@client.biloxi.example.com"));
    let routes: Vec<&str> = bye.headers(&HeaderName::Route).collect();
    assert_eq!(
        routes,
        [
            "<sip:p1.atlanta.example.com;lr>",
            "<sip:p2.biloxi.example.com;lr>"
        ]
    );
    assert_eq!(bye.header(&HeaderName::CSeq), Some("2 BYE"));
    assert_eq!(bye.to_header().unwrap().unwrap().tag(), Some("314159"));
    assert_eq!(
        bye.from_header().unwrap().unwrap().tag(),
        Some("9fxced76sl")
    );
    assert_eq!(d.next_hop(), "sip:p1.atlanta.example.com;lr");
    // ACK reuses the INVITE's CSeq number (section 13.2.2.4).
    let ack = d.create_request(Method::Ack, Some(1));
    assert_eq!(ack.header(&HeaderName::CSeq), Some("1 ACK"));
    assert_eq!(d.local_seq, 2);
}

#[test]
fn rfc3261_12_2_1_1_strict_router_goes_in_the_request_uri() {
    let mut d = Dialog::from_uac_response(&invite(), &ok_200()).unwrap();
    d.set_route_set(["<sip:strict.example.com>", "<sip:p2.example.com;lr>"]);
    let bye = d.create_request(Method::Bye, None);
    assert_eq!(bye.request_uri(), Some("sip:strict.example.com"));
    let routes: Vec<&str> = bye.headers(&HeaderName::Route).collect();
    assert_eq!(
        routes,
        [
            "<sip:p2.example.com;lr>",
            "<sip:bob@client.biloxi.example.com>"
        ]
    );
}

#[test]
fn rfc3261_12_2_2_lower_cseq_is_refused_with_500() {
    let mut d = Dialog::from_uas_request(&invite(), "314159").unwrap();
    let mut req = Message::request(Method::Bye, "sip:bob@biloxi.example.com");
    req.add_header(HeaderName::CSeq, "1 BYE");
    let err = d.check_remote_cseq(&req).unwrap_err();
    assert_eq!(err.status(), 500);
    req.set_header(HeaderName::CSeq, "2 BYE");
    assert!(d.check_remote_cseq(&req).is_ok());
    assert_eq!(d.remote_seq, Some(2));
    // ACK carries the INVITE's number and is never refused.
    req.set_header(HeaderName::CSeq, "1 ACK");
    assert!(d.check_remote_cseq(&req).is_ok());
}

#[test]
fn rfc3261_12_2_target_refresh_takes_the_new_contact() {
    let mut d = Dialog::from_uac_response(&invite(), &ok_200()).unwrap();
    let mut reinvite = Message::request(Method::Invite, "sip:alice@client.atlanta.example.com");
    reinvite.add_header(HeaderName::Contact, "<sip:bob@192.0.2.99:5062>");
    d.refresh_remote_target(&reinvite);
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.99:5062");
}

#[test]
fn dialog_matches_its_in_dialog_requests_only() {
    let d = Dialog::from_uas_request(&invite(), "314159").unwrap();
    let mut bye = Message::request(Method::Bye, "sip:bob@biloxi.example.com");
    bye.add_header(
        HeaderName::From,
        "<sip:alice@atlanta.example.com>;tag=9fxced76sl",
    );
    bye.add_header(HeaderName::To, "<sip:bob@biloxi.example.com>;tag=314159");
    bye.add_header(
        HeaderName::CallId,
        "3848276298220188511@atlanta.example.com",
    );
    assert!(d.matches_request(&bye));
    bye.set_header(HeaderName::To, "<sip:bob@biloxi.example.com>;tag=other");
    assert!(!d.matches_request(&bye));
}

#[test]
fn rfc3261_12_2_1_2_next_hop_address_follows_target_refresh() {
    let mut d = Dialog::from_uac_response(&invite(), &ok_200()).unwrap();
    d.set_route_set([]);
    let resolve = |uri: &str| -> Option<std::net::SocketAddr> {
        let host = uri.strip_prefix("sip:bob@")?;
        host.parse().ok()
    };
    // A name: nothing found, and asked again next time.
    assert_eq!(d.next_hop_addr(resolve), None);
    d.set_remote_target("sip:bob@192.0.2.7:5070");
    assert_eq!(
        d.next_hop_addr(resolve),
        Some("192.0.2.7:5070".parse().unwrap())
    );
    // Remembered: a resolver that finds nothing is not asked.
    assert_eq!(
        d.next_hop_addr(|_| None),
        Some("192.0.2.7:5070".parse().unwrap())
    );
    // A target refresh (section 12.2.1.2) forgets it.
    let mut reinvite = invite();
    reinvite.set_header(HeaderName::Contact, "<sip:bob@192.0.2.8:5080>");
    d.refresh_remote_target(&reinvite);
    assert_eq!(
        d.next_hop_addr(resolve),
        Some("192.0.2.8:5080".parse().unwrap())
    );
    // So does a new route set, whose first entry is the next hop.
    d.set_route_set(["<sip:bob@192.0.2.9:5090;lr>"]);
    assert_eq!(d.next_hop(), "sip:bob@192.0.2.9:5090;lr");
    assert_eq!(d.next_hop_addr(|_| None), None);
}

#[test]
fn rfc3261_12_1_1_uas_local_header_gets_our_tag_once() {
    let d = Dialog::from_uas_request(&invite(), "314159").unwrap();
    assert_eq!(
        d.local_header(),
        "Bob <sip:bob@biloxi.example.com>;tag=314159"
    );
    assert_eq!(
        d.remote_header(),
        "\"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl"
    );
    assert_eq!(d.call_id(), "3848276298220188511@atlanta.example.com");
    // A request whose To already has a tag keeps it as it is.
    let mut tagged = invite();
    tagged.set_header(
        HeaderName::To,
        "Bob <sip:bob@biloxi.example.com>;tag=314159",
    );
    let d = Dialog::from_uas_request(&tagged, "314159").unwrap();
    assert_eq!(
        d.local_header(),
        "Bob <sip:bob@biloxi.example.com>;tag=314159"
    );
}

/// RFC 3261 section 12.1.2: the 2xx confirming an early dialog sets the
/// remote target from its Contact, whether it repeats the 1xx's Contact
/// (recognized without decoding it) or names another URI, with or without
/// parameters and further values on the line.
#[test]
fn rfc3261_12_1_2_confirming_2xx_sets_the_remote_target() {
    let mut ringing = ok_200();
    ringing.set_status(180, "Ringing");
    for (contact, target) in [
        (
            "<sip:bob@client.biloxi.example.com>",
            "sip:bob@client.biloxi.example.com",
        ),
        ("<sip:bob@192.0.2.4>;expires=60", "sip:bob@192.0.2.4"),
        (
            "<sip:bob@client.biloxi.example.com>, <sip:x@192.0.2.5>",
            "sip:bob@client.biloxi.example.com",
        ),
        ("Bob <sip:bob@192.0.2.6:5070>", "sip:bob@192.0.2.6:5070"),
    ] {
        let mut d = Dialog::from_uac_response(&invite(), &ringing).unwrap();
        assert_eq!(d.phase, Phase::Early);
        let mut ok = ok_200();
        ok.set_header(HeaderName::Contact, contact);
        d.confirm_with(&ok);
        assert_eq!(d.phase, Phase::Confirmed);
        assert_eq!(d.remote_target(), target, "{contact}");
    }
}

/// `write_request` (the ACK written straight to bytes) says what
/// `create_request` builds, loose and strict routing alike (RFC 3261
/// sections 12.2.1.1 and 13.2.2.4).
#[test]
fn rfc3261_13_2_2_4_written_ack_equals_the_built_one() {
    let via = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKack1;rport";
    let mut d = Dialog::from_uac_response(&invite(), &ok_200()).unwrap();
    for strict in [false, true] {
        if strict {
            d.set_route_set(["<sip:strict.example.com>", "<sip:p2.example.com;lr>"]);
        }
        let mut built = d.create_request(Method::Ack, Some(1));
        built.push_front_header(HeaderName::Via, via);
        let mut out = Vec::new();
        d.write_request(&Method::Ack, 1, &[via], &mut out);
        out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        let written = Message::parse(&out).unwrap();
        assert_eq!(
            written.request_uri(),
            built.request_uri(),
            "strict: {strict}"
        );
        for name in [
            HeaderName::Via,
            HeaderName::Route,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ] {
            let w: Vec<&str> = written.headers(&name).collect();
            let b: Vec<&str> = built.headers(&name).collect();
            assert_eq!(w, b, "{name:?}, strict: {strict}");
        }
        assert_eq!(written.header(&HeaderName::CSeq), Some("1 ACK"));
    }
    // Building the ACK with the INVITE's number (section 13.2.2.4) takes
    // no new one: `create_request` would have advanced it with `None`.
    assert_eq!(d.local_seq, 1);
}
