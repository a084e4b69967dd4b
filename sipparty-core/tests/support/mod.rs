//! Scaffolding shared by the simulator call-flow tests: two Parties on
//! loopback addresses in a [`Network`], and the few moves every flow makes
//! (place a call, hang up, read states, list the messages sent, check that
//! nothing is left behind).
//!
//! The moves ([`Calls`]) work on any network whose nodes may hold a Party
//! ([`PartyNode`]): plain [`SimParty`] networks, and networks that mix
//! Parties with a scripted proxy or registrar.
//!
//! [`digest`] holds what the digest client and server tests share;
//! [`forking`] the forking proxy of the forked-call flows.
//!
//! Each test binary includes this with `mod support;` and uses what it
//! needs, so some items are unused in some binaries.
#![allow(dead_code)]

pub mod digest;
pub mod forking;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::Message;
use sipparty_core::party::{
    CallPolicy, DialogHandle, DialogId, DialogState, Event, Incoming, InviteOptions, Party,
    SimParty,
};
use sipparty_core::sim::{Datagram, Endpoint, LinkConfig, Network, Verdict};
use sipparty_core::Transmit;

/// Alice's SIP address (the caller in most flows).
pub fn alice_addr() -> SocketAddr {
    "127.0.0.1:5060".parse().expect("literal address")
}

/// Bob's SIP address (the callee in most flows).
pub fn bob_addr() -> SocketAddr {
    "127.0.0.1:5070".parse().expect("literal address")
}

/// Bob's address of record at his simulated address.
pub const BOB: &str = "bob@127.0.0.1:5070";

/// A Party for `aor`: one audio stream with `media`, signalling only
/// without.
pub fn party(aor: &str, policy: CallPolicy, media: bool) -> Party {
    party_with(aor, policy, media, |_| {})
}

/// [`party`], then changed by `tweak`.
pub fn party_with(aor: &str, policy: CallPolicy, media: bool, tweak: impl Fn(&mut Party)) -> Party {
    let mut p = if media {
        Party::single_rtp_session_simple(aor).expect("valid address of record")
    } else {
        Party::no_media_simple_calls(aor).expect("valid address of record")
    };
    p.set_policy(policy);
    tweak(&mut p);
    p
}

/// Media is negotiated but no 20 ms frames are generated (a [`party_with`]
/// tweak for flows that look at signalling only).
pub fn no_frames(p: &mut Party) {
    p.config_mut().run_media = false;
}

/// The callee rings (180) and answers `ms` milliseconds later.
pub fn ring_then_answer(ms: u64) -> CallPolicy {
    CallPolicy::RingThenAnswer {
        delay: Duration::from_millis(ms),
    }
}

/// A bad link: 30% loss, 20 ms latency with 10 ms jitter, 5% duplicated,
/// 20% reordered.
pub fn lossy_30_percent() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
        loss: 0.3,
        duplicate: 0.05,
        reorder: 0.2,
    }
}

/// Alice (auto-answering) and Bob (with `bob_policy`) in a network seeded
/// with `seed`.
pub fn network(seed: u64, bob_policy: CallPolicy, media: bool) -> Network<SimParty> {
    two_parties(
        seed,
        party("alice@atlanta.com", CallPolicy::AutoAnswer, media),
        party("bob@biloxi.com", bob_policy, media),
    )
}

/// `alice` at [`alice_addr`] and `bob` at [`bob_addr`] in a network seeded
/// with `seed`.
pub fn two_parties(seed: u64, alice: Party, bob: Party) -> Network<SimParty> {
    let mut net = Network::new(seed, Instant::now());
    net.add(alice_addr(), SimParty::new(alice, alice_addr()));
    net.add(bob_addr(), SimParty::new(bob, bob_addr()));
    net
}

/// The first line of a datagram reduced to its method or status code
/// (`"INVITE"`, `"180"`, ...).
pub fn method_or_code(d: &Datagram) -> String {
    let text = d.text();
    let first = text.lines().next().unwrap_or("");
    let word = match first.strip_prefix("SIP/2.0 ") {
        Some(rest) => rest.split(' ').next(),
        None => first.split(' ').next(),
    };
    word.unwrap_or("").to_string()
}

/// `"INVITE"`, `"180/INVITE"`, `"PRACK"`, `"200/PRACK"`...: the method of a
/// request, or the status and CSeq method of a response.
pub fn label(m: &Message) -> String {
    match m.status() {
        Some(s) => format!("{s}/{}", m.cseq().unwrap().unwrap().method),
        None => m.method().unwrap().to_string(),
    }
}

/// The To tag of a message, if its To header has one.
pub fn to_tag(m: &Message) -> Option<String> {
    m.to_header().unwrap().unwrap().tag().map(str::to_string)
}

/// The dialog states among `events`, in order (for Parties driven by
/// hand, which keep their events in a plain list).
pub fn dialog_states(events: &[Event]) -> Vec<DialogState> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::DialogStateChanged { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

/// A stream's direction after a change: (send, recv).
pub type Direction = (bool, bool);

/// What a hold offers.
pub const SENDONLY: Direction = (true, false);
/// What the held side answers.
pub const RECVONLY: Direction = (false, true);
/// Both ways: what a resume gets back to.
pub const SENDRECV: Direction = (true, true);

/// (send, recv) of every `MediaUpdated` a node reported, in order.
pub fn media_updates(node: &SimParty) -> Vec<Direction> {
    node.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::MediaUpdated { stream, .. } => Some((stream.send, stream.recv)),
            _ => None,
        })
        .collect()
}

/// [`media_updates`] of Alice and of Bob.
pub fn media_updates_of_both(net: &Network<SimParty>) -> (Vec<Direction>, Vec<Direction>) {
    (
        media_updates(net.endpoint(alice_addr())),
        media_updates(net.endpoint(bob_addr())),
    )
}

/// A network hook that loses the first `n` datagrams whose text starts
/// with `prefix` (`"PRACK "`, `"UPDATE"`...) and delivers everything else.
pub fn drop_first(n: usize, prefix: &'static str) -> impl FnMut(&Datagram) -> Verdict {
    let mut dropped = 0;
    move |d| {
        if d.text().starts_with(prefix) && dropped < n {
            dropped += 1;
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }
}

/// A network hook that loses every datagram whose text starts with
/// `prefix`.
pub fn drop_every(prefix: &'static str) -> impl FnMut(&Datagram) -> Verdict {
    drop_first(usize::MAX, prefix)
}

/// A network hook that rewrites, with `change`, every message whose text
/// starts with `prefix`, and delivers everything else as sent.
pub fn rewrite(
    prefix: &'static str,
    change: impl Fn(&mut Message),
) -> impl FnMut(&Datagram) -> Verdict {
    move |d| {
        if !d.text().starts_with(prefix) {
            return Verdict::Deliver;
        }
        let mut m = Message::parse(&d.bytes).expect("the Party sent a valid message");
        change(&mut m);
        Verdict::Replace(m.to_bytes())
    }
}

/// A SIP message the network carried.
#[derive(Debug, Clone)]
pub struct Sent {
    /// When it was sent.
    pub at: Instant,
    /// Who sent it.
    pub source: SocketAddr,
    /// Where it went.
    pub destination: SocketAddr,
    /// The message, parsed.
    pub message: Message,
}

/// A simulator node that may hold a Party: a [`SimParty`], or one of the
/// node types a test defines to put a scripted peer next to Parties.
pub trait PartyNode: Endpoint {
    /// The Party of this node, if it has one.
    fn sim(&self) -> Option<&SimParty>;
    /// The Party of this node, if it has one.
    fn sim_mut(&mut self) -> Option<&mut SimParty>;
}

impl PartyNode for SimParty {
    fn sim(&self) -> Option<&SimParty> {
        Some(self)
    }
    fn sim_mut(&mut self) -> Option<&mut SimParty> {
        Some(self)
    }
}

/// The moves a call-flow test makes on a network of Parties.
pub trait Calls {
    /// The Party node at `at` (panics if `at` holds none).
    fn node(&self, at: SocketAddr) -> &SimParty;
    /// The Party node at `at` (panics if `at` holds none).
    fn node_mut(&mut self, at: SocketAddr) -> &mut SimParty;
    /// The Party at `at` calls `target` now, with default options.
    fn call(&mut self, at: SocketAddr, target: &str) -> DialogId {
        self.call_with(at, target, InviteOptions::default())
    }
    /// The Party at `at` calls `target` now, with `options`.
    fn call_with(&mut self, at: SocketAddr, target: &str, options: InviteOptions) -> DialogId {
        self.with_party(at, |party, now| party.invite(now, target, options))
            .expect("the call can be placed")
    }
    /// Run the network for `d` of virtual time from now.
    fn run_for(&mut self, d: Duration);
    /// The Party at `at` ends dialog `id` now (BYE, or CANCEL before an
    /// answer).
    fn hang_up(&mut self, at: SocketAddr, id: DialogId) {
        self.with_dialog(at, id, |d, now| d.terminate(now))
            .expect("the dialog can be ended");
    }
    /// [`Calls::hang_up`] if the Party at `at` still has dialog `id` (a
    /// call that failed has none to end).
    fn hang_up_if_open(&mut self, at: SocketAddr, id: DialogId) {
        self.with_party(at, |party, now| {
            if let Some(d) = party.dialog(id) {
                d.terminate(now).expect("the dialog can be ended");
            }
        })
    }
    /// Run `f` now on the Party at `at`.
    fn with_party<R>(&mut self, at: SocketAddr, f: impl FnOnce(&mut Party, Instant) -> R) -> R;
    /// Run `f` now on dialog `id` of the Party at `at`.
    fn with_dialog<R>(
        &mut self,
        at: SocketAddr,
        id: DialogId,
        f: impl FnOnce(DialogHandle<'_>, Instant) -> R,
    ) -> R {
        self.with_party(at, |party, now| {
            let dialog = party
                .dialog(id)
                .unwrap_or_else(|| panic!("{at} has no dialog {id}"));
            f(dialog, now)
        })
    }
    /// Run `f` now on incoming call `id` of the Party at `at`, which waits
    /// for the application's decision.
    fn with_incoming<R>(
        &mut self,
        at: SocketAddr,
        id: DialogId,
        f: impl FnOnce(Incoming<'_>, Instant) -> R,
    ) -> R {
        self.with_party(at, |party, now| {
            let incoming = party
                .incoming(id)
                .unwrap_or_else(|| panic!("{at} has no undecided call {id}"));
            f(incoming, now)
        })
    }
    /// Whether incoming call `id` at `at` still waits for a decision.
    fn undecided(&mut self, at: SocketAddr, id: DialogId) -> bool {
        self.with_party(at, |party, _| party.incoming(id).is_some())
    }
    /// The peer's From/To header value of dialog `id` at `at`.
    fn remote(&mut self, at: SocketAddr, id: DialogId) -> String {
        self.with_dialog(at, id, |d, _| {
            d.remote().expect("the dialog has a peer").to_string()
        })
    }
    /// The last state reported for dialog `id` of the Party at `at`.
    fn state(&self, at: SocketAddr, id: DialogId) -> Option<DialogState> {
        self.node(at).state_of(id)
    }
    /// Every state reported for dialog `id` of the Party at `at`.
    fn states(&self, at: SocketAddr, id: DialogId) -> Vec<DialogState> {
        self.node(at).states_of(id)
    }
    /// The first incoming call the Party at `at` reported.
    fn first_incoming(&self, at: SocketAddr) -> DialogId {
        *self
            .node(at)
            .incoming_calls()
            .first()
            .unwrap_or_else(|| panic!("no incoming call at {at}"))
    }
    /// The last error of dialog `id` at `at`, as text.
    fn error_text(&self, at: SocketAddr, id: DialogId) -> Option<String> {
        self.node(at).party().last_error(id).map(|e| e.to_string())
    }
    /// The methods and status codes sent, in order, without duplicates the
    /// network made.
    fn ladder(&self) -> Vec<String>;
    /// [`Calls::ladder`] without the `100 Trying`s, whose presence depends
    /// on timing.
    fn ladder_without_100(&self) -> Vec<String> {
        let mut l = self.ladder();
        l.retain(|m| m != "100");
        l
    }
    /// How many datagrams the log holds so far: a mark for
    /// [`Calls::sent_since`].
    fn mark(&self) -> usize;
    /// The SIP messages sent after the first `mark` log entries, without
    /// duplicates the network made.
    fn sent_since(&self, mark: usize) -> Vec<Sent>;
    /// Every SIP message sent, without duplicates the network made.
    fn sent(&self) -> Vec<Sent> {
        self.sent_since(0)
    }
    /// The [`label`]s of the messages sent after `mark`.
    fn labels_since(&self, mark: usize) -> Vec<String> {
        self.sent_since(mark)
            .iter()
            .map(|s| label(&s.message))
            .collect()
    }
    /// The [`label`]s of every message sent.
    fn labels(&self) -> Vec<String> {
        self.labels_since(0)
    }
    /// Whether any event at `at` matches.
    fn saw(&self, at: SocketAddr, pred: impl Fn(&Event) -> bool) -> bool {
        self.node(at).events.iter().any(|(_, e)| pred(e))
    }
    /// Run until nothing is scheduled (at most 300 s of simulated time),
    /// then check that no Party kept a dialog, transaction or timer.
    fn settle(&mut self);
}

impl<E: PartyNode> Calls for Network<E> {
    fn node(&self, at: SocketAddr) -> &SimParty {
        self.endpoint(at)
            .sim()
            .unwrap_or_else(|| panic!("{at} is not a party"))
    }

    fn node_mut(&mut self, at: SocketAddr) -> &mut SimParty {
        self.endpoint_mut(at)
            .sim_mut()
            .unwrap_or_else(|| panic!("{at} is not a party"))
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now() + d;
        self.run_until(until);
    }

    fn with_party<R>(&mut self, at: SocketAddr, f: impl FnOnce(&mut Party, Instant) -> R) -> R {
        let now = self.now();
        f(self.node_mut(at).party_mut(), now)
    }

    fn ladder(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|d| !d.duplicate)
            .map(method_or_code)
            .collect()
    }

    fn mark(&self) -> usize {
        self.log().len()
    }

    fn sent_since(&self, mark: usize) -> Vec<Sent> {
        self.log()
            .iter()
            .skip(mark)
            .filter(|d| !d.duplicate)
            .filter_map(|d| {
                Message::parse(&d.bytes).ok().map(|message| Sent {
                    at: d.at,
                    source: d.source,
                    destination: d.destination,
                    message,
                })
            })
            .collect()
    }

    fn settle(&mut self) {
        self.run_until_idle(Duration::from_secs(300));
        let addrs: Vec<SocketAddr> = self.endpoints().map(|(a, _)| a).collect();
        for a in addrs {
            if let Some(node) = self.endpoint_mut(a).sim_mut() {
                assert!(node.is_idle(), "{a} left state behind");
            }
        }
    }
}

/// A node of a network that mixes Parties with one kind of scripted
/// peer: an [`Endpoint`] without timers (a forking proxy, a registrar)
/// that only reacts to what arrives.
pub enum Node<P> {
    /// A Party.
    Party(Box<SimParty>),
    /// The scripted peer.
    Peer(Box<P>),
}

impl<P> Node<P> {
    /// A node for `party` at `addr`.
    pub fn party(party: Party, addr: SocketAddr) -> Self {
        Node::Party(Box::new(SimParty::new(party, addr)))
    }

    /// A node for the scripted `peer`.
    pub fn scripted(peer: P) -> Self {
        Node::Peer(Box::new(peer))
    }

    /// The scripted peer of this node (panics on a Party).
    pub fn peer(&self) -> &P {
        match self {
            Node::Peer(p) => p,
            Node::Party(_) => panic!("not the scripted peer"),
        }
    }
}

impl<P: Endpoint> Endpoint for Node<P> {
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        match self {
            Node::Party(p) => p.handle_datagram(now, source, destination, bytes),
            Node::Peer(p) => p.handle_datagram(now, source, destination, bytes),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Node::Party(p) => p.handle_timeout(now),
            Node::Peer(p) => p.handle_timeout(now),
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Node::Party(p) => p.poll_transmit(),
            Node::Peer(p) => p.poll_transmit(),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Node::Party(p) => Endpoint::poll_timeout(&mut **p),
            Node::Peer(p) => p.poll_timeout(),
        }
    }
}

impl<P: Endpoint> PartyNode for Node<P> {
    fn sim(&self) -> Option<&SimParty> {
        match self {
            Node::Party(p) => Some(p),
            Node::Peer(_) => None,
        }
    }
    fn sim_mut(&mut self) -> Option<&mut SimParty> {
        match self {
            Node::Party(p) => Some(p),
            Node::Peer(_) => None,
        }
    }
}
