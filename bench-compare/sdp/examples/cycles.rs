//! Runs one parser N times, for `perf stat -e cycles:u,instructions:u`, which
//! counts only this process's user-mode work and so stays meaningful on a
//! loaded machine: `cargo run --release --example cycles -- sipparty 1000000`.
use std::hint::black_box;
use std::io::Cursor;

const OFFER: &[u8] = include_bytes!("../../../sipparty-core/tests/data/sdp/audio_offer_320.sdp");

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "sipparty".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let limits = sipparty_core::sdp::SdpLimits::default();
    let caps = sipparty_core::sdp::MediaCapabilities::default_audio();
    let local = sipparty_core::sdp::LocalMedia {
        addr: "192.0.2.20".parse().expect("literal"),
        rtp_port: 6000,
        session_id: 77,
        session_version: 77,
    };
    let view = sipparty_core::sdp::parse(OFFER, &limits).expect("the offer parses");
    let mut negotiator =
        sipparty_core::sdp::Negotiator::new(caps.clone(), local.addr, local.rtp_port, 77);
    let ezk_src =
        bytesstr::BytesStr::from_utf8_bytes(bytes::Bytes::from_static(OFFER)).expect("utf-8");
    for _ in 0..n {
        match which.as_str() {
            "sipparty" => {
                black_box(
                    sipparty_core::sdp::parse(black_box(OFFER), &limits)
                        .map(|d| d.media_count())
                        .ok(),
                );
            }
            "sipparty-owned" => {
                black_box(sipparty_core::sdp::Sdp::parse(black_box(OFFER)).ok());
            }
            "sipparty-answer" => {
                let v = sipparty_core::sdp::parse(black_box(OFFER), &limits).expect("parses");
                black_box(
                    sipparty_core::sdp::create_answer(&v, &caps, caps.direction, &local).ok(),
                );
            }
            "sipparty-create-answer" => {
                black_box(
                    sipparty_core::sdp::create_answer(
                        black_box(&view),
                        &caps,
                        caps.direction,
                        &local,
                    )
                    .ok(),
                );
            }
            "sipparty-accept" => {
                black_box(negotiator.accept_offer(black_box(OFFER)).ok());
            }
            "webrtc" => {
                black_box(
                    ::sdp::SessionDescription::unmarshal(&mut Cursor::new(black_box(OFFER))).ok(),
                );
            }
            "ezk" => {
                black_box(ezk_sdp_types::SessionDescription::parse(black_box(&ezk_src)).ok());
            }
            _ => {}
        }
    }
}
