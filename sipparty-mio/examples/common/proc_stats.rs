//! What the throughput examples of both drivers report about their own
//! process, read from Linux's `/proc` (zero elsewhere). The tokio driver's
//! example includes this file too, so both measure the same way.

use std::time::Duration;

/// User + system CPU time of this process.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line, in clock ticks (USER_HZ, 100
    // on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Time this process's threads spent runnable but waiting for a CPU
/// (the second field of `/proc/self/task/*/schedstat`). On a machine
/// shared with other work this, not the driver, can bound the call rate:
/// a process that is "idle" by its CPU time may in fact be queued.
pub fn run_queue_wait() -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            ns += s
                .split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}
