//! RFC 8866 grammar coverage, the owned builder, limits and overflow, and
//! the negotiator's state rules (RFC 3264 s.8 versions, rollback, glare).

use std::net::{IpAddr, Ipv4Addr};

use sipparty_core::sdp::{
    parse, Codec, Direction, LineEnding, Media, MediaCapabilities, NegotiationError, Negotiator,
    Sdp, SdpErrorKind, SdpLimits, TypedAttribute,
};

fn crlf(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s.into_bytes()
}

fn every_line_type() -> Vec<u8> {
    crlf(&[
        "v=0",
        "o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1",
        "s=Call to John Smith",
        "i=SDP Offer #1",
        "u=http://www.jdoe.example.com/home.html",
        "e=Jane Doe <jane@jdoe.example.com>",
        "p=+1 617 555-6011",
        "c=IN IP4 198.51.100.1",
        "b=CT:128",
        "t=3724394400 3724398000",
        "r=604800 3600 0 90000",
        "r=7d 1h 0 25h",
        "t=3724484400 0",
        "z=2882844526 -1h 2898848070 0",
        "k=prompt",
        "a=recvonly",
        "m=audio 49170 RTP/AVP 0",
        "i=voice",
        "c=IN IP4 233.252.0.1/127/2",
        "c=IN IP4 233.252.0.3/127",
        "b=AS:64",
        "k=clear:secret",
        "a=rtpmap:0 PCMU/8000",
        "m=video 51372/2 RTP/AVP 99",
        "c=IN IP6 2001:db8::1",
        "a=rtpmap:99 h263-1998/90000",
        "m=application 5000 udp wb",
        "c=IN IP4 wb.example.com",
        "a=orient:portrait",
        "m=audio 4000 TCP/RTP/AVP 0",
        "x=an unknown line type, kept",
    ])
}

#[test]
fn rfc8866_s5_every_line_type_round_trips() {
    let bytes = every_line_type();
    let d = parse(&bytes, &SdpLimits::default()).unwrap();
    let o = d.origin();
    assert_eq!(
        (o.username, o.session_id, o.session_version, o.address),
        ("jdoe", 3724394400, 3724394405, "198.51.100.1")
    );
    assert_eq!(d.session_name(), Some("Call to John Smith"));
    assert_eq!(
        d.timing().map(|t| (t.start, t.stop)),
        Some((3724394400, 3724398000))
    );
    assert_eq!(d.session_lines().filter(|l| l.kind == b't').count(), 2);
    assert_eq!(d.session_lines().filter(|l| l.kind == b'r').count(), 2);
    assert_eq!(d.media_count(), 4);
    let audio = d.media_at(0).unwrap();
    // The first media-level c= wins over the session's; multicast TTL and count.
    let c = audio.connection().unwrap();
    assert_eq!(
        (c.address, c.ttl, c.count),
        ("233.252.0.1", Some(127), Some(2))
    );
    assert_eq!(audio.lines().filter(|l| l.kind == b'c').count(), 2);
    assert_eq!(audio.effective_direction(), Direction::RecvOnly);
    let video = d.media_at(1).unwrap();
    assert_eq!(
        (video.port(), video.media_line().port_count),
        (51372, Some(2))
    );
    assert!(video.connection().unwrap().ip().unwrap().is_ipv6());
    let app = d.media_at(2).unwrap();
    assert_eq!(
        (app.proto(), app.formats().collect::<Vec<_>>()),
        ("udp", vec!["wb"])
    );
    assert!(!app.media_line().is_rtp());
    assert_eq!(app.connection().unwrap().ip(), None);
    let tcp = d.media_at(3).unwrap();
    assert!(tcp.media_line().is_rtp());
    assert_eq!(
        tcp.lines().next_back().map(|l| (l.kind, l.value)),
        Some((b'x', "an unknown line type, kept"))
    );
    // Lossless, borrowed and owned.
    let mut out = Vec::new();
    d.write_to(&mut out);
    assert_eq!(out, bytes);
    assert_eq!(Sdp::parse(&bytes).unwrap().to_bytes(), bytes);
}

#[test]
fn rfc8866_s9_grammar_order_is_strict_by_default() {
    // a= before c= at session level, and k= after a= in a media section.
    let cases = [
        (
            crlf(&[
                "v=0",
                "o=- 1 1 IN IP4 h",
                "s=-",
                "a=x",
                "c=IN IP4 192.0.2.1",
                "t=0 0",
            ]),
            5,
        ),
        (
            crlf(&[
                "v=0",
                "o=- 1 1 IN IP4 h",
                "s=-",
                "c=IN IP4 192.0.2.1",
                "t=0 0",
                "m=audio 1 RTP/AVP 0",
                "a=x",
                "k=prompt",
            ]),
            8,
        ),
        (
            crlf(&["v=0", "o=- 1 1 IN IP4 h", "s=-", "s=again", "t=0 0"]),
            4,
        ),
        (
            crlf(&[
                "v=0",
                "o=- 1 1 IN IP4 h",
                "s=-",
                "c=IN IP4 192.0.2.1",
                "r=1 1 0",
                "t=0 0",
            ]),
            5,
        ),
    ];
    for (bytes, line) in cases {
        let e = parse(&bytes, &SdpLimits::default()).unwrap_err();
        assert_eq!(e.line, line, "{}", String::from_utf8_lossy(&bytes));
        assert!(matches!(e.kind, SdpErrorKind::UnexpectedLine(_)), "{e}");
    }
    // Lenient mode takes the first two (real peers do this).
    assert!(parse(
        &crlf(&[
            "v=0",
            "o=- 1 1 IN IP4 h",
            "s=-",
            "a=x",
            "c=IN IP4 192.0.2.1",
            "t=0 0"
        ]),
        &SdpLimits::lenient()
    )
    .is_ok());
}

#[test]
fn huge_numbers_are_errors_not_overflows() {
    let base = [
        "v=0",
        "o=- 1 1 IN IP4 h",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
    ];
    let with = |extra: &str| {
        let mut l = base.to_vec();
        l.push(extra);
        crlf(&l)
    };
    for (line, kind) in [
        ("m=audio 4294967296 RTP/AVP 0", SdpErrorKind::InvalidNumber),
        ("m=audio 65536 RTP/AVP 0", SdpErrorKind::InvalidNumber),
        (
            "m=audio 5000/99999999999 RTP/AVP 0",
            SdpErrorKind::InvalidNumber,
        ),
        ("m=audio -1 RTP/AVP 0", SdpErrorKind::InvalidNumber),
        ("b=AS:184467440737095516160", SdpErrorKind::InvalidNumber),
    ] {
        let e = parse(&with(line), &SdpLimits::lenient()).unwrap_err();
        assert_eq!((e.line, e.kind), (6, kind), "{line}");
    }
    let o = crlf(&[
        "v=0",
        "o=- 99999999999999999999999 1 IN IP4 h",
        "s=-",
        "t=0 0",
    ]);
    assert_eq!(
        parse(&o, &SdpLimits::default()).unwrap_err().kind,
        SdpErrorKind::InvalidNumber
    );
    // A format of 4294967296 parses (formats are tokens) but never decodes
    // as a payload type: typed access says so, with the line number.
    let b = with("m=audio 5000 RTP/AVP 4294967296 0");
    let mut b = b;
    b.extend_from_slice(b"a=rtpmap:4294967296 PCMU/8000\r\n");
    let d = parse(&b, &SdpLimits::default()).unwrap();
    let m = d.media_at(0).unwrap();
    let e = m.attribute("rtpmap").unwrap().typed().unwrap_err();
    assert_eq!((e.line, e.kind), (7, SdpErrorKind::InvalidPayloadType));
    // And negotiation skips it and picks PCMU.
    let mut n = Negotiator::new(
        MediaCapabilities::default_audio(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        4000,
        1,
    );
    let (_, s) = n.accept_offer(&b).unwrap();
    assert_eq!(s.streams[0].codec.payload_type, 0);
}

#[test]
fn owned_edits_touch_only_their_lines() {
    let bytes = every_line_type();
    let mut sdp = Sdp::parse(&bytes).unwrap();
    sdp.media_mut()[1].set_port(0);
    sdp.media_mut()[0].set_direction(Direction::Inactive);
    sdp.set_session_version(3724394406);
    let out = String::from_utf8(sdp.to_bytes()).unwrap();
    let before = String::from_utf8(bytes).unwrap();
    // Only the edited lines differ; every other byte is as parsed.
    let expected = before
        .replace("3724394400 3724394405", "3724394400 3724394406")
        .replace(
            "a=rtpmap:0 PCMU/8000\r\n",
            "a=rtpmap:0 PCMU/8000\r\na=inactive\r\n",
        )
        .replace("m=video 51372/2 ", "m=video 0/2 ");
    assert_eq!(out, expected);
    // set_direction on a section without one appends a=inactive; the
    // session-level a=recvonly stays.
    assert_eq!(sdp.media()[0].direction(), Some(Direction::Inactive));
    assert_eq!(sdp.direction(), Some(Direction::RecvOnly));
    let reparsed = parse(out.as_bytes(), &SdpLimits::default()).unwrap();
    assert_eq!(reparsed.media_at(1).unwrap().port(), 0);
}

#[test]
fn builder_writes_canonical_lines_in_grammar_order() {
    let mut sdp = Sdp::new(7, 8, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)));
    sdp.set_session_name("talk");
    sdp.push_attribute("tool", Some("sipparty"));
    let mut m = Media::new("audio", 4000, "RTP/AVP", &["0"]);
    m.push_rtpmap(0, "PCMU", 8000, None);
    m.push_ptime(20);
    m.set_direction(Direction::SendOnly);
    m.set_direction(Direction::RecvOnly);
    m.set_connection("2001:db8::7".parse().unwrap());
    sdp.push_media(m);
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert_eq!(
        text,
        "v=0\r\no=- 7 8 IN IP4 192.0.2.9\r\ns=talk\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\na=tool:sipparty\r\n\
         m=audio 4000 RTP/AVP 0\r\nc=IN IP6 2001:db8::7\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=recvonly\r\n"
    );
    let d = parse(text.as_bytes(), &SdpLimits::default()).unwrap();
    assert_eq!(d.media_at(0).unwrap().ptime(), Some(20));
    assert!(d.lines().all(|l| l.ending == LineEnding::CrLf));
    assert_eq!(Sdp::from_view(&d), sdp);
}

fn ip(d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, d))
}

fn audio(codecs: Vec<Codec>) -> MediaCapabilities {
    MediaCapabilities {
        audio: codecs,
        ..MediaCapabilities::default_audio()
    }
}

#[test]
fn rfc3264_s8_version_changes_only_with_the_description() {
    let mut alice = Negotiator::new(MediaCapabilities::default_audio(), ip(1), 4000, 100);
    let mut bob = Negotiator::new(MediaCapabilities::default_audio(), ip(2), 6000, 200);
    let o1 = alice.create_offer();
    let (a1, _) = bob.accept_offer(&o1.to_bytes()).unwrap();
    alice.accept_answer(&a1.to_bytes()).unwrap();
    // A session refresh re-offer that changes nothing keeps the version.
    let o2 = alice.create_offer();
    assert_eq!(
        o2.origin().unwrap().session_version,
        o1.origin().unwrap().session_version
    );
    assert_eq!(o2.to_bytes(), o1.to_bytes());
    let (a2, _) = bob.accept_offer(&o2.to_bytes()).unwrap();
    assert_eq!(
        a2.origin().unwrap().session_version,
        a1.origin().unwrap().session_version
    );
    alice.accept_answer(&a2.to_bytes()).unwrap();
    // A change bumps it by exactly one.
    let o3 = alice.create_offer_with_direction(Direction::Inactive);
    assert_eq!(
        o3.origin().unwrap().session_version,
        o1.origin().unwrap().session_version + 1
    );
}

#[test]
fn rollback_restores_version_and_direction() {
    let mut alice = Negotiator::new(MediaCapabilities::default_audio(), ip(1), 4000, 100);
    let mut bob = Negotiator::new(MediaCapabilities::default_audio(), ip(2), 6000, 200);
    let o1 = alice.create_offer();
    let (a1, _) = bob.accept_offer(&o1.to_bytes()).unwrap();
    let before = alice.accept_answer(&a1.to_bytes()).unwrap();
    let v = alice.session_version();
    let hold = alice.create_offer_with_direction(Direction::SendOnly);
    assert_eq!(hold.origin().unwrap().session_version, v + 1);
    // Bob's own re-INVITE crossed ours: glare, 491 from Bob's side...
    let _bob_offer = bob.create_offer();
    let e = bob.accept_offer(&hold.to_bytes()).unwrap_err();
    assert_eq!((e, e.status()), (NegotiationError::OfferPending, 491));
    // ...and from ours: roll back.
    alice.rollback();
    assert!(!alice.has_pending_offer());
    assert_eq!(
        (alice.session_version(), alice.direction()),
        (v, Direction::SendRecv)
    );
    assert_eq!(alice.current(), Some(&before));
    assert_eq!(
        alice.accept_answer(&a1.to_bytes()).unwrap_err(),
        NegotiationError::NoPendingOffer
    );
    // The next offer is the old description again, same version.
    assert_eq!(alice.create_offer().to_bytes(), o1.to_bytes());
}

#[test]
fn answers_that_break_rfc3264_are_refused_or_sanitised() {
    let mut alice = Negotiator::new(audio(vec![Codec::pcmu()]), ip(1), 4000, 100);
    let offer = alice.create_offer().to_bytes();
    // An answer with two m= lines to our one.
    let two = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.2",
        "s=-",
        "c=IN IP4 192.0.2.2",
        "t=0 0",
        "m=audio 6000 RTP/AVP 0",
        "m=audio 6002 RTP/AVP 0",
    ]);
    assert_eq!(
        alice.accept_answer(&two).unwrap_err(),
        NegotiationError::MediaCountMismatch {
            offer: 1,
            answer: 2
        }
    );
    assert!(alice.has_pending_offer());
    // An answer that adds a codec we did not offer: the codec is ignored.
    let added = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.2",
        "s=-",
        "c=IN IP4 192.0.2.2",
        "t=0 0",
        "m=audio 6000 RTP/AVP 8 0",
        "a=rtpmap:8 PCMA/8000",
    ]);
    let s = alice.accept_answer(&added).unwrap();
    assert_eq!(s.streams[0].codec.name, "PCMU");
    let _ = offer;
}

#[test]
fn codecs_match_by_name_case_insensitively_rate_and_channels() {
    let offer = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
        "m=audio 4000 RTP/AVP 96 97 98 101",
        "a=rtpmap:96 OPUS/48000/1",
        "a=rtpmap:97 opus/48000",
        "a=rtpmap:98 Opus/48000/2",
        "a=rtpmap:101 TELEPHONE-EVENT/8000",
        "a=ptime:30",
    ]);
    let mut bob = Negotiator::new(audio(vec![Codec::opus()]), ip(2), 6000, 1);
    let (answer, s) = bob.accept_offer(&offer).unwrap();
    let st = &s.streams[0];
    // 96 and 97 are mono opus, not ours; 98 is; the offerer's number is kept.
    assert_eq!((st.codec.payload_type, st.codec.channels), (98, 2));
    // No fmtp for telephone-event means events 0-15 (RFC 4733 s.7.1.1).
    let text = String::from_utf8(answer.to_bytes()).unwrap();
    assert!(text.contains("m=audio 6000 RTP/AVP 98 101\r\n"), "{text}");
    assert!(text.contains("a=fmtp:101 0-15\r\n"), "{text}");
    assert_eq!((st.telephone_event_pt, st.ptime), (Some(101), 30));
    // Telephone-event events with no overlap are left out of the answer.
    let no_overlap = String::from_utf8(offer)
        .unwrap()
        .replace("a=ptime:30", "a=fmtp:101 200-210");
    let (answer, s) = bob.accept_offer(no_overlap.as_bytes()).unwrap();
    assert_eq!(s.streams[0].telephone_event_pt, None);
    assert!(!String::from_utf8(answer.to_bytes())
        .unwrap()
        .contains("telephone-event"));
}

#[test]
fn typed_attributes_on_owned_media() {
    let mut m = Media::new("audio", 4000, "RTP/AVP", &["0"]);
    m.push_attribute("rtcp", Some("4001 IN IP4 192.0.2.1"));
    m.push_attribute("rtcp-mux", None);
    m.push_attribute("mid", Some("a0"));
    m.push_attribute("maxptime", Some("60"));
    assert_eq!(m.rtcp().map(|r| r.port), Some(4001));
    assert!(m.has_attribute("RTCP-MUX"));
    assert_eq!((m.mid(), m.maxptime()), (Some("a0"), Some(60)));
    assert!(matches!(
        m.typed_attribute("mid"),
        Some(TypedAttribute::Mid("a0"))
    ));
}
