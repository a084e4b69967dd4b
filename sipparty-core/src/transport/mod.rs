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
use std::ops::Deref;
use std::sync::Arc;

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
    /// The serialized message (or a keep-alive); read it as `&[u8]`
    /// (`&t.bytes` or `t.bytes.as_ref()`).
    pub bytes: Payload,
}

/// The bytes of a [`Transmit`]: owned outright, or shared with the
/// transaction that keeps them to send again (a request retransmitted by
/// Timer A or E, a final response resent for each retransmitted request,
/// RFC 3261 section 17), so no output copies the message. Cloning a
/// shared payload copies a pointer; the bytes are never changed.
///
/// ```
/// use sipparty_core::transport::Payload;
/// let p = Payload::from(b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec());
/// assert_eq!(&p[..7], b"OPTIONS");
/// assert_eq!(p.into_vec().len(), 25);
/// ```
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<u8>),
    Shared(Arc<Vec<u8>>),
}

impl Payload {
    /// The bytes as a vector: no copy when owned or no longer shared.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Owned(v) => v,
            Repr::Shared(a) => Arc::try_unwrap(a).unwrap_or_else(|a| a.as_ref().clone()),
        }
    }

    /// A second handle on the same bytes; an owned payload becomes shared
    /// first (one small allocation, the bytes are not copied).
    pub(crate) fn share(&mut self) -> Payload {
        if let Repr::Owned(v) = &mut self.0 {
            self.0 = Repr::Shared(Arc::new(std::mem::take(v)));
        }
        self.clone()
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload(Repr::Owned(Vec::new()))
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Owned(v) => v,
            Repr::Shared(a) => a,
        }
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Payload(Repr::Owned(v))
    }
}

impl From<&[u8]> for Payload {
    fn from(v: &[u8]) -> Self {
        Payload(Repr::Owned(v.to_vec()))
    }
}

impl From<Payload> for Vec<u8> {
    fn from(p: Payload) -> Self {
        p.into_vec()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SIP is text: shown as such (lossily), as a `Vec<u8>` would not be.
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<Vec<u8>> for Payload {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl PartialEq<&[u8]> for Payload {
    fn eq(&self, other: &&[u8]) -> bool {
        **self == **other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Payload {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Payload {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_payload_is_the_same_bytes_without_a_copy() {
        let mut p = Payload::from(b"SIP/2.0 200 OK\r\n\r\n".to_vec());
        let q = p.share();
        assert_eq!(p, q);
        // Both handles read the one buffer.
        assert_eq!(p.as_ptr(), q.as_ptr());
        let r = p.share();
        assert_eq!(r.as_ptr(), q.as_ptr());
        drop((p, r));
        // The last handle takes the buffer back without copying it.
        let ptr = q.as_ptr();
        let v = q.into_vec();
        assert_eq!(v.as_ptr(), ptr);
        assert_eq!(v, b"SIP/2.0 200 OK\r\n\r\n");
    }
}
