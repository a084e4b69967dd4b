//! SDP benchmarks: parse the classic 320-byte SIP audio offer (borrowed and
//! owned), serialize it, and answer it, with heap allocations per operation.
//!
//! Before criterion's wall-clock timings the bench prints, for the same
//! operations, the wall time and the on-CPU time per operation over a fixed
//! loop (`/proc/thread-self/schedstat`). On this project's shared 2-core
//! machine criterion's wall time varies by 2x with the load of other jobs
//! (time spent waiting for a core lands in its samples); the on-CPU time
//! does not include that wait, so it is the figure to compare across runs,
//! next to callgrind's instruction counts (`bench-compare/sdp/README.md`).
//!
//! Run: `cargo bench -p sipparty-core --bench sdp -- --warm-up-time 1 --measurement-time 3`
// The counting allocator below is the only unsafe code: it forwards to the
// system allocator and counts calls.
#![allow(unsafe_code)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use sipparty_core::sdp::{
    create_answer, parse, LocalMedia, MediaCapabilities, Negotiator, Sdp, SdpLimits,
};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::ALLOCS;

const OFFER: &[u8] = include_bytes!("../tests/data/sdp/audio_offer_320.sdp");

/// Heap allocations made by one call of `f`.
fn allocations<R>(mut f: impl FnMut() -> R) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    black_box(f());
    ALLOCS.load(Ordering::Relaxed) - before
}

fn local() -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)),
        rtp_port: 6000,
        session_id: 77,
        session_version: 77,
    }
}

/// Nanoseconds this thread has run on a CPU (Linux), or `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Wall and on-CPU time per call of `f`, over a fixed loop after a warm-up.
fn per_op<R>(label: &str, mut f: impl FnMut() -> R) {
    const N: u32 = 200_000;
    for _ in 0..N / 10 {
        black_box(f());
    }
    let cpu = cpu_ns();
    let started = Instant::now();
    for _ in 0..N {
        black_box(f());
    }
    let wall = started.elapsed().as_nanos() as f64 / f64::from(N);
    match (cpu, cpu_ns()) {
        (Some(a), Some(b)) => println!(
            "per op: {label}: {wall:.0} ns wall, {:.0} ns on-CPU",
            (b - a) as f64 / f64::from(N)
        ),
        _ => println!("per op: {label}: {wall:.0} ns wall"),
    }
}

fn bench(c: &mut Criterion) {
    let limits = SdpLimits::default();
    let caps = MediaCapabilities::default_audio();
    let view = parse(OFFER, &limits).expect("the bench offer parses");
    let owned = Sdp::parse(OFFER).expect("the bench offer parses");

    println!("offer: {} bytes", OFFER.len());
    println!(
        "allocations per op: parse (borrowed) {}, Sdp::parse (owned) {}, to_bytes {}, \
         create_answer {}, Negotiator::accept_offer {}",
        allocations(|| parse(OFFER, &limits).map(|d| d.media_count())),
        allocations(|| Sdp::parse(OFFER)),
        allocations(|| owned.to_bytes()),
        allocations(|| create_answer(&view, &caps, caps.direction, &local())),
        allocations(|| {
            let mut n = Negotiator::new(caps.clone(), local().addr, 6000, 77);
            let before = ALLOCS.load(Ordering::Relaxed);
            let r = n.accept_offer(OFFER).map(|(s, _)| s.media().len());
            (r, ALLOCS.load(Ordering::Relaxed) - before)
        }),
    );
    {
        let mut n = Negotiator::new(caps.clone(), local().addr, 6000, 77);
        let before = ALLOCS.load(Ordering::Relaxed);
        let r = n.accept_offer(OFFER).map(|(s, _)| s.media().len());
        black_box(r).ok();
        println!(
            "allocations per op: Negotiator::accept_offer alone {}",
            ALLOCS.load(Ordering::Relaxed) - before
        );
        // The same offer again (a session refresh): the Negotiator reuses
        // what it keeps, so only the answer itself allocates.
        let before = ALLOCS.load(Ordering::Relaxed);
        let r = n.accept_offer(OFFER).map(|(s, _)| s.media().len());
        black_box(r).ok();
        println!(
            "allocations per op: Negotiator::accept_offer again (reused) {}",
            ALLOCS.load(Ordering::Relaxed) - before
        );
    }

    per_op("parse (borrowed)", || {
        parse(black_box(OFFER), &limits).map(|d| d.media_count())
    });
    per_op("Sdp::parse (owned)", || Sdp::parse(black_box(OFFER)));
    per_op("create_answer", || {
        create_answer(black_box(&view), &caps, caps.direction, &local())
    });
    per_op("parse + create_answer", || {
        let v = parse(black_box(OFFER), &limits).expect("parses");
        create_answer(&v, &caps, caps.direction, &local()).map(|(s, _)| s.to_bytes())
    });

    let mut g = c.benchmark_group("sdp");
    g.bench_function("parse_borrowed_320B", |b| {
        b.iter(|| parse(black_box(OFFER), &limits).map(|d| d.media_count()))
    });
    g.bench_function("parse_owned_320B", |b| {
        b.iter(|| Sdp::parse(black_box(OFFER)))
    });
    g.bench_function("serialize_owned_320B", |b| {
        b.iter(|| black_box(&owned).to_bytes())
    });
    g.bench_function("create_answer_parsed_320B", |b| {
        b.iter(|| create_answer(black_box(&view), &caps, caps.direction, &local()))
    });
    g.bench_function("parse_and_answer_320B", |b| {
        b.iter(|| {
            let v = parse(black_box(OFFER), &limits).expect("parses");
            create_answer(&v, &caps, caps.direction, &local()).map(|(s, _)| s.to_bytes())
        })
    });
    g.bench_function("negotiator_accept_offer_320B", |b| {
        let mut n = Negotiator::new(caps.clone(), local().addr, 6000, 77);
        b.iter(|| {
            n.accept_offer(black_box(OFFER))
                .map(|(s, _)| s.media().len())
        })
    });
    g.bench_function("negotiator_create_offer", |b| {
        let mut n = Negotiator::new(caps.clone(), local().addr, 6000, 77);
        b.iter(|| n.create_offer().to_bytes())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
