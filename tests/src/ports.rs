//! Free loopback ports for the peers.
//!
//! Peers are configured with fixed ports in their config files (baresip 1.0
//! cannot report an OS-chosen port back), so the harness picks ports that it
//! can bind right now and hands each out only once per process. Candidates
//! come from 20000..32000, below Linux's ephemeral range (32768..60999), so
//! that client sockets the OS numbers itself rarely collide with them; each
//! process starts at an offset derived from its pid so that two test binaries
//! running side by side walk different parts of the range.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::sync::Mutex;

use crate::error::{Error, Result};

const LOW: u16 = 20_000;
const HIGH: u16 = 32_000;

/// Next candidate port; `None` until first use.
static CURSOR: Mutex<Option<u16>> = Mutex::new(None);

/// True if `port` can be bound on 127.0.0.1 for both UDP and TCP.
fn is_free(port: u16) -> bool {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok()
}

/// Reserves `len` consecutive ports, each free for UDP and TCP on 127.0.0.1,
/// and returns the first.
///
/// # Errors
/// [`Error::NoFreePorts`] when the whole range was walked without success.
pub fn reserve(len: u16, what: &str) -> Result<u16> {
    if len == 0 || len > 100 {
        return Err(Error::Config(format!("cannot reserve {len} ports")));
    }
    // A poisoned lock only means another test panicked while holding it; the
    // cursor is still a valid port number.
    let mut cursor = CURSOR.lock().unwrap_or_else(|p| p.into_inner());
    let span = HIGH - LOW;
    let mut base = cursor.unwrap_or_else(|| LOW + (std::process::id() % u32::from(span)) as u16);
    let mut walked: u32 = 0;
    while walked < u32::from(span) {
        if base.saturating_add(len) > HIGH {
            walked += u32::from(HIGH - base);
            base = LOW;
            continue;
        }
        match (base..base + len).find(|&p| !is_free(p)) {
            None => {
                *cursor = Some(base + len);
                return Ok(base);
            }
            Some(busy) => {
                walked += u32::from(busy - base + 1);
                base = busy + 1;
            }
        }
    }
    Err(Error::NoFreePorts(what.to_owned()))
}

/// One free port (UDP and TCP) on 127.0.0.1.
///
/// # Errors
/// See [`reserve`].
pub fn free_port(what: &str) -> Result<u16> {
    reserve(1, what)
}

/// The transport of a socket to look for in [`is_bound`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proto {
    /// A bound UDP socket.
    Udp,
    /// A listening TCP socket.
    Tcp,
}

/// True if some process has a UDP socket bound to, or a TCP socket listening
/// on, `port` at 127.0.0.1 or 0.0.0.0.
///
/// Reads /proc/net/{udp,tcp} rather than trying to bind, so it cannot race
/// with the process it watches (a probe bind could make that process's own
/// bind fail). Linux only; false elsewhere.
pub fn is_bound(proto: Proto, port: u16) -> bool {
    let (table, listen_state) = match proto {
        Proto::Udp => ("/proc/net/udp", None),
        Proto::Tcp => ("/proc/net/tcp", Some("0A")),
    };
    let Ok(text) = std::fs::read_to_string(table) else {
        return false;
    };
    // "  sl  local_address rem_address   st ..." then
    // "   0: 0100007F:66A0 00000000:0000 07 ...": address in hex, host order.
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    text.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace().skip(1);
        let local = fields.next().unwrap_or("");
        let state = fields.nth(1).unwrap_or("");
        wanted.iter().any(|w| w == local) && listen_state.is_none_or(|s| s == state)
    })
}

/// Waits until [`is_bound`] holds.
///
/// # Errors
/// [`Error::Timeout`] naming `peer`.
pub fn wait_bound(peer: &str, proto: Proto, port: u16, timeout: std::time::Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    while !is_bound(proto, port) {
        if std::time::Instant::now() >= deadline {
            return Err(Error::Timeout {
                peer: peer.to_owned(),
                waited_for: format!("a {proto:?} socket on 127.0.0.1:{port}"),
                log_tail: String::new(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_blocks_are_bindable_and_disjoint() {
        let a = reserve(4, "test").unwrap();
        let b = reserve(4, "test").unwrap();
        assert!(b >= a + 4 || a >= b + 4, "blocks overlap: {a} and {b}");
        for p in a..a + 4 {
            assert!(is_free(p), "port {p} was handed out but is busy");
        }
    }

    #[test]
    fn bound_sockets_are_seen_in_proc() {
        let port = reserve(1, "test").unwrap();
        assert!(!is_bound(Proto::Udp, port));
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        assert!(is_bound(Proto::Udp, port));
        assert!(
            !is_bound(Proto::Tcp, port),
            "a UDP socket is not a TCP listener"
        );
        drop(udp);
        let _tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        assert!(is_bound(Proto::Tcp, port));
    }

    #[test]
    fn a_bound_port_is_skipped() {
        let first = reserve(1, "test").unwrap();
        // Occupy the next candidate; the allocator must step over it.
        let next = first + 1;
        let _hold = UdpSocket::bind((Ipv4Addr::LOCALHOST, next));
        let got = reserve(1, "test").unwrap();
        assert_ne!(got, next);
    }
}
