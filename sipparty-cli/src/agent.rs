//! Setting up a Party on its own endpoint, as every network command does.

use std::net::SocketAddr;

use sipparty_mio::parties::SingleRtpSessionSimpleParty;
use sipparty_mio::{CallPolicy, Endpoint, EndpointConfig, Party, TlsConfig, Transport};

use crate::args::{Auth, SipUri, TlsArgs, TransportArg};

/// A Party listening on an endpoint of its own (the Party keeps the
/// endpoint alive).
#[derive(Debug)]
pub struct Agent {
    /// The user agent.
    pub party: Party,
    /// The SIP address it advertises for the chosen transport.
    pub local: SocketAddr,
}

/// How to make an [`Agent`].
#[derive(Debug)]
pub struct AgentSpec<'a> {
    /// Where to bind (port 0: any).
    pub bind: SocketAddr,
    /// The transport to listen on besides UDP.
    pub transport: TransportArg,
    /// The address of record; None for `sip:USER@LOCAL-ADDRESS`.
    pub aor: Option<&'a SipUri>,
    /// The user part of the default address of record.
    pub user: &'a str,
    /// Credentials for digest challenges.
    pub auth: Option<&'a Auth>,
    /// What to do with incoming calls.
    pub policy: CallPolicy,
    /// Certificates, for `--transport tls`.
    pub tls: &'a TlsArgs,
}

impl AgentSpec<'_> {
    /// Bind the sockets and put a Party on them.
    pub fn start(&self) -> Result<Agent, String> {
        let config = match self.transport {
            TransportArg::Udp => EndpointConfig::udp(self.bind),
            // A TCP listener on the same address (the usual SIP layout),
            // so that the peer can open connections back to our Contact.
            TransportArg::Tcp => EndpointConfig::udp(self.bind).with_tcp(self.bind),
            TransportArg::Tls => {
                let tls = tls_config(self.tls)?;
                if self.tls.tls_cert.is_some() {
                    EndpointConfig::udp(self.bind).with_tls(self.bind, tls)
                } else {
                    EndpointConfig::udp(self.bind).with_tls_client(tls)
                }
            }
        };
        let endpoint = Endpoint::bind_with(config).map_err(|e| {
            format!(
                "cannot listen on {} {}: {e}",
                transport_name(self.transport),
                self.bind
            )
        })?;
        let transport = Transport::from(self.transport);
        let local = endpoint
            .local_addr(transport)
            .or_else(|| endpoint.local_addr(Transport::Udp))
            .ok_or("the endpoint has no address")?;
        let aor = match self.aor {
            Some(a) => a.0.clone(),
            None => format!("sip:{}@{}", self.user, local),
        };
        let party = SingleRtpSessionSimpleParty::new(&aor)
            .map_err(|e| format!("bad address of record {aor}: {e}"))?
            .into_party();
        let rtp_ports = free_rtp_block(local.ip())?;
        let policy = self.policy;
        party
            .configure(move |c| {
                c.policy = policy;
                c.rtp_ports = rtp_ports;
            })
            .map_err(|e| e.to_string())?;
        if let Some(a) = self.auth {
            party
                .set_credentials(&a.user, &a.password)
                .map_err(|e| e.to_string())?;
        }
        party.attach(&endpoint).map_err(|e| e.to_string())?;
        Ok(Agent { party, local })
    }
}

/// The TLS configuration the options ask for: a server certificate and
/// key (to accept connections) and the certificates to trust (to open
/// them). Without anything to trust no server can be verified, so that is
/// an error rather than a certain handshake failure later.
fn tls_config(args: &TlsArgs) -> Result<TlsConfig, String> {
    let mut trusted = Vec::new();
    for path in &args.tls_trust {
        trusted.extend(read_certs(path)?);
    }
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            // Our own certificate is trusted too, so two sipparty
            // processes sharing one certificate reach each other.
            trusted.extend(chain.iter().cloned());
            let key = read_key(key)?;
            TlsConfig::with_certificate(chain, key, &trusted)
                .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))
        }
        _ if trusted.is_empty() => Err("--transport tls needs --tls-trust FILE (the certificate \
             of the peer or of its CA) to open connections, and --tls-cert FILE --tls-key FILE \
             to accept them"
            .into()),
        _ => TlsConfig::client_trusting(&trusted).map_err(|e| format!("TLS trust: {e}")),
    }
}

/// The certificates in a PEM file, or the file itself as one DER
/// certificate.
fn read_certs(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(vec![bytes]);
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: bad PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no CERTIFICATE in it", path.display()));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1), or the file
/// itself as DER.
fn read_key(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::PrivateKeyDer;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(bytes);
    }
    PrivateKeyDer::from_pem_slice(&bytes)
        .map(|k| k.secret_der().to_vec())
        .map_err(|e| format!("{}: no usable private key: {e}", path.display()))
}

/// How many RTP ports (pairs with RTCP) a CLI party reserves.
const RTP_BLOCK: u16 = 20;

/// A block of [`RTP_BLOCK`] consecutive UDP ports, starting even, all free
/// on `ip` right now.
///
/// The Party hands out RTP ports from its configured range without
/// knowing what else runs on the machine, and every process starts at the
/// bottom of the default range: two `sipparty` processes (or one and a
/// baresip) would pick the same ports. Probing a randomly placed block
/// keeps them apart (a port taken between the probe and the call is
/// still possible, just unlikely).
fn free_rtp_block(ip: std::net::IpAddr) -> Result<(u16, u16), String> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    // 20000..=59980: above the usual ephemeral-port floor of some systems
    // and below Linux's default ephemeral range (32768..60999) overlap is
    // acceptable since every port is probed.
    let slots = (60_000 - 20_000) / u32::from(RTP_BLOCK);
    for attempt in 0..64u32 {
        let slot = seed.wrapping_add(attempt.wrapping_mul(7919)) % slots;
        let first = 20_000 + (slot * u32::from(RTP_BLOCK)) as u16;
        let last = first + RTP_BLOCK - 1;
        let all_free = (first..=last)
            .map(|port| std::net::UdpSocket::bind((ip, port)))
            .collect::<Result<Vec<_>, _>>()
            .is_ok();
        if all_free {
            return Ok((first, last));
        }
    }
    Err(format!(
        "no free block of {RTP_BLOCK} UDP ports for RTP on {ip}"
    ))
}

/// `udp`, `tcp`, `tls`.
pub fn transport_name(t: TransportArg) -> &'static str {
    match t {
        TransportArg::Udp => "udp",
        TransportArg::Tcp => "tcp",
        TransportArg::Tls => "tls",
    }
}

/// `uri` with `;transport=T` added when another transport than UDP is
/// asked for and the URI does not name one (RFC 3261 section 19.1.1).
pub fn with_transport(uri: &SipUri, t: TransportArg) -> String {
    if t == TransportArg::Udp || uri.transport_param().is_some() {
        return uri.0.clone();
    }
    // URI parameters come before any `?headers` part.
    match uri.0.split_once('?') {
        Some((base, headers)) => format!("{base};transport={}?{headers}", transport_name(t)),
        None => format!("{};transport={}", uri.0, transport_name(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_param_added_only_when_missing() {
        let u = SipUri("sip:bob@127.0.0.1:5070".into());
        assert_eq!(with_transport(&u, TransportArg::Udp), u.0);
        assert_eq!(
            with_transport(&u, TransportArg::Tcp),
            "sip:bob@127.0.0.1:5070;transport=tcp"
        );
        let t = SipUri("sip:p@127.0.0.1;lr;transport=TCP".into());
        assert_eq!(with_transport(&t, TransportArg::Tcp), t.0);
        let h = SipUri("sip:bob@b?subject=x".into());
        assert_eq!(
            with_transport(&h, TransportArg::Tcp),
            "sip:bob@b;transport=tcp?subject=x"
        );
    }
}
