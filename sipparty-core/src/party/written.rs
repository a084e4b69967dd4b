//! In-dialog requests written straight into bytes from the dialog, the
//! one way the Party writes them: the ACK for a 2xx to our INVITE or
//! re-INVITE (RFC 3261 section 13.2.2.4), sent outside any transaction
//! and only ever sent again as it is, and the BYE (section 15.1.1), sent
//! in a client transaction through [`Party::send_request_with`] as
//! [`Outgoing::Written`]. Neither needs an owned message: building one
//! only to serialize it cost more than the rest of sending it. A written
//! request is read back into a message only when it must be kept (to
//! answer a challenge) or changed (switched to TCP, section 18.1.1).

use std::net::SocketAddr;
use std::time::Instant;

use tracing::debug;

use super::call::SentAck;
use super::event::DialogId;
use super::{host_port_in, Error, Outgoing, Owner, Party, TxKind};
use crate::dialog::{write_line, Dialog};
use crate::message::{self, HeaderName, Limits, Message, Method};
use crate::text::push_decimal;
use crate::transaction::TransactionId;
use crate::transport::Transport;

/// A request written into bytes, with what the transaction layer needs
/// to match its responses without reading it again: its method and the
/// branch of its top Via.
#[derive(Debug)]
pub(crate) struct Written {
    method: Method,
    branch: message::BranchBuf,
    bytes: Vec<u8>,
}

impl Written {
    /// The request as bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Method, branch and bytes, to hand to the transaction layer.
    pub(crate) fn into_parts(self) -> (Method, message::BranchBuf, Vec<u8>) {
        (self.method, self.branch, self.bytes)
    }

    /// The request read back as a message. Our own bytes, so no limit
    /// applies; only a peer's Contact or route set that is not SIP can
    /// make this fail.
    pub(crate) fn to_message(&self) -> Result<Message, Error> {
        let unlimited = Limits {
            max_message: usize::MAX,
            max_headers: usize::MAX,
            max_header_line: usize::MAX,
            max_uri: usize::MAX,
            max_params: usize::MAX,
        };
        Message::parse_with(&self.bytes, &unlimited).map_err(|e| Error::Unwritable(e.to_string()))
    }
}

/// The branch `branch_into` wrote, as text.
pub(crate) fn branch_str(branch: &message::BranchBuf) -> &str {
    // `branch_into` writes ASCII token characters only.
    std::str::from_utf8(branch).unwrap_or_default()
}

/// The dialog an in-dialog request is written in.
pub(crate) enum In<'d> {
    /// The call's own dialog.
    Call,
    /// A dialog that is not kept anywhere: a fork's, answered with a 2xx
    /// after the call was (section 13.2.2.4).
    Other(&'d mut Dialog),
}

impl Party {
    /// Send the ACK for the 2xx that confirmed call `id`'s dialog or a
    /// re-INVITE in it: the dialog's request with the INVITE's CSeq number
    /// `cseq`, a new branch (section 13.2.2.4), the INVITE's credentials
    /// (section 22.1), and `body` (the answer to an offer made in the 2xx).
    /// Kept as bytes for the 2xx's retransmissions.
    pub(crate) fn send_dialog_ack(
        &mut self,
        id: DialogId,
        cseq: u32,
        body: Option<&[u8]>,
    ) -> Result<(), Error> {
        let Some((w, dest, transport)) =
            self.write_in_dialog(id, In::Call, Method::Ack, Some(cseq), body)?
        else {
            return Ok(());
        };
        // The kept copy is sized exactly (it lives as long as the call);
        // the sent one is the buffer written.
        let kept = Box::from(w.bytes());
        self.tx.send_stateless_bytes(w.bytes, dest, transport);
        if let Some(c) = self.calls.get_mut(&id) {
            c.ack = Some(SentAck { bytes: kept, cseq });
        }
        Ok(())
    }

    /// Send a BYE in call `id`'s dialog in a client transaction.
    pub(crate) fn send_dialog_bye(
        &mut self,
        now: Instant,
        id: DialogId,
    ) -> Result<TransactionId, Error> {
        self.send_bye_in(now, id, In::Call, Owner::Call(id))
    }

    /// A 2xx from a fork of call `id` after the call took another one's:
    /// ACK it and end that dialog with BYE (section 13.2.2.4), both
    /// written from `fork`. Nobody owns the BYE: its outcome changes
    /// nothing.
    pub(crate) fn ack_and_bye_other(&mut self, now: Instant, id: DialogId, fork: &mut Dialog) {
        let cseq = fork.local_seq;
        match self.write_in_dialog(id, In::Other(fork), Method::Ack, Some(cseq), None) {
            Ok(Some((w, dest, transport))) => {
                self.tx.send_stateless_bytes(w.bytes, dest, transport)
            }
            Ok(None) => return,
            Err(e) => debug!(%id, error = %e, "cannot write ACK for a fork's 2xx"),
        }
        debug!(%id, "second 2xx from a fork: ACK and BYE");
        if let Err(e) = self.send_bye_in(now, id, In::Other(fork), Owner::Nobody) {
            debug!(%id, error = %e, "cannot send BYE to a fork");
        }
    }

    /// Write a BYE in dialog `dialog` of call `id` and send it in a client
    /// transaction as any request ([`Party::send_request`]: kept when
    /// credentials may be asked for, over TCP when large, section 18.1.1).
    fn send_bye_in(
        &mut self,
        now: Instant,
        id: DialogId,
        dialog: In<'_>,
        owner: Owner,
    ) -> Result<TransactionId, Error> {
        let (w, dest, transport) = self
            .write_in_dialog(id, dialog, Method::Bye, None, None)?
            .ok_or(Error::Unknown)?;
        self.send_request(
            now,
            Outgoing::Written(w),
            dest,
            transport,
            owner,
            TxKind::Bye,
            0,
        )
    }

    /// Write `method` in a dialog of call `id` (CSeq `cseq`, else the
    /// dialog's next local one): our Via with a new branch, the dialog's
    /// lines, the INVITE's credentials, Max-Forwards, User-Agent and
    /// `body`. `None` when the call or its dialog is gone; otherwise the
    /// request, its next hop and the call's transport.
    fn write_in_dialog(
        &mut self,
        id: DialogId,
        mut dialog: In<'_>,
        method: Method,
        cseq: Option<u32>,
        body: Option<&[u8]>,
    ) -> Result<Option<(Written, SocketAddr, Transport)>, Error> {
        let Some(call) = self.calls.get(&id) else {
            return Ok(None);
        };
        let transport = call.transport;
        // The next hop first: it reads the resolver's cache.
        let hop = match &dialog {
            In::Call => call.dialog.as_ref().and_then(|d| self.dialog_hop(d)),
            In::Other(d) => self.dialog_hop(d),
        };
        let dest = hop.unwrap_or(call.peer);
        let hp = host_port_in(&self.locals, transport)?;
        let mut branch = message::BranchBuf::default();
        let b = message::branch_into(&mut *self.rng, &mut branch);
        // RFC 3261 section 8.1.1.7, with `rport` (RFC 3581) as every
        // request of ours.
        let via = [
            "SIP/2.0/",
            transport.via_token(),
            " ",
            hp,
            ";branch=",
            b,
            ";rport",
        ];
        let Some(call) = self.calls.get_mut(&id) else {
            return Ok(None);
        };
        let dialog = match &mut dialog {
            In::Call => match call.dialog.as_mut() {
                Some(d) => d,
                None => return Ok(None),
            },
            In::Other(d) => &mut **d,
        };
        let seq = cseq.unwrap_or_else(|| dialog.next_local_seq());
        let mut out = Vec::with_capacity(512 + body.map_or(0, <[u8]>::len));
        dialog.write_request(&method, seq, &via, &mut out);
        if let Some(invite) = call.out_invite.as_ref().filter(|i| i.credentials) {
            for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
                for value in invite.request.headers(&name) {
                    write_line(&mut out, name.as_str(), value);
                }
            }
        }
        out.extend_from_slice(b"Max-Forwards: ");
        push_decimal(&mut out, u64::from(self.config.max_forwards));
        out.extend_from_slice(b"\r\n");
        if let Some(ua) = &self.config.user_agent {
            write_line(&mut out, "User-Agent", ua);
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() {
            write_line(&mut out, "Content-Type", "application/sdp");
        }
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(&mut out, body.len() as u64);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        let written = Written {
            method,
            branch,
            bytes: out,
        };
        Ok(Some((written, dest, transport)))
    }
}
