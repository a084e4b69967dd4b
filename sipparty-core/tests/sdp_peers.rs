//! Session descriptions as real peers send them (baresip, Asterisk, PJSIP, a
//! WebRTC browser, an SDES-SRTP phone, an old LF-only device), written for
//! these tests after those peers' usual output. Each must round-trip byte
//! for byte and be answered (or refused) the way the peer expects.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sipparty_core::sdp::{
    parse, Candidate, Direction, MediaCapabilities, NegotiationError, Negotiator, Sdp,
    SdpErrorKind, SdpLimits, Setup, TypedAttribute,
};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/sdp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bob() -> Negotiator {
    Negotiator::new(
        MediaCapabilities::default_audio(),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        40000,
        0x1234,
    )
}

/// Parses strictly (or leniently), checks both round trips, and returns
/// the answer the default audio party gives.
fn round_trip(name: &str, limits: SdpLimits) -> Vec<u8> {
    let bytes = data(name);
    let view = parse(&bytes, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    view.write_to(&mut out);
    assert_eq!(out, bytes, "{name}: borrowed round trip");
    let owned = Sdp::parse_with(&bytes, &limits).unwrap();
    assert_eq!(owned.to_bytes(), bytes, "{name}: owned round trip");
    // Every known attribute decodes.
    for m in view.media() {
        for a in m.typed_attributes() {
            a.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    drop(view);
    bytes
}

fn answer_text(answer: &Sdp) -> String {
    let bytes = answer.to_bytes();
    // Our answers always parse strictly.
    parse(&bytes, &SdpLimits::default()).expect("answer parses strictly");
    String::from_utf8(bytes).unwrap()
}

#[test]
fn baresip_opus_offer() {
    let offer = round_trip("baresip_offer.sdp", SdpLimits::default());
    let (answer, session) = bob().accept_offer(&offer).unwrap();
    let s = &session.streams[0];
    // opus first in the offer, under baresip's payload type 96.
    assert_eq!(
        (
            s.codec.name.as_str(),
            s.codec.payload_type,
            s.codec.channels
        ),
        ("opus", 96, 2)
    );
    assert_eq!(s.codec.fmtp.as_deref(), Some("stereo=1;sprop-stereo=1"));
    assert_eq!(s.telephone_event_pt, Some(101));
    assert_eq!(
        s.remote_rtp,
        Some(SocketAddr::from(([192, 0, 2, 55], 10006)))
    );
    let text = answer_text(&answer);
    assert!(
        text.contains("m=audio 40000 RTP/AVP 96 0 8 101\r\n"),
        "{text}"
    );
    assert!(text.contains("a=fmtp:101 0-15\r\n"), "{text}");
}

#[test]
fn asterisk_offer_and_hold() {
    let offer = round_trip("asterisk_offer.sdp", SdpLimits::default());
    let mut bob = bob();
    let (answer, session) = bob.accept_offer(&offer).unwrap();
    assert_eq!(session.streams[0].codec.name, "PCMU");
    assert_eq!(session.streams[0].ptime, 20);
    let text = answer_text(&answer);
    // GSM is not ours: the answer lists only common codecs.
    assert!(text.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"), "{text}");
    let v1 = answer.origin().unwrap().session_version;
    // The same offer again (a session refresh): same answer, same version.
    let (again, _) = bob.accept_offer(&offer).unwrap();
    assert_eq!(again.to_bytes(), answer.to_bytes());
    // Asterisk puts us on hold with sendonly: we answer recvonly, version + 1.
    let hold = round_trip("asterisk_hold_reinvite.sdp", SdpLimits::default());
    let (answer, session) = bob.accept_offer(&hold).unwrap();
    assert_eq!(session.streams[0].direction, Direction::RecvOnly);
    assert!(answer_text(&answer).contains("a=recvonly\r\n"));
    assert_eq!(answer.origin().unwrap().session_version, v1 + 1);
}

#[test]
fn pjsip_offer_with_media_level_connection_and_rtcp() {
    let offer = round_trip("pjsip_offer.sdp", SdpLimits::default());
    let view = parse(&offer, &SdpLimits::default()).unwrap();
    assert_eq!(view.connection(), None);
    assert_eq!(
        view.bandwidths().next().map(|b| (b.bwtype, b.bandwidth)),
        Some(("AS", 84))
    );
    let (_, session) = bob().accept_offer(&offer).unwrap();
    let s = &session.streams[0];
    // speex is not ours; G722 is the first common codec.
    assert_eq!((s.codec.name.as_str(), s.codec.payload_type), ("G722", 9));
    // telephone-event at G722's RTP clock (8000), not the 16000 one.
    assert_eq!(s.telephone_event_pt, Some(102));
    assert_eq!(
        s.remote_rtp,
        Some(SocketAddr::from(([192, 0, 2, 40], 4000)))
    );
    assert_eq!(
        s.remote_rtcp,
        Some(SocketAddr::from(([192, 0, 2, 40], 4001)))
    );
}

#[test]
fn webrtc_browser_offer_is_parsed_and_refused() {
    let offer = round_trip("webrtc_browser_offer.sdp", SdpLimits::default());
    let view = parse(&offer, &SdpLimits::default()).unwrap();
    let group = view
        .attributes()
        .find(|a| a.is("group"))
        .unwrap()
        .typed()
        .unwrap();
    assert!(
        matches!(group, TypedAttribute::Group(g) if g.semantics == "BUNDLE" && g.mids().eq(["0", "1"]))
    );
    let audio = view.media_at(0).unwrap();
    assert_eq!(audio.proto(), "UDP/TLS/RTP/SAVPF");
    assert_eq!(audio.mid(), Some("0"));
    assert!(audio.has_attribute("rtcp-mux"));
    assert_eq!(
        audio.typed_attribute("setup"),
        Some(TypedAttribute::Setup(Setup::ActPass))
    );
    let candidates: Vec<Candidate<'_>> = audio
        .typed_attributes()
        .filter_map(|t| match t {
            Ok(TypedAttribute::Candidate(c)) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(candidates.len(), 2);
    assert_eq!(
        (candidates[1].typ, candidates[1].related_port),
        ("srflx", Some(46243))
    );
    assert!(
        matches!(audio.typed_attribute("extmap"), Some(TypedAttribute::ExtMap(e)) if e.id == 1)
    );
    assert_eq!(
        audio
            .rtpmap(111)
            .map(|r| (r.encoding, r.clock_rate, r.channels)),
        Some(("opus", 48000, Some(2)))
    );
    let video = view.media_at(1).unwrap();
    assert_eq!(video.fmtp("97").and_then(|f| f.param("apt")), Some("96"));
    // DTLS-SRTP is not something a plain RTP party can do: 488.
    let e = bob().accept_offer(&offer).unwrap_err();
    assert_eq!((e, e.status()), (NegotiationError::NoAcceptedStream, 488));
}

#[test]
fn sdes_srtp_offer_is_refused() {
    let offer = round_trip("sdes_srtp_offer.sdp", SdpLimits::default());
    let view = parse(&offer, &SdpLimits::default()).unwrap();
    let crypto = view.media_at(0).unwrap().typed_attribute("crypto");
    assert!(
        matches!(crypto, Some(TypedAttribute::Crypto(c)) if c.suite == "AES_CM_128_HMAC_SHA1_80")
    );
    assert_eq!(bob().accept_offer(&offer).unwrap_err().status(), 488);
}

#[test]
fn old_gear_lf_without_session_name() {
    let offer = data("old_gear_lf.sdp");
    // Strict mode refuses the bare LF on line 1; lenient accepts all of it.
    let e = parse(&offer, &SdpLimits::default()).unwrap_err();
    assert_eq!((e.line, e.kind), (1, SdpErrorKind::BareLineFeed));
    round_trip("old_gear_lf.sdp", SdpLimits::lenient());
    // The negotiator is lenient with remote descriptions.
    let (answer, session) = bob().accept_offer(&offer).unwrap();
    assert_eq!(session.streams[0].codec.name, "PCMU");
    assert!(answer_text(&answer).contains("m=audio 40000 RTP/AVP 0\r\n"));
}
