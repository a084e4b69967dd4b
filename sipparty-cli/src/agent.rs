//! Setting up a Party on its own endpoint, as every network command does.

use std::net::SocketAddr;

use sipparty_mio::parties::SingleRtpSessionSimpleParty;
use sipparty_mio::{CallPolicy, Endpoint, EndpointConfig, Party, Transport};

use crate::args::{Auth, SipUri, TransportArg};

/// A Party listening on an endpoint of its own.
#[derive(Debug)]
pub struct Agent {
    /// The bound sockets (kept alive as long as the agent).
    pub endpoint: Endpoint,
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
                return Err(
                    "--transport tls is not available in the command line yet \
                     (it needs certificate options); use udp or tcp"
                        .into(),
                )
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
        party
            .set_call_policy(self.policy)
            .map_err(|e| e.to_string())?;
        if let Some(a) = self.auth {
            party
                .set_credentials(&a.user, &a.password)
                .map_err(|e| e.to_string())?;
        }
        party.attach(&endpoint).map_err(|e| e.to_string())?;
        Ok(Agent {
            endpoint,
            party,
            local,
        })
    }
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
