//! The event loop: one thread per [`Endpoint`](crate::Endpoint) running a
//! mio `Poll` over the SIP sockets, the media sockets the parties asked
//! for, the stream connections, and a waker for commands from
//! application threads. It reads, feeds the core `Endpoint`, drains its
//! outputs, and sleeps until the core's next timeout. No protocol logic
//! lives here.
//!
//! Stream connections are framed here with the core's [`StreamFramer`],
//! which finds each message's end without parsing it, so the core parses
//! it once (fed, borrowed from the framer, as a datagram), and the capture
//! sees whole messages. RFC 5626 section 4.4.1 keep-alives are answered as
//! they are read; when and whom to ping is the core's [`Connections`]
//! table.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Registry, Token};
use tracing::{debug, info, trace, warn};

use sipparty_core::party::{
    DialogId, DialogState, Endpoint as CoreEndpoint, EndpointOutput, Event, Input, MediaTransmit,
    PartyKey, RegistrationId, RequestId,
};
use sipparty_core::transport::connection::{ConnectionAction, ConnectionPolicy, Connections};
use sipparty_core::transport::locate::Answer;
use sipparty_core::transport::stream::{FrameRef, StreamFramer, PING, PONG};
use sipparty_core::{Payload, Transmit, Transport};

use crate::dialog::DialogShared;
use crate::dns::SystemDns;
use crate::party::{PartyShared, PendingIncoming};
use crate::registration::RegShared;
use crate::tls::{self, TlsConfig, TlsSession};
use crate::{Direction, Response, SipTrace};

/// A command from an application thread, run on the event loop with the
/// core state and the current time.
pub(crate) type Command = Box<dyn FnOnce(&mut Core, Instant) + Send>;

pub(crate) const WAKER: Token = Token(0);

/// Largest UDP datagram we read (the IPv4 maximum payload).
const MAX_DATAGRAM: usize = 65_535;
/// Datagrams read from one socket before outputs are drained, so answers
/// go out while a burst is still arriving.
const READ_BATCH: usize = 64;
/// SIP datagrams kept while the socket buffer is full; beyond this the
/// oldest are dropped (UDP may lose them anyway; timers retransmit).
const MAX_UDP_BACKLOG: usize = 65_536;
/// Bytes kept for a stream connection that cannot write; beyond this the
/// connection is considered broken.
const MAX_STREAM_BACKLOG: usize = 4 << 20;

/// What the commands see: the core endpoint and the shared state of the
/// handles.
pub(crate) struct Core {
    pub(crate) endpoint: CoreEndpoint,
    /// Index = `PartyKey.0`.
    pub(crate) parties: Vec<Arc<PartyShared>>,
    pub(crate) dialogs: HashMap<(PartyKey, DialogId), Arc<DialogShared>>,
    pub(crate) registrations: HashMap<(PartyKey, RegistrationId), Arc<RegShared>>,
    pub(crate) requests: HashMap<(PartyKey, RequestId), SyncSender<Response>>,
    /// Answers to blocking commands, sent once the command's outputs are
    /// drained, so that what the command did (a state change, a request on
    /// the wire) is visible when the caller wakes up.
    pub(crate) replies: Vec<Box<dyn FnOnce() + Send>>,
    /// Where copies of SIP messages go ([`crate::Endpoint::capture_messages`]).
    pub(crate) tap: Option<SyncSender<SipTrace>>,
    pub(crate) shutdown: bool,
}

impl Core {
    fn trace(
        &mut self,
        direction: Direction,
        transport: Transport,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        if let Some(tap) = &self.tap {
            let t = SipTrace {
                at: Instant::now(),
                direction,
                transport,
                local,
                remote,
                bytes: bytes.to_vec(),
            };
            match tap.try_send(t) {
                Ok(()) => {}
                // A slow reader loses messages, the loop never waits.
                Err(std::sync::mpsc::TrySendError::Full(_)) => {}
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => self.tap = None,
            }
        }
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("parties", &self.parties.len())
            .field("dialogs", &self.dialogs.len())
            .finish_non_exhaustive()
    }
}

/// One registered I/O source.
enum Source {
    /// The SIP UDP socket.
    Sip(UdpSocket),
    /// A media (RTP or RTCP) socket of a call.
    Media {
        socket: UdpSocket,
        local: SocketAddr,
        dialog: Option<Arc<DialogShared>>,
    },
    /// A TCP or TLS listening socket.
    Listener(TcpListener, Transport),
    /// A TCP or TLS connection.
    Conn(Box<Connection>),
}

/// A stream connection, either accepted or opened by us.
struct Connection {
    stream: TcpStream,
    transport: Transport,
    peer: SocketAddr,
    framer: StreamFramer,
    tls: Option<TlsSession>,
    /// Plain bytes not yet written (for TLS: records not yet written).
    out: VecDeque<u8>,
    /// Still connecting (opened by us, not yet writable).
    connecting: bool,
    writable_interest: bool,
}

/// The event loop's state.
pub(crate) struct Driver {
    poll: Poll,
    core: Core,
    commands: Receiver<Command>,
    slab: Vec<Option<Source>>,
    free: Vec<usize>,
    sip_udp: Option<usize>,
    udp_backlog: VecDeque<(SocketAddr, Payload)>,
    udp_writable_interest: bool,
    locals: Vec<(Transport, SocketAddr)>,
    media_by_addr: HashMap<SocketAddr, usize>,
    conn_by_peer: HashMap<(Transport, SocketAddr), usize>,
    /// Keep-alive, idle and cap book-keeping, keyed by slab index.
    connections: Connections<usize>,
    tls: Option<Arc<TlsConfig>>,
    /// No connection needs attention before this (an opening that takes
    /// too long, a ping, a late pong, an idle close). Refreshed when a
    /// connection is added or the table is served; traffic only pushes
    /// deadlines later, so a stale value at worst wakes the loop early.
    conn_due: Option<Instant>,
    buf: Vec<u8>,
    /// Answers the core's RFC 3263 questions.
    dns: SystemDns,
}

/// Sockets bound before the thread starts, so bind errors reach the caller.
pub(crate) struct Bound {
    pub(crate) udp: Option<std::net::UdpSocket>,
    pub(crate) tcp: Option<std::net::TcpListener>,
    pub(crate) tls: Option<std::net::TcpListener>,
    pub(crate) locals: Vec<(Transport, SocketAddr)>,
}

fn token(index: usize) -> Token {
    Token(index + 1)
}

impl Driver {
    pub(crate) fn new(
        poll: Poll,
        bound: Bound,
        commands: Receiver<Command>,
        streams: ConnectionPolicy,
        tls: Option<Arc<TlsConfig>>,
        waker: Arc<mio::Waker>,
    ) -> io::Result<Driver> {
        let mut endpoint = CoreEndpoint::new();
        for (t, a) in &bound.locals {
            endpoint.set_local_address(*t, *a);
        }
        let mut d = Driver {
            poll,
            core: Core {
                endpoint,
                parties: Vec::new(),
                dialogs: HashMap::new(),
                registrations: HashMap::new(),
                requests: HashMap::new(),
                replies: Vec::new(),
                tap: None,
                shutdown: false,
            },
            commands,
            slab: Vec::new(),
            free: Vec::new(),
            sip_udp: None,
            udp_backlog: VecDeque::new(),
            udp_writable_interest: false,
            locals: bound.locals,
            media_by_addr: HashMap::new(),
            conn_by_peer: HashMap::new(),
            connections: Connections::new(streams),
            tls,
            conn_due: None,
            buf: vec![0; MAX_DATAGRAM],
            dns: SystemDns::new(waker),
        };
        if let Some(s) = bound.udp {
            s.set_nonblocking(true)?;
            grow_buffers(&s);
            let i = d.insert(Source::Sip(UdpSocket::from_std(s)), Interest::READABLE)?;
            d.sip_udp = Some(i);
        }
        for (l, t) in [(bound.tcp, Transport::Tcp), (bound.tls, Transport::Tls)] {
            if let Some(l) = l {
                l.set_nonblocking(true)?;
                d.insert(
                    Source::Listener(TcpListener::from_std(l), t),
                    Interest::READABLE,
                )?;
            }
        }
        Ok(d)
    }

    fn insert(&mut self, mut source: Source, interest: Interest) -> io::Result<usize> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slab.push(None);
                self.slab.len() - 1
            }
        };
        let r = register(self.poll.registry(), &mut source, token(index), interest);
        if let Err(e) = r {
            self.free.push(index);
            return Err(e);
        }
        self.slab[index] = Some(source);
        Ok(index)
    }

    fn remove(&mut self, index: usize) -> Option<Source> {
        let mut s = self.slab.get_mut(index)?.take()?;
        let registry = self.poll.registry();
        let _ = match &mut s {
            Source::Sip(u) | Source::Media { socket: u, .. } => registry.deregister(u),
            Source::Listener(l, _) => registry.deregister(l),
            Source::Conn(c) => registry.deregister(&mut c.stream),
        };
        self.free.push(index);
        Some(s)
    }

    /// The loop. Returns when the endpoint shuts down.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut overdue_rounds = 0u32;
        loop {
            let next = self.drain();
            if self.core.shutdown {
                break;
            }
            let now = Instant::now();
            let timeout = match next {
                Some(t) if t <= now => {
                    // Overdue: let the core run its timers, then look
                    // again. A core that keeps asking for the past gets a
                    // short sleep rather than a busy loop.
                    self.core.endpoint.handle_input(Input::Timeout(now));
                    overdue_rounds += 1;
                    if overdue_rounds < 16 {
                        Some(Duration::ZERO)
                    } else {
                        Some(Duration::from_millis(1))
                    }
                }
                Some(t) => {
                    overdue_rounds = 0;
                    Some(t - now)
                }
                None => {
                    overdue_rounds = 0;
                    None
                }
            };
            // The connections' open, keep-alive and idle timers share the
            // wake-up.
            let timeout = match self.conn_due {
                Some(due) => {
                    let due = due.saturating_duration_since(now);
                    Some(timeout.map_or(due, |t| t.min(due)))
                }
                None => timeout,
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                warn!(error = %e, "poll failed; stopping the endpoint");
                break;
            }
            let now = Instant::now();
            for event in events.iter() {
                let t = event.token();
                if t == WAKER {
                    self.run_commands();
                    self.run_dns_answers();
                    continue;
                }
                let index = t.0 - 1;
                self.ready(index, event.is_readable(), event.is_writable());
            }
            if self.conn_due.is_some_and(|due| now >= due) {
                self.serve_connections(now);
            }
            if next.is_some_and(|t| t <= now) {
                self.core.endpoint.handle_input(Input::Timeout(now));
            }
        }
        self.stop();
    }

    /// Every handle is gone or the endpoint was told to stop: tell waiters
    /// their calls are over, then drop every socket.
    fn stop(&mut self) {
        debug!("endpoint stopping");
        for (_, d) in self.core.dialogs.drain() {
            if !d.lock().state.is_final() {
                d.set_state(
                    DialogState::Error,
                    Some(sipparty_core::party::DialogError::TransportError),
                );
            }
        }
        for p in &self.core.parties {
            p.close();
        }
        for r in self.core.registrations.values() {
            r.stopped();
        }
        self.core.requests.clear();
    }

    fn run_commands(&mut self) {
        loop {
            match self.commands.try_recv() {
                Ok(cmd) => {
                    let now = Instant::now();
                    cmd(&mut self.core, now);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.core.shutdown = true;
                    break;
                }
            }
        }
        if !self.core.replies.is_empty() {
            self.drain();
            for reply in self.core.replies.drain(..) {
                reply();
            }
        }
    }

    /// Feed the DNS answers the helper threads sent back.
    fn run_dns_answers(&mut self) {
        while let Some((id, result)) = self.dns.try_recv() {
            if let Err(e) = &result {
                debug!(%id, error = %e, "DNS lookup failed");
            }
            self.core.endpoint.handle_input(Input::Resolved {
                now: Instant::now(),
                id,
                answer: Answer::from_lookup(&result),
            });
        }
    }

    /// Drain the core's outputs; returns its next deadline.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.core.endpoint.poll_output() {
                EndpointOutput::Transmit(t) => self.send_sip(t),
                EndpointOutput::MediaTransmit(m) => self.send_media(m),
                EndpointOutput::Event { party, event } => self.on_event(party, event),
                EndpointOutput::Timeout(t) => return Some(t),
                _ => return None,
            }
        }
    }

    fn transport_error(&mut self, transport: Transport, destination: SocketAddr) {
        self.core.endpoint.handle_input(Input::TransportError {
            now: Instant::now(),
            transport,
            destination,
        });
    }

    // ---- sending ----

    fn send_sip(&mut self, t: Transmit) {
        if self.core.tap.is_some() {
            let local = self.local(t.transport);
            self.core
                .trace(Direction::Sent, t.transport, local, t.destination, &t.bytes);
        }
        trace!(transport = %t.transport, destination = %t.destination, first_line = first_line(&t.bytes), "sip out");
        match t.transport {
            Transport::Udp => self.send_udp(t.destination, t.bytes),
            Transport::Tcp | Transport::Tls => {
                self.send_stream(t.transport, t.destination, &t.bytes)
            }
            _ => self.transport_error(t.transport, t.destination),
        }
    }

    fn send_udp(&mut self, destination: SocketAddr, bytes: Payload) {
        let Some(Some(Source::Sip(socket))) = self.sip_udp.map(|i| &self.slab[i]) else {
            debug!(%destination, "no UDP socket on this endpoint");
            self.transport_error(Transport::Udp, destination);
            return;
        };
        if !self.udp_backlog.is_empty() {
            self.queue_udp(destination, bytes);
            return;
        }
        match socket.send_to(&bytes, destination) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.queue_udp(destination, bytes),
            Err(e) => {
                debug!(%destination, error = %e, "UDP send failed");
                self.transport_error(Transport::Udp, destination);
            }
        }
    }

    /// The socket buffer is full: keep the datagram and ask to be told when
    /// it drains.
    fn queue_udp(&mut self, destination: SocketAddr, bytes: Payload) {
        if self.udp_backlog.len() >= MAX_UDP_BACKLOG {
            self.udp_backlog.pop_front();
        }
        self.udp_backlog.push_back((destination, bytes));
        if !self.udp_writable_interest {
            if let Some(i) = self.sip_udp {
                if let Some(Source::Sip(s)) = &mut self.slab[i] {
                    let r = self.poll.registry().reregister(
                        s,
                        token(i),
                        Interest::READABLE | Interest::WRITABLE,
                    );
                    self.udp_writable_interest = r.is_ok();
                }
            }
        }
    }

    fn flush_udp(&mut self) {
        let Some(i) = self.sip_udp else { return };
        let mut failed = Vec::new();
        if let Some(Source::Sip(s)) = &mut self.slab[i] {
            while let Some((dest, bytes)) = self.udp_backlog.front() {
                match s.send_to(bytes, *dest) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(_) => failed.push(*dest),
                }
                self.udp_backlog.pop_front();
            }
            let _ = self
                .poll
                .registry()
                .reregister(s, token(i), Interest::READABLE);
            self.udp_writable_interest = false;
        }
        for d in failed {
            self.transport_error(Transport::Udp, d);
        }
    }

    fn send_media(&mut self, m: MediaTransmit) {
        // The core announces a media socket (MediaSocketOpen) before its
        // first packet; a packet for a socket not open (one that failed to
        // bind, or was closed at the end of the call) is dropped, never
        // reopened here.
        let Some(&i) = self.media_by_addr.get(&m.source) else {
            trace!(source = %m.source, "media for a socket that is not open, dropped");
            return;
        };
        if let Some(Source::Media { socket, dialog, .. }) = &self.slab[i] {
            // RTP is real time: a full buffer drops the packet.
            match socket.send_to(&m.bytes, m.destination) {
                Ok(n) => {
                    if let Some(d) = dialog {
                        d.count_sent(n);
                    }
                }
                Err(e) => trace!(destination = %m.destination, error = %e, "media send failed"),
            }
        }
    }

    fn send_stream(&mut self, transport: Transport, destination: SocketAddr, bytes: &[u8]) {
        let index = match self.conn_by_peer.get(&(transport, destination)) {
            Some(&i) => i,
            None => match self.connect(transport, destination) {
                Ok(i) => i,
                Err(e) => {
                    debug!(%destination, %transport, error = %e, "cannot connect");
                    self.transport_error(transport, destination);
                    return;
                }
            },
        };
        self.write_conn(index, bytes);
    }

    fn connect(&mut self, transport: Transport, destination: SocketAddr) -> io::Result<usize> {
        if transport == Transport::Tls && self.tls.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no TLS configuration on this endpoint",
            ));
        }
        self.make_room();
        let stream = TcpStream::connect(destination)?;
        let tls = match (transport, &self.tls) {
            (Transport::Tls, Some(cfg)) => Some(tls::client(cfg, destination)?),
            _ => None,
        };
        debug!(%destination, %transport, "connecting");
        let conn = Connection {
            stream,
            transport,
            peer: destination,
            framer: StreamFramer::new(),
            tls,
            out: VecDeque::new(),
            connecting: true,
            writable_interest: true,
        };
        let i = self.insert(
            Source::Conn(Box::new(conn)),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.conn_by_peer.insert((transport, destination), i);
        // Open once connected and, for TLS, handshaken; the table closes
        // it as failed if that takes too long.
        self.connections.opening(Instant::now(), i, true);
        self.conn_due = self.connections.poll_timeout();
        Ok(i)
    }

    /// At the connection cap: close the connection idle the longest.
    fn make_room(&mut self) {
        if let Some(i) = self.connections.evict_for_outbound() {
            debug!("connection cap reached, closing the longest idle");
            self.close_conn(i, false);
        }
    }

    /// Queue `bytes` on a connection and write what the socket takes.
    fn write_conn(&mut self, index: usize, bytes: &[u8]) {
        let Some(Source::Conn(c)) = &mut self.slab[index] else {
            return;
        };
        match &mut c.tls {
            Some(tls) => {
                if tls.write_plain(bytes).is_err() {
                    self.close_conn(index, true);
                    return;
                }
            }
            None => c.out.extend(bytes),
        }
        if c.out.len() > MAX_STREAM_BACKLOG {
            warn!(peer = %c.peer, "stream backlog overflow, closing");
            self.close_conn(index, true);
            return;
        }
        self.flush_conn(index);
    }

    /// Write pending bytes; register for writability if the socket is full.
    fn flush_conn(&mut self, index: usize) {
        let Some(Source::Conn(c)) = &mut self.slab[index] else {
            return;
        };
        if c.connecting {
            return;
        }
        let had_bytes = !c.out.is_empty() || c.tls.is_some();
        let result = flush(c);
        if had_bytes && result.is_ok() {
            self.connections.activity(Instant::now(), index);
        }
        let want_write = match result {
            Ok(more) => more,
            Err(e) => {
                debug!(peer = %c.peer, error = %e, "stream write failed");
                self.close_conn(index, true);
                return;
            }
        };
        if want_write != c.writable_interest {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut c.stream, token(index), interest)
                .is_ok()
            {
                c.writable_interest = want_write;
            }
        }
    }

    fn close_conn(&mut self, index: usize, report: bool) {
        self.connections.closed(index);
        if let Some(Source::Conn(c)) = self.remove(index) {
            // Only if the lookup still names this connection (a newer one
            // from the same address may have replaced it).
            if self.conn_by_peer.get(&(c.transport, c.peer)) == Some(&index) {
                self.conn_by_peer.remove(&(c.transport, c.peer));
            }
            debug!(peer = %c.peer, transport = %c.transport, report, "connection closed");
            if report {
                self.transport_error(c.transport, c.peer);
            } else {
                // A normal close (peer EOF, idle, evicted): responses the
                // core still owes on it go to the requests' Via (RFC 3261
                // section 18.2.2); its framer, if any, is dropped.
                self.core.endpoint.handle_input(Input::StreamClosed {
                    now: Instant::now(),
                    transport: c.transport,
                    source: c.peer,
                });
            }
        }
    }

    // ---- receiving ----

    fn ready(&mut self, index: usize, readable: bool, writable: bool) {
        let kind = match self.slab.get(index) {
            Some(Some(Source::Sip(_))) => 0,
            Some(Some(Source::Media { .. })) => 1,
            Some(Some(Source::Listener(..))) => 2,
            Some(Some(Source::Conn(_))) => 3,
            _ => return,
        };
        match kind {
            0 => {
                if writable {
                    self.flush_udp();
                }
                if readable {
                    self.read_sip_udp(index);
                }
            }
            1 => self.read_media(index),
            2 => self.accept(index),
            _ => {
                if writable {
                    self.conn_writable(index);
                }
                if readable {
                    self.read_conn(index);
                }
            }
        }
    }

    fn read_sip_udp(&mut self, index: usize) {
        let local = self.local(Transport::Udp);
        let mut n = 0;
        loop {
            let Some(Source::Sip(s)) = &self.slab[index] else {
                return;
            };
            match s.recv_from(&mut self.buf) {
                Ok((len, source)) => {
                    trace!(%source, first_line = first_line(&self.buf[..len]), "sip in");
                    let now = Instant::now();
                    if self.core.tap.is_some() {
                        self.core.trace(
                            Direction::Received,
                            Transport::Udp,
                            local,
                            source,
                            &self.buf[..len],
                        );
                    }
                    self.core.endpoint.handle_input(Input::Datagram {
                        now,
                        transport: Transport::Udp,
                        source,
                        destination: local.unwrap_or(source),
                        bytes: &self.buf[..len],
                    });
                    n += 1;
                    if n % READ_BATCH == 0 {
                        self.drain();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ICMP errors surface here on some systems; the socket is
                // fine, keep reading.
                Err(e) => trace!(error = %e, "UDP receive error ignored"),
            }
        }
    }

    fn read_media(&mut self, index: usize) {
        loop {
            let Some(Source::Media {
                socket,
                local,
                dialog,
            }) = &self.slab[index]
            else {
                return;
            };
            let local = *local;
            match socket.recv_from(&mut self.buf) {
                Ok((len, source)) => {
                    if let Some(d) = dialog {
                        d.count_received(len);
                    }
                    self.core.endpoint.handle_input(Input::Datagram {
                        now: Instant::now(),
                        transport: Transport::Udp,
                        source,
                        destination: local,
                        bytes: &self.buf[..len],
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => trace!(error = %e, "media receive error ignored"),
            }
        }
    }

    fn accept(&mut self, index: usize) {
        loop {
            let Some(Source::Listener(l, transport)) = &self.slab[index] else {
                return;
            };
            let transport = *transport;
            match l.accept() {
                Ok((stream, peer)) => {
                    if !self.connections.admit_inbound() {
                        warn!(%peer, "connection cap reached, refusing");
                        drop(stream);
                        continue;
                    }
                    let tls = match (transport, &self.tls) {
                        (Transport::Tls, Some(cfg)) => match tls::server(cfg) {
                            Ok(s) => Some(s),
                            Err(e) => {
                                warn!(error = %e, "TLS session setup failed");
                                continue;
                            }
                        },
                        (Transport::Tls, None) => continue,
                        _ => None,
                    };
                    let _ = stream.set_nodelay(true);
                    debug!(%peer, %transport, "accepted");
                    let conn = Connection {
                        stream,
                        transport,
                        peer,
                        framer: StreamFramer::new(),
                        tls,
                        out: VecDeque::new(),
                        connecting: false,
                        writable_interest: false,
                    };
                    match self.insert(Source::Conn(Box::new(conn)), Interest::READABLE) {
                        Ok(i) => {
                            // A newer connection from the same address
                            // replaces the older in the lookup.
                            self.conn_by_peer.insert((transport, peer), i);
                            if transport == Transport::Tls {
                                // Open once the handshake is done.
                                self.connections.opening(Instant::now(), i, false);
                            } else {
                                self.connections.opened(Instant::now(), i, false);
                            }
                            self.conn_due = self.connections.poll_timeout();
                        }
                        Err(e) => warn!(error = %e, "cannot register connection"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: keep serving what is open.
                    warn!(error = %e, "accept failed");
                    return;
                }
            }
        }
    }

    fn conn_writable(&mut self, index: usize) {
        let Some(Source::Conn(c)) = &mut self.slab[index] else {
            return;
        };
        if c.connecting {
            match c.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    debug!(peer = %c.peer, error = %e, "connect failed");
                    self.close_conn(index, true);
                    return;
                }
            }
            match c.stream.peer_addr() {
                Ok(_) => {
                    c.connecting = false;
                    let _ = c.stream.set_nodelay(true);
                    trace!(peer = %c.peer, "connected");
                    if c.tls.is_none() {
                        self.connections.established(Instant::now(), index);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => {
                    debug!(peer = %c.peer, error = %e, "connect failed");
                    self.close_conn(index, true);
                    return;
                }
            }
        }
        self.flush_conn(index);
    }

    fn read_conn(&mut self, index: usize) {
        let local = {
            let Some(Source::Conn(c)) = &self.slab[index] else {
                return;
            };
            self.local(c.transport)
        };
        let mut closed = false;
        let mut failed = false;
        loop {
            let Some(Source::Conn(c)) = &mut self.slab[index] else {
                return;
            };
            let r = c.stream.read(&mut self.buf);
            match r {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    self.connections.activity(Instant::now(), index);
                    match &mut c.tls {
                        Some(tls) => match tls.read_tls(&self.buf[..n]) {
                            Ok(plain) => {
                                if !tls.is_handshaking() && self.connections.is_opening(index) {
                                    trace!(peer = %c.peer, "TLS handshake done");
                                    self.connections.established(Instant::now(), index);
                                }
                                c.framer.push(&plain);
                            }
                            Err(e) => {
                                debug!(peer = %c.peer, error = %e, "TLS error");
                                failed = true;
                                break;
                            }
                        },
                        None => c.framer.push(&self.buf[..n]),
                    }
                    if !self.frames(index, local) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!(error = %e, "stream read failed");
                    failed = true;
                    break;
                }
            }
        }
        if closed || failed {
            // A close by the peer after it was done is normal; a reset is
            // reported so transactions towards it fail fast.
            self.close_conn(index, failed);
        } else {
            // TLS may have handshake records to send.
            self.flush_conn(index);
        }
    }

    /// Feed every complete frame of a connection to the core. Returns false
    /// if the connection was closed.
    fn frames(&mut self, index: usize, local: Option<SocketAddr>) -> bool {
        loop {
            let Some(Source::Conn(c)) = &mut self.slab[index] else {
                return false;
            };
            let (transport, peer) = (c.transport, c.peer);
            match c.framer.next_frame_ref() {
                Ok(Some(FrameRef::Message(bytes))) => {
                    self.core
                        .trace(Direction::Received, transport, local, peer, bytes);
                    // Framed without parsing (header end and
                    // Content-Length), borrowed from the framer: the
                    // Endpoint parses it once, as a datagram.
                    self.core.endpoint.handle_input(Input::Datagram {
                        now: Instant::now(),
                        transport,
                        source: peer,
                        destination: local.unwrap_or(peer),
                        bytes,
                    });
                }
                Ok(Some(FrameRef::Ping)) => {
                    trace!(%peer, "keep-alive ping, answering");
                    self.write_conn(index, PONG);
                }
                Ok(Some(FrameRef::Pong)) => {
                    self.connections.pong(Instant::now(), index);
                    trace!(%peer, "keep-alive pong");
                }
                Ok(Some(_)) => {}
                Ok(None) => return true,
                Err(e) => {
                    warn!(%peer, error = %e, "closing connection");
                    // The core answers a request whose headers it can
                    // read (400, or 413 when too large: RFC 3261 sections
                    // 21.4.1 and 21.4.13) from what the framer held; the
                    // answer is written on this connection before the
                    // close.
                    self.core.endpoint.handle_input(Input::StreamData {
                        now: Instant::now(),
                        transport,
                        source: peer,
                        destination: local.unwrap_or(peer),
                        bytes: c.framer.unframed(),
                    });
                    self.drain();
                    // Unless writing the answer already closed it (and
                    // the slot went to another connection).
                    if matches!(&self.slab[index], Some(Source::Conn(c)) if (c.transport, c.peer) == (transport, peer))
                    {
                        self.close_conn(index, true);
                    }
                    return false;
                }
            }
        }
    }

    /// Carry out what the connection table says is due: close idle
    /// connections, send keep-alive pings on ours, and give up on flows
    /// whose pong is late or that did not open in time (reported, so the
    /// transactions waiting on them fail over).
    fn serve_connections(&mut self, now: Instant) {
        let mut actions = Vec::new();
        self.connections.handle_timeout(now, &mut actions);
        for action in actions {
            match action {
                ConnectionAction::Ping(i) => {
                    if let Some(Source::Conn(c)) = &mut self.slab[i] {
                        c.framer.ping_sent();
                    }
                    self.write_conn(i, PING);
                }
                ConnectionAction::Close { conn, failed } => {
                    if let Some(peer) = self.still_opening(conn) {
                        debug!(%peer, "connect or TLS handshake took too long");
                    }
                    self.close_conn(conn, failed)
                }
                _ => {}
            }
        }
        self.conn_due = self.connections.poll_timeout();
    }

    /// The peer of the connection at `index` if it is still connecting or
    /// in its TLS handshake (asked of the connection: the table forgets a
    /// connection once it says to close it).
    fn still_opening(&self, index: usize) -> Option<SocketAddr> {
        match self.slab.get(index) {
            Some(Some(Source::Conn(c)))
                if c.connecting || c.tls.as_ref().is_some_and(TlsSession::is_handshaking) =>
            {
                Some(c.peer)
            }
            _ => None,
        }
    }

    fn local(&self, transport: Transport) -> Option<SocketAddr> {
        self.locals
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    // ---- events ----

    fn on_event(&mut self, key: PartyKey, event: Event) {
        match event {
            Event::DialogStateChanged { id, state } => {
                let error = if state == DialogState::Error {
                    self.core
                        .endpoint
                        .party(key)
                        .and_then(|p| p.last_error(id))
                        .cloned()
                } else {
                    None
                };
                let shared = if state.is_final() {
                    self.core.dialogs.remove(&(key, id))
                } else {
                    Some(
                        self.core
                            .dialogs
                            .entry((key, id))
                            .or_insert_with(|| DialogShared::new(false))
                            .clone(),
                    )
                };
                trace!(party = key.0, %id, %state, "dialog state");
                if let Some(d) = shared {
                    d.set_state(state, error);
                }
            }
            Event::IncomingCall {
                id,
                from,
                to,
                source,
                needs_decision,
                ..
            } => {
                let shared = self
                    .core
                    .dialogs
                    .entry((key, id))
                    .or_insert_with(|| DialogShared::new(false))
                    .clone();
                if let Some(p) = self.core.parties.get(key.0) {
                    p.push_incoming(PendingIncoming {
                        shared,
                        id,
                        from,
                        to,
                        source,
                        needs_decision,
                    });
                }
            }
            Event::Progress { id, code, reason } => {
                if let Some(d) = self.core.dialogs.get(&(key, id)) {
                    d.update(|i| i.last_progress = Some((code, reason)));
                }
            }
            Event::MediaSocketOpen { dialog, rtp, rtcp } => {
                // An incoming call opens its media before its first state
                // is reported: make the shared state now.
                let shared = Some(
                    self.core
                        .dialogs
                        .entry((key, dialog))
                        .or_insert_with(|| DialogShared::new(false))
                        .clone(),
                );
                for addr in [rtp, rtcp] {
                    self.open_media(addr, shared.clone());
                }
            }
            Event::MediaSocketClose { rtp, rtcp, .. } => {
                for addr in [rtp, rtcp] {
                    if let Some(i) = self.media_by_addr.remove(&addr) {
                        self.remove(i);
                    }
                }
            }
            Event::MediaStarted { dialog, stream } | Event::MediaUpdated { dialog, stream } => {
                if let Some(d) = self.core.dialogs.get(&(key, dialog)) {
                    d.update(|i| i.media = Some(stream));
                }
            }
            Event::Dtmf { dialog, digit, .. } => {
                if let Some(d) = self.core.dialogs.get(&(key, dialog)) {
                    d.update(|i| i.dtmf.push(digit));
                }
            }
            Event::Registration { id, state } => {
                if let Some(r) = self.core.registrations.get(&(key, id)) {
                    r.set(state);
                }
            }
            Event::RequestCompleted { id, outcome } => {
                if let Some(tx) = self.core.requests.remove(&(key, id)) {
                    let _ = tx.try_send(outcome);
                }
            }
            Event::MessageReceived {
                from,
                content_type,
                body,
                ..
            } => {
                if let Some(p) = self.core.parties.get(key.0) {
                    p.push_message(from, content_type, body);
                }
            }
            Event::ResolveRequest { id, query } => {
                if let Some(records) = self.dns.lookup(id, query) {
                    self.core.endpoint.handle_input(Input::Resolved {
                        now: Instant::now(),
                        id,
                        answer: Answer::Records(&records),
                    });
                }
            }
            other => trace!(party = key.0, event = ?other, "event"),
        }
    }

    fn open_media(&mut self, addr: SocketAddr, dialog: Option<Arc<DialogShared>>) {
        if let Some(&i) = self.media_by_addr.get(&addr) {
            if let Some(Source::Media { dialog: d, .. }) = &mut self.slab[i] {
                if d.is_none() {
                    *d = dialog;
                }
            }
            return;
        }
        match UdpSocket::bind(addr) {
            Ok(socket) => {
                let source = Source::Media {
                    socket,
                    local: addr,
                    dialog,
                };
                match self.insert(source, Interest::READABLE) {
                    Ok(i) => {
                        self.media_by_addr.insert(addr, i);
                    }
                    Err(e) => warn!(%addr, error = %e, "cannot register media socket"),
                }
            }
            // The port was advertised already; the call goes on without
            // media on this address.
            Err(e) => warn!(%addr, error = %e, "cannot open media socket"),
        }
    }
}

fn register(
    registry: &Registry,
    source: &mut Source,
    token: Token,
    interest: Interest,
) -> io::Result<()> {
    match source {
        Source::Sip(u) | Source::Media { socket: u, .. } => registry.register(u, token, interest),
        Source::Listener(l, _) => registry.register(l, token, interest),
        Source::Conn(c) => registry.register(&mut c.stream, token, interest),
    }
}

/// Write what the socket takes. Returns whether bytes remain.
/// Socket buffer size asked for the SIP UDP socket. Linux's default
/// (`net.core.rmem_default`, 208 KiB) holds a few hundred SIP messages: a
/// burst from a peer with hundreds of calls in flight overflows it while
/// the loop is busy, and each datagram dropped there costs a
/// retransmission interval (T1) of latency and a duplicate to process.
/// The kernel caps the request at `net.core.rmem_max`/`wmem_max`.
const SOCKET_BUFFER: usize = 4 << 20;

/// Ask for [`SOCKET_BUFFER`] bytes of receive and send buffer; a refusal
/// only costs throughput, so it is logged and otherwise ignored.
fn grow_buffers(socket: &std::net::UdpSocket) {
    let s = socket2::SockRef::from(socket);
    if let Err(e) = s.set_recv_buffer_size(SOCKET_BUFFER) {
        debug!(error = %e, "cannot grow the UDP receive buffer");
    }
    if let Err(e) = s.set_send_buffer_size(SOCKET_BUFFER) {
        debug!(error = %e, "cannot grow the UDP send buffer");
    }
}

fn flush(c: &mut Connection) -> io::Result<bool> {
    if let Some(tls) = &mut c.tls {
        tls.pending_records(&mut c.out);
    }
    while !c.out.is_empty() {
        let (a, _) = c.out.as_slices();
        match c.stream.write(a) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

pub(crate) fn log_bound(locals: &[(Transport, SocketAddr)]) {
    for (t, a) in locals {
        info!(transport = %t, address = %a, "listening");
    }
}

/// The start line of a message, for logs.
fn first_line(bytes: &[u8]) -> &str {
    let end = memchr_newline(bytes);
    std::str::from_utf8(&bytes[..end]).unwrap_or("<binary>")
}

fn memchr_newline(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(bytes.len().min(80))
}
