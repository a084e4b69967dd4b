//! RTP and G.711 throughput: packetize + parse, RTCP build + parse, G.711
//! encode/decode per 20 ms frame, and a media session's per-frame cost.
//! Heap allocations per operation are counted with a counting allocator.
//!
//! Run: `cargo bench -p sipparty-core --bench rtp -- --measurement-time 2`

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipparty_core::media::{MediaConfig, MediaSession, ToneSource, G711};
use sipparty_core::rtp::rtcp::{self, ReceiverReport, ReportBlock, RtcpPacket, SdesChunk};
use sipparty_core::rtp::{RtpHeader, RtpPacket};
use sipparty_core::SeededRandom;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::ALLOCS;

/// Allocations made by one call of `f`, averaged over 1000 calls.
fn allocs_per_op(mut f: impl FnMut()) -> f64 {
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        f();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / 1000.0
}

fn packet() -> RtpPacket<'static> {
    static PAYLOAD: [u8; 160] = [0xFF; 160];
    RtpPacket {
        header: RtpHeader {
            marker: false,
            payload_type: 0,
            sequence_number: 4711,
            timestamp: 123_456,
            ssrc: 0xDEAD_BEEF,
            csrc: Default::default(),
        },
        extension: None,
        payload: &PAYLOAD,
        padding: 0,
    }
}

fn rtp(c: &mut Criterion) {
    let mut g = c.benchmark_group("rtp");
    g.throughput(Throughput::Elements(1));
    let pkt = packet();
    let mut buf = Vec::with_capacity(1500);
    g.bench_function("packetize_pcmu_20ms", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&pkt).write_to(&mut buf).unwrap();
            black_box(buf.len())
        })
    });
    let bytes = pkt.to_bytes().unwrap();
    g.bench_function("parse_pcmu_20ms", |b| {
        b.iter(|| RtpPacket::parse(black_box(&bytes)).unwrap().payload.len())
    });
    let compound = vec![
        RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock::default()],
        }),
        RtcpPacket::SourceDescription(vec![SdesChunk {
            ssrc: 1,
            items: vec![(1, b"alice@127.0.0.1".to_vec())],
        }]),
    ];
    let mut rtcp_bytes = Vec::new();
    rtcp::write_compound(&compound, &mut rtcp_bytes).unwrap();
    g.bench_function("parse_rtcp_rr_sdes", |b| {
        b.iter(|| rtcp::parse_compound(black_box(&rtcp_bytes)).unwrap().len())
    });
    g.finish();

    let mut buf = Vec::with_capacity(1500);
    let a = allocs_per_op(|| {
        buf.clear();
        pkt.write_to(&mut buf).unwrap();
    });
    let p = allocs_per_op(|| {
        black_box(RtpPacket::parse(&bytes).unwrap());
    });
    let r = allocs_per_op(|| {
        black_box(rtcp::parse_compound(&rtcp_bytes).unwrap());
    });
    println!("allocations/op: packetize {a}, parse {p}, parse_rtcp_rr_sdes {r}");
}

fn g711(c: &mut Criterion) {
    let mut g = c.benchmark_group("g711");
    g.throughput(Throughput::Elements(160));
    let mut tone = sipparty_core::media::ToneGenerator::new(440.0, 8000, 0.5);
    let mut frame = [0i16; 160];
    tone.fill(&mut frame);
    let mut out = Vec::with_capacity(160);
    for codec in [G711::Pcmu, G711::Pcma] {
        g.bench_function(format!("encode_frame_{}", codec.name()), |b| {
            b.iter(|| {
                out.clear();
                codec.encode(black_box(&frame), &mut out);
                out.len()
            })
        });
        let mut enc = Vec::new();
        codec.encode(&frame, &mut enc);
        let mut dec = Vec::with_capacity(160);
        g.bench_function(format!("decode_frame_{}", codec.name()), |b| {
            b.iter(|| {
                dec.clear();
                codec.decode(black_box(&enc), &mut dec);
                dec.len()
            })
        });
    }
    g.finish();
    let e = allocs_per_op(|| {
        out.clear();
        G711::Pcmu.encode(&frame, &mut out);
    });
    println!("allocations/op: g711 encode_frame {e}");
}

/// One 20 ms tick of a media session: a tone frame encoded, packetized and
/// drained, plus receiving the peer's frame.
fn session(c: &mut Criterion) {
    let peer: SocketAddr = "127.0.0.1:40002".parse().unwrap();
    let t0 = Instant::now();
    let mut tx = MediaSession::new(
        MediaConfig::new(peer, G711::Pcmu),
        t0,
        &mut SeededRandom::new(1),
    );
    let mut rx = MediaSession::new(
        MediaConfig::new(peer, G711::Pcmu),
        t0,
        &mut SeededRandom::new(2),
    );
    tx.set_source(Box::new(ToneSource::new(440.0, 8000)));
    let mut now = t0;
    let mut tick = || {
        now += Duration::from_millis(20);
        tx.handle_timeout(now);
        while let Some(t) = tx.poll_transmit() {
            let _ = rx.handle_datagram(now, &t.bytes, peer);
        }
        rx.handle_timeout(now);
        while rx.poll_transmit().is_some() {}
        while rx.poll_event().is_some() {}
    };
    let mut g = c.benchmark_group("media_session");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tick_20ms_send_and_receive", |b| b.iter(&mut tick));
    g.finish();
    println!(
        "allocations/op: media_session tick {}",
        allocs_per_op(&mut tick)
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = rtp, g711, session
}
criterion_main!(benches);
