//! Call throughput of the tokio driver over loopback UDP, two processes.
//!
//! ```text
//! cargo run --release -p sipparty-tokio --example tokio_throughput -- [SECONDS] [IN_FLIGHT]
//! ```
//!
//! The process starts a copy of itself that answers (a signalling-only
//! party answering at once), then places calls for SECONDS (default 30)
//! from IN_FLIGHT (default 8) concurrent tasks, each doing INVITE, wait
//! for the call, BYE, wait for its 200, again. A call counts when its
//! dialog is `Terminated`; any other end is a failure. Both sides report
//! their CPU time (user + system from /proc/self/stat) per call.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipparty_tokio::{DialogState, InviteOptions, Party, PartyConfig};

/// Loopback round trips take microseconds, so T1 may be chosen smaller
/// (RFC 3261 section 17.1.1.1). It also bounds how long a finished call's
/// transactions stay (Timers M, L and J are 64*T1, K is T4).
const T1_MS: u64 = 5;
/// The transaction table's cap: the default 10,000 is sized for an
/// ordinary user agent; at 15,000 calls/s, with two transactions a call
/// lingering up to 64*T1 = 320 ms, a load generator needs more.
const MAX_TRANSACTIONS: usize = 100_000;
fn loopback_config(aor: &str) -> PartyConfig {
    let mut c = PartyConfig::new(aor).expect("a valid AOR");
    c.timers.t1 = Duration::from_millis(T1_MS);
    c.timers.t4 = Duration::from_millis(T1_MS * 50);
    c.max_transactions = MAX_TRANSACTIONS;
    c
}

// The same process figures as the mio driver's example.
#[path = "../../sipparty-mio/examples/common/proc_stats.rs"]
mod proc_stats;
use proc_stats::{cpu_time, run_queue_wait};

async fn answer() -> Result<(), Box<dyn std::error::Error>> {
    let bob = Party::bind(loopback_config("bob@biloxi.com"), "127.0.0.1:0".parse()?).await?;
    println!("{}", bob.local_addr());
    std::io::stdout().flush()?;
    let start = cpu_time();
    let start_wait = run_queue_wait();
    // Run until the caller closes our stdin, then report.
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            line.clear();
        }
    })
    .await?;
    println!(
        "{} {}",
        (cpu_time() - start).as_micros(),
        (run_queue_wait() - start_wait).as_micros()
    );
    Ok(())
}

async fn call(seconds: u64, in_flight: usize) -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("--answer")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    let target = format!("sip:bob@{}", line.trim());

    let alice = Party::bind(loopback_config("alice@atlanta.com"), "127.0.0.1:0".parse()?).await?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let cpu_start = cpu_time();
    let wait_start = run_queue_wait();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..in_flight {
        let (alice, target) = (alice.clone(), target.clone());
        let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                let outcome = async {
                    let d = alice
                        .invite(&target, InviteOptions::default())
                        .await
                        .map_err(|e| format!("invite: {e}"))?;
                    let s = d
                        .wait_for(|s| s == DialogState::InDialog || s.is_final())
                        .await
                        .map_err(|e| format!("wait: {e}"))?;
                    if s != DialogState::InDialog {
                        return Err(format!("setup: {s}: {:?}", d.last_error()));
                    }
                    d.terminate().await.map_err(|e| format!("terminate: {e}"))?;
                    let s = d
                        .wait_for(|s| s.is_final())
                        .await
                        .map_err(|e| format!("wait end: {e}"))?;
                    if s == DialogState::Terminated {
                        Ok(())
                    } else {
                        Err(format!("end: {s}: {:?}", d.last_error()))
                    }
                }
                .await;
                if let Ok(mut l) = latencies.lock() {
                    l.push(began.elapsed());
                }
                match outcome {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(why) => {
                        // The first failures say what went wrong.
                        if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("call failed: {why}");
                        }
                        // Back off instead of failing in a tight loop.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        0
                    }
                };
            }
        }));
    }
    for _ in 0..seconds * 10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if std::env::var_os("THROUGHPUT_VERBOSE").is_some() {
            eprintln!(
                "{} done, {} failed, caller {:?}",
                done.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed),
                alice.stats().await?
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu_start;
    let wait = run_queue_wait() - wait_start;
    drop(child.stdin.take());
    line.clear();
    out.read_line(&mut line)?;
    let mut callee = line.split_whitespace().map(|x| x.parse().unwrap_or(0));
    let callee_cpu = Duration::from_micros(callee.next().unwrap_or(0));
    let callee_wait = Duration::from_micros(callee.next().unwrap_or(0));
    child.wait()?;

    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort();
    let pct = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "call duration (INVITE to 200 of BYE): p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    let done = done.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    let per = |cpu: Duration| cpu.as_secs_f64() * 1e6 / done.max(1) as f64;
    println!(
        "{done} calls in {:.1} s: {:.0} calls/s, {failed} failed",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64()
    );
    println!(
        "caller CPU {:.1} s ({:.0} us/call), callee CPU {:.1} s ({:.0} us/call)",
        cpu.as_secs_f64(),
        per(cpu),
        callee_cpu.as_secs_f64(),
        per(callee_cpu)
    );
    println!(
        "waiting for a CPU (runnable, not running): caller {:.1} s, callee {:.1} s",
        wait.as_secs_f64(),
        callee_wait.as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--answer") {
        return answer().await;
    }
    let seconds = args.first().and_then(|a| a.parse().ok()).unwrap_or(30);
    // More calls in flight add queueing, not throughput (one task per side
    // does the work), and past ~10,000 calls/s the core's transaction
    // table (10,000 entries) fills and new INVITEs fail.
    let in_flight = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    call(seconds, in_flight).await
}
