//! A Party (or an [`Endpoint`] of parties) as a node of the network
//! simulator (`crate::sim`), collecting the events it reports, so call
//! flows run end to end in virtual time.
//!
//! ```
//! use sipparty_core::party::{DialogState, InviteOptions, Party, SimParty};
//! use sipparty_core::sim::Network;
//! use std::time::{Duration, Instant};
//!
//! let a = "127.0.0.1:5060".parse().unwrap();
//! let b = "127.0.0.1:5070".parse().unwrap();
//! let mut net = Network::new(7, Instant::now());
//! net.add(a, SimParty::new(Party::no_media_simple_calls("alice@atlanta.com").unwrap(), a));
//! net.add(b, SimParty::new(Party::no_media_simple_calls("bob@biloxi.com").unwrap(), b));
//! let now = net.now();
//! let call = net.endpoint_mut(a).party_mut().invite(now, "bob@127.0.0.1:5070", InviteOptions::default()).unwrap();
//! net.run_until(now + Duration::from_secs(1));
//! assert_eq!(net.endpoint(a).state_of(call), Some(DialogState::InDialog));
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::transport::locate::{Answer, DnsRecord, DnsTable, LookupId};
use crate::transport::resolve::{Query, RecordType};

use super::endpoint::{Endpoint, EndpointOutput, PartyKey};
use super::event::{DialogId, DialogState, Event, Input, MediaTransmit, Output};
use super::Party;
use crate::transport::{Transmit, Transport};

#[derive(Debug)]
enum Inner {
    One(Box<Party>),
    Many(Box<Endpoint>),
}

/// A simulator node: one Party, or several behind an [`Endpoint`].
#[derive(Debug)]
pub struct SimParty {
    inner: Inner,
    out: VecDeque<Transmit>,
    /// Every event reported, in order, with the Party it came from (always
    /// `PartyKey(0)` for a single Party).
    pub events: Vec<(PartyKey, Event)>,
    /// Media packets the Party wanted to send (the simulator carries SIP
    /// only).
    pub media: Vec<MediaTransmit>,
    /// A stub DNS answering the parties' `Event::ResolveRequest` at once
    /// (None: requests stay unanswered and time out).
    dns: Option<SimDns>,
    /// The latest time the node has seen.
    now: Option<Instant>,
}

/// A DNS stub for simulated nodes: answers from a table (the core's
/// [`DnsTable`], shared with the tokio driver's `StaticResolver`), records
/// every question. Never touches the network.
#[derive(Debug, Clone, Default)]
pub struct SimDns {
    table: DnsTable,
    /// Every question asked, in order.
    pub asked: Vec<Query>,
}

impl SimDns {
    /// An empty table: every question finds no records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `rtype` questions about `name` with `records`.
    pub fn with(mut self, name: &str, rtype: RecordType, records: Vec<DnsRecord>) -> Self {
        self.table.insert(name, rtype, records);
        self
    }

    /// Lookups of `name` fail (as on a server failure).
    pub fn failing(mut self, name: &str) -> Self {
        self.table.fail(name);
        self
    }

    /// The answer to `query` (recorded in [`SimDns::asked`]): the table's
    /// records (none when absent), or None for a failing name. For tests
    /// that drive a Party by hand.
    pub fn answer(&mut self, query: &Query) -> Option<Vec<DnsRecord>> {
        self.asked.push(query.clone());
        self.table.answer(query)
    }
}

impl SimParty {
    /// A node for `party`, whose SIP address (UDP) is `addr`.
    pub fn new(mut party: Party, addr: SocketAddr) -> Self {
        party.set_local_address(Transport::Udp, addr);
        SimParty {
            inner: Inner::One(Box::new(party)),
            out: VecDeque::new(),
            events: Vec::new(),
            media: Vec::new(),
            dns: None,
            now: None,
        }
    }

    /// A node for several parties sharing the address `addr`.
    pub fn endpoint(mut endpoint: Endpoint, addr: SocketAddr) -> Self {
        endpoint.set_local_address(Transport::Udp, addr);
        SimParty {
            inner: Inner::Many(Box::new(endpoint)),
            out: VecDeque::new(),
            events: Vec::new(),
            media: Vec::new(),
            dns: None,
            now: None,
        }
    }

    /// Answer the node's DNS questions from `dns`.
    pub fn set_dns(&mut self, dns: SimDns) {
        self.dns = Some(dns);
    }

    /// The stub DNS, to see what was asked.
    pub fn dns(&self) -> Option<&SimDns> {
        self.dns.as_ref()
    }

    /// The Party (the first one of an Endpoint).
    pub fn party_mut(&mut self) -> &mut Party {
        self.party_at(PartyKey(0))
    }

    /// A Party of the node by key.
    ///
    /// # Panics
    /// If there is no such Party (a test error).
    pub fn party_at(&mut self, key: PartyKey) -> &mut Party {
        match &mut self.inner {
            Inner::One(p) => p,
            Inner::Many(e) => e
                .party_mut(key)
                .expect("test asked for a party that exists"),
        }
    }

    /// The Party, read-only.
    pub fn party(&self) -> &Party {
        match &self.inner {
            Inner::One(p) => p,
            Inner::Many(e) => e.party(PartyKey(0)).expect("an endpoint node has parties"),
        }
    }

    /// The Endpoint, if this node is one.
    pub fn endpoint_mut(&mut self) -> Option<&mut Endpoint> {
        match &mut self.inner {
            Inner::Many(e) => Some(e),
            Inner::One(_) => None,
        }
    }

    /// The last state reported for a dialog of the first Party.
    pub fn state_of(&self, id: DialogId) -> Option<DialogState> {
        self.state_at(PartyKey(0), id)
    }

    /// The last state reported for a dialog of Party `key`.
    pub fn state_at(&self, key: PartyKey, id: DialogId) -> Option<DialogState> {
        self.events.iter().rev().find_map(|(k, e)| match e {
            Event::DialogStateChanged { id: i, state } if *i == id && *k == key => Some(*state),
            _ => None,
        })
    }

    /// Every state reported for a dialog, in order.
    pub fn states_of(&self, id: DialogId) -> Vec<DialogState> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::DialogStateChanged { id: i, state } if *i == id => Some(*state),
                _ => None,
            })
            .collect()
    }

    /// The incoming calls reported.
    pub fn incoming_calls(&self) -> Vec<DialogId> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::IncomingCall { id, .. } => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// Whether every Party of the node is idle (no dialog, transaction,
    /// timer or queued output).
    pub fn is_idle(&mut self) -> bool {
        self.drain();
        match &mut self.inner {
            Inner::One(p) => p.is_idle(),
            Inner::Many(e) => {
                let keys: Vec<PartyKey> = e.keys().collect();
                keys.into_iter()
                    .all(|k| e.party_mut(k).is_some_and(|p| p.is_idle()))
            }
        }
    }

    fn feed(&mut self, input: Input<'_>) {
        let now = input.now();
        self.now = Some(self.now.map_or(now, |t| t.max(now)));
        match &mut self.inner {
            Inner::One(p) => p.handle_input(input),
            Inner::Many(e) => e.handle_input(input),
        }
        self.drain();
    }

    /// Move everything the parties want to send or say into the node's
    /// queues.
    pub fn drain(&mut self) {
        let mut lookups: Vec<(LookupId, Query)> = Vec::new();
        loop {
            let event = match &mut self.inner {
                Inner::One(p) => match p.poll_output() {
                    Output::Transmit(t) => {
                        self.out.push_back(t);
                        continue;
                    }
                    Output::MediaTransmit(m) => {
                        self.media.push(m);
                        continue;
                    }
                    Output::Event(e) => Some((PartyKey(0), e)),
                    _ => None,
                },
                Inner::Many(e) => match e.poll_output() {
                    EndpointOutput::Transmit(t) => {
                        self.out.push_back(t);
                        continue;
                    }
                    EndpointOutput::MediaTransmit(m) => {
                        self.media.push(m);
                        continue;
                    }
                    EndpointOutput::Event { party, event } => Some((party, event)),
                    _ => None,
                },
            };
            match event {
                Some((party, event)) => {
                    if let Event::ResolveRequest { id, query } = &event {
                        lookups.push((*id, query.clone()));
                    }
                    self.events.push((party, event));
                }
                None if lookups.is_empty() || self.dns.is_none() => break,
                None => {
                    // Answer as a resolver on the same host would: at once.
                    let party_now = match &self.inner {
                        Inner::One(p) => p.last_now,
                        Inner::Many(e) => e
                            .keys()
                            .filter_map(|k| e.party(k).and_then(|p| p.last_now))
                            .max(),
                    };
                    let Some(now) = self.now.into_iter().chain(party_now).max() else {
                        break;
                    };
                    for (id, query) in std::mem::take(&mut lookups) {
                        let Some(dns) = self.dns.as_mut() else { break };
                        let records = dns.answer(&query);
                        let answer = match &records {
                            Some(r) => Answer::Records(r),
                            None => Answer::Failed,
                        };
                        let input = Input::Resolved { now, id, answer };
                        match &mut self.inner {
                            Inner::One(p) => p.handle_input(input),
                            Inner::Many(e) => e.handle_input(input),
                        }
                    }
                }
            }
        }
    }

    fn next_timeout(&mut self) -> Option<Instant> {
        match &mut self.inner {
            Inner::One(p) => p.poll_timeout(),
            Inner::Many(e) => {
                let keys: Vec<PartyKey> = e.keys().collect();
                keys.into_iter()
                    .filter_map(|k| e.party_mut(k).and_then(|p| p.poll_timeout()))
                    .min()
            }
        }
    }
}

impl crate::sim::Endpoint for SimParty {
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        self.feed(Input::Datagram {
            now,
            transport: Transport::Udp,
            source,
            destination,
            bytes,
        });
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.feed(Input::Timeout(now));
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.drain();
        self.out.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.drain();
        self.next_timeout()
    }
}
