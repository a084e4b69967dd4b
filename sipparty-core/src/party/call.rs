//! INVITE sessions (RFC 3261 sections 13 to 15): placing and taking calls,
//! CANCEL, BYE, re-INVITE (hold, resume, glare), and the requests that
//! travel inside a call (UPDATE, INFO, MESSAGE, OPTIONS).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use super::early::uas_supported;
use super::early::CallExt;
use super::event::{DialogError, DialogId, DialogState, Event};
use super::media::CallMedia;
use super::timer::{CallTimer, TimerTable};
use super::LocalTag;
use super::{
    config, resolve_uri, validate, CallPolicy, Error, InviteOptions, Owner, Party, TxKind, ACCEPT,
    ALLOW, UAC_SUPPORTED,
};
use crate::dialog::{Dialog, Phase};
use crate::message::{self, HeaderName, Message, Method};
use crate::transaction::TransactionId;
use crate::transport::Transport;

/// What we asked of a CANCEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancel {
    /// Not asked.
    No,
    /// Asked before any provisional response: sent when one arrives
    /// (RFC 3261 section 9.1 forbids a CANCEL before that).
    Pending,
    /// Sent.
    Sent,
}

/// Our outgoing INVITE while it is in progress.
#[derive(Debug)]
pub(crate) struct UacInvite {
    pub(crate) tx: TransactionId,
    pub(crate) request: Message,
    pub(crate) destination: SocketAddr,
    pub(crate) provisional: bool,
    pub(crate) cancel: Cancel,
    pub(crate) redirected: bool,
    pub(crate) offered: bool,
    pub(crate) retried_422: bool,
    /// The INVITE carries Authorization or Proxy-Authorization lines (a
    /// digest answer, or the application's own), which its ACK and the
    /// dialog's requests repeat (section 22.1): known without looking.
    pub(crate) credentials: bool,
}

/// An incoming INVITE not answered finally yet.
#[derive(Debug)]
pub(crate) struct UasInvite {
    pub(crate) tx: TransactionId,
    pub(crate) request: Message,
    /// The SDP we will send in the 2xx: an answer to the INVITE's offer, or
    /// our offer when the INVITE had none.
    pub(crate) sdp: Option<Vec<u8>>,
    pub(crate) needs_decision: bool,
}

/// An ACK as sent: its bytes, and the CSeq number of the INVITE it
/// acknowledges (to tell which 2xx a retransmission belongs to).
#[derive(Debug)]
pub(crate) struct SentAck {
    pub(crate) bytes: Box<[u8]>,
    pub(crate) cseq: u32,
}

/// Our 2xx to an INVITE, retransmitted until the ACK (RFC 3261 section
/// 13.3.1.4).
#[derive(Debug)]
pub(crate) struct Pending2xx {
    pub(crate) response: Message,
    pub(crate) cseq: u32,
    pub(crate) interval: Duration,
    /// The 2xx carried our offer: the ACK carries the answer.
    pub(crate) offer_in_2xx: bool,
}

/// Which re-INVITE we want (hold or resume), kept to retry after 491.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reinvite {
    Hold,
    Resume,
    /// The current media offered again.
    Renegotiate,
}

/// One call: the dialog the application sees and everything in flight.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) state: DialogState,
    pub(crate) last_error: Option<DialogError>,
    pub(crate) uac: bool,
    pub(crate) local_tag: LocalTag,
    pub(crate) transport: Transport,
    /// The first hop of the INVITE (UAC) or its source (UAS): the fallback
    /// next hop when a URI names a host we cannot resolve.
    pub(crate) peer: SocketAddr,
    pub(crate) dialog: Option<Dialog>,
    pub(crate) timers: TimerTable,
    pub(crate) out_invite: Option<Box<UacInvite>>,
    pub(crate) in_invite: Option<Box<UasInvite>>,
    pub(crate) pending_2xx: Option<Box<Pending2xx>>,
    /// The ACK we sent for the peer's 2xx, serialized, sent again for
    /// each retransmission of it (RFC 3261 section 13.2.2.4).
    pub(crate) ack: Option<SentAck>,
    pub(crate) media: Option<Box<CallMedia>>,
    /// Our re-INVITE in flight, or waiting to be retried after 491.
    pub(crate) reinvite: Option<(Reinvite, Option<TransactionId>)>,
    /// The peer's re-INVITE or UPDATE being answered.
    pub(crate) serving_reinvite: bool,
    pub(crate) bye_after_ack: bool,
    pub(crate) bye_sent: bool,
    /// The session timer (RFC 4028): interval, and whether we refresh.
    pub(crate) session: Option<(Duration, bool)>,
    /// Reliable provisionals, forks, UPDATE offers (see `early.rs`).
    pub(crate) ext: Option<Box<CallExt>>,
}

impl Call {
    pub(crate) fn awaiting_decision(&self) -> bool {
        self.in_invite.as_ref().is_some_and(|u| u.needs_decision)
            && matches!(
                self.state,
                DialogState::InitiatingDialog | DialogState::Early
            )
    }

    /// A CSeq we used outside `Dialog::create_request` (auth retry,
    /// redirect): later requests must go above it.
    pub(crate) fn note_local_cseq(&mut self, seq: u32) {
        if let Some(d) = &mut self.dialog {
            d.local_seq = d.local_seq.max(seq);
        }
    }
}

impl Party {
    // ------------------------------------------------------------------
    // UAC: placing a call
    // ------------------------------------------------------------------

    pub(crate) fn start_call(
        &mut self,
        now: Instant,
        target: &str,
        options: InviteOptions,
    ) -> Result<DialogId, Error> {
        if self.calls.len() >= self.config.max_dialogs {
            return Err(Error::TooManyDialogs);
        }
        let target = config::normalize_uri(target)?;
        let (hop, route) =
            self.route_for(&target, options.proxy.as_deref(), options.destination)?;
        let (destination, transport) = (hop.addr(), hop.transport());
        let local = self.local_for(transport)?;
        let id = DialogId(self.new_id());
        let tag = self.new_tag();
        let call_id = self.new_call_id(transport)?;

        let mut req = Message::request(Method::Invite, &target);
        self.push_via(&mut req, transport)?;
        match &self.config.display_name {
            None => {
                req.add_header_parts(HeaderName::From, &["<", &self.config.aor, ">;tag=", &tag])
            }
            Some(_) => req.add_header_parts(HeaderName::From, &[&self.our_from(), ";tag=", &tag]),
        }
        req.add_header_parts(HeaderName::To, &["<", &target, ">"]);
        req.add_header(HeaderName::CallId, &call_id);
        req.add_header(HeaderName::CSeq, "1 INVITE");
        req.add_header(HeaderName::Contact, &self.contact(transport)?);
        if let Some(r) = &route {
            req.add_header(HeaderName::Route, r);
        }
        req.add_header(HeaderName::Allow, ALLOW);
        req.add_header(HeaderName::Supported, UAC_SUPPORTED);
        if let Some(se) = self.config.session_expires {
            // RFC 4028 section 7.1: ask for a session timer, leaving the
            // refresher to the UAS's choice.
            let secs = se.as_secs().max(90);
            req.add_header(HeaderName::SessionExpires, &secs.to_string());
        }
        if let Some(s) = &options.subject {
            req.add_header(HeaderName::Other("Subject".into()), s);
        }
        for (name, value) in &options.headers {
            req.add_header(HeaderName::from_bytes(name.as_bytes()), value);
        }
        self.common_request_headers(&mut req);

        let mut media = None;
        if !options.no_media {
            if let Some(caps) = self.config.media.clone() {
                let mut m = self.open_media(id, local.ip(), caps)?;
                if !options.delayed_offer {
                    let offer = m.negotiator.create_offer().to_bytes();
                    req.set_body(Some("application/sdp"), &offer);
                    m.offer_pending = true;
                }
                media = Some(m);
            }
        }
        let offered = media.is_some() && !options.delayed_offer;
        let tx = match self.send_routed(now, &req, &hop, Owner::Call(id), TxKind::Invite) {
            Ok(tx) => tx,
            Err(e) => {
                if let Some(m) = media {
                    self.close_media_quietly(id, &m);
                }
                return Err(e);
            }
        };
        let call = Call {
            state: DialogState::InitiatingDialog,
            last_error: None,
            uac: true,
            local_tag: tag,
            transport,
            peer: destination,
            dialog: None,
            timers: TimerTable::default(),
            out_invite: Some(Box::new(UacInvite {
                tx,
                request: req,
                destination,
                provisional: false,
                cancel: Cancel::No,
                redirected: false,
                offered,
                retried_422: false,
                credentials: options
                    .headers
                    .iter()
                    .any(|(name, _)| is_credentials(&HeaderName::from_bytes(name.as_bytes()))),
            })),
            in_invite: None,
            pending_2xx: None,
            ack: None,
            media: media.map(Box::new),
            reinvite: None,
            serving_reinvite: false,
            bye_after_ack: false,
            bye_sent: false,
            session: None,
            ext: None,
        };
        self.calls.insert(id, Box::new(call));
        self.by_tag.insert(tag, id);
        // A large INVITE may have gone over TCP (RFC 3261 section 18.1.1).
        self.sync_call_route(id, tx);
        debug!(%id, %target, %destination, "INVITE sent");
        self.events.push_back(Event::DialogStateChanged {
            id,
            state: DialogState::InitiatingDialog,
        });
        Ok(id)
    }

    /// A response to one of a call's client transactions.
    pub(crate) fn on_call_response(
        &mut self,
        now: Instant,
        id: DialogId,
        tx: TransactionId,
        kind: TxKind,
        response: Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        match kind {
            TxKind::Invite => self.on_invite_response(now, id, tx, status, response),
            TxKind::ReInvite => self.on_reinvite_response(now, id, status, response),
            TxKind::Bye if status >= 200 => {
                // Whatever the answer (200, 481, 408), the dialog is gone
                // (RFC 3261 sections 15.1.1 and 12.2.1.2).
                self.finish_call(now, id, DialogState::Terminated, None);
            }
            TxKind::Update if status >= 200 && self.is_offer_update(id, tx) => {
                self.on_offer_update_response(now, id, status, &response)
            }
            TxKind::Update if status >= 200 => self.on_update_response(now, id, status, &response),
            _ => trace!(%id, status, ?kind, "response ignored"),
        }
    }

    fn on_invite_response(
        &mut self,
        now: Instant,
        id: DialogId,
        tx: TransactionId,
        status: u16,
        response: Message,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(out) = call.out_invite.as_mut() else {
            // The INVITE was replaced (auth retry, redirect): this is the
            // old transaction, unless it is a 2xx (handled below).
            if (200..300).contains(&status) {
                self.on_invite_2xx(now, id, response);
            }
            return;
        };
        if out.tx != tx && !(200..300).contains(&status) {
            return;
        }
        match status {
            100 => {}
            101..=199 => {
                out.provisional = true;
                let cancel_now = out.cancel == Cancel::Pending;
                if cancel_now {
                    self.send_cancel(now, id);
                }
                self.on_provisional(now, id, status, &response);
            }
            200..=299 => self.on_invite_2xx(now, id, response),
            422 if out.cancel == Cancel::No && !out.retried_422 => {
                // RFC 4028 section 7.4: ask again with the peer's Min-SE.
                let min_se = response
                    .header(&HeaderName::MinSe)
                    .and_then(|v| v.split(';').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match min_se {
                    Some(secs) => {
                        out.retried_422 = true;
                        if let Err(e) = self.resend_invite(now, id, |req| {
                            req.set_header(HeaderName::SessionExpires, &secs.to_string());
                            req.set_header(HeaderName::MinSe, &secs.to_string());
                        }) {
                            debug!(%id, error = %e, "cannot retry after 422");
                            self.fail_with_response(now, id, status, &response);
                        }
                    }
                    None => self.fail_with_response(now, id, status, &response),
                }
            }
            300..=399 => {
                let redirected = out.redirected;
                let contact = crate::dialog::contact_uri(&response);
                match (redirected, contact, out.cancel) {
                    (false, Some(target), Cancel::No) => {
                        if let Err(e) = self.redirect(now, id, target) {
                            debug!(%id, error = %e, "cannot follow redirect");
                            self.fail_with_response(now, id, status, &response);
                        }
                    }
                    _ => self.fail_with_response(now, id, status, &response),
                }
            }
            _ => {
                if out.cancel != Cancel::No {
                    // 487 to our CANCEL, or any final answer: a normal end.
                    self.finish_call(now, id, DialogState::Terminated, None);
                } else if status == 401 || status == 407 {
                    let realm = challenge_realm(&response);
                    self.finish_call(
                        now,
                        id,
                        DialogState::Error,
                        Some(DialogError::AuthenticationFailed {
                            code: status,
                            realm,
                        }),
                    );
                } else {
                    self.fail_with_response(now, id, status, &response);
                }
            }
        }
    }

    fn fail_with_response(&mut self, now: Instant, id: DialogId, status: u16, response: &Message) {
        let reason = response
            .reason()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| message::reason_phrase(status))
            .to_string();
        self.finish_call(
            now,
            id,
            DialogState::Error,
            Some(DialogError::Rejected {
                code: status,
                reason,
            }),
        );
    }

    fn on_provisional(&mut self, now: Instant, id: DialogId, status: u16, response: &Message) {
        // Which early dialog: the call's, or a fork of it (`fork.rs`).
        let target = self.early_dialog_for(id, status, response);
        // RFC 3262 section 4: a reliable provisional that repeats or skips
        // an RSeq is not processed at all (no event, no early answer).
        if target.is_some_and(|t| !self.reliable_in_order(t, response)) {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(out) = call.out_invite.as_ref() else {
            return;
        };
        // A provisional with a To tag creates an early dialog (RFC 3261
        // section 12.1.2); the call follows the first one.
        if call.dialog.is_none() && target == Some(id) {
            match Dialog::from_uac_response_as(&out.request, &call.local_tag, response) {
                Ok(d) => {
                    let remote_tag = d.remote_tag().to_string();
                    call.dialog = Some(d);
                    self.events.push_back(Event::EarlyDialog {
                        call: id,
                        dialog: id,
                        remote_tag,
                        code: status,
                    });
                }
                Err(e) => debug!(%id, error = %e, "provisional response cannot create a dialog"),
            }
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        // Early media: a 1xx may carry the answer (RFC 3264, RFC 3261
        // section 13.2.1), each early dialog its own (`early.rs`).
        let early_answer = !response.body().is_empty()
            && call.media.is_some()
            && call.out_invite.as_ref().is_some_and(|o| o.offered);
        // Our INVITE had no offer: a reliable provisional's is answered in
        // the PRACK (RFC 3262 section 5).
        let mut prack_answer = None;
        let early_offer = target == Some(id)
            && !response.body().is_empty()
            && super::early::has_tag(response, &HeaderName::Require, super::early::TAG_100REL)
            && call.out_invite.as_ref().is_some_and(|o| !o.offered)
            && call.media.as_ref().is_some_and(|m| m.info.is_none());
        if early_answer {
            if let (Some(dialog), Some(tag)) = (target, response.to_tag().flatten()) {
                self.on_early_answer(now, id, dialog, tag, response.body());
            }
        }
        if early_offer {
            match self.apply_offer(now, id, response.body()) {
                Ok(answer) => prack_answer = Some(answer),
                Err(e) => debug!(%id, error = %e, "early offer refused"),
            }
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let early = call.state == DialogState::InitiatingDialog && call.dialog.is_some();
        // The application hears of the response before of the state it
        // causes.
        self.events.push_back(Event::Progress {
            id: target.unwrap_or(id),
            code: status,
            reason: response.reason().unwrap_or("").to_string(),
        });
        if early {
            self.set_state(id, DialogState::Early);
        }
        if let Some(t) = target {
            let answered = prack_answer.is_some();
            self.maybe_prack(now, t, response, prack_answer);
            if answered {
                self.media_negotiated(now, id);
            }
        }
    }

    /// RFC 3262: a reliable provisional (Require: 100rel with RSeq) is
    /// acknowledged with PRACK in the early dialog.
    /// Returns whether a PRACK went (a new reliable provisional, in
    /// order); a retransmitted or out-of-order one is not processed further
    /// (section 4).
    fn maybe_prack(
        &mut self,
        now: Instant,
        id: DialogId,
        response: &Message,
        answer: Option<Vec<u8>>,
    ) -> bool {
        let Some(rseq) = reliable_rseq(response) else {
            return false;
        };
        let Some(cseq) = response.cseq().and_then(Result::ok) else {
            return false;
        };
        if !self.reliable_in_order(id, response) {
            return false;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if call.dialog.is_none() {
            return false;
        }
        call.ext_mut().rseq_in = Some(rseq);
        let Some(dialog) = call.dialog.as_mut() else {
            return false;
        };
        let mut prack = dialog.create_request(Method::Prack, None);
        prack.add_header(
            HeaderName::RAck,
            &format!("{rseq} {} {}", cseq.seq, cseq.method),
        );
        if let Some(a) = &answer {
            prack.set_body(Some("application/sdp"), a);
        }
        self.send_in_dialog(now, id, prack, TxKind::Prack).is_ok()
    }

    /// RFC 3262 section 4: whether `response` may be processed as far as
    /// its RSeq goes in early dialog `id`: a retransmission (RSeq not above
    /// the last one we acknowledged for this request) is not, and neither
    /// is one that skips a number (the UAS retransmits the missing one
    /// first). Unreliable responses and the first reliable one pass.
    fn reliable_in_order(&self, id: DialogId, response: &Message) -> bool {
        let Some(last) = self
            .calls
            .get(&id)
            .and_then(|c| c.ext())
            .and_then(|e| e.rseq_in)
        else {
            return true;
        };
        let Some(rseq) = reliable_rseq(response) else {
            return true;
        };
        if rseq <= last {
            // The PRACK's own transaction retransmits the acknowledgement.
            trace!(%id, rseq, "reliable provisional retransmitted");
            false
        } else if rseq != last.wrapping_add(1) {
            debug!(%id, rseq, last, "reliable provisional out of order, ignored");
            false
        } else {
            true
        }
    }

    fn on_invite_2xx(&mut self, now: Instant, id: DialogId, response: Message) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let remote_tag = response.to_tag().flatten().unwrap_or("");
        // Whether a confirmed dialog exists, and if so whether this 2xx is
        // from its peer.
        let confirmed_same = call
            .dialog
            .as_ref()
            .filter(|d| d.phase == Phase::Confirmed)
            .map(|d| d.remote_tag() == remote_tag);
        match confirmed_same {
            Some(true) => {
                // A retransmission: our ACK was lost (section 13.2.2.4).
                if let Some(ack) = call.ack.as_ref().map(|a| a.bytes.to_vec()) {
                    let dest = self.next_hop_of(id);
                    trace!(%id, "2xx retransmission, ACK again");
                    self.tx
                        .send_stateless_bytes(ack, dest, call_transport(self, id));
                }
                return;
            }
            Some(false) => {
                // Forking: a second branch answered. ACK it, then end that
                // dialog with BYE (RFC 3261 section 13.2.2.4).
                self.ack_and_bye_fork(now, id, &response);
                return;
            }
            None => {}
        }
        if call
            .dialog
            .as_ref()
            .is_some_and(|d| d.remote_tag() != remote_tag)
            && call.ext().is_some_and(|e| !e.forks.is_empty())
        {
            // A fork answered: its early dialog becomes the call's.
            self.adopt_fork_dialog(id, remote_tag);
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(out) = call.out_invite.as_ref() else {
            return;
        };
        let cancelled = out.cancel != Cancel::No;
        let offered = out.offered;
        let cseq = out
            .request
            .cseq()
            .and_then(Result::ok)
            .map(|c| c.seq)
            .unwrap_or(1);
        let dialog = match call.dialog.take() {
            Some(mut d) if d.remote_tag() == remote_tag => {
                d.confirm_with(&response);
                d
            }
            _ => match Dialog::from_uac_response_as(&out.request, &call.local_tag, &response) {
                Ok(d) => d,
                Err(e) => {
                    warn!(%id, error = %e, "2xx cannot create a dialog");
                    self.finish_call(
                        now,
                        id,
                        DialogState::Error,
                        Some(DialogError::Protocol(e.to_string())),
                    );
                    return;
                }
            },
        };
        call.dialog = Some(dialog);
        if let Some(out) = call.out_invite.as_mut() {
            out.cancel = if cancelled { Cancel::Sent } else { Cancel::No };
        }

        // The answer (or, when we sent no offer, the offer) is in the 2xx.
        let mut ack_body = None;
        let mut media_error = None;
        if offered && call.media.is_some() {
            // RFC 3261 section 13.2.2.4: the session is the answering
            // callee's, whichever early dialog the media followed.
            match self.settle_early_answers(now, id, remote_tag, response.body()) {
                Some(r) => media_error = r.err(),
                None => {
                    let pending = self
                        .calls
                        .get(&id)
                        .and_then(|c| c.media.as_ref())
                        .is_some_and(|m| m.offer_pending);
                    if pending && !response.body().is_empty() {
                        media_error = self.apply_answer(now, id, response.body()).err();
                    }
                }
            }
        } else if call.media.as_ref().is_some_and(|m| m.info.is_none())
            && !response.body().is_empty()
        {
            // Not answered in a PRACK already: the offer of the 2xx is
            // answered in the ACK.
            match self.apply_offer(now, id, response.body()) {
                Ok(answer) => ack_body = Some(answer),
                Err(e) => media_error = Some(e),
            }
        }
        // The other early dialogs are over (RFC 3261 section 13.2.2.4).
        self.end_forks(now, id, DialogState::Terminated);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.dialog.is_none() {
            return;
        }
        if let Err(e) = self.send_dialog_ack(id, cseq, ack_body.as_deref()) {
            warn!(%id, error = %e, "cannot build ACK");
        }
        if cancelled {
            // Our CANCEL lost the race with the 2xx: the call is up, and
            // we still want it down (RFC 3261 section 9.1).
            self.set_state(id, DialogState::InDialog);
            self.send_bye(now, id);
            return;
        }
        if let Some(e) = media_error {
            self.set_state(id, DialogState::InDialog);
            if let Some(c) = self.calls.get_mut(&id) {
                c.last_error = Some(e);
            }
            self.send_bye(now, id);
            return;
        }
        self.set_state(id, DialogState::InDialog);
        self.start_session_timer(now, id, &response, true);
        if ack_body.is_some() {
            self.media_negotiated(now, id);
        }
    }

    /// A 2xx from another callee than the call's: ACK it, then end that
    /// dialog with BYE (section 13.2.2.4).
    fn ack_and_bye_fork(&mut self, now: Instant, id: DialogId, response: &Message) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(out) = call.out_invite.as_ref() else {
            return;
        };
        let Ok(mut fork) = Dialog::from_uac_response_as(&out.request, &call.local_tag, response)
        else {
            return;
        };
        // Count on from the PRACKs we sent in its early dialog.
        if let Some(seq) = self.fork_seq(id, fork.remote_tag()) {
            fork.local_seq = fork.local_seq.max(seq);
        }
        self.ack_and_bye_other(now, id, &mut fork);
    }

    /// Follow a 3xx once: the same request to the first Contact, CSeq one
    /// higher, new branch (RFC 3261 section 8.1.3.4).
    fn redirect(&mut self, now: Instant, id: DialogId, target: &str) -> Result<(), Error> {
        let hop = self.hop_for_uri(target)?;
        let (addr, transport) = (hop.addr(), hop.transport());
        let Some(call) = self.calls.get_mut(&id) else {
            return Ok(());
        };
        let Some(out) = call.out_invite.as_mut() else {
            return Ok(());
        };
        let mut req = out.request.clone();
        req.set_request_uri(target);
        req.remove_header(&HeaderName::Route);
        let seq = req.cseq().and_then(Result::ok).map(|c| c.seq).unwrap_or(1) + 1;
        req.set_header(HeaderName::CSeq, &format!("{seq} INVITE"));
        self.replace_via(&mut req, transport)?;
        let tx = self.send_routed(now, &req, &hop, Owner::Call(id), TxKind::Invite)?;
        if let Some(out) = self.calls.get_mut(&id).and_then(|c| c.out_invite.as_mut()) {
            out.tx = tx;
            out.request = req;
            out.destination = addr;
            out.redirected = true;
            out.provisional = false;
        }
        if let Some(c) = self.calls.get_mut(&id) {
            c.peer = addr;
            c.dialog = None;
        }
        // A new callee answers the same offer afresh.
        self.invite_sent_again(id);
        self.sync_call_route(id, tx);
        debug!(%id, %target, "following redirect");
        Ok(())
    }

    /// The same INVITE again as a new transaction (new branch, CSeq one
    /// higher), changed by `edit`.
    fn resend_invite(
        &mut self,
        now: Instant,
        id: DialogId,
        edit: impl FnOnce(&mut Message),
    ) -> Result<(), Error> {
        let Some(call) = self.calls.get(&id) else {
            return Ok(());
        };
        let Some(out) = call.out_invite.as_ref() else {
            return Ok(());
        };
        let (mut req, dest, transport) = (out.request.clone(), out.destination, call.transport);
        let seq = req.cseq().and_then(Result::ok).map(|c| c.seq).unwrap_or(1) + 1;
        req.set_header(HeaderName::CSeq, &format!("{seq} INVITE"));
        self.replace_via(&mut req, transport)?;
        edit(&mut req);
        let tx = self.send_request(
            now,
            req.clone(),
            dest,
            transport,
            Owner::Call(id),
            TxKind::Invite,
            0,
        )?;
        if let Some(out) = self.calls.get_mut(&id).and_then(|c| c.out_invite.as_mut()) {
            out.tx = tx;
            out.request = req;
            out.provisional = false;
        }
        // The same offer again: answers to the old INVITE do not count.
        self.invite_sent_again(id);
        Ok(())
    }

    /// After a digest retry the call follows the new transaction.
    pub(crate) fn retarget_call_tx(
        &mut self,
        id: DialogId,
        old: TransactionId,
        new: TransactionId,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(out) = call.out_invite.as_mut() {
            if out.tx == old {
                out.tx = new;
                if let Some(t) = self.txs.get(&new).and_then(|t| t.request.as_deref()) {
                    out.request = t.clone();
                    out.credentials = carries_credentials(t);
                }
            }
        }
        if let Some((_, tx)) = call.reinvite.as_mut() {
            if *tx == Some(old) {
                *tx = Some(new);
            }
        }
    }

    fn send_cancel(&mut self, now: Instant, id: DialogId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(out) = call.out_invite.as_mut() else {
            return;
        };
        out.cancel = Cancel::Sent;
        let invite = &out.request;
        // RFC 3261 section 9.1: same Request-URI, Call-ID, To, From, CSeq
        // number and top Via as the INVITE, and its Route headers.
        let mut cancel = Message::request(Method::Cancel, invite.request_uri().unwrap_or(""));
        if let Some(v) = invite.header_values(&HeaderName::Via).next() {
            cancel.add_header(HeaderName::Via, v);
        }
        for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
            if let Some(v) = invite.header(&name) {
                cancel.add_header(name, v);
            }
        }
        let seq = invite
            .cseq()
            .and_then(Result::ok)
            .map(|c| c.seq)
            .unwrap_or(1);
        cancel.add_header(HeaderName::CSeq, &format!("{seq} CANCEL"));
        for r in invite.headers(&HeaderName::Route) {
            cancel.add_header(HeaderName::Route, r);
        }
        let (dest, transport) = (out.destination, call.transport);
        self.common_request_headers(&mut cancel);
        debug!(%id, "CANCEL sent");
        let _ = self.send_request(
            now,
            cancel,
            dest,
            transport,
            Owner::Call(id),
            TxKind::Cancel,
            0,
        );
    }

    // ------------------------------------------------------------------
    // UAS: taking a call
    // ------------------------------------------------------------------

    /// A new request arrived in a new server transaction.
    pub(crate) fn on_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        request: Message,
        source: SocketAddr,
        transport: Transport,
    ) {
        let with_100rel = self.config.reliable_provisionals != config::ReliableProvisionals::Never;
        if let Some(resp) = validate::check_request(&request, with_100rel) {
            debug!(
                status = resp.status(),
                "request refused by section 8.2 checks"
            );
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        let Some(method) = request.method().cloned() else {
            return;
        };
        if let Some(to_tag) = request.to_tag().flatten() {
            let call = LocalTag::parse(to_tag)
                .and_then(|t| self.by_tag.get(&t))
                .copied()
                .and_then(|id| self.dialog_for_request(id, &request));
            match call {
                Some(id) => self.on_in_dialog_request(now, id, tx, method, request, source),
                None => {
                    // RFC 3261 section 12.2.2: no such dialog.
                    let resp = Message::response_to(&request, 481, None);
                    let _ = self.tx.send_response(now, tx, resp);
                }
            }
            return;
        }
        // Merged requests (section 8.2.2.2): same From tag, Call-ID and
        // CSeq as one being served, on another branch (a fork reaching us
        // twice).
        let key = merge_key(&request);
        if matches!(method, Method::Invite | Method::Message) {
            if let Some(resp) = self.challenge(now, &request) {
                let _ = self.tx.send_response(now, tx, resp);
                return;
            }
        }
        if let Some(key) = key {
            if let Some((served, _)) = self.serving.get_key_value(&key) {
                if served.branch() != key.branch() {
                    let resp = Message::response_to(&request, 482, None);
                    let _ = self.tx.send_response(now, tx, resp);
                    return;
                }
                // The same branch: the new entry replaces it (a map keeps
                // the old key on insert).
                self.serving.remove(&key);
            }
            if method == Method::Invite {
                self.serving.insert(key, tx);
            }
        }
        match method {
            Method::Invite => self.on_new_invite(now, tx, request, source, transport),
            Method::Options => {
                let resp = self.options_response(&request, None);
                let _ = self.tx.send_response(now, tx, resp);
            }
            Method::Message => {
                let tag = self.new_tag();
                let resp = Message::response_to(&request, 200, Some(&tag));
                let _ = self.tx.send_response(now, tx, resp);
                self.events.push_back(Event::MessageReceived {
                    dialog: None,
                    from: request.header(&HeaderName::From).unwrap_or("").to_string(),
                    content_type: request.header(&HeaderName::ContentType).map(str::to_string),
                    body: request.body().to_vec(),
                });
            }
            _ => {
                // BYE, CANCEL, INFO, UPDATE, PRACK outside a dialog or
                // matching no transaction (sections 9.2 and 12.2.2).
                let resp = Message::response_to(&request, 481, None);
                let _ = self.tx.send_response(now, tx, resp);
            }
        }
    }

    fn options_response(&mut self, request: &Message, tag: Option<&str>) -> Message {
        let new;
        let tag = match tag {
            Some(t) => t,
            None => {
                new = self.new_tag();
                &*new
            }
        };
        let mut resp = Message::response_to(request, 200, Some(tag));
        resp.add_header(HeaderName::Allow, ALLOW);
        resp.add_header(HeaderName::Accept, ACCEPT);
        resp.add_header(HeaderName::Supported, uas_supported(&self.config));
        if let Some(ua) = &self.config.user_agent {
            resp.add_header(HeaderName::Server, ua);
        }
        resp
    }

    fn on_new_invite(
        &mut self,
        now: Instant,
        tx: TransactionId,
        request: Message,
        source: SocketAddr,
        transport: Transport,
    ) {
        if self.calls.len() >= self.config.max_dialogs {
            let mut resp = Message::response_to(&request, 503, None);
            resp.add_header(HeaderName::RetryAfter, "5");
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        if let Some(resp) = super::session_timer::too_small(&request) {
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        let reliable = self.reliable_for(&request);
        let id = DialogId(self.new_id());
        let tag = self.new_tag();
        let dialog = match Dialog::from_uas_request(&request, &tag) {
            Ok(d) => d,
            Err(e) => {
                let resp = Message::response_to(&request, e.status(), None);
                let _ = self.tx.send_response(now, tx, resp);
                return;
            }
        };
        let local_ip = self
            .local_address(transport)
            .map(|a| a.ip())
            .unwrap_or_else(|| source.ip());
        let has_offer = !request.body().is_empty();
        let mut media = None;
        let mut sdp = None;
        if let Some(caps) = self.config.media.clone() {
            match self.open_media(id, local_ip, caps) {
                Ok(m) => media = Some(Box::new(m)),
                Err(_) => {
                    let resp = Message::response_to(&request, 503, None);
                    let _ = self.tx.send_response(now, tx, resp);
                    return;
                }
            }
        } else if has_offer {
            // A signalling-only party cannot answer an offer.
            let mut resp = Message::response_to(&request, 488, Some(&tag));
            resp.add_header(HeaderName::Warning, "304 - \"Media type not available\"");
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        let needs_decision = matches!(self.config.policy, CallPolicy::AskApplication);
        let call = Call {
            state: DialogState::InitiatingDialog,
            last_error: None,
            uac: false,
            local_tag: tag,
            transport,
            peer: source,
            dialog: Some(dialog),
            timers: TimerTable::default(),
            out_invite: None,
            in_invite: None,
            pending_2xx: None,
            ack: None,
            media,
            reinvite: None,
            serving_reinvite: false,
            bye_after_ack: false,
            bye_sent: false,
            session: None,
            ext: None,
        };
        self.calls.insert(id, Box::new(call));
        self.by_tag.insert(tag, id);
        if self.calls.get(&id).is_some_and(|c| c.media.is_some()) {
            let result = if has_offer {
                self.apply_offer(now, id, request.body())
            } else {
                Ok(self.create_offer(id))
            };
            match result {
                Ok(body) => sdp = Some(body),
                Err(e) => {
                    let tag = self.calls.get(&id).map(|c| c.local_tag);
                    let mut resp = Message::response_to(&request, 488, tag.as_deref());
                    resp.add_header(HeaderName::Warning, "304 - \"Media type not available\"");
                    let _ = self.tx.send_response(now, tx, resp);
                    self.finish_call_silently(id, e);
                    return;
                }
            }
        }
        let from = request.header(&HeaderName::From).unwrap_or("").to_string();
        let to = request.header(&HeaderName::To).unwrap_or("").to_string();
        if let Some(c) = self.calls.get_mut(&id) {
            c.in_invite = Some(Box::new(UasInvite {
                tx,
                request,
                sdp,
                needs_decision,
            }));
            if reliable.is_some() {
                c.ext_mut().rel = reliable;
            }
        }
        self.events.push_back(Event::DialogStateChanged {
            id,
            state: DialogState::InitiatingDialog,
        });
        self.events.push_back(Event::IncomingCall {
            id,
            from,
            to,
            source,
            has_offer,
            needs_decision,
        });
        debug!(%id, %source, "incoming call");
        match self.config.policy {
            CallPolicy::AutoAnswer => self.answer(now, id),
            CallPolicy::RingThenAnswer { delay } => {
                self.ring_or_early_media(now, id);
                self.set_call_timer(id, CallTimer::Answer, now + delay);
            }
            CallPolicy::Reject { code } => self.reject(now, id, code),
            CallPolicy::AskApplication => {
                self.ring_or_early_media(now, id);
                let deadline = now + self.config.answer_timeout;
                self.set_call_timer(id, CallTimer::Answer, deadline);
            }
        }
    }

    /// A response to the incoming INVITE, with what 1xx/2xx need (RFC 3261
    /// section 12.1.1: Record-Route copied, Contact).
    pub(crate) fn invite_response(&self, id: DialogId, code: u16) -> Option<Message> {
        let call = self.calls.get(&id)?;
        let uas = call.in_invite.as_ref()?;
        let mut resp = Message::response_to(&uas.request, code, Some(&call.local_tag));
        if code < 300 {
            for rr in uas.request.headers(&HeaderName::RecordRoute) {
                resp.add_header(HeaderName::RecordRoute, rr);
            }
            if let Ok(c) = self.contact(call.transport) {
                resp.add_header(HeaderName::Contact, &c);
            }
        }
        Some(resp)
    }

    pub(crate) fn send_provisional(&mut self, now: Instant, id: DialogId, code: u16) {
        self.send_provisional_with(now, id, code, None);
    }

    /// Answer the incoming call with 200 and our SDP.
    pub(crate) fn answer(&mut self, now: Instant, id: DialogId) {
        if self.defer_answer(id) {
            // RFC 3262 section 3: not before the PRACK.
            if let Some(c) = self.calls.get_mut(&id) {
                c.timers.stop(CallTimer::Answer);
                if let Some(u) = c.in_invite.as_mut() {
                    u.needs_decision = false;
                }
            }
            return;
        }
        let Some(mut resp) = self.invite_response(id, 200) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(uas) = call.in_invite.take() else {
            return;
        };
        call.timers.stop(CallTimer::Answer);
        call.timers.stop(CallTimer::Retransmit1xx);
        let early_media = call.ext().is_some_and(|e| e.early_media);
        call.forget_early_phase();
        resp.add_header(HeaderName::Allow, ALLOW);
        resp.add_header(HeaderName::Supported, uas_supported(&self.config));
        let offer_in_2xx = uas.sdp.is_some() && uas.request.body().is_empty();
        if let Some(sdp) = &uas.sdp {
            resp.set_body(Some("application/sdp"), sdp);
        }
        if let Some(ua) = &self.config.user_agent {
            resp.add_header(HeaderName::Server, ua);
        }
        super::session_timer::answer_session_expires(&uas.request, &mut resp);
        if let Some(d) = call.dialog.as_mut() {
            d.phase = Phase::Confirmed;
        }
        let cseq = uas
            .request
            .cseq()
            .and_then(Result::ok)
            .map(|c| c.seq)
            .unwrap_or(0);
        let _ = self.tx.send_response_ref(now, uas.tx, &resp);
        self.await_ack(now, id, resp, cseq, offer_in_2xx);
        self.set_state(id, DialogState::InDialog);
        self.start_session_timer(now, id, &uas.request, false);
        // Early media already started on the answer of the 183.
        if !offer_in_2xx && !early_media {
            self.media_negotiated(now, id);
        }
    }

    /// Keep the 2xx and retransmit it until the ACK (RFC 3261 section
    /// 13.3.1.4): T1, doubling up to T2, for 64*T1.
    fn await_ack(
        &mut self,
        now: Instant,
        id: DialogId,
        response: Message,
        cseq: u32,
        offer_in_2xx: bool,
    ) {
        let t1 = self.config.timers.t1;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.pending_2xx = Some(Box::new(Pending2xx {
            response,
            cseq,
            interval: t1,
            offer_in_2xx,
        }));
        if !call.transport.is_reliable() {
            self.set_call_timer(id, CallTimer::Retransmit2xx, now + t1);
        }
        self.set_call_timer(id, CallTimer::AckWait, now + 64 * t1);
    }

    /// Reject the incoming call with `code`.
    pub(crate) fn reject(&mut self, now: Instant, id: DialogId, code: u16) {
        let code = if (300..700).contains(&code) {
            code
        } else {
            603
        };
        let Some(resp) = self.invite_response(id, code) else {
            return;
        };
        let Some(uas) = self.calls.get_mut(&id).and_then(|c| c.in_invite.take()) else {
            return;
        };
        let _ = self.tx.send_response(now, uas.tx, resp);
        self.finish_call(now, id, DialogState::Terminated, None);
    }

    /// The caller sent CANCEL for an INVITE we have not answered finally:
    /// 487 to the INVITE (the transaction layer answers the CANCEL itself,
    /// RFC 3261 section 9.2).
    pub(crate) fn on_cancelled(&mut self, now: Instant, tx: TransactionId, _cancel: Message) {
        let Some(Owner::Call(id)) = self.txs.get(&tx).map(|t| t.owner).or_else(|| {
            self.calls
                .iter()
                .find(|(_, c)| c.in_invite.as_ref().is_some_and(|u| u.tx == tx))
                .map(|(id, _)| Owner::Call(*id))
        }) else {
            return;
        };
        if self.calls.get(&id).is_some_and(|c| c.in_invite.is_some()) {
            if let Some(resp) = self.invite_response(id, 487) {
                if let Some(uas) = self.calls.get_mut(&id).and_then(|c| c.in_invite.take()) {
                    let _ = self.tx.send_response(now, uas.tx, resp);
                }
            }
            debug!(%id, "caller cancelled");
            self.finish_call(now, id, DialogState::Terminated, None);
        }
    }

    /// ACKs for 2xx and retransmitted 2xx travel outside transactions.
    pub(crate) fn on_stray(
        &mut self,
        now: Instant,
        msg: Message,
        _source: SocketAddr,
        _transport: Transport,
    ) {
        if msg.is_request() {
            if msg.method() != Some(&Method::Ack) {
                return;
            }
            let Some(id) = msg
                .to_tag()
                .flatten()
                .and_then(LocalTag::parse)
                .and_then(|t| self.by_tag.get(&t).copied())
            else {
                trace!("ACK for no known dialog");
                return;
            };
            self.on_ack(now, id, &msg);
        } else if msg.status().is_some_and(|s| (200..300).contains(&s)) {
            let is_invite = msg
                .cseq()
                .and_then(Result::ok)
                .is_some_and(|c| c.method == Method::Invite);
            let Some(id) = msg
                .from_tag()
                .flatten()
                .and_then(LocalTag::parse)
                .and_then(|t| self.by_tag.get(&t).copied())
            else {
                return;
            };
            if !is_invite {
                return;
            }
            let reinvite = self.calls.get(&id).is_some_and(|c| c.out_invite.is_none());
            if reinvite {
                // A retransmitted 2xx to a re-INVITE: ACK again.
                let ack = self.calls.get(&id).and_then(|c| c.ack.as_ref());
                if let Some(ack) = ack.map(|a| a.bytes.to_vec()) {
                    let dest = self.next_hop_of(id);
                    let t = call_transport(self, id);
                    self.tx.send_stateless_bytes(ack, dest, t);
                }
            } else {
                self.on_invite_2xx(now, id, msg);
            }
        }
    }

    fn on_ack(&mut self, now: Instant, id: DialogId, ack: &Message) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let cseq = ack.cseq().and_then(Result::ok).map(|c| c.seq);
        let Some(pending) = call.pending_2xx.as_ref() else {
            return;
        };
        if cseq != Some(pending.cseq) {
            return;
        }
        let offer_in_2xx = pending.offer_in_2xx;
        call.pending_2xx = None;
        call.timers.stop(CallTimer::Retransmit2xx);
        call.timers.stop(CallTimer::AckWait);
        call.serving_reinvite = false;
        if let Some(d) = call.dialog.as_mut() {
            d.refresh_remote_target(ack);
        }
        trace!(%id, "ACK received");
        if offer_in_2xx {
            if ack.body().is_empty() {
                warn!(%id, "no answer in the ACK to our offer");
            } else if let Err(e) = self.apply_answer(now, id, ack.body()) {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.last_error = Some(e);
                }
                self.send_bye(now, id);
                return;
            }
        }
        if self.calls.get(&id).is_some_and(|c| c.bye_after_ack) {
            self.send_bye(now, id);
        }
    }

    // ------------------------------------------------------------------
    // Inside a call
    // ------------------------------------------------------------------

    fn on_in_dialog_request(
        &mut self,
        now: Instant,
        id: DialogId,
        tx: TransactionId,
        method: Method,
        request: Message,
        source: SocketAddr,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        if let Err(e) = dialog.check_remote_cseq(&request) {
            // RFC 3261 section 12.2.2: out of order.
            debug!(%id, error = %e, "refusing in-dialog request");
            let resp = Message::response_to(&request, e.status(), None);
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        call.peer = source;
        match method {
            Method::Bye => {
                let _ = self.tx.send_response_to(now, tx, &request, 200);
                if self.calls.get(&id).is_some_and(|c| c.in_invite.is_some()) {
                    // BYE on an early dialog: the INVITE gets 487
                    // (RFC 3261 section 15.1.2).
                    if let Some(resp) = self.invite_response(id, 487) {
                        if let Some(uas) = self.calls.get_mut(&id).and_then(|c| c.in_invite.take())
                        {
                            let _ = self.tx.send_response(now, uas.tx, resp);
                        }
                    }
                }
                debug!(%id, "BYE received");
                self.finish_call(now, id, DialogState::Terminated, None);
            }
            Method::Invite => self.on_reinvite(now, id, tx, request),
            Method::Update => self.on_update(now, id, tx, request),
            Method::Info => {
                let resp = Message::response_to(&request, 200, None);
                let _ = self.tx.send_response(now, tx, resp);
                let content_type = request.header(&HeaderName::ContentType).map(str::to_string);
                if let Some((digit, duration)) = dtmf_relay(content_type.as_deref(), request.body())
                {
                    self.events.push_back(Event::Dtmf {
                        dialog: id,
                        digit,
                        duration,
                    });
                }
                self.events.push_back(Event::InfoReceived {
                    dialog: id,
                    content_type,
                    body: request.body().to_vec(),
                });
            }
            Method::Message => {
                let resp = Message::response_to(&request, 200, None);
                let _ = self.tx.send_response(now, tx, resp);
                self.events.push_back(Event::MessageReceived {
                    dialog: Some(id),
                    from: request.header(&HeaderName::From).unwrap_or("").to_string(),
                    content_type: request.header(&HeaderName::ContentType).map(str::to_string),
                    body: request.body().to_vec(),
                });
            }
            Method::Options => {
                let resp = self.options_response(&request, None);
                let _ = self.tx.send_response(now, tx, resp);
            }
            Method::Prack => self.on_prack(now, id, tx, request),
            _ => {
                let mut resp = Message::response_to(&request, 405, None);
                resp.add_header(HeaderName::Allow, ALLOW);
                let _ = self.tx.send_response(now, tx, resp);
            }
        }
    }

    /// A re-INVITE from the peer (RFC 3261 section 14.2).
    ///
    /// It is answered finally at once (the transaction layer's 100 Trying
    /// aside, no provisional response goes), so even when it requires
    /// 100rel there is nothing to send reliably: RFC 3262 section 3 governs
    /// the provisionals a UAS sends, and a UAS may always go straight to
    /// the final response. Only a party configured never to do 100rel
    /// refuses `Require: 100rel`: 420 from the request checks
    /// (`validate::check_request`, RFC 3261 section 8.2.2.3), as for an
    /// initial INVITE.
    fn on_reinvite(&mut self, now: Instant, id: DialogId, tx: TransactionId, request: Message) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.reinvite.is_some_and(|(_, t)| t.is_some())
            || call.media.as_ref().is_some_and(|m| m.offer_pending)
        {
            // Glare: our own offer is outstanding.
            let resp = Message::response_to(&request, 491, None);
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        if call.serving_reinvite || call.pending_2xx.is_some() || call.in_invite.is_some() {
            // Section 14.2: an INVITE is still in progress; Retry-After
            // between 0 and 10 s.
            let mut resp = Message::response_to(&request, 500, None);
            let secs = self.rng.next_u64() % 10;
            resp.add_header(HeaderName::RetryAfter, &secs.to_string());
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        if let Some(d) = call.dialog.as_mut() {
            d.refresh_remote_target(&request);
        }
        let has_body = !request.body().is_empty();
        let sdp = if call.media.is_none() {
            if has_body {
                let resp = Message::response_to(&request, 488, None);
                let _ = self.tx.send_response(now, tx, resp);
                return;
            }
            None
        } else if has_body {
            match self.apply_offer(now, id, request.body()) {
                Ok(answer) => Some(answer),
                Err(_) => {
                    // The session goes on unchanged (RFC 3261 section 14.2).
                    let resp = Message::response_to(&request, 488, None);
                    let _ = self.tx.send_response(now, tx, resp);
                    return;
                }
            }
        } else {
            Some(self.create_offer(id))
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.serving_reinvite = true;
        let mut resp = Message::response_to(&request, 200, None);
        let transport = call.transport;
        if let Ok(c) = self.contact(transport) {
            resp.add_header(HeaderName::Contact, &c);
        }
        resp.add_header(HeaderName::Allow, ALLOW);
        resp.add_header(HeaderName::Supported, uas_supported(&self.config));
        if let Some(b) = &sdp {
            resp.set_body(Some("application/sdp"), b);
        }
        super::session_timer::answer_session_expires(&request, &mut resp);
        let cseq = request
            .cseq()
            .and_then(Result::ok)
            .map(|c| c.seq)
            .unwrap_or(0);
        let _ = self.tx.send_response(now, tx, resp.clone());
        self.await_ack(now, id, resp, cseq, !has_body && sdp.is_some());
        self.refresh_session_timer(now, id, &request, false);
        if has_body {
            self.media_negotiated(now, id);
        }
    }

    /// UPDATE from the peer (RFC 3311): an offer answered in its 200.
    fn on_update(&mut self, now: Instant, id: DialogId, tx: TransactionId, request: Message) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(d) = call.dialog.as_mut() {
            d.refresh_remote_target(&request);
        }
        let mut resp = Message::response_to(&request, 200, None);
        super::session_timer::answer_session_expires(&request, &mut resp);
        if !request.body().is_empty() {
            if call
                .in_invite
                .as_ref()
                .is_some_and(|u| u.sdp.is_some() && !u.request.body().is_empty())
            {
                // RFC 3311 section 5.2: the INVITE's offer is not answered
                // (reliably) yet.
                let mut resp = Message::response_to(&request, 500, None);
                let secs = self.rng.next_u64() % 10;
                resp.add_header(HeaderName::RetryAfter, &secs.to_string());
                let _ = self.tx.send_response(now, tx, resp);
                return;
            }
            if call.media.as_ref().is_some_and(|m| m.offer_pending) {
                let resp = Message::response_to(&request, 491, None);
                let _ = self.tx.send_response(now, tx, resp);
                return;
            }
            if call.media.is_none() {
                let resp = Message::response_to(&request, 488, None);
                let _ = self.tx.send_response(now, tx, resp);
                return;
            }
            match self.apply_offer(now, id, request.body()) {
                Ok(answer) => resp.set_body(Some("application/sdp"), &answer),
                Err(_) => {
                    let resp = Message::response_to(&request, 488, None);
                    let _ = self.tx.send_response(now, tx, resp);
                    return;
                }
            }
        }
        let transport = call_transport(self, id);
        if let Ok(c) = self.contact(transport) {
            resp.add_header(HeaderName::Contact, &c);
        }
        let _ = self.tx.send_response(now, tx, resp);
        self.refresh_session_timer(now, id, &request, false);
        if !request.body().is_empty() {
            self.media_negotiated(now, id);
        }
    }

    pub(crate) fn on_update_response(
        &mut self,
        now: Instant,
        id: DialogId,
        status: u16,
        response: &Message,
    ) {
        if (200..300).contains(&status) {
            if let Some(d) = self.calls.get_mut(&id).and_then(|c| c.dialog.as_mut()) {
                d.refresh_remote_target(response);
            }
            self.refresh_session_timer(now, id, response, true);
        }
    }

    /// Put the call on hold (`hold = true`) or take it off, with a
    /// re-INVITE carrying the new direction (RFC 3264 section 8.4).
    pub(crate) fn start_reinvite(
        &mut self,
        now: Instant,
        id: DialogId,
        what: Reinvite,
    ) -> Result<(), Error> {
        let call = self.calls.get_mut(&id).ok_or(Error::Unknown)?;
        if call.state != DialogState::InDialog {
            return Err(Error::InvalidState {
                state: call.state,
                action: match what {
                    Reinvite::Hold => "hold",
                    Reinvite::Resume => "resume",
                    Reinvite::Renegotiate => "re-INVITE",
                },
            });
        }
        // Our UPDATE offer (RFC 3311) is in flight: the same wait.
        let update_busy = call
            .ext()
            .and_then(|e| e.update)
            .is_some_and(|u| u.tx.is_some());
        let media = call.media.as_mut().ok_or(Error::NoMedia)?;
        if call.reinvite.is_some_and(|(_, t)| t.is_some())
            || call.serving_reinvite
            || call.pending_2xx.is_some()
            || update_busy
        {
            // Section 14.1: no re-INVITE while another INVITE is in
            // progress; retry once it is done.
            call.reinvite = Some((what, None));
            let at = now + Duration::from_millis(500);
            self.set_call_timer(id, CallTimer::Glare, at);
            return Ok(());
        }
        match what {
            Reinvite::Hold => media.set_hold(true),
            Reinvite::Resume => media.set_hold(false),
            Reinvite::Renegotiate => {}
        }
        let offer = media.negotiator.create_offer().to_bytes();
        media.offer_pending = true;
        // RFC 3262 section 4: the RSeq order is kept per request; this one
        // starts afresh.
        if let Some(e) = call.ext.as_mut() {
            e.rseq_in = None;
        }
        let dialog = call.dialog.as_mut().ok_or(Error::Unknown)?;
        let mut req = dialog.create_request(Method::Invite, None);
        req.set_body(Some("application/sdp"), &offer);
        let transport = call.transport;
        req.add_header(HeaderName::Contact, &self.contact(transport)?);
        req.add_header(HeaderName::Allow, ALLOW);
        // We PRACK reliable provisionals to a re-INVITE as to the initial
        // INVITE (RFC 3262 section 4), so we say so.
        req.add_header(HeaderName::Supported, UAC_SUPPORTED);
        let tx = self.send_in_dialog(now, id, req, TxKind::ReInvite)?;
        if let Some(c) = self.calls.get_mut(&id) {
            c.reinvite = Some((what, Some(tx)));
        }
        Ok(())
    }

    fn on_reinvite_response(&mut self, now: Instant, id: DialogId, status: u16, response: Message) {
        if status < 200 {
            if status > 100 {
                self.on_reinvite_provisional(now, id, &response);
            }
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let what = call.reinvite.map(|(w, _)| w);
        if (200..300).contains(&status) && what.is_none() {
            // A retransmitted 2xx (our ACK was lost): ACK again, the answer
            // was applied already (RFC 3261 section 13.2.2.4).
            let seq = response.cseq().and_then(Result::ok).map(|c| c.seq);
            let ack = call
                .ack
                .as_ref()
                .filter(|a| Some(a.cseq) == seq)
                .map(|a| a.bytes.to_vec());
            if let Some(ack) = ack {
                let (dest, transport) = (self.next_hop_of(id), call_transport(self, id));
                self.tx.send_stateless_bytes(ack, dest, transport);
            }
            return;
        }
        if (200..300).contains(&status) {
            call.reinvite = None;
            if let Some(d) = call.dialog.as_mut() {
                d.refresh_remote_target(&response);
            }
            let Some(dialog) = call.dialog.as_ref() else {
                return;
            };
            let cseq = response
                .cseq()
                .and_then(Result::ok)
                .map(|c| c.seq)
                .unwrap_or(dialog.local_seq);
            // An answer delivered in a reliable provisional already
            // (RFC 3262 section 5): the 2xx's copy of it changes nothing.
            let answer_due = call.media.as_ref().is_some_and(|m| m.offer_pending);
            if let Err(e) = self.send_dialog_ack(id, cseq, None) {
                warn!(%id, error = %e, "cannot build ACK");
            }
            if answer_due && !response.body().is_empty() {
                if let Err(e) = self.apply_answer(now, id, response.body()) {
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.last_error = Some(e);
                    }
                    self.send_bye(now, id);
                    return;
                }
            }
            self.refresh_session_timer(now, id, &response, true);
            return;
        }
        // The offer is void (RFC 3264 section 8.1 via RFC 3261 14.1).
        if let Some(m) = call.media.as_mut() {
            m.negotiator.rollback();
            m.offer_pending = false;
        }
        match status {
            491 => {
                // Section 14.1: retry after 2.1-4 s if we own the Call-ID
                // (we sent the initial INVITE), else after 0-2 s, in units
                // of 10 ms.
                let r = self.rng.next_u64();
                let wait = if call.uac {
                    Duration::from_millis(2100 + (r % 191) * 10)
                } else {
                    Duration::from_millis((r % 201) * 10)
                };
                call.reinvite = what.map(|w| (w, None));
                debug!(%id, ?wait, "491 glare, retrying re-INVITE");
                self.set_call_timer(id, CallTimer::Glare, now + wait);
            }
            408 | 481 => {
                // Section 14.1 / 12.2.1.2: the dialog is gone.
                call.reinvite = None;
                self.send_bye(now, id);
            }
            _ => call.reinvite = None,
        }
    }

    /// A provisional response to our re-INVITE. A reliable one (RFC 3262)
    /// is PRACKed in the dialog exactly as for the initial INVITE, RSeq
    /// order included (section 4), and may carry the answer to the
    /// re-INVITE's offer (section 5), which then takes effect at once.
    fn on_reinvite_provisional(&mut self, now: Instant, id: DialogId, response: &Message) {
        let reliable =
            super::early::has_tag(response, &HeaderName::Require, super::early::TAG_100REL);
        if !reliable {
            trace!(%id, status = response.status(), "provisional to re-INVITE");
            return;
        }
        let pracked = self.maybe_prack(now, id, response, None);
        let answer_in_1xx = pracked
            && !response.body().is_empty()
            && self
                .calls
                .get(&id)
                .and_then(|c| c.media.as_ref())
                .is_some_and(|m| m.offer_pending);
        if answer_in_1xx {
            if let Err(e) = self.apply_answer(now, id, response.body()) {
                // As for an unusable answer in the 2xx: the re-INVITE
                // cannot be refused any more, the session cannot go on.
                debug!(%id, error = %e, "unusable answer in a reliable provisional");
                if let Some(c) = self.calls.get_mut(&id) {
                    c.last_error = Some(e);
                }
                self.send_bye(now, id);
            }
        }
    }

    /// Build, route and send an in-dialog request in a client transaction.
    pub(crate) fn send_in_dialog(
        &mut self,
        now: Instant,
        id: DialogId,
        mut req: Message,
        kind: TxKind,
    ) -> Result<TransactionId, Error> {
        let transport = self.calls.get(&id).ok_or(Error::Unknown)?.transport;
        self.push_via(&mut req, transport)?;
        self.common_request_headers(&mut req);
        let invite = self.calls.get(&id).and_then(|c| c.out_invite.as_ref());
        if let Some(inv) = invite.filter(|i| i.credentials) {
            copy_credentials(&inv.request, &mut req);
        }
        if matches!(kind, TxKind::ReInvite | TxKind::Update) {
            // RFC 4028 section 7.4: a refresh names the interval and that
            // we, its UAC, keep refreshing.
            if let Some((interval, true)) = self.calls.get(&id).and_then(|c| c.session) {
                req.set_header(
                    HeaderName::SessionExpires,
                    &format!("{};refresher=uac", interval.as_secs()),
                );
            }
        }
        let dest = self.next_hop_of(id);
        self.send_request(now, req, dest, transport, Owner::Call(id), kind, 0)
    }

    /// Send a request of `method` with an optional body in the dialog.
    pub(crate) fn send_in_dialog_simple(
        &mut self,
        now: Instant,
        id: DialogId,
        method: Method,
        body: Option<(&str, &[u8])>,
    ) -> Result<(), Error> {
        let call = self.calls.get_mut(&id).ok_or(Error::Unknown)?;
        if !matches!(call.state, DialogState::InDialog | DialogState::Early) {
            return Err(Error::InvalidState {
                state: call.state,
                action: "send a request in",
            });
        }
        let dialog = call.dialog.as_mut().ok_or(Error::InvalidState {
            state: call.state,
            action: "send a request in",
        })?;
        let mut req = dialog.create_request(method.clone(), None);
        if let Some((ct, b)) = body {
            req.set_body(Some(ct), b);
        }
        let kind = match method {
            Method::Info => TxKind::Info,
            Method::Message => TxKind::Message,
            Method::Options => TxKind::Options,
            _ => TxKind::Update,
        };
        self.send_in_dialog(now, id, req, kind)?;
        Ok(())
    }

    /// End the call from our side, whatever its state.
    pub(crate) fn terminate_call(&mut self, now: Instant, id: DialogId) -> Result<(), Error> {
        let call = self.calls.get_mut(&id).ok_or(Error::Unknown)?;
        match call.state {
            DialogState::TerminatingDialog | DialogState::Terminated | DialogState::Error => Ok(()),
            DialogState::InitiatingDialog | DialogState::Early if call.uac => {
                let Some(out) = call.out_invite.as_mut() else {
                    self.send_bye(now, id);
                    return Ok(());
                };
                if out.provisional {
                    self.send_cancel(now, id);
                } else {
                    // Section 9.1: wait for a provisional response.
                    out.cancel = Cancel::Pending;
                }
                self.set_state(id, DialogState::TerminatingDialog);
                Ok(())
            }
            DialogState::InitiatingDialog | DialogState::Early => {
                self.reject(now, id, 603);
                Ok(())
            }
            _ => {
                if call.pending_2xx.is_some()
                    && !call.uac
                    && call.in_invite.is_none()
                    && call.dialog.as_ref().is_some_and(|d| d.remote_seq.is_some())
                    && !call.serving_reinvite
                {
                    // Section 15: the callee waits for the ACK before BYE.
                    call.bye_after_ack = true;
                    self.set_state(id, DialogState::TerminatingDialog);
                    return Ok(());
                }
                self.send_bye(now, id);
                Ok(())
            }
        }
    }

    /// Send BYE and enter TerminatingDialog; the BYE's final response (or
    /// its failure) ends the call.
    pub(crate) fn send_bye(&mut self, now: Instant, id: DialogId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.bye_sent {
            return;
        }
        call.bye_sent = true;
        call.pending_2xx = None;
        call.timers.stop(CallTimer::Retransmit2xx);
        call.timers.stop(CallTimer::AckWait);
        if call.dialog.is_none() {
            self.finish_call(now, id, DialogState::Terminated, None);
            return;
        }
        if call.state != DialogState::TerminatingDialog {
            self.set_state(id, DialogState::TerminatingDialog);
        }
        self.stop_media(id);
        if let Err(e) = self.send_dialog_bye(now, id) {
            warn!(%id, error = %e, "cannot send BYE");
            let err = self.calls.get(&id).and_then(|c| c.last_error.clone());
            let state = if err.is_some() {
                DialogState::Error
            } else {
                DialogState::Terminated
            };
            self.finish_call(now, id, state, err);
        }
        debug!(%id, "BYE sent");
    }

    /// A client transaction of the call failed (timeout, transport error).
    pub(crate) fn on_call_tx_failure(
        &mut self,
        now: Instant,
        id: DialogId,
        tx: TransactionId,
        kind: TxKind,
        error: DialogError,
    ) {
        match kind {
            TxKind::Invite => {
                let current = self
                    .calls
                    .get(&id)
                    .and_then(|c| c.out_invite.as_ref())
                    .map(|o| (o.tx == tx, o.cancel));
                match current {
                    Some((true, Cancel::No)) => {
                        self.finish_call(now, id, DialogState::Error, Some(error))
                    }
                    Some((true, _)) => self.finish_call(now, id, DialogState::Terminated, None),
                    _ => {}
                }
            }
            TxKind::Bye => {
                let err = self.calls.get(&id).and_then(|c| c.last_error.clone());
                let state = if err.is_some() {
                    DialogState::Error
                } else {
                    DialogState::Terminated
                };
                self.finish_call(now, id, state, err);
            }
            TxKind::ReInvite => {
                // Section 14.1: a timeout ends the dialog.
                if let Some(c) = self.calls.get_mut(&id) {
                    c.reinvite = None;
                    c.last_error = Some(error);
                }
                self.send_bye(now, id);
            }
            TxKind::Update if self.is_offer_update(id, tx) => self.on_offer_update_failure(now, id),
            _ => {}
        }
    }

    /// The INVITE client transaction is over: forget what only it needed.
    pub(crate) fn on_invite_tx_gone(&mut self, id: DialogId, tx: TransactionId) {
        if let Some(c) = self.calls.get_mut(&id) {
            if c.out_invite.as_ref().is_some_and(|o| o.tx == tx)
                && c.state != DialogState::InitiatingDialog
                && c.state != DialogState::Early
            {
                c.out_invite = None;
                c.ack = None;
            }
        }
    }

    pub(crate) fn on_call_timer(&mut self, now: Instant, id: DialogId, t: CallTimer) {
        match t {
            CallTimer::Answer => {
                let Some(call) = self.calls.get(&id) else {
                    return;
                };
                if call.in_invite.is_none() {
                    return;
                }
                if call.in_invite.as_ref().is_some_and(|u| u.needs_decision) {
                    // The application never decided.
                    if let Some(resp) = self.invite_response(id, 480) {
                        if let Some(uas) = self.calls.get_mut(&id).and_then(|c| c.in_invite.take())
                        {
                            let _ = self.tx.send_response(now, uas.tx, resp);
                        }
                    }
                    self.finish_call(now, id, DialogState::Error, Some(DialogError::Unanswered));
                } else {
                    self.answer(now, id);
                }
            }
            CallTimer::Retransmit2xx => {
                let t2 = self.config.timers.t2;
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                let Some(p) = call.pending_2xx.as_mut() else {
                    return;
                };
                p.interval = (p.interval * 2).min(t2);
                let next = now + p.interval;
                let resp = p.response.clone();
                let (peer, transport) = (call.peer, call.transport);
                trace!(%id, "retransmitting 2xx");
                self.tx.send_stateless_response(peer, transport, resp);
                self.set_call_timer(id, CallTimer::Retransmit2xx, next);
            }
            CallTimer::AckWait => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                if call.pending_2xx.take().is_none() {
                    return;
                }
                call.timers.stop(CallTimer::Retransmit2xx);
                call.serving_reinvite = false;
                // Section 13.3.1.4: no ACK in 64*T1 ends the dialog.
                call.last_error = Some(DialogError::NoAck);
                debug!(%id, "no ACK for our 2xx, ending the call");
                self.send_bye(now, id);
            }
            CallTimer::Glare => {
                // Only a re-INVITE waiting for its retry (the timer may
                // be an UPDATE's, RFC 3311, while a re-INVITE is in
                // flight).
                let what = self
                    .calls
                    .get_mut(&id)
                    .and_then(|c| c.reinvite.take_if(|(_, t)| t.is_none()))
                    .map(|(w, _)| w);
                if let Some(w) = what {
                    if let Err(e) = self.start_reinvite(now, id, w) {
                        debug!(%id, error = %e, "re-INVITE retry abandoned");
                    }
                }
                self.retry_update(now, id);
            }
            CallTimer::Media => self.media_timeout(now, id),
            CallTimer::Retransmit1xx => self.on_retransmit_1xx(now, id),
            CallTimer::SessionRefresh => self.session_refresh(now, id),
            CallTimer::SessionExpiry => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.last_error = Some(DialogError::SessionExpired);
                }
                self.send_bye(now, id);
            }
        }
    }

    /// Report a state change.
    pub(crate) fn set_state(&mut self, id: DialogId, state: DialogState) {
        if let Some(c) = self.calls.get_mut(&id) {
            if c.state != state {
                c.state = state;
                self.events
                    .push_back(Event::DialogStateChanged { id, state });
            }
        }
    }

    /// The call is over: report its final state, release its media and
    /// forget it (its transactions finish on their own).
    pub(crate) fn finish_call(
        &mut self,
        now: Instant,
        id: DialogId,
        state: DialogState,
        error: Option<DialogError>,
    ) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if error.is_some() {
            call.last_error = error;
        }
        if let Some(e) = &call.last_error {
            debug!(%id, error = %e, "call failed");
        }
        let state =
            if state == DialogState::Terminated && call.last_error.is_some() && call.bye_sent {
                DialogState::Error
            } else {
                state
            };
        let (fork_of, forks) = match call.ext.as_mut() {
            Some(e) => (e.fork_of, std::mem::take(&mut e.forks)),
            None => (None, Vec::new()),
        };
        match fork_of {
            // A fork shares the call's tag.
            Some(p) => {
                if let Some(e) = self.calls.get_mut(&p).and_then(|c| c.ext.as_mut()) {
                    e.forks.retain(|f| *f != id);
                }
                // Its early media, if the call followed it, gives way to
                // another early dialog's.
                if let Some(d) = &call.dialog {
                    self.early_dialog_gone(now, p, d.remote_tag());
                }
            }
            None => {
                self.by_tag.remove(&call.local_tag);
            }
        }
        if let Some(m) = call.media.take() {
            self.release_media(id, *m);
        }
        if call.state != state {
            self.events
                .push_back(Event::DialogStateChanged { id, state });
        }
        // A call that fails takes its forks with it.
        for f in forks {
            self.finish_call(now, f, state, call.last_error.clone());
        }
        self.finished.push_back((id, state, call.last_error.take()));
        while self.finished.len() > super::FINISHED_KEPT {
            self.finished.pop_front();
        }
    }

    /// Forget a call that never reached the application.
    fn finish_call_silently(&mut self, id: DialogId, _why: DialogError) {
        if let Some(mut call) = self.calls.remove(&id) {
            self.by_tag.remove(&call.local_tag);
            if let Some(m) = call.media.take() {
                self.release_media_quietly(id, *m);
            }
        }
    }

    /// The next hop of the call's dialog (route set or remote target), or
    /// the peer's address when the URI names a host.
    pub(crate) fn next_hop_of(&self, id: DialogId) -> SocketAddr {
        let Some(call) = self.calls.get(&id) else {
            return SocketAddr::from(([127, 0, 0, 1], 5060));
        };
        call.dialog
            .as_ref()
            .and_then(|d| self.dialog_hop(d))
            .unwrap_or(call.peer)
    }

    pub(crate) fn dialog_hop(&self, dialog: &Dialog) -> Option<SocketAddr> {
        // An IP literal is worked out once per dialog; a name goes to the
        // resolver's cache each time (its answer expires).
        dialog
            .next_hop_addr(|hop| resolve_uri(hop).ok().map(|(a, _)| a))
            .or_else(|| self.cached_hop(dialog.next_hop()))
    }
}

fn call_transport(party: &Party, id: DialogId) -> Transport {
    party.calls.get(&id).map_or(Transport::Udp, |c| c.transport)
}

/// ACK and CANCEL reuse the credentials of the INVITE (RFC 3261 sections
/// 13.2.2.4 and 22.1); other requests of the dialog reuse them too, which
/// saves a round trip through a proxy that challenges everything.
fn copy_credentials(from: &Message, to: &mut Message) {
    for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        // Usually the INVITE carries none: one look at it, no copies.
        if from.header(&name).is_some() && to.header(&name).is_none() {
            let values: Vec<String> = from.headers(&name).map(str::to_string).collect();
            for v in values {
                to.add_header(name.clone(), &v);
            }
        }
    }
}

/// Whether a header line named `name` holds credentials (RFC 3261
/// section 22).
fn is_credentials(name: &HeaderName) -> bool {
    matches!(
        name,
        HeaderName::Authorization | HeaderName::ProxyAuthorization
    )
}

/// Whether `request` carries credentials.
pub(crate) fn carries_credentials(request: &Message) -> bool {
    request.header(&HeaderName::Authorization).is_some()
        || request.header(&HeaderName::ProxyAuthorization).is_some()
}

/// The realm of the first challenge of a 401/407.
fn challenge_realm(response: &Message) -> Option<String> {
    let raw = response
        .header(&HeaderName::WwwAuthenticate)
        .or_else(|| response.header(&HeaderName::ProxyAuthenticate))?;
    let at = raw.find("realm=")? + 6;
    let rest = raw[at..].trim_start();
    let value = if let Some(r) = rest.strip_prefix('"') {
        r.split('"').next()?
    } else {
        rest.split([',', ' ']).next()?
    };
    Some(value.to_string())
}

/// (Call-ID, From tag, CSeq) of a request and its branch, for
/// merged-request detection.
fn merge_key(request: &Message) -> Option<super::MergeKey> {
    Some(super::MergeKey::new(
        request.call_id()?,
        request.from_tag().flatten()?,
        request.cseq().and_then(Result::ok)?.seq,
        // Decoded once, by the transaction layer.
        request.top_branch()?,
    ))
}

/// DTMF in an INFO body (`application/dtmf-relay`: `Signal=5`,
/// `Duration=160`).
fn dtmf_relay(content_type: Option<&str>, body: &[u8]) -> Option<(char, Duration)> {
    let ct = content_type?;
    if !ct
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/dtmf-relay")
    {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut digit = None;
    let mut ms = 250;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "signal" => digit = v.trim().chars().next().map(|c| c.to_ascii_uppercase()),
            "duration" => ms = v.trim().parse().unwrap_or(250),
            _ => {}
        }
    }
    let d = digit.filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))?;
    Some((d, Duration::from_millis(ms)))
}

/// The RSeq of a reliable provisional response (Require: 100rel, RFC 3262
/// section 7.1); `None` for any other response.
fn reliable_rseq(response: &Message) -> Option<u32> {
    response
        .tokens(&HeaderName::Require)
        .any(|t| t.eq_ignore_ascii_case("100rel"))
        .then(|| response.header(&HeaderName::RSeq))
        .flatten()
        .and_then(|v| v.trim().parse::<u32>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies_rfc_draft_kaplan() {
        assert_eq!(
            dtmf_relay(
                Some("application/dtmf-relay"),
                b"Signal=5\r\nDuration=160\r\n"
            ),
            Some(('5', Duration::from_millis(160)))
        );
        assert_eq!(dtmf_relay(Some("text/plain"), b"Signal=5"), None);
        assert_eq!(
            dtmf_relay(Some("application/dtmf-relay"), b"Signal=x"),
            None
        );
    }

    #[test]
    fn realm_of_a_challenge() {
        let mut r = Message::response(401, "Unauthorized");
        r.add_header(
            HeaderName::WwwAuthenticate,
            "Digest realm=\"atlanta.example.com\", nonce=\"x\"",
        );
        assert_eq!(challenge_realm(&r).as_deref(), Some("atlanta.example.com"));
    }
}
