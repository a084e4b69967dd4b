//! The same 320-byte SIP audio offer parsed (and serialized) by sipparty-core,
//! webrtc-rs `sdp` and `ezk-sdp-types`, with heap allocations per operation.
//!
//! Run: `cd bench-compare/sdp && cargo bench -- --warm-up-time 1 --measurement-time 3`
#![allow(unsafe_code)] // the counting allocator only

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const OFFER: &[u8] = include_bytes!("../../../sipparty-core/tests/data/sdp/audio_offer_320.sdp");

fn allocations<R>(mut f: impl FnMut() -> R) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    black_box(f());
    ALLOCS.load(Ordering::Relaxed) - before
}

fn bench(c: &mut Criterion) {
    use sipparty_core::sdp;
    let limits = sdp::SdpLimits::default();
    let ezk_src = bytesstr::BytesStr::from_utf8_bytes(bytes::Bytes::from_static(OFFER))
        .expect("the offer is UTF-8");
    let ours = sdp::Sdp::parse(OFFER).expect("parses");
    let w = ::sdp::SessionDescription::unmarshal(&mut Cursor::new(OFFER)).expect("webrtc parses");
    let e = ezk_sdp_types::SessionDescription::parse(&ezk_src).expect("ezk parses");

    println!("offer: {} bytes", OFFER.len());
    println!(
        "allocations per parse: sipparty borrowed {}, sipparty owned {}, webrtc-rs sdp {}, ezk-sdp-types {}",
        allocations(|| sdp::parse(OFFER, &limits).map(|d| d.media_count())),
        allocations(|| sdp::Sdp::parse(OFFER)),
        allocations(|| ::sdp::SessionDescription::unmarshal(&mut Cursor::new(OFFER))),
        allocations(|| ezk_sdp_types::SessionDescription::parse(&ezk_src)),
    );
    println!(
        "allocations per serialize: sipparty {}, webrtc-rs sdp {}, ezk-sdp-types {}",
        allocations(|| ours.to_bytes()),
        allocations(|| w.marshal()),
        allocations(|| e.to_string()),
    );
    println!(
        "round trip byte-identical: sipparty {}, webrtc-rs sdp {}, ezk-sdp-types {}",
        ours.to_bytes() == OFFER,
        w.marshal().as_bytes() == OFFER,
        e.to_string().as_bytes() == OFFER,
    );

    let mut g = c.benchmark_group("parse_320B_audio_offer");
    g.bench_function("sipparty_borrowed", |b| {
        b.iter(|| sdp::parse(black_box(OFFER), &limits).map(|d| d.media_count()))
    });
    g.bench_function("sipparty_owned", |b| b.iter(|| sdp::Sdp::parse(black_box(OFFER))));
    g.bench_function("webrtc_sdp_0_17", |b| {
        b.iter(|| ::sdp::SessionDescription::unmarshal(&mut Cursor::new(black_box(OFFER))))
    });
    g.bench_function("ezk_sdp_types_0_6", |b| {
        b.iter(|| ezk_sdp_types::SessionDescription::parse(black_box(&ezk_src)))
    });
    g.finish();

    let mut g = c.benchmark_group("serialize_320B_audio_offer");
    g.bench_function("sipparty", |b| b.iter(|| black_box(&ours).to_bytes()));
    g.bench_function("webrtc_sdp_0_17", |b| b.iter(|| black_box(&w).marshal()));
    g.bench_function("ezk_sdp_types_0_6", |b| b.iter(|| black_box(&e).to_string()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
