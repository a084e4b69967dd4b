//! The transaction table: matches arriving messages to the four machines,
//! runs their timers, and queues what they send and report.

use std::cmp::Reverse;
use std::collections::hash_map::RandomState;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::time::Instant;

use smallvec::SmallVec;
use tracing::{debug, trace, warn};

use super::invite_client::{self, InviteClient};
use super::invite_server::{self, InviteServer};
use super::key::{Key, KeyRef, Kind};
use super::non_invite_client::NonInviteClient;
use super::non_invite_server::NonInviteServer;
use super::stateless::{
    destination_from_via, make_response, needs_stamp, reliable_fallback, replace_top_via,
    response_destination, trying_bytes, write_stamped_top, TopVia,
};
use super::timer::Timer;
use super::{
    Ctx, Matched, Peer, TransactionConfig, TransactionError, TransactionEvent, TransactionId,
};
use crate::message::{HeaderName, Message, Method};
use crate::transport::{Transmit, Transport};

/// A multiplicative hasher for keys that are already well spread or not
/// chosen by peers: transaction ids (our own counter) and the keyed SipHash
/// values of the matching index. Keeps SipHash to one pass per message.
#[derive(Debug, Default, Clone, Copy)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: good high bits, which hashbrown's control bytes
        // use.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Mix = BuildHasherDefault<MixHasher>;

/// One of the four machines.
#[derive(Debug)]
enum Machine {
    InviteClient(InviteClient),
    NonInviteClient(NonInviteClient),
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
}

impl Machine {
    fn next_deadline(&self) -> Option<Instant> {
        match self {
            Machine::InviteClient(m) => m.timers.next_deadline(),
            Machine::NonInviteClient(m) => m.timers.next_deadline(),
            Machine::InviteServer(m) => m.timers.next_deadline(),
            Machine::NonInviteServer(m) => m.timers.next_deadline(),
        }
    }

    fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        match self {
            Machine::InviteClient(m) => m.timers.pop_expired(now),
            Machine::NonInviteClient(m) => m.timers.pop_expired(now),
            Machine::InviteServer(m) => m.timers.pop_expired(now),
            Machine::NonInviteServer(m) => m.timers.pop_expired(now),
        }
    }

    fn handle_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match self {
            Machine::InviteClient(m) => m.handle_timer(ctx, timer),
            Machine::NonInviteClient(m) => m.handle_timer(ctx, timer),
            Machine::InviteServer(m) => m.handle_timer(ctx, timer),
            Machine::NonInviteServer(m) => m.handle_timer(ctx, timer),
        }
    }

    /// A server transaction over TCP/TLS: the port its responses go to, at
    /// the source's IP, once the request's connection is gone (RFC 3261
    /// section 18.2.2); given out once.
    fn take_fallback(&mut self) -> Option<NonZeroU16> {
        match self {
            Machine::InviteServer(m) => m.fallback.take(),
            Machine::NonInviteServer(m) => m.fallback.take(),
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => None,
        }
    }

    /// A server transaction's connection is gone: later responses go to
    /// `destination`, and with `resend` the last one goes there now (RFC
    /// 3261 section 18.2.2).
    fn retarget(&mut self, ctx: &mut Ctx<'_>, destination: SocketAddr, resend: bool) {
        match self {
            Machine::InviteServer(m) => m.retarget(ctx, destination, resend),
            Machine::NonInviteServer(m) => m.retarget(ctx, destination, resend),
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => {}
        }
    }

    /// A server transaction over TCP/TLS with a response to deliver: the
    /// request's top Via sent-by, read from that response's, when it is a
    /// host name (RFC 3263 section 5 locates it). Given out once.
    fn sent_by_name(&mut self) -> Option<(String, Option<u16>, Transport)> {
        let (peer, response) = match self {
            Machine::InviteServer(m) => m.locate_once()?,
            Machine::NonInviteServer(m) => m.locate_once()?,
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => return None,
        };
        if !peer.transport.is_reliable() || response.is_empty() {
            return None;
        }
        let response = Message::parse(response).ok()?;
        let via = response.top_via()?.ok()?;
        let bare = via.host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_ok() || bare.is_empty() {
            return None;
        }
        Some((via.host.to_string(), via.port, peer.transport))
    }

    fn transport_error(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Machine::InviteClient(m) => m.transport_error(ctx),
            Machine::NonInviteClient(m) => m.transport_error(ctx),
            Machine::InviteServer(m) => m.transport_error(ctx),
            Machine::NonInviteServer(m) => m.transport_error(ctx),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Machine::InviteClient(m) => m.is_terminated(),
            Machine::NonInviteClient(m) => m.is_terminated(),
            Machine::InviteServer(m) => m.is_terminated(),
            Machine::NonInviteServer(m) => m.is_terminated(),
        }
    }

    fn peer(&self) -> Peer {
        match self {
            Machine::InviteClient(m) => m.peer,
            Machine::NonInviteClient(m) => m.peer,
            Machine::InviteServer(m) => m.peer,
            Machine::NonInviteServer(m) => m.peer,
        }
    }
}

/// A live transaction.
#[derive(Debug)]
struct Entry {
    key: Key,
    /// `key`'s keyed hash, its place in `TransactionLayer::index`.
    hash: u64,
    machine: Machine,
    /// Its live deadline in `TransactionLayer::timers` (other heap entries
    /// for it are stale).
    scheduled: Option<Instant>,
    /// A CANCEL asked for before any provisional response: RFC 3261 section
    /// 9.1 holds it until one arrives. Holds the id promised to the TU.
    pending_cancel: Option<TransactionId>,
}

/// The transaction table of one endpoint (RFC 3261 section 17): every live
/// client and server transaction, keyed by the matching rules of sections
/// 17.1.3 and 17.2.3, capped at [`TransactionConfig::max_transactions`].
///
/// See the [module documentation](super) for the calling pattern.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TransactionConfig,
    next_id: u64,
    /// Live transactions, stored inline (no allocation per transaction;
    /// the table holds only a minute's worth of transactions, so its spare
    /// capacity stays small).
    entries: HashMap<TransactionId, Entry, Mix>,
    /// Matching index: the keyed hash of each entry's [`Key`] to the ids
    /// with that hash (almost always one). The key itself lives only in
    /// the entry, so it is stored once.
    index: HashMap<u64, SmallVec<[TransactionId; 1]>, Mix>,
    /// Keyed (SipHash) so a peer choosing branches cannot aim collisions.
    hasher: RandomState,
    /// Every entry's next deadline, earliest on top, with lazy deletion: an
    /// element is live only while its entry's `scheduled` holds the same
    /// instant (a rescheduled or finished transaction leaves its old element
    /// behind, dropped when it surfaces or at a compaction). Cheaper than
    /// an ordered set, which paid a removal and an insertion, each a tree
    /// walk, for every reschedule. The top is always live (see
    /// [`Self::prune_timers`]), so [`Self::poll_timeout`] is exact.
    timers: BinaryHeap<Reverse<(Instant, TransactionId)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
    /// Reused buffer for a stamped top Via line (section 18.2.1).
    scratch: String,
}

/// The key of the client transaction `request` starts (section 17.1.3):
/// its top Via's branch (decoded once per message: a caller that wrote
/// the Via may have recorded it already) and its method.
fn client_key(request: &Message) -> Result<Key, TransactionError> {
    let Some(method) = request.method() else {
        return Err(TransactionError::WrongKind);
    };
    let Some(branch) = request.top_branch() else {
        return Err(if *method == Method::Ack {
            TransactionError::AckNeedsNoTransaction
        } else {
            TransactionError::NoBranch
        });
    };
    Ok(Key::new_client(branch, method.clone()))
}

/// The context a machine handles one input in: the layer's config and
/// output queues, borrowed field by field so the machine's entry can be
/// borrowed beside them.
macro_rules! ctx {
    ($layer:ident, $now:expr, $id:expr) => {
        Ctx {
            now: $now,
            config: &$layer.config,
            id: $id,
            transmits: &mut $layer.transmits,
            events: &mut $layer.events,
        }
    };
}

impl TransactionLayer {
    /// An empty table.
    ///
    /// T1 below 1 ms is raised to 1 ms (a zero T1 would retransmit in a
    /// loop without the clock moving), and T2 is raised to at least T1.
    pub fn new(mut config: TransactionConfig) -> Self {
        let t = &mut config.timers;
        t.t1 = t.t1.max(std::time::Duration::from_millis(1));
        t.t2 = t.t2.max(t.t1);
        Self {
            config,
            next_id: 0,
            entries: HashMap::default(),
            index: HashMap::default(),
            hasher: RandomState::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            scratch: String::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TransactionConfig {
        &self.config
    }

    /// How many transactions are live.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether transaction `id` is live.
    pub fn contains(&self, id: TransactionId) -> bool {
        self.entries.contains_key(&id)
    }

    /// The live transaction matching `key`, whose hash is `hash`.
    fn find_hashed(&self, key: KeyRef<'_>, hash: u64) -> Option<TransactionId> {
        let ids = self.index.get(&hash)?;
        ids.iter()
            .copied()
            .find(|id| self.entries.get(id).is_some_and(|e| e.key.as_ref() == key))
    }

    fn find(&self, key: KeyRef<'_>) -> Option<TransactionId> {
        self.find_hashed(key, key.hash_with(&self.hasher))
    }

    fn allocate_id(&mut self) -> TransactionId {
        self.next_id += 1;
        TransactionId(self.next_id)
    }

    /// A message arrived from `source` over `transport`. Requests are
    /// matched to server transactions (section 17.2.3) or start one;
    /// responses are matched to client transactions (section 17.1.3).
    /// What follows is queued for [`Self::poll_event`] and
    /// [`Self::poll_transmit`].
    pub fn handle_message(
        &mut self,
        now: Instant,
        msg: Message,
        source: SocketAddr,
        transport: Transport,
    ) -> Matched {
        if msg.is_request() {
            self.handle_request(now, msg, source, transport, false)
        } else {
            self.handle_response(now, msg, source, transport)
        }
    }

    /// [`Self::handle_message`] for a request the TU has already checked
    /// for CSeq (with the request's method), Call-ID, From and To (RFC
    /// 3261 section 8.2, as the Party does first): those lookups are not
    /// made twice.
    pub(crate) fn handle_checked_request(
        &mut self,
        now: Instant,
        request: Message,
        source: SocketAddr,
        transport: Transport,
    ) -> Matched {
        debug_assert!(request.is_request());
        self.handle_request(now, request, source, transport, true)
    }

    fn handle_response(
        &mut self,
        now: Instant,
        response: Message,
        source: SocketAddr,
        transport: Transport,
    ) -> Matched {
        let Some(status) = response.status() else {
            return Matched::Dropped;
        };
        // Section 18.1.2: a response with more than one Via value is not
        // ours. (Checked on the raw lines: a second line, or a comma in
        // the first, without splitting every value.)
        let mut lines = response.headers(&HeaderName::Via);
        let several = match (lines.next(), lines.next()) {
            (Some(first), None) => super::stateless::first_comma(first).is_some(),
            (Some(_), Some(_)) => true,
            (None, _) => false,
        };
        if several {
            warn!(%source, status, "response with several Via values discarded");
            return Matched::Dropped;
        }
        // Matched on a key borrowed from the response (section 17.1.3).
        let branch = response.top_branch();
        let method = response.cseq().and_then(Result::ok).map(|c| c.method);
        let (Some(branch), Some(method)) = (branch, method.as_ref()) else {
            warn!(%source, status, "response without branch or CSeq discarded");
            return Matched::Dropped;
        };
        let is_invite = *method == Method::Invite;
        let found = self.find(KeyRef::client(branch, method));
        let Some(id) = found else {
            // RFC 6026 section 7.2: a 2xx to INVITE after its transaction is
            // gone still matters to the TU (it must be ACKed); other strays
            // are discarded.
            if is_invite && (200..300).contains(&status) {
                debug!(%source, status, "stray 2xx to INVITE passed to the TU");
                self.events.push_back(TransactionEvent::Stray {
                    message: response,
                    source,
                    transport,
                });
                return Matched::Stray;
            }
            debug!(%source, status, "response matches no transaction, discarded");
            return Matched::Dropped;
        };
        let mut create_cancel = None;
        {
            let Some(entry) = self.entries.get_mut(&id) else {
                return Matched::Dropped;
            };
            let mut ctx = ctx!(self, now, id);
            match &mut entry.machine {
                Machine::InviteClient(m) => {
                    m.handle_response(&mut ctx, response, status);
                    // Section 9.1: a CANCEL held back until a provisional
                    // response goes now; once the INVITE is answered finally
                    // there is nothing left to cancel.
                    if let Some(cancel_id) = entry.pending_cancel {
                        if m.state == invite_client::State::Proceeding {
                            entry.pending_cancel = None;
                            m.cancel_sent(now, self.config.timers.timeout());
                            create_cancel = Some((cancel_id, m.request.clone(), m.peer));
                        } else if m.state != invite_client::State::Calling {
                            entry.pending_cancel = None;
                            ctx.event(TransactionEvent::Terminated { id: cancel_id });
                        }
                    }
                }
                Machine::NonInviteClient(m) => m.handle_response(&mut ctx, response, status),
                // Keys keep client and server apart.
                Machine::InviteServer(_) | Machine::NonInviteServer(_) => return Matched::Dropped,
            }
        }
        self.settle(id);
        if let Some((cancel_id, invite, peer)) = create_cancel {
            self.start_cancel(now, cancel_id, &invite, peer);
        }
        Matched::Existing(id)
    }

    fn handle_request(
        &mut self,
        now: Instant,
        mut request: Message,
        source: SocketAddr,
        transport: Transport,
        checked: bool,
    ) -> Matched {
        let Some(method) = request.method().cloned() else {
            return Matched::Dropped;
        };
        // The complete request check is on presence only: a malformed
        // From or To is the TU's to reject, and decoding them here would
        // double the cost of every request.
        let complete = checked || {
            let cseq_ok = request
                .cseq()
                .and_then(Result::ok)
                .is_some_and(|c| c.method == method);
            cseq_ok
                && request.call_id().is_some()
                && request.header(&HeaderName::From).is_some()
                && request.header(&HeaderName::To).is_some()
        };
        // The top Via is decoded once on the common path; only a request
        // that needs `received`/`rport` stamped (section 18.2.1, RFC 3581)
        // is decoded again after the stamp.
        let facts = |via: &TopVia<'_>, request: &Message| {
            let key = complete
                .then(|| Key::server_from_via(via, request, &method))
                .flatten();
            let fallback = reliable_fallback(via, source, transport);
            (key, destination_from_via(via, source, transport), fallback)
        };
        // A request that needs `received`/`rport` stamped (section 18.2.1,
        // RFC 3581) gets its new Via line built here and the facts read
        // from the Via as the stamp leaves it, without decoding it again.
        let (stamp, (key, destination, fallback)) = match request.top_via() {
            Some(Ok(via)) => {
                let top = TopVia::new(via);
                // Kept for the TU (it reads the branch too), through the
                // stamp below.
                if let Some(branch) = top.branch {
                    request.set_top_branch(branch);
                }
                // An ACK is never answered (section 17.1.1.3), so nothing
                // would read its stamp: it is left as it came.
                if method != Method::Ack && needs_stamp(&top, source) {
                    write_stamped_top(&request, &top, source, &mut self.scratch);
                    (true, facts(&top.stamped(source), &request))
                } else {
                    (false, facts(&top, &request))
                }
            }
            _ => {
                // No Via: nowhere to send even a 400 (section 18.2.2).
                warn!(%source, %method, "request without a valid Via discarded");
                return Matched::Dropped;
            }
        };
        if stamp {
            replace_top_via(&mut request, &self.scratch);
        }
        let Some(key) = key else {
            if method == Method::Ack {
                return Matched::Dropped;
            }
            warn!(%source, %method, "request missing CSeq/Call-ID/From/To, 400 sent");
            let response = make_response(&request, 400, None);
            self.send_stateless_response(source, transport, response);
            return Matched::Rejected(400);
        };

        let hash = key.as_ref().hash_with(&self.hasher);
        if let Some(id) = self.find_hashed(key.as_ref(), hash) {
            self.handle_matched_request(now, id, request, &method, source, transport);
            return Matched::Existing(id);
        }

        if method == Method::Ack {
            // Section 17.2.3 found no INVITE transaction: an ACK for a 2xx
            // (its own branch), which belongs to the TU.
            self.events.push_back(TransactionEvent::Stray {
                message: request,
                source,
                transport,
            });
            return Matched::Stray;
        }
        if self.entries.len() >= self.config.max_transactions {
            warn!(%source, %method, len = self.entries.len(), "transaction table full, 503 sent");
            let mut response = make_response(&request, 503, None);
            response.add_header(HeaderName::RetryAfter, &self.config.retry_after.to_string());
            self.send_stateless_response(source, transport, response);
            return Matched::Rejected(503);
        }

        let peer = Peer {
            destination,
            transport,
        };
        let id = self.allocate_id();
        if method == Method::Cancel {
            return self.handle_cancel(now, id, key, hash, request, peer);
        }
        let mut ctx = ctx!(self, now, id);
        let machine = if method == Method::Invite {
            let trying = trying_bytes(&request);
            let mut m = InviteServer::start(&mut ctx, peer, trying.into());
            m.fallback = fallback;
            Machine::InviteServer(m)
        } else {
            let mut m = NonInviteServer::start(peer);
            m.fallback = fallback;
            Machine::NonInviteServer(m)
        };
        trace!(%id, %method, %source, "new server transaction");
        self.insert(id, key, hash, machine);
        self.events.push_back(TransactionEvent::Request {
            id,
            request,
            source,
            transport,
        });
        self.settle(id);
        Matched::New(id)
    }

    /// A request matched live transaction `id`: an ACK, or a
    /// retransmission.
    fn handle_matched_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Message,
        method: &Method,
        source: SocketAddr,
        transport: Transport,
    ) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let mut ctx = ctx!(self, now, id);
        match (&mut entry.machine, method) {
            (Machine::InviteServer(m), Method::Ack) => {
                m.handle_ack(&mut ctx, request, source, transport)
            }
            (Machine::InviteServer(m), _) => m.handle_retransmission(&mut ctx),
            (Machine::NonInviteServer(m), _) => m.handle_retransmission(&mut ctx),
            (Machine::InviteClient(_) | Machine::NonInviteClient(_), _) => {}
        }
        self.settle(id);
    }

    /// A new CANCEL (RFC 3261 section 9.2): its own non-INVITE server
    /// transaction, answered here — 200 if it matches an INVITE server
    /// transaction, 481 otherwise — and the TU told if that INVITE is still
    /// unanswered.
    fn handle_cancel(
        &mut self,
        now: Instant,
        id: TransactionId,
        key: Key,
        hash: u64,
        cancel: Message,
        peer: Peer,
    ) -> Matched {
        let invite = match cancel.top_via() {
            Some(Ok(via)) => Key::server_from_via(&TopVia::new(via), &cancel, &Method::Invite),
            _ => None,
        };
        let invite = invite.and_then(|k| self.find(k.as_ref())).filter(|i| {
            matches!(
                self.entries.get(i).map(|e| &e.machine),
                Some(Machine::InviteServer(_))
            )
        });
        let (status, tag, notify) = match invite.and_then(|i| self.entries.get(&i)) {
            Some(Entry {
                machine: Machine::InviteServer(m),
                ..
            }) => (
                200,
                m.to_tag.as_deref().map(str::to_owned),
                m.state == invite_server::State::Proceeding,
            ),
            _ => (481, None, false),
        };
        let response = make_response(&cancel, status, tag.as_deref());
        let mut machine = NonInviteServer::start(peer);
        let mut ctx = ctx!(self, now, id);
        // A fresh machine in Trying always accepts a final response.
        let _ = machine.send_response(&mut ctx, status, response.into_bytes().into());
        debug!(%id, status, ?invite, "CANCEL answered");
        if let (true, Some(invite)) = (notify, invite) {
            ctx.event(TransactionEvent::Cancelled { id: invite, cancel });
        }
        self.insert(id, key, hash, Machine::NonInviteServer(machine));
        self.settle(id);
        Matched::Cancel { cancel: id, invite }
    }

    fn insert(&mut self, id: TransactionId, key: Key, hash: u64, machine: Machine) {
        self.index.entry(hash).or_default().push(id);
        self.entries.insert(
            id,
            Entry {
                key,
                hash,
                machine,
                scheduled: None,
                pending_cancel: None,
            },
        );
    }

    /// After a machine ran: drop it if it terminated, else re-register its
    /// next deadline.
    fn settle(&mut self, id: TransactionId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if entry.machine.is_terminated() {
            // The entry exists: it was just borrowed above.
            let entry = self.entries.remove(&id).expect("entry present");
            if let Some(ids) = self.index.get_mut(&entry.hash) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    self.index.remove(&entry.hash);
                }
            }
            if let Some(cancel_id) = entry.pending_cancel {
                self.events
                    .push_back(TransactionEvent::Terminated { id: cancel_id });
            }
            trace!(%id, "transaction terminated");
            self.events.push_back(TransactionEvent::Terminated { id });
            self.prune_timers();
            return;
        }
        let next = entry.machine.next_deadline();
        if next != entry.scheduled {
            // The old element, if any, goes stale (`scheduled` no longer
            // names it).
            entry.scheduled = next;
            if let Some(at) = next {
                self.timers.push(Reverse((at, id)));
            }
            self.prune_timers();
        }
    }

    /// Whether heap element `(at, id)` is its transaction's live deadline.
    fn timer_is_live(&self, at: Instant, id: TransactionId) -> bool {
        self.entries
            .get(&id)
            .is_some_and(|e| e.scheduled == Some(at))
    }

    /// Drop stale elements from the top of the timer heap, so its top is
    /// the next real deadline; rebuild the heap from the live deadlines
    /// when stale elements outnumber live ones (bounds its memory whatever
    /// the rescheduling pattern).
    fn prune_timers(&mut self) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if self.timer_is_live(at, id) {
                break;
            }
            self.timers.pop();
        }
        if self.timers.len() > 2 * self.entries.len() + 64 {
            self.timers = self
                .entries
                .iter()
                .filter_map(|(id, e)| e.scheduled.map(|at| Reverse((at, *id))))
                .collect();
        }
    }

    /// Start a client transaction for `request`, which already carries its
    /// top Via with a fresh branch (`message::new_branch`), and send it to
    /// `destination` over `transport`. INVITE gets the INVITE machine; ACK
    /// is refused (see [`TransactionError::AckNeedsNoTransaction`]).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        destination: SocketAddr,
        transport: Transport,
    ) -> Result<TransactionId, TransactionError> {
        let key = client_key(&request)?;
        self.start_request(now, key, || request.into_bytes(), destination, transport)
    }

    /// [`Self::send_request`] for a request the caller keeps (an INVITE is
    /// kept for CANCEL, ACK and retries): serialized from the borrowed
    /// message instead of a clone of it.
    pub fn send_request_ref(
        &mut self,
        now: Instant,
        request: &Message,
        destination: SocketAddr,
        transport: Transport,
    ) -> Result<TransactionId, TransactionError> {
        let key = client_key(request)?;
        self.start_request(now, key, || request.to_bytes(), destination, transport)
    }

    /// [`Self::send_request`] for a caller that just generated the top
    /// Via's `branch` itself: the Via is not decoded again to find it.
    /// `branch` must be the branch of `request`'s top Via, else responses
    /// will not match the transaction.
    pub fn send_request_with_branch(
        &mut self,
        now: Instant,
        request: Message,
        branch: &str,
        destination: SocketAddr,
        transport: Transport,
    ) -> Result<TransactionId, TransactionError> {
        let Some(method) = request.method() else {
            return Err(TransactionError::WrongKind);
        };
        debug_assert_eq!(
            request
                .top_via()
                .and_then(Result::ok)
                .and_then(|v| v.branch().map(str::to_owned))
                .as_deref(),
            Some(branch),
            "branch given is the top Via's"
        );
        let key = Key::new_client(branch, method.clone());
        self.start_request(now, key, || request.into_bytes(), destination, transport)
    }

    /// [`Self::send_request`] for a request the caller wrote straight into
    /// `bytes` (no owned message): a `method` request whose top Via has
    /// `branch`, which the caller just generated. Responses match on that
    /// branch and `method` (section 17.1.3); if `bytes` says otherwise they
    /// will not match the transaction.
    pub fn send_request_bytes(
        &mut self,
        now: Instant,
        method: Method,
        branch: &str,
        bytes: Vec<u8>,
        destination: SocketAddr,
        transport: Transport,
    ) -> Result<TransactionId, TransactionError> {
        let key = Key::new_client(branch, method);
        self.start_request(now, key, || bytes, destination, transport)
    }

    /// Start a client transaction for the request `serialize` writes, once
    /// the checks passed.
    fn start_request(
        &mut self,
        now: Instant,
        key: Key,
        serialize: impl FnOnce() -> Vec<u8>,
        destination: SocketAddr,
        transport: Transport,
    ) -> Result<TransactionId, TransactionError> {
        if key.method == Method::Ack {
            return Err(TransactionError::AckNeedsNoTransaction);
        }
        let hash = key.as_ref().hash_with(&self.hasher);
        if self.find_hashed(key.as_ref(), hash).is_some() {
            return Err(TransactionError::Duplicate);
        }
        if self.entries.len() >= self.config.max_transactions {
            return Err(TransactionError::Full);
        }
        let id = self.allocate_id();
        self.start_client(
            now,
            id,
            key,
            hash,
            serialize(),
            Peer {
                destination,
                transport,
            },
        );
        Ok(id)
    }

    fn start_client(
        &mut self,
        now: Instant,
        id: TransactionId,
        key: Key,
        hash: u64,
        bytes: Vec<u8>,
        peer: Peer,
    ) {
        let invite = key.kind == Kind::Client && key.method == Method::Invite;
        let mut ctx = ctx!(self, now, id);
        let machine = if invite {
            Machine::InviteClient(InviteClient::start(&mut ctx, bytes.into(), peer))
        } else {
            Machine::NonInviteClient(NonInviteClient::start(&mut ctx, bytes.into(), peer))
        };
        trace!(%id, invite, destination = %peer.destination, "new client transaction");
        self.insert(id, key, hash, machine);
        self.settle(id);
    }

    /// Cancel the INVITE of client transaction `invite` (RFC 3261 section
    /// 9.1): build the CANCEL from the INVITE and send it in a client
    /// transaction of its own, whose id is returned. If no provisional
    /// response has arrived yet the CANCEL waits for one, as section 9.1
    /// requires; if the INVITE then completes without one, the promised id
    /// is reported [`TransactionEvent::Terminated`] without ever being sent.
    pub fn cancel(
        &mut self,
        now: Instant,
        invite: TransactionId,
    ) -> Result<TransactionId, TransactionError> {
        let Some(entry) = self.entries.get(&invite) else {
            return Err(TransactionError::UnknownTransaction);
        };
        let Machine::InviteClient(m) = &entry.machine else {
            return Err(TransactionError::WrongSide);
        };
        if entry.pending_cancel.is_some() {
            return Err(TransactionError::Duplicate);
        }
        let state = m.state;
        let (request, peer) = (m.request.clone(), m.peer);
        match state {
            invite_client::State::Calling => {
                let id = self.allocate_id();
                if let Some(entry) = self.entries.get_mut(&invite) {
                    entry.pending_cancel = Some(id);
                }
                Ok(id)
            }
            invite_client::State::Proceeding => {
                if self.entries.len() >= self.config.max_transactions {
                    return Err(TransactionError::Full);
                }
                let id = self.allocate_id();
                let timeout = self.config.timers.timeout();
                if let Some(entry) = self.entries.get_mut(&invite) {
                    if let Machine::InviteClient(m) = &mut entry.machine {
                        m.cancel_sent(now, timeout);
                    }
                }
                self.settle(invite);
                self.start_cancel(now, id, &request, peer);
                Ok(id)
            }
            _ => Err(TransactionError::InvalidState),
        }
    }

    fn start_cancel(&mut self, now: Instant, id: TransactionId, invite: &[u8], peer: Peer) {
        let cancel = invite_client::build_cancel(invite);
        let key = cancel.as_ref().and_then(Key::client);
        match (cancel, key) {
            // The cap holds for CANCELs too; the INVITE's section 9.1
            // guard still ends it if the CANCEL cannot be sent.
            _ if self.entries.len() >= self.config.max_transactions => {
                warn!(%id, "transaction table full, CANCEL not sent");
                self.events.push_back(TransactionEvent::Terminated { id });
            }
            (Some(cancel), Some(key)) if self.find(key.as_ref()).is_none() => {
                let hash = key.as_ref().hash_with(&self.hasher);
                self.start_client(now, id, key, hash, cancel.into_bytes(), peer);
            }
            _ => {
                // Our own INVITE always yields a CANCEL; a second CANCEL of
                // it is refused by `cancel`. Report the id as finished.
                warn!(%id, "could not build CANCEL");
                self.events.push_back(TransactionEvent::Terminated { id });
            }
        }
    }

    /// Respond within server transaction `id`. A 100-199 keeps the
    /// transaction open; a final response completes it. A 2xx to INVITE
    /// moves it to Accepted, where further 2xx (the TU's retransmissions,
    /// section 13.3.1.4) are still sent.
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Message,
    ) -> Result<(), TransactionError> {
        let (status, to_tag) = self.status_and_tag(id, &response)?;
        self.respond(now, id, status, to_tag, response.into_bytes())
    }

    /// [`Self::send_response`] for a response the TU keeps (a 2xx it
    /// retransmits itself): only its bytes are taken.
    pub fn send_response_ref(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: &Message,
    ) -> Result<(), TransactionError> {
        let (status, to_tag) = self.status_and_tag(id, response)?;
        self.respond(now, id, status, to_tag, response.to_bytes())
    }

    /// Answer the request of server transaction `id` (which is `request`)
    /// with a bare `status` response: the bytes
    /// [`Message::response_to`]`(request, status, None)` serializes to,
    /// written straight into one buffer, with no owned response made only
    /// to be serialized. For final answers that carry nothing else (the
    /// 200 to a BYE); an INVITE's responses need a To tag and go through
    /// [`Self::send_response`].
    pub fn send_response_to(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Message,
        status: u16,
    ) -> Result<(), TransactionError> {
        if !(100..700).contains(&status) {
            return Err(TransactionError::WrongKind);
        }
        let to_tag = if self.wants_to_tag(id, status) {
            request.to_tag().flatten().map(Box::from)
        } else {
            None
        };
        let bytes = Message::response_bytes(request, status, None);
        self.respond(now, id, status, to_tag, bytes)
    }

    /// The status of `response` (which must be one), and its To tag when
    /// [`Self::wants_to_tag`] asks for it.
    fn status_and_tag(
        &self,
        id: TransactionId,
        response: &Message,
    ) -> Result<(u16, Option<Box<str>>), TransactionError> {
        let status = response.status().ok_or(TransactionError::WrongKind)?;
        let to_tag = self.wants_to_tag(id, status).then(|| response.to_tag());
        Ok((status, to_tag.flatten().flatten().map(Box::from)))
    }

    /// Whether a `status` response in transaction `id` sets the To tag
    /// remembered for answering a CANCEL (the first tagged one of an
    /// INVITE server transaction).
    fn wants_to_tag(&self, id: TransactionId, status: u16) -> bool {
        status > 100
            && matches!(
                self.entries.get(&id).map(|e| &e.machine),
                Some(Machine::InviteServer(m)) if m.to_tag.is_none()
            )
    }

    /// Send the serialized `status` response `bytes` in server transaction
    /// `id`; `to_tag` as [`Self::wants_to_tag`] asked for.
    fn respond(
        &mut self,
        now: Instant,
        id: TransactionId,
        status: u16,
        to_tag: Option<Box<str>>,
        bytes: Vec<u8>,
    ) -> Result<(), TransactionError> {
        let Some(entry) = self.entries.get_mut(&id) else {
            return Err(TransactionError::UnknownTransaction);
        };
        let mut ctx = ctx!(self, now, id);
        let result = match &mut entry.machine {
            Machine::InviteServer(m) => {
                if to_tag.is_some() {
                    m.to_tag = to_tag;
                }
                m.send_response(&mut ctx, status, bytes.into())
            }
            Machine::NonInviteServer(m) => m.send_response(&mut ctx, status, bytes.into()),
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                Err(TransactionError::WrongSide)
            }
        };
        self.settle(id);
        result
    }

    /// Send `response` with no transaction, to where RFC 3261 section
    /// 18.2.2 says for a request that came from `request_source` over
    /// `transport` (see [`super::response_destination`]).
    pub fn send_stateless_response(
        &mut self,
        request_source: SocketAddr,
        transport: Transport,
        response: Message,
    ) {
        let destination = response_destination(&response, request_source, transport);
        self.transmits.push_back(Transmit {
            transport,
            destination,
            bytes: response.into_bytes().into(),
        });
    }

    /// Answer a keep-alive ping on a stream connection with a pong
    /// (RFC 5626 section 4.4.1), queued with the other transmits.
    pub fn send_pong(&mut self, transport: Transport, destination: SocketAddr) {
        self.transmits.push_back(Transmit {
            transport,
            destination,
            bytes: crate::transport::stream::PONG.to_vec().into(),
        });
    }

    /// Send `request` with no transaction: the ACK for a 2xx (section
    /// 13.2.2.4), which the TU retransmits itself for each 2xx.
    pub fn send_stateless_request(
        &mut self,
        request: Message,
        destination: SocketAddr,
        transport: Transport,
    ) {
        self.transmits.push_back(Transmit {
            transport,
            destination,
            bytes: request.into_bytes().into(),
        });
    }

    /// Send bytes the TU serialized and kept itself (the ACK it sends
    /// again for each retransmitted 2xx, section 13.2.2.4) with no
    /// transaction.
    pub fn send_stateless_bytes(
        &mut self,
        bytes: Vec<u8>,
        destination: SocketAddr,
        transport: Transport,
    ) {
        self.transmits.push_back(Transmit {
            transport,
            destination,
            bytes: bytes.into(),
        });
    }

    /// The stream connection (TCP, TLS) from `destination` closed. Server
    /// transactions whose requests came on it send their responses to
    /// their section 18.2.2 fallback from now on (a Transmit there makes
    /// the driver open a new connection).
    ///
    /// This scans every live transaction (about 41 instructions each: 41k
    /// per close at 1,000 live, `SIPPARTY_BENCH_CLOSES` in the Party
    /// bench), as [`Self::transport_error`] does. An index by (transport,
    /// peer) made a close cost 0.5k but every TCP/TLS transaction about
    /// 1.2k more (a keyed hash of the peer, a list per connection that a
    /// busy proxy connection makes long to edit), and the UDP call path
    /// some 240 more per call for its checks; closes are per connection,
    /// transactions per request, so the scan stays.
    pub fn connection_closed(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        transport: Transport,
    ) {
        if !transport.is_reliable() {
            return;
        }
        let peer = Peer {
            destination,
            transport,
        };
        for (&id, entry) in self.entries.iter_mut() {
            if entry.machine.peer() != peer {
                continue;
            }
            let Some(port) = entry.machine.take_fallback() else {
                continue;
            };
            let fallback = SocketAddr::new(destination.ip(), port.get());
            debug!(%id, %destination, %fallback, "connection gone, responses go to the Via");
            let mut ctx = ctx!(self, now, id);
            entry.machine.retarget(&mut ctx, fallback, false);
        }
    }

    /// The driver could not send to `destination` over `transport` (ICMP
    /// unreachable, connection refused or reset). Every transaction using
    /// that next hop fails (section 17.1.4, 17.2.4) and the TU is told,
    /// except a server transaction whose request came on a connection that
    /// is gone: section 18.2.2 sends its last response again on a new
    /// connection to the top Via's `received` address and sent-by port;
    /// only if that fails too does the transaction fail.
    pub fn transport_error(&mut self, now: Instant, destination: SocketAddr, transport: Transport) {
        let mut ids: Vec<TransactionId> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.machine.peer()
                    == Peer {
                        destination,
                        transport,
                    }
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(entry) = self.entries.get_mut(&id) {
                let mut ctx = ctx!(self, now, id);
                match entry.machine.take_fallback() {
                    Some(port) => {
                        let fallback = SocketAddr::new(destination.ip(), port.get());
                        debug!(%id, %destination, %fallback, "connection gone, response resent to the Via");
                        entry.machine.retarget(&mut ctx, fallback, true);
                    }
                    None => match entry.machine.sent_by_name() {
                        // Section 18.2.2: the connection to the received
                        // address failed too; RFC 3263 section 5 next.
                        Some((host, port, transport)) => {
                            debug!(%id, %host, "response undeliverable, locating the Via sent-by");
                            ctx.event(TransactionEvent::LocateSentBy {
                                id,
                                host,
                                port,
                                transport,
                            });
                        }
                        None => entry.machine.transport_error(&mut ctx),
                    },
                }
            }
            self.settle(id);
        }
    }

    /// Server transaction `id`'s Via sent-by was located at `destination`
    /// (after [`TransactionEvent::LocateSentBy`]): its last response goes
    /// there now, and later ones too (RFC 3261 section 18.2.2 with RFC
    /// 3263 section 5). Nothing happens for a transaction that is gone or
    /// is a client one.
    pub fn send_responses_to(&mut self, now: Instant, id: TransactionId, destination: SocketAddr) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let mut ctx = ctx!(self, now, id);
        debug!(%id, %destination, "responses go to the located Via sent-by");
        entry.machine.retarget(&mut ctx, destination, true);
        self.settle(id);
    }

    /// The Via sent-by asked for with [`TransactionEvent::LocateSentBy`]
    /// could not be located: server transaction `id` fails as on any
    /// transport error (RFC 3261 section 17.2.4), and its user is told.
    pub fn locate_failed(&mut self, now: Instant, id: TransactionId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let mut ctx = ctx!(self, now, id);
        debug!(%id, "Via sent-by not located: the transaction fails");
        entry.machine.transport_error(&mut ctx);
        self.settle(id);
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            if entry.scheduled != Some(at) {
                // Stale: rescheduled since.
                continue;
            }
            entry.scheduled = None;
            let mut ctx = ctx!(self, now, id);
            while let Some(timer) = entry.machine.pop_expired(now) {
                trace!(%id, ?timer, "timer fired");
                entry.machine.handle_timer(&mut ctx, timer);
                if entry.machine.is_terminated() {
                    break;
                }
            }
            self.settle(id);
        }
        // A stale element popped above may have uncovered another.
        self.prune_timers();
    }

    /// When [`Self::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // The top is live: every change is followed by `prune_timers`.
        debug_assert!(
            self.timers
                .peek()
                .map_or(true, |Reverse((at, id))| self.timer_is_live(*at, *id)),
            "the timer heap's top is a live deadline"
        );
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(branch: &str) -> Message {
        let mut m = Message::request(Method::Options, "sip:bob@127.0.0.1:5070");
        m.add_header(
            HeaderName::Via,
            &format!("SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport"),
        );
        m.add_header(HeaderName::From, "<sip:alice@127.0.0.1>;tag=a1");
        m.add_header(HeaderName::To, "<sip:bob@127.0.0.1>");
        m.add_header(HeaderName::CallId, "c1@127.0.0.1");
        m.add_header(HeaderName::CSeq, "1 OPTIONS");
        m
    }

    /// RFC 3261 section 17.1.1.2: a request the caller keeps is sent as
    /// the owned one would be, and its transaction matches the same way.
    #[test]
    fn rfc3261_17_1_1_2_kept_request_is_sent_like_an_owned_one() {
        let peer: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let now = Instant::now();
        let mut owned = TransactionLayer::new(TransactionConfig::default());
        let mut kept = TransactionLayer::new(TransactionConfig::default());
        let request = options("z9hG4bKkept");
        owned
            .send_request(now, request.clone(), peer, Transport::Udp)
            .unwrap();
        let id = kept
            .send_request_ref(now, &request, peer, Transport::Udp)
            .unwrap();
        let (a, b) = (
            owned.poll_transmit().unwrap(),
            kept.poll_transmit().unwrap(),
        );
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(b.bytes, request.to_bytes());
        assert_eq!(
            kept.send_request_ref(now, &request, peer, Transport::Udp),
            Err(TransactionError::Duplicate)
        );
        let response = Message::response_to(&request, 200, Some("b1"));
        assert_eq!(
            kept.handle_message(now, response, peer, Transport::Udp),
            Matched::Existing(id)
        );
    }

    /// RFC 3261 section 17.1.3: a transaction started with the branch
    /// passed in is found by its response exactly as one whose branch was
    /// read from the Via, and the same branch cannot start a second one.
    #[test]
    fn rfc3261_17_1_3_send_request_with_branch_matches_responses() {
        let peer: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let now = Instant::now();
        let mut layer = TransactionLayer::new(TransactionConfig::default());
        let request = options("z9hG4bKabc");
        let response = Message::response_to(&request, 200, Some("b1"));
        let id = layer
            .send_request_with_branch(now, request.clone(), "z9hG4bKabc", peer, Transport::Udp)
            .unwrap();
        let sent = layer.poll_transmit().unwrap();
        assert_eq!(sent.bytes, request.to_bytes());
        assert_eq!(
            layer.send_request(now, options("z9hG4bKabc"), peer, Transport::Udp),
            Err(TransactionError::Duplicate)
        );
        assert_eq!(
            layer.handle_message(now, response, peer, Transport::Udp),
            Matched::Existing(id)
        );
        let other = layer
            .send_request(now, options("z9hG4bKdef"), peer, Transport::Udp)
            .unwrap();
        assert_ne!(other, id);
    }
}
