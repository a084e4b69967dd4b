//! TLS configuration for SIP over TLS (`sips:`, `transport=tls`, RFC 3261
//! section 26.2), shared by both drivers (feature `tls`, off by default).
//!
//! rustls is itself sans-IO: a [`rustls::Connection`] turns records into
//! plaintext and back without touching a socket, so building the
//! configurations and the per-connection sessions belongs here, next to
//! the stream framing, and the drivers only move the records. The default
//! build of the core does not depend on rustls.
//!
//! ```
//! # fn main() -> Result<(), sipparty_core::transport::tls::rustls::Error> {
//! use sipparty_core::transport::tls::TlsConfig;
//!
//! // A client trusting nothing yet has no roots to verify a server with,
//! // but the configuration is valid.
//! let client = TlsConfig::client_trusting(&[])?;
//! assert!(!client.has_server());
//! let session = client.client_session("127.0.0.1:5061".parse().unwrap())?;
//! assert!(session.is_handshaking());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

/// The rustls the configurations are made with, for applications that
/// build their own ([`TlsConfig::new`]).
pub use rustls;

/// Certificates and trust of an endpoint's TLS side: the server
/// certificate and key it presents on its TLS listener (optional), and the
/// roots it trusts when it opens TLS connections. Cheap to clone.
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

    /// The client configuration (for a driver's TLS connector).
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.client
    }

    /// The server configuration, if there is a certificate (for a driver's
    /// TLS acceptor).
    pub fn server_config(&self) -> Option<&Arc<ServerConfig>> {
        self.server.as_ref()
    }

    /// A client session (sans-IO) for a connection we open to `peer`.
    pub fn client_session(&self, peer: SocketAddr) -> Result<ClientConnection, rustls::Error> {
        ClientConnection::new(self.client.clone(), server_name(peer))
    }

    /// A server session (sans-IO) for a connection accepted on the TLS
    /// listener; an error without a server certificate.
    pub fn server_session(&self) -> Result<ServerConnection, rustls::Error> {
        let config = self
            .server
            .clone()
            .ok_or_else(|| rustls::Error::General("no server certificate".into()))?;
        ServerConnection::new(config)
    }
}

/// The name a peer's certificate is verified against: its IP address. The
/// core hands the driver an address, not the name it was resolved from, so
/// a `sips:` URI names its host by an IP literal (RFC 3261 section 26.3.1
/// would verify the domain; that needs the target's host carried to the
/// connection).
pub fn server_name(peer: SocketAddr) -> ServerName<'static> {
    ServerName::IpAddress(peer.ip().into())
}

/// A client configuration with the ring provider, the safe default
/// protocol versions, no client certificate, and exactly `trusted` (DER)
/// as roots.
pub fn client_config_trusting(trusted: &[Vec<u8>]) -> Result<ClientConfig, rustls::Error> {
    client_config(Arc::new(rustls::crypto::ring::default_provider()), trusted)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for 127.0.0.1, ::1 and localhost, valid
    /// from 1975 to 4096, and its PKCS#8 key: test data only.
    const CERT: &[u8] = include_bytes!("testdata/loopback-cert.der");
    const KEY: &[u8] = include_bytes!("testdata/loopback-key.der");

    /// Move the records `from` has to send into `to`; whether there were
    /// any.
    fn carry(
        from: &mut rustls::Connection,
        to: &mut rustls::Connection,
    ) -> Result<bool, rustls::Error> {
        let mut records = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut records).expect("writes to a Vec");
        }
        let mut rd = &records[..];
        while !rd.is_empty() {
            to.read_tls(&mut rd).expect("reads from a slice");
            to.process_new_packets()?;
        }
        Ok(!records.is_empty())
    }

    /// Move records between two sans-IO sessions until neither has any to
    /// send.
    fn pump(
        client: &mut rustls::Connection,
        server: &mut rustls::Connection,
    ) -> Result<(), rustls::Error> {
        for _ in 0..10 {
            let a = carry(client, server)?;
            let b = carry(server, client)?;
            if !a && !b {
                break;
            }
        }
        Ok(())
    }

    fn config() -> TlsConfig {
        TlsConfig::with_certificate(vec![CERT.to_vec()], KEY.to_vec(), &[CERT.to_vec()]).unwrap()
    }

    #[test]
    fn rfc3261_26_2_sessions_from_the_builders_handshake_and_carry_sip() {
        use std::io::{Read, Write};
        let server_side = config();
        let client_side = TlsConfig::client_trusting(&[CERT.to_vec()]).unwrap();
        assert!(server_side.has_server() && !client_side.has_server());
        let peer: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        let mut client = rustls::Connection::Client(client_side.client_session(peer).unwrap());
        let mut server = rustls::Connection::Server(server_side.server_session().unwrap());
        pump(&mut client, &mut server).unwrap();
        assert!(!client.is_handshaking() && !server.is_handshaking());
        client
            .writer()
            .write_all(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n")
            .unwrap();
        pump(&mut client, &mut server).unwrap();
        let mut got = vec![0u8; 64];
        let n = server.reader().read(&mut got).unwrap();
        assert_eq!(&got[..n], b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n");
    }

    #[test]
    fn rfc3261_26_2_a_peer_is_verified_against_its_ip_address() {
        let server_side = config();
        // The certificate names 127.0.0.1, not 127.0.0.2.
        let elsewhere: SocketAddr = "127.0.0.2:5061".parse().unwrap();
        let mut client = rustls::Connection::Client(server_side.client_session(elsewhere).unwrap());
        let mut server = rustls::Connection::Server(server_side.server_session().unwrap());
        assert!(pump(&mut client, &mut server).is_err());
        // Nor is a certificate trusted that is not among the roots.
        let stranger = TlsConfig::client_trusting(&[]).unwrap();
        let peer: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        let mut client = rustls::Connection::Client(stranger.client_session(peer).unwrap());
        let mut server = rustls::Connection::Server(server_side.server_session().unwrap());
        assert!(pump(&mut client, &mut server).is_err());
    }

    #[test]
    fn bad_certificates_and_keys_are_errors_not_panics() {
        assert!(TlsConfig::client_trusting(&[b"not DER".to_vec()]).is_err());
        assert!(
            TlsConfig::with_certificate(vec![CERT.to_vec()], b"not a key".to_vec(), &[]).is_err()
        );
        assert!(client_config_trusting(&[vec![]]).is_err());
        // A client-only configuration cannot serve.
        assert!(TlsConfig::client_trusting(&[])
            .unwrap()
            .server_session()
            .is_err());
        // ...while one with a certificate and key can.
        assert!(config().server_session().is_ok());
    }
}
