//! TLS for SIP over TCP (`sips:`, `transport=tls`, RFC 3261 section 26.2)
//! with rustls through tokio-rustls. The application gives the
//! certificates and the trust in a [`TlsConfig`], the core's
//! (`sipparty_core::transport::tls`, the same type `sipparty_mio` uses, so
//! one application sets up both drivers the same way); [`crate::io`] runs
//! the handshakes with these two functions and moves the records.

use std::io;
use std::net::SocketAddr;

use sipparty_core::transport::tls::server_name;
pub use sipparty_core::transport::tls::TlsConfig;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

/// The handshake of a connection we open towards `peer`, whose certificate
/// is verified against its IP address
/// ([`server_name`](sipparty_core::transport::tls::server_name)).
pub(crate) async fn connect(
    config: &TlsConfig,
    tcp: TcpStream,
    peer: SocketAddr,
) -> io::Result<TlsStream<TcpStream>> {
    let stream = TlsConnector::from(config.client_config().clone())
        .connect(server_name(peer), tcp)
        .await?;
    Ok(stream.into())
}

/// The handshake of a connection accepted on the TLS listener.
pub(crate) async fn accept(config: &TlsConfig, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
    let server = config
        .server_config()
        .cloned()
        .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no server certificate"))?;
    let stream = TlsAcceptor::from(server).accept(tcp).await?;
    Ok(stream.into())
}
