//! A new SDP offer in an UPDATE (RFC 3311), in an early or confirmed
//! dialog: hold, resume or renegotiate without a re-INVITE. The answer in
//! the 2xx is applied at once; 491 glare is retried after the RFC 3261
//! section 14.1 waits, as for a re-INVITE.

use std::time::{Duration, Instant};

use tracing::debug;

use super::call::Reinvite;
use super::early::uas_supported;
use super::event::{DialogId, DialogState};
use super::handle::DialogHandle;
use super::timer::CallTimer;
use super::{Error, Party, TxKind, ALLOW};
use crate::message::{HeaderName, Message, Method};
use crate::transaction::TransactionId;

/// What a new offer changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaChange {
    /// Put the call on hold: a `sendonly` offer (RFC 3264 section 8.4).
    Hold,
    /// Take it off hold: a `sendrecv` offer.
    Resume,
    /// Offer the current media again (a new session version): the peer
    /// may change its address or codec in the answer.
    Renegotiate,
}

/// Our UPDATE offer in flight (`Some(tx)`) or waiting for its retry after
/// 491 (`None`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingUpdate {
    pub(crate) change: MediaChange,
    pub(crate) tx: Option<TransactionId>,
}

impl Party {
    /// Send an UPDATE carrying a new offer (RFC 3311 section 5.1).
    pub(crate) fn start_update(
        &mut self,
        now: Instant,
        id: DialogId,
        change: MediaChange,
    ) -> Result<(), Error> {
        let call = self.calls.get_mut(&id).ok_or(Error::Unknown)?;
        let refused = |action| Error::InvalidState {
            state: call.state,
            action,
        };
        if !matches!(call.state, DialogState::Early | DialogState::InDialog)
            || call.dialog.is_none()
        {
            return Err(refused("send an UPDATE in"));
        }
        let media = call.media.as_ref().ok_or(Error::NoMedia)?;
        // Section 5.1: no offer while one is outstanding in either
        // direction: ours (INVITE, re-INVITE, UPDATE, 2xx awaiting the
        // ACK's answer), or the INVITE's whose answer is not delivered
        // reliably yet.
        let uas_unsettled = call.in_invite.as_ref().is_some_and(|u| u.sdp.is_some())
            || call
                .ext()
                .and_then(|e| e.rel.as_ref())
                .is_some_and(|r| r.busy());
        if media.offer_pending
            || call.pending_2xx.as_ref().is_some_and(|p| p.offer_in_2xx)
            || call.reinvite.is_some_and(|(_, t)| t.is_some())
            || call
                .ext()
                .and_then(|e| e.update)
                .is_some_and(|u| u.tx.is_some())
            || uas_unsettled
        {
            return Err(refused("send an offer while another is outstanding in"));
        }
        if call.ext().and_then(|e| e.fork_of).is_some() {
            return Err(Error::NoMedia);
        }
        let media = call.media.as_mut().ok_or(Error::NoMedia)?;
        match change {
            MediaChange::Hold => media.set_hold(true),
            MediaChange::Resume => media.set_hold(false),
            MediaChange::Renegotiate => {}
        }
        let offer = media.negotiator.create_offer().to_bytes();
        media.offer_pending = true;
        let transport = call.transport;
        let dialog = call.dialog.as_mut().ok_or(Error::Unknown)?;
        let mut req = dialog.create_request(Method::Update, None);
        req.set_body(Some("application/sdp"), &offer);
        // Section 5.1: UPDATE is a target refresh request.
        req.add_header(HeaderName::Contact, &self.contact(transport)?);
        req.add_header(HeaderName::Allow, ALLOW);
        req.add_header(HeaderName::Supported, uas_supported(&self.config));
        let tx = match self.send_in_dialog(now, id, req, TxKind::Update) {
            Ok(tx) => tx,
            Err(e) => {
                self.rollback_offer(id);
                return Err(e);
            }
        };
        if let Some(c) = self.calls.get_mut(&id) {
            c.ext_mut().update = Some(PendingUpdate {
                change,
                tx: Some(tx),
            });
        }
        debug!(%id, ?change, "UPDATE offer sent");
        Ok(())
    }

    /// Whether `tx` is our UPDATE offer of call `id`.
    pub(crate) fn is_offer_update(&self, id: DialogId, tx: TransactionId) -> bool {
        self.calls
            .get(&id)
            .and_then(|c| c.ext())
            .and_then(|e| e.update)
            .is_some_and(|u| u.tx == Some(tx))
    }

    /// The final response to our UPDATE offer.
    pub(crate) fn on_offer_update_response(
        &mut self,
        now: Instant,
        id: DialogId,
        status: u16,
        response: &Message,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(pending) = call.ext_mut().update.take() else {
            return;
        };
        if (200..300).contains(&status) {
            // The session refresh and target refresh of any 2xx to UPDATE.
            self.on_update_response(now, id, status, response);
            if response.body().is_empty() {
                debug!(%id, "2xx to our UPDATE offer without an answer");
                self.rollback_offer(id);
                return;
            }
            if let Err(e) = self.apply_answer(now, id, response.body()) {
                // The peer agreed to nothing we can use; the old session
                // is gone on its side (RFC 3264 section 8).
                if let Some(c) = self.calls.get_mut(&id) {
                    c.last_error = Some(e);
                }
                self.end_after_failed_update(now, id);
            }
            return;
        }
        // The offer is void (RFC 3311 section 5.1).
        self.rollback_offer(id);
        match status {
            491 => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                let wait = glare_wait(call.uac, self.rng.next_u64());
                call.ext_mut().update = Some(PendingUpdate {
                    change: pending.change,
                    tx: None,
                });
                debug!(%id, ?wait, "491 glare, retrying UPDATE");
                self.set_call_timer(id, CallTimer::Glare, now + wait);
            }
            // RFC 3261 section 12.2.1.2: the dialog is gone.
            408 | 481 => self.end_after_failed_update(now, id),
            _ => {}
        }
    }

    /// Our UPDATE offer timed out or could not be sent.
    pub(crate) fn on_offer_update_failure(&mut self, now: Instant, id: DialogId) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.ext_mut().update = None;
        }
        self.rollback_offer(id);
        self.end_after_failed_update(now, id);
    }

    /// Retry an UPDATE that met 491, when the glare timer fires.
    pub(crate) fn retry_update(&mut self, now: Instant, id: DialogId) {
        let Some(pending) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.ext.as_mut())
            .and_then(|e| e.update.take_if(|u| u.tx.is_none()))
        else {
            return;
        };
        if let Err(e) = self.start_update(now, id, pending.change) {
            debug!(%id, error = %e, "UPDATE retry abandoned");
        }
    }

    fn rollback_offer(&mut self, id: DialogId) {
        if let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
            if m.offer_pending {
                m.negotiator.rollback();
                m.offer_pending = false;
            }
        }
    }

    fn end_after_failed_update(&mut self, now: Instant, id: DialogId) {
        match self.calls.get(&id).map(|c| c.state) {
            Some(DialogState::InDialog) => self.send_bye(now, id),
            Some(DialogState::Early) => {
                let _ = self.terminate_call(now, id);
            }
            _ => {}
        }
    }
}

/// RFC 3261 section 14.1: retry after 2.1 to 4 s when we own the Call-ID
/// (we sent the initial INVITE), else after 0 to 2 s, in units of 10 ms.
pub(crate) fn glare_wait(owner: bool, r: u64) -> Duration {
    if owner {
        Duration::from_millis(2100 + (r % 191) * 10)
    } else {
        Duration::from_millis((r % 201) * 10)
    }
}

impl DialogHandle<'_> {
    /// Send a new SDP offer in an UPDATE (RFC 3311), in an early or
    /// confirmed dialog: hold, resume or renegotiate without a re-INVITE.
    /// The answer in the 2xx is applied at once ([`Event::MediaUpdated`]);
    /// a 491 (glare) is retried after the RFC 3261 section 14.1 wait.
    /// Fails while another offer is outstanding (RFC 3311 section 5.1).
    ///
    /// [`Event::MediaUpdated`]: super::Event::MediaUpdated
    pub fn update(self, now: Instant, change: MediaChange) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.start_update(now, self.id, change);
        self.party.after_command(now);
        r
    }

    /// Put the call on hold or take it off with a re-INVITE, or offer the
    /// media again ([`MediaChange::Renegotiate`]); as
    /// [`DialogHandle::hold`] and [`DialogHandle::resume`].
    pub fn reinvite(self, now: Instant, change: MediaChange) -> Result<(), Error> {
        self.party.touch(now);
        let what = match change {
            MediaChange::Hold => Reinvite::Hold,
            MediaChange::Resume => Reinvite::Resume,
            MediaChange::Renegotiate => Reinvite::Renegotiate,
        };
        let r = self.party.start_reinvite(now, self.id, what);
        self.party.after_command(now);
        r
    }
}
