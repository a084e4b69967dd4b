//! Transaction layer benchmarks.
//!
//! - `non_invite_server/*`: one non-INVITE server transaction on the server
//!   side — request in (already parsed), `Request` event out, 200 sent,
//!   transaction terminated — excluding parsing and the TU's building of
//!   the response. Over TCP it terminates when the response goes (Timer J
//!   is zero); over UDP the bench also fires Timer J.
//! - `invite_client/*`: an INVITE client transaction from send to a 486 and
//!   its ACK.
//! - On-CPU time per server transaction (`/proc/thread-self/schedstat`),
//!   printed before the timings: robust to a loaded machine, unlike wall
//!   clock.
//! - Memory per live transaction: printed before the timings, measured with
//!   a counting global allocator as live heap bytes with N transactions
//!   open, divided by N, minus the message each retains.
//!
//! Run: `cargo bench -p sipparty-core --bench transaction -- --warm-up-time 1 --measurement-time 3`

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, BatchSize, Criterion};
use sipparty_core::message::Message;
use sipparty_core::transaction::{TransactionConfig, TransactionEvent, TransactionLayer};
use sipparty_core::Transport;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCS, LIVE};

fn source() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}

fn request(method: &str, n: usize) -> Message {
    let text = format!(
        "{method} sip:bob@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK74bf9{n:08}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Alice\" <sip:alice@127.0.0.1>;tag=9fxced76sl\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: 3848276298220188511@127.0.0.1\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@127.0.0.1:5070>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}

/// One server transaction, start to end.
fn server_round(
    layer: &mut TransactionLayer,
    now: Instant,
    req: Message,
    ok: Message,
    transport: Transport,
) {
    layer.handle_message(now, req, source(), transport);
    let Some(TransactionEvent::Request { id, .. }) = layer.poll_event() else {
        unreachable!("a new request yields a Request event")
    };
    layer.send_response(now, id, ok).unwrap();
    black_box(layer.poll_transmit());
    if transport == Transport::Udp {
        layer.handle_timeout(now + Duration::from_secs(32));
    }
    let Some(TransactionEvent::Terminated { .. }) = layer.poll_event() else {
        unreachable!("the transaction terminated")
    };
}

fn bench_server(c: &mut Criterion) {
    let req = request("OPTIONS", 1);
    let ok = Message::response_to(&req, 200, Some("bobtag"));
    let now = Instant::now();
    let mut group = c.benchmark_group("non_invite_server");
    for transport in [Transport::Tcp, Transport::Udp] {
        let mut layer = TransactionLayer::new(TransactionConfig::default());
        group.bench_function(format!("{transport}"), |b| {
            b.iter_batched(
                || (req.clone(), ok.clone()),
                |(req, ok)| server_round(&mut layer, now, req, ok, transport),
                BatchSize::SmallInput,
            )
        });
    }
    // For reference: what the layer decodes from the message (the top Via
    // and CSeq), which is the message layer's parsing.
    group.bench_function("decode_top_via_and_cseq", |b| {
        b.iter(|| {
            let via = req.top_via().map(|v| v.map(|v| v.branch().map(str::len)));
            (
                black_box(via),
                black_box(req.cseq().map(|c| c.map(|c| c.seq))),
            )
        })
    });
    group.finish();

    // Allocations per server transaction (outside criterion's timing).
    let mut layer = TransactionLayer::new(TransactionConfig::default());
    for transport in [Transport::Tcp, Transport::Udp] {
        // Warm the tables' capacity first.
        server_round(&mut layer, now, req.clone(), ok.clone(), transport);
        let (r, o) = (req.clone(), ok.clone());
        let before = ALLOCS.load(Ordering::Relaxed);
        server_round(&mut layer, now, r, o, transport);
        let after = ALLOCS.load(Ordering::Relaxed);
        println!(
            "non_invite_server/{transport}: {} heap allocations per transaction",
            after - before
        );
    }
}

fn bench_client(c: &mut Criterion) {
    let invite = request("INVITE", 2);
    let busy = Message::response_to(&invite, 486, Some("bobtag"));
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TransactionConfig::default());
    c.bench_function("invite_client/udp_486_ack", |b| {
        b.iter_batched(
            || (invite.clone(), busy.clone()),
            |(invite, busy)| {
                let id = layer
                    .send_request(now, invite, source(), Transport::Udp)
                    .unwrap();
                black_box(layer.poll_transmit());
                layer.handle_message(now, busy, source(), Transport::Udp);
                black_box(layer.poll_transmit()); // the ACK
                layer.handle_timeout(now + Duration::from_secs(32));
                while let Some(e) = layer.poll_event() {
                    black_box(e);
                }
                debug_assert!(!layer.contains(id));
            },
            BatchSize::SmallInput,
        )
    });
}

/// Live heap bytes per transaction with `n` open, minus what each retains
/// of its message.
fn memory_report() {
    const N: usize = 10_000;
    let now = Instant::now();

    // Non-INVITE server transactions in Completed (holding the final
    // response for retransmission).
    let requests: Vec<Message> = (0..N).map(|n| request("OPTIONS", n)).collect();
    let responses: Vec<Message> = requests
        .iter()
        .map(|r| Message::response_to(r, 200, Some("bobtag")))
        .collect();
    let retained: usize = responses.iter().map(|r| r.to_bytes().len()).sum::<usize>() / N;
    let mut layer = TransactionLayer::new(TransactionConfig {
        max_transactions: N,
        ..TransactionConfig::default()
    });
    let before = LIVE.load(Ordering::Relaxed);
    // Clones, so the input vectors stay allocated across the measurement.
    for (req, ok) in requests.iter().cloned().zip(responses.iter().cloned()) {
        layer.handle_message(now, req, source(), Transport::Udp);
        let Some(TransactionEvent::Request { id, .. }) = layer.poll_event() else {
            unreachable!()
        };
        layer.send_response(now, id, ok).unwrap();
        black_box(layer.poll_transmit());
    }
    let per = (LIVE.load(Ordering::Relaxed) - before) as usize / N;
    println!(
        "memory: non-INVITE server in Completed: {per} bytes per transaction, \
         of which {retained} retained response, {} overhead",
        per.saturating_sub(retained)
    );
    assert_eq!(layer.len(), N);
    drop(layer);

    // INVITE client transactions in Calling (holding the INVITE).
    let invites: Vec<Message> = (0..N).map(|n| request("INVITE", n)).collect();
    let retained: usize = invites.iter().map(|r| r.to_bytes().len()).sum::<usize>() / N;
    let mut layer = TransactionLayer::new(TransactionConfig {
        max_transactions: N,
        ..TransactionConfig::default()
    });
    let before = LIVE.load(Ordering::Relaxed);
    for invite in invites.iter().cloned() {
        layer
            .send_request(now, invite, source(), Transport::Udp)
            .unwrap();
        black_box(layer.poll_transmit());
    }
    let per = (LIVE.load(Ordering::Relaxed) - before) as usize / N;
    println!(
        "memory: INVITE client in Calling: {per} bytes per transaction, \
         of which {retained} retained request, {} overhead",
        per.saturating_sub(retained)
    );
    assert_eq!(layer.len(), N);
}

/// Nanoseconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`),
/// or `None` elsewhere. On a shared, loaded machine wall-clock timings
/// include time spent waiting for a core; on-CPU time does not.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// On-CPU time per server transaction, less the cost of cloning its inputs,
/// and the share of it spent decoding the top Via and CSeq.
fn cpu_report() {
    const N: u32 = 300_000;
    let req = request("OPTIONS", 1);
    let ok = Message::response_to(&req, 200, Some("bobtag"));
    let now = Instant::now();
    let per = |f: &mut dyn FnMut()| -> Option<f64> {
        let start = cpu_ns()?;
        for _ in 0..N {
            f();
        }
        Some((cpu_ns()? - start) as f64 / f64::from(N))
    };
    let Some(clone) = per(&mut || {
        black_box((req.clone(), ok.clone()));
    }) else {
        println!("cpu: /proc/thread-self/schedstat unavailable, skipped");
        return;
    };
    let decode = per(&mut || {
        let r = req.clone();
        black_box(r.top_via().map(|v| v.map(|v| v.branch().map(str::len))));
        black_box(r.cseq().map(|c| c.map(|c| c.seq)));
        black_box((r, ok.clone()));
    })
    .unwrap_or(f64::NAN);
    for transport in [Transport::Tcp, Transport::Udp] {
        let mut layer = TransactionLayer::new(TransactionConfig::default());
        let full = per(&mut || {
            server_round(&mut layer, now, req.clone(), ok.clone(), transport);
        })
        .unwrap_or(f64::NAN);
        println!(
            "cpu: non_invite_server/{transport}: {:.0} ns on-CPU per transaction \
             (input clones excluded), of which {:.0} ns decoding top Via + CSeq",
            full - clone,
            decode - clone
        );
    }
}

criterion_group!(benches, bench_server, bench_client);

fn main() {
    memory_report();
    cpu_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
