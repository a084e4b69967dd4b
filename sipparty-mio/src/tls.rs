//! TLS for SIP over TCP (`sips:`, `transport=tls`, RFC 3261 section 26.2)
//! with rustls. The event loop owns the socket; a [`TlsSession`] only turns
//! records into plaintext and back.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

/// Certificates and trust of an endpoint's TLS side.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    server: Option<Arc<ServerConfig>>,
    client: Arc<ClientConfig>,
}

impl TlsConfig {
    /// From rustls configurations made by the application.
    pub fn new(server: Option<Arc<ServerConfig>>, client: Arc<ClientConfig>) -> Self {
        TlsConfig { server, client }
    }

    /// A server with this certificate chain and key that, as a client,
    /// trusts exactly the certificates in `trusted` (DER). Enough for a
    /// private deployment or a test with a certificate made on the spot.
    pub fn with_certificate(
        chain: Vec<Vec<u8>>,
        key_der: Vec<u8>,
        trusted: &[Vec<u8>],
    ) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> =
            chain.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::try_from(key_der).map_err(|e| rustls::Error::General(e.into()))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(TlsConfig {
            server: Some(Arc::new(server)),
            client: Arc::new(Self::client_config(provider, trusted)?),
        })
    }

    /// Client side only: open TLS connections trusting these certificates
    /// (DER).
    pub fn client_trusting(trusted: &[Vec<u8>]) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(TlsConfig {
            server: None,
            client: Arc::new(Self::client_config(provider, trusted)?),
        })
    }

    fn client_config(
        provider: Arc<rustls::crypto::CryptoProvider>,
        trusted: &[Vec<u8>],
    ) -> Result<ClientConfig, rustls::Error> {
        let mut roots = RootCertStore::empty();
        for der in trusted {
            roots.add(CertificateDer::from(der.clone()))?;
        }
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }

    /// A client session towards `peer`, verified against its IP address
    /// (the Request-URI host of a `sips:` URI with an IP literal).
    pub(crate) fn client(&self, peer: SocketAddr) -> io::Result<TlsSession> {
        let name = ServerName::IpAddress(peer.ip().into());
        let conn = ClientConnection::new(self.client.clone(), name).map_err(io::Error::other)?;
        Ok(TlsSession {
            conn: rustls::Connection::Client(conn),
        })
    }

    /// A server session for an accepted connection.
    pub(crate) fn server(&self) -> io::Result<TlsSession> {
        let cfg = self
            .server
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no server certificate"))?;
        let conn = ServerConnection::new(cfg).map_err(io::Error::other)?;
        Ok(TlsSession {
            conn: rustls::Connection::Server(conn),
        })
    }
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
