//! Table tests with the example messages of RFC 3261 section 24 and the
//! RFC 3665 basic call flows (registration with digest, session
//! establishment), one test per section. Each message must parse, pass the
//! UAS checks, decode to the values the flow shows, serialize back byte for
//! byte, and responses built with `response_to` must carry the request's
//! Via, From, To, Call-ID and CSeq.

use sipparty_core::message::{HeaderName, Message, Method};

/// LF-separated text to a CRLF message; `Content-Length: *` is filled in
/// from the body.
fn wire(text: &str) -> Vec<u8> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let body = if body.is_empty() {
        String::new()
    } else {
        body.replace('\n', "\r\n")
    };
    let head = head.replace(
        "Content-Length: *",
        &format!("Content-Length: {}", body.len()),
    );
    let mut m = head.replace('\n', "\r\n").into_bytes();
    m.extend_from_slice(b"\r\n\r\n");
    m.extend_from_slice(body.as_bytes());
    m
}

/// The To tag of a message.
fn to_tag(m: &Message) -> Option<&str> {
    m.to_header().unwrap().unwrap().tag()
}

fn check(raw: &[u8]) -> Message {
    let m = Message::parse(raw).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(raw)));
    m.validate()
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(raw)));
    assert_eq!(m.to_bytes(), raw, "lossless");
    m
}

/// The dialog-identifying headers of a response equal the request's.
fn answers(response: &Message, request: &Message) {
    assert_eq!(response.call_id(), request.call_id());
    assert_eq!(response.cseq(), request.cseq());
    assert_eq!(
        response.from_header().unwrap().unwrap().tag(),
        request.from_header().unwrap().unwrap().tag()
    );
    let rv: Vec<_> = response
        .vias()
        .map(|v| v.unwrap().branch().map(str::to_owned))
        .collect();
    let qv: Vec<_> = request
        .vias()
        .map(|v| v.unwrap().branch().map(str::to_owned))
        .collect();
    assert_eq!(rv, qv);
}

const SDP_ALICE: &str = "v=0\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\ns=-\nc=IN IP4 pc33.atlanta.com\nt=0 0\nm=audio 49172 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

/// RFC 3261 section 24.1: Bob registers with his registrar.
#[test]
fn rfc3261_24_1_registration() {
    let f1 = check(&wire(
        "REGISTER sip:registrar.biloxi.com SIP/2.0
Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Bob <sip:bob@biloxi.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
Contact: <sip:bob@192.0.2.4>
Expires: 7200
Content-Length: 0",
    ));
    assert_eq!(f1.method(), Some(&Method::Register));
    assert_eq!(f1.expires(), Some(Ok(7200)));
    assert_eq!(f1.top_via().unwrap().unwrap().port, Some(5060));
    assert_eq!(
        f1.contacts()
            .next()
            .unwrap()
            .unwrap()
            .address()
            .unwrap()
            .uri()
            .host,
        "192.0.2.4"
    );

    let f2 = check(&wire(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7;received=192.0.2.4
To: Bob <sip:bob@biloxi.com>;tag=2493k59kd
From: Bob <sip:bob@biloxi.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
Contact: <sip:bob@192.0.2.4>
Expires: 7200
Content-Length: 0",
    ));
    answers(&f2, &f1);
    assert_eq!(to_tag(&f2), Some("2493k59kd"));
    let built = Message::response_to(&f1, 200, Some("2493k59kd"));
    answers(&built, &f1);
    assert_eq!(to_tag(&built), Some("2493k59kd"));
}

/// RFC 3261 section 24.2: the session setup through two proxies (F1
/// INVITE, F2 100, F3 proxied INVITE, F8 180, F11 200, F12 ACK, F13 BYE,
/// F14 200).
#[test]
fn rfc3261_24_2_session_setup() {
    let f1 = check(&wire(&format!(
        "INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.com>
Content-Type: application/sdp
Content-Length: *

{SDP_ALICE}"
    )));
    assert!(f1.content_type().unwrap().unwrap().is_sdp());
    assert_eq!(f1.body().len(), SDP_ALICE.len() + 7, "CRLF line ends");

    let f2 = check(&wire(
        "SIP/2.0 100 Trying
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Content-Length: 0",
    ));
    answers(&f2, &f1);
    assert_eq!(to_tag(&f2), None);

    let f3 = check(&wire(&format!(
        "INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1
Max-Forwards: 69
Record-Route: <sip:bigbox3.site3.atlanta.com;lr>
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.com>
Content-Type: application/sdp
Content-Length: *

{SDP_ALICE}"
    )));
    // What the atlanta proxy did to F1 to get F3 (RFC 3261 section 16.6).
    let mut proxied = f1.clone();
    proxied.set_header(HeaderName::MaxForwards, "69");
    proxied.push_front_header(
        HeaderName::RecordRoute,
        "<sip:bigbox3.site3.atlanta.com;lr>",
    );
    proxied.remove_first_header(&HeaderName::Via);
    proxied.push_front_header(
        HeaderName::Via,
        "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1",
    );
    proxied.push_front_header(
        HeaderName::Via,
        "SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1",
    );
    assert_eq!(proxied.vias().count(), 2);
    assert_eq!(proxied.max_forwards(), Some(Ok(69)));
    assert!(proxied.record_routes().next().unwrap().unwrap().uri().lr());
    assert_eq!(proxied.body(), f3.body());

    let f8 = check(&wire(
        "SIP/2.0 180 Ringing
Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1
Record-Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
Contact: <sip:bob@192.0.2.4>
CSeq: 314159 INVITE
Content-Length: 0",
    ));
    let vias: Vec<_> = f8
        .vias()
        .map(|v| v.unwrap().received().unwrap().to_owned())
        .collect();
    assert_eq!(vias, ["192.0.2.3", "192.0.2.2", "192.0.2.1"]);
    let rr: Vec<_> = f8.record_routes().map(|r| r.unwrap().uri().host).collect();
    assert_eq!(rr, ["server10.biloxi.com", "bigbox3.site3.atlanta.com"]);
    assert_eq!(
        f8.headers(&HeaderName::RecordRoute).count(),
        1,
        "one line, two elements"
    );

    let f11 = check(&wire(&format!(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1
Record-Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>
Content-Type: application/sdp
Content-Length: *

{SDP_ALICE}"
    )));
    answers(&f11, &f1);

    let f12 = check(&wire(
        "ACK sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds9
Route: <sip:bigbox3.site3.atlanta.com;lr>, <sip:server10.biloxi.com;lr>
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 ACK
Content-Length: 0",
    ));
    assert_eq!(f12.method(), Some(&Method::Ack));
    assert_eq!(f12.routes().count(), 2);
    assert_eq!(f12.cseq().unwrap().unwrap().seq, 314159);

    let f13 = check(&wire(
        "BYE sip:alice@pc33.atlanta.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10
Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>
Max-Forwards: 70
From: Bob <sip:bob@biloxi.com>;tag=a6c85cf
To: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 231 BYE
Content-Length: 0",
    ));
    let f14 = Message::response_to(&f13, 200, None);
    answers(&f14, &f13);
    let f14 = check(&f14.to_bytes());
    assert_eq!(f14.reason(), Some("OK"));
    assert_eq!(to_tag(&f14), Some("1928301774"));
}

/// RFC 3665 section 2.1: successful new registration with a digest
/// challenge; the auth headers stay whole for the auth layer.
#[test]
fn rfc3665_2_1_successful_new_registration() {
    let f1 = check(&wire(
        "REGISTER sips:ss2.biloxi.example.com SIP/2.0
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
Max-Forwards: 70
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Contact: <sips:bob@client.biloxi.example.com>
Content-Length: 0",
    ));
    assert_eq!(f1.top_via().unwrap().unwrap().transport, "TLS");
    let f2 = check(&wire(
        "SIP/2.0 401 Unauthorized
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>;tag=1410948204
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm=\"atlanta.example.com\", qop=\"auth\",
 nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\",
 opaque=\"\", stale=FALSE, algorithm=MD5
Content-Length: 0",
    ));
    answers(&f2, &f1);
    let challenges: Vec<_> = f2.www_authenticate().collect();
    assert_eq!(challenges.len(), 1);
    assert!(challenges[0].starts_with("Digest realm=\"atlanta.example.com\""));
    assert!(challenges[0].ends_with("algorithm=MD5"));
    assert_eq!(
        f2.header_values(&HeaderName::WwwAuthenticate).count(),
        1,
        "never comma-split"
    );

    let f3 = check(&wire(
        "REGISTER sips:ss2.biloxi.example.com SIP/2.0
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92
Max-Forwards: 70
From: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH
To: Bob <sips:bob@biloxi.example.com>
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 2 REGISTER
Contact: <sips:bob@client.biloxi.example.com>
Authorization: Digest username=\"bob\", realm=\"atlanta.example.com\",
 nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\",
 uri=\"sips:ss2.biloxi.example.com\",
 response=\"dfe56131d1958046689d83306477ecc\"
Content-Length: 0",
    ));
    assert_eq!(f3.cseq().unwrap().unwrap().seq, 2);
    assert!(f3
        .authorization()
        .next()
        .unwrap()
        .contains("response=\"dfe56131d1958046689d83306477ecc\""));

    let f4 = check(&wire(
        "SIP/2.0 200 OK
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH
To: Bob <sips:bob@biloxi.example.com>;tag=37GkEhwl6
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 2 REGISTER
Contact: <sips:bob@client.biloxi.example.com>;expires=3600
Content-Length: 0",
    ));
    answers(&f4, &f3);
    assert_eq!(f4.contacts().next().unwrap().unwrap().expires(), Some(3600));
}

/// RFC 3665 section 3.1: successful session establishment (INVITE, 180,
/// 200, ACK, BYE, 200), each response built from its request.
#[test]
fn rfc3665_3_1_successful_session_establishment() {
    let f1 = check(&wire(&format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>
Content-Type: application/sdp
Content-Length: *

{SDP_ALICE}"
    )));
    let contact = f1.contacts().next().unwrap().unwrap();
    assert_eq!(
        contact.address().unwrap().uri().transport_param(),
        Some("tcp")
    );

    // Bob's responses: his tag and his TCP contact.
    let from_bob = |status: u16, sdp: Option<&str>| {
        let mut r = Message::response_to(&f1, status, Some("8321234356"));
        r.add_header(
            HeaderName::Contact,
            "<sip:bob@client.biloxi.example.com;transport=tcp>",
        );
        if let Some(sdp) = sdp {
            r.set_body(Some("application/sdp"), sdp.as_bytes());
        }
        check(&r.to_bytes())
    };
    let f2 = from_bob(180, None);
    answers(&f2, &f1);
    assert_eq!(f2.reason(), Some("Ringing"));

    let f3 = from_bob(200, Some(SDP_ALICE));
    answers(&f3, &f1);
    assert_eq!(f3.body(), SDP_ALICE.as_bytes());

    let f4 = check(&wire(
        "ACK sip:bob@client.biloxi.example.com SIP/2.0
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bd5
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag=8321234356
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 ACK
Content-Length: 0",
    ));
    assert_eq!(to_tag(&f4), to_tag(&f3));

    let f5 = check(&wire(
        "BYE sip:alice@client.atlanta.example.com SIP/2.0
Via: SIP/2.0/TCP client.biloxi.example.com:5060;branch=z9hG4bKnashds7
Max-Forwards: 70
From: Bob <sip:bob@biloxi.example.com>;tag=8321234356
To: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 BYE
Content-Length: 0",
    ));
    let f6 = check(&Message::response_to(&f5, 200, None).to_bytes());
    answers(&f6, &f5);
}
