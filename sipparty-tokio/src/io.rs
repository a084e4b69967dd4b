//! The sockets of one endpoint, polled together from the endpoint's task:
//! the UDP SIP socket, the TCP listener and its connections, and the media
//! sockets the Party asked for. No protocol here: bytes in, bytes out, and
//! "this peer is unreachable".

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use sipparty_core::Transport;
use tokio::io::ReadBuf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tracing::{debug, trace, warn};

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

/// What a poll of the sockets found. Payloads are in [`Io::buf`].
#[derive(Debug)]
pub(crate) enum IoEvent {
    /// A datagram of `len` bytes from `source` arrived on `local` (the SIP
    /// socket or a media socket).
    Datagram {
        source: SocketAddr,
        local: SocketAddr,
        len: usize,
    },
    /// `len` bytes arrived on the TCP connection with `peer`.
    Stream {
        peer: SocketAddr,
        local: SocketAddr,
        len: usize,
    },
    /// Sending to `destination` failed, or its connection broke.
    Unreachable {
        transport: Transport,
        destination: SocketAddr,
    },
}

type Connect = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

enum ConnState {
    Connecting(Connect),
    Open(TcpStream),
}

struct Conn {
    state: ConnState,
    /// Bytes not yet written.
    out: Vec<u8>,
    local: Option<SocketAddr>,
    /// Last read or write, for idle closing.
    last_active: Instant,
}

/// The sockets of an endpoint.
pub(crate) struct Io {
    udp: UdpSocket,
    udp_local: SocketAddr,
    udp_out: VecDeque<(SocketAddr, Vec<u8>)>,
    listener: Option<TcpListener>,
    conns: HashMap<SocketAddr, Conn>,
    max_conns: usize,
    media: HashMap<SocketAddr, UdpSocket>,
    /// Events found outside a poll (a send that failed at once).
    events: VecDeque<IoEvent>,
    /// The payload of the last event.
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

impl Io {
    pub(crate) fn new(
        udp: UdpSocket,
        listener: Option<TcpListener>,
        max_conns: usize,
    ) -> io::Result<Io> {
        let udp_local = udp.local_addr()?;
        Ok(Io {
            udp,
            udp_local,
            udp_out: VecDeque::new(),
            listener,
            conns: HashMap::new(),
            max_conns,
            media: HashMap::new(),
            events: VecDeque::new(),
            buf: vec![0; BUF_SIZE],
            turn: 0,
        })
    }

    /// Send SIP bytes. Failures come back as [`IoEvent::Unreachable`].
    pub(crate) fn send(&mut self, transport: Transport, destination: SocketAddr, bytes: Vec<u8>) {
        match transport {
            Transport::Udp => self.send_udp(destination, bytes),
            Transport::Tcp => self.send_tcp(destination, bytes),
            other => {
                warn!(transport = %other, %destination, "transport not supported by this driver");
                self.events.push_back(IoEvent::Unreachable {
                    transport: other,
                    destination,
                });
            }
        }
    }

    fn send_udp(&mut self, destination: SocketAddr, bytes: Vec<u8>) {
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

    fn send_tcp(&mut self, destination: SocketAddr, bytes: Vec<u8>) {
        if let Some(conn) = self.conns.get_mut(&destination) {
            if conn.out.len() + bytes.len() > MAX_CONN_BACKLOG {
                warn!(%destination, "connection backlog full, closing it");
                self.close(destination);
            } else {
                conn.out.extend_from_slice(&bytes);
                conn.last_active = Instant::now();
            }
            return;
        }
        if self.conns.len() >= self.max_conns {
            warn!(%destination, "connection limit reached");
            self.events.push_back(IoEvent::Unreachable {
                transport: Transport::Tcp,
                destination,
            });
            return;
        }
        debug!(%destination, "connecting");
        self.conns.insert(
            destination,
            Conn {
                state: ConnState::Connecting(Box::pin(TcpStream::connect(destination))),
                out: bytes,
                local: None,
                last_active: Instant::now(),
            },
        );
    }

    /// Close the connection with `peer` and report it.
    fn close(&mut self, peer: SocketAddr) {
        if self.conns.remove(&peer).is_some() {
            self.events.push_back(IoEvent::Unreachable {
                transport: Transport::Tcp,
                destination: peer,
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

    /// Close connections with no traffic for `idle` (issue 6 section 3:
    /// idle connection closing). A peer that still needs one opens it
    /// again; our side does so on the next request or response.
    pub(crate) fn close_idle(&mut self, idle: Duration) {
        let now = Instant::now();
        let stale: Vec<SocketAddr> = self
            .conns
            .iter()
            .filter(|(_, c)| c.out.is_empty() && now.duration_since(c.last_active) >= idle)
            .map(|(p, _)| *p)
            .collect();
        for peer in stale {
            debug!(%peer, "closing idle connection");
            // Not reported as a transport error: nothing failed.
            self.conns.remove(&peer);
        }
    }

    /// How many TCP connections are open or opening.
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
                1 => self.poll_accept(cx),
                2 => self.poll_conns(cx),
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

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Option<IoEvent> {
        let listener = self.listener.as_ref()?;
        loop {
            match listener.poll_accept(cx) {
                Poll::Ready(Ok((stream, peer))) => {
                    if self.conns.len() >= self.max_conns {
                        warn!(%peer, "connection limit reached, refusing");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    debug!(%peer, "accepted connection");
                    let local = stream.local_addr().ok();
                    // Its readiness is not registered until the
                    // connections are polled: make sure that happens.
                    cx.waker().wake_by_ref();
                    // A new connection from a peer we had one with
                    // replaces it.
                    self.conns.insert(
                        peer,
                        Conn {
                            state: ConnState::Open(stream),
                            out: Vec::new(),
                            local,
                            last_active: Instant::now(),
                        },
                    );
                }
                Poll::Ready(Err(e)) => {
                    // EMFILE and friends: wait for the next wake-up rather
                    // than spin.
                    warn!(error = %e, "accept failed");
                    return None;
                }
                Poll::Pending => return None,
            }
        }
    }

    fn poll_conns(&mut self, cx: &mut Context<'_>) -> Option<IoEvent> {
        let mut broken = Vec::new();
        let mut closed = Vec::new();
        let mut found = None;
        for (&peer, conn) in self.conns.iter_mut() {
            if let ConnState::Connecting(fut) = &mut conn.state {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        conn.local = stream.local_addr().ok();
                        conn.state = ConnState::Open(stream);
                        debug!(%peer, "connected");
                    }
                    Poll::Ready(Err(e)) => {
                        debug!(%peer, error = %e, "connect failed");
                        broken.push(peer);
                        continue;
                    }
                    Poll::Pending => continue,
                }
            }
            let ConnState::Open(stream) = &conn.state else {
                continue;
            };
            // Write what is queued.
            while !conn.out.is_empty() {
                if stream.poll_write_ready(cx).is_pending() {
                    break;
                }
                match stream.try_write(&conn.out) {
                    Ok(n) => {
                        trace!(%peer, n, "wrote");
                        conn.out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        debug!(%peer, error = %e, "write failed");
                        broken.push(peer);
                        break;
                    }
                }
            }
            if found.is_some() || broken.last() == Some(&peer) || closed.last() == Some(&peer) {
                continue;
            }
            // Read what arrived.
            loop {
                if stream.poll_read_ready(cx).is_pending() {
                    break;
                }
                match stream.try_read(&mut self.buf) {
                    Ok(0) => {
                        debug!(%peer, "connection closed by peer");
                        if conn.out.is_empty() {
                            // An orderly close with nothing unsent is no
                            // failure: the next message opens a new one.
                            closed.push(peer);
                        } else {
                            broken.push(peer);
                        }
                        break;
                    }
                    Ok(len) => {
                        trace!(%peer, len, "read");
                        conn.last_active = Instant::now();
                        let local = conn.local.unwrap_or(self.udp_local);
                        found = Some(IoEvent::Stream { peer, local, len });
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        debug!(%peer, error = %e, "read failed");
                        broken.push(peer);
                        break;
                    }
                }
            }
            if found.is_some() {
                // Make sure the connections not polled this time get
                // polled again soon.
                cx.waker().wake_by_ref();
            }
        }
        for peer in broken {
            self.close(peer);
        }
        for peer in closed {
            self.conns.remove(&peer);
        }
        found.or_else(|| self.events.pop_front())
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
