//! # sipparty-tokio
//!
//! The async sipparty API. [`Party::bind`] opens the SIP sockets (UDP, and
//! TCP on the same port; TLS with [`PartyBuilder::tls`]) and spawns one
//! Tokio task for the endpoint. That
//! task owns the sans-IO [`sipparty_core::party::Party`], the sockets
//! (including the media sockets the core asks for) and the timer, and
//! `select!`s over socket readiness, the core's next timeout and a command
//! channel. Every protocol decision is the core's; this crate moves bytes.
//!
//! The handles are cheap to clone and talk to the task over channels:
//! commands go in through an `mpsc` channel with `oneshot` replies, dialog
//! states come back through a [`tokio::sync::watch`] channel per dialog.
//! Every future is cancel-safe: a dropped [`Party::invite`] future never
//! leaves the loop in a bad state (a call nobody can see any more is ended
//! at once). Dropping the last [`Party`] handle ends the calls (BYE,
//! CANCEL), stops the task and closes its sockets.
//!
//! ```
//! use sipparty_tokio::{DialogState, InviteOptions, Party};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sipparty_tokio::Error> {
//! let bob = Party::bind("bob@example.com", "127.0.0.1:0".parse().unwrap()).await?;
//! let alice = Party::bind("alice@example.com", "127.0.0.1:0".parse().unwrap()).await?;
//!
//! let target = format!("bob@{}", bob.local_addr());
//! let call = alice.invite(&target, InviteOptions::default()).await?;
//! call.wait_for(|s| s == DialogState::InDialog).await?;
//!
//! // Bob's party answered by itself (the default policy); he sees the call too.
//! let incoming = bob.incoming().await.expect("bob's task is running");
//! assert!(incoming.from.contains("alice@example.com"));
//!
//! call.terminate().await?;
//! let end = call.wait_for(|s| s.is_final()).await?;
//! assert_eq!(end, DialogState::Terminated);
//! # Ok(()) }
//! ```
//!
//! Host names are located by the core with RFC 3263
//! ([`sipparty_core::transport::locate`]): it holds the request, asks its
//! DNS questions as [`Event::ResolveRequest`], caches the answers by TTL,
//! and fails over to the next target on a transport error, a timeout or a
//! 503. The task answers each question on its own Tokio task with a
//! [`DnsResolver`]: [`SystemResolver`] by default (hickory-resolver with
//! the system configuration, `getaddrinfo` for addresses), or a
//! [`StaticResolver`] table.
//!
//! ## Stream transports
//!
//! `transport=tcp` and `transport=tls` URIs, and `sips:` URIs, go over
//! connections that are opened on demand and reused both for later
//! requests to the same address and for the responses to requests that
//! came in on them (RFC 3261 section 18). The connections we open are kept
//! alive with CRLF pings (RFC 5626 section 4.4.1); pings from peers are
//! answered. Silent connections close after [`PartyBuilder::idle_timeout`],
//! and [`PartyBuilder::max_connections`] caps how many are open. TLS is
//! rustls with certificates the application gives in a [`TlsConfig`]:
//!
//! ```
//! use sipparty_tokio::{Party, TlsConfig, Transport};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A certificate for 127.0.0.1, made on the spot (a real one comes from
//! // a file or a certificate authority).
//! let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()])?;
//! let (der, key) = (cert.cert.der().to_vec(), cert.key_pair.serialize_der());
//! let server = TlsConfig::with_certificate(vec![der.clone()], key, &[der.clone()])?;
//! let bob = Party::builder("bob@example.com")
//!     .tls(server)
//!     .bind("127.0.0.1:0".parse()?)
//!     .await?;
//!
//! // Alice only connects, trusting Bob's certificate.
//! let alice = Party::builder("alice@example.com")
//!     .tls(TlsConfig::client_trusting(&[der])?)
//!     .bind("127.0.0.1:0".parse()?)
//!     .await?;
//! let bob_tls = bob.local_addr_for(Transport::Tls).expect("bob listens for TLS");
//! let reply = alice.options(&format!("sips:bob@{bob_tls}")).await?;
//! assert_eq!(reply.code, 200);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dns;
mod driver;
mod io;
mod tls;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sipparty_core::party::Party as CoreParty;
use sipparty_core::transport::connection::ConnectionPolicy;
use sipparty_core::transport::resolve::ResolveError;
use sipparty_core::{Random, SeededRandom};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, warn};

pub use dns::{resolve, DnsResolver, LookupFuture, StaticResolver, SystemResolver};
pub use driver::Stats;
pub use sipparty_core::party::{
    CallPolicy, DialogError, DialogId, DialogState, Event, InviteOptions, PartyConfig,
    RegisterOptions, RegistrationId, RegistrationState, RequestCompleted,
};
pub use sipparty_core::Transport;
pub use tls::TlsConfig;
/// The rustls this crate builds [`TlsConfig`]s with, for applications
/// that make their own ([`TlsConfig::new`]).
pub use tokio_rustls::rustls;

use driver::{Command, DialogAction, Driver, RequestKind};

/// Commands queued before the task must catch up.
const COMMAND_QUEUE: usize = 1024;
/// Incoming calls queued for the application.
const INCOMING_QUEUE: usize = 256;
/// Events buffered for each [`Party::events`] subscriber.
const EVENT_QUEUE: usize = 1024;

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The core refused the command (bad URI, wrong state, unknown dialog).
    Party(sipparty_core::party::Error),
    /// A socket could not be opened.
    Io(std::io::Error),
    /// A name could not be resolved (RFC 3263; only from
    /// [`resolve`], calls report it as
    /// [`DialogError::Unresolvable`]).
    Resolve(ResolveError),
    /// The endpoint task has stopped (every [`Party`] handle was dropped),
    /// or the dialog ended before the awaited state.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Party(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "socket error: {e}"),
            Error::Resolve(e) => write!(f, "{e}"),
            Error::Closed => f.write_str("the endpoint has stopped"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Party(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Resolve(e) => Some(e),
            Error::Closed => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<sipparty_core::party::Error> for Error {
    fn from(e: sipparty_core::party::Error) -> Self {
        Error::Party(e)
    }
}

/// Something [`Party::bind`] can make a configuration of: a
/// [`PartyConfig`], or an address of record (`alice@atlanta.com`) for a
/// party with one audio stream that answers calls at once (the original
/// library's `SingleRtpSessionSimpleParty`).
pub trait IntoPartyConfig {
    /// The configuration.
    fn into_config(self) -> Result<PartyConfig, Error>;
}

impl IntoPartyConfig for PartyConfig {
    fn into_config(self) -> Result<PartyConfig, Error> {
        Ok(self)
    }
}

impl IntoPartyConfig for &str {
    fn into_config(self) -> Result<PartyConfig, Error> {
        let mut config = PartyConfig::new(self)?;
        config.media = Some(sipparty_core::sdp::MediaCapabilities::default_audio());
        // The core hands out RTP ports from its range in order; parties in
        // one process (or on one host) with the same range would collide,
        // so each starts at a random even port of the default range.
        let (lo, hi) = config.rtp_ports;
        let slots = u64::from(hi.saturating_sub(lo).saturating_sub(2000) / 2).max(1);
        let start = lo + 2 * (os_random().next_u64() % slots) as u16;
        config.rtp_ports = (start, start.saturating_add(2000).min(hi));
        Ok(config)
    }
}

impl IntoPartyConfig for String {
    fn into_config(self) -> Result<PartyConfig, Error> {
        self.as_str().into_config()
    }
}

/// How to bind a [`Party`]: [`Party::builder`].
pub struct PartyBuilder {
    config: Result<PartyConfig, Error>,
    tcp: bool,
    advertise: Option<IpAddr>,
    resolver: Option<Arc<dyn DnsResolver>>,
    streams: ConnectionPolicy,
    tls: Option<TlsConfig>,
    tls_port: Option<u16>,
    random: Option<Box<dyn Random>>,
}

impl fmt::Debug for PartyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartyBuilder")
            .field("config", &self.config)
            .field("tcp", &self.tcp)
            .field("advertise", &self.advertise)
            .field("resolver", &self.resolver)
            .field("streams", &self.streams)
            .field("tls", &self.tls.is_some())
            .field("tls_port", &self.tls_port)
            .finish_non_exhaustive()
    }
}

impl PartyBuilder {
    /// Also listen on TCP, on the UDP port (default true).
    pub fn tcp(mut self, on: bool) -> Self {
        self.tcp = on;
        self
    }

    /// The IP address to put in Via and Contact when bound to a wildcard
    /// address (default: the loopback address of the family).
    pub fn advertise(mut self, ip: IpAddr) -> Self {
        self.advertise = Some(ip);
        self
    }

    /// Answer RFC 3263 lookups with this resolver instead of the system's.
    pub fn resolver(mut self, resolver: Arc<dyn DnsResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Most stream connections (TCP and TLS) open at once (default
    /// 1024). At the cap a new incoming connection is refused, and opening
    /// one closes the connection silent the longest.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.streams.max_connections = n.max(1);
        self
    }

    /// Close stream connections that carried nothing for this long
    /// (default 5 minutes). Answered keep-alives count as traffic, so a
    /// connection we opened stays while its peer answers our pings.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.streams.idle_timeout = idle;
        self
    }

    /// Send a CRLFCRLF keep-alive ping (RFC 5626 section 4.4.1) on stream
    /// connections we opened after this much silence; None never pings
    /// (default 90 s). Pings from peers are always answered.
    pub fn keepalive_interval(mut self, interval: Option<Duration>) -> Self {
        self.streams.keepalive_interval = interval;
        self
    }

    /// How long a ping may wait for its pong before the connection is
    /// closed and reported as a transport error (default 10 s, RFC 5626
    /// section 4.4.1).
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.streams.pong_timeout = timeout;
        self
    }

    /// How long opening a stream connection may take, either side: the TCP
    /// connect and, for TLS, the handshake (default 5 s, see
    /// [`ConnectionPolicy::open_timeout`]). Past it the connection is
    /// dropped and the requests queued on it fail with a transport error,
    /// so RFC 3263 failover tries the next target well before Timer B.
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.streams.open_timeout = timeout;
        self
    }

    /// Speak TLS (`sips:` URIs, `transport=tls`, RFC 3261 section 26.2):
    /// open TLS connections trusting the config's roots and, if it has a
    /// server certificate, listen for TLS too (see
    /// [`PartyBuilder::tls_port`]).
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// The TLS listener's port. Default: any free port when binding port
    /// 0, else the SIP port plus one (5061 beside 5060, as RFC 3261
    /// section 26.2 has it).
    pub fn tls_port(mut self, port: u16) -> Self {
        self.tls_port = Some(port);
        self
    }

    /// Take tags, branches and Call-IDs from this generator instead of one
    /// seeded from the OS (for repeatable tests).
    pub fn random(mut self, random: Box<dyn Random>) -> Self {
        self.random = Some(random);
        self
    }

    /// Open the sockets on `addr` (port 0 picks one) and start the task.
    /// Must be called within a Tokio runtime.
    pub async fn bind(self, addr: SocketAddr) -> Result<Party, Error> {
        let config = self.config?;
        let (udp, listener) = bind_sockets(addr, self.tcp).await?;
        let bound = udp.local_addr()?;
        let tls_listener = match &self.tls {
            Some(tls) if tls.has_server() => {
                let port = match self.tls_port {
                    Some(p) => p,
                    None if addr.port() == 0 => 0,
                    None => bound.port().checked_add(1).ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "no port after the SIP port for TLS (PartyBuilder::tls_port)",
                        )
                    })?,
                };
                Some(TcpListener::bind(SocketAddr::new(addr.ip(), port)).await?)
            }
            _ => None,
        };
        let advertise = |bound: SocketAddr| {
            if !bound.ip().is_unspecified() {
                return bound;
            }
            // Never advertise 0.0.0.0 (issue 6 section 3).
            let ip = self.advertise.unwrap_or(match bound {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
            if self.advertise.is_none() {
                warn!(%bound, %ip, "bound to a wildcard address; advertising loopback (see PartyBuilder::advertise)");
            }
            SocketAddr::new(ip, bound.port())
        };
        let local = advertise(bound);
        let tls_local = match &tls_listener {
            Some(l) => Some(advertise(l.local_addr()?)),
            None => None,
        };
        let aor = config.aor.clone();
        let random = self.random.unwrap_or_else(|| Box::new(os_random()));
        let mut party = CoreParty::new(config, random);
        party.set_local_address(Transport::Udp, local);
        if listener.is_some() {
            party.set_local_address(Transport::Tcp, local);
        }
        if self.tls.is_some() {
            // Without a listener, requests still need a Via; responses
            // come back on the connection (RFC 3261 section 18.2.2).
            party.set_local_address(Transport::Tls, tls_local.unwrap_or(local));
        }
        let sockets = io::Sockets {
            udp,
            tcp: listener,
            tls: tls_listener,
        };
        let tcp_listening = sockets.tcp.is_some();
        let io = io::Io::new(sockets, self.tls, self.streams)?;
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (in_tx, in_rx) = mpsc::channel(INCOMING_QUEUE);
        let (ev_tx, _) = broadcast::channel(EVENT_QUEUE);
        let mut driver = Driver::new(
            party,
            io,
            cmd_rx,
            cmd_tx.downgrade(),
            in_tx,
            ev_tx.clone(),
            local.is_ipv6(),
        );
        driver.resolver = self.resolver;
        tokio::spawn(driver.run());
        debug!(%local, aor, "party bound");
        Ok(Party {
            inner: Arc::new(Inner {
                commands: cmd_tx,
                incoming: tokio::sync::Mutex::new(in_rx),
                events: ev_tx,
                local,
                tcp_listening,
                tls_local,
                aor,
            }),
        })
    }
}

/// Bind UDP on `addr` and TCP on the same port (retrying with a new port
/// when `addr` asked for any port and TCP's was taken).
async fn bind_sockets(
    addr: SocketAddr,
    tcp: bool,
) -> Result<(UdpSocket, Option<TcpListener>), Error> {
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr).await?;
        crate::io::grow_buffers(&udp);
        if !tcp {
            return Ok((udp, None));
        }
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(l) => return Ok((udp, Some(l))),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Err(Error::Io(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free port for UDP and TCP",
        )
    })))
}

/// A generator seeded from the OS (the standard library's per-process
/// random hash keys) and the clock. Good for tags and branches, which must
/// be unique and unguessable enough, not for keys.
fn os_random() -> SeededRandom {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    SeededRandom::new(h.finish())
}

struct Inner {
    commands: mpsc::Sender<Command>,
    incoming: tokio::sync::Mutex<mpsc::Receiver<IncomingCall>>,
    events: broadcast::Sender<sipparty_core::party::Event>,
    local: SocketAddr,
    tcp_listening: bool,
    tls_local: Option<SocketAddr>,
    aor: String,
}

/// A SIP user agent running on its own Tokio task. Clones share the task;
/// when the last clone is dropped the task ends its calls and stops.
#[derive(Clone)]
pub struct Party {
    inner: Arc<Inner>,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("aor", &self.inner.aor)
            .field("local", &self.inner.local)
            .finish_non_exhaustive()
    }
}

impl Party {
    /// Bind a party for `config` (a [`PartyConfig`] or an address of
    /// record) on `addr`, UDP and TCP on the same port. See
    /// [`Party::builder`] for more choices.
    pub async fn bind(config: impl IntoPartyConfig, addr: SocketAddr) -> Result<Party, Error> {
        Party::builder(config).bind(addr).await
    }

    /// Choose more before binding.
    pub fn builder(config: impl IntoPartyConfig) -> PartyBuilder {
        PartyBuilder {
            config: config.into_config(),
            tcp: true,
            advertise: None,
            resolver: None,
            streams: ConnectionPolicy::default(),
            tls: None,
            tls_port: None,
            random: None,
        }
    }

    /// The address the SIP sockets are bound to (and advertised).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// The address this party listens on (and advertises) for
    /// `transport`, if it listens for it: UDP always, TCP unless turned
    /// off, TLS with a server certificate ([`PartyBuilder::tls`]).
    pub fn local_addr_for(&self, transport: Transport) -> Option<SocketAddr> {
        match transport {
            Transport::Udp => Some(self.inner.local),
            Transport::Tcp if self.inner.tcp_listening => Some(self.inner.local),
            Transport::Tls => self.inner.tls_local,
            _ => None,
        }
    }

    /// The address of record.
    pub fn aor(&self) -> &str {
        &self.inner.aor
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(make(tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Place a call to `target` (`bob@biloxi.com`, `sip:bob@127.0.0.1:5070`).
    /// Returns once the INVITE is on its way; follow the call with
    /// [`Dialog::wait_for`]. A name is located with RFC 3263 first (unless
    /// `options` names a destination), and the INVITE fails over to the
    /// next target on a transport error, timeout or 503; a name that
    /// cannot be located ends the call with
    /// [`DialogError::Unresolvable`].
    pub async fn invite(&self, target: &str, options: InviteOptions) -> Result<Dialog, Error> {
        let target = target.to_string();
        self.ask(|reply| Command::Invite {
            target,
            options,
            reply,
        })
        .await
    }

    /// The next incoming call (None once the task has stopped). With the
    /// default policy the Party has already answered it; with
    /// [`CallPolicy::AskApplication`] call [`IncomingCall::accept`] or
    /// [`IncomingCall::reject`].
    pub async fn incoming(&self) -> Option<IncomingCall> {
        self.inner.incoming.lock().await.recv().await
    }

    /// Every core [`Event`] from now on (progress, media, DTMF, MESSAGE...).
    /// A subscriber that falls more than 1024 events behind loses the
    /// oldest.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Change what the Party does with incoming calls.
    pub async fn set_policy(&self, policy: CallPolicy) -> Result<(), Error> {
        self.inner
            .commands
            .send(Command::SetPolicy(policy))
            .await
            .map_err(|_| Error::Closed)
    }

    /// Register with `registrar`; follow the outcome with
    /// [`Registration::wait_for`]. The Party refreshes it until
    /// [`Registration::unregister`].
    pub async fn register(
        &self,
        registrar: &str,
        options: RegisterOptions,
    ) -> Result<Registration, Error> {
        let registrar = registrar.to_string();
        self.ask(|reply| Command::Register {
            registrar,
            options,
            reply,
        })
        .await
    }

    /// Send OPTIONS to `target` and wait for the final response (408 on
    /// timeout, 503 on transport error).
    pub async fn options(&self, target: &str) -> Result<RequestOutcome, Error> {
        self.options_with(target, InviteOptions::default()).await
    }

    /// OPTIONS with routing options (proxy, destination).
    pub async fn options_with(
        &self,
        target: &str,
        options: InviteOptions,
    ) -> Result<RequestOutcome, Error> {
        let target = target.to_string();
        self.ask(|reply| Command::Request {
            kind: RequestKind::Options,
            target,
            options,
            reply,
        })
        .await
    }

    /// Send a MESSAGE (RFC 3428) to `target` and wait for the final
    /// response.
    pub async fn message(
        &self,
        target: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<RequestOutcome, Error> {
        let options = InviteOptions::default();
        let (target, content_type, body) =
            (target.to_string(), content_type.to_string(), body.to_vec());
        self.ask(|reply| Command::Request {
            kind: RequestKind::Message { content_type, body },
            target,
            options,
            reply,
        })
        .await
    }

    /// Counters of the endpoint task.
    pub async fn stats(&self) -> Result<Stats, Error> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Stats(tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }
}

/// The final response to an OPTIONS or MESSAGE (408 on timeout, 503 on
/// transport error): the core's [`RequestCompleted`], under this crate's
/// name.
pub type RequestOutcome = RequestCompleted;

/// State the task shares with a [`Dialog`] handle.
#[derive(Debug, Default)]
pub(crate) struct DialogShared {
    pub(crate) error: Mutex<Option<DialogError>>,
}

/// A call, outgoing or incoming. Clones follow the same call. Dropping it
/// does not end the call: use [`Dialog::terminate`].
#[derive(Debug, Clone)]
pub struct Dialog {
    pub(crate) id: DialogId,
    pub(crate) states: watch::Receiver<DialogState>,
    pub(crate) shared: Arc<DialogShared>,
    /// Weak: a dialog handle does not keep the endpoint alive.
    pub(crate) commands: mpsc::WeakSender<Command>,
}

impl Dialog {
    /// The dialog's id.
    pub fn id(&self) -> DialogId {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> DialogState {
        *self.states.borrow()
    }

    /// A watch of the state, to `changed().await` on or to select over.
    pub fn states(&self) -> watch::Receiver<DialogState> {
        self.states.clone()
    }

    /// Wait until the state satisfies `predicate` (checked on the current
    /// state first) and return it. Fails with [`Error::Closed`] if the call
    /// ends, or the endpoint stops, in a state that does not.
    pub async fn wait_for(
        &self,
        mut predicate: impl FnMut(DialogState) -> bool,
    ) -> Result<DialogState, Error> {
        let mut rx = self.states.clone();
        let r = rx.wait_for(|s| predicate(*s)).await;
        r.map(|s| *s).map_err(|_| Error::Closed)
    }

    /// Why the call failed, once it did (`486 Busy Here`, `timeout`...).
    pub fn last_error(&self) -> Option<DialogError> {
        self.shared.error.lock().ok().and_then(|e| e.clone())
    }

    async fn act(&self, action: DialogAction) -> Result<(), Error> {
        let commands = self.commands.upgrade().ok_or(Error::Closed)?;
        let (tx, rx) = oneshot::channel();
        commands
            .send(Command::Dialog {
                id: self.id,
                action,
                reply: tx,
            })
            .await
            .map_err(|_| Error::Closed)?;
        drop(commands);
        rx.await.map_err(|_| Error::Closed)?
    }

    /// End the call: CANCEL before an answer, BYE after, 603 for an
    /// incoming call not yet answered. Returns once the request is on its
    /// way; wait for [`DialogState::Terminated`] to know it is over.
    pub async fn terminate(&self) -> Result<(), Error> {
        self.act(DialogAction::Terminate).await
    }

    /// Put the call on hold (re-INVITE with a sendonly offer).
    pub async fn hold(&self) -> Result<(), Error> {
        self.act(DialogAction::Hold).await
    }

    /// Take the call off hold.
    pub async fn resume(&self) -> Result<(), Error> {
        self.act(DialogAction::Resume).await
    }

    /// Send DTMF digits (RFC 4733 events, or INFO when not negotiated).
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), Error> {
        self.act(DialogAction::Dtmf(digits.to_string())).await
    }

    /// Send an INFO request (RFC 6086) in the dialog.
    pub async fn send_info(&self, content_type: &str, body: &[u8]) -> Result<(), Error> {
        self.act(DialogAction::Info {
            content_type: content_type.to_string(),
            body: body.to_vec(),
        })
        .await
    }
}

/// An incoming call as the application sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct IncomingCall {
    /// The call.
    pub dialog: Dialog,
    /// The caller (From header as received).
    pub from: String,
    /// The callee (To header as received).
    pub to: String,
    /// Where the INVITE came from.
    pub source: SocketAddr,
    /// Whether the INVITE carried an SDP offer.
    pub has_offer: bool,
    /// Whether the Party waits for [`IncomingCall::accept`] or
    /// [`IncomingCall::reject`] (policy [`CallPolicy::AskApplication`]).
    pub needs_decision: bool,
}

impl IncomingCall {
    /// Answer 200 OK.
    pub async fn accept(&self) -> Result<(), Error> {
        self.dialog.act(DialogAction::Accept).await
    }

    /// Refuse with `code` (486 Busy Here, 603 Decline...).
    pub async fn reject(&self, code: u16) -> Result<(), Error> {
        self.dialog.act(DialogAction::Reject(code)).await
    }
}

/// A registration with a registrar.
#[derive(Debug, Clone)]
pub struct Registration {
    pub(crate) id: RegistrationId,
    pub(crate) states: watch::Receiver<RegistrationState>,
    pub(crate) commands: mpsc::WeakSender<Command>,
}

impl Registration {
    /// The registration's id.
    pub fn id(&self) -> RegistrationId {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> RegistrationState {
        self.states.borrow().clone()
    }

    /// A watch of the state.
    pub fn states(&self) -> watch::Receiver<RegistrationState> {
        self.states.clone()
    }

    /// Wait until the state satisfies `predicate`.
    pub async fn wait_for(
        &self,
        mut predicate: impl FnMut(&RegistrationState) -> bool,
    ) -> Result<RegistrationState, Error> {
        let mut rx = self.states.clone();
        let r = rx.wait_for(|s| predicate(s)).await;
        r.map(|s| s.clone()).map_err(|_| Error::Closed)
    }

    /// Remove the binding (REGISTER with Expires: 0).
    pub async fn unregister(&self) -> Result<(), Error> {
        let commands = self.commands.upgrade().ok_or(Error::Closed)?;
        let (tx, rx) = oneshot::channel();
        commands
            .send(Command::Unregister {
                id: self.id,
                reply: tx,
            })
            .await
            .map_err(|_| Error::Closed)?;
        drop(commands);
        rx.await.map_err(|_| Error::Closed)?
    }
}
