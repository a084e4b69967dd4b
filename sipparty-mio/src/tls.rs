//! TLS for SIP over TCP (`sips:`, `transport=tls`, RFC 3261 section 26.2)
//! with rustls. The configuration ([`TlsConfig`]) and the sans-IO sessions
//! come from the core's `transport::tls`; the event loop owns the socket,
//! and a [`TlsSession`] only turns records into plaintext and back.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use sipparty_core::transport::tls::rustls;
pub use sipparty_core::transport::tls::TlsConfig;

/// A client session towards `peer`, verified against its IP address.
pub(crate) fn client(config: &TlsConfig, peer: SocketAddr) -> io::Result<TlsSession> {
    let conn = config.client_session(peer).map_err(io::Error::other)?;
    Ok(TlsSession {
        conn: rustls::Connection::Client(conn),
    })
}

/// A server session for an accepted connection.
pub(crate) fn server(config: &TlsConfig) -> io::Result<TlsSession> {
    let conn = config
        .server_session()
        .map_err(|e| io::Error::new(io::ErrorKind::Unsupported, e))?;
    Ok(TlsSession {
        conn: rustls::Connection::Server(conn),
    })
}

/// One connection's TLS state.
pub(crate) struct TlsSession {
    conn: rustls::Connection,
}

impl TlsSession {
    /// Whether the handshake is still going on.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Plaintext to send; rustls holds it until the handshake is done.
    pub(crate) fn write_plain(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.conn.writer().write_all(bytes)
    }

    /// Records read from the socket; returns the plaintext they carried.
    pub(crate) fn read_tls(&mut self, mut bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut plain = Vec::new();
        while !bytes.is_empty() {
            let n = self.conn.read_tls(&mut bytes)?;
            self.conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            // Take the plaintext out each round so rustls' buffer never
            // fills.
            let mut chunk = [0u8; 16 * 1024];
            loop {
                match self.conn.reader().read(&mut chunk) {
                    Ok(0) => break,
                    Ok(k) => plain.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if n == 0 {
                break;
            }
        }
        Ok(plain)
    }

    /// Move records waiting to be sent into `out`.
    pub(crate) fn pending_records(&mut self, out: &mut VecDeque<u8>) {
        let mut v = Vec::new();
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut v) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.extend(v);
    }
}
