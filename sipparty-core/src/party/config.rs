//! How a Party is made: its identity, the dialog logic it takes part in,
//! the media it offers, and options for the requests it places.

use std::net::SocketAddr;
use std::time::Duration;

/// What the Party does with an incoming call (the "dialog logic" of the
/// original library).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallPolicy {
    /// Answer at once with 200 OK.
    AutoAnswer,
    /// Send 180 Ringing, then answer after `delay`.
    RingThenAnswer {
        /// How long to ring.
        delay: Duration,
    },
    /// Reject every call with this final status (e.g. 486, 603).
    Reject {
        /// The status code, 300..=699.
        code: u16,
    },
    /// Send 180 Ringing and let the application decide through
    /// `party.incoming(id)`; calls it leaves undecided for
    /// [`PartyConfig::answer_timeout`] are rejected with 480.
    AskApplication,
}

/// When the Party, as callee, sends provisional responses reliably
/// (RFC 3262: `Require: 100rel`, `RSeq`, retransmitted until PRACKed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReliableProvisionals {
    /// Never: an INVITE that requires 100rel is answered 420 Bad Extension
    /// and `100rel` is not advertised.
    Never,
    /// When the INVITE requires it (`Require: 100rel`), and for a 183
    /// carrying early media when the INVITE supports it (`Supported:
    /// 100rel`), so the early answer is delivered reliably (RFC 3262
    /// section 5).
    #[default]
    WhenNeeded,
    /// Every provisional response above 100 whenever the INVITE supports
    /// or requires 100rel.
    Always,
}

/// Timers of the Party (RFC 3261 section 17 names, plus the user agent's
/// own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses (default 4 s).
    pub t2: Duration,
    /// Maximum duration a message remains in the network (default 5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Everything a Party is made of. Build it with [`PartyConfig::new`] and
/// adjust the public fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PartyConfig {
    /// The address of record, normalized to a `sip:` URI
    /// (`alice@atlanta.com` becomes `sip:alice@atlanta.com`).
    pub aor: String,
    /// The display name put in From headers.
    pub display_name: Option<String>,
    /// The User-Agent / Server header value (None: omit).
    pub user_agent: Option<String>,
    /// What to do with incoming calls.
    pub policy: CallPolicy,
    /// The media offered and accepted (None: signalling only; INVITEs carry
    /// no SDP and incoming offers are answered 488).
    pub media: Option<crate::sdp::MediaCapabilities>,
    /// Run the RTP stream of each call in the Party (G.711 audio from a
    /// source, silence by default; RTCP; RFC 4733 DTMF). When false the
    /// Party only negotiates and reports `Event::MediaStarted`; the
    /// application moves media itself.
    pub run_media: bool,
    /// Local RTP ports are picked (even, with RTCP on the next port) from
    /// this range, inclusive. Read when the Party is made; change it later
    /// with `Party::set_rtp_ports`.
    pub rtp_ports: (u16, u16),
    /// Credentials for digest authentication.
    pub credentials: Option<crate::auth::Credentials>,
    /// Challenge incoming INVITE and MESSAGE requests (401, digest, RFC
    /// 3261 section 22.2) and accept only these credentials; the realm is
    /// `realm` if set, else the AOR's host. None: no challenge.
    pub server_credentials: Option<crate::auth::Credentials>,
    /// Transaction timers.
    pub timers: Timers,
    /// How long an incoming call may wait for the application's decision
    /// (policy `AskApplication`) before it is rejected with 480.
    pub answer_timeout: Duration,
    /// Most dialogs alive at once; further INVITEs are answered 503 and
    /// `invite` fails.
    pub max_dialogs: usize,
    /// Default Expires asked for in REGISTER (seconds).
    pub register_expires: u32,
    /// Session-Expires to ask for and accept (RFC 4028), None to not use
    /// session timers unless the peer asks.
    pub session_expires: Option<Duration>,
    /// Max-Forwards for requests we originate (RFC 3261 section 8.1.1.6).
    pub max_forwards: u32,
    /// The most transactions (client and server) alive at once (default
    /// 10,000): a new request beyond it is answered 503 with Retry-After,
    /// and commands fail with `Error::Transaction`. Read when the Party is
    /// made.
    pub max_transactions: usize,
    /// When provisional responses to incoming INVITEs are sent reliably
    /// (RFC 3262). Default [`ReliableProvisionals::WhenNeeded`].
    pub reliable_provisionals: ReliableProvisionals,
    /// Incoming calls that ring (policies `RingThenAnswer` and
    /// `AskApplication`) get 183 Session Progress with the SDP answer
    /// instead of 180 Ringing, and their media starts at once (early
    /// media, RFC 3261 section 13.3.1.1). The 183 is sent reliably when
    /// the caller supports 100rel. Default false.
    pub early_media: bool,
    /// The path MTU towards peers, for RFC 3261 section 18.1.1: a request
    /// over UDP larger than the MTU less 200 bytes (or than 1300 bytes when
    /// the MTU is unknown, None) goes over TCP instead. Default 1500.
    pub path_mtu: Option<u32>,
    /// Switch large requests from UDP to TCP (section 18.1.1) when a local
    /// TCP address is set. Default true.
    pub tcp_for_large_requests: bool,
    /// DNS lookups for RFC 3263 server location: timeout and cache limits.
    pub dns: crate::transport::locate::LocatorConfig,
}

impl PartyConfig {
    /// A configuration for the address of record `aor` (`alice@atlanta.com`
    /// or `sip:alice@atlanta.com`), answering calls at once, with no media.
    pub fn new(aor: &str) -> Result<Self, super::Error> {
        Ok(Self {
            aor: normalize_uri(aor)?,
            display_name: None,
            user_agent: Some(concat!("sipparty/", env!("CARGO_PKG_VERSION")).to_string()),
            policy: CallPolicy::AutoAnswer,
            media: None,
            run_media: true,
            rtp_ports: (16384, 32766),
            credentials: None,
            server_credentials: None,
            timers: Timers::default(),
            answer_timeout: Duration::from_secs(120),
            max_dialogs: 1 << 20,
            register_expires: 3600,
            session_expires: None,
            max_forwards: 70,
            max_transactions: 10_000,
            reliable_provisionals: ReliableProvisionals::WhenNeeded,
            early_media: false,
            path_mtu: Some(1500),
            tcp_for_large_requests: true,
            dns: crate::transport::locate::LocatorConfig::default(),
        })
    }
}

/// Options of an outgoing call. A builder: `InviteOptions::default()
/// .proxy("127.0.0.1:5060")`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct InviteOptions {
    /// Outbound proxy, used as a pre-loaded route (RFC 3261 section
    /// 8.1.2): a URI (`sip:127.0.0.1:5060;lr`) or `host:port`.
    pub proxy: Option<String>,
    /// Where to send the request, overriding what the Request-URI or the
    /// proxy says. Without it a host name is located by RFC 3263 through
    /// [`Event::ResolveRequest`](super::Event::ResolveRequest).
    pub destination: Option<SocketAddr>,
    /// Extra headers added to the INVITE (name, value).
    pub headers: Vec<(String, String)>,
    /// Offer media (default true when the Party has media capabilities).
    pub no_media: bool,
    /// Subject header.
    pub subject: Option<String>,
    /// Send the INVITE without SDP though the Party has media (a "delayed
    /// offer"): the callee offers in a reliable provisional (answered in
    /// the PRACK, RFC 3262 section 5) or in the 2xx (answered in the ACK).
    pub delayed_offer: bool,
}

impl InviteOptions {
    /// Send through this outbound proxy (`127.0.0.1:5060` or a SIP URI).
    pub fn proxy(mut self, proxy: &str) -> Self {
        self.proxy = Some(proxy.to_string());
        self
    }

    /// Send the first request to this address regardless of the URI.
    pub fn destination(mut self, addr: SocketAddr) -> Self {
        self.destination = Some(addr);
        self
    }

    /// Add a header to the INVITE.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Offer no SDP even though the Party has media capabilities.
    pub fn without_media(mut self) -> Self {
        self.no_media = true;
        self
    }

    /// Offer no SDP in the INVITE but take the callee's offer (see
    /// [`InviteOptions::delayed_offer`](Self#structfield.delayed_offer)).
    pub fn delayed_offer(mut self) -> Self {
        self.delayed_offer = true;
        self
    }

    /// Set the Subject header.
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_string());
        self
    }
}

/// Options of a registration.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RegisterOptions {
    /// Requested lifetime in seconds (None: the Party's default).
    pub expires: Option<u32>,
    /// Contacts to bind (None: the Party's own contact).
    pub contacts: Vec<String>,
    /// The address of record to register (None: the Party's).
    pub aor: Option<String>,
    /// Outbound proxy as for [`InviteOptions::proxy`].
    pub proxy: Option<String>,
    /// Where to send, overriding the registrar URI.
    pub destination: Option<SocketAddr>,
}

impl RegisterOptions {
    /// Ask for this lifetime in seconds.
    pub fn expires(mut self, secs: u32) -> Self {
        self.expires = Some(secs);
        self
    }

    /// Bind this contact URI (may be repeated).
    pub fn contact(mut self, uri: &str) -> Self {
        self.contacts.push(uri.to_string());
        self
    }

    /// Register this address of record instead of the Party's.
    pub fn aor(mut self, aor: &str) -> Self {
        self.aor = Some(aor.to_string());
        self
    }

    /// Send through this outbound proxy.
    pub fn proxy(mut self, proxy: &str) -> Self {
        self.proxy = Some(proxy.to_string());
        self
    }

    /// Send to this address regardless of the URI.
    pub fn destination(mut self, addr: SocketAddr) -> Self {
        self.destination = Some(addr);
        self
    }
}

/// `alice@atlanta.com` becomes `sip:alice@atlanta.com`; `sip:`, `sips:` and
/// `tel:` URIs are kept; `<sip:..>` loses its brackets. Fails on an empty
/// string or one with whitespace or control characters.
pub(crate) fn normalize_uri(s: &str) -> Result<String, super::Error> {
    let s = s.trim();
    let s = s
        .strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(s);
    if s.is_empty()
        || s.bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'<' || b == b'>')
    {
        return Err(super::Error::InvalidUri(s.to_string()));
    }
    let has_scheme = s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("sips:"))
        || s.get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("sip:") || p.eq_ignore_ascii_case("tel:"));
    if has_scheme {
        Ok(s.to_string())
    } else {
        let mut uri = String::with_capacity(4 + s.len());
        uri.push_str("sip:");
        uri.push_str(s);
        Ok(uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aor_without_scheme_is_a_sip_uri() {
        assert_eq!(
            normalize_uri("alice@atlanta.com").unwrap(),
            "sip:alice@atlanta.com"
        );
        assert_eq!(
            normalize_uri("sip:alice@atlanta.com").unwrap(),
            "sip:alice@atlanta.com"
        );
        assert_eq!(
            normalize_uri("SIPS:alice@atlanta.com").unwrap(),
            "SIPS:alice@atlanta.com"
        );
        assert_eq!(normalize_uri("<sip:bob@b.com>").unwrap(), "sip:bob@b.com");
        assert!(normalize_uri("").is_err());
        assert!(normalize_uri("bob @b.com").is_err());
    }

    #[test]
    fn invite_options_build() {
        let o = InviteOptions::default()
            .proxy("127.0.0.1:5060")
            .header("X-Test", "1");
        assert_eq!(o.proxy.as_deref(), Some("127.0.0.1:5060"));
        assert_eq!(o.headers, vec![("X-Test".to_string(), "1".to_string())]);
    }
}
