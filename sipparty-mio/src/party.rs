//! The blocking Party handle.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use sipparty_core::party::{
    CallPolicy, Credentials, DialogId, InviteOptions, Party as CoreParty, PartyConfig, PartyKey,
    RegisterOptions,
};
use sipparty_core::Transport;

use crate::dialog::{Dialog, DialogShared};
use crate::endpoint::{Endpoint, EndpointConfig};
use crate::registration::{RegShared, Registration};
use crate::{Error, Response};

/// Incoming calls and messages kept for an application that does not take
/// them; beyond this the oldest are dropped (the calls themselves go on as
/// the call policy says).
const QUEUE_CAP: usize = 1024;

/// The default RTP range of a core Party; parties left with it get a
/// window of it per endpoint, so two endpoints in one process do not hand
/// out the same ports.
const DEFAULT_RTP_PORTS: (u16, u16) = (16384, 32766);
const RTP_WINDOW: u16 = 2000;
static ENDPOINT_WINDOWS: AtomicUsize = AtomicUsize::new(0);

/// A call that arrived, waiting in the Party's queue.
#[derive(Debug)]
pub(crate) struct PendingIncoming {
    pub(crate) shared: Arc<DialogShared>,
    pub(crate) id: DialogId,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) source: SocketAddr,
    pub(crate) needs_decision: bool,
}

/// A MESSAGE (RFC 3428) received outside or inside a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedMessage {
    /// The From header as received.
    pub from: String,
    /// The Content-Type, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Queues {
    incoming: VecDeque<PendingIncoming>,
    messages: VecDeque<ReceivedMessage>,
    closed: bool,
    /// Threads blocked on the queues (no wake-up call without one).
    waiters: usize,
}

/// What the event loop shares with a Party's handles.
#[derive(Debug, Default)]
pub(crate) struct PartyShared {
    queues: Mutex<Queues>,
    changed: Condvar,
}

impl PartyShared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn push_incoming(&self, call: PendingIncoming) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        if q.incoming.len() >= QUEUE_CAP {
            let dropped = q.incoming.pop_front();
            trace!(id = ?dropped.map(|d| d.id), "incoming queue full, oldest dropped");
        }
        q.incoming.push_back(call);
        let wake = q.waiters > 0;
        drop(q);
        if wake {
            self.changed.notify_all();
        }
    }

    pub(crate) fn push_message(&self, from: String, content_type: Option<String>, body: Vec<u8>) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        if q.messages.len() >= QUEUE_CAP {
            q.messages.pop_front();
        }
        q.messages.push_back(ReceivedMessage {
            from,
            content_type,
            body,
        });
        let wake = q.waiters > 0;
        drop(q);
        if wake {
            self.changed.notify_all();
        }
    }

    /// No more incoming calls will come (the endpoint stopped or the last
    /// handle is gone): wake every waiter.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

enum Slot {
    /// Not yet on an endpoint: commands edit the core Party directly.
    Detached(Box<CoreParty>),
    Attached {
        endpoint: Endpoint,
        key: PartyKey,
    },
    /// Attaching failed after the core Party was handed over.
    Lost,
}

struct PartyInner {
    aor: String,
    slot: Mutex<Slot>,
    shared: Arc<PartyShared>,
}

impl Drop for PartyInner {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// A SIP user agent with the blocking API of the original library.
///
/// Cheap to clone, `Send + Sync`. A Party starts detached; [`Party::listen`]
/// (or the first call, registration or OPTIONS) puts it on the
/// process-wide shared endpoint, [`Party::listen_on`] on its own socket and
/// [`Party::attach`] on an endpoint bound beforehand. Requests reach the
/// Party whose address of record matches their Request-URI.
#[derive(Clone)]
pub struct Party {
    inner: Arc<PartyInner>,
}

impl std::fmt::Debug for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Party")
            .field("aor", &self.inner.aor)
            .finish_non_exhaustive()
    }
}

impl Party {
    /// A Party made of a core configuration.
    pub fn new(config: PartyConfig) -> Party {
        Self::from_core(CoreParty::new(config, crate::random::os_seeded()))
    }

    /// Wrap a core Party (its random source is replaced by one seeded from
    /// the operating system).
    pub fn from_core(mut party: CoreParty) -> Party {
        party.set_random(crate::random::os_seeded());
        Party {
            inner: Arc::new(PartyInner {
                aor: party.aor().to_string(),
                slot: Mutex::new(Slot::Detached(Box::new(party))),
                shared: Arc::new(PartyShared::default()),
            }),
        }
    }

    /// The address of record (`sip:alice@atlanta.com`).
    pub fn aor(&self) -> &str {
        &self.inner.aor
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.inner.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the configuration (call policy, media, credentials...). Takes
    /// effect for calls started afterwards.
    pub fn configure(
        &self,
        f: impl FnOnce(&mut PartyConfig) + Send + 'static,
    ) -> Result<(), Error> {
        let mut slot = self.slot();
        match &mut *slot {
            Slot::Detached(p) => {
                f(p.config_mut());
                Ok(())
            }
            Slot::Attached { endpoint, key } => {
                let key = *key;
                let endpoint = endpoint.clone();
                drop(slot);
                endpoint.call(move |core, _| {
                    if let Some(p) = core.endpoint.party_mut(key) {
                        f(p.config_mut());
                    }
                })
            }
            Slot::Lost => Err(Error::Shutdown),
        }
    }

    /// Run `f` on the core Party (in the event loop once attached) and
    /// return its result: the escape hatch to everything the core offers
    /// that this API does not wrap.
    pub fn with_core<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut CoreParty, Instant) -> R + Send + 'static,
    {
        let mut slot = self.slot();
        match &mut *slot {
            Slot::Detached(p) => Ok(f(p, Instant::now())),
            Slot::Attached { endpoint, key } => {
                let key = *key;
                let endpoint = endpoint.clone();
                drop(slot);
                endpoint
                    .call(move |core, now| core.endpoint.party_mut(key).map(|p| f(p, now)))?
                    .ok_or(Error::Shutdown)
            }
            Slot::Lost => Err(Error::Shutdown),
        }
    }

    /// What to do with incoming calls (answer, ring then answer, reject,
    /// or ask the application through [`Party::next_incoming`]).
    pub fn set_call_policy(&self, policy: CallPolicy) -> Result<(), Error> {
        self.configure(move |c| c.policy = policy)
    }

    /// Credentials for digest authentication (RFC 3261 section 22).
    pub fn set_credentials(&self, username: &str, password: &str) -> Result<(), Error> {
        let creds = Credentials {
            username: username.to_string(),
            password: password.to_string(),
            realm: None,
        };
        self.configure(move |c| c.credentials = Some(creds))
    }

    /// Listen on the process-wide shared endpoint (see
    /// [`Endpoint::shared_default`]). Does nothing if the Party already
    /// listens somewhere.
    pub fn listen(&self) -> Result<(), Error> {
        if self.endpoint().is_some() {
            return Ok(());
        }
        self.attach(&Endpoint::shared_default()?)
    }

    /// Listen on a UDP socket of its own bound to `addr` (port 0: any).
    pub fn listen_on(&self, addr: SocketAddr) -> Result<(), Error> {
        self.listen_with(EndpointConfig::udp(addr))
    }

    /// Listen on an endpoint of its own bound as `config` says (UDP, TCP,
    /// TLS).
    pub fn listen_with(&self, config: EndpointConfig) -> Result<(), Error> {
        if self.endpoint().is_some() {
            return Err(Error::AlreadyListening);
        }
        self.attach(&Endpoint::bind_with(config)?)
    }

    /// Share an endpoint that is already bound (with other parties).
    pub fn attach(&self, endpoint: &Endpoint) -> Result<(), Error> {
        let mut slot = self.slot();
        let party = match std::mem::replace(&mut *slot, Slot::Lost) {
            Slot::Detached(p) => p,
            other => {
                let same =
                    matches!(&other, Slot::Attached { endpoint: e, .. } if e.same_as(endpoint));
                *slot = other;
                return match (same, &*slot) {
                    (true, _) => Ok(()),
                    (false, Slot::Lost) => Err(Error::Shutdown),
                    (false, _) => Err(Error::AlreadyListening),
                };
            }
        };
        let mut party = party;
        if party.config().rtp_ports == DEFAULT_RTP_PORTS {
            let w = ENDPOINT_WINDOWS.fetch_add(1, Ordering::Relaxed) as u16 % 8;
            let lo = DEFAULT_RTP_PORTS.0 + w * RTP_WINDOW;
            party.config_mut().rtp_ports = (lo, lo + RTP_WINDOW - 1);
        }
        let shared = self.inner.shared.clone();
        let key = endpoint.call(move |core, _| {
            let key = core.endpoint.add(*party);
            // Keys are handed out in order, so the vector index is the key.
            debug_assert_eq!(key.0, core.parties.len());
            core.parties.push(shared);
            key
        })?;
        debug!(aor = %self.inner.aor, party = key.0, "attached to endpoint");
        *slot = Slot::Attached {
            endpoint: endpoint.clone(),
            key,
        };
        Ok(())
    }

    /// The endpoint the Party listens on, if it does.
    pub fn endpoint(&self) -> Option<Endpoint> {
        match &*self.slot() {
            Slot::Attached { endpoint, .. } => Some(endpoint.clone()),
            _ => None,
        }
    }

    /// The address the Party advertises for `transport`, once listening.
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.endpoint().and_then(|e| e.local_addr(transport))
    }

    /// The endpoint and key, listening on the shared endpoint first if the
    /// Party is detached.
    fn attached(&self) -> Result<(Endpoint, PartyKey), Error> {
        if let Slot::Attached { endpoint, key } = &*self.slot() {
            return Ok((endpoint.clone(), *key));
        }
        self.listen()?;
        match &*self.slot() {
            Slot::Attached { endpoint, key } => Ok((endpoint.clone(), *key)),
            _ => Err(Error::Shutdown),
        }
    }

    /// Place a call to `target` (`bob@biloxi.com`, `sip:bob@127.0.0.1:5070`).
    /// Returns once the INVITE is on its way; follow the call through the
    /// returned [`Dialog`].
    pub fn invite(&self, target: &str, options: InviteOptions) -> Result<Dialog, Error> {
        let (endpoint, key) = self.attached()?;
        let target = target.to_string();
        let (id, shared) = endpoint.call(move |core, now| {
            let party = core
                .endpoint
                .party_mut(key)
                .ok_or(sipparty_core::party::Error::Unknown)?;
            let id = party.invite(now, &target, options)?;
            // Registered before the core's events for it are drained, so
            // none is missed.
            let shared = DialogShared::new(true);
            core.dialogs.insert((key, id), shared.clone());
            Ok::<_, sipparty_core::party::Error>((id, shared))
        })??;
        Ok(Dialog {
            shared,
            endpoint,
            key,
            id,
        })
    }

    /// Register with `registrar` (`127.0.0.1:5060`, `sip:registrar.example`);
    /// the Party refreshes the binding until [`Registration::unregister`].
    pub fn register(
        &self,
        registrar: &str,
        options: RegisterOptions,
    ) -> Result<Registration, Error> {
        let (endpoint, key) = self.attached()?;
        let registrar = registrar.to_string();
        let (id, shared) = endpoint.call(move |core, now| {
            let party = core
                .endpoint
                .party_mut(key)
                .ok_or(sipparty_core::party::Error::Unknown)?;
            let id = party.register(now, &registrar, options)?;
            let shared = RegShared::new();
            core.registrations.insert((key, id), shared.clone());
            Ok::<_, sipparty_core::party::Error>((id, shared))
        })??;
        Ok(Registration {
            shared,
            endpoint,
            key,
            id,
        })
    }

    /// Send OPTIONS to `target` and wait for the final response (a 408 is
    /// reported after Timer F, 32 s, if nobody answers).
    pub fn options(&self, target: &str) -> Result<Response, Error> {
        self.options_with(target, InviteOptions::default())
    }

    /// OPTIONS with routing options (proxy, destination).
    pub fn options_with(&self, target: &str, options: InviteOptions) -> Result<Response, Error> {
        let target = target.to_string();
        self.request(move |p, now| p.options_with(now, &target, options))
    }

    /// Send a MESSAGE (RFC 3428) outside any dialog and wait for the final
    /// response.
    pub fn message(
        &self,
        target: &str,
        content_type: &str,
        body: &[u8],
        options: InviteOptions,
    ) -> Result<Response, Error> {
        let (target, ct, body) = (target.to_string(), content_type.to_string(), body.to_vec());
        self.request(move |p, now| p.message(now, &target, &ct, &body, options))
    }

    fn request<F>(&self, f: F) -> Result<Response, Error>
    where
        F: FnOnce(
                &mut CoreParty,
                Instant,
            )
                -> Result<sipparty_core::party::RequestId, sipparty_core::party::Error>
            + Send
            + 'static,
    {
        let (endpoint, key) = self.attached()?;
        let (tx, rx) = mpsc::sync_channel(1);
        endpoint.call(move |core, now| {
            let party = core
                .endpoint
                .party_mut(key)
                .ok_or(sipparty_core::party::Error::Unknown)?;
            let id = f(party, now)?;
            core.requests.insert((key, id), tx);
            Ok::<_, sipparty_core::party::Error>(())
        })??;
        rx.recv().map_err(|_| Error::Shutdown)
    }

    /// The next incoming call, waiting up to `timeout` (None: for ever).
    /// Returns `Ok(None)` on timeout.
    pub fn next_incoming(&self, timeout: Option<Duration>) -> Result<Option<IncomingCall>, Error> {
        let (endpoint, _) = self.attached()?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let shared = &self.inner.shared;
        let mut q = shared.lock();
        loop {
            if let Some(p) = q.incoming.pop_front() {
                return Ok(Some(IncomingCall::new(p, endpoint, self.key()?)));
            }
            if q.closed {
                return Err(Error::Shutdown);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
            q.waiters += 1;
            q = match left {
                None => shared.changed.wait(q).unwrap_or_else(|p| p.into_inner()),
                Some(left) => {
                    shared
                        .changed
                        .wait_timeout(q, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            q.waiters -= 1;
        }
    }

    /// Wait for the next incoming call and answer it (if the call policy
    /// left the decision to the application; otherwise it is already being
    /// answered as the policy says).
    pub fn accept(&self) -> Result<Dialog, Error> {
        match self.next_incoming(None)? {
            Some(call) => call.accept(),
            None => Err(Error::Timeout),
        }
    }

    /// As [`Party::accept`], giving up after `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Option<Dialog>, Error> {
        match self.next_incoming(Some(timeout))? {
            Some(call) => call.accept().map(Some),
            None => Ok(None),
        }
    }

    /// Call `f` on a thread of its own for every incoming call. The thread
    /// ends when the Party's last handle is dropped or its endpoint stops.
    /// `f` may block (accept, wait for states...): it runs outside the
    /// event loop.
    pub fn on_incoming_call<F>(&self, f: F) -> Result<(), Error>
    where
        F: Fn(IncomingCall) + Send + 'static,
    {
        let (endpoint, key) = self.attached()?;
        let shared = self.inner.shared.clone();
        let weak = Arc::downgrade(&self.inner);
        thread::Builder::new()
            .name("sipparty-incoming".into())
            .spawn(move || loop {
                let next = {
                    let mut q = shared.lock();
                    loop {
                        if let Some(p) = q.incoming.pop_front() {
                            break Some(p);
                        }
                        if q.closed || weak.strong_count() == 0 {
                            break None;
                        }
                        q.waiters += 1;
                        q = shared
                            .changed
                            .wait_timeout(q, Duration::from_millis(500))
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                        q.waiters -= 1;
                    }
                };
                match next {
                    Some(p) => f(IncomingCall::new(p, endpoint.clone(), key)),
                    None => break,
                }
            })?;
        Ok(())
    }

    /// The next MESSAGE received, waiting up to `timeout`.
    pub fn next_message(&self, timeout: Duration) -> Option<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        let shared = &self.inner.shared;
        let mut q = shared.lock();
        loop {
            if let Some(m) = q.messages.pop_front() {
                return Some(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || q.closed {
                return None;
            }
            q.waiters += 1;
            q = shared
                .changed
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            q.waiters -= 1;
        }
    }

    fn key(&self) -> Result<PartyKey, Error> {
        match &*self.slot() {
            Slot::Attached { key, .. } => Ok(*key),
            _ => Err(Error::Shutdown),
        }
    }
}

/// A call that arrived. With the `AskApplication` policy it rings until
/// [`IncomingCall::accept`] or [`IncomingCall::reject`]; with the other
/// policies the Party is already answering it and this is a notice.
#[derive(Debug)]
#[must_use = "an incoming call waiting for a decision rings until accepted or rejected"]
pub struct IncomingCall {
    dialog: Dialog,
    from: String,
    to: String,
    source: SocketAddr,
    needs_decision: bool,
}

impl IncomingCall {
    fn new(p: PendingIncoming, endpoint: Endpoint, key: PartyKey) -> Self {
        IncomingCall {
            dialog: Dialog {
                shared: p.shared,
                endpoint,
                key,
                id: p.id,
            },
            from: p.from,
            to: p.to,
            source: p.source,
            needs_decision: p.needs_decision,
        }
    }

    /// The caller: the From header as received.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// The callee: the To header as received.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// Where the INVITE came from.
    pub fn source(&self) -> SocketAddr {
        self.source
    }

    /// Whether the application must decide (policy `AskApplication`).
    pub fn needs_decision(&self) -> bool {
        self.needs_decision
    }

    /// The call's dialog, to watch it without deciding yet.
    pub fn dialog(&self) -> &Dialog {
        &self.dialog
    }

    /// Answer 200 OK (if a decision is needed) and return the dialog.
    pub fn accept(self) -> Result<Dialog, Error> {
        if self.needs_decision {
            self.decide(|inc, now| inc.accept(now))?;
        }
        Ok(self.dialog)
    }

    /// Refuse with `code` (486 Busy Here, 603 Decline...).
    pub fn reject(self, code: u16) -> Result<Dialog, Error> {
        if self.needs_decision {
            self.decide(move |inc, now| inc.reject(now, code))?;
        } else {
            warn!("reject of a call the policy already answers: terminating it");
            self.dialog.terminate()?;
        }
        Ok(self.dialog)
    }

    /// Send a provisional response (180 Ringing, 183 Session Progress).
    pub fn ring(&self, code: u16) -> Result<(), Error> {
        self.decide(move |mut inc, now| {
            inc.ring(now, code);
            Ok(())
        })
    }

    fn decide<F>(&self, f: F) -> Result<(), Error>
    where
        F: FnOnce(
                sipparty_core::party::Incoming<'_>,
                Instant,
            ) -> Result<(), sipparty_core::party::Error>
            + Send
            + 'static,
    {
        let (key, id) = (self.dialog.key, self.dialog.id);
        self.dialog.endpoint.call(move |core, now| {
            let party = core
                .endpoint
                .party_mut(key)
                .ok_or(sipparty_core::party::Error::Unknown)?;
            match party.incoming(id) {
                Some(inc) => f(inc, now),
                None => Err(sipparty_core::party::Error::Unknown),
            }
        })??;
        Ok(())
    }
}
