//! Fuzz entry points for SDP.

use std::net::{IpAddr, Ipv4Addr};

use crate::sdp::{self, MediaCapabilities, Negotiator, SdpLimits};

/// Parse `data` as a session description, in both modes, and check the
/// lossless round trip of everything that parses.
pub fn parse(data: &[u8]) {
    for limits in [SdpLimits::default(), SdpLimits::lenient()] {
        let Ok(view) = sdp::parse(data, &limits) else {
            continue;
        };
        let mut out = Vec::with_capacity(data.len());
        view.write_to(&mut out);
        assert_eq!(out, data, "borrowed round trip");
        let owned = sdp::Sdp::from_view(&view);
        assert_eq!(owned.to_bytes(), data, "owned round trip");
        // Every typed accessor must cope with whatever parsed.
        for m in view.media() {
            let _ = m.connection();
            for a in m.typed_attributes() {
                let _ = a;
            }
            let _ = (m.direction(), m.ptime(), m.rtcp(), m.mid());
        }
        for a in view.attributes() {
            let _ = a.typed();
        }
    }
}

/// Use `data` as a remote offer and answer it; then feed our answer back
/// to an offerer whose offer was `data`, and check the answer's shape.
pub fn negotiate(data: &[u8]) {
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    let mut bob = Negotiator::new(MediaCapabilities::default_audio(), ip, 40000, 1);
    let Ok((answer, session)) = bob.accept_offer(data) else {
        return;
    };
    let bytes = answer.to_bytes();
    // Our answer must parse strictly and keep the offer's m= line count.
    let answer_view =
        sdp::parse(&bytes, &SdpLimits::default()).expect("our answer parses strictly");
    let offer_view = sdp::parse(data, &SdpLimits::lenient()).expect("the offer parsed before");
    assert_eq!(answer_view.media_count(), offer_view.media_count());
    assert_eq!(session.streams.len(), offer_view.media_count());
    let local = sdp::LocalMedia {
        addr: ip,
        rtp_port: 40000,
        session_id: 1,
        session_version: 1,
    };
    let _ = sdp::process_answer(&offer_view, &answer_view, &local);
    // A re-offer from the answerer keeps every m= line.
    let reoffer = bob.create_offer();
    assert_eq!(reoffer.media().len(), offer_view.media_count());
}
