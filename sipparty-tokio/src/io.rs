//! The sockets of one endpoint, polled together from the endpoint's task:
//! the UDP SIP socket, the TCP and TLS listeners and their connections,
//! and the media sockets the Party asked for. No protocol here: bytes in,
//! framed messages out, and "this peer is unreachable".
//!
//! Stream connections (TCP, TLS) are framed here with the core's
//! [`StreamFramer`], which finds where each message ends without parsing
//! it (the header section's end and Content-Length), so the Party, fed the
//! framed message as a datagram, parses it once. The framer also finds
//! RFC 5626 section 4.4.1 keep-alives: a ping (CRLFCRLF) is answered with
//! a pong (CRLF) on the spot. A stream that cannot be framed goes to the
//! core, which answers what it can (400, 413), and closes once that is
//! written. When to ping, when a flow has failed, how long opening one may
//! take, when an idle connection closes and which one gives way at the cap
//! is the core's [`Connections`] table; this file only carries out its
//! [`ConnectionAction`]s.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use sipparty_core::transport::connection::{ConnectionAction, ConnectionPolicy, Connections};
use sipparty_core::transport::stream::{FrameRef, StreamFramer, PING, PONG};
use sipparty_core::{Payload, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_rustls::TlsStream;
use tracing::{debug, trace, warn};

use crate::driver::now;
use crate::tls::{self, TlsConfig};

/// Largest datagram or read we accept in one go.
const BUF_SIZE: usize = 65_536;
/// Datagrams waiting for a full UDP send buffer to drain; beyond this
/// the oldest are dropped (UDP retransmission covers them).
const MAX_UDP_QUEUE: usize = 4096;

/// Bytes queued on one connection before it is considered stuck.
const MAX_CONN_BACKLOG: usize = 4 << 20;

/// Socket buffer size asked for the SIP UDP socket. Linux's default
/// (`net.core.rmem_default`, 208 KiB) holds a few hundred SIP messages: a
/// burst from a peer with hundreds of calls in flight overflows it while
/// the task is busy, and each datagram dropped there costs a
/// retransmission interval (T1) of latency and a duplicate to process.
/// The kernel caps the request at `net.core.rmem_max`/`wmem_max`.
pub(crate) const SOCKET_BUFFER: usize = 4 << 20;

/// Ask for [`SOCKET_BUFFER`] bytes of receive and send buffer; a refusal
/// only costs throughput, so it is logged and otherwise ignored.
pub(crate) fn grow_buffers(socket: &UdpSocket) {
    let s = socket2::SockRef::from(socket);
    if let Err(e) = s.set_recv_buffer_size(SOCKET_BUFFER) {
        debug!(error = %e, "cannot grow the UDP receive buffer");
    }
    if let Err(e) = s.set_send_buffer_size(SOCKET_BUFFER) {
        debug!(error = %e, "cannot grow the UDP send buffer");
    }
}

/// What a poll of the sockets found. Datagram payloads are in [`Io::buf`].
#[derive(Debug)]
pub(crate) enum IoEvent {
    /// A datagram of `len` bytes from `source` arrived on `local` (the SIP
    /// socket or a media socket).
    Datagram {
        source: SocketAddr,
        local: SocketAddr,
        len: usize,
    },
    /// A whole SIP message arrived on the stream connection with `peer`
    /// (framed by Content-Length, RFC 3261 section 18.3).
    Message {
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        bytes: Vec<u8>,
    },
    /// The stream with `peer` cannot be framed any more (RFC 3261 section
    /// 18.3: no Content-Length, or a message over the size limit): these
    /// are the bytes held, for the core to answer a request it can read
    /// (400, 413). The connection closes once that answer is written.
    Unframeable {
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        bytes: Vec<u8>,
    },
    /// The stream connection with `peer` closed normally (the peer
    /// closed it, or it was idle or evicted): nothing failed.
    Closed {
        transport: Transport,
        peer: SocketAddr,
    },
    /// Sending to `destination` failed, or its connection broke.
    Unreachable {
        transport: Transport,
        destination: SocketAddr,
    },
}

/// A stream connection is known by its transport and the peer's address:
/// a request to that address and a response to a request that came from
/// it both reuse it (RFC 3261 section 18.2.2).
type ConnKey = (Transport, SocketAddr);

/// An open stream: plain TCP, or TLS over TCP.
enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().ok(),
            Stream::Tls(s) => s.get_ref().0.local_addr().ok(),
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }
}

/// Connecting and, for TLS, the handshake (either side). How long it may
/// take is the core's [`ConnectionPolicy::open_timeout`]: the table closes
/// a connection still opening then, and the future is dropped with it.
type Opening = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

enum ConnState {
    Opening(Opening),
    Open(Stream),
}

struct Conn {
    state: ConnState,
    /// Bytes not yet written (messages, pings, pongs).
    out: Vec<u8>,
    /// Written into TLS, which may hold records until flushed.
    unflushed: bool,
    framer: StreamFramer,
    local: Option<SocketAddr>,
    /// Framing failed: nothing more is read, and the connection closes
    /// (reported as failed) once what is queued is written.
    closing: bool,
}

impl Conn {
    fn new(state: ConnState, out: Vec<u8>, local: Option<SocketAddr>) -> Conn {
        Conn {
            state,
            out,
            unflushed: false,
            framer: StreamFramer::new(),
            local,
            closing: false,
        }
    }

    /// Whether closing it loses something: a connection still opening, or
    /// bytes not yet written.
    fn busy(&self) -> bool {
        matches!(self.state, ConnState::Opening(_)) || !self.out.is_empty()
    }
}

/// The sockets of an endpoint.
pub(crate) struct Io {
    udp: UdpSocket,
    udp_local: SocketAddr,
    udp_out: VecDeque<(SocketAddr, Payload)>,
    listener: Option<TcpListener>,
    tls_listener: Option<TcpListener>,
    tls: Option<Arc<TlsConfig>>,
    conns: HashMap<ConnKey, Conn>,
    /// Keep-alive, idle closing and the cap, by the core's rules.
    connections: Connections<ConnKey>,
    /// No connection needs attention before this. Kept rather than asked
    /// of the table on every turn of the loop (a scan of every
    /// connection); traffic only pushes deadlines later, so a stale value
    /// at worst wakes the task early once.
    conn_due: Option<Instant>,
    media: HashMap<SocketAddr, UdpSocket>,
    /// Events found outside a poll (a send that failed at once) and
    /// messages framed but not yet handed out.
    events: VecDeque<IoEvent>,
    /// The payload of the last datagram event.
    pub(crate) buf: Vec<u8>,
    /// Which source is polled first, rotated so none starves the others.
    turn: usize,
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io")
            .field("udp", &self.udp_local)
            .field("connections", &self.conns.len())
            .field("media", &self.media.len())
            .finish_non_exhaustive()
    }
}

/// The sockets [`Io`] starts with.
pub(crate) struct Sockets {
    pub(crate) udp: UdpSocket,
    pub(crate) tcp: Option<TcpListener>,
    pub(crate) tls: Option<TcpListener>,
}

impl Io {
    pub(crate) fn new(
        sockets: Sockets,
        tls: Option<TlsConfig>,
        policy: ConnectionPolicy,
    ) -> io::Result<Io> {
        let udp_local = sockets.udp.local_addr()?;
        Ok(Io {
            udp: sockets.udp,
            udp_local,
            udp_out: VecDeque::new(),
            listener: sockets.tcp,
            tls_listener: sockets.tls,
            tls: tls.map(Arc::new),
            conns: HashMap::new(),
            connections: Connections::new(policy),
            conn_due: None,
            media: HashMap::new(),
            events: VecDeque::new(),
            buf: vec![0; BUF_SIZE],
            turn: 0,
        })
    }

    /// Send SIP bytes. Failures come back as [`IoEvent::Unreachable`].
    pub(crate) fn send(&mut self, transport: Transport, destination: SocketAddr, bytes: Payload) {
        match transport {
            Transport::Udp => self.send_udp(destination, bytes),
            Transport::Tcp | Transport::Tls => self.send_stream(transport, destination, bytes),
            other => {
                warn!(transport = %other, %destination, "transport not supported by this driver");
                self.events.push_back(IoEvent::Unreachable {
                    transport: other,
                    destination,
                });
            }
        }
    }

    fn send_udp(&mut self, destination: SocketAddr, bytes: Payload) {
        if self.udp_out.is_empty() {
            match self.udp.try_send_to(&bytes, destination) {
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    debug!(%destination, error = %e, "UDP send failed");
                    self.events.push_back(IoEvent::Unreachable {
                        transport: Transport::Udp,
                        destination,
                    });
                    return;
                }
            }
        }
        // A full send buffer: keep the datagram until the socket is
        // writable again.
        if self.udp_out.len() >= MAX_UDP_QUEUE {
            self.udp_out.pop_front();
            warn!("UDP send queue full, dropping the oldest datagram");
        }
        self.udp_out.push_back((destination, bytes));
    }

    /// Queue `bytes` on the connection with `destination`, opening one if
    /// there is none (closing the longest silent one at the cap).
    fn send_stream(&mut self, transport: Transport, destination: SocketAddr, bytes: Payload) {
        let key = (transport, destination);
        let now = now();
        if let Some(conn) = self.conns.get_mut(&key) {
            if conn.out.len() + bytes.len() > MAX_CONN_BACKLOG {
                warn!(%destination, %transport, "connection backlog full, closing it");
                self.close(key, true);
            } else {
                conn.out.extend_from_slice(&bytes);
                self.connections.activity(now, key);
            }
            return;
        }
        let opening: Opening = match (transport, &self.tls) {
            (Transport::Tcp, _) => Box::pin(async move {
                let tcp = TcpStream::connect(destination).await?;
                let _ = tcp.set_nodelay(true);
                Ok(Stream::Tcp(tcp))
            }),
            (_, Some(tls)) => {
                let tls = tls.clone();
                Box::pin(async move {
                    let tcp = TcpStream::connect(destination).await?;
                    let _ = tcp.set_nodelay(true);
                    let stream = tls::connect(&tls, tcp, destination).await?;
                    Ok(Stream::Tls(Box::new(stream)))
                })
            }
            (_, None) => {
                warn!(%destination, "no TLS configuration on this party (PartyBuilder::tls)");
                self.events.push_back(IoEvent::Unreachable {
                    transport,
                    destination,
                });
                return;
            }
        };
        if let Some(old) = self.connections.evict_for_outbound() {
            debug!(peer = %old.1, transport = %old.0, "connection cap reached, closing the longest silent");
            let busy = self.conns.get(&old).is_some_and(Conn::busy);
            self.close(old, busy);
        }
        debug!(%destination, %transport, "connecting");
        self.conns.insert(
            key,
            Conn::new(ConnState::Opening(opening), bytes.into_vec(), None),
        );
        self.connections.opening(now, key, true);
        self.conn_due = self.connections.poll_timeout();
    }

    /// Close a connection; `report` it to the core as a transport error
    /// when something was lost with it.
    fn close(&mut self, key: ConnKey, report: bool) {
        self.connections.closed(key);
        if self.conns.remove(&key).is_some() {
            debug!(peer = %key.1, transport = %key.0, report, "connection closed");
            self.events.push_back(if report {
                IoEvent::Unreachable {
                    transport: key.0,
                    destination: key.1,
                }
            } else {
                IoEvent::Closed {
                    transport: key.0,
                    peer: key.1,
                }
            });
        }
    }

    /// Send a media packet from the local socket `source`.
    pub(crate) fn send_media(&mut self, source: SocketAddr, destination: SocketAddr, bytes: &[u8]) {
        match self.media.get(&source) {
            // Media is real time: a packet that cannot go now is lost,
            // like any other on the network.
            Some(s) => {
                if let Err(e) = s.try_send_to(bytes, destination) {
                    trace!(%source, %destination, error = %e, "media packet not sent");
                }
            }
            None => trace!(%source, "media packet for a socket that is not open"),
        }
    }

    /// Open a media socket on `addr` (RTP or RTCP).
    pub(crate) fn open_media(&mut self, addr: SocketAddr) -> io::Result<()> {
        if self.media.contains_key(&addr) {
            return Ok(());
        }
        let std = std::net::UdpSocket::bind(addr)?;
        std.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(std)?;
        self.media.insert(addr, socket);
        Ok(())
    }

    /// Close the media socket on `addr`.
    pub(crate) fn close_media(&mut self, addr: SocketAddr) {
        self.media.remove(&addr);
    }

    /// How many media sockets are open.
    pub(crate) fn media_count(&self) -> usize {
        self.media.len()
    }

    /// When a connection next needs attention (an opening that takes too
    /// long, a keep-alive ping, a late pong, an idle close), if any is open.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.conn_due
    }

    /// Carry out what the connection table says is due: RFC 5626 section
    /// 4.4.1 pings on connections we opened, closing flows whose pong is
    /// late or that did not open in time (reported: the peer is gone, and
    /// the transactions waiting on it fail over) and idle connections
    /// (issue 6 section 3; not reported: nothing failed, the next message
    /// opens a new one).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut actions = Vec::new();
        self.connections.handle_timeout(now, &mut actions);
        for action in actions {
            match action {
                ConnectionAction::Ping(key) => {
                    if let Some(c) = self.conns.get_mut(&key) {
                        trace!(peer = %key.1, "keep-alive ping");
                        c.framer.ping_sent();
                        c.out.extend_from_slice(PING);
                    }
                }
                ConnectionAction::Close { conn, failed } => {
                    let Some(c) = self.conns.get(&conn) else {
                        continue;
                    };
                    if matches!(c.state, ConnState::Opening(_)) {
                        debug!(peer = %conn.1, transport = %conn.0, "connect or TLS handshake took too long");
                    } else {
                        debug!(peer = %conn.1, transport = %conn.0, failed, "closing silent connection");
                    }
                    let report = failed || c.busy();
                    // The table has forgotten it already: `closed` is a
                    // no-op there.
                    self.close(conn, report);
                }
                _ => {}
            }
        }
        self.conn_due = self.connections.poll_timeout();
    }

    /// How many stream connections (TCP and TLS) are open or opening.
    pub(crate) fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Wait for something to happen on any socket.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<IoEvent> {
        if let Some(e) = self.events.pop_front() {
            return Poll::Ready(e);
        }
        self.flush_udp(cx);
        self.turn = self.turn.wrapping_add(1);
        for k in 0..4 {
            let ev = match (self.turn + k) % 4 {
                0 => self.poll_udp(cx),
                1 => {
                    self.poll_accept(cx);
                    None
                }
                2 => {
                    self.poll_conns(cx);
                    self.events.pop_front()
                }
                _ => self.poll_media(cx),
            };
            if let Some(ev) = ev {
                return Poll::Ready(ev);
            }
        }
        match self.events.pop_front() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        }
    }

    fn flush_udp(&mut self, cx: &mut Context<'_>) {
        while let Some((destination, bytes)) = self.udp_out.front() {
            if self.udp.poll_send_ready(cx).is_pending() {
                return;
            }
            match self.udp.try_send_to(bytes, *destination) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => {
                    debug!(%destination, error = %e, "UDP send failed");
                    self.events.push_back(IoEvent::Unreachable {
                        transport: Transport::Udp,
                        destination: *destination,
                    });
                }
            }
            self.udp_out.pop_front();
        }
    }

    fn poll_udp(&mut self, cx: &mut Context<'_>) -> Option<IoEvent> {
        // A few errors in a row at most (an ICMP error is reported once
        // per packet); the next poll registers the waker again.
        for _ in 0..8 {
            let mut rb = ReadBuf::new(&mut self.buf);
            match self.udp.poll_recv_from(cx, &mut rb) {
                Poll::Ready(Ok(source)) => {
                    return Some(IoEvent::Datagram {
                        source,
                        local: self.udp_local,
                        len: rb.filled().len(),
                    })
                }
                Poll::Ready(Err(e)) => debug!(error = %e, "UDP receive error"),
                Poll::Pending => return None,
            }
        }
        cx.waker().wake_by_ref();
        None
    }

    /// Take the connections waiting on both listeners.
    fn poll_accept(&mut self, cx: &mut Context<'_>) {
        let mut accepted = Vec::new();
        for (listener, transport) in [
            (&self.listener, Transport::Tcp),
            (&self.tls_listener, Transport::Tls),
        ] {
            let Some(listener) = listener else { continue };
            loop {
                match listener.poll_accept(cx) {
                    Poll::Ready(Ok((stream, peer))) => accepted.push((stream, peer, transport)),
                    Poll::Ready(Err(e)) => {
                        // EMFILE and friends: wait for the next wake-up
                        // rather than spin.
                        warn!(error = %e, %transport, "accept failed");
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        let now = now();
        for (stream, peer, transport) in accepted {
            if !self.connections.admit_inbound() {
                warn!(%peer, %transport, "connection limit reached, refusing");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let local = stream.local_addr().ok();
            let state = match (transport, &self.tls) {
                (Transport::Tls, Some(tls)) => {
                    let tls = tls.clone();
                    ConnState::Opening(Box::pin(async move {
                        let stream = tls::accept(&tls, stream).await?;
                        Ok(Stream::Tls(Box::new(stream)))
                    }))
                }
                _ => ConnState::Open(Stream::Tcp(stream)),
            };
            debug!(%peer, %transport, "accepted connection");
            // A new connection from a peer we had one with replaces it.
            let key = (transport, peer);
            if matches!(state, ConnState::Opening(_)) {
                self.connections.opening(now, key, false);
            } else {
                self.connections.opened(now, key, false);
            }
            self.conns.insert(key, Conn::new(state, Vec::new(), local));
            self.conn_due = self.connections.poll_timeout();
            // Its readiness is not registered until the connections are
            // polled: make sure that happens.
            cx.waker().wake_by_ref();
        }
    }

    /// Drive every connection: finish opening, read one chunk and frame
    /// it (messages queue as events, pings are answered), write what is
    /// queued.
    fn poll_conns(&mut self, cx: &mut Context<'_>) {
        if self.conns.is_empty() {
            return;
        }
        let now = now();
        // (connection, whether to report it as a transport error)
        let mut dead: Vec<(ConnKey, bool)> = Vec::new();
        let mut more = false;
        for (&key, conn) in self.conns.iter_mut() {
            let (transport, peer) = key;
            if let ConnState::Opening(fut) = &mut conn.state {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => {
                        debug!(%peer, %transport, "connection open");
                        conn.local = conn.local.or_else(|| stream.local_addr());
                        conn.state = ConnState::Open(stream);
                        self.connections.established(now, key);
                    }
                    Poll::Ready(Err(e)) => {
                        debug!(%peer, %transport, error = %e, "connect or handshake failed");
                        dead.push((key, true));
                        continue;
                    }
                    Poll::Pending => continue,
                }
            }
            let Conn {
                state: ConnState::Open(stream),
                out,
                unflushed,
                framer,
                local,
                closing,
            } = conn
            else {
                continue;
            };
            if *closing {
                match write_out(stream, out, unflushed, cx) {
                    Ok(()) if !out.is_empty() || *unflushed => {}
                    Ok(()) => dead.push((key, true)),
                    Err(e) => {
                        debug!(%peer, %transport, error = %e, "write failed");
                        dead.push((key, true));
                    }
                }
                continue;
            }
            let mut rb = ReadBuf::new(&mut self.buf);
            match stream.poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    debug!(%peer, %transport, "connection closed by peer");
                    // An orderly close with nothing unsent is no failure:
                    // the next message opens a new one.
                    dead.push((key, !out.is_empty()));
                    continue;
                }
                Poll::Ready(Ok(())) => {
                    trace!(%peer, len = rb.filled().len(), "read");
                    framer.push(rb.filled());
                    self.connections.activity(now, key);
                    more = true;
                    let local = local.unwrap_or(self.udp_local);
                    loop {
                        match framer.next_frame_ref() {
                            // Framed without parsing (header end and
                            // Content-Length); the Party parses it once.
                            Ok(Some(FrameRef::Message(bytes))) => {
                                self.events.push_back(IoEvent::Message {
                                    transport,
                                    peer,
                                    local,
                                    bytes: bytes.to_vec(),
                                })
                            }
                            // RFC 5626 section 4.4.1: answer at once.
                            Ok(Some(FrameRef::Ping)) => {
                                trace!(%peer, "keep-alive ping, answering");
                                out.extend_from_slice(PONG);
                            }
                            Ok(Some(FrameRef::Pong)) => {
                                trace!(%peer, "keep-alive pong");
                                self.connections.pong(now, key);
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(e) => {
                                warn!(%peer, %transport, error = %e, "closing connection");
                                // The core may answer it (400, 413); the
                                // close waits for that to be written.
                                self.events.push_back(IoEvent::Unframeable {
                                    transport,
                                    peer,
                                    local,
                                    bytes: framer.unframed().to_vec(),
                                });
                                *closing = true;
                                break;
                            }
                        }
                    }
                    if *closing {
                        // Polled again at once, with the answer queued.
                        cx.waker().wake_by_ref();
                        continue;
                    }
                }
                // TLS without close_notify: the same as a TCP close.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    debug!(%peer, %transport, "connection closed by peer");
                    dead.push((key, !out.is_empty()));
                    continue;
                }
                Poll::Ready(Err(e)) => {
                    debug!(%peer, %transport, error = %e, "read failed");
                    dead.push((key, true));
                    continue;
                }
                Poll::Pending => {}
            }
            if let Err(e) = write_out(stream, out, unflushed, cx) {
                debug!(%peer, %transport, error = %e, "write failed");
                dead.push((key, true));
            }
        }
        for (key, report) in dead {
            self.close(key, report);
        }
        if more {
            // A read was served without waiting for readiness: come back
            // for what may follow, and for the connections after it.
            cx.waker().wake_by_ref();
        }
    }

    fn poll_media(&mut self, cx: &mut Context<'_>) -> Option<IoEvent> {
        let mut woke = false;
        for (&local, socket) in &self.media {
            let mut rb = ReadBuf::new(&mut self.buf);
            match socket.poll_recv_from(cx, &mut rb) {
                Poll::Ready(Ok(source)) => {
                    return Some(IoEvent::Datagram {
                        source,
                        local,
                        len: rb.filled().len(),
                    })
                }
                Poll::Ready(Err(e)) => {
                    trace!(%local, error = %e, "media receive error");
                    woke = true;
                }
                Poll::Pending => {}
            }
        }
        if woke {
            cx.waker().wake_by_ref();
        }
        None
    }
}

/// Write what the stream takes, then flush (TLS keeps records until
/// then). Pending leaves the rest for the next wake-up.
fn write_out(
    stream: &mut Stream,
    out: &mut Vec<u8>,
    unflushed: &mut bool,
    cx: &mut Context<'_>,
) -> io::Result<()> {
    while !out.is_empty() {
        match stream.poll_write(cx, out) {
            Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(n)) => {
                trace!(n, "wrote");
                out.drain(..n);
                *unflushed = true;
            }
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => return Ok(()),
        }
    }
    if *unflushed {
        match stream.poll_flush(cx) {
            Poll::Ready(Ok(())) => *unflushed = false,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => {}
        }
    }
    Ok(())
}
