//! Short-lived handles through which the application commands a Party:
//! they borrow it for one call (`party.dialog(id)?.terminate(now)`).

use std::time::Instant;

use super::call::Reinvite;
use super::event::{DialogError, DialogId, DialogState, RegistrationId, RegistrationState};
use super::{Error, Party};
use crate::message::Method;

/// A live dialog of a [`Party`].
#[derive(Debug)]
pub struct DialogHandle<'a> {
    pub(crate) party: &'a mut Party,
    pub(crate) id: DialogId,
}

impl DialogHandle<'_> {
    /// The dialog's id.
    pub fn id(&self) -> DialogId {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> DialogState {
        self.party
            .calls
            .get(&self.id)
            .map_or(DialogState::Terminated, |c| c.state)
    }

    /// What went wrong, once it did.
    pub fn last_error(&self) -> Option<&DialogError> {
        self.party.last_error(self.id)
    }

    /// Whether we placed the call (UAC) or received it (UAS).
    pub fn is_outgoing(&self) -> bool {
        self.party.calls.get(&self.id).is_some_and(|c| c.uac)
    }

    /// The peer's From/To header value (with its tag), once a dialog
    /// exists.
    pub fn remote(&self) -> Option<&str> {
        self.party
            .calls
            .get(&self.id)
            .and_then(|c| c.dialog.as_ref())
            .map(|d| d.remote_header())
    }

    /// The Call-ID, once a dialog exists.
    pub fn call_id(&self) -> Option<&str> {
        self.party
            .calls
            .get(&self.id)
            .and_then(|c| c.dialog.as_ref())
            .map(|d| d.call_id())
    }

    /// End the call: CANCEL before an answer (sent once a provisional
    /// response has arrived, RFC 3261 section 9.1), BYE after, or reject
    /// an incoming call not yet answered (603).
    pub fn terminate(self, now: Instant) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.terminate_call(now, self.id);
        self.party.after_command(now);
        r
    }

    /// Put the call on hold (re-INVITE with a sendonly offer).
    pub fn hold(self, now: Instant) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.start_reinvite(now, self.id, Reinvite::Hold);
        self.party.after_command(now);
        r
    }

    /// Take the call off hold (re-INVITE with a sendrecv offer).
    pub fn resume(self, now: Instant) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.start_reinvite(now, self.id, Reinvite::Resume);
        self.party.after_command(now);
        r
    }

    /// Send DTMF digits (`0-9*#A-D`): as RFC 4733 telephone-events in the
    /// RTP stream when they were negotiated, else as INFO requests with
    /// `application/dtmf-relay` bodies, one per digit.
    pub fn send_dtmf(self, now: Instant, digits: &str) -> Result<(), Error> {
        self.party.touch(now);
        if let Some(d) = digits
            .chars()
            .map(|d| d.to_ascii_uppercase())
            .find(|d| !(d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D')))
        {
            return Err(Error::InvalidUri(format!("not a DTMF digit: {d:?}")));
        }
        if self.party.send_rtp_dtmf(self.id, digits) {
            return Ok(());
        }
        for d in digits.chars() {
            let d = d.to_ascii_uppercase();
            let body = format!("Signal={d}\r\nDuration=160\r\n");
            self.party.send_in_dialog_simple(
                now,
                self.id,
                Method::Info,
                Some(("application/dtmf-relay", body.as_bytes())),
            )?;
        }
        self.party.after_command(now);
        Ok(())
    }

    /// The call's RTP stream (once media started and the codec is G.711):
    /// set its source (tone, WAV) and sink (recorder), read its statistics.
    pub fn media(&mut self) -> Option<&mut crate::media::MediaSession> {
        self.party.media_session(self.id)
    }

    /// Send an INFO (RFC 6086) with this body.
    pub fn send_info(self, now: Instant, content_type: &str, body: &[u8]) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.send_in_dialog_simple(
            now,
            self.id,
            Method::Info,
            Some((content_type, body)),
        );
        self.party.after_command(now);
        r
    }

    /// Send a MESSAGE (RFC 3428) in the dialog.
    pub fn send_message(self, now: Instant, content_type: &str, body: &[u8]) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.send_in_dialog_simple(
            now,
            self.id,
            Method::Message,
            Some((content_type, body)),
        );
        self.party.after_command(now);
        r
    }

    /// Send OPTIONS in the dialog (a keep-alive the peer must answer).
    pub fn send_options(self, now: Instant) -> Result<(), Error> {
        self.party.touch(now);
        let r = self
            .party
            .send_in_dialog_simple(now, self.id, Method::Options, None);
        self.party.after_command(now);
        r
    }
}

/// An incoming call waiting for the application's decision. Dropping it
/// decides nothing: the call keeps ringing until
/// [`PartyConfig::answer_timeout`](super::PartyConfig::answer_timeout).
#[derive(Debug)]
#[must_use = "an incoming call rings until it is accepted or rejected"]
pub struct Incoming<'a> {
    pub(crate) party: &'a mut Party,
    pub(crate) id: DialogId,
}

impl Incoming<'_> {
    /// The dialog id of the call.
    pub fn id(&self) -> DialogId {
        self.id
    }

    /// The caller (From header as received).
    pub fn from(&self) -> &str {
        self.party
            .calls
            .get(&self.id)
            .and_then(|c| c.dialog.as_ref())
            .map_or("", |d| d.remote_header())
    }

    /// Answer with 200 OK (and the SDP answer).
    pub fn accept(self, now: Instant) -> Result<(), Error> {
        self.party.touch(now);
        self.party.answer(now, self.id);
        self.party.after_command(now);
        Ok(())
    }

    /// Refuse with `code` (e.g. 486 Busy Here, 603 Decline; codes outside
    /// 300..=699 become 603).
    pub fn reject(self, now: Instant, code: u16) -> Result<(), Error> {
        self.party.touch(now);
        self.party.reject(now, self.id, code);
        self.party.after_command(now);
        Ok(())
    }

    /// Send a provisional response (180 Ringing, 183 Session Progress) and
    /// keep deciding.
    pub fn ring(&mut self, now: Instant, code: u16) {
        self.party.touch(now);
        if (101..200).contains(&code) {
            self.party.send_provisional(now, self.id, code);
        }
        self.party.after_command(now);
    }
}

/// A registration of a [`Party`].
#[derive(Debug)]
pub struct RegistrationHandle<'a> {
    pub(crate) party: &'a mut Party,
    pub(crate) id: RegistrationId,
}

impl RegistrationHandle<'_> {
    /// The registration's id.
    pub fn id(&self) -> RegistrationId {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> Option<&RegistrationState> {
        self.party.registration_state(self.id)
    }

    /// Remove the binding (REGISTER with Expires: 0).
    pub fn unregister(self, now: Instant) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.unregister(now, self.id);
        self.party.after_command(now);
        r
    }
}
