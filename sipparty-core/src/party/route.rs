//! Where a Party's requests go: the next hop of a new request (RFC 3261
//! section 8.1.2), server location by RFC 3263 with the driver answering
//! the DNS questions, failover to the next target (RFC 3263 section 4.3),
//! and the switch to TCP for requests too large for UDP (RFC 3261 section
//! 18.1.1).
//!
//! A request whose next hop is a host name is held: it gets a placeholder
//! transaction id (top bit set, never one the transaction layer makes) so
//! its owner (call, registration, request) can refer to it, and a
//! [`Locator`] resolution. The locator's questions leave as
//! [`Event::ResolveRequest`]; answers come back as `Input::Resolved`. Once
//! the targets are known the request is sent to the first one in a real
//! client transaction and the owner follows the new id, the same way it
//! follows a digest retry. A transport error, a timeout or a 503 then
//! sends it again (new branch, same CSeq: a new client transaction) to the
//! next target.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use tracing::debug;

use super::call::Cancel;
use super::event::{DialogError, DialogId, DialogState, Event};
use super::{Error, IdMap, Outgoing, Owner, Party, TxKind, TxUse};
use crate::message::{self, HeaderName, Message};
use crate::transaction::{TransactionEvent, TransactionId};
use crate::transport::locate::{Answer, Locator, LookupId};
use crate::transport::resolve::{Failure, ResolveConfig, ResolveError, Target, Targets};
use crate::transport::Transport;

/// Placeholder transaction ids have this bit set; the transaction layer
/// counts up from 1 and never gets there.
const PLACEHOLDER: u64 = 1 << 63;

/// The next hop of a request: an address, or a name still to locate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextHop {
    /// An IP literal (or a destination the application gave).
    Addr(SocketAddr, Transport),
    /// A host name: locate `uri` (RFC 3263) before sending. `transport` is
    /// the provisional one the request is built with; the target found
    /// may change it.
    Name { uri: Box<str>, transport: Transport },
}

impl NextHop {
    pub(crate) fn transport(&self) -> Transport {
        match self {
            NextHop::Addr(_, t) | NextHop::Name { transport: t, .. } => *t,
        }
    }

    /// The address, or the unspecified address while a name is resolving.
    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            NextHop::Addr(a, _) => *a,
            NextHop::Name { .. } => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        }
    }
}

/// Where a sent request may go next if this attempt fails.
#[derive(Debug, Default)]
struct Failover {
    /// The RFC 3263 targets, cursor on the one in use.
    targets: Option<Targets>,
    /// The request went over TCP for its size only: on a transport error
    /// retry over UDP to this address (RFC 3261 section 18.1.1).
    udp_retry: Option<SocketAddr>,
}

/// The Party's routing state, made at the first name to locate or the
/// first request switched to TCP.
#[derive(Debug)]
pub(crate) struct Routing {
    locator: Locator<TransactionId>,
    failover: IdMap<TransactionId, Failover>,
    /// Lookups of a server transaction's Via sent-by (RFC 3263 section
    /// 5): placeholder id to the server transaction.
    responses: IdMap<TransactionId, TransactionId>,
    next_placeholder: u64,
}

fn new_routing(dns: crate::transport::locate::LocatorConfig) -> Box<Routing> {
    Box::new(Routing {
        locator: Locator::new(dns),
        failover: IdMap::default(),
        responses: IdMap::default(),
        next_placeholder: 1,
    })
}

/// Whether `id` stands for a request still waiting for its next hop.
pub(crate) fn is_placeholder(id: TransactionId) -> bool {
    id.0 & PLACEHOLDER != 0
}

impl Party {
    fn routing(&mut self) -> &mut Routing {
        let dns = self.config.dns;
        self.routing.get_or_insert_with(|| new_routing(dns))
    }

    /// The next hop for `uri`: its address when the host (or `maddr`) is
    /// an IP literal, else the name to locate.
    pub(crate) fn hop_for_uri(&self, uri: &str) -> Result<NextHop, Error> {
        let parsed = message::Uri::parse(uri).map_err(|_| Error::InvalidUri(uri.to_string()))?;
        let explicit =
            parsed.transport_param().is_some() || matches!(parsed.scheme, message::Scheme::Sips);
        let mut transport = super::transport_of(&parsed);
        if let Some(addr) = super::literal_addr(&parsed, transport) {
            return Ok(NextHop::Addr(addr, transport));
        }
        let host = parsed.maddr().unwrap_or(parsed.host);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.is_empty() {
            return Err(Error::InvalidUri(uri.to_string()));
        }
        if !explicit && self.local_address(transport).is_none() {
            // RFC 3263 may pick any transport we have; build the request
            // with one we can put in a Via.
            if let Some((t, _, _)) = self.locals.first() {
                transport = *t;
            }
        }
        Ok(NextHop::Name {
            uri: uri.into(),
            transport,
        })
    }

    /// What RFC 3263 may choose from: the transports and address families
    /// we have local addresses for, UDP first.
    fn resolve_config(&self) -> ResolveConfig {
        let transports: Vec<Transport> = [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .filter(|t| self.local_address(*t).is_some())
            .collect();
        let mut config = ResolveConfig::with_transports(&transports);
        config.ipv4 = self.locals.iter().any(|(_, a, _)| a.is_ipv4());
        config.ipv6 = self.locals.iter().any(|(_, a, _)| a.is_ipv6());
        config
    }

    /// Start a client transaction for `request` towards `hop`. For a name
    /// the request is held under a placeholder id until it is located.
    pub(crate) fn send_routed<'a>(
        &mut self,
        now: Instant,
        request: impl Into<Outgoing<'a>>,
        hop: &NextHop,
        owner: Owner,
        kind: TxKind,
    ) -> Result<TransactionId, Error> {
        let request = request.into();
        let uri = match hop {
            NextHop::Addr(addr, transport) => {
                return self.send_request(now, request, *addr, *transport, owner, kind, 0)
            }
            NextHop::Name { uri, .. } => uri,
        };
        let config = self.resolve_config();
        let dns = self.config.dns;
        let routing = self.routing.get_or_insert_with(|| new_routing(dns));
        // Owned before the lookup starts, so a request that cannot be
        // leaves no lookup behind.
        let request = Box::new(request.into_owned()?);
        let id = TransactionId(PLACEHOLDER | routing.next_placeholder);
        routing.next_placeholder += 1;
        let started = routing
            .locator
            .resolve(now, id, uri, &config, &mut *self.rng);
        started.map_err(|e| match e {
            ResolveError::InvalidUri(u) => Error::InvalidUri(u),
            other => Error::Unresolvable(other.to_string()),
        })?;
        debug!(%id, %uri, "request held until its next hop is located");
        self.txs.insert(
            id,
            TxUse {
                owner,
                kind,
                request: Some(request),
                destination: hop.addr(),
                transport: hop.transport(),
                auth_rounds: 0,
            },
        );
        Ok(id)
    }

    /// The driver answered a DNS question.
    pub(crate) fn handle_resolved(&mut self, now: Instant, id: LookupId, answer: Answer<'_>) {
        let Some(routing) = self.routing.as_mut() else {
            return;
        };
        routing
            .locator
            .handle_answer(now, id, answer, &mut *self.rng);
    }

    /// When the oldest unanswered DNS question times out.
    pub(crate) fn routing_timeout(&self) -> Option<Instant> {
        self.routing.as_ref()?.locator.poll_timeout()
    }

    /// Time out DNS questions, announce new ones, send the requests whose
    /// next hop is now known.
    pub(crate) fn process_routing(&mut self, now: Instant) {
        let Some(routing) = self.routing.as_mut() else {
            return;
        };
        routing.locator.handle_timeout(now, &mut *self.rng);
        loop {
            let Some(routing) = self.routing.as_mut() else {
                return;
            };
            while let Some(l) = routing.locator.poll_lookup() {
                self.events.push_back(Event::ResolveRequest {
                    id: l.id,
                    query: l.query,
                });
            }
            let Some((placeholder, result)) = routing.locator.poll_done() else {
                return;
            };
            self.on_located(now, placeholder, result);
        }
    }

    /// RFC 3261 section 18.2.2 ([`TransactionEvent::LocateSentBy`]):
    /// server transaction `id`'s response could not go to the Via's
    /// received address either, so its sent-by `host` is located as RFC 3263 section 5 says: SRV for the transport when
    /// there is no `port`, else the host's addresses (what locating
    /// `sip:host[:port];transport=tcp`, or `sips:` for TLS, does).
    // Rare: kept out of the event loop that calls it.
    #[cold]
    #[inline(never)]
    pub(crate) fn locate_sent_by(&mut self, now: Instant, event: TransactionEvent) {
        let TransactionEvent::LocateSentBy {
            id,
            host,
            port,
            transport,
        } = event
        else {
            return;
        };
        let uri = match (transport, port) {
            (Transport::Tls, Some(p)) => format!("sips:{host}:{p}"),
            (Transport::Tls, None) => format!("sips:{host}"),
            (_, Some(p)) => format!("sip:{host}:{p};transport=tcp"),
            (_, None) => format!("sip:{host};transport=tcp"),
        };
        let config = self.resolve_config();
        let dns = self.config.dns;
        let routing = self.routing.get_or_insert_with(|| new_routing(dns));
        let placeholder = TransactionId(PLACEHOLDER | routing.next_placeholder);
        routing.next_placeholder += 1;
        let started = routing
            .locator
            .resolve(now, placeholder, &uri, &config, &mut *self.rng);
        match started {
            Ok(()) => {
                debug!(%id, %uri, "locating the Via sent-by of a response");
                self.routing().responses.insert(placeholder, id);
            }
            Err(e) => {
                debug!(%id, %uri, error = %e, "Via sent-by cannot be located");
                self.tx.locate_failed(now, id);
            }
        }
    }

    /// The held request `placeholder` has its targets (or none), or the
    /// Via sent-by of a response was located.
    fn on_located(
        &mut self,
        now: Instant,
        placeholder: TransactionId,
        result: Result<Targets, ResolveError>,
    ) {
        let server = self
            .routing
            .as_mut()
            .and_then(|r| r.responses.remove(&placeholder));
        if let Some(server) = server {
            match result.ok().and_then(|t| t.current().cloned()) {
                Some(target) => self.tx.send_responses_to(now, server, target.addr),
                None => self.tx.locate_failed(now, server),
            }
            return;
        }
        let Some(tx) = self.txs.get(&placeholder) else {
            return;
        };
        let (owner, kind) = (tx.owner, tx.kind);
        if !self.still_wanted(now, placeholder, owner, kind) {
            self.txs.remove(&placeholder);
            return;
        }
        let targets = match result {
            Ok(t) => t,
            Err(e) => {
                debug!(id = %placeholder, error = %e, "next hop not found");
                self.on_tx_failure(now, placeholder, DialogError::Unresolvable(e.to_string()));
                self.txs.remove(&placeholder);
                return;
            }
        };
        let Some(first) = targets.current().cloned() else {
            self.on_tx_failure(
                now,
                placeholder,
                DialogError::Unresolvable("no targets".into()),
            );
            self.txs.remove(&placeholder);
            return;
        };
        let request = self
            .txs
            .get_mut(&placeholder)
            .and_then(|t| t.request.take());
        let Some(request) = request else {
            self.txs.remove(&placeholder);
            return;
        };
        debug!(id = %placeholder, transport = %first.transport, addr = %first.addr, targets = targets.len(), "next hop located");
        match self.send_to_target(now, *request, &first, owner, kind, Some(targets), true) {
            Ok(new) => {
                self.follow_tx(owner, kind, placeholder, new);
                self.txs.remove(&placeholder);
            }
            Err(e) => {
                debug!(error = %e, "located request could not be sent");
                self.on_tx_failure(now, placeholder, DialogError::TransportError);
                self.txs.remove(&placeholder);
            }
        }
    }

    /// Whether the owner of `id` still waits for it. A call cancelled
    /// while its INVITE was held simply ends (nothing was sent).
    fn still_wanted(
        &mut self,
        now: Instant,
        id: TransactionId,
        owner: Owner,
        kind: TxKind,
    ) -> bool {
        match (owner, kind) {
            (Owner::Call(call), TxKind::Invite) => {
                let out = self
                    .calls
                    .get(&call)
                    .and_then(|c| c.out_invite.as_ref())
                    .map(|o| (o.tx == id, o.cancel));
                match out {
                    Some((true, Cancel::No)) => true,
                    Some((true, _)) if is_placeholder(id) => {
                        self.finish_call(now, call, DialogState::Terminated, None);
                        false
                    }
                    _ => false,
                }
            }
            (Owner::Call(call), _) => self.calls.contains_key(&call),
            (Owner::Registration(reg), _) => self
                .registrations
                .get(&reg)
                .is_some_and(|r| r.tx == Some(id)),
            (Owner::Request(_) | Owner::Nobody, _) => true,
        }
    }

    /// Send `request` to `target` in a new client transaction: new top
    /// Via (new branch, the target's transport), our Contact for that
    /// transport. `targets` are kept for failover.
    #[allow(clippy::too_many_arguments)]
    fn send_to_target(
        &mut self,
        now: Instant,
        mut request: Message,
        target: &Target,
        owner: Owner,
        kind: TxKind,
        targets: Option<Targets>,
        may_switch: bool,
    ) -> Result<TransactionId, Error> {
        self.replace_via(&mut request, target.transport)?;
        self.fix_contact(&mut request, target.transport);
        let id = self.send_request_with(
            now,
            request.into(),
            target.addr,
            target.transport,
            owner,
            kind,
            0,
            true,
            may_switch,
        )?;
        if let Some(t) = targets.filter(|t| t.len() > 1) {
            self.routing().failover.entry(id).or_default().targets = Some(t);
        }
        Ok(id)
    }

    /// Our Contact in `request` names the transport it was built for;
    /// make it name `transport`.
    fn fix_contact(&self, request: &mut Message, transport: Transport) {
        let Some(current) = request.header(&HeaderName::Contact) else {
            return;
        };
        let Ok(wanted) = self.contact(transport) else {
            return;
        };
        if current == wanted {
            return;
        }
        let ours = [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .filter_map(|t| self.contact(t).ok())
            .any(|c| c == current);
        if ours {
            request.set_header(HeaderName::Contact, &wanted);
        }
    }

    /// The owner of transaction `old` now follows `new` (a located or
    /// failed-over request), as after a digest retry.
    fn follow_tx(&mut self, owner: Owner, kind: TxKind, old: TransactionId, new: TransactionId) {
        match owner {
            Owner::Call(call) => {
                self.retarget_call_tx(call, old, new);
                if kind == TxKind::Invite {
                    self.sync_call_route(call, new);
                }
            }
            Owner::Registration(reg) => {
                let cseq = self.registrations.get(&reg).map(|r| r.cseq);
                if let Some(cseq) = cseq {
                    self.registration_retargeted(reg, new, cseq);
                }
            }
            Owner::Request(_) | Owner::Nobody => {}
        }
    }

    /// The call's INVITE went out in transaction `tx`: CANCEL, ACK and
    /// the dialog's first requests go where it went, over its transport.
    pub(crate) fn sync_call_route(&mut self, call: DialogId, tx: TransactionId) {
        if is_placeholder(tx) {
            return;
        }
        let Some(t) = self.txs.get(&tx) else {
            return;
        };
        let (addr, transport) = (t.destination, t.transport);
        let sent = t.request.as_deref().cloned();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(out) = c.out_invite.as_mut().filter(|o| o.tx == tx) else {
            return;
        };
        out.destination = addr;
        out.provisional = false;
        if let Some(r) = sent {
            out.credentials = super::call::carries_credentials(&r);
            out.request = r;
        }
        c.peer = addr;
        c.transport = transport;
    }

    /// RFC 3263 section 4.3 (and 18.1.1): transaction `id` failed; send its
    /// request to the next target. Returns true when a new transaction
    /// replaced it (the failure is then not the owner's business).
    pub(crate) fn fail_over(&mut self, now: Instant, id: TransactionId, failure: Failure) -> bool {
        let Some(mut entry) = self.routing.as_mut().and_then(|r| r.failover.remove(&id)) else {
            return false;
        };
        let Some(tx) = self.txs.get(&id) else {
            return false;
        };
        let (owner, kind) = (tx.owner, tx.kind);
        // A call that is ringing, or being cancelled, stays where it is.
        if let (Owner::Call(call), TxKind::Invite) = (owner, kind) {
            let initiating = self
                .calls
                .get(&call)
                .is_some_and(|c| c.state == DialogState::InitiatingDialog);
            if !initiating {
                return false;
            }
        }
        if !self.still_wanted(now, id, owner, kind) {
            return false;
        }
        let (next, may_switch) = match (entry.udp_retry.take(), failure) {
            (Some(addr), Failure::TransportError) => (
                Some(Target {
                    transport: Transport::Udp,
                    addr,
                    host: addr.ip().to_string(),
                }),
                false,
            ),
            _ => (
                entry
                    .targets
                    .as_mut()
                    .and_then(|t| t.fail_over(failure).cloned()),
                true,
            ),
        };
        let Some(next) = next else {
            return false;
        };
        let Some(request) = self
            .txs
            .get(&id)
            .and_then(|t| t.request.as_deref().cloned())
        else {
            return false;
        };
        match self.send_to_target(now, request, &next, owner, kind, None, may_switch) {
            Ok(new) => {
                debug!(old = %id, %new, addr = %next.addr, transport = %next.transport, ?failure, "request failed over to the next target");
                if let Some(t) = entry.targets.take() {
                    self.routing().failover.entry(new).or_default().targets = Some(t);
                }
                self.follow_tx(owner, kind, id, new);
                true
            }
            Err(e) => {
                debug!(error = %e, "failover request could not be sent");
                false
            }
        }
    }

    /// The address of `uri` from the DNS cache alone (in-dialog requests
    /// to a Record-Route or remote target that is a name the Party has
    /// located before); None when the cache does not know it.
    pub(crate) fn cached_hop(&self, uri: &str) -> Option<SocketAddr> {
        let routing = self.routing.as_ref()?;
        let now = self.last_now?;
        // Weights only order SRV records of equal priority; which of them
        // a mid-dialog request picks does not matter.
        let mut rng = crate::SeededRandom::new(0);
        let targets = routing
            .locator
            .resolve_cached(now, uri, &self.resolve_config(), &mut rng)?;
        targets.current().map(|t| t.addr)
    }

    /// Transaction `new` resends `old`'s request to the same place (a
    /// digest retry): the targets after it are still the ones to try.
    pub(crate) fn carry_route(&mut self, old: TransactionId, new: TransactionId) {
        let Some(r) = self.routing.as_mut() else {
            return;
        };
        if let Some(targets) = r.failover.remove(&old).and_then(|f| f.targets) {
            r.failover.entry(new).or_default().targets = Some(targets);
        }
    }

    /// Transaction `id` ended: forget where it could have gone next.
    pub(crate) fn forget_route(&mut self, id: TransactionId) {
        if let Some(r) = self.routing.as_mut() {
            r.failover.remove(&id);
        }
    }

    /// RFC 3261 section 18.1.1: a request for UDP that is within 200 bytes
    /// of the path MTU (or over 1300 bytes when it is unknown) goes over
    /// TCP, its top Via saying so (same branch). Not when the next hop's
    /// URI pins `transport=udp`, nor without a local TCP address. Returns
    /// the transport to use.
    pub(crate) fn fit_to_path(
        &self,
        request: &mut Outgoing<'_>,
        transport: Transport,
    ) -> Transport {
        if transport != Transport::Udp || !self.config.tcp_for_large_requests {
            return transport;
        }
        let size = match &*request {
            Outgoing::Written(w) => w.bytes().len(),
            other => other.as_message().map_or(0, wire_size),
        };
        if size <= self.udp_size_limit() {
            return transport;
        }
        let Ok(tcp) = self.local_host_port(Transport::Tcp) else {
            return transport;
        };
        if request.as_message().is_none() {
            // Written straight into bytes: read back as a message to look
            // at its Route and change its Via (this rare case only).
            if let Err(e) = request.make_owned() {
                debug!(error = %e, "large request cannot be switched to TCP");
                return transport;
            }
        }
        let Some(msg) = request.as_message() else {
            return transport;
        };
        if next_hop_pins_udp(msg) {
            return transport;
        }
        let Some(top) = msg.header(&HeaderName::Via) else {
            return transport;
        };
        // Keep the parameters (branch, rport): only transport and sent-by
        // change.
        let params = top.find(';').map_or("", |i| &top[i..]);
        let via = format!("SIP/2.0/TCP {tcp}{params}");
        // The branch is unchanged: the transaction layer keeps reading it
        // from the message's cache instead of decoding the Via again.
        match request.make_owned() {
            Ok(m) => {
                m.replace_top_via_same_branch(&via);
            }
            // Already a message (checked above): making it owned is a copy.
            Err(_) => return transport,
        }
        debug!(
            size,
            limit = self.udp_size_limit(),
            "large request switched to TCP (RFC 3261 section 18.1.1)"
        );
        Transport::Tcp
    }

    /// The largest request sent over UDP when it could go over TCP (RFC
    /// 3261 section 18.1.1: 200 bytes below the path MTU, 1,300 when the
    /// MTU is unknown).
    pub(crate) fn udp_size_limit(&self) -> usize {
        match self.config.path_mtu {
            Some(mtu) => mtu.saturating_sub(200) as usize,
            None => 1300,
        }
    }

    /// After `send_request` switched a request to TCP: on a transport
    /// error it is retried over UDP.
    pub(crate) fn note_switched(&mut self, id: TransactionId, destination: SocketAddr) {
        self.routing().failover.entry(id).or_default().udp_retry = Some(destination);
    }
}

/// The size of `msg` on the wire, to within a few bytes (Content-Length
/// counted generously).
fn wire_size(msg: &Message) -> usize {
    let start = msg.method().map_or(0, |m| m.as_str().len())
        + msg.request_uri().map_or(0, str::len)
        + msg.reason().map_or(0, str::len)
        + 14;
    let headers: usize = msg
        .header_section()
        .iter()
        .map(|h| h.name.len() + h.value.len() + 4)
        .sum();
    start + headers + 24 + msg.body().len()
}

/// Whether the request's next hop (top Route, else Request-URI) says
/// `transport=udp`: RFC 3263 section 4.1 makes an explicit transport
/// binding.
fn next_hop_pins_udp(request: &Message) -> bool {
    let route = request.routes().next().and_then(Result::ok);
    let pins = |uri: &message::Uri<'_>| {
        uri.transport_param()
            .is_some_and(|t| t.eq_ignore_ascii_case("udp"))
    };
    match route {
        Some(r) => pins(&r.uri()),
        None => request
            .request_uri()
            .and_then(|u| message::Uri::parse(u).ok())
            .is_some_and(|u| pins(&u)),
    }
}
