//! RFC 4317 (SDP offer/answer examples) and RFC 3264 section 10, each run
//! from both sides: the answerer's answer is produced by `create_answer` or
//! a `Negotiator` and compared with the RFC's answer in shape (m= lines,
//! accepted or rejected, formats and payload types, direction); the offerer
//! reads the RFC's answer with `process_answer` or `Negotiator`.
//!
//! The messages are written for these tests after the RFCs' flows; the
//! RFCs' FQDN hosts are replaced by documentation addresses (192.0.2.0/24)
//! so the remote RTP addresses can be checked. They are never sent anywhere.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sipparty_core::sdp::{
    create_answer, parse, process_answer, Codec, Direction, LocalMedia, MediaCapabilities,
    NegotiatedSession, NegotiationError, Negotiator, SdpLimits, SessionDescription,
};

const ALICE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);
const BOB: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 201);

fn sdp(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s.into_bytes()
}

fn view(b: &[u8]) -> SessionDescription<'_> {
    parse(b, &SdpLimits::default()).expect("example parses strictly")
}

/// (media, accepted, formats, direction) per m= line.
type Shape = Vec<(String, bool, Vec<String>, Direction)>;

fn shape(b: &[u8]) -> Shape {
    view(b)
        .media()
        .map(|m| {
            let accepted = m.port() != 0;
            (
                m.media().to_owned(),
                accepted,
                if accepted {
                    m.formats().map(str::to_owned).collect()
                } else {
                    Vec::new()
                },
                if accepted {
                    m.effective_direction()
                } else {
                    Direction::Inactive
                },
            )
        })
        .collect()
}

fn local(ip: Ipv4Addr, port: u16) -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(ip),
        rtp_port: port,
        session_id: 1,
        session_version: 1,
    }
}

fn caps(audio: Vec<Codec>, video: Vec<Codec>) -> MediaCapabilities {
    MediaCapabilities {
        audio,
        video,
        telephone_event: false,
        ptime: None,
        ..MediaCapabilities::default_audio()
    }
}

fn ilbc() -> Codec {
    Codec::new("iLBC", 8000, 1, 97)
}

fn h261() -> Codec {
    Codec::new("H261", 90000, 1, 31)
}

fn mpv() -> Codec {
    Codec::new("MPV", 90000, 1, 32)
}

fn addr(ip: Ipv4Addr, port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::new(IpAddr::V4(ip), port))
}

/// Runs one exchange from both sides: Bob's answer from `bob_caps` must have
/// the RFC answer's shape, and Alice's reading of the RFC answer is returned.
fn both_sides(offer: &[u8], rfc_answer: &[u8], bob_caps: &MediaCapabilities) -> NegotiatedSession {
    let (ours, bob_view) = create_answer(
        &view(offer),
        bob_caps,
        Direction::SendRecv,
        &local(BOB, 49170),
    )
    .expect("Bob accepts");
    let ours = ours.to_bytes();
    assert_eq!(
        shape(&ours),
        shape(rfc_answer),
        "Bob's answer:\n{}",
        String::from_utf8_lossy(&ours)
    );
    assert_eq!(bob_view.streams.len(), view(offer).media_count());
    process_answer(&view(offer), &view(rfc_answer), &local(ALICE, 49170)).expect("Alice accepts")
}

#[test]
fn rfc4317_s2_1_audio_and_video_1() {
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0 8 97",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:97 iLBC/8000",
        "m=video 51372 RTP/AVP 31 32",
        "a=rtpmap:31 H261/90000",
        "a=rtpmap:32 MPV/90000",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49174 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 49170 RTP/AVP 32",
        "a=rtpmap:32 MPV/90000",
    ]);
    let alice = both_sides(&offer, &answer, &caps(vec![Codec::pcmu()], vec![mpv()]));
    let [audio, video] = &alice.streams[..] else {
        panic!("two streams")
    };
    assert_eq!(
        (audio.codec.name.as_str(), audio.codec.payload_type),
        ("PCMU", 0)
    );
    assert_eq!(audio.remote_rtp, addr(BOB, 49174));
    assert_eq!(audio.remote_rtcp, addr(BOB, 49175));
    assert_eq!(
        (video.codec.name.as_str(), video.codec.payload_type),
        ("MPV", 32)
    );
    assert_eq!(video.remote_rtp, addr(BOB, 49170));
    // From Alice's side, her own offer is what create_offer makes from her codecs.
    let alice_caps = caps(
        vec![Codec::pcmu(), Codec::pcma(), ilbc()],
        vec![h261(), mpv()],
    );
    let made =
        sipparty_core::sdp::create_offer(&alice_caps, Direction::SendRecv, &local(ALICE, 49170));
    let mut expected = shape(&offer);
    for s in &mut expected {
        s.3 = Direction::SendRecv;
    }
    assert_eq!(shape(&made.to_bytes()), expected);
}

#[test]
fn rfc4317_s2_2_audio_and_video_2_video_rejected_then_one_codec() {
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0 8 97",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:97 iLBC/8000",
        "m=video 51372 RTP/AVP 31 32",
        "a=rtpmap:31 H261/90000",
        "a=rtpmap:32 MPV/90000",
    ]);
    // Bob has no video: the video stream is answered with port 0.
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49172 RTP/AVP 0 8",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "m=video 0 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
    ]);
    let alice = both_sides(
        &offer,
        &answer,
        &caps(vec![Codec::pcmu(), Codec::pcma()], vec![]),
    );
    assert_eq!(alice.streams[0].codec.name, "PCMU");
    assert!(alice.streams[1].rejected);
    assert_eq!(alice.streams[1].remote_rtp, None);
    // Alice settles on one codec in a second offer; the m=video line stays, port 0.
    let offer2 = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844527 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 8",
        "a=rtpmap:8 PCMA/8000",
        "m=video 0 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
    ]);
    let answer2 = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844565 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49172 RTP/AVP 8",
        "a=rtpmap:8 PCMA/8000",
        "m=video 0 RTP/AVP 31",
    ]);
    let alice = both_sides(
        &offer2,
        &answer2,
        &caps(vec![Codec::pcmu(), Codec::pcma()], vec![]),
    );
    assert_eq!(alice.streams[0].codec.payload_type, 8);
}

#[test]
fn rfc4317_s2_3_audio_and_video_3_audio_rejected() {
    // Bob only does video: the audio stream is rejected, video accepted.
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0 97",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:97 iLBC/8000",
        "m=video 51372 RTP/AVP 31 32",
        "a=rtpmap:31 H261/90000",
        "a=rtpmap:32 MPV/90000",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 0 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 49168 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
    ]);
    let alice = both_sides(&offer, &answer, &caps(vec![], vec![h261()]));
    assert!(alice.streams[0].rejected);
    assert_eq!(alice.streams[1].codec.name, "H261");
    assert_eq!(alice.streams[1].remote_rtp, addr(BOB, 49168));
}

#[test]
fn rfc4317_s2_4_two_audio_streams() {
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=audio 49172 RTP/AVP 97",
        "a=rtpmap:97 iLBC/8000",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49172 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=audio 49174 RTP/AVP 97",
        "a=rtpmap:97 iLBC/8000",
    ]);
    let alice = both_sides(&offer, &answer, &caps(vec![Codec::pcmu(), ilbc()], vec![]));
    assert_eq!(alice.streams[0].remote_rtp, addr(BOB, 49172));
    assert_eq!(alice.streams[1].remote_rtp, addr(BOB, 49174));
    assert_eq!(alice.streams[1].codec.name, "iLBC");
    // Bob's two streams get two local ports (m= index i uses base + 2i).
    let (_, bob) = create_answer(
        &view(&offer),
        &caps(vec![Codec::pcmu(), ilbc()], vec![]),
        Direction::SendRecv,
        &local(BOB, 6000),
    )
    .unwrap();
    assert_eq!(
        (bob.streams[0].local_port, bob.streams[1].local_port),
        (6000, 6002)
    );
}

#[test]
fn rfc4317_s2_5_audio_and_video_4_dynamic_payload_types_kept() {
    // The offerer's dynamic payload type numbers are kept by the answerer,
    // even where the answerer would have used another number itself.
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0 97",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:97 iLBC/8000",
        "m=video 51372 RTP/AVP 98",
        "a=rtpmap:98 H263-1998/90000",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49174 RTP/AVP 97",
        "a=rtpmap:97 iLBC/8000",
        "m=video 49170 RTP/AVP 98",
        "a=rtpmap:98 H263-1998/90000",
    ]);
    // Bob numbers iLBC 102 and H263-1998 120 himself.
    let bob_caps = caps(
        vec![Codec::new("ILBC", 8000, 1, 102)],
        vec![Codec::new("h263-1998", 90000, 1, 120)],
    );
    let alice = both_sides(&offer, &answer, &bob_caps);
    assert_eq!(alice.streams[0].codec.payload_type, 97);
    assert_eq!(alice.streams[1].codec.payload_type, 98);
}

#[test]
fn rfc4317_s2_6_audio_only_1_telephone_event() {
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0 8 97 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:97 iLBC/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-11",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49172 RTP/AVP 97 101",
        "a=rtpmap:97 iLBC/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-11",
    ]);
    let mut bob_caps = caps(vec![ilbc()], vec![]);
    bob_caps.telephone_event = true;
    let (ours, _) = create_answer(
        &view(&offer),
        &bob_caps,
        Direction::SendRecv,
        &local(BOB, 49172),
    )
    .unwrap();
    let ours = ours.to_bytes();
    // RFC 4733 s.7.1.1: the answer's events are the intersection (0-11 of 0-16).
    assert!(view(&ours)
        .media_at(0)
        .unwrap()
        .fmtp("101")
        .is_some_and(|f| f.params == "0-11"));
    let alice = both_sides(&offer, &answer, &bob_caps);
    assert_eq!(alice.streams[0].codec.name, "iLBC");
    assert_eq!(alice.streams[0].telephone_event_pt, Some(101));
}

#[test]
fn rfc4317_s2_7_audio_and_video_5_one_way_video() {
    // Alice only wants to receive video: Bob's answer sends it.
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 51372 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
        "a=recvonly",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49174 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 49170 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
        "a=sendonly",
    ]);
    let alice = both_sides(&offer, &answer, &caps(vec![Codec::pcmu()], vec![h261()]));
    assert_eq!(alice.streams[0].direction, Direction::SendRecv);
    assert_eq!(alice.streams[1].direction, Direction::RecvOnly);
}

#[test]
fn rfc4317_s2_8_audio_and_video_6_inactive_video() {
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 51372 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
        "a=inactive",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49174 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 49170 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
        "a=inactive",
    ]);
    let alice = both_sides(&offer, &answer, &caps(vec![Codec::pcmu()], vec![h261()]));
    assert_eq!(alice.streams[1].direction, Direction::Inactive);
}

/// Two negotiators, Alice offering.
fn pair(alice_caps: MediaCapabilities, bob_caps: MediaCapabilities) -> (Negotiator, Negotiator) {
    (
        Negotiator::new(alice_caps, IpAddr::V4(ALICE), 49170, 2890844526),
        Negotiator::new(bob_caps, IpAddr::V4(BOB), 49172, 2808844564),
    )
}

/// One exchange, Alice offering; returns (offer, answer, alice's view, bob's view).
fn exchange(
    alice: &mut Negotiator,
    bob: &mut Negotiator,
) -> (Vec<u8>, Vec<u8>, NegotiatedSession, NegotiatedSession) {
    let offer = alice.create_offer().to_bytes();
    let (answer, bob_view) = bob.accept_offer(&offer).expect("Bob answers");
    let answer = answer.to_bytes();
    let alice_view = alice.accept_answer(&answer).expect("Alice accepts");
    (offer, answer, alice_view, bob_view)
}

fn version(b: &[u8]) -> u64 {
    view(b).origin().session_version
}

#[test]
fn rfc4317_s3_1_hold_and_unhold_1() {
    let audio = || caps(vec![Codec::pcmu()], vec![]);
    let (mut alice, mut bob) = pair(audio(), audio());
    let (o1, a1, _, _) = exchange(&mut alice, &mut bob);
    // Hold: Alice re-offers sendonly, Bob answers recvonly.
    alice.set_direction(Direction::SendOnly);
    let (o2, a2, alice_view, bob_view) = exchange(&mut alice, &mut bob);
    assert_eq!(shape(&o2)[0].3, Direction::SendOnly);
    assert_eq!(shape(&a2)[0].3, Direction::RecvOnly);
    assert_eq!(alice_view.streams[0].direction, Direction::SendOnly);
    assert_eq!(bob_view.streams[0].direction, Direction::RecvOnly);
    // RFC 3264 s.8: each changed description bumps the version by one.
    assert_eq!(version(&o2), version(&o1) + 1);
    assert_eq!(version(&a2), version(&a1) + 1);
    // Resume.
    let o3 = alice
        .create_offer_with_direction(Direction::SendRecv)
        .to_bytes();
    let (a3, bob_view) = bob.accept_offer(&o3).unwrap();
    let alice_view = alice.accept_answer(&a3.to_bytes()).unwrap();
    assert_eq!(shape(&a3.to_bytes())[0].3, Direction::SendRecv);
    assert_eq!(alice_view.streams[0].direction, Direction::SendRecv);
    assert_eq!(bob_view.streams[0].direction, Direction::SendRecv);
    assert_eq!(version(&o3), version(&o2) + 1);
}

#[test]
fn rfc4317_s3_2_hold_with_two_streams() {
    let av = || caps(vec![Codec::pcmu()], vec![h261()]);
    let (mut alice, mut bob) = pair(av(), av());
    exchange(&mut alice, &mut bob);
    alice.set_direction(Direction::SendOnly);
    let (o, a, alice_view, bob_view) = exchange(&mut alice, &mut bob);
    assert!(shape(&o).iter().all(|s| s.3 == Direction::SendOnly));
    assert!(shape(&a).iter().all(|s| s.3 == Direction::RecvOnly));
    assert!(alice_view
        .streams
        .iter()
        .all(|s| s.direction == Direction::SendOnly));
    assert!(bob_view
        .streams
        .iter()
        .all(|s| s.direction == Direction::RecvOnly));
}

#[test]
fn rfc4317_s4_1_second_audio_stream_added() {
    // Alice's re-offer adds a second audio stream; Bob accepts both.
    let o1 = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
    ]);
    let o2 = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844527 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=audio 48282 RTP/AVP 98",
        "a=rtpmap:98 telephone-event/8000",
        "a=sendonly",
    ]);
    let a2 = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844565 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49172 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=audio 0 RTP/AVP 98",
    ]);
    let mut bob = Negotiator::new(
        caps(vec![Codec::pcmu()], vec![]),
        IpAddr::V4(BOB),
        49172,
        2808844564,
    );
    let (a1, _) = bob.accept_offer(&o1).unwrap();
    let (ours, bob_view) = bob.accept_offer(&o2).unwrap();
    let ours = ours.to_bytes();
    // A stream carrying only telephone-event has no codec: Bob rejects it,
    // which is what this answer shows.
    assert_eq!(shape(&ours), shape(&a2));
    assert_eq!(version(&ours), version(&a1.to_bytes()) + 1);
    assert!(bob_view.streams[1].rejected);
    // Alice's side.
    let alice = process_answer(&view(&o2), &view(&a2), &local(ALICE, 49170)).unwrap();
    assert!(!alice.streams[0].rejected && alice.streams[1].rejected);
}

#[test]
fn rfc4317_s4_2_audio_then_video_added() {
    let (mut alice, mut bob) = pair(
        caps(vec![Codec::pcmu()], vec![]),
        caps(vec![Codec::pcmu()], vec![h261()]),
    );
    let (o1, _, _, _) = exchange(&mut alice, &mut bob);
    assert_eq!(view(&o1).media_count(), 1);
    alice.set_capabilities(caps(vec![Codec::pcmu()], vec![h261()]));
    let (o2, a2, alice_view, bob_view) = exchange(&mut alice, &mut bob);
    assert_eq!(
        shape(&o2).iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["audio", "video"]
    );
    assert!(shape(&a2).iter().all(|s| s.1));
    assert_eq!(alice_view.streams[1].codec.name, "H261");
    assert_eq!(bob_view.streams[1].remote_rtp, addr(ALICE, 49172));
}

#[test]
fn rfc4317_s4_3_audio_and_video_then_video_deleted() {
    let av = || caps(vec![Codec::pcmu()], vec![h261()]);
    let (mut alice, mut bob) = pair(av(), av());
    exchange(&mut alice, &mut bob);
    alice.set_capabilities(caps(vec![Codec::pcmu()], vec![]));
    let (o2, a2, alice_view, _) = exchange(&mut alice, &mut bob);
    // The m=video line stays, with port 0 (RFC 3264 s.8.2).
    let s = shape(&o2);
    assert_eq!((s.len(), s[1].0.as_str(), s[1].1), (2, "video", false));
    assert!(!shape(&a2)[1].1);
    assert!(alice_view.streams[1].rejected);
    // Video comes back in the same m= line.
    alice.set_capabilities(av());
    let (o3, _, alice_view, _) = exchange(&mut alice, &mut bob);
    assert_eq!(view(&o3).media_count(), 2);
    assert!(!alice_view.streams[1].rejected);
}

#[test]
fn rfc3264_s10_1_basic_exchange() {
    let offer = sdp(&[
        "v=0",
        "o=carol 28908764872 28908764872 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 51372 RTP/AVP 31",
        "a=rtpmap:31 H261/90000",
        "m=video 53000 RTP/AVP 32",
        "a=rtpmap:32 MPV/90000",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 49920 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 0 RTP/AVP 31",
        "m=video 53000 RTP/AVP 32",
        "a=rtpmap:32 MPV/90000",
    ]);
    // Bob does not do H.261, so the first video stream is rejected.
    let alice = both_sides(&offer, &answer, &caps(vec![Codec::pcmu()], vec![mpv()]));
    assert!(alice.streams[1].rejected);
    assert_eq!(alice.streams[2].remote_rtp, addr(BOB, 53000));

    // Bob's re-offer: new audio port, and a fourth stream (receive-only
    // telephone-event, which Alice, with no codec for it, rejects).
    let reoffer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844565 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 65422 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 0 RTP/AVP 31",
        "m=video 53000 RTP/AVP 32",
        "a=rtpmap:32 MPV/90000",
        "m=audio 51434 RTP/AVP 110",
        "a=rtpmap:110 PCMA/8000",
        "a=recvonly",
    ]);
    let reanswer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844527 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 0 RTP/AVP 31",
        "m=video 53000 RTP/AVP 32",
        "a=rtpmap:32 MPV/90000",
        "m=audio 53122 RTP/AVP 110",
        "a=rtpmap:110 PCMA/8000",
        "a=sendonly",
    ]);
    let bob = both_sides(
        &reoffer,
        &reanswer,
        &caps(vec![Codec::pcmu(), Codec::pcma()], vec![mpv()]),
    );
    assert_eq!(bob.streams[0].remote_rtp, addr(ALICE, 49170));
    assert_eq!(bob.streams[3].direction, Direction::RecvOnly);
    assert_eq!(bob.streams[3].codec.payload_type, 110);
}

#[test]
fn rfc3264_s10_2_one_of_n_codec_selection() {
    let offer = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 62986 RTP/AVP 0 4 18",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:4 G723/8000",
        "a=rtpmap:18 G729/8000",
        "a=inactive",
    ]);
    let answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 54520 RTP/AVP 0 4 18",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:4 G723/8000",
        "a=rtpmap:18 G729/8000",
        "a=inactive",
    ]);
    let all = || {
        caps(
            vec![
                Codec::pcmu(),
                Codec::new("G723", 8000, 1, 4),
                Codec::new("G729", 8000, 1, 18),
            ],
            vec![],
        )
    };
    let alice = both_sides(&offer, &answer, &all());
    assert_eq!(alice.streams[0].direction, Direction::Inactive);
    // Then Alice picks one, and the stream goes sendrecv.
    let offer2 = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844527 IN IP4 192.0.2.101",
        "s= ",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 62986 RTP/AVP 4",
        "a=rtpmap:4 G723/8000",
        "a=sendrecv",
    ]);
    let answer2 = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844565 IN IP4 192.0.2.201",
        "s= ",
        "c=IN IP4 192.0.2.201",
        "t=0 0",
        "m=audio 54520 RTP/AVP 4",
        "a=rtpmap:4 G723/8000",
        "a=sendrecv",
    ]);
    let alice = both_sides(&offer2, &answer2, &all());
    assert_eq!(
        (
            alice.streams[0].codec.name.as_str(),
            alice.streams[0].direction
        ),
        ("G723", Direction::SendRecv)
    );
}

#[test]
fn rfc3264_s8_4_hold_with_connection_address_zero() {
    // An RFC 2543 peer holds with c=0.0.0.0: we must not send, and answer recvonly.
    let offer = sdp(&[
        "v=0",
        "o=old 1 2 IN IP4 192.0.2.101",
        "s=-",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
    ]);
    let mut bob = Negotiator::new(MediaCapabilities::default_audio(), IpAddr::V4(BOB), 6000, 5);
    let (answer, view_) = bob.accept_offer(&offer).unwrap();
    assert_eq!(view_.streams[0].remote_rtp, None);
    assert_eq!(view_.streams[0].direction, Direction::RecvOnly);
    assert_eq!(shape(&answer.to_bytes())[0].3, Direction::RecvOnly);
}

#[test]
fn rfc3264_s6_no_common_codec_is_488() {
    let offer = sdp(&[
        "v=0",
        "o=x 1 1 IN IP4 192.0.2.101",
        "s=-",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "m=audio 49170 RTP/AVP 18",
        "a=rtpmap:18 G729/8000",
        "m=video 0 RTP/AVP 31",
    ]);
    let mut bob = Negotiator::new(MediaCapabilities::default_audio(), IpAddr::V4(BOB), 6000, 5);
    let e = bob.accept_offer(&offer).unwrap_err();
    assert_eq!(e, NegotiationError::NoAcceptedStream);
    assert_eq!(e.status(), 488);
    assert!(bob.current().is_none());
}
