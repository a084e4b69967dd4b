//! TLS for SIP over TCP (`sips:`, `transport=tls`, RFC 3261 section 26.2)
//! with rustls through tokio-rustls. The application gives the
//! certificates and the trust; [`crate::io`] runs the handshakes and moves
//! the records.
//!
//! The configuration has the shape of `sipparty_mio::TlsConfig`, so one
//! application sets up both drivers the same way.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

/// Certificates and trust of a party's TLS side: the server certificate
/// and key it presents on its TLS listener (optional), and the roots it
/// trusts when it opens TLS connections.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    server: Option<Arc<ServerConfig>>,
    client: Arc<ClientConfig>,
}

impl TlsConfig {
    /// From rustls configurations made by the application (any crypto
    /// provider, client certificates, custom verifiers...).
    pub fn new(server: Option<Arc<ServerConfig>>, client: Arc<ClientConfig>) -> Self {
        TlsConfig { server, client }
    }

    /// A server with this certificate chain and key (DER) that, as a
    /// client, trusts exactly the certificates in `trusted` (DER). Enough
    /// for a private deployment or a test with a certificate made on the
    /// spot.
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
            client: Arc::new(client_config(provider, trusted)?),
        })
    }

    /// Client side only: open TLS connections trusting these certificates
    /// (DER); no TLS listener.
    pub fn client_trusting(trusted: &[Vec<u8>]) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(TlsConfig {
            server: None,
            client: Arc::new(client_config(provider, trusted)?),
        })
    }

    /// Whether there is a server certificate to listen with.
    pub fn has_server(&self) -> bool {
        self.server.is_some()
    }

    /// The handshake of a connection we open towards `peer`. The
    /// certificate is verified against the peer's IP address: the core
    /// hands the driver an address, not the name it was resolved from (the
    /// Request-URI host of a `sips:` URI with an IP literal).
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = ServerName::IpAddress(peer.ip().into());
        let stream = TlsConnector::from(self.client.clone())
            .connect(name, tcp)
            .await?;
        Ok(stream.into())
    }

    /// The handshake of a connection accepted on the TLS listener.
    pub(crate) async fn accept(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        let cfg = self
            .server
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no server certificate"))?;
        let stream = TlsAcceptor::from(cfg).accept(tcp).await?;
        Ok(stream.into())
    }
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
