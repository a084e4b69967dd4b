//! Runs one workload N times and prints the wall time and the on-CPU time
//! (`/proc/thread-self/schedstat`) per operation:
//! `cargo run --release --example cycles -- sipparty 1000000`.
//!
//! Under `valgrind --tool=callgrind` (run with N and with 0; the difference
//! divided by N is the instructions per operation) it gives a count that
//! does not depend on the machine's load. The machine has no hardware
//! counters (a VM), so `perf stat` cannot count instructions here.
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
    let started = std::time::Instant::now();
    let cpu_before = cpu_ns();
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
    let wall = started.elapsed();
    if let (Some(a), Some(b)) = (cpu_before, cpu_ns()) {
        if n > 0 {
            eprintln!(
                "{which}: {n} runs, {:.0} ns wall, {:.0} ns on-CPU per op",
                wall.as_nanos() as f64 / n as f64,
                (b - a) as f64 / n as f64
            );
        }
    }
}

/// Nanoseconds this thread has run on a CPU (Linux), or `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
