//! The endpoint task: owns the core [`Party`](CoreParty), the sockets and
//! the timer, and loops: feed what happened, drain the outputs, sleep until
//! the next input, command or timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipparty_core::party::{
    CallPolicy, DialogId, DialogState, Event, Input, InviteOptions, Output, Party as CoreParty,
    RegisterOptions, RegistrationId, RegistrationState, RequestId,
};
use sipparty_core::transport::locate::{Answer, DnsRecord, LookupId};
use sipparty_core::Transport;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, info, trace, warn};

use crate::dns::{DnsResolver, SystemResolver};
use crate::io::{Io, IoEvent};
use crate::{Dialog, DialogShared, Error, IncomingCall, Registration, RequestOutcome};

/// What the application asks of the task.
#[derive(Debug)]
pub(crate) enum Command {
    Invite {
        target: String,
        options: InviteOptions,
        reply: oneshot::Sender<Result<Dialog, Error>>,
    },
    Dialog {
        id: DialogId,
        action: DialogAction,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Register {
        registrar: String,
        options: RegisterOptions,
        reply: oneshot::Sender<Result<Registration, Error>>,
    },
    Unregister {
        id: RegistrationId,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Request {
        kind: RequestKind,
        target: String,
        options: InviteOptions,
        reply: oneshot::Sender<Result<RequestOutcome, Error>>,
    },
    SetPolicy(CallPolicy),
    Stats(oneshot::Sender<Stats>),
}

/// A command on one dialog.
#[derive(Debug)]
pub(crate) enum DialogAction {
    Terminate,
    Hold,
    Resume,
    Dtmf(String),
    Info { content_type: String, body: Vec<u8> },
    Accept,
    Reject(u16),
}

/// A request outside any dialog.
#[derive(Debug)]
pub(crate) enum RequestKind {
    Options,
    Message { content_type: String, body: Vec<u8> },
}

/// Counters of the task, for tests and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Live dialogs in the core.
    pub dialogs: usize,
    /// Live transactions in the core.
    pub transactions: usize,
    /// Open media sockets.
    pub media_sockets: usize,
    /// Open or opening stream connections (TCP and TLS).
    pub connections: usize,
    /// Stream connections that closed normally (the peer closed, or
    /// idle), each reported to the core as `Input::StreamClosed`.
    pub streams_closed: u64,
}

/// A call the application holds a [`Dialog`] for.
struct CallEntry {
    states: watch::Sender<DialogState>,
    shared: Arc<DialogShared>,
}

/// A DNS answer on its way back to the loop.
type DnsAnswer = (LookupId, std::io::Result<Vec<DnsRecord>>);

pub(crate) struct Driver {
    pub(crate) party: CoreParty,
    pub(crate) io: Io,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) weak: mpsc::WeakSender<Command>,
    pub(crate) incoming: mpsc::Sender<IncomingCall>,
    pub(crate) events: broadcast::Sender<Event>,
    calls: HashMap<DialogId, CallEntry>,
    registrations: HashMap<RegistrationId, watch::Sender<RegistrationState>>,
    requests: HashMap<RequestId, oneshot::Sender<Result<RequestOutcome, Error>>>,
    deadline: Option<Instant>,
    local_ip_family_v6: bool,
    /// Answers the core's RFC 3263 questions; each lookup runs as its own
    /// task and its answer comes back through `dns_answers`. None: the
    /// system's, made at the first lookup.
    pub(crate) resolver: Option<Arc<dyn DnsResolver>>,
    dns_tx: mpsc::UnboundedSender<DnsAnswer>,
    dns_answers: mpsc::UnboundedReceiver<DnsAnswer>,
}

/// How long a stopping endpoint keeps running to finish the calls it
/// ended (a CANCEL waits for a provisional response, a BYE for its 200).
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The task's clock (Tokio's, so a paused test clock applies).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    pub(crate) fn new(
        party: CoreParty,
        io: Io,
        commands: mpsc::Receiver<Command>,
        weak: mpsc::WeakSender<Command>,
        incoming: mpsc::Sender<IncomingCall>,
        events: broadcast::Sender<Event>,
        v6: bool,
    ) -> Driver {
        let (dns_tx, dns_answers) = mpsc::unbounded_channel();
        Driver {
            party,
            io,
            commands,
            weak,
            incoming,
            events,
            calls: HashMap::new(),
            registrations: HashMap::new(),
            requests: HashMap::new(),
            deadline: None,
            local_ip_family_v6: v6,
            resolver: None,
            dns_tx,
            dns_answers,
        }
    }

    /// The loop. Ends when every [`Party`](crate::Party) handle is gone
    /// and the calls it ended are over (or [`SHUTDOWN_GRACE`] passed).
    pub(crate) async fn run(mut self) {
        debug!(
            aor = self.party.aor(),
            v6 = self.local_ip_family_v6,
            "endpoint task started"
        );
        let mut closing: Option<tokio::time::Instant> = None;
        let mut immediate = 0u32;
        loop {
            self.drain();
            // A deadline already due (the core answering "at once" by a
            // timer) is served without a trip through the timer wheel,
            // whose 1 ms tick would add that much latency to each step.
            // Bounded, so a core that keeps asking cannot starve the
            // sockets.
            if let Some(at) = self.deadline {
                let now = now();
                if at <= now && immediate < 16 {
                    immediate += 1;
                    self.party.handle_input(Input::Timeout(now));
                    continue;
                }
            }
            immediate = 0;
            if let Some(end) = closing {
                if self.party.dialog_count() == 0 || tokio::time::Instant::now() >= end {
                    break;
                }
            }
            // The connections' keep-alive and idle timers share the wake-up.
            let next = match (self.deadline, self.io.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut deadline = next
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            if let Some(end) = closing {
                deadline = deadline.min(end);
            }
            tokio::select! {
                cmd = self.commands.recv(), if closing.is_none() => match cmd {
                    Some(c) => self.command(c),
                    None => {
                        self.end_calls();
                        closing = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                    }
                },
                ev = std::future::poll_fn(|cx| self.io.poll_event(cx)) => self.io_event(ev),
                Some((id, result)) = self.dns_answers.recv() => self.dns_answer(id, result),
                () = tokio::time::sleep_until(deadline) => {
                    let now = now();
                    self.io.handle_timeout(now);
                    self.party.handle_input(Input::Timeout(now));
                }
            }
        }
        info!(
            aor = self.party.aor(),
            left = self.party.dialog_count(),
            "endpoint task stopped"
        );
    }

    /// The last handle is gone: end the calls politely (BYE, CANCEL, or
    /// ACK and BYE for a 2xx still on its way) before the sockets close.
    fn end_calls(&mut self) {
        let now = now();
        let ids: Vec<DialogId> = self.party.dialog_ids().collect();
        debug!(calls = ids.len(), "shutting down, ending calls");
        for id in ids {
            if let Some(d) = self.party.dialog(id) {
                let _ = d.terminate(now);
            }
        }
    }

    /// Run the core's outputs until it says when to wake up.
    fn drain(&mut self) {
        loop {
            match self.party.poll_output() {
                Output::Transmit(t) => {
                    trace!(transport = %t.transport, destination = %t.destination, len = t.bytes.len(), "send");
                    self.io.send(t.transport, t.destination, t.bytes);
                }
                Output::MediaTransmit(m) => self.io.send_media(m.source, m.destination, &m.bytes),
                Output::Event(e) => self.event(e),
                Output::Timeout(at) => {
                    self.deadline = Some(at);
                    break;
                }
                _ => {
                    self.deadline = None;
                    break;
                }
            }
        }
    }

    fn io_event(&mut self, ev: IoEvent) {
        let now = now();
        match ev {
            IoEvent::Datagram { source, local, len } => {
                self.party.handle_input(Input::Datagram {
                    now,
                    transport: Transport::Udp,
                    source,
                    destination: local,
                    bytes: &self.io.buf[..len],
                });
            }
            // Framed by the driver without parsing (which answers
            // keep-alives), so the core gets a whole message, as from a
            // datagram, and parses it once.
            IoEvent::Message {
                transport,
                peer,
                local,
                bytes,
            } => {
                self.party.handle_input(Input::Datagram {
                    now,
                    transport,
                    source: peer,
                    destination: local,
                    bytes: &bytes,
                });
            }
            // What could not be framed: the core answers a request it can
            // read (RFC 3261 sections 21.4.1 and 21.4.13) on the connection,
            // which then closes.
            IoEvent::Unframeable {
                transport,
                peer,
                local,
                bytes,
            } => {
                self.party.handle_input(Input::StreamData {
                    now,
                    transport,
                    source: peer,
                    destination: local,
                    bytes: &bytes,
                });
            }
            // A normal close: responses the core still owes on it go to
            // the requests' Via (RFC 3261 section 18.2.2); its framer, if
            // any, is dropped.
            IoEvent::Closed { transport, peer } => {
                self.party.handle_input(Input::StreamClosed {
                    now,
                    transport,
                    source: peer,
                });
            }
            IoEvent::Unreachable {
                transport,
                destination,
            } => {
                debug!(%transport, %destination, "transport error");
                self.party.handle_input(Input::TransportError {
                    now,
                    transport,
                    destination,
                });
            }
        }
    }

    /// RFC 3263: the core asks a DNS question; look it up off the loop.
    fn lookup(&mut self, id: LookupId, query: sipparty_core::transport::resolve::Query) {
        let resolver = self
            .resolver
            .get_or_insert_with(|| Arc::new(SystemResolver::new()))
            .clone();
        let answers = self.dns_tx.clone();
        tokio::spawn(async move {
            let result = resolver.lookup(&query).await;
            // The loop is gone when this fails: nobody to tell.
            let _ = answers.send((id, result));
        });
    }

    fn dns_answer(&mut self, id: LookupId, result: std::io::Result<Vec<DnsRecord>>) {
        if let Err(e) = &result {
            debug!(%id, error = %e, "DNS lookup failed");
        }
        self.party.handle_input(Input::Resolved {
            now: now(),
            id,
            answer: Answer::from_lookup(&result),
        });
    }

    fn command(&mut self, cmd: Command) {
        let now = now();
        match cmd {
            Command::Invite {
                target,
                options,
                reply,
            } => {
                let result = self.party.invite(now, &target, options);
                match result {
                    Ok(id) => {
                        let dialog = self.track(id);
                        if reply.send(Ok(dialog)).is_err() {
                            // The invite future was dropped: nobody will
                            // ever see this call, so end it (cancel
                            // safety).
                            debug!(%id, "invite abandoned by the application, ending the call");
                            if let Some(d) = self.party.dialog(id) {
                                let _ = d.terminate(now);
                            }
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Party(e)));
                    }
                }
            }
            Command::Dialog { id, action, reply } => {
                let r = self.dialog_action(now, id, action);
                let _ = reply.send(r);
            }
            Command::Register {
                registrar,
                options,
                reply,
            } => match self.party.register(now, &registrar, options) {
                Ok(id) => {
                    let (tx, rx) = watch::channel(RegistrationState::Registering);
                    self.registrations.insert(id, tx);
                    let _ = reply.send(Ok(Registration {
                        id,
                        states: rx,
                        commands: self.weak.clone(),
                    }));
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Party(e)));
                }
            },
            Command::Unregister { id, reply } => {
                let r = match self.party.registration(id) {
                    Some(h) => h.unregister(now).map_err(Error::Party),
                    None => Err(Error::Party(sipparty_core::party::Error::Unknown)),
                };
                let _ = reply.send(r);
            }
            Command::Request {
                kind,
                target,
                options,
                reply,
            } => {
                let r = match kind {
                    RequestKind::Options => self.party.options_with(now, &target, options),
                    RequestKind::Message { content_type, body } => {
                        self.party
                            .message(now, &target, &content_type, &body, options)
                    }
                };
                match r {
                    Ok(id) => {
                        self.requests.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Party(e)));
                    }
                }
            }
            Command::SetPolicy(p) => self.party.set_policy(p),
            Command::Stats(reply) => {
                let _ = reply.send(Stats {
                    dialogs: self.party.dialog_count(),
                    transactions: self.party.transaction_count(),
                    media_sockets: self.io.media_count(),
                    connections: self.io.connection_count(),
                    streams_closed: self.party.streams_closed(),
                });
            }
        }
    }

    fn dialog_action(
        &mut self,
        now: Instant,
        id: DialogId,
        action: DialogAction,
    ) -> Result<(), Error> {
        let unknown = || Error::Party(sipparty_core::party::Error::Unknown);
        match action {
            DialogAction::Accept => self
                .party
                .incoming(id)
                .ok_or_else(unknown)?
                .accept(now)
                .map_err(Error::Party),
            DialogAction::Reject(code) => self
                .party
                .incoming(id)
                .ok_or_else(unknown)?
                .reject(now, code)
                .map_err(Error::Party),
            action => {
                let d = self.party.dialog(id).ok_or_else(unknown)?;
                match action {
                    DialogAction::Terminate => d.terminate(now),
                    DialogAction::Hold => d.hold(now),
                    DialogAction::Resume => d.resume(now),
                    DialogAction::Dtmf(digits) => d.send_dtmf(now, &digits),
                    DialogAction::Info { content_type, body } => {
                        d.send_info(now, &content_type, &body)
                    }
                    DialogAction::Accept | DialogAction::Reject(_) => Ok(()),
                }
                .map_err(Error::Party)
            }
        }
    }

    /// Start following core dialog `id` for the application.
    fn track(&mut self, id: DialogId) -> Dialog {
        let state = self
            .party
            .dialog_state(id)
            .unwrap_or(DialogState::InitiatingDialog);
        let (tx, rx) = watch::channel(state);
        let shared = Arc::new(DialogShared::default());
        self.calls.insert(
            id,
            CallEntry {
                states: tx,
                shared: shared.clone(),
            },
        );
        Dialog {
            id,
            states: rx,
            shared,
            commands: self.weak.clone(),
        }
    }

    fn event(&mut self, event: Event) {
        trace!(?event, "event");
        match &event {
            Event::DialogStateChanged { id, state } => self.state_changed(*id, *state),
            Event::ResolveRequest { id, query } => self.lookup(*id, query.clone()),
            Event::IncomingCall {
                id,
                from,
                to,
                source,
                has_offer,
                needs_decision,
            } => {
                let dialog = match self.calls.get(id) {
                    Some(c) => Dialog {
                        id: *id,
                        states: c.states.subscribe(),
                        shared: c.shared.clone(),
                        commands: self.weak.clone(),
                    },
                    None => self.track(*id),
                };
                let call = IncomingCall {
                    dialog,
                    from: from.clone(),
                    to: to.clone(),
                    source: *source,
                    has_offer: *has_offer,
                    needs_decision: *needs_decision,
                };
                if let Err(e) = self.incoming.try_send(call) {
                    // Nobody is reading, or too slowly: a call the Party
                    // answers itself goes on; one waiting for a decision
                    // is rejected by the Party's answer timeout.
                    debug!(%id, error = %e, "incoming call not delivered to the application");
                }
            }
            Event::MediaSocketOpen { rtp, rtcp, dialog } => {
                for addr in [rtp, rtcp] {
                    if let Err(e) = self.io.open_media(*addr) {
                        warn!(%dialog, %addr, error = %e, "cannot open media socket");
                    }
                }
            }
            Event::MediaSocketClose { rtp, rtcp, .. } => {
                self.io.close_media(*rtp);
                self.io.close_media(*rtcp);
            }
            Event::Registration { id, state } => {
                if let Some(tx) = self.registrations.get(id) {
                    tx.send_replace(state.clone());
                }
                if matches!(
                    state,
                    RegistrationState::Unregistered | RegistrationState::Failed(_)
                ) {
                    self.registrations.remove(id);
                }
            }
            Event::RequestCompleted { id, outcome } => {
                if let Some(reply) = self.requests.remove(id) {
                    let _ = reply.send(Ok(outcome.clone()));
                }
            }
            _ => {}
        }
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event);
        }
    }

    fn state_changed(&mut self, id: DialogId, state: DialogState) {
        if !self.calls.contains_key(&id) {
            // A call the application has not seen yet (incoming, before
            // its IncomingCall event): follow it from now.
            self.track(id);
        }
        let Some(entry) = self.calls.get(&id) else {
            return;
        };
        if state.is_final() {
            if let Some(e) = self.party.last_error(id) {
                if let Ok(mut slot) = entry.shared.error.lock() {
                    *slot = Some(e.clone());
                }
            }
        }
        entry.states.send_replace(state);
        if state.is_final() {
            self.calls.remove(&id);
        }
    }
}
