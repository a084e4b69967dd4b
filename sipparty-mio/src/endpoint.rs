//! An [`Endpoint`]: bound SIP sockets and the event-loop thread that serves
//! them, shared by any number of parties (the original library's shared
//! transport).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdp};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::{self, ThreadId};
use std::time::Duration;

use mio::{Poll, Waker};
use tracing::{info, warn};

use sipparty_core::Transport;

use crate::driver::{self, Bound, Command, Core, Driver, WAKER};
use crate::tls::TlsConfig;
use crate::Error;
use sipparty_core::transport::connection::ConnectionPolicy;

/// The address the process-wide default endpoint tries first: the standard
/// SIP port on loopback, so that parties created with default settings in
/// one process reach each other at `127.0.0.1:5060`.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5060);

/// Which sockets an [`Endpoint`] binds, and how it treats connections.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// The UDP socket's address (None: no UDP).
    pub udp: Option<SocketAddr>,
    /// The TCP listener's address (None: no TCP listener; outgoing TCP
    /// connections are still opened on demand).
    pub tcp: Option<SocketAddr>,
    /// The TLS listener's address (needs [`EndpointConfig::tls_config`]).
    pub tls: Option<SocketAddr>,
    /// Certificates and trust for TLS, server side and client side.
    pub tls_config: Option<TlsConfig>,
    /// Most stream connections open at once; at the cap, new incoming
    /// connections are refused and opening one closes the longest idle.
    pub max_connections: usize,
    /// Connections with no traffic for this long are closed.
    pub idle_timeout: Duration,
    /// Send a CRLF keep-alive ping (RFC 5626 section 4.4.1) on connections
    /// we opened after this much silence; None to never ping.
    pub keepalive_interval: Option<Duration>,
    /// How long opening a stream connection may take, either side: the TCP
    /// connect and, for TLS, the handshake (see
    /// [`ConnectionPolicy::open_timeout`]). Past it the connection is
    /// dropped and the requests queued on it fail with a transport error.
    pub open_timeout: Duration,
    /// When a socket is bound to an unspecified address (0.0.0.0, ::),
    /// the address advertised in Via and Contact. None: the address of the
    /// interface the system routes through (never 0.0.0.0).
    pub advertise: Option<IpAddr>,
}

impl EndpointConfig {
    /// UDP only, on `addr` (port 0 for an ephemeral port).
    pub fn udp(addr: SocketAddr) -> Self {
        EndpointConfig {
            udp: Some(addr),
            tcp: None,
            tls: None,
            tls_config: None,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Some(Duration::from_secs(90)),
            open_timeout: ConnectionPolicy::default().open_timeout,
            advertise: None,
        }
    }

    /// Also listen for TCP on `addr`.
    pub fn with_tcp(mut self, addr: SocketAddr) -> Self {
        self.tcp = Some(addr);
        self
    }

    /// Also listen for TLS on `addr` with these certificates.
    pub fn with_tls(mut self, addr: SocketAddr, config: TlsConfig) -> Self {
        self.tls = Some(addr);
        self.tls_config = Some(config);
        self
    }

    /// Open TLS connections (client side only) with this configuration.
    pub fn with_tls_client(mut self, config: TlsConfig) -> Self {
        self.tls_config = Some(config);
        self
    }
}

/// Bound SIP sockets and the thread that serves them. Cheap to clone; the
/// thread stops when the last clone, party and dialog handle using it is
/// dropped.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub(crate) shared: Arc<EndpointShared>,
}

#[derive(Debug)]
pub(crate) struct EndpointShared {
    commands: Mutex<Sender<Command>>,
    waker: Arc<Waker>,
    locals: Vec<(Transport, SocketAddr)>,
    thread: ThreadId,
}

impl Drop for EndpointShared {
    fn drop(&mut self) {
        // Dropping the sender disconnects the channel; the wake makes the
        // loop notice and stop.
        let _ = self.commands.lock().map(|c| {
            let _ = c.send(Box::new(|core: &mut Core, _| core.shutdown = true));
        });
        let _ = self.waker.wake();
    }
}

static DEFAULT: Mutex<Weak<EndpointShared>> = Mutex::new(Weak::new());

impl Endpoint {
    /// Bind a UDP socket on `addr` and start serving it.
    pub fn bind(addr: SocketAddr) -> Result<Endpoint, Error> {
        Self::bind_with(EndpointConfig::udp(addr))
    }

    /// Bind what `config` asks for and start serving it.
    pub fn bind_with(config: EndpointConfig) -> Result<Endpoint, Error> {
        let mut locals = Vec::new();
        let advertise = |a: SocketAddr| -> SocketAddr {
            if a.ip().is_unspecified() {
                SocketAddr::new(
                    config.advertise.unwrap_or_else(|| route_ip(a.ip())),
                    a.port(),
                )
            } else {
                a
            }
        };
        let udp = match config.udp {
            Some(a) => {
                let s = StdUdp::bind(a)?;
                locals.push((Transport::Udp, advertise(s.local_addr()?)));
                Some(s)
            }
            None => None,
        };
        // TCP on the UDP port unless told otherwise is the usual SIP
        // layout, but only when asked: a free UDP port may be a busy TCP one.
        let tcp = match config.tcp {
            Some(a) => {
                let l = std::net::TcpListener::bind(a)?;
                locals.push((Transport::Tcp, advertise(l.local_addr()?)));
                Some(l)
            }
            None => None,
        };
        let tls = match (config.tls, &config.tls_config) {
            (Some(a), Some(_)) => {
                let l = std::net::TcpListener::bind(a)?;
                locals.push((Transport::Tls, advertise(l.local_addr()?)));
                Some(l)
            }
            (Some(_), None) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a TLS listener needs a TlsConfig",
                )))
            }
            _ => None,
        };
        // Parties need some local address per transport for Via/Contact of
        // outgoing stream requests even without a listener: use the UDP
        // address's IP and port (RFC 3261 section 18.1.1 lets responses
        // come back on the same connection anyway).
        if let Some(&(_, udp_addr)) = locals.iter().find(|(t, _)| *t == Transport::Udp) {
            for t in [Transport::Tcp, Transport::Tls] {
                if !locals.iter().any(|(x, _)| *x == t) {
                    locals.push((t, udp_addr));
                }
            }
        }
        let poll = Poll::new()?;
        // One waker per Poll (mio's rule): commands and DNS answers share it.
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = mpsc::channel();
        let bound = Bound {
            udp,
            tcp,
            tls,
            locals: locals.clone(),
        };
        let mut streams = ConnectionPolicy::default();
        streams.max_connections = config.max_connections.max(1);
        streams.idle_timeout = config.idle_timeout;
        streams.keepalive_interval = config.keepalive_interval;
        streams.open_timeout = config.open_timeout;
        let driver = Driver::new(
            poll,
            bound,
            rx,
            streams,
            config.tls_config.map(Arc::new),
            waker.clone(),
        )?;
        driver::log_bound(&locals);
        let handle = thread::Builder::new()
            .name("sipparty-mio".into())
            .spawn(move || driver.run())?;
        Ok(Endpoint {
            shared: Arc::new(EndpointShared {
                commands: Mutex::new(tx),
                waker,
                locals,
                thread: handle.thread().id(),
            }),
        })
    }

    /// The process-wide endpoint that parties with default settings share:
    /// UDP on `127.0.0.1:5060` if that port is free, else on an ephemeral
    /// loopback port (logged). Created on first use; it stops when nothing
    /// uses it any more, and the next use binds again.
    pub fn shared_default() -> Result<Endpoint, Error> {
        let mut slot = DEFAULT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = slot.upgrade() {
            return Ok(Endpoint { shared });
        }
        let ep = match Endpoint::bind(DEFAULT_BIND) {
            Ok(ep) => ep,
            Err(Error::Io(e)) => {
                let ep = Endpoint::bind(SocketAddr::new(DEFAULT_BIND.ip(), 0))?;
                warn!(
                    wanted = %DEFAULT_BIND,
                    error = %e,
                    bound = ?ep.local_addr(Transport::Udp),
                    "default SIP port busy, shared endpoint on an ephemeral port"
                );
                ep
            }
            Err(e) => return Err(e),
        };
        info!(address = ?ep.local_addr(Transport::Udp), "shared default endpoint");
        *slot = Arc::downgrade(&ep.shared);
        Ok(ep)
    }

    /// The address advertised for `transport` (the bound address, or the
    /// routable one for a wildcard bind).
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.shared
            .locals
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    /// Whether two handles name the same endpoint (the same sockets).
    pub fn same_as(&self, other: &Endpoint) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many parties use this endpoint.
    pub fn party_count(&self) -> Result<usize, Error> {
        self.call(|core, _| core.endpoint.len())
    }

    /// Live dialogs of all parties of this endpoint (as the core counts
    /// them: ended calls are forgotten).
    pub fn dialog_count(&self) -> Result<usize, Error> {
        self.call(|core, _| {
            (0..core.endpoint.len())
                .filter_map(|i| core.endpoint.party(sipparty_core::party::PartyKey(i)))
                .map(|p| p.dialog_count())
                .sum()
        })
    }

    /// How many stream connections (TCP, TLS) closed normally so far (the
    /// peer closed, or idle): each is reported to the core with
    /// `Input::StreamClosed`, which releases its framing state. For tests
    /// and monitoring.
    pub fn streams_closed(&self) -> Result<u64, Error> {
        self.call(|core, _| core.endpoint.streams_closed())
    }

    /// Receive a copy of every SIP message this endpoint sends or
    /// receives from now on (the CLI's ladder diagram). At most `capacity`
    /// wait unread; more are dropped rather than slowing the event loop.
    /// Replaces an earlier capture.
    pub fn capture_messages(
        &self,
        capacity: usize,
    ) -> Result<mpsc::Receiver<crate::SipTrace>, Error> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        self.call(move |core, _| core.tap = Some(tx))?;
        Ok(rx)
    }

    /// Send a command without waiting for it to run.
    pub(crate) fn post(&self, f: Command) -> Result<(), Error> {
        self.shared
            .commands
            .lock()
            .map_err(|_| Error::Shutdown)?
            .send(f)
            .map_err(|_| Error::Shutdown)?;
        self.shared.waker.wake().map_err(|_| Error::Shutdown)
    }

    /// Run `f` on the event loop and wait for its result.
    pub(crate) fn call<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Core, std::time::Instant) -> R + Send + 'static,
    {
        if thread::current().id() == self.shared.thread {
            return Err(Error::WouldDeadlock);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.post(Box::new(move |core, now| {
            let r = f(core, now);
            core.replies.push(Box::new(move || {
                let _ = tx.send(r);
            }));
        }))?;
        rx.recv().map_err(|_| Error::Shutdown)
    }
}

/// The source address the system would use towards a routable peer of
/// `family`: a UDP `connect` picks the route and sends nothing.
fn route_ip(family: IpAddr) -> IpAddr {
    let (bind, probe): (SocketAddr, SocketAddr) = match family {
        IpAddr::V4(_) => (
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            // A global unicast address; no packet is ever sent to it.
            (Ipv4Addr::new(8, 8, 8, 8), 9).into(),
        ),
        IpAddr::V6(_) => (
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            (
                std::net::Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888),
                9,
            )
                .into(),
        ),
    };
    let found = StdUdp::bind(bind)
        .and_then(|s| s.connect(probe).and_then(|_| s.local_addr()))
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified());
    found.unwrap_or(match family {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    })
}
