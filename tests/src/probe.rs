//! A SIP OPTIONS probe over UDP, to learn when a peer is up.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Sends one OPTIONS to `addr` over UDP and returns the status line of the
/// first response that arrives within `wait` (`None` if none did).
///
/// # Errors
/// [`Error::Io`] if the probe socket cannot be set up.
pub fn options(addr: SocketAddr, wait: Duration) -> Result<Option<String>> {
    static SEQ: AtomicU32 = AtomicU32::new(1);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("binding the probe socket", e))?;
    let local = socket
        .local_addr()
        .map_err(|e| Error::io("probe address", e))?;
    let probe = format!(
        "OPTIONS sip:{addr} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-harness-probe-{pid}-{seq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:harness@{local}>;tag=probe{seq}\r\n\
         To: <sip:{addr}>\r\n\
         Call-ID: harness-probe-{pid}-{seq}@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        pid = std::process::id(),
    );
    // A send error (e.g. ICMP port unreachable from an earlier try) just
    // means "not up yet".
    let _ = socket.send_to(probe.as_bytes(), addr);
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| Error::io("setting the probe timeout", e))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == addr && buf[..n].starts_with(b"SIP/2.0 ") => {
                let text = String::from_utf8_lossy(&buf[..n]);
                return Ok(text.lines().next().map(str::to_owned));
            }
            Ok(_) => continue,
            // Timeout, or the port is closed (ECONNREFUSED from ICMP).
            Err(_) => {
                std::thread::sleep(left.min(Duration::from_millis(20)));
                return Ok(None);
            }
        }
    }
}

/// Probes `addr` with OPTIONS until any SIP response comes back.
///
/// # Errors
/// [`Error::Timeout`] naming `peer` when nothing answered within `timeout`.
pub fn wait_for_sip(peer: &str, addr: SocketAddr, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = options(addr, Duration::from_millis(100))? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                peer: peer.to_owned(),
                waited_for: format!("a SIP response to OPTIONS on {addr}"),
                log_tail: String::new(),
            });
        }
    }
}
