//! Party benchmarks.
//!
//! - `call/no_media` and `call/with_sdp`: one complete call between two
//!   Parties, both sides' processing together: INVITE, 180, 200, ACK, BYE,
//!   200, each message serialized, parsed and handled, and the transaction
//!   timers run out afterwards (the virtual clock jumps 40 s) so the call
//!   leaves nothing behind. Datagrams go straight from one Party to the
//!   other (no simulator in the measurement). `with_sdp` adds the offer and
//!   answer but not the RTP stream.
//! - Memory: printed before the timings. N calls are established and left
//!   confirmed, transactions expired, then the live heap (counting global
//!   allocator) is divided by N for each side; then 100,000 concurrent
//!   confirmed dialogs in one Party.
//!
//! Run: `cargo bench -p sipparty-core --bench party -- --warm-up-time 1 --measurement-time 3`
//!
//! Instruction counts (repeatable on a loaded machine): with
//! `SIPPARTY_BENCH_CALLS=N` (and `SIPPARTY_BENCH_SDP=1` for the SDP case)
//! the binary runs one warm-up call, then N calls, prints the allocations
//! per call and exits; run it under
//! `valgrind --tool=callgrind` with N = 0 and N = 1000 and divide the
//! difference by 1000. `SIPPARTY_BENCH_EARLY_MEDIA=1` with the SDP case
//! makes the callee answer in a 183 first (early media).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{black_box, Criterion};
use sipparty_core::party::{CallPolicy, Input, InviteOptions, Output, Party};
use sipparty_core::Transport;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCS, LIVE};

// Built, not parsed: the pump calls these in its loop, and parsing text
// would be counted as the Parties' work.
fn alice_addr() -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 5060)
}
fn bob_addr() -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 5070)
}

fn pair(media: bool) -> (Party, Party) {
    let mk = |aor: &str| {
        let mut p = if media {
            Party::single_rtp_session_simple(aor).unwrap()
        } else {
            Party::no_media_simple_calls(aor).unwrap()
        };
        p.config_mut().run_media = false;
        p.config_mut().user_agent = None;
        // Room for 10,000 concurrent calls' RTP ports.
        p.set_rtp_ports(10_000, 60_000);
        p
    };
    let mut a = mk("alice@atlanta.com");
    let mut b = mk("bob@biloxi.com");
    a.set_local_address(Transport::Udp, alice_addr());
    b.set_local_address(Transport::Udp, bob_addr());
    // Ring, then answer at the next timer run.
    b.set_policy(CallPolicy::RingThenAnswer {
        delay: Duration::ZERO,
    });
    (a, b)
}

/// Move datagrams between the two parties until neither has anything to
/// send, running due timers at `now`.
fn pump(a: &mut Party, b: &mut Party, now: Instant) {
    loop {
        let moved = forward(a, alice_addr(), b, now) + forward(b, bob_addr(), a, now);
        if moved == 0 {
            a.handle_input(Input::Timeout(now));
            b.handle_input(Input::Timeout(now));
            if forward(a, alice_addr(), b, now) + forward(b, bob_addr(), a, now) == 0 {
                return;
            }
        }
    }
}

fn forward(from: &mut Party, from_addr: SocketAddr, to: &mut Party, now: Instant) -> usize {
    let mut n = 0;
    loop {
        match from.poll_output() {
            Output::Transmit(t) => {
                n += 1;
                to.handle_input(Input::Datagram {
                    now,
                    transport: Transport::Udp,
                    source: from_addr,
                    destination: t.destination,
                    bytes: &t.bytes,
                });
            }
            Output::Event(e) => {
                // By reference: moving the 152-byte event into `black_box` made
                // the compiler copy it byte by byte, ~7k instructions per call
                // that were the harness's, not the Parties'.
                black_box(&e);
            }
            Output::MediaTransmit(_) => {}
            _ => return n,
        }
    }
}

/// One complete call; returns the time after the cleanup.
fn call(a: &mut Party, b: &mut Party, mut now: Instant) -> Instant {
    let id = a
        .invite(now, "bob@127.0.0.1:5070", InviteOptions::default())
        .unwrap();
    pump(a, b, now);
    a.dialog(id).unwrap().terminate(now).unwrap();
    pump(a, b, now);
    // Let Timers K, J, L, M... run out.
    now += Duration::from_secs(40);
    pump(a, b, now);
    now
}

fn bench_calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("call");
    for (name, media) in [("no_media", false), ("with_sdp", true)] {
        let (mut a, mut b) = pair(media);
        let mut now = Instant::now();
        // Check once that a call really completes and leaves nothing.
        now = call(&mut a, &mut b, now);
        assert!(a.is_idle() && b.is_idle(), "a call left state behind");
        let allocs = ALLOCS.load(Ordering::Relaxed);
        now = call(&mut a, &mut b, now);
        let per_call = ALLOCS.load(Ordering::Relaxed) - allocs;
        println!("call/{name}: {per_call} heap allocations per complete call (both sides)");
        // CPU time, not wall time: the build machine is shared and loaded,
        // so criterion's wall-clock figures below overstate the cost.
        let (cpu0, t0) = (thread_cpu(), std::time::Instant::now());
        const CALLS: u32 = 5_000;
        for _ in 0..CALLS {
            now = call(&mut a, &mut b, now);
        }
        match (cpu0, thread_cpu()) {
            (Some(c0), Some(c1)) => println!(
                "call/{name}: {:.1?} CPU per complete call, both sides ({CALLS} calls; wall {:.1?})",
                (c1 - c0) / CALLS,
                t0.elapsed() / CALLS
            ),
            _ => println!("call/{name}: {:.1?} wall per call", t0.elapsed() / CALLS),
        }
        group.bench_function(name, |bench| {
            bench.iter(|| {
                now = call(&mut a, &mut b, now);
            })
        });
    }
    group.finish();
}

/// Establish `n` calls from `a` to `b`, one a second of virtual time (so
/// the transaction tables hold a minute's worth, not all `n`), and leave
/// them confirmed with every transaction expired.
fn establish(a: &mut Party, b: &mut Party, n: usize, mut now: Instant) -> Instant {
    for _ in 0..n {
        a.invite(now, "bob@127.0.0.1:5070", InviteOptions::default())
            .unwrap();
        pump(a, b, now);
        now += Duration::from_secs(1);
    }
    now += Duration::from_secs(40);
    pump(a, b, now);
    assert_eq!(a.dialog_count(), n);
    assert_eq!(b.dialog_count(), n);
    assert_eq!(a.transaction_count() + b.transaction_count(), 0);
    now
}

/// CPU time of this thread so far (Linux: /proc/thread-self/schedstat,
/// nanoseconds on CPU).
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn memory_report() {
    for (label, media) in [("no media", false), ("with SDP", true)] {
        const N: usize = 10_000;
        let (a, b) = pair(media);
        let base = live();
        let (mut a, mut b) = (a, b);
        establish(&mut a, &mut b, N, Instant::now());
        let both = live() - base;
        drop(a);
        let b_only = live() - base;
        let a_only = both - b_only;
        println!(
            "memory per confirmed dialog ({label}): caller {} B, callee {} B (N = {N})",
            a_only / N as isize,
            b_only / N as isize
        );
        drop(b);
    }
    const BIG: usize = 100_000;
    let (a, b) = pair(false);
    let base = live();
    let (mut a, mut b) = (a, b);
    let start = std::time::Instant::now();
    establish(&mut a, &mut b, BIG, Instant::now());
    let both = live() - base;
    drop(a);
    let b_only = live() - base;
    println!(
        "{BIG} concurrent confirmed dialogs: callee Party {:.1} MiB, caller Party {:.1} MiB (set up in {:.2?})",
        b_only as f64 / (1 << 20) as f64,
        (both - b_only) as f64 / (1 << 20) as f64,
        start.elapsed()
    );
    drop(b);
}

/// `SIPPARTY_BENCH_CALLS=N`: N calls and nothing else, for callgrind.
/// `SIPPARTY_BENCH_EARLY_MEDIA=1` (with `SIPPARTY_BENCH_SDP=1`): the callee
/// answers in a 183 (early media) before its 200.
fn calls_only(n: u32) {
    let media = std::env::var_os("SIPPARTY_BENCH_SDP").is_some();
    let (mut a, mut b) = pair(media);
    if std::env::var_os("SIPPARTY_BENCH_EARLY_MEDIA").is_some() {
        b.config_mut().early_media = true;
    }
    let mut now = Instant::now();
    now = call(&mut a, &mut b, now);
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let cpu0 = thread_cpu();
    for _ in 0..n {
        now = call(&mut a, &mut b, now);
    }
    assert!(a.is_idle() && b.is_idle(), "a call left state behind");
    if n > 0 {
        let per_call = (ALLOCS.load(Ordering::Relaxed) - allocs) as f64 / f64::from(n);
        let cpu = match (cpu0, thread_cpu()) {
            (Some(c0), Some(c1)) => format!("{:.1?}", (c1 - c0) / n),
            _ => "?".into(),
        };
        println!("{n} calls (sdp: {media}): {per_call:.1} allocations, {cpu} CPU per call");
    }
}

/// `SIPPARTY_BENCH_CLOSES=N`: a transaction layer holding 1,000 live
/// INVITE server transactions, each from its own TCP connection, told N
/// times that another connection closed: the cost of finding a closed
/// connection's transactions (a scan of them all), for callgrind.
fn closes_only(n: u32) {
    use sipparty_core::message::Message;
    use sipparty_core::transaction::{TransactionConfig, TransactionLayer};
    const LIVE_TXS: u16 = 1_000;
    let mut layer = TransactionLayer::new(TransactionConfig::default());
    let now = Instant::now();
    for i in 0..LIVE_TXS {
        let port = 20_000 + i;
        let text = format!(
            "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bK{i:08}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1>;tag=a{i}\r\n\
             To: <sip:bob@127.0.0.1>\r\n\
             Call-ID: {i}@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:alice@127.0.0.1:{port};transport=tcp>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let msg = Message::parse(text.as_bytes()).unwrap();
        let source = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        layer.handle_message(now, msg, source, Transport::Tcp);
    }
    while layer.poll_event().is_some() {}
    while layer.poll_transmit().is_some() {}
    assert_eq!(layer.len(), usize::from(LIVE_TXS));
    let gone = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 19_999);
    for _ in 0..n {
        layer.connection_closed(now, black_box(gone), Transport::Tcp);
    }
    assert_eq!(layer.len(), usize::from(LIVE_TXS));
}

fn main() {
    if let Some(n) = std::env::var("SIPPARTY_BENCH_CLOSES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        closes_only(n);
        return;
    }
    if let Some(n) = std::env::var("SIPPARTY_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        calls_only(n);
        return;
    }
    // Profiling the call alone: SIPPARTY_BENCH_NO_MEMORY=1.
    if std::env::var_os("SIPPARTY_BENCH_NO_MEMORY").is_none() {
        memory_report();
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_calls(&mut c);
    c.final_summary();
}
