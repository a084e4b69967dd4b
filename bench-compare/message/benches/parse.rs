//! The same 725-byte INVITE (`samples/invite.sip`) parsed by sipparty-core,
//! rsip 0.4 and rsipstack 0.7 in one run, with heap allocations per parse.
//!
//! Run: `cd bench-compare/message && cargo bench -- --measurement-time 2`
//!
//! What each row does:
//! - `sipparty/view`: `parse_datagram` to the borrowed view (no typed
//!   header decoded yet).
//! - `sipparty/view+decode6`: the view plus Via, From, To, CSeq, Call-ID
//!   and Contact decoded.
//! - `sipparty/owned`: `Message::parse` (owned copy, lossless).
//! - `rsip/parse`, `rsipstack/parse`: `SipMessage::try_from(&[u8])`, which
//!   builds their owned message (headers kept as untyped strings until
//!   asked).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, Criterion};
use sipparty_core::message::{parse_datagram, Limits, Message};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const INVITE: &[u8] = include_bytes!("../../../samples/invite.sip");

fn sipparty_decode6(raw: &[u8]) -> usize {
    let v = parse_datagram(raw, &Limits::default()).unwrap();
    let h = v.headers();
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

fn allocs(mut op: impl FnMut()) -> f64 {
    op();
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        op();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / 1000.0
}

fn benches(c: &mut Criterion) {
    // All three accept the message.
    assert!(rsip::SipMessage::try_from(INVITE).is_ok());
    assert!(rsipstack::sip::SipMessage::try_from(INVITE).is_ok());

    let mut g = c.benchmark_group("compare");
    g.bench_function("sipparty/view", |b| {
        b.iter(|| parse_datagram(black_box(INVITE), &Limits::default()).unwrap().header_count())
    });
    g.bench_function("sipparty/view+decode6", |b| b.iter(|| sipparty_decode6(black_box(INVITE))));
    g.bench_function("sipparty/owned", |b| b.iter(|| Message::parse(black_box(INVITE)).unwrap()));
    g.bench_function("rsip/parse", |b| {
        b.iter(|| rsip::SipMessage::try_from(black_box(INVITE)).unwrap())
    });
    g.bench_function("rsipstack/parse", |b| {
        b.iter(|| rsipstack::sip::SipMessage::try_from(black_box(INVITE)).unwrap())
    });
    g.finish();

    println!("\nheap allocations per parse:");
    let rows = [
        ("sipparty/view", allocs(|| {
            black_box(parse_datagram(INVITE, &Limits::default()).unwrap());
        })),
        ("sipparty/view+decode6", allocs(|| {
            black_box(sipparty_decode6(INVITE));
        })),
        ("sipparty/owned", allocs(|| {
            black_box(Message::parse(INVITE).unwrap());
        })),
        ("rsip/parse", allocs(|| {
            black_box(rsip::SipMessage::try_from(INVITE).unwrap());
        })),
        ("rsipstack/parse", allocs(|| {
            black_box(rsipstack::sip::SipMessage::try_from(INVITE).unwrap());
        })),
    ];
    for (name, n) in rows {
        println!("  compare/{name:<24} {n:>6.1}");
    }
}

criterion_group!(compare, benches);

fn main() {
    compare();
    Criterion::default().configure_from_args().final_summary();
}
