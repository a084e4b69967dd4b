//! The Party: a SIP user agent (RFC 3261 UAC and UAS) as one sans-IO
//! facade.
//!
//! A [`Party`] places and takes calls, registers, answers OPTIONS and
//! passes MESSAGE and INFO to the application. It owns the transaction
//! layer, the dialogs, the SDP offer/answer of each call and its RTP
//! session; the driver owns the sockets and the clock. The whole contract
//! with a driver is this loop (str0m's): feed what happened with
//! [`Party::handle_input`], then drain [`Party::poll_output`] until it
//! returns [`Output::Timeout`], and sleep until that instant or the next
//! datagram.
//!
//! ```
//! use sipparty_core::party::{DialogState, Event, Input, InviteOptions, Output, Party};
//! use sipparty_core::Transport;
//! use std::time::{Duration, Instant};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut alice = Party::no_media_simple_calls("alice@atlanta.com")?;
//! // The driver binds its SIP socket and tells the Party where it is:
//! // Via and Contact headers advertise this address.
//! alice.set_local_address(Transport::Udp, "127.0.0.1:5060".parse()?);
//!
//! let mut now = Instant::now();
//! let call = alice.invite(now, "bob@127.0.0.1:5070", InviteOptions::default())?;
//!
//! // The driver's loop. Here nobody answers, so the INVITE is
//! // retransmitted (Timer A) until Timer B gives up after 64*T1.
//! let mut sent = 0;
//! loop {
//!     match alice.poll_output() {
//!         // socket.send_to(&t.bytes, t.destination)
//!         Output::Transmit(t) => sent += 1,
//!         // media_sockets[&m.source].send_to(&m.bytes, m.destination)
//!         Output::MediaTransmit(_m) => {}
//!         Output::Event(Event::DialogStateChanged { id, state }) if id == call => {
//!             if state == DialogState::Error {
//!                 let error = alice.last_error(call).expect("an Error state has a reason");
//!                 assert!(error.to_string().contains("timeout"));
//!                 break;
//!             }
//!         }
//!         Output::Event(_other) => {}
//!         Output::Timeout(at) => {
//!             // Wait for a datagram (feed Input::Datagram) or until `at`.
//!             now = at;
//!             alice.handle_input(Input::Timeout(now));
//!         }
//!         _ => break,
//!     }
//! }
//! assert!(sent >= 7, "INVITE retransmitted by Timer A");
//! # Ok(()) }
//! ```
//!
//! Commands go through short-lived handles that borrow the Party:
//! `party.dialog(id)?.terminate(now)`, `party.incoming(id)?.accept(now)`.
//! Everything the application needs to know comes back as an [`Event`].
//!
//! Media: when a call needs a local RTP address the Party picks a port
//! pair from [`PartyConfig::rtp_ports`] on the local IP and asks the driver
//! to open it ([`Event::MediaSocketOpen`]); RTP and RTCP arriving there are
//! fed back through [`Input::Datagram`] (with that local address as
//! `destination`), and packets to send come out as
//! [`Output::MediaTransmit`] naming the local source address.
//!
//! Host names: when a request's next hop (outbound proxy, else the
//! Request-URI) is a name, the Party holds the request and locates the
//! server by RFC 3263 (NAPTR, SRV, A/AAAA), asking the driver one DNS
//! question at a time with [`Event::ResolveRequest`]; the driver answers
//! with [`Input::Resolved`] (records with their TTLs, cached by the Party).
//! A transport error, a timeout or a 503 sends the request on to the next
//! target (RFC 3263 section 4.3), and a UDP request too large for the path
//! MTU goes over TCP (RFC 3261 section 18.1.1). IP literals need no lookup.
//!
//! Many parties can share one transport through an [`Endpoint`], which
//! routes requests by Request-URI and responses and in-dialog requests by
//! tag.

mod call;
mod config;
mod early;
mod endpoint;
mod event;
mod fork;
mod handle;
mod media;
mod register;
mod route;
mod session_timer;
#[cfg(any(test, feature = "sim"))]
mod sim_node;
mod tag;
mod timer;
mod update;
mod validate;
mod written;

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use crate::message::{self, HeaderName, Message, Method};
use crate::random::{Random, SeededRandom};
use crate::transaction::{TransactionConfig, TransactionEvent, TransactionId, TransactionLayer};
use crate::transport::resolve::Failure;
use crate::transport::Transport;

pub use crate::auth::Credentials;
pub use config::{
    CallPolicy, InviteOptions, PartyConfig, RegisterOptions, ReliableProvisionals, Timers,
};
pub use endpoint::{Endpoint, EndpointOutput, PartyKey};
pub use event::{
    DialogError, DialogId, DialogState, Event, Input, MediaInfo, MediaTransmit, Output,
    RegistrationId, RegistrationState, RequestCompleted, RequestId,
};
pub use handle::{DialogHandle, Incoming, RegistrationHandle};
#[cfg(any(test, feature = "sim"))]
pub use sim_node::{SimDns, SimParty};
pub use update::MediaChange;

use call::Call;
use media::PortPool;
use register::Registration;
pub(crate) use route::NextHop;
use timer::{CallTimer, TimerHeap, TimerOwner};

/// Methods this user agent handles (the Allow header, RFC 3261 section
/// 20.5).
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, UPDATE, PRACK";
/// Option tags we support as UAS with reliable provisionals turned off
/// (Supported, RFC 3261 section 20.37); see `early::uas_supported`.
pub(crate) const SUPPORTED: &str = "timer";
/// Option tags of our INVITEs: we PRACK reliable provisionals.
pub(crate) const UAC_SUPPORTED: &str = "timer, 100rel";
/// Bodies we read (Accept, RFC 3261 section 20.1).
pub(crate) const ACCEPT: &str = "application/sdp";

/// How many ended dialogs [`Party::dialog_state`] and [`Party::last_error`]
/// still answer for.
pub const FINISHED_KEPT: usize = 256;

/// How long a Party with nothing scheduled asks to be woken anyway.
const IDLE: Duration = Duration::from_secs(3600);

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A URI (target, address of record, proxy) could not be understood.
    InvalidUri(String),
    /// No local address is known for this transport: call
    /// [`Party::set_local_address`] first.
    NoLocalAddress(Transport),
    /// The next hop cannot be located (RFC 3263): the URI asks for a
    /// transport we have no local address for, or similar.
    Unresolvable(String),
    /// The dialog limit ([`PartyConfig::max_dialogs`]) is reached.
    TooManyDialogs,
    /// No dialog, incoming call or registration with that id (it may have
    /// ended).
    Unknown,
    /// The command does not apply in the dialog's current state.
    InvalidState {
        /// The state the dialog is in.
        state: DialogState,
        /// What was asked.
        action: &'static str,
    },
    /// The transaction layer refused the request (limit reached).
    Transaction(String),
    /// The Party has no media (signalling only) and the command needs it.
    NoMedia,
    /// A request written from a dialog does not read back as SIP: the
    /// peer's Contact or route set is beyond what the parser takes.
    Unwritable(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUri(u) => write!(f, "invalid URI: {u:?}"),
            Error::NoLocalAddress(t) => write!(f, "no local {t} address set"),
            Error::Unresolvable(why) => write!(f, "cannot locate the next hop: {why}"),
            Error::TooManyDialogs => f.write_str("too many dialogs"),
            Error::Unknown => f.write_str("no such dialog or request"),
            Error::InvalidState { state, action } => {
                write!(f, "cannot {action} a dialog that is {state}")
            }
            Error::Transaction(why) => write!(f, "transaction layer: {why}"),
            Error::NoMedia => f.write_str("this party has no media"),
            Error::Unwritable(why) => write!(f, "request written from the dialog: {why}"),
        }
    }
}

impl std::error::Error for Error {}

pub(crate) use tag::LocalTag;

/// A map keyed by our own sequential ids or addresses (never by anything
/// a peer chose, so no flooding concern): a multiplicative hash instead
/// of SipHash, which showed in the call benchmark's profile.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of integer ids (FxHash's step).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Whether `bytes` is an RTP or RTCP packet (RFC 3550 section 5.1: version
/// 2 in the two top bits) rather than SIP, whose messages start with a
/// letter.
pub(crate) fn is_media_packet(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0x80..=0xBF))
}

/// (Call-ID, From tag, CSeq number) of a request without To tag being
/// served, with the branch it came on (RFC 3261 section 8.2.2.2: the same
/// three on another branch make a merged request). The strings share one
/// allocation; equality and hashing leave the branch out.
#[derive(Debug)]
pub(crate) struct MergeKey {
    /// Call-ID, From tag, branch.
    text: Box<str>,
    call_id_end: u32,
    tag_end: u32,
    cseq: u32,
}

impl MergeKey {
    pub(crate) fn new(call_id: &str, from_tag: &str, cseq: u32, branch: &str) -> MergeKey {
        let mut text = String::with_capacity(call_id.len() + from_tag.len() + branch.len());
        text.push_str(call_id);
        text.push_str(from_tag);
        text.push_str(branch);
        MergeKey {
            text: text.into_boxed_str(),
            // Header values are bounded by the message size limit.
            call_id_end: call_id.len() as u32,
            tag_end: (call_id.len() + from_tag.len()) as u32,
            cseq,
        }
    }

    /// Call-ID, From tag, CSeq number.
    fn id(&self) -> (&str, &str, u32) {
        let (c, t) = (self.call_id_end as usize, self.tag_end as usize);
        (&self.text[..c], &self.text[c..t], self.cseq)
    }

    /// The branch of the request.
    pub(crate) fn branch(&self) -> &str {
        &self.text[self.tag_end as usize..]
    }
}

impl PartialEq for MergeKey {
    fn eq(&self, other: &MergeKey) -> bool {
        self.id() == other.id()
    }
}

impl Eq for MergeKey {}

impl std::hash::Hash for MergeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

/// A request to send: one the caller gives up, one it keeps (the INVITE
/// stays with its call for CANCEL, ACK and retries), which is then
/// serialized from the borrow instead of cloned, or one written straight
/// into bytes from its dialog ([`written::Written`]), which needs no
/// message at all unless it must be kept or changed.
#[derive(Debug)]
pub(crate) enum Outgoing<'a> {
    Owned(Message),
    Kept(&'a Message),
    Written(written::Written),
}

impl Outgoing<'_> {
    /// The request, to change: a kept one is copied first and a written
    /// one parsed (both rare: a large request switched to TCP).
    pub(crate) fn make_owned(&mut self) -> Result<&mut Message, Error> {
        match self {
            Outgoing::Owned(_) => {}
            Outgoing::Kept(m) => *self = Outgoing::Owned(Message::clone(m)),
            Outgoing::Written(w) => *self = Outgoing::Owned(w.to_message()?),
        }
        match self {
            Outgoing::Owned(m) => Ok(m),
            // Made owned just above.
            Outgoing::Kept(_) | Outgoing::Written(_) => unreachable!("made owned above"),
        }
    }

    /// The request, owned.
    pub(crate) fn into_owned(self) -> Result<Message, Error> {
        match self {
            Outgoing::Owned(m) => Ok(m),
            Outgoing::Kept(m) => Ok(m.clone()),
            Outgoing::Written(w) => w.to_message(),
        }
    }

    /// A copy of the request as a message, to keep.
    pub(crate) fn to_message(&self) -> Result<Message, Error> {
        match self {
            Outgoing::Owned(m) => Ok(m.clone()),
            Outgoing::Kept(m) => Ok(Message::clone(m)),
            Outgoing::Written(w) => w.to_message(),
        }
    }

    /// The request as a message, unless it is only bytes.
    pub(crate) fn as_message(&self) -> Option<&Message> {
        match self {
            Outgoing::Owned(m) => Some(m),
            Outgoing::Kept(m) => Some(m),
            Outgoing::Written(_) => None,
        }
    }
}

impl From<Message> for Outgoing<'_> {
    fn from(m: Message) -> Self {
        Outgoing::Owned(m)
    }
}

impl<'a> From<&'a Message> for Outgoing<'a> {
    fn from(m: &'a Message) -> Self {
        Outgoing::Kept(m)
    }
}

/// What a client or server transaction of the Party is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxKind {
    Invite,
    ReInvite,
    Cancel,
    Bye,
    Update,
    Prack,
    Info,
    Message,
    Options,
    Register,
    /// An INVITE we received (initial or re-INVITE).
    ServerInvite,
}

/// Who a transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Call(DialogId),
    Registration(RegistrationId),
    Request(RequestId),
    /// Fire and forget (BYE of a stray fork, a merged request's answer...).
    Nobody,
}

/// A transaction the Party started or is serving.
#[derive(Debug)]
pub(crate) struct TxUse {
    pub(crate) owner: Owner,
    pub(crate) kind: TxKind,
    /// Client transactions: the request, kept to answer a digest challenge
    /// or to build a CANCEL (RFC 3261 section 9.1).
    pub(crate) request: Option<Box<Message>>,
    pub(crate) destination: SocketAddr,
    pub(crate) transport: Transport,
    /// How many challenges this request (and its predecessors) answered.
    pub(crate) auth_rounds: u8,
}

/// The SIP user agent. See the [module documentation](self) for the loop
/// that drives it.
pub struct Party {
    pub(crate) config: PartyConfig,
    pub(crate) rng: Box<dyn Random>,
    /// Prepended to every tag we generate, so an [`Endpoint`] can route
    /// responses and in-dialog requests back to this Party.
    pub(crate) tag_prefix: Box<str>,
    /// Local addresses per transport, with `host:port` written out once
    /// (every Via and Contact carries it).
    pub(crate) locals: Vec<(Transport, SocketAddr, Box<str>)>,
    /// Our Contact value per transport, with the AOR it was written for
    /// (the configuration may change the AOR afterwards).
    contacts: Vec<(Transport, Box<str>, Box<str>)>,
    pub(crate) tx: TransactionLayer,
    pub(crate) txs: IdMap<TransactionId, TxUse>,
    /// Boxed: a table of 100,000 calls then wastes its load-factor slack on
    /// pointers, not on whole calls.
    pub(crate) calls: IdMap<DialogId, Box<Call>>,
    /// Our tag of each call (From tag as UAC, To tag as UAS). Hashed with
    /// the cheap [`IdHasher`]: only tags we generated are stored, so a peer
    /// can choose what it looks up but not what collides in the table (no
    /// flooding); SipHash showed in the call benchmark's profile.
    pub(crate) by_tag: IdMap<LocalTag, DialogId>,
    pub(crate) registrations: IdMap<RegistrationId, Registration>,
    pub(crate) timers: TimerHeap,
    pub(crate) events: VecDeque<Event>,
    pub(crate) media_out: VecDeque<MediaTransmit>,
    /// How many `Event::MediaSocketOpen` are queued in `events`.
    pub(crate) unannounced_sockets: usize,
    /// Our media sockets' local addresses (we pick the ports; a lookup is
    /// by the local address a datagram arrived on), so [`IdMap`]'s cheap
    /// hash: every SIP datagram is looked up here first.
    pub(crate) media_addrs: IdMap<SocketAddr, DialogId>,
    pub(crate) ports: PortPool,
    pub(crate) auth: crate::auth::ClientAuth,
    /// Made at the first challenge (it needs `now` for its nonces).
    pub(crate) server_auth: Option<Box<crate::auth::ServerAuth>>,
    /// Requests without To tag being served: (Call-ID, From tag, CSeq) to
    /// branch, to find merged requests (RFC 3261 section 8.2.2.2).
    pub(crate) serving: HashMap<MergeKey, TransactionId>,
    pub(crate) framer: Framer,
    /// How many [`Input::StreamClosed`] this Party was given (see
    /// [`Party::streams_closed`]).
    pub(crate) streams_closed: u64,
    pub(crate) next_id: u64,
    pub(crate) last_now: Option<Instant>,
    /// Final states of the last calls, so `last_error` still answers
    /// after a call is forgotten (bounded).
    pub(crate) finished: VecDeque<(DialogId, DialogState, Option<DialogError>)>,
    /// RFC 3263 location and failover; made when first needed.
    pub(crate) routing: Option<Box<route::Routing>>,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("aor", &self.config.aor)
            .field("calls", &self.calls.len())
            .field("transactions", &self.tx.len())
            .field("registrations", &self.registrations.len())
            .finish_non_exhaustive()
    }
}

impl Party {
    /// A Party made of `config`, taking identifiers (tags, branches,
    /// Call-IDs) from `random`. Drivers seed `random` from the OS.
    pub fn new(config: PartyConfig, random: Box<dyn Random>) -> Party {
        let tx_config = TransactionConfig {
            timers: crate::transaction::TimerConfig {
                t1: config.timers.t1,
                t2: config.timers.t2,
                t4: config.timers.t4,
            },
            max_transactions: config.max_transactions,
            ..TransactionConfig::default()
        };
        let ports = PortPool::new(config.rtp_ports);
        Party {
            config,
            rng: random,
            tag_prefix: "".into(),
            locals: Vec::new(),
            contacts: Vec::new(),
            tx: TransactionLayer::new(tx_config),
            txs: IdMap::default(),
            calls: IdMap::default(),
            by_tag: IdMap::default(),
            registrations: IdMap::default(),
            timers: TimerHeap::default(),
            events: VecDeque::new(),
            media_out: VecDeque::new(),
            unannounced_sockets: 0,
            media_addrs: IdMap::default(),
            ports,
            auth: crate::auth::ClientAuth::default(),
            server_auth: None,
            serving: HashMap::new(),
            framer: Framer::default(),
            streams_closed: 0,
            next_id: 1,
            last_now: None,
            finished: VecDeque::new(),
            routing: None,
        }
    }

    /// A signalling-only Party for `aor` that answers calls at once (the
    /// original library's `NoMediaSimpleCallsParty`). Its identifiers come
    /// from a generator seeded with the AOR: give it a random source with
    /// [`Party::set_random`] before use on a real network.
    pub fn no_media_simple_calls(aor: &str) -> Result<Party, Error> {
        let config = PartyConfig::new(aor)?;
        let seed = seed_from(&config.aor);
        Ok(Party::new(config, Box::new(SeededRandom::new(seed))))
    }

    /// A Party for `aor` with one audio stream (the default codecs) that
    /// answers calls at once (the original library's
    /// `SingleRtpSessionSimpleParty`). See [`Party::no_media_simple_calls`]
    /// about the random source.
    pub fn single_rtp_session_simple(aor: &str) -> Result<Party, Error> {
        let mut config = PartyConfig::new(aor)?;
        config.media = Some(crate::sdp::MediaCapabilities::default_audio());
        let seed = seed_from(&config.aor);
        Ok(Party::new(config, Box::new(SeededRandom::new(seed))))
    }

    /// Replace the random source (tags, branches, Call-IDs, SSRCs).
    pub fn set_random(&mut self, random: Box<dyn Random>) {
        self.rng = random;
    }

    /// The configuration.
    pub fn config(&self) -> &PartyConfig {
        &self.config
    }

    /// Change the configuration (policy, media, credentials...). Applies to
    /// calls started afterwards.
    pub fn config_mut(&mut self) -> &mut PartyConfig {
        &mut self.config
    }

    /// Pick local RTP ports from `first..=last` from now on (the
    /// configuration's `rtp_ports` is read when the Party is made).
    pub fn set_rtp_ports(&mut self, first: u16, last: u16) {
        self.config.rtp_ports = (first, last);
        self.ports = PortPool::new((first, last));
    }

    /// Set the call policy.
    pub fn set_policy(&mut self, policy: CallPolicy) {
        self.config.policy = policy;
    }

    /// Tell the Party the local address of its socket for `transport`
    /// (after binding; never 0.0.0.0: Via and Contact advertise it).
    pub fn set_local_address(&mut self, transport: Transport, addr: SocketAddr) {
        self.locals.retain(|(t, _, _)| *t != transport);
        self.locals.push((transport, addr, host_port(addr).into()));
        self.contacts.retain(|(t, _, _)| *t != transport);
        if let Ok(c) = self.build_contact(transport) {
            let aor = self.config.aor.as_str().into();
            self.contacts.push((transport, aor, c.into()));
        }
    }

    /// The local address set for `transport`.
    pub fn local_address(&self, transport: Transport) -> Option<SocketAddr> {
        self.locals
            .iter()
            .find(|(t, _, _)| *t == transport)
            .map(|(_, a, _)| *a)
    }

    /// The address of record (`sip:alice@atlanta.com`).
    pub fn aor(&self) -> &str {
        &self.config.aor
    }

    /// Feed something that happened: a datagram, stream bytes, a transport
    /// error, or the passing of time. Then drain [`Party::poll_output`].
    pub fn handle_input(&mut self, input: Input<'_>) {
        let now = input.now();
        self.touch(now);
        match input {
            Input::Datagram {
                transport,
                source,
                destination,
                bytes,
                ..
            } => {
                if let Some(&id) = self.media_addrs.get(&destination) {
                    self.handle_media(now, id, source, destination, bytes);
                } else {
                    match Message::parse(bytes) {
                        Ok(msg) => self.handle_message(now, msg, source, transport),
                        Err(e) => self.reject_unparseable(source, transport, bytes, &e),
                    }
                }
            }
            Input::StreamData {
                transport,
                source,
                bytes,
                ..
            } => self.handle_stream(now, transport, source, bytes),
            Input::StreamClosed {
                transport, source, ..
            } => {
                self.streams_closed += 1;
                self.framer.close(transport, source);
                // RFC 3261 section 18.2.2: responses still due on it go
                // to the requests' Via.
                self.tx.connection_closed(now, source, transport);
            }
            Input::TransportError {
                transport,
                destination,
                ..
            } => {
                self.framer.close(transport, destination);
                self.tx.transport_error(now, destination, transport)
            }
            Input::Resolved { id, answer, .. } => self.handle_resolved(now, id, answer),
            Input::Timeout(_) => {}
        }
        self.handle_timeout(now);
    }

    /// The next thing to do: transmit, report an event, or wait.
    pub fn poll_output(&mut self) -> Output {
        if let Some(t) = self.tx.poll_transmit() {
            return Output::Transmit(t);
        }
        // A media socket is announced before anything is sent from it:
        // while an `MediaSocketOpen` is queued, events go first.
        if self.unannounced_sockets == 0 {
            if let Some(m) = self.media_out.pop_front() {
                return Output::MediaTransmit(m);
            }
        }
        if let Some(e) = self.events.pop_front() {
            if matches!(e, Event::MediaSocketOpen { .. }) {
                self.unannounced_sockets = self.unannounced_sockets.saturating_sub(1);
            }
            return Output::Event(e);
        }
        if let Some(m) = self.media_out.pop_front() {
            return Output::MediaTransmit(m);
        }
        match (self.poll_timeout(), self.last_now) {
            (Some(t), _) => Output::Timeout(t),
            (None, Some(now)) => Output::Timeout(now + IDLE),
            (None, None) => Output::Idle,
        }
    }

    /// The next deadline, if anything is scheduled.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        // Drop stale heap entries so the answer is exact.
        while let Some((at, owner)) = self.timers.peek() {
            if self.timer_is_live(at, owner) {
                break;
            }
            self.timers.pop();
        }
        let mine = self.timers.peek().map(|(at, _)| at);
        let soonest = match (mine, self.tx.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (soonest, self.routing_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Place a call to `target` (`bob@biloxi.com`, `sip:bob@192.0.2.4:5060`).
    /// Returns at once; the call progresses through
    /// [`Event::DialogStateChanged`].
    pub fn invite(
        &mut self,
        now: Instant,
        target: &str,
        options: InviteOptions,
    ) -> Result<DialogId, Error> {
        self.touch(now);
        let id = self.start_call(now, target, options)?;
        self.after_command(now);
        Ok(id)
    }

    /// A handle on a dialog, if it is still alive.
    pub fn dialog(&mut self, id: DialogId) -> Option<DialogHandle<'_>> {
        if self.calls.contains_key(&id) {
            Some(DialogHandle { party: self, id })
        } else {
            None
        }
    }

    /// An incoming call still waiting for a decision (accept or reject).
    pub fn incoming(&mut self, id: DialogId) -> Option<Incoming<'_>> {
        match self.calls.get(&id) {
            Some(c) if c.awaiting_decision() => Some(Incoming { party: self, id }),
            _ => None,
        }
    }

    /// The state of a dialog, if it is still alive (ended dialogs are
    /// forgotten once their final state was reported).
    pub fn dialog_state(&self, id: DialogId) -> Option<DialogState> {
        match self.calls.get(&id) {
            Some(c) => Some(c.state),
            None => self.finished.iter().find(|f| f.0 == id).map(|f| f.1),
        }
    }

    /// Why a dialog failed. Answers for live dialogs and for the last
    /// [`FINISHED_KEPT`] that ended.
    pub fn last_error(&self, id: DialogId) -> Option<&DialogError> {
        match self.calls.get(&id) {
            Some(c) => c.last_error.as_ref(),
            None => self
                .finished
                .iter()
                .find(|f| f.0 == id)
                .and_then(|f| f.2.as_ref()),
        }
    }

    /// Register with `registrar` (`sip:registrar.biloxi.com`,
    /// `127.0.0.1:5060`), refreshing before the granted expiry until
    /// [`RegistrationHandle::unregister`].
    pub fn register(
        &mut self,
        now: Instant,
        registrar: &str,
        options: RegisterOptions,
    ) -> Result<RegistrationId, Error> {
        self.touch(now);
        let id = self.start_registration(now, registrar, options)?;
        self.after_command(now);
        Ok(id)
    }

    /// A handle on a registration.
    pub fn registration(&mut self, id: RegistrationId) -> Option<RegistrationHandle<'_>> {
        if self.registrations.contains_key(&id) {
            Some(RegistrationHandle { party: self, id })
        } else {
            None
        }
    }

    /// Send OPTIONS to `target` outside any dialog; the answer comes as
    /// [`Event::RequestCompleted`].
    pub fn options(&mut self, now: Instant, target: &str) -> Result<RequestId, Error> {
        self.options_with(now, target, InviteOptions::default())
    }

    /// OPTIONS with the routing options of an INVITE (proxy, destination).
    pub fn options_with(
        &mut self,
        now: Instant,
        target: &str,
        options: InviteOptions,
    ) -> Result<RequestId, Error> {
        self.touch(now);
        let id = self.send_out_of_dialog(now, Method::Options, target, &options, None)?;
        self.after_command(now);
        Ok(id)
    }

    /// Send a MESSAGE (RFC 3428) to `target` outside any dialog.
    pub fn message(
        &mut self,
        now: Instant,
        target: &str,
        content_type: &str,
        body: &[u8],
        options: InviteOptions,
    ) -> Result<RequestId, Error> {
        self.touch(now);
        let id = self.send_out_of_dialog(
            now,
            Method::Message,
            target,
            &options,
            Some((content_type, body)),
        )?;
        self.after_command(now);
        Ok(id)
    }

    /// Live dialogs.
    pub fn dialog_count(&self) -> usize {
        self.calls.len()
    }

    /// Live transactions (client and server).
    pub fn transaction_count(&self) -> usize {
        self.tx.len()
    }

    /// How many stream connections (fed with [`Input::StreamData`]) the
    /// Party keeps framing state for: until [`Input::StreamClosed`] or
    /// [`Input::TransportError`] names them (or, idle, past a bound of
    /// 1,024). For tests and monitoring.
    pub fn stream_count(&self) -> usize {
        self.framer.len()
    }

    /// How many times this Party was given [`Input::StreamClosed`], for
    /// tests and monitoring: every close it was told of, whether or not
    /// the connection carried any of its own messages. A Party driven on
    /// its own hears of its driver's connections only; inside an
    /// [`Endpoint`] every Party is told of every close (any of them may
    /// owe a response on it, RFC 3261 section 18.2.2), so each counts
    /// the Endpoint's closes ([`Endpoint::streams_closed`]), not its own.
    pub fn streams_closed(&self) -> u64 {
        self.streams_closed
    }

    /// Ids of the live dialogs.
    pub fn dialog_ids(&self) -> impl Iterator<Item = DialogId> + '_ {
        self.calls.keys().copied()
    }

    /// Whether nothing at all is pending: no dialog, transaction,
    /// registration, timer or queued output. Tests use it to prove a call
    /// left nothing behind.
    pub fn is_idle(&mut self) -> bool {
        self.calls.is_empty()
            && self.tx.is_empty()
            && self.registrations.is_empty()
            && self.txs.is_empty()
            && self.events.is_empty()
            && self.media_out.is_empty()
            && self.media_addrs.is_empty()
            && self.serving.is_empty()
            && self.poll_timeout().is_none()
    }

    // ---- internals shared by the submodules ----

    pub(crate) fn touch(&mut self, now: Instant) {
        self.last_now = Some(match self.last_now {
            Some(prev) if prev > now => prev,
            _ => now,
        });
    }

    /// After a command: the transaction layer may have events already.
    pub(crate) fn after_command(&mut self, now: Instant) {
        self.drain_tx_events(now);
        self.process_routing(now);
    }

    pub(crate) fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn new_tag(&mut self) -> LocalTag {
        // `message::new_tag`'s 10 token characters, after the prefix.
        let mut token = [0u8; 10];
        self.rng.fill_token(&mut token);
        // A `Random` of the application's might write anything: keep the
        // tag a token.
        for b in &mut token {
            if !b.is_ascii_alphanumeric() {
                *b = b'a' + *b % 26;
            }
        }
        // The prefix is `{index}.`, which fits with the token; were it
        // ever longer it is dropped rather than the tag (routing by
        // prefix then falls back to the Request-URI).
        LocalTag::new(&self.tag_prefix, &token)
            .or_else(|| LocalTag::new("", &token))
            // Ten ASCII bytes always fit in a LocalTag.
            .expect("a bare token fits")
    }

    pub(crate) fn local_for(&self, transport: Transport) -> Result<SocketAddr, Error> {
        self.local_address(transport)
            .ok_or(Error::NoLocalAddress(transport))
    }

    /// Put our top Via on `msg` (RFC 3261 section 8.1.1.7, with `rport`
    /// of RFC 3581 so responses come back through NATs), above any other,
    /// with a fresh branch. Written straight into the message, and the
    /// branch recorded there so the transaction layer need not decode the
    /// Via to find it.
    pub(crate) fn push_via(
        &mut self,
        msg: &mut Message,
        transport: Transport,
    ) -> Result<(), Error> {
        let mut buf = message::BranchBuf::default();
        let branch = message::branch_into(&mut *self.rng, &mut buf);
        let hp = self.local_host_port(transport)?;
        let token = transport.via_token();
        msg.push_front_header_parts(
            HeaderName::Via,
            &["SIP/2.0/", token, " ", hp, ";branch=", branch, ";rport"],
        );
        msg.set_top_branch(branch);
        Ok(())
    }

    /// Replace the top Via line of a request we send again as a new
    /// transaction (new branch, section 8.1.3.5 and 17.1.1.3).
    pub(crate) fn replace_via(
        &mut self,
        msg: &mut Message,
        transport: Transport,
    ) -> Result<(), Error> {
        // Checked first so a failure leaves the request as it was.
        self.local_host_port(transport)?;
        msg.remove_first_header(&HeaderName::Via);
        self.push_via(msg, transport)
    }

    /// A new Call-ID naming our IP for `transport` (section 8.1.1.4),
    /// without formatting the address again.
    pub(crate) fn new_call_id(&mut self, transport: Transport) -> Result<String, Error> {
        let host = ip_of_host_port(host_port_in(&self.locals, transport)?);
        Ok(message::new_call_id(&mut *self.rng, host))
    }

    fn local_host_port(&self, transport: Transport) -> Result<&str, Error> {
        host_port_in(&self.locals, transport)
    }

    /// Our Contact header value for `transport`: the one written when the
    /// local address was set, unless the AOR changed since.
    pub(crate) fn contact(&self, transport: Transport) -> Result<Cow<'_, str>, Error> {
        let cached = self
            .contacts
            .iter()
            .find(|(t, aor, _)| *t == transport && **aor == *self.config.aor);
        match cached {
            Some((_, _, c)) => Ok(Cow::Borrowed(c)),
            None => self.build_contact(transport).map(Cow::Owned),
        }
    }

    fn build_contact(&self, transport: Transport) -> Result<String, Error> {
        let hp = self.local_host_port(transport)?;
        let user = aor_user(&self.config.aor);
        let tp = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            _ => ";transport=tls",
        };
        let scheme = if transport == Transport::Tls {
            "sips"
        } else {
            "sip"
        };
        let mut c = String::with_capacity(
            scheme.len() + user.map_or(0, |u| u.len() + 1) + hp.len() + tp.len() + 3,
        );
        c.push('<');
        c.push_str(scheme);
        c.push(':');
        if let Some(u) = user {
            c.push_str(u);
            c.push('@');
        }
        c.push_str(hp);
        c.push_str(tp);
        c.push('>');
        Ok(c)
    }

    /// Our From header value (without tag).
    pub(crate) fn our_from(&self) -> String {
        match &self.config.display_name {
            Some(d) => format!(
                "\"{}\" <{}>",
                d.replace('\\', "\\\\").replace('"', "\\\""),
                self.config.aor
            ),
            None => {
                let aor = &self.config.aor;
                let mut f = String::with_capacity(aor.len() + 2);
                f.push('<');
                f.push_str(aor);
                f.push('>');
                f
            }
        }
    }

    /// Headers every request we originate carries.
    pub(crate) fn common_request_headers(&self, msg: &mut Message) {
        let mut digits = crate::text::Digits::default();
        msg.set_header(
            HeaderName::MaxForwards,
            crate::text::decimal(self.config.max_forwards, &mut digits),
        );
        if let Some(ua) = &self.config.user_agent {
            msg.set_header(HeaderName::UserAgent, ua);
        }
    }

    /// Start a client transaction for `request` (its top Via already set).
    // Every argument is a distinct fact about the transaction; a struct
    // would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_request<'a>(
        &mut self,
        now: Instant,
        request: impl Into<Outgoing<'a>>,
        destination: SocketAddr,
        transport: Transport,
        owner: Owner,
        kind: TxKind,
        auth_rounds: u8,
    ) -> Result<TransactionId, Error> {
        self.send_request_with(
            now,
            request.into(),
            destination,
            transport,
            owner,
            kind,
            auth_rounds,
            false,
            true,
        )
    }

    /// [`Party::send_request`], keeping the request for a resend even
    /// without credentials (`keep`), and switching a large one to TCP
    /// unless `may_switch` is false (RFC 3261 section 18.1.1).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_request_with(
        &mut self,
        now: Instant,
        mut request: Outgoing<'_>,
        destination: SocketAddr,
        transport: Transport,
        owner: Owner,
        kind: TxKind,
        auth_rounds: u8,
        keep: bool,
        may_switch: bool,
    ) -> Result<TransactionId, Error> {
        let sent_over = if may_switch {
            self.fit_to_path(&mut request, transport)
        } else {
            transport
        };
        let switched = sent_over != transport;
        let transport = sent_over;
        // Kept to answer a digest challenge or to send again elsewhere
        // (failover, UDP after TCP failed); otherwise there is nothing to
        // resend (the INVITE keeps its own copy for CANCEL and forks).
        let keep = match keep || switched || self.config.credentials.is_some() {
            true => Some(Box::new(request.to_message()?)),
            false => None,
        };
        let sent = match request {
            Outgoing::Owned(r) => self.tx.send_request(now, r, destination, transport),
            Outgoing::Kept(r) => self.tx.send_request_ref(now, r, destination, transport),
            Outgoing::Written(w) => {
                let (method, branch, bytes) = w.into_parts();
                let branch = written::branch_str(&branch);
                self.tx
                    .send_request_bytes(now, method, branch, bytes, destination, transport)
            }
        };
        let id = sent.map_err(|e| Error::Transaction(e.to_string()))?;
        if switched {
            self.note_switched(id, destination);
        }
        self.txs.insert(
            id,
            TxUse {
                owner,
                kind,
                request: keep,
                destination,
                transport,
                auth_rounds,
            },
        );
        Ok(id)
    }

    /// Run due timers of the Party and of the transaction layer, then
    /// dispatch what the transaction layer reported.
    fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.drain_tx_events(now);
        while let Some((at, owner)) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if !self.timer_is_live(at, owner) {
                continue;
            }
            match owner {
                TimerOwner::Call(id, t) => {
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.timers.stop(t);
                    }
                    self.on_call_timer(now, id, t);
                }
                TimerOwner::Registration(id) => {
                    if let Some(r) = self.registrations.get_mut(&id) {
                        r.timer = None;
                    }
                    self.on_registration_timer(now, id);
                }
            }
            self.drain_tx_events(now);
        }
        self.process_routing(now);
    }

    fn timer_is_live(&self, at: Instant, owner: TimerOwner) -> bool {
        match owner {
            TimerOwner::Call(id, t) => self
                .calls
                .get(&id)
                .is_some_and(|c| c.timers.get(t) == Some(at)),
            TimerOwner::Registration(id) => self
                .registrations
                .get(&id)
                .is_some_and(|r| r.timer == Some(at)),
        }
    }

    pub(crate) fn set_call_timer(&mut self, id: DialogId, t: CallTimer, at: Instant) {
        if let Some(c) = self.calls.get_mut(&id) {
            self.timers.set_call(&mut c.timers, id, t, at);
        }
    }

    pub(crate) fn stop_call_timer(&mut self, id: DialogId, t: CallTimer) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.timers.stop(t);
        }
    }

    /// A datagram that failed to parse as SIP with `error`: answered
    /// statelessly when it is a request we can answer (RFC 3261 section
    /// 21.4.1, see [`validate::salvage_bad_request`]), dropped otherwise.
    pub(crate) fn reject_unparseable(
        &mut self,
        source: SocketAddr,
        transport: Transport,
        bytes: &[u8],
        error: &message::ParseError,
    ) {
        if is_media_packet(bytes) {
            // Late RTP/RTCP of a call whose media we released (RFC 3550
            // version 2 in the top bits); not SIP, not worth a warning.
            trace!(%source, "dropping media packet on a closed media address");
            return;
        }
        match validate::salvage_bad_request(bytes, error) {
            Some(s) => {
                debug!(%source, %error, status = s.response.status(), "unparseable request answered statelessly");
                self.tx
                    .send_stateless_response(source, transport, s.response);
            }
            None => debug!(%source, %error, "dropping unparseable datagram"),
        }
    }

    /// A parsed SIP message arrived.
    pub(crate) fn handle_message(
        &mut self,
        now: Instant,
        msg: Message,
        source: SocketAddr,
        transport: Transport,
    ) {
        self.touch(now);
        trace!(%source, "message in");
        if msg.is_request() {
            // RFC 3261 section 8.2: a request we cannot even match to a
            // transaction is answered 400 statelessly when it has a Via.
            if let Some(resp) = validate::check_mandatory(&msg) {
                debug!(%source, status = resp.status(), "bad request, answered statelessly");
                self.tx.send_stateless_response(source, transport, resp);
                return;
            }
            // Checked above: the layer need not look again.
            let _ = self.tx.handle_checked_request(now, msg, source, transport);
        } else {
            let _ = self.tx.handle_message(now, msg, source, transport);
        }
        self.drain_tx_events(now);
    }

    fn handle_stream(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        let mut framer = std::mem::take(&mut self.framer);
        framer.push(transport, source, bytes, |delivered| match delivered {
            Delivered::Message(msg) => self.handle_message(now, msg, source, transport),
            Delivered::Ping => self.tx.send_pong(transport, source),
            Delivered::Malformed { bytes, error } => {
                self.reject_unparseable(source, transport, &bytes, &error)
            }
        });
        self.framer = framer;
    }

    /// Dispatch everything the transaction layer has to say.
    pub(crate) fn drain_tx_events(&mut self, now: Instant) {
        while let Some(ev) = self.tx.poll_event() {
            match ev {
                TransactionEvent::Request {
                    id,
                    request,
                    source,
                    transport,
                } => self.on_request(now, id, request, source, transport),
                TransactionEvent::Response { id, response } => self.on_response(now, id, response),
                TransactionEvent::Stray {
                    message,
                    source,
                    transport,
                } => self.on_stray(now, message, source, transport),
                TransactionEvent::Cancelled { id, cancel } => self.on_cancelled(now, id, cancel),
                TransactionEvent::Timeout { id } => {
                    self.on_tx_failure(now, id, DialogError::Timeout)
                }
                TransactionEvent::TransportError { id } => {
                    self.on_tx_failure(now, id, DialogError::TransportError)
                }
                TransactionEvent::Terminated { id } => self.on_tx_terminated(id),
                ev @ TransactionEvent::LocateSentBy { .. } => self.locate_sent_by(now, ev),
            }
        }
    }

    fn on_tx_terminated(&mut self, id: TransactionId) {
        self.forget_route(id);
        if let Some(TxUse {
            owner: Owner::Call(call),
            kind: TxKind::Invite,
            ..
        }) = self.txs.remove(&id)
        {
            self.on_invite_tx_gone(call, id);
        }
        self.serving.retain(|_, t| *t != id);
    }

    /// A response within one of our client transactions.
    fn on_response(&mut self, now: Instant, id: TransactionId, response: Message) {
        let Some(status) = response.status() else {
            return;
        };
        let Some(tx) = self.txs.get(&id) else {
            trace!(status, "response for a transaction nobody owns");
            return;
        };
        let (owner, kind) = (tx.owner, tx.kind);
        if (status == 401 || status == 407)
            && kind != TxKind::Cancel
            && kind != TxKind::ServerInvite
            && self.retry_with_auth(now, id, &response)
        {
            return;
        }
        // RFC 3263 section 4.3: a 503 sends the request to the next target.
        if status == 503 && self.fail_over(now, id, Failure::Response(503)) {
            return;
        }
        match owner {
            Owner::Call(call) => self.on_call_response(now, call, id, kind, response),
            Owner::Registration(reg) => self.on_register_response(now, reg, id, response),
            Owner::Request(req) => {
                if status >= 200 {
                    self.events.push_back(request_completed(req, &response));
                }
            }
            Owner::Nobody => {}
        }
    }

    /// Answer a 401/407 with credentials (RFC 3261 section 22.2). The
    /// digest client refuses to answer the same challenge twice or to
    /// retry refused credentials, so this never loops. Returns false when
    /// the response should be handled as a failure instead.
    fn retry_with_auth(&mut self, now: Instant, id: TransactionId, response: &Message) -> bool {
        use crate::auth::{AuthKind, DigestRequest};
        let Some(creds) = self.config.credentials.clone() else {
            return false;
        };
        let Some(kind) = response.status().and_then(AuthKind::from_status) else {
            return false;
        };
        let Some(tx) = self.txs.get_mut(&id) else {
            return false;
        };
        // A hard cap as well, in case a server keeps inventing realms.
        if tx.auth_rounds >= 4 {
            return false;
        }
        let Some(mut request) = tx.request.take().map(|b| *b) else {
            return false;
        };
        let (owner, tx_kind, destination, transport, rounds) = (
            tx.owner,
            tx.kind,
            tx.destination,
            tx.transport,
            tx.auth_rounds,
        );
        let challenge_name = HeaderName::from_bytes(kind.challenge_header().as_bytes());
        let credentials_name = HeaderName::from_bytes(kind.credentials_header().as_bytes());
        let method = request
            .method()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let uri = request.request_uri().unwrap_or("").to_string();
        let answer = {
            let challenges = response.headers(&challenge_name);
            let sent = request.headers(&credentials_name);
            let digest_request = DigestRequest {
                method: &method,
                uri: &uri,
                body: request.body(),
            };
            self.auth.respond(
                &creds,
                kind,
                challenges,
                sent,
                &digest_request,
                &mut *self.rng,
            )
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                debug!(error = %e, "not answering challenge");
                if let Some(tx) = self.txs.get_mut(&id) {
                    tx.request = Some(Box::new(request));
                }
                return false;
            }
        };
        // One credentials header per realm: replace the one for this
        // realm, keep the others (RFC 3261 section 22.3).
        let realm_param = format!("realm=\"{}\"", answer.realm);
        let keep: Vec<String> = request
            .headers(&credentials_name)
            .filter(|v| !v.contains(&realm_param))
            .map(str::to_string)
            .collect();
        request.remove_header(&credentials_name);
        for v in keep {
            request.add_header(credentials_name.clone(), &v);
        }
        request.add_header(credentials_name, &answer.value);
        // A new transaction: new branch, CSeq one higher (section 8.1.3.5).
        if self.replace_via(&mut request, transport).is_err() {
            return false;
        }
        let new_seq = match request.cseq().and_then(Result::ok) {
            Some(c) => {
                let seq = c.seq.wrapping_add(1);
                request.set_header(HeaderName::CSeq, &format!("{seq} {}", c.method));
                seq
            }
            None => return false,
        };
        if let Owner::Call(call) = owner {
            if let Some(c) = self.calls.get_mut(&call) {
                c.note_local_cseq(new_seq);
            }
        }
        match self.send_request(
            now,
            request,
            destination,
            transport,
            owner,
            tx_kind,
            rounds + 1,
        ) {
            Ok(new_id) => {
                // Still the same targets to fail over to (RFC 3263).
                self.carry_route(id, new_id);
                if let Owner::Call(call) = owner {
                    self.retarget_call_tx(call, id, new_id);
                }
                if let Owner::Registration(reg) = owner {
                    self.registration_retargeted(reg, new_id, new_seq);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// A client transaction timed out or could not be sent.
    fn on_tx_failure(&mut self, now: Instant, id: TransactionId, error: DialogError) {
        let failure = match error {
            DialogError::Timeout => Some(Failure::Timeout),
            DialogError::TransportError => Some(Failure::TransportError),
            _ => None,
        };
        if failure.is_some_and(|f| self.fail_over(now, id, f)) {
            return;
        }
        let Some(tx) = self.txs.get(&id) else { return };
        let (owner, kind) = (tx.owner, tx.kind);
        match owner {
            Owner::Call(call) => self.on_call_tx_failure(now, call, id, kind, error),
            Owner::Registration(reg) => self.on_register_failure(now, reg, error),
            Owner::Request(req) => {
                let (code, reason) = match &error {
                    DialogError::Timeout => (408, "Request Timeout".to_string()),
                    // RFC 3263 section 4.3: as if a 503 had come.
                    DialogError::Unresolvable(_) => (503, error.to_string()),
                    _ => (503, "Service Unavailable".to_string()),
                };
                self.events.push_back(Event::RequestCompleted {
                    id: req,
                    outcome: RequestCompleted {
                        code,
                        reason,
                        allow: Vec::new(),
                        supported: Vec::new(),
                        accept: Vec::new(),
                    },
                });
            }
            Owner::Nobody => {}
        }
    }

    /// OPTIONS or MESSAGE outside a dialog.
    fn send_out_of_dialog(
        &mut self,
        now: Instant,
        method: Method,
        target: &str,
        options: &InviteOptions,
        body: Option<(&str, &[u8])>,
    ) -> Result<RequestId, Error> {
        let target = config::normalize_uri(target)?;
        let (hop, route) =
            self.route_for(&target, options.proxy.as_deref(), options.destination)?;
        let transport = hop.transport();
        let mut req = Message::request(method.clone(), &target);
        self.push_via(&mut req, transport)?;
        let tag = self.new_tag();
        req.add_header(HeaderName::From, &format!("{};tag={tag}", self.our_from()));
        req.add_header(HeaderName::To, &format!("<{target}>"));
        let call_id = self.new_call_id(transport)?;
        req.add_header(HeaderName::CallId, &call_id);
        req.add_header(HeaderName::CSeq, &format!("1 {method}"));
        if let Some(r) = route {
            req.add_header(HeaderName::Route, &r);
        }
        self.common_request_headers(&mut req);
        if method == Method::Options {
            req.add_header(HeaderName::Accept, ACCEPT);
        }
        if let Some((ct, b)) = body {
            req.set_body(Some(ct), b);
        }
        let id = RequestId(self.new_id());
        let kind = if method == Method::Options {
            TxKind::Options
        } else {
            TxKind::Message
        };
        self.send_routed(now, req, &hop, Owner::Request(id), kind)?;
        Ok(id)
    }

    /// Next hop for a new request: an explicit destination, else the
    /// outbound proxy (which also becomes a pre-loaded Route, RFC 3261
    /// section 8.1.2), else the Request-URI's host. A host name is located
    /// later, by RFC 3263 ([`NextHop::Name`]).
    pub(crate) fn route_for(
        &self,
        target: &str,
        proxy: Option<&str>,
        destination: Option<SocketAddr>,
    ) -> Result<(NextHop, Option<String>), Error> {
        let mut route = None;
        let mut hop_uri = std::borrow::Cow::Borrowed(target);
        if let Some(p) = proxy {
            let uri = config::normalize_uri(p)?;
            let uri = if message::Uri::parse(&uri).map(|u| u.lr()).unwrap_or(false) {
                uri
            } else {
                format!("{uri};lr")
            };
            route = Some(format!("<{uri}>"));
            hop_uri = std::borrow::Cow::Owned(uri);
        }
        if let Some(dest) = destination {
            // The caller resolved the name: only the transport is needed.
            return Ok((NextHop::Addr(dest, uri_transport(&hop_uri)?), route));
        }
        Ok((self.hop_for_uri(&hop_uri)?, route))
    }
}

/// The transport a URI asks for (`transport=` parameter, `sips:` means
/// TLS, else UDP).
pub(crate) fn uri_transport(uri: &str) -> Result<Transport, Error> {
    let parsed = message::Uri::parse(uri).map_err(|_| Error::InvalidUri(uri.to_string()))?;
    Ok(transport_of(&parsed))
}

/// [`uri_transport`] of a URI already decoded.
pub(crate) fn transport_of(parsed: &message::Uri<'_>) -> Transport {
    match parsed.transport_param().and_then(Transport::from_token) {
        Some(t) => t,
        None if matches!(parsed.scheme, message::Scheme::Sips) => Transport::Tls,
        None => Transport::Udp,
    }
}

impl Party {
    /// RFC 3261 section 22.2 as a UAS: the 401 to send when `request`
    /// lacks valid credentials, or None to go on.
    pub(crate) fn challenge(&mut self, now: Instant, request: &Message) -> Option<Message> {
        use crate::auth::{AuthFailure, DigestRequest, ServerAuth, ServerConfig};
        let creds = self.config.server_credentials.clone()?;
        let realm = creds.realm.clone().unwrap_or_else(|| {
            self.config
                .aor
                .split_once('@')
                .map(|(_, h)| h.to_string())
                .unwrap_or_else(|| "sipparty".to_string())
        });
        if self
            .server_auth
            .as_ref()
            .map_or(true, |s| s.config().realm != realm)
        {
            let config = ServerConfig::new(realm);
            self.server_auth = Some(Box::new(ServerAuth::new(config, &mut *self.rng, now)));
        }
        let server = self.server_auth.as_mut()?;
        let method = request
            .method()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let dr = DigestRequest {
            method: &method,
            uri: request.request_uri().unwrap_or(""),
            body: request.body(),
        };
        let failure = match request.header(&HeaderName::Authorization) {
            None => AuthFailure::Missing,
            Some(value) => match server.verify(now, &dr, value, |user, _| {
                (user == creds.username).then(|| creds.password.clone())
            }) {
                Ok(_) => return None,
                Err(f) => f,
            },
        };
        debug!(?failure, "challenging request");
        let mut resp = Message::response_to(request, 401, None);
        for c in server.challenge_after(now, failure) {
            resp.add_header(HeaderName::WwwAuthenticate, &c);
        }
        Some(resp)
    }
}

/// Frames SIP messages out of the bytes of stream connections (RFC 3261
/// section 18.3: Content-Length delimits them), one
/// [`StreamFramer`](crate::transport::stream::StreamFramer) per connection,
/// kept for the connection's life (its buffer and pong state with it)
/// until [`Input::StreamClosed`] or [`Input::TransportError`] ends it.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    streams: HashMap<(Transport, SocketAddr), crate::transport::stream::StreamFramer>,
}

/// More connections than a user agent keeps open at once: past it, the
/// framers holding nothing are dropped (a driver that never reports
/// closed connections must not make the table grow without end; an idle
/// framer is made again when its connection speaks).
const MAX_IDLE_FRAMERS: usize = 1024;

/// What a stream connection delivered.
pub(crate) enum Delivered {
    /// A whole message.
    Message(Message),
    /// A keep-alive ping (RFC 5626 section 4.4.1), to be answered with a
    /// pong on the same connection.
    Ping,
    /// A message delimited by its Content-Length that does not parse, or
    /// what was buffered when framing failed: answered as a bad datagram
    /// (400, 413 where it can be).
    Malformed {
        bytes: Vec<u8>,
        error: message::ParseError,
    },
}

impl Framer {
    /// Append `bytes` from the connection and hand every complete message
    /// and ping to `deliver`; a partial message waits for more. Messages
    /// are framed without parsing and parsed once here. A framing error (no
    /// Content-Length, a message over the size limit) drops the
    /// connection's buffer.
    pub(crate) fn push(
        &mut self,
        transport: Transport,
        source: SocketAddr,
        bytes: &[u8],
        mut deliver: impl FnMut(Delivered),
    ) {
        use crate::transport::stream::ParsedFrame;
        let key = (transport, source);
        if self.streams.len() >= MAX_IDLE_FRAMERS && !self.streams.contains_key(&key) {
            self.streams.retain(|_, f| f.buffered() > 0);
        }
        let framer = self.streams.entry(key).or_default();
        framer.push(bytes);
        loop {
            // Parsed straight out of the connection's buffer: the message
            // is copied once, into the `Message`.
            match framer.next_parsed() {
                Ok(Some(ParsedFrame::Message(msg))) => deliver(Delivered::Message(msg)),
                Ok(Some(ParsedFrame::Ping)) => deliver(Delivered::Ping),
                Ok(Some(ParsedFrame::Malformed { bytes, error })) => {
                    deliver(Delivered::Malformed { bytes, error })
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    // The next message cannot be found (RFC 3261 section
                    // 18.3): the buffer goes, and the driver closes the
                    // connection. A request whose headers can be read is
                    // answered first (400, or 413 when too large: sections
                    // 21.4.1 and 21.4.13).
                    warn!(%source, error = %e, "unframeable stream data, dropping buffer");
                    let bytes = framer.unframed().to_vec();
                    self.streams.remove(&key);
                    deliver(Delivered::Malformed {
                        bytes,
                        error: e.parse,
                    });
                    return;
                }
            }
        }
    }

    /// Forget a closed connection's framing state.
    pub(crate) fn close(&mut self, transport: Transport, peer: SocketAddr) {
        self.streams.remove(&(transport, peer));
    }

    /// How many connections have framing state.
    pub(crate) fn len(&self) -> usize {
        self.streams.len()
    }
}

/// Resolve a SIP URI to an address without DNS: the host must be an IP
/// literal (`maddr` wins over the host); the port defaults by transport.
pub(crate) fn resolve_uri(uri: &str) -> Result<(SocketAddr, Transport), Error> {
    let parsed = message::Uri::parse(uri).map_err(|_| Error::InvalidUri(uri.to_string()))?;
    let transport = transport_of(&parsed);
    let addr = literal_addr(&parsed, transport)
        .ok_or_else(|| Error::Unresolvable(parsed.maddr().unwrap_or(parsed.host).to_string()))?;
    Ok((addr, transport))
}

/// The address of `parsed` when its host (or `maddr`) is an IP literal:
/// at the URI's port, or `transport`'s default.
pub(crate) fn literal_addr(parsed: &message::Uri<'_>, transport: Transport) -> Option<SocketAddr> {
    let host = parsed.maddr().unwrap_or(parsed.host);
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(SocketAddr::new(
        ip,
        parsed.port.unwrap_or_else(|| transport.default_port()),
    ))
}

/// `host:port` with IPv6 in brackets.
pub(crate) fn host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// The user part of a `sip:user@host` AOR.
pub(crate) fn aor_user(aor: &str) -> Option<&str> {
    let rest = aor.split_once(':').map(|(_, r)| r).unwrap_or(aor);
    rest.split_once('@').map(|(u, _)| u)
}

/// A stable seed from the AOR (FNV-1a), so tests are repeatable; drivers
/// replace the generator.
fn seed_from(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn request_completed(id: RequestId, response: &Message) -> Event {
    let list = |name: HeaderName| -> Vec<String> {
        response
            .header_values(&name)
            .map(|s| s.trim().to_string())
            .collect()
    };
    Event::RequestCompleted {
        id,
        outcome: RequestCompleted {
            code: response.status().unwrap_or(0),
            reason: response.reason().unwrap_or("").to_string(),
            allow: list(HeaderName::Allow),
            supported: list(HeaderName::Supported),
            accept: list(HeaderName::Accept),
        },
    }
}

/// The `host:port` written for our address on `transport`.
fn host_port_in(
    locals: &[(Transport, SocketAddr, Box<str>)],
    transport: Transport,
) -> Result<&str, Error> {
    locals
        .iter()
        .find(|(t, _, _)| *t == transport)
        .map(|(_, _, hp)| &**hp)
        .ok_or(Error::NoLocalAddress(transport))
}

/// The IP of a `host:port` as `IpAddr` writes it (an IPv6 one without
/// brackets).
fn ip_of_host_port(hp: &str) -> &str {
    let host = hp.rsplit_once(':').map_or(hp, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}
#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3261 section 8.1.1.4: the Call-ID's host part is our address as
    /// `IpAddr` writes it (IPv6 without brackets), read back from the
    /// `host:port` kept for Via and Contact.
    #[test]
    fn rfc3261_8_1_1_4_call_id_host_is_the_local_ip() {
        for addr in ["127.0.0.1:5060", "[::1]:5070", "[fe80::1:2]:1"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let mut p = Party::no_media_simple_calls("alice@atlanta.com").unwrap();
            p.set_local_address(Transport::Udp, addr);
            assert_eq!(
                ip_of_host_port(p.local_host_port(Transport::Udp).unwrap()),
                addr.ip().to_string()
            );
            let id = p.new_call_id(Transport::Udp).unwrap();
            let (token, host) = id.split_once('@').unwrap();
            assert_eq!(host, addr.ip().to_string());
            assert_eq!(token.len(), 20);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(p.new_call_id(Transport::Tcp).is_err(), "no TCP address");
        }
    }

    /// The Contact written when the local address is set follows a later
    /// change of the AOR (the configuration may be changed at any time).
    #[test]
    fn contact_follows_the_aor() {
        let mut p = Party::no_media_simple_calls("alice@atlanta.com").unwrap();
        p.set_local_address(Transport::Udp, "127.0.0.1:5060".parse().unwrap());
        assert_eq!(
            &*p.contact(Transport::Udp).unwrap(),
            "<sip:alice@127.0.0.1:5060>"
        );
        p.config_mut().aor = "sip:bob@biloxi.com".into();
        assert_eq!(
            &*p.contact(Transport::Udp).unwrap(),
            "<sip:bob@127.0.0.1:5060>"
        );
    }

    const LOCAL: &str = "127.0.0.1:5060";
    const PEER: &str = "127.0.0.1:40000";

    fn options(branch: &str) -> String {
        format!(
            "OPTIONS sip:alice@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK{branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:bob@biloxi.com>;tag=b1\r\n\
To: <sip:alice@atlanta.com>\r\n\
Call-ID: {branch}@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
        )
    }

    fn tcp_party() -> Party {
        let mut p = Party::no_media_simple_calls("alice@atlanta.com").unwrap();
        p.set_local_address(Transport::Tcp, LOCAL.parse().unwrap());
        p
    }

    fn stream(p: &mut Party, now: Instant, bytes: &[u8]) {
        p.handle_input(Input::StreamData {
            now,
            transport: Transport::Tcp,
            source: PEER.parse().unwrap(),
            destination: LOCAL.parse().unwrap(),
            bytes,
        });
    }

    /// What the Party sent back on the connection: the status line of
    /// each message, `pong` for a keep-alive answer.
    fn sent(p: &mut Party) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match p.poll_output() {
                Output::Transmit(t) => {
                    assert_eq!(t.destination, PEER.parse().unwrap());
                    assert_eq!(t.transport, Transport::Tcp);
                    if t.bytes == crate::transport::stream::PONG {
                        out.push("pong".to_string());
                    } else {
                        let m = Message::parse(&t.bytes).unwrap();
                        let cseq = m.cseq().unwrap().unwrap();
                        out.push(format!("{} {}", m.status().unwrap(), cseq.method));
                    }
                }
                Output::Event(_) | Output::MediaTransmit(_) => {}
                _ => return out,
            }
        }
    }

    /// RFC 3261 section 18.3: a message split across many reads is framed
    /// once it is whole, by the connection's one framer, which stays for
    /// the connection's life (not dropped when its buffer empties).
    #[test]
    fn rfc3261_18_3_message_split_across_many_reads() {
        let mut p = tcp_party();
        let now = Instant::now();
        let text = options("split");
        for chunk in text.as_bytes().chunks(7) {
            assert!(
                sent(&mut p).is_empty(),
                "answered before the message was whole"
            );
            stream(&mut p, now, chunk);
            assert_eq!(p.framer.len(), 1);
        }
        assert_eq!(sent(&mut p), ["200 OPTIONS"]);
        // The connection's framer outlives its empty buffer...
        assert_eq!(p.framer.len(), 1);
        // ...until the connection closes.
        p.handle_input(Input::StreamClosed {
            now,
            transport: Transport::Tcp,
            source: PEER.parse().unwrap(),
        });
        assert_eq!(p.framer.len(), 0);
    }

    /// RFC 3261 section 18.3: two messages in one read are both framed
    /// and answered, in order; a read ending in the middle of a third
    /// keeps it for the next.
    #[test]
    fn rfc3261_18_3_two_messages_in_one_read() {
        let mut p = tcp_party();
        let now = Instant::now();
        let third = options("three");
        let mut bytes = options("one") + &options("two");
        bytes.push_str(&third[..40]);
        stream(&mut p, now, bytes.as_bytes());
        assert_eq!(sent(&mut p), ["200 OPTIONS", "200 OPTIONS"]);
        stream(&mut p, now, &third.as_bytes()[40..]);
        assert_eq!(sent(&mut p), ["200 OPTIONS"]);
        // A reset connection is forgotten too.
        p.handle_input(Input::TransportError {
            now,
            transport: Transport::Tcp,
            destination: PEER.parse().unwrap(),
        });
        assert_eq!(p.framer.len(), 0);
    }

    /// RFC 5626 section 4.4.1: a ping (double CRLF) is answered with a
    /// pong on the same connection, before, between and after messages.
    #[test]
    fn rfc5626_4_4_1_stream_ping_is_answered() {
        let mut p = tcp_party();
        let now = Instant::now();
        stream(&mut p, now, b"\r\n\r\n");
        assert_eq!(sent(&mut p), ["pong"]);
        let bytes = options("ping") + "\r\n\r\n";
        stream(&mut p, now, bytes.as_bytes());
        assert_eq!(sent(&mut p), ["200 OPTIONS", "pong"]);
        // A ping split across two reads.
        stream(&mut p, now, b"\r\n");
        assert!(sent(&mut p).is_empty());
        stream(&mut p, now, b"\r\n");
        assert_eq!(sent(&mut p), ["pong"]);
    }

    /// RFC 3261 section 18.3: a connection's partial message dies with
    /// it. After `StreamClosed` the framer is gone, and a new connection
    /// from the same address starts clean (the stale half would otherwise
    /// prefix its first message and garble it).
    #[test]
    fn rfc3261_18_3_stream_closed_releases_the_framer() {
        let mut p = tcp_party();
        let now = Instant::now();
        let half = options("half");
        stream(&mut p, now, &half.as_bytes()[..40]);
        assert_eq!(p.stream_count(), 1);
        p.handle_input(Input::StreamClosed {
            now,
            transport: Transport::Tcp,
            source: PEER.parse().unwrap(),
        });
        assert_eq!(p.stream_count(), 0);
        assert_eq!(p.streams_closed(), 1);
        assert!(sent(&mut p).is_empty());
        stream(&mut p, now, options("whole").as_bytes());
        assert_eq!(sent(&mut p), ["200 OPTIONS"]);
        // A whole message leaves the (empty) framer until the close.
        assert_eq!(p.stream_count(), 1);
    }

    /// RFC 3261 sections 18.3 and 21.4.1: a message whose end is known
    /// (Content-Length) but that does not parse is answered 400 like a bad
    /// datagram, and the connection goes on with the next message.
    #[test]
    fn rfc3261_21_4_1_malformed_stream_message_is_answered_and_the_stream_goes_on() {
        let mut p = tcp_party();
        let now = Instant::now();
        let bad = options("bad").replace("Max-Forwards: 70\r\n", "Max-Forwards 70\r\n");
        let bytes = bad + &options("good");
        stream(&mut p, now, bytes.as_bytes());
        assert_eq!(sent(&mut p), ["400 OPTIONS", "200 OPTIONS"]);
        assert_eq!(p.stream_count(), 1);
    }

    /// RFC 3261 sections 18.3, 21.4.1 and 21.4.13: a request that cannot
    /// be framed (no Content-Length on a stream, or a body announced over
    /// the size limit) is answered 400 or 413 when its headers can be
    /// read, and the connection's buffer is dropped (the driver closes it).
    #[test]
    fn rfc3261_18_3_unframeable_stream_requests_are_answered_400_or_413() {
        let now = Instant::now();
        let whole = options("unframed");
        let without_length = whole.replace("Content-Length: 0\r\n", "");
        let too_large = whole.replace("Content-Length: 0", "Content-Length: 100000");
        for (bytes, answer) in [(without_length, "400 OPTIONS"), (too_large, "413 OPTIONS")] {
            let mut p = tcp_party();
            stream(&mut p, now, bytes.as_bytes());
            assert_eq!(sent(&mut p), [answer], "{bytes}");
            assert_eq!(p.framer.len(), 0);
        }
    }

    /// Connections that close without the driver saying so cannot make the
    /// framer table grow without end: idle framers are dropped past a
    /// bound, and one holding a partial message is kept.
    #[test]
    fn framers_of_unreported_closes_stay_bounded() {
        let mut p = tcp_party();
        let now = Instant::now();
        let partial = options("partial");
        stream(&mut p, now, &partial.as_bytes()[..30]);
        for port in 0..(MAX_IDLE_FRAMERS as u16 * 2) {
            p.handle_input(Input::StreamData {
                now,
                transport: Transport::Tcp,
                source: SocketAddr::from(([127, 0, 0, 2], 10_000 + port)),
                destination: LOCAL.parse().unwrap(),
                bytes: b"\r\n\r\n",
            });
            assert!(p.framer.len() <= MAX_IDLE_FRAMERS);
        }
        while !matches!(p.poll_output(), Output::Timeout(_) | Output::Idle) {}
        stream(&mut p, now, &partial.as_bytes()[30..]);
        assert_eq!(sent(&mut p), ["200 OPTIONS"]);
    }
}
