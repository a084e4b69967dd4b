//! Message-layer benchmarks on a typical 725-byte INVITE with a 149-byte
//! SDP body (RFC 3261 section 24.2 style plus Allow, Supported,
//! User-Agent): parse to the borrowed view; decode Via, From, To, CSeq,
//! Call-ID and Contact; build and serialize the 180 response; plus the
//! owned parse, clone and serialize paths. Heap allocations per operation
//! are counted with a counting global allocator and printed after the
//! timings.
//!
//! Run: `cargo bench -p sipparty-core --bench message -- --measurement-time 2`

use std::hint::black_box;

use criterion::{criterion_group, Criterion};
use sipparty_core::message::{parse_datagram, Limits, Message, MessageView};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocs_per_op;

const INVITE: &[u8] = include_bytes!("../../samples/invite.sip");

/// Decode the six headers every transaction and dialog needs.
fn decode_six(view: &MessageView<'_>) -> usize {
    let h = view.headers();
    let via = h.top_via().unwrap().unwrap();
    let from = h.from().unwrap().unwrap();
    let to = h.to().unwrap().unwrap();
    let cseq = h.cseq().unwrap().unwrap();
    let call_id = h.call_id().unwrap();
    let contact = h.contacts().next().unwrap().unwrap();
    via.branch().map_or(0, str::len)
        + from.tag().map_or(0, str::len)
        + to.uri().host.len()
        + cseq.seq as usize
        + call_id.len()
        + usize::from(contact.address().is_some())
}

fn benches(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("message");
    g.bench_function("parse_view", |b| {
        b.iter(|| {
            parse_datagram(black_box(INVITE), &limits)
                .unwrap()
                .header_count()
        })
    });
    let view = parse_datagram(INVITE, &limits).unwrap();
    g.bench_function("decode_six_headers", |b| {
        b.iter(|| decode_six(black_box(&view)))
    });
    g.bench_function("parse_view_and_decode_six", |b| {
        b.iter(|| decode_six(&parse_datagram(black_box(INVITE), &limits).unwrap()))
    });
    let request = Message::parse(INVITE).unwrap();
    let mut out = Vec::with_capacity(1024);
    g.bench_function("build_and_serialize_180", |b| {
        b.iter(|| {
            out.clear();
            Message::response_to(black_box(&request), 180, Some("a6c85cf")).write_to(&mut out);
            out.len()
        })
    });
    g.bench_function("parse_owned", |b| {
        b.iter(|| Message::parse(black_box(INVITE)).unwrap())
    });
    g.bench_function("clone_owned", |b| b.iter(|| black_box(&request).clone()));
    g.bench_function("serialize_owned", |b| {
        b.iter(|| {
            out.clear();
            black_box(&request).write_to(&mut out);
            out.len()
        })
    });
    g.finish();

    println!("\nheap allocations per operation:");
    let rows: [(&str, f64); 6] = [
        (
            "parse_view",
            allocs_per_op(|| {
                black_box(parse_datagram(black_box(INVITE), &limits).unwrap());
            }),
        ),
        (
            "decode_six_headers",
            allocs_per_op(|| {
                black_box(decode_six(&view));
            }),
        ),
        ("build_and_serialize_180", {
            let mut out = Vec::with_capacity(1024);
            allocs_per_op(|| {
                out.clear();
                Message::response_to(&request, 180, Some("a6c85cf")).write_to(&mut out);
            })
        }),
        (
            "parse_owned",
            allocs_per_op(|| {
                black_box(Message::parse(INVITE).unwrap());
            }),
        ),
        (
            "clone_owned",
            allocs_per_op(|| {
                black_box(request.clone());
            }),
        ),
        ("serialize_owned", {
            let mut out = Vec::with_capacity(1024);
            allocs_per_op(|| {
                out.clear();
                request.write_to(&mut out);
            })
        }),
    ];
    for (name, n) in rows {
        println!("  message/{name:<28} {n:>5.1}");
    }
}

criterion_group!(message, benches);

fn main() {
    message();
    Criterion::default().configure_from_args().final_summary();
}
