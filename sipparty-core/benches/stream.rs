//! Stream framing benchmarks: what a TCP/TLS message costs from the
//! connection's bytes to a parsed [`Message`], on the 725-byte INVITE of
//! `samples/invite.sip` (its Content-Length covers its 149-byte SDP).
//!
//! - `frame/parse_stream`: finding the message's end with the full stream
//!   parser, as the drivers' framer did before (its view was thrown away).
//! - `frame/scan`: [`StreamFramer`] as now: push the bytes, find the end of
//!   the header section and the Content-Length, lend the message.
//! - `frame/*_16_byte_reads`: the same message arriving 16 bytes per read
//!   (a slow or hostile peer): the parser started over after each read,
//!   the scan resumes where it stopped.
//! - `to_message/two_parses`: the old path whole: framing by parse, a copy
//!   out, then the Party's `Message::parse` of that copy.
//! - `to_message/scan_then_parse`: the drivers' path now: framing by scan,
//!   the message borrowed, parsed once (`Input::Datagram`).
//! - `to_message/next_parsed`: the core's own path (`Input::StreamData`).
//! - `to_message/parse_only`: `Message::parse` alone, the floor.
//!
//! Heap allocations per operation are printed first.
//!
//! Run: `cargo bench -p sipparty-core --bench stream -- --warm-up-time 1 --measurement-time 2`
//!
//! Instruction counts: `SIPPARTY_BENCH_STREAM=<case>:<n>` runs one case
//! n times and exits (cases: `two_parses`, `scan_then_parse`,
//! `next_parsed`, `parse_only`, and framing alone: `frame_by_parse`,
//! `frame_by_scan`, `trickle_by_parse`, `trickle_by_scan`); run it under `valgrind --tool=callgrind`
//! with n = 0 and n = 10000 and divide the difference by 10,000.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use sipparty_core::message::{parse_stream, Limits, Message, Status};
use sipparty_core::transport::stream::{FrameRef, ParsedFrame, StreamFramer};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocs_per_op;

const INVITE: &[u8] = include_bytes!("../../samples/invite.sip");

/// The old framing: the full stream parse, kept only for its length.
fn frame_by_parse(buf: &mut Vec<u8>, limits: &Limits) -> usize {
    buf.clear();
    buf.extend_from_slice(black_box(INVITE));
    match parse_stream(buf, limits) {
        Ok(Status::Complete((_, used))) => used,
        other => panic!("the sample frames: {other:?}"),
    }
}

/// The old path: framed by a parse, copied out, parsed again.
fn two_parses(buf: &mut Vec<u8>, limits: &Limits) -> Message {
    let used = frame_by_parse(buf, limits);
    let framed = buf[..used].to_vec();
    Message::parse(&framed).expect("the sample parses")
}

fn frame_by_scan(framer: &mut StreamFramer) -> usize {
    framer.push(black_box(INVITE));
    match framer.next_frame_ref() {
        Ok(Some(FrameRef::Message(m))) => m.len(),
        other => panic!("the sample frames: {other:?}"),
    }
}

/// The drivers' path now: framed by a scan, parsed once.
fn scan_then_parse(framer: &mut StreamFramer) -> Message {
    framer.push(black_box(INVITE));
    match framer.next_frame_ref() {
        Ok(Some(FrameRef::Message(m))) => Message::parse(m).expect("the sample parses"),
        other => panic!("the sample frames: {other:?}"),
    }
}

/// The core's path (`Input::StreamData`).
fn next_parsed(framer: &mut StreamFramer) -> Message {
    framer.push(black_box(INVITE));
    match framer.next_parsed() {
        Ok(Some(ParsedFrame::Message(m))) => m,
        other => panic!("the sample frames: {other:?}"),
    }
}

/// Reads of this many bytes in the trickle cases.
const TRICKLE: usize = 16;

/// The old framing, the message arriving in small reads: parsed from its
/// start after each read until whole.
fn trickle_by_parse(buf: &mut Vec<u8>, limits: &Limits) -> usize {
    buf.clear();
    for chunk in black_box(INVITE).chunks(TRICKLE) {
        buf.extend_from_slice(chunk);
        if let Ok(Status::Complete((_, used))) = parse_stream(buf, limits) {
            return used;
        }
    }
    panic!("the sample frames")
}

/// Framing now, the message arriving in small reads: the scan resumes.
fn trickle_by_scan(framer: &mut StreamFramer) -> usize {
    for chunk in black_box(INVITE).chunks(TRICKLE) {
        framer.push(chunk);
        if let Ok(Some(FrameRef::Message(m))) = framer.next_frame_ref() {
            return m.len();
        }
    }
    panic!("the sample frames")
}

fn parse_only() -> Message {
    Message::parse(black_box(INVITE)).expect("the sample parses")
}

/// One case `n` times, for callgrind.
fn run_case(case: &str, n: usize) {
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut framer = StreamFramer::new();
    let mut op: Box<dyn FnMut() -> Message> = match case {
        "two_parses" => Box::new(|| two_parses(&mut buf, &limits)),
        "scan_then_parse" => Box::new(|| scan_then_parse(&mut framer)),
        "next_parsed" => Box::new(|| next_parsed(&mut framer)),
        "parse_only" => Box::new(parse_only),
        // Framing alone (the message is dropped unparsed).
        "frame_by_parse" => {
            for _ in 0..=n {
                black_box(frame_by_parse(&mut buf, &limits));
            }
            return;
        }
        "frame_by_scan" => {
            for _ in 0..=n {
                black_box(frame_by_scan(&mut framer));
            }
            return;
        }
        "trickle_by_parse" => {
            for _ in 0..=n {
                black_box(trickle_by_parse(&mut buf, &limits));
            }
            return;
        }
        "trickle_by_scan" => {
            for _ in 0..=n {
                black_box(trickle_by_scan(&mut framer));
            }
            return;
        }
        other => panic!("unknown case {other}"),
    };
    // One warm-up: buffers grown, lazies initialised.
    black_box(op());
    for _ in 0..n {
        black_box(op());
    }
}

fn main() {
    if let Ok(spec) = std::env::var("SIPPARTY_BENCH_STREAM") {
        let (case, n) = spec.split_once(':').expect("<case>:<n>");
        run_case(case, n.parse().expect("a count"));
        return;
    }
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut framer = StreamFramer::new();
    println!(
        "allocations per message: two_parses {:.1}, scan_then_parse {:.1}, next_parsed {:.1}, parse_only {:.1}",
        allocs_per_op(|| drop(two_parses(&mut buf, &limits))),
        allocs_per_op(|| drop(scan_then_parse(&mut framer))),
        allocs_per_op(|| drop(next_parsed(&mut framer))),
        allocs_per_op(|| drop(parse_only())),
    );
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut g = c.benchmark_group("frame");
    g.bench_function("parse_stream", |b| {
        b.iter(|| frame_by_parse(&mut buf, &limits))
    });
    g.bench_function("scan", |b| b.iter(|| frame_by_scan(&mut framer)));
    g.bench_function("parse_stream_16_byte_reads", |b| {
        b.iter(|| trickle_by_parse(&mut buf, &limits))
    });
    g.bench_function("scan_16_byte_reads", |b| {
        b.iter(|| trickle_by_scan(&mut framer))
    });
    g.finish();
    let mut g = c.benchmark_group("to_message");
    g.bench_function("two_parses", |b| b.iter(|| two_parses(&mut buf, &limits)));
    g.bench_function("scan_then_parse", |b| {
        b.iter(|| scan_then_parse(&mut framer))
    });
    g.bench_function("next_parsed", |b| b.iter(|| next_parsed(&mut framer)));
    g.bench_function("parse_only", |b| b.iter(parse_only));
    g.finish();
    c.final_summary();
}
