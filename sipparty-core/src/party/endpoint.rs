//! Many parties behind one transport (the original library's shared
//! listening point): an [`Endpoint`] routes each datagram to the Party it
//! is for and merges their outputs.
//!
//! Routing needs no table of transactions. Every tag a Party generates
//! starts with its key (`3.`), so:
//! - a response is for the Party whose tag is in its From header (we put it
//!   there, as UAC of the request);
//! - a request with a To tag is in a dialog of the Party whose tag it is;
//! - a request without To tag (INVITE, OPTIONS, MESSAGE, and the CANCEL of
//!   an INVITE, which has the same Request-URI) goes to the Party whose
//!   address of record matches the Request-URI: user and host, else user
//!   alone (requests sent to a Contact carry an IP address), else the
//!   first Party.
//! - media goes to the Party that asked for the local address.
//! - DNS lookups (RFC 3263) are renumbered, so the driver sees one id
//!   space, and each answer goes back to the Party that asked.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, trace};

use super::event::{Event, Input, MediaTransmit, Output};
use super::media::PortPool;
use super::Party;
use crate::message::{Message, Uri};
use crate::transport::locate::LookupId;
use crate::transport::{Transmit, Transport};

/// Identifies a Party within an [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyKey(pub usize);

/// What an [`Endpoint`] wants done.
#[derive(Debug)]
#[non_exhaustive]
pub enum EndpointOutput {
    /// Send these SIP bytes.
    Transmit(Transmit),
    /// Send this media packet from its local source address.
    MediaTransmit(MediaTransmit),
    /// An event of one of the parties.
    Event {
        /// Which Party.
        party: PartyKey,
        /// What happened.
        event: Event,
    },
    /// Nothing to do until then.
    Timeout(Instant),
    /// Nothing to do and no time seen yet.
    Idle,
}

/// Several parties sharing one transport (one socket per transport kind).
///
/// Polling is proportional to the work done, not to the number of
/// parties: a Party is polled only after it was given input or lent out
/// by [`Endpoint::party_mut`] (it then sits in a queue until it answers
/// `Timeout`), and each Party's next deadline is cached in a heap.
#[derive(Debug, Default)]
pub struct Endpoint {
    /// Indexed by key; `None` once removed (keys are never reused: tags
    /// carry them).
    parties: Vec<Option<Party>>,
    live: usize,
    locals: Vec<(Transport, SocketAddr)>,
    media_routes: HashMap<SocketAddr, usize>,
    /// Parties that may have output, in the order they were touched.
    pending: VecDeque<usize>,
    /// Per party: whether it is in `pending`, and its cached deadline.
    state: Vec<Slot>,
    /// (deadline, party), lazily pruned: an entry is current only when it
    /// equals the party's cached deadline.
    deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    ports_per_party: u16,
    framer: super::Framer,
    /// How many stream connections the driver reported closed.
    streams_closed: u64,
    /// Our lookup id to the party that asked and its own id.
    lookups: HashMap<LookupId, Lookup>,
    /// (deadline, our lookup id) of each entry of `lookups`, earliest on
    /// top; an element whose lookup was answered or dropped is skipped
    /// when it surfaces. A driver need not answer every question, so
    /// entries expire when their party stops waiting.
    lookup_deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    next_lookup: u64,
}

/// A DNS question a party asked through the endpoint.
#[derive(Debug, Clone, Copy)]
struct Lookup {
    party: usize,
    /// The party's own id for it.
    theirs: LookupId,
    /// When the party gives up on it (its resolver's lookup timeout);
    /// an answer after that would be ignored anyway. `None` when the party
    /// had not seen the time yet: kept until answered.
    deadline: Option<Instant>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    pending: bool,
    deadline: Option<Instant>,
}

impl Endpoint {
    /// An endpoint with no parties. Each Party added gets its own slice of
    /// 200 RTP ports (100 calls) out of its configured range, so parties
    /// never hand out the same port.
    pub fn new() -> Self {
        Endpoint {
            ports_per_party: 200,
            ..Endpoint::default()
        }
    }

    /// Add a Party; it takes the endpoint's local addresses.
    pub fn add(&mut self, mut party: Party) -> PartyKey {
        let index = self.parties.len();
        party.tag_prefix = format!("{index}.").into();
        for (t, a) in &self.locals {
            party.set_local_address(*t, *a);
        }
        let (lo, hi) = party.config.rtp_ports;
        let span = u32::from(hi.saturating_sub(lo)).max(2);
        let step = u32::from(self.ports_per_party.max(2));
        let slots = (span / step).max(1);
        let start = u32::from(lo) + (index as u32 % slots) * step;
        let end = (start + step - 1).min(u32::from(hi));
        // Both bounds fit in u16: they lie within the party's own range.
        party.ports = PortPool::new((start as u16, end as u16));
        self.parties.push(Some(party));
        self.state.push(Slot::default());
        self.live += 1;
        self.mark(index);
        PartyKey(index)
    }

    /// Take a Party out: nothing is routed to it any more (messages for its
    /// dialogs are dropped, requests go to the other parties) and its key
    /// is not reused. Its media addresses are forgotten; the driver closes
    /// the sockets it opened for it.
    pub fn remove(&mut self, key: PartyKey) -> Option<Party> {
        let party = self.parties.get_mut(key.0)?.take()?;
        self.live -= 1;
        self.media_routes.retain(|_, i| *i != key.0);
        // Its questions go with it (their heap elements go stale).
        self.lookups.retain(|_, l| l.party != key.0);
        self.pending.retain(|i| *i != key.0);
        self.state[key.0] = Slot::default();
        Some(party)
    }

    /// Note that party `i` may have output.
    fn mark(&mut self, i: usize) {
        if let Some(slot) = self.state.get_mut(i) {
            if !slot.pending {
                slot.pending = true;
                self.pending.push_back(i);
            }
        }
    }

    fn live_parties(&mut self) -> impl Iterator<Item = (usize, &mut Party)> {
        self.parties
            .iter_mut()
            .enumerate()
            .filter_map(|(i, p)| p.as_mut().map(|p| (i, p)))
    }

    /// Set the local address of `transport` for every Party (present and
    /// future).
    pub fn set_local_address(&mut self, transport: Transport, addr: SocketAddr) {
        self.locals.retain(|(t, _)| *t != transport);
        self.locals.push((transport, addr));
        for (_, p) in self.live_parties() {
            p.set_local_address(transport, addr);
        }
    }

    /// A Party by key.
    pub fn party(&self, key: PartyKey) -> Option<&Party> {
        self.parties.get(key.0)?.as_ref()
    }

    /// A Party by key, to command it. The Party is polled again by
    /// [`Endpoint::poll_output`] afterwards.
    pub fn party_mut(&mut self, key: PartyKey) -> Option<&mut Party> {
        self.parties.get(key.0)?.as_ref()?;
        self.mark(key.0);
        self.parties.get_mut(key.0)?.as_mut()
    }

    /// The keys of the parties, in the order they were added.
    pub fn keys(&self) -> impl Iterator<Item = PartyKey> + '_ {
        self.parties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .map(|(i, _)| PartyKey(i))
    }

    /// How many parties (not counting removed ones).
    pub fn len(&self) -> usize {
        self.live
    }

    /// How many stream connections (fed with [`Input::StreamData`]) the
    /// endpoint keeps framing state for, as [`Party::stream_count`].
    pub fn stream_count(&self) -> usize {
        self.framer.len()
    }

    /// How many stream connections the driver reported closed with
    /// [`Input::StreamClosed`] so far. For tests and monitoring.
    pub fn streams_closed(&self) -> u64 {
        self.streams_closed
    }

    /// Whether there are no parties.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The Party whose address of record is `aor`.
    pub fn find(&self, aor: &str) -> Option<PartyKey> {
        let aor = super::config::normalize_uri(aor).ok()?;
        self.parties
            .iter()
            .position(|p| {
                p.as_ref()
                    .is_some_and(|p| p.config.aor.eq_ignore_ascii_case(&aor))
            })
            .map(PartyKey)
    }

    fn first_live(&self) -> Option<usize> {
        self.parties.iter().position(Option::is_some)
    }

    /// How many DNS questions the parties asked that the driver has not
    /// answered yet (and the asking party still waits for).
    pub fn lookups_in_flight(&self) -> usize {
        self.lookups.len()
    }

    /// Forget the questions whose party stopped waiting by `now`.
    fn expire_lookups(&mut self, now: Instant) {
        while let Some(&Reverse((at, n))) = self.lookup_deadlines.peek() {
            if at > now {
                break;
            }
            self.lookup_deadlines.pop();
            let id = LookupId::from_u64(n);
            if self
                .lookups
                .get(&id)
                .is_some_and(|l| l.deadline == Some(at))
            {
                trace!(%id, "lookup never answered, forgotten");
                self.lookups.remove(&id);
            }
        }
        // Answered lookups leave their elements behind: swept when they
        // outnumber the open ones.
        if self.lookup_deadlines.len() > 2 * self.lookups.len() + 64 {
            let lookups = &self.lookups;
            self.lookup_deadlines
                .retain(|Reverse((_, n))| lookups.contains_key(&LookupId::from_u64(*n)));
        }
    }

    /// Feed an input; it reaches the Party it is for.
    pub fn handle_input(&mut self, input: Input<'_>) {
        let now = input.now();
        self.expire_lookups(now);
        match input {
            Input::Datagram {
                transport,
                source,
                destination,
                bytes,
                ..
            } => {
                if let Some(&i) = self.media_routes.get(&destination) {
                    if let Some(p) = self.parties[i].as_mut() {
                        p.handle_input(input);
                        self.mark(i);
                    }
                    return;
                }
                if super::is_media_packet(bytes) {
                    // Late RTP/RTCP to a media address already closed.
                    trace!(%source, %destination, "dropping media packet for no call");
                    return;
                }
                match Message::parse(bytes) {
                    Ok(msg) => self.route(now, msg, source, transport),
                    Err(e) => self.reject(source, transport, bytes, &e),
                }
            }
            Input::StreamData {
                transport,
                source,
                bytes,
                ..
            } => {
                let mut framer = std::mem::take(&mut self.framer);
                framer.push(transport, source, bytes, |delivered| match delivered {
                    super::Delivered::Message(msg) => self.route(now, msg, source, transport),
                    super::Delivered::Ping => self.answer_ping(transport, source),
                    super::Delivered::Malformed { bytes, error } => {
                        self.reject(source, transport, &bytes, &error)
                    }
                });
                self.framer = framer;
            }
            Input::StreamClosed {
                transport, source, ..
            } => {
                self.streams_closed += 1;
                self.framer.close(transport, source);
                // Each Party's transactions may owe responses on it
                // (RFC 3261 section 18.2.2).
                self.for_each_live(input);
            }
            Input::TransportError {
                transport,
                destination,
                ..
            } => {
                self.framer.close(transport, destination);
                self.for_each_live(input);
            }
            Input::Resolved { id, answer, .. } => {
                let Some(Lookup {
                    party: i, theirs, ..
                }) = self.lookups.remove(&id)
                else {
                    trace!(%id, "answer to no open lookup, dropped");
                    return;
                };
                if let Some(p) = self.parties.get_mut(i).and_then(Option::as_mut) {
                    p.handle_input(Input::Resolved {
                        now,
                        id: theirs,
                        answer,
                    });
                    self.mark(i);
                }
            }
            Input::Timeout(_) => {
                // Only the parties whose deadline has come (or that are
                // about to be polled anyway) need the time.
                while let Some(&Reverse((at, i))) = self.deadlines.peek() {
                    if at > now {
                        break;
                    }
                    self.deadlines.pop();
                    if self.state[i].deadline == Some(at) {
                        self.state[i].deadline = None;
                        self.mark(i);
                    }
                }
                for k in 0..self.pending.len() {
                    let i = self.pending[k];
                    if let Some(p) = self.parties[i].as_mut() {
                        p.handle_input(input);
                    }
                }
            }
        }
    }

    /// A datagram that is not SIP: answered by a Party when it is a
    /// request that can be answered (see [`Party::reject_unparseable`]).
    fn reject(
        &mut self,
        source: SocketAddr,
        transport: Transport,
        bytes: &[u8],
        error: &crate::message::ParseError,
    ) {
        let index = match super::validate::salvage_bad_request(bytes, error) {
            Some(s) => self.by_request_uri(&s.request_uri),
            None => self.first_live(),
        };
        match index {
            Some(i) => {
                if let Some(p) = self.parties[i].as_mut() {
                    p.reject_unparseable(source, transport, bytes, error);
                }
                self.mark(i);
            }
            None => debug!(%source, %error, "dropping unparseable datagram (no party)"),
        }
    }

    /// The connection is shared by every Party: the first one answers.
    /// Give `input` to every live Party (a connection event concerns all).
    fn for_each_live(&mut self, input: Input<'_>) {
        let mut touched = Vec::with_capacity(self.live);
        for (i, p) in self.live_parties() {
            p.handle_input(input);
            touched.push(i);
        }
        for i in touched {
            self.mark(i);
        }
    }

    fn answer_ping(&mut self, transport: Transport, source: SocketAddr) {
        if let Some(i) = self.first_live() {
            if let Some(p) = self.parties[i].as_mut() {
                p.tx.send_pong(transport, source);
            }
            self.mark(i);
        }
    }

    fn route(&mut self, now: Instant, msg: Message, source: SocketAddr, transport: Transport) {
        let index = if msg.is_request() {
            match msg.to_tag().flatten().and_then(tag_owner) {
                Some(i) => Some(i),
                // Somebody's tag, but not one we made: the first Party
                // answers it (481).
                None if msg.to_tag().flatten().is_some() => self.first_live(),
                None => self.by_request_uri(msg.request_uri().unwrap_or("")),
            }
        } else {
            msg.from_tag().flatten().and_then(tag_owner)
        };
        match index.and_then(|i| Some((i, self.parties.get_mut(i)?.as_mut()?))) {
            Some((i, p)) => {
                trace!(party = i, "routing message");
                p.handle_message(now, msg, source, transport);
                p.handle_input(Input::Timeout(now));
                self.mark(i);
            }
            None => trace!("message for no party, dropped"),
        }
    }

    fn by_request_uri(&self, uri: &str) -> Option<usize> {
        let Ok(u) = Uri::parse(uri) else {
            return self.first_live();
        };
        let user = u.user.unwrap_or("");
        let host = u.host;
        let mut user_only = None;
        for (i, p) in self.parties.iter().enumerate() {
            let Some(p) = p else { continue };
            let Ok(a) = Uri::parse(&p.config.aor) else {
                continue;
            };
            if a.user.unwrap_or("") == user {
                if a.host.eq_ignore_ascii_case(host) {
                    return Some(i);
                }
                user_only.get_or_insert(i);
            }
        }
        user_only.or_else(|| self.first_live())
    }

    /// The next thing to do, from any Party.
    pub fn poll_output(&mut self) -> EndpointOutput {
        while let Some(&i) = self.pending.front() {
            let Some(party) = self.parties[i].as_mut() else {
                self.pending.pop_front();
                self.state[i].pending = false;
                continue;
            };
            match party.poll_output() {
                Output::Transmit(t) => return EndpointOutput::Transmit(t),
                Output::MediaTransmit(m) => return EndpointOutput::MediaTransmit(m),
                Output::Event(mut event) => {
                    match &mut event {
                        Event::ResolveRequest { id, .. } => {
                            self.next_lookup += 1;
                            let ours = LookupId::from_u64(self.next_lookup);
                            // The party asked while handling an input or a
                            // command, so it has normally seen the time; a
                            // lookup without one is kept until answered.
                            let deadline = party
                                .last_now
                                .map(|now| now + party.config.dns.lookup_timeout);
                            self.lookups.insert(
                                ours,
                                Lookup {
                                    party: i,
                                    theirs: *id,
                                    deadline,
                                },
                            );
                            if let Some(deadline) = deadline {
                                self.lookup_deadlines
                                    .push(Reverse((deadline, self.next_lookup)));
                            }
                            *id = ours;
                        }
                        Event::MediaSocketOpen { rtp, rtcp, .. } => {
                            self.media_routes.insert(*rtp, i);
                            self.media_routes.insert(*rtcp, i);
                        }
                        Event::MediaSocketClose { rtp, rtcp, .. } => {
                            self.media_routes.remove(rtp);
                            self.media_routes.remove(rtcp);
                        }
                        _ => {}
                    }
                    return EndpointOutput::Event {
                        party: PartyKey(i),
                        event,
                    };
                }
                other => {
                    // Drained: it waits until its deadline.
                    self.pending.pop_front();
                    let slot = &mut self.state[i];
                    slot.pending = false;
                    slot.deadline = match other {
                        Output::Timeout(t) => Some(t),
                        _ => None,
                    };
                    if let Some(t) = slot.deadline {
                        self.deadlines.push(Reverse((t, i)));
                    }
                }
            }
        }
        // Stale entries (superseded deadlines, removed parties) are
        // skipped, and swept when they pile up.
        if self.deadlines.len() > 4 * self.live + 64 {
            let state = &self.state;
            self.deadlines
                .retain(|Reverse((at, i))| state[*i].deadline == Some(*at));
        }
        while let Some(&Reverse((at, i))) = self.deadlines.peek() {
            if self.state[i].deadline == Some(at) {
                return EndpointOutput::Timeout(at);
            }
            self.deadlines.pop();
        }
        EndpointOutput::Idle
    }
}

/// The Party index encoded at the front of one of our tags (`3.abc`).
fn tag_owner(tag: &str) -> Option<usize> {
    let (n, _) = tag.split_once('.')?;
    n.parse().ok()
}
