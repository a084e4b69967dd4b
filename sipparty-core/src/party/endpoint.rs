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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::{trace, warn};

use super::event::{Event, Input, MediaTransmit, Output};
use super::media::PortPool;
use super::Party;
use crate::dialog::tag_of;
use crate::message::{Message, Uri};
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
#[derive(Debug, Default)]
pub struct Endpoint {
    parties: Vec<Party>,
    locals: Vec<(Transport, SocketAddr)>,
    media_routes: HashMap<SocketAddr, usize>,
    cursor: usize,
    ports_per_party: u16,
    framer: super::Framer,
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
        self.parties.push(party);
        PartyKey(index)
    }

    /// Set the local address of `transport` for every Party (present and
    /// future).
    pub fn set_local_address(&mut self, transport: Transport, addr: SocketAddr) {
        self.locals.retain(|(t, _)| *t != transport);
        self.locals.push((transport, addr));
        for p in &mut self.parties {
            p.set_local_address(transport, addr);
        }
    }

    /// A Party by key.
    pub fn party(&self, key: PartyKey) -> Option<&Party> {
        self.parties.get(key.0)
    }

    /// A Party by key, to command it.
    pub fn party_mut(&mut self, key: PartyKey) -> Option<&mut Party> {
        self.parties.get_mut(key.0)
    }

    /// How many parties.
    pub fn len(&self) -> usize {
        self.parties.len()
    }

    /// Whether there are no parties.
    pub fn is_empty(&self) -> bool {
        self.parties.is_empty()
    }

    /// The Party whose address of record is `aor`.
    pub fn find(&self, aor: &str) -> Option<PartyKey> {
        let aor = super::config::normalize_uri(aor).ok()?;
        self.parties
            .iter()
            .position(|p| p.config.aor.eq_ignore_ascii_case(&aor))
            .map(PartyKey)
    }

    /// Feed an input; it reaches the Party it is for.
    pub fn handle_input(&mut self, input: Input<'_>) {
        let now = input.now();
        match input {
            Input::Datagram {
                transport,
                source,
                destination,
                bytes,
                ..
            } => {
                if let Some(&i) = self.media_routes.get(&destination) {
                    self.parties[i].handle_input(input);
                    return;
                }
                match Message::parse(bytes) {
                    Ok(msg) => self.route(now, msg, source, transport),
                    Err(e) => warn!(%source, error = ?e, "dropping unparseable datagram"),
                }
            }
            Input::StreamData {
                transport,
                source,
                bytes,
                ..
            } => {
                let mut framer = std::mem::take(&mut self.framer);
                framer.push(transport, source, bytes, |msg| {
                    self.route(now, msg, source, transport)
                });
                self.framer = framer;
            }
            Input::TransportError {
                transport,
                destination,
                ..
            } => {
                self.framer.close(transport, destination);
                for p in &mut self.parties {
                    p.handle_input(input);
                }
            }
            Input::Timeout(_) => {
                for p in &mut self.parties {
                    p.handle_input(input);
                }
            }
        }
    }

    fn route(&mut self, now: Instant, msg: Message, source: SocketAddr, transport: Transport) {
        let index = if msg.is_request() {
            match tag_of(msg.to_header()).and_then(tag_owner) {
                Some(i) => Some(i),
                None if tag_of(msg.to_header()).is_some() => Some(0),
                None => Some(self.by_request_uri(msg.request_uri().unwrap_or(""))),
            }
        } else {
            tag_of(msg.from_header()).and_then(tag_owner)
        };
        match index.filter(|i| *i < self.parties.len()) {
            Some(i) => {
                trace!(party = i, "routing message");
                let p = &mut self.parties[i];
                p.handle_message(now, msg, source, transport);
                p.handle_input(Input::Timeout(now));
            }
            None => trace!("message for no party, dropped"),
        }
    }

    fn by_request_uri(&self, uri: &str) -> usize {
        let Ok(u) = Uri::parse(uri) else { return 0 };
        let user = u.user.unwrap_or("");
        let host = u.host;
        let mut user_only = None;
        for (i, p) in self.parties.iter().enumerate() {
            let Ok(a) = Uri::parse(&p.config.aor) else {
                continue;
            };
            if a.user.unwrap_or("") == user {
                if a.host.eq_ignore_ascii_case(host) {
                    return i;
                }
                user_only.get_or_insert(i);
            }
        }
        user_only.unwrap_or(0)
    }

    /// The next thing to do, from any Party.
    pub fn poll_output(&mut self) -> EndpointOutput {
        let n = self.parties.len();
        let mut earliest: Option<Instant> = None;
        for k in 0..n {
            let i = (self.cursor + k) % n;
            match self.parties[i].poll_output() {
                Output::Transmit(t) => return EndpointOutput::Transmit(t),
                Output::MediaTransmit(m) => return EndpointOutput::MediaTransmit(m),
                Output::Event(event) => {
                    match &event {
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
                    self.cursor = (i + 1) % n;
                    return EndpointOutput::Event {
                        party: PartyKey(i),
                        event,
                    };
                }
                Output::Timeout(t) => earliest = Some(earliest.map_or(t, |e| e.min(t))),
                _ => {}
            }
        }
        match earliest {
            Some(t) => EndpointOutput::Timeout(t),
            None => EndpointOutput::Idle,
        }
    }
}

/// The Party index encoded at the front of one of our tags (`3.abc`).
fn tag_owner(tag: &str) -> Option<usize> {
    let (n, _) = tag.split_once('.')?;
    n.parse().ok()
}
