//! A deterministic network simulator: a virtual clock, seeded loss,
//! duplication, reordering and latency, in the style of quinn-proto's test
//! `Pair` and str0m's netem.
//!
//! A [`Network`] holds several endpoints, each at a [`SocketAddr`]. Every
//! [`Network::step`] drains what the endpoints want to send, then jumps the
//! virtual clock to the earliest pending event (a delivery or an endpoint's
//! timeout) and performs it. No real time passes: a 32-second timer fires
//! after a few microseconds of CPU, and the same seed always gives the same
//! run, so a failing seed is a reproducible bug report.
//!
//! The link model applies to unreliable transports (UDP) only. Datagrams
//! sent over a reliable transport (TCP, TLS) see the latency but are never
//! lost, duplicated or reordered: they model a connection that works. Hooks
//! ([`Network::set_hook`]) see every datagram and may drop, delay or rewrite
//! it whatever its transport, which is how a test kills one chosen message.
//!
//! ```
//! use sipparty_core::sim::{Endpoint, LinkConfig, Network};
//! use sipparty_core::{Transmit, Transport};
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//!
//! /// Answers every datagram with "pong".
//! #[derive(Default)]
//! struct Echo { out: Vec<Transmit>, got: usize }
//! impl Endpoint for Echo {
//!     fn handle_datagram(&mut self, _: Instant, source: SocketAddr, _: SocketAddr, bytes: &[u8]) {
//!         self.got += 1;
//!         if bytes == b"ping" {
//!             self.out.push(Transmit { transport: Transport::Udp, destination: source, bytes: b"pong".to_vec().into() });
//!         }
//!     }
//!     fn handle_timeout(&mut self, _: Instant) {}
//!     fn poll_transmit(&mut self) -> Option<Transmit> { self.out.pop() }
//!     fn poll_timeout(&mut self) -> Option<Instant> { None }
//! }
//!
//! let a: SocketAddr = "127.0.0.1:5060".parse().unwrap();
//! let b: SocketAddr = "127.0.0.1:5070".parse().unwrap();
//! let start = Instant::now();
//! let mut net = Network::new(1, start);
//! net.set_link(LinkConfig { latency: Duration::from_millis(20), ..LinkConfig::default() });
//! net.add(a, Echo::default());
//! net.add(b, Echo::default());
//! net.endpoint_mut(a).out.push(Transmit { transport: Transport::Udp, destination: b, bytes: b"ping".to_vec().into() });
//! net.run_until_idle(Duration::from_secs(1));
//! assert_eq!(net.endpoint(a).got, 1);
//! assert_eq!(net.now() - start, Duration::from_millis(40));
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::trace;

use crate::random::{Random, SeededRandom};
use crate::transport::{Transmit, Transport};

/// Something that lives at an address in the simulated network: a
/// transaction layer under test, a whole `Party`, a scripted peer.
pub trait Endpoint {
    /// A datagram (or a chunk of a stream) arrived from `source`, addressed
    /// to `destination` (this endpoint's address).
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    );
    /// The deadline last reported by [`Endpoint::poll_timeout`] has passed.
    /// An endpoint without timers (a scripted peer that only reacts to
    /// what arrives) keeps the default, which does nothing.
    fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }
    /// Next thing to send; `Transmit::destination` is the peer.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When this endpoint next wants [`Endpoint::handle_timeout`] called;
    /// by default never.
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

/// How the simulated links behave (all links share one configuration).
///
/// Probabilities are in `0.0..=1.0`; values outside are clamped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// One-way delay of every datagram.
    pub latency: Duration,
    /// Extra delay, uniform in `0..jitter`, added per datagram.
    pub jitter: Duration,
    /// Probability that a UDP datagram is lost.
    pub loss: f64,
    /// Probability that a UDP datagram is delivered twice (the copy gets its
    /// own delay, so it may arrive first).
    pub duplicate: f64,
    /// Probability that a UDP datagram is held back by an extra one to three
    /// latencies, so datagrams sent after it overtake it.
    pub reorder: f64,
}

impl Default for LinkConfig {
    /// 10 ms latency, no jitter, a perfect link.
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }
}

/// What a hook decides for one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Leave it to the link model.
    Deliver,
    /// Lose it.
    Drop,
    /// Add this much delay on top of the link's.
    Delay(Duration),
    /// Deliver these bytes instead (the link model still applies).
    Replace(Vec<u8>),
}

/// What happened to a datagram, decided when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// Delivered (or to be delivered) at this instant.
    Delivered(Instant),
    /// Lost by the link model.
    Lost,
    /// Dropped by the hook.
    Dropped,
    /// No endpoint at the destination address.
    Unreachable,
}

/// One datagram as the network saw it: the log entry, and what hooks see.
#[derive(Clone, PartialEq, Eq)]
pub struct Datagram {
    /// When it was sent.
    pub at: Instant,
    /// The sending endpoint.
    pub source: SocketAddr,
    /// Where it was sent.
    pub destination: SocketAddr,
    /// The transport the sender asked for.
    pub transport: Transport,
    /// The payload (after a hook's [`Verdict::Replace`], in the log).
    pub bytes: Vec<u8>,
    /// What became of it (in the log; [`Fate::Unreachable`] or a provisional
    /// [`Fate::Delivered`] of the send instant while a hook looks at it).
    pub fate: Fate,
    /// Whether this entry is a copy made by the link's duplication.
    pub duplicate: bool,
}

impl Datagram {
    /// The payload as text, for assertions and logs (lossy UTF-8).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// Whether the datagram reached (or will reach) its destination.
    pub fn delivered(&self) -> bool {
        matches!(self.fate, Fate::Delivered(_))
    }
}

impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        let first_line = text.lines().next().unwrap_or("");
        f.debug_struct("Datagram")
            .field("at", &self.at)
            .field("source", &self.source)
            .field("destination", &self.destination)
            .field("transport", &self.transport)
            .field("first_line", &first_line)
            .field("len", &self.bytes.len())
            .field("fate", &self.fate)
            .field("duplicate", &self.duplicate)
            .finish()
    }
}

type Hook = Box<dyn FnMut(&Datagram) -> Verdict>;

/// Guard against an endpoint that keeps asking to be woken at the same
/// instant: a simulation that makes no progress is a bug worth a loud stop.
const MAX_STEPS_PER_INSTANT: u32 = 1_000_000;

/// The simulated network: endpoints, in-flight datagrams and the clock.
pub struct Network<E: Endpoint> {
    now: Instant,
    rng: SeededRandom,
    link: LinkConfig,
    hook: Option<Hook>,
    /// Endpoints in insertion order, so iteration (and thus the run) is
    /// deterministic.
    endpoints: Vec<(SocketAddr, E)>,
    /// In-flight deliveries: (arrival, sequence) -> index into `log`. The
    /// sequence number keeps equal arrival times in send order.
    in_flight: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    sequence: u64,
    /// Latest arrival scheduled per reliable (source, destination) pair, so
    /// a stream never reorders even with jitter.
    stream_tail: BTreeMap<(SocketAddr, SocketAddr), Instant>,
    log: Vec<Datagram>,
    steps_at_now: u32,
}

impl<E: Endpoint> fmt::Debug for Network<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("now", &self.now)
            .field("link", &self.link)
            .field("endpoints", &self.endpoints.len())
            .field("in_flight", &self.in_flight.len())
            .field("logged", &self.log.len())
            .finish()
    }
}

impl<E: Endpoint> Network<E> {
    /// An empty network whose clock starts at `start`; `seed` drives every
    /// random choice of the link model.
    pub fn new(seed: u64, start: Instant) -> Self {
        Self {
            now: start,
            rng: SeededRandom::new(seed),
            link: LinkConfig::default(),
            hook: None,
            endpoints: Vec::new(),
            in_flight: BinaryHeap::new(),
            sequence: 0,
            stream_tail: BTreeMap::new(),
            log: Vec::new(),
            steps_at_now: 0,
        }
    }

    /// Place `endpoint` at `addr` (replacing any endpoint already there).
    pub fn add(&mut self, addr: SocketAddr, endpoint: E) {
        match self.endpoints.iter_mut().find(|(a, _)| *a == addr) {
            Some(slot) => slot.1 = endpoint,
            None => self.endpoints.push((addr, endpoint)),
        }
    }

    /// The endpoint at `addr`.
    ///
    /// # Panics
    /// If no endpoint was added at `addr` (a bug in the test).
    pub fn endpoint(&self, addr: SocketAddr) -> &E {
        match self.endpoints.iter().find(|(a, _)| *a == addr) {
            Some((_, e)) => e,
            None => panic!("no endpoint at {addr}"),
        }
    }

    /// The endpoint at `addr`, mutably (to issue commands to it).
    ///
    /// # Panics
    /// If no endpoint was added at `addr` (a bug in the test).
    pub fn endpoint_mut(&mut self, addr: SocketAddr) -> &mut E {
        match self.endpoints.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, e)) => e,
            None => panic!("no endpoint at {addr}"),
        }
    }

    /// Every endpoint with its address, in the order they were added.
    pub fn endpoints(&self) -> impl Iterator<Item = (SocketAddr, &E)> {
        self.endpoints.iter().map(|(a, e)| (*a, e))
    }

    /// Configure every link.
    pub fn set_link(&mut self, config: LinkConfig) {
        self.link = config;
    }

    /// Install a hook that sees every datagram as it is sent and decides its
    /// fate (replacing any previous hook).
    pub fn set_hook(&mut self, hook: impl FnMut(&Datagram) -> Verdict + 'static) {
        self.hook = Some(Box::new(hook));
    }

    /// Remove the hook.
    pub fn clear_hook(&mut self) {
        self.hook = None;
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Every datagram sent so far, in send order, with its fate.
    pub fn log(&self) -> &[Datagram] {
        &self.log
    }

    /// Whether nothing is in flight and no endpoint has a timer armed.
    pub fn is_idle(&mut self) -> bool {
        self.collect_transmits();
        self.next_event().is_none()
    }

    /// Perform one event: the earliest delivery or endpoint timeout (a
    /// delivery wins a tie, as a packet that arrived before the timer is
    /// read first by a real driver). Returns `false` if there was nothing
    /// to do.
    pub fn step(&mut self) -> bool {
        self.collect_transmits();
        let Some(event) = self.next_event() else {
            return false;
        };
        match event {
            Event::Deliver(at) => {
                self.advance(at);
                // The heap's top is the entry `next_event` looked at.
                let Some(Reverse((_, _, index))) = self.in_flight.pop() else {
                    return false;
                };
                let d = &self.log[index];
                let (source, destination) = (d.source, d.destination);
                let bytes = d.bytes.clone();
                trace!(%source, %destination, len = bytes.len(), "sim: deliver");
                if let Some((_, e)) = self.endpoints.iter_mut().find(|(a, _)| *a == destination) {
                    e.handle_datagram(self.now, source, destination, &bytes);
                }
            }
            Event::Timeout(at, i) => {
                self.advance(at);
                trace!(endpoint = %self.endpoints[i].0, "sim: timeout");
                self.endpoints[i].1.handle_timeout(self.now);
            }
        }
        self.collect_transmits();
        true
    }

    /// Run every event up to and including `deadline`, then set the clock
    /// to `deadline`.
    pub fn run_until(&mut self, deadline: Instant) {
        loop {
            self.collect_transmits();
            match self.next_event() {
                Some(e) if e.at() <= deadline => {
                    self.step();
                }
                _ => break,
            }
        }
        self.advance(deadline.max(self.now));
    }

    /// Run until nothing is in flight and no timer is armed, or until
    /// `max_time` of virtual time has passed since the call (whichever
    /// comes first).
    pub fn run_until_idle(&mut self, max_time: Duration) {
        let deadline = self.now + max_time;
        loop {
            self.collect_transmits();
            match self.next_event() {
                Some(e) if e.at() <= deadline => {
                    self.step();
                }
                Some(_) => {
                    self.advance(deadline);
                    break;
                }
                None => break,
            }
        }
    }

    fn advance(&mut self, to: Instant) {
        if to > self.now {
            self.now = to;
            self.steps_at_now = 0;
        } else {
            self.steps_at_now += 1;
            assert!(
                self.steps_at_now < MAX_STEPS_PER_INSTANT,
                "simulation is not advancing at {:?}: an endpoint keeps asking for a timeout in the past",
                self.now
            );
        }
    }

    fn next_event(&mut self) -> Option<Event> {
        let delivery = self.in_flight.peek().map(|Reverse((at, _, _))| *at);
        let mut timeout: Option<(Instant, usize)> = None;
        for (i, (_, e)) in self.endpoints.iter_mut().enumerate() {
            if let Some(t) = e.poll_timeout() {
                // A deadline in the past fires now.
                let t = t.max(self.now);
                if timeout.map_or(true, |(best, _)| t < best) {
                    timeout = Some((t, i));
                }
            }
        }
        match (delivery, timeout) {
            (Some(d), Some((t, i))) => Some(if d <= t {
                Event::Deliver(d)
            } else {
                Event::Timeout(t, i)
            }),
            (Some(d), None) => Some(Event::Deliver(d)),
            (None, Some((t, i))) => Some(Event::Timeout(t, i)),
            (None, None) => None,
        }
    }

    fn collect_transmits(&mut self) {
        for i in 0..self.endpoints.len() {
            while let Some(t) = self.endpoints[i].1.poll_transmit() {
                let source = self.endpoints[i].0;
                self.send(source, t);
            }
        }
    }

    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform() < p.min(1.0)
    }

    fn jitter(&mut self) -> Duration {
        if self.link.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.link.jitter.mul_f64(self.uniform())
        }
    }

    fn send(&mut self, source: SocketAddr, t: Transmit) {
        let mut d = Datagram {
            at: self.now,
            source,
            destination: t.destination,
            transport: t.transport,
            bytes: t.bytes.into_vec(),
            fate: Fate::Delivered(self.now),
            duplicate: false,
        };
        let mut extra = Duration::ZERO;
        if let Some(hook) = self.hook.as_mut() {
            match hook(&d) {
                Verdict::Deliver => {}
                Verdict::Drop => d.fate = Fate::Dropped,
                Verdict::Delay(by) => extra = by,
                Verdict::Replace(bytes) => d.bytes = bytes,
            }
        }
        if !self.endpoints.iter().any(|(a, _)| *a == d.destination) {
            d.fate = Fate::Unreachable;
        }
        if d.fate != Fate::Delivered(self.now) {
            trace!(?d, "sim: not delivered");
            self.log.push(d);
            return;
        }
        if d.transport.is_reliable() {
            // A working connection: in order, nothing lost or doubled.
            let key = (d.source, d.destination);
            let mut arrival = self.now + self.link.latency + extra + self.jitter();
            if let Some(tail) = self.stream_tail.get(&key) {
                arrival = arrival.max(*tail);
            }
            self.stream_tail.insert(key, arrival);
            self.schedule(d, arrival);
            return;
        }
        if self.chance(self.link.loss) {
            d.fate = Fate::Lost;
            trace!(?d, "sim: lost");
            self.log.push(d);
            return;
        }
        let copy = self.chance(self.link.duplicate).then(|| d.clone());
        let delay = self.udp_delay() + extra;
        self.schedule(d, self.now + delay);
        if let Some(mut copy) = copy {
            copy.duplicate = true;
            let delay = self.udp_delay() + extra;
            self.schedule(copy, self.now + delay);
        }
    }

    fn udp_delay(&mut self) -> Duration {
        let mut delay = self.link.latency + self.jitter();
        if self.chance(self.link.reorder) {
            let factor = 1.0 + 2.0 * self.uniform();
            delay += self
                .link
                .latency
                .max(Duration::from_millis(1))
                .mul_f64(factor);
        }
        delay
    }

    fn schedule(&mut self, mut d: Datagram, arrival: Instant) {
        d.fate = Fate::Delivered(arrival);
        let index = self.log.len();
        self.log.push(d);
        self.sequence += 1;
        self.in_flight
            .push(Reverse((arrival, self.sequence, index)));
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Deliver(Instant),
    Timeout(Instant, usize),
}

impl Event {
    fn at(self) -> Instant {
        match self {
            Event::Deliver(at) | Event::Timeout(at, _) => at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted endpoint: sends queued datagrams, records what it got,
    /// and can run a periodic timer.
    #[derive(Default)]
    struct Probe {
        out: Vec<Transmit>,
        got: Vec<(Instant, SocketAddr, Vec<u8>)>,
        timer: Option<Instant>,
        fired: Vec<Instant>,
        period: Option<Duration>,
        remaining: u32,
    }

    impl Endpoint for Probe {
        fn handle_datagram(&mut self, now: Instant, source: SocketAddr, _: SocketAddr, b: &[u8]) {
            self.got.push((now, source, b.to_vec()));
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.timer.is_some_and(|t| t <= now) {
                self.fired.push(now);
                self.remaining = self.remaining.saturating_sub(1);
                self.timer = match (self.period, self.remaining) {
                    (Some(p), r) if r > 0 => Some(now + p),
                    _ => None,
                };
            }
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            if self.out.is_empty() {
                None
            } else {
                Some(self.out.remove(0))
            }
        }
        fn poll_timeout(&mut self) -> Option<Instant> {
            self.timer
        }
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn udp(to: SocketAddr, payload: &[u8]) -> Transmit {
        Transmit {
            transport: Transport::Udp,
            destination: to,
            bytes: payload.into(),
        }
    }

    fn pair(seed: u64) -> (Network<Probe>, Instant) {
        let start = Instant::now();
        let mut net = Network::new(seed, start);
        net.add(addr(1), Probe::default());
        net.add(addr(2), Probe::default());
        (net, start)
    }

    #[test]
    fn latency_is_applied_and_clock_jumps() {
        let (mut net, start) = pair(1);
        net.set_link(LinkConfig {
            latency: Duration::from_millis(30),
            ..LinkConfig::default()
        });
        net.endpoint_mut(addr(1)).out.push(udp(addr(2), b"a"));
        assert!(net.step());
        assert_eq!(net.now() - start, Duration::from_millis(30));
        let got = &net.endpoint(addr(2)).got;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, addr(1));
        assert_eq!(got[0].2, b"a");
        assert!(!net.step());
        assert_eq!(net.log().len(), 1);
        assert_eq!(
            net.log()[0].fate,
            Fate::Delivered(start + Duration::from_millis(30))
        );
    }

    #[test]
    fn timers_fire_on_the_virtual_clock() {
        let (mut net, start) = pair(1);
        let p = net.endpoint_mut(addr(1));
        p.timer = Some(start + Duration::from_secs(5));
        p.period = Some(Duration::from_secs(10));
        p.remaining = 3;
        net.run_until_idle(Duration::from_secs(3600));
        let fired: Vec<_> = net
            .endpoint(addr(1))
            .fired
            .iter()
            .map(|t| *t - start)
            .collect();
        assert_eq!(
            fired,
            [5, 15, 25].map(Duration::from_secs).to_vec(),
            "a periodic timer fires at exactly its deadlines"
        );
        assert_eq!(net.now() - start, Duration::from_secs(25));
    }

    #[test]
    fn run_until_stops_at_the_deadline() {
        let (mut net, start) = pair(1);
        net.endpoint_mut(addr(1)).timer = Some(start + Duration::from_secs(5));
        net.run_until(start + Duration::from_secs(2));
        assert!(net.endpoint(addr(1)).fired.is_empty());
        assert_eq!(net.now() - start, Duration::from_secs(2));
        net.run_until(start + Duration::from_secs(5));
        assert_eq!(net.endpoint(addr(1)).fired.len(), 1);
        let mut net2 = pair(1).0;
        net2.endpoint_mut(addr(1)).timer = Some(net2.now() + Duration::from_secs(50));
        let t0 = net2.now();
        net2.run_until_idle(Duration::from_secs(10));
        assert_eq!(
            net2.now() - t0,
            Duration::from_secs(10),
            "bounded by max_time"
        );
        assert!(!net2.is_idle());
    }

    fn lossy_run(seed: u64, start: Instant) -> Vec<Datagram> {
        let mut net = Network::new(seed, start);
        net.add(addr(1), Probe::default());
        net.add(addr(2), Probe::default());
        net.set_link(LinkConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            loss: 0.3,
            duplicate: 0.2,
            reorder: 0.2,
        });
        for i in 0..2000u32 {
            net.endpoint_mut(addr(1))
                .out
                .push(udp(addr(2), &i.to_be_bytes()));
        }
        net.run_until_idle(Duration::from_secs(10));
        net.log().to_vec()
    }

    #[test]
    fn loss_duplication_and_reordering_follow_the_seed() {
        let start = Instant::now();
        let log = lossy_run(42, start);
        assert_eq!(log, lossy_run(42, start), "same seed, same run");
        assert_ne!(log, lossy_run(43, start), "another seed, another run");
        let originals = log.iter().filter(|d| !d.duplicate).count();
        assert_eq!(originals, 2000);
        let lost = log.iter().filter(|d| d.fate == Fate::Lost).count();
        let dups = log.iter().filter(|d| d.duplicate).count();
        // 30% of 2000 = 600 lost; 20% of the 1400 survivors = 280 copies.
        assert!((500..700).contains(&lost), "lost {lost}");
        assert!((200..360).contains(&dups), "duplicated {dups}");
        let mut arrivals: Vec<(Instant, u32)> = log
            .iter()
            .filter_map(|d| match d.fate {
                Fate::Delivered(at) => {
                    Some((at, u32::from_be_bytes(d.bytes[..4].try_into().unwrap())))
                }
                _ => None,
            })
            .collect();
        arrivals.sort();
        let inversions = arrivals.windows(2).filter(|w| w[0].1 > w[1].1).count();
        assert!(
            inversions > 50,
            "reordering happened: {inversions} inversions"
        );
    }

    #[test]
    fn received_side_matches_the_log() {
        let start = Instant::now();
        let mut net = Network::new(9, start);
        net.add(addr(1), Probe::default());
        net.add(addr(2), Probe::default());
        net.set_link(LinkConfig {
            loss: 0.5,
            duplicate: 0.5,
            ..LinkConfig::default()
        });
        for i in 0..200u8 {
            net.endpoint_mut(addr(1)).out.push(udp(addr(2), &[i]));
        }
        net.run_until_idle(Duration::from_secs(1));
        let delivered = net.log().iter().filter(|d| d.delivered()).count();
        assert_eq!(net.endpoint(addr(2)).got.len(), delivered);
    }

    #[test]
    fn reliable_transports_are_never_lost_nor_reordered() {
        let (mut net, _) = pair(5);
        net.set_link(LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(30),
            loss: 0.9,
            duplicate: 0.9,
            reorder: 0.9,
        });
        for i in 0..100u8 {
            net.endpoint_mut(addr(1)).out.push(Transmit {
                transport: Transport::Tcp,
                destination: addr(2),
                bytes: vec![i].into(),
            });
        }
        net.run_until_idle(Duration::from_secs(1));
        let got: Vec<u8> = net.endpoint(addr(2)).got.iter().map(|g| g.2[0]).collect();
        assert_eq!(got, (0..100).collect::<Vec<u8>>());
    }

    #[test]
    fn hooks_drop_delay_and_rewrite_chosen_datagrams() {
        let (mut net, start) = pair(1);
        net.set_hook(|d: &Datagram| match d.bytes.as_slice() {
            b"drop me" => Verdict::Drop,
            b"slow" => Verdict::Delay(Duration::from_secs(1)),
            b"tamper" => Verdict::Replace(b"tampered".to_vec()),
            _ => Verdict::Deliver,
        });
        for p in [&b"drop me"[..], b"slow", b"tamper", b"plain"] {
            net.endpoint_mut(addr(1)).out.push(udp(addr(2), p));
        }
        net.run_until_idle(Duration::from_secs(5));
        let got = &net.endpoint(addr(2)).got;
        let payloads: Vec<&[u8]> = got.iter().map(|g| g.2.as_slice()).collect();
        assert_eq!(payloads, [&b"tampered"[..], b"plain", b"slow"]);
        assert_eq!(got[2].0 - start, Duration::from_millis(1010));
        assert_eq!(net.log()[0].fate, Fate::Dropped);
        assert_eq!(
            net.log()[2].bytes,
            b"tampered",
            "the log shows what was delivered"
        );
    }

    #[test]
    fn datagrams_to_nowhere_are_logged_unreachable() {
        let (mut net, _) = pair(1);
        net.endpoint_mut(addr(1)).out.push(udp(addr(9), b"x"));
        net.run_until_idle(Duration::from_secs(1));
        assert_eq!(net.log()[0].fate, Fate::Unreachable);
        assert!(net.is_idle());
    }
}
