//! Transports as the core sees them: which kind (UDP, TCP, TLS), and the
//! framing of SIP messages on a byte stream. Sockets live in the drivers.

pub mod connection;
pub mod locate;
pub mod resolve;
pub mod stream;
#[cfg(feature = "tls")]
pub mod tls;

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport protocol (RFC 3261 section 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// UDP: unreliable, one message per datagram, retransmissions by timers.
    Udp,
    /// TCP: reliable stream, framed by Content-Length.
    Tcp,
    /// TLS over TCP (`sips:` or `transport=tls`).
    Tls,
}

impl Transport {
    /// Whether the transport is reliable (RFC 3261 section 17: no
    /// retransmissions, zero wait timers).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The token used in a Via header (`UDP`, `TCP`, `TLS`).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Parse a Via transport token or a `transport=` URI parameter value,
    /// case-insensitively.
    pub fn from_token(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("udp") {
            Some(Transport::Udp)
        } else if token.eq_ignore_ascii_case("tcp") {
            Some(Transport::Tcp)
        } else if token.eq_ignore_ascii_case("tls") {
            Some(Transport::Tls)
        } else {
            None
        }
    }

    /// The default port for this transport (5060, or 5061 for TLS).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            _ => 5060,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Bytes the core wants sent: the driver writes `bytes` to `destination`
/// over `transport` (opening or reusing a connection for TCP/TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Which transport to send over.
    pub transport: Transport,
    /// Where to send.
    pub destination: SocketAddr,
    /// The serialized message (or a keep-alive).
    pub bytes: Vec<u8>,
}
