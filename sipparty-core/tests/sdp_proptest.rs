//! Property tests: generated descriptions round-trip byte for byte (borrowed
//! and owned), random bytes never panic, and negotiation keeps the RFC 3264
//! invariants over random capability sets and random offers.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use sipparty_core::sdp::{
    parse, Codec, Direction, MediaCapabilities, NegotiationError, Negotiator, Sdp, SdpLimits,
};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,10}"
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{1,30}"
        .prop_map(|s| s.trim_end().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty() && !s.starts_with(' '))
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>()).prop_map(|o| format!("IN IP4 {}", Ipv4Addr::from(o))),
        (any::<[u8; 4]>(), 0u8..=255, proptest::option::of(1u32..100)).prop_map(|(o, ttl, n)| {
            match n {
                Some(n) => format!("IN IP4 {}/{ttl}/{n}", Ipv4Addr::from(o)),
                None => format!("IN IP4 {}/{ttl}", Ipv4Addr::from(o)),
            }
        }),
        any::<[u16; 8]>().prop_map(|s| format!("IN IP6 {}", std::net::Ipv6Addr::from(s))),
        token().prop_map(|h| format!("IN IP4 {h}.example.com")),
    ]
}

fn attribute() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0u8..128,
            token(),
            1u32..200_000,
            proptest::option::of(1u8..9)
        )
            .prop_map(|(pt, n, r, c)| match c {
                Some(c) => format!("a=rtpmap:{pt} {n}/{r}/{c}"),
                None => format!("a=rtpmap:{pt} {n}/{r}"),
            }),
        (0u8..128, text()).prop_map(|(pt, p)| format!("a=fmtp:{pt} {p}")),
        prop_oneof![
            Just("sendrecv"),
            Just("sendonly"),
            Just("recvonly"),
            Just("inactive"),
            Just("rtcp-mux")
        ]
        .prop_map(|d| format!("a={d}")),
        (1u32..200).prop_map(|p| format!("a=ptime:{p}")),
        (token(), proptest::option::of(text())).prop_map(|(n, v)| match v {
            Some(v) => format!("a={n}:{v}"),
            None => format!("a={n}"),
        }),
    ]
}

fn media() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![
            Just("audio"),
            Just("video"),
            Just("text"),
            Just("application")
        ],
        any::<u16>(),
        proptest::option::of(1u32..10),
        prop_oneof![
            Just("RTP/AVP"),
            Just("RTP/SAVP"),
            Just("RTP/AVPF"),
            Just("UDP/TLS/RTP/SAVPF"),
            Just("udp"),
            Just("TCP")
        ],
        proptest::collection::vec(0u8..128, 1..8),
        proptest::option::of(address()),
        proptest::collection::vec(attribute(), 0..8),
    )
        .prop_map(|(m, port, count, proto, fmts, c, attrs)| {
            let fmts: Vec<String> = fmts.iter().map(u8::to_string).collect();
            let port = match count {
                Some(n) => format!("{port}/{n}"),
                None => port.to_string(),
            };
            let mut lines = vec![format!("m={m} {port} {proto} {}", fmts.join(" "))];
            if let Some(c) = c {
                lines.push(format!("c={c}"));
            }
            lines.extend(attrs);
            lines
        })
}

/// A strict, well-ordered description, as lines.
fn description() -> impl Strategy<Value = Vec<String>> {
    (
        token(),
        any::<u64>(),
        any::<u64>(),
        text(),
        proptest::option::of(text()),
        address(),
        proptest::collection::vec((0u64..u64::MAX, 0u64..u64::MAX), 1..3),
        proptest::collection::vec(attribute(), 0..4),
        proptest::collection::vec(media(), 0..4),
    )
        .prop_map(|(user, id, ver, s, i, c, times, attrs, media)| {
            let mut l = vec![
                "v=0".to_owned(),
                format!("o={user} {id} {ver} IN IP4 192.0.2.1"),
                format!("s={s}"),
            ];
            if let Some(i) = i {
                l.push(format!("i={i}"));
            }
            l.push(format!("c={c}"));
            for (a, b) in times {
                l.push(format!("t={a} {b}"));
            }
            l.extend(attrs);
            for m in media {
                l.extend(m);
            }
            l
        })
}

fn join(lines: &[String], endings: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(match endings.get(i).copied().unwrap_or(0) % 3 {
            0 | 1 => b"\r\n" as &[u8],
            _ => b"\n",
        });
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn strict_descriptions_round_trip(lines in description()) {
        let bytes = join(&lines, &[]);
        let d = parse(&bytes, &SdpLimits::default()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(d.lines().len(), lines.len());
        let mut out = Vec::new();
        d.write_to(&mut out);
        prop_assert_eq!(&out, &bytes);
        let owned = Sdp::from_view(&d);
        prop_assert_eq!(owned.to_bytes(), bytes.clone());
        // parse(serialize(x)) == x for the owned form.
        prop_assert_eq!(Sdp::parse(&owned.to_bytes()).unwrap(), owned);
    }

    #[test]
    fn lenient_descriptions_with_mixed_endings_round_trip(lines in description(), endings in proptest::collection::vec(any::<u8>(), 0..64), drop_last in any::<bool>()) {
        let mut bytes = join(&lines, &endings);
        if drop_last {
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
        }
        let d = parse(&bytes, &SdpLimits::lenient()).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let mut out = Vec::new();
        d.write_to(&mut out);
        prop_assert_eq!(&out, &bytes);
        prop_assert_eq!(Sdp::from_view(&d).to_bytes(), bytes.clone());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        sipparty_core::fuzzing::sdp::parse(&bytes);
        sipparty_core::fuzzing::sdp::negotiate(&bytes);
    }

    #[test]
    fn mutated_descriptions_never_panic(lines in description(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = join(&lines, &[]);
        let i = at % bytes.len();
        bytes[i] = byte;
        sipparty_core::fuzzing::sdp::parse(&bytes);
        sipparty_core::fuzzing::sdp::negotiate(&bytes);
    }
}

fn pool() -> Vec<Codec> {
    vec![
        Codec::pcmu(),
        Codec::pcma(),
        Codec::g722(),
        Codec::opus(),
        Codec::new("G729", 8000, 1, 18),
        Codec::new("iLBC", 8000, 1, 97),
        Codec::new("speex", 16000, 1, 98),
    ]
}

fn capabilities() -> impl Strategy<Value = MediaCapabilities> {
    (
        proptest::sample::subsequence(pool(), 0..=7),
        proptest::collection::vec(96u8..128, 7),
        any::<bool>(),
        prop_oneof![
            Just(Direction::SendRecv),
            Just(Direction::SendOnly),
            Just(Direction::RecvOnly),
            Just(Direction::Inactive)
        ],
        proptest::sample::subsequence(
            vec![
                Codec::new("H261", 90000, 1, 31),
                Codec::new("VP8", 90000, 1, 100),
            ],
            0..=2,
        ),
    )
        .prop_map(|(mut audio, pts, te, direction, video)| {
            // Dynamic codecs get a random (possibly different) number on each side.
            for (c, pt) in audio.iter_mut().zip(pts) {
                if c.payload_type >= 96 {
                    c.payload_type = pt;
                }
            }
            // A valid capability set never gives two codecs one number
            // (not only neighbours: opus and iLBC could both draw 126).
            let mut seen = std::collections::HashSet::new();
            audio.retain(|c| seen.insert(c.payload_type));
            let mut caps = MediaCapabilities {
                audio,
                video,
                telephone_event: te,
                direction,
                ..MediaCapabilities::default_audio()
            };
            // Keep telephone-event's number clear of the codecs'.
            caps.telephone_event_pt = 95;
            caps
        })
}

fn shared(a: &[Codec], b: &[Codec]) -> bool {
    a.iter().any(|x| {
        b.iter()
            .any(|y| x.matches(&y.name, y.clock_rate, y.channels))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn rfc3264_invariants_over_random_capabilities(alice_caps in capabilities(), bob_caps in capabilities(), bob_dir in prop_oneof![Just(Direction::SendRecv), Just(Direction::SendOnly), Just(Direction::Inactive)]) {
        let mut alice = Negotiator::new(alice_caps.clone(), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 4000, 1);
        let mut bob = Negotiator::new(bob_caps.clone(), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 6000, 2);
        bob.set_direction(bob_dir);
        let offer = alice.create_offer().to_bytes();
        let offer_view = parse(&offer, &SdpLimits::default()).unwrap();
        let common = shared(&alice_caps.audio, &bob_caps.audio) || shared(&alice_caps.video, &bob_caps.video);
        match bob.accept_offer(&offer) {
            Err(e) => {
                prop_assert_eq!(e, NegotiationError::NoAcceptedStream);
                prop_assert!(!common);
            }
            Ok((answer, bob_view)) => {
                prop_assert!(common);
                let answer = answer.to_bytes();
                let answer_view = parse(&answer, &SdpLimits::default()).unwrap();
                // Same m= lines, same order.
                prop_assert_eq!(answer_view.media_count(), offer_view.media_count());
                for (o, a) in offer_view.media().zip(answer_view.media()) {
                    prop_assert_eq!(o.media(), a.media());
                    if a.port() != 0 {
                        // Only offered formats, with the offerer's numbers.
                        let offered: Vec<&str> = o.formats().collect();
                        prop_assert!(a.formats().all(|f| offered.contains(&f)));
                    }
                }
                let alice_view = alice.accept_answer(&answer).unwrap();
                prop_assert_eq!(alice_view.streams.len(), bob_view.streams.len());
                for (a, b) in alice_view.streams.iter().zip(&bob_view.streams) {
                    prop_assert_eq!(a.rejected, b.rejected);
                    if a.rejected {
                        continue;
                    }
                    // Both sides agree on the payload type, and the codec is in both sets.
                    prop_assert_eq!(a.codec.payload_type, b.codec.payload_type);
                    let ours = alice_caps.codecs_for(&a.media);
                    prop_assert!(ours.iter().any(|c| c.matches(&a.codec.name, a.codec.clock_rate, a.codec.channels)));
                    // Directions mirror each other and honour both wishes.
                    prop_assert_eq!(a.direction, b.direction.reverse());
                    prop_assert_eq!(b.direction, alice_caps.direction.reverse().intersect(bob_dir));
                }
            }
        }
    }

    #[test]
    fn random_offers_get_well_formed_answers(lines in description()) {
        let bytes = join(&lines, &[]);
        let mut bob = Negotiator::new(MediaCapabilities::default_audio(), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 6000, 2);
        if let Ok((answer, session)) = bob.accept_offer(&bytes) {
            let offer = parse(&bytes, &SdpLimits::default()).unwrap();
            let answer = answer.to_bytes();
            let a = parse(&answer, &SdpLimits::default()).unwrap();
            prop_assert_eq!(a.media_count(), offer.media_count());
            prop_assert_eq!(session.streams.len(), offer.media_count());
            for (o, m) in offer.media().zip(a.media()) {
                let offered: Vec<&str> = o.formats().collect();
                prop_assert!(m.formats().all(|f| offered.contains(&f)));
                if o.port() == 0 {
                    prop_assert_eq!(m.port(), 0);
                }
            }
        }
    }
}
