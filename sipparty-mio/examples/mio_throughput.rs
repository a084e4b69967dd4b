//! Call throughput over loopback UDP between two processes.
//!
//! ```text
//! cargo run --release -p sipparty-mio --example mio_throughput -- [SECONDS] [IN_FLIGHT] [THREADS]
//! ```
//!
//! The process re-executes itself as the answering side (a
//! `NoMediaSimpleCallsParty`-like party auto-answering on its own socket), then places
//! calls with another (signalling only, T1 20 ms) for SECONDS (default 30), keeping
//! IN_FLIGHT calls (default 256) going from THREADS application threads
//! (default 2). A call counts as complete when the 200 OK of its BYE
//! arrives (the dialog is `Terminated`); anything else is a failure. Each
//! side reports its CPU time (user + system, the counters getrusage(2)
//! reads, taken from /proc/self/stat) and CPU per call.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipparty_mio::{Dialog, DialogState, Endpoint, InviteOptions, Party, PartyConfig, Transport};

/// Loopback is a closed network with a round trip of microseconds: RFC 3261
/// section 17.1.1.1 lets T1 be chosen smaller there. With the defaults
/// (T1 500 ms, T4 5 s) each completed call keeps its INVITE and BYE
/// transactions for 32 s + 5 s (Timers M, L, J, K), which at thousands of
/// calls a second overflows the core's transaction table (10,000 entries,
/// not yet configurable through the Party).
fn loopback_party(aor: &str) -> Result<Party, sipparty_mio::Error> {
    // A NoMediaSimpleCallsParty with other timers: the transaction layer
    // takes them when the Party is made.
    let mut config = PartyConfig::new(aor)?;
    // T1 20 ms: a finished call's transactions linger 64*T1 = 1.28 s
    // (50 ms made it 3.2 s, and at 5,600 calls/s the callee's tables
    // filled: 503s). Still far above a loaded machine's run-queue waits.
    config.timers.t1 = Duration::from_millis(20);
    config.timers.t4 = Duration::from_millis(200);
    Ok(Party::new(config))
}

/// Parties per side. Each Party has its own transaction table (10,000
/// entries); at 7,000 calls/s with T1 = 20 ms a side holds about 18,000
/// transactions in their wait states, so the load is spread over
/// several parties sharing one socket, as an endpoint serving many users
/// would.
const PARTIES: usize = 6;

#[path = "common/proc_stats.rs"]
mod proc_stats;
use proc_stats::{cpu_time, run_queue_wait};

fn answer() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = Endpoint::bind("127.0.0.1:0".parse()?)?;
    let mut bobs = Vec::new();
    for i in 0..PARTIES {
        let bob = loopback_party(&format!("bob{i}@biloxi.com"))?;
        bob.attach(&endpoint)?;
        bobs.push(bob);
    }
    let addr = endpoint.local_addr(Transport::Udp).ok_or("no address")?;
    println!("{addr}");
    std::io::stdout().flush()?;
    // Run until the caller closes our stdin, then report our CPU.
    let start_cpu = cpu_time();
    let start_wait = run_queue_wait();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    println!(
        "{} {}",
        (cpu_time() - start_cpu).as_micros(),
        (run_queue_wait() - start_wait).as_micros()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--answer") {
        return answer();
    }
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30);
    let in_flight: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2).max(1);

    let mut child = Command::new(std::env::current_exe()?)
        .arg("--answer")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut child_out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    child_out.read_line(&mut line)?;
    let callee = line.trim().to_string();
    eprintln!("callee at {callee}; {seconds} s, {in_flight} calls in flight, {threads} threads");

    let endpoint = Endpoint::bind("127.0.0.1:0".parse()?)?;
    let mut alices = Vec::new();
    for i in 0..PARTIES {
        let alice = loopback_party(&format!("alice{i}@atlanta.com"))?;
        alice.attach(&endpoint)?;
        alices.push(alice);
    }
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let start_cpu = cpu_time();
    let start_wait = run_queue_wait();
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let alices = alices.clone();
            let callee = callee.clone();
            let mut next = t;
            let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
            let window = in_flight / threads + usize::from(t < in_flight % threads);
            std::thread::spawn(move || {
                let mut calls: Vec<(Dialog, bool)> = Vec::with_capacity(window);
                loop {
                    let stopping = stop.load(Ordering::Relaxed);
                    let mut progressed = false;
                    let mut i = 0;
                    while i < calls.len() {
                        let (d, hung_up) = &mut calls[i];
                        match d.state() {
                            DialogState::InDialog if !*hung_up => {
                                *hung_up = true;
                                progressed = true;
                                if d.terminate().is_err() {
                                    failed.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            DialogState::Terminated => {
                                done.fetch_add(1, Ordering::Relaxed);
                                calls.swap_remove(i);
                                progressed = true;
                                continue;
                            }
                            DialogState::Error => {
                                eprintln!("call failed: {:?}", d.last_error());
                                failed.fetch_add(1, Ordering::Relaxed);
                                calls.swap_remove(i);
                                progressed = true;
                                continue;
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    if stopping {
                        if calls.is_empty() {
                            break;
                        }
                    } else {
                        while calls.len() < window {
                            let k = next % PARTIES;
                            next += 1;
                            let target = format!("sip:bob{k}@{callee}");
                            match alices[k].invite(&target, InviteOptions::default()) {
                                Ok(d) => calls.push((d, false)),
                                Err(e) => {
                                    eprintln!("invite failed: {e}");
                                    failed.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                            }
                            progressed = true;
                        }
                    }
                    if !progressed {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();

    let mut last = 0;
    for s in 1..=seconds {
        std::thread::sleep(Duration::from_secs(1));
        let n = done.load(Ordering::Relaxed);
        eprintln!(
            "{s:>3} s: {:>6} calls/s, {} failed",
            n - last,
            failed.load(Ordering::Relaxed)
        );
        last = n;
    }
    let measured = start.elapsed();
    let completed_in_window = done.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let caller_cpu = cpu_time() - start_cpu;
    let caller_wait = run_queue_wait() - start_wait;
    let total = done.load(Ordering::Relaxed);
    let failures = failed.load(Ordering::Relaxed);

    drop(child.stdin.take());
    let mut line = String::new();
    child_out.read_line(&mut line)?;
    let mut callee = line.split_whitespace().map(|x| x.parse().unwrap_or(0));
    let callee_cpu = Duration::from_micros(callee.next().unwrap_or(0));
    let callee_wait = Duration::from_micros(callee.next().unwrap_or(0));
    let _ = child.wait();

    let rate = completed_in_window as f64 / measured.as_secs_f64();
    println!(
        "completed calls: {total} ({failures} failed) in {:.1} s",
        measured.as_secs_f64()
    );
    println!("rate: {rate:.0} calls/s");
    println!(
        "caller CPU: {:.2} s ({:.1} us/call); callee CPU: {:.2} s ({:.1} us/call)",
        caller_cpu.as_secs_f64(),
        caller_cpu.as_secs_f64() * 1e6 / total.max(1) as f64,
        callee_cpu.as_secs_f64(),
        callee_cpu.as_secs_f64() * 1e6 / total.max(1) as f64,
    );
    println!(
        "waiting for a CPU (runnable, not running): caller {:.2} s, callee {:.2} s",
        caller_wait.as_secs_f64(),
        callee_wait.as_secs_f64()
    );
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
