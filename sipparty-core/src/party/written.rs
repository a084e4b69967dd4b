//! In-dialog requests written straight into bytes from the dialog: the
//! ACK for a 2xx to our INVITE (RFC 3261 section 13.2.2.4), sent outside
//! any transaction and only ever sent again as it is, and a plain BYE
//! (section 15.1.1). Neither needs an owned message: building one only to
//! serialize it cost more than the rest of sending it.

use std::time::Instant;

use super::call::SentAck;
use super::event::DialogId;
use super::{host_port_in, Error, Owner, Party, TxKind, TxUse};
use crate::dialog::write_line;
use crate::message::{self, HeaderName, Method};
use crate::text::push_decimal;
use crate::transaction::TransactionId;
use crate::transport::Transport;

impl Party {
    /// Send the ACK for the 2xx that confirmed call `id`'s dialog: the
    /// dialog's request with the INVITE's CSeq number `cseq`, a new branch
    /// (section 13.2.2.4), the INVITE's credentials (section 22.1), and
    /// `body` (the answer to an offer made in the 2xx). Kept as bytes for
    /// the 2xx's retransmissions.
    pub(crate) fn send_dialog_ack(
        &mut self,
        id: DialogId,
        cseq: u32,
        body: Option<&[u8]>,
    ) -> Result<(), Error> {
        let Some((out, _, transport)) = self.write_in_dialog(id, &Method::Ack, Some(cseq), body)?
        else {
            return Ok(());
        };
        let dest = self.next_hop_of(id);
        // The kept copy is sized exactly (it lives as long as the call);
        // the sent one is the buffer written.
        let kept = Box::from(&out[..]);
        self.tx.send_stateless_bytes(out, dest, transport);
        if let Some(c) = self.calls.get_mut(&id) {
            c.ack = Some(SentAck { bytes: kept, cseq });
        }
        Ok(())
    }

    /// Send a BYE in call `id`'s dialog in a client transaction, as
    /// `send_in_dialog` would send `create_request(Bye)`. Written straight
    /// into bytes unless the request must be kept (credentials configured:
    /// a 401/407 is answered by resending it) or may need TCP (RFC 3261
    /// section 18.1.1); those go the owned way.
    pub(crate) fn send_dialog_bye(
        &mut self,
        now: Instant,
        id: DialogId,
    ) -> Result<TransactionId, Error> {
        if self.config.credentials.is_some() {
            return self.send_dialog_bye_built(now, id);
        }
        let Some((out, branch, transport)) = self.write_in_dialog(id, &Method::Bye, None, None)?
        else {
            return Err(Error::Unknown);
        };
        if transport == Transport::Udp
            && self.config.tcp_for_large_requests
            && out.len() > self.udp_size_limit()
        {
            // A CSeq number was taken for nothing: the next one is higher,
            // which section 12.2.1.1 allows.
            return self.send_dialog_bye_built(now, id);
        }
        // `branch_into` wrote ASCII token characters only.
        let branch = std::str::from_utf8(&branch).unwrap_or_default();
        let dest = self.next_hop_of(id);
        let sent = self
            .tx
            .send_request_bytes(now, Method::Bye, branch, out, dest, transport);
        let tx = sent.map_err(|e| Error::Transaction(e.to_string()))?;
        self.txs.insert(
            tx,
            TxUse {
                owner: Owner::Call(id),
                kind: TxKind::Bye,
                request: None,
                destination: dest,
                transport,
                auth_rounds: 0,
            },
        );
        Ok(tx)
    }

    /// The BYE built as an owned message and sent as any in-dialog request.
    fn send_dialog_bye_built(
        &mut self,
        now: Instant,
        id: DialogId,
    ) -> Result<TransactionId, Error> {
        let bye = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.dialog.as_mut())
            .ok_or(Error::Unknown)?
            .create_request(Method::Bye, None);
        self.send_in_dialog(now, id, bye, TxKind::Bye)
    }

    /// Write `method` in call `id`'s dialog (CSeq `cseq`, else the next
    /// local one): our Via with a new branch, the dialog's lines, the
    /// INVITE's credentials, Max-Forwards, User-Agent and `body`. `None`
    /// when the call or its dialog is gone; the bytes, the branch and the
    /// call's transport otherwise.
    fn write_in_dialog(
        &mut self,
        id: DialogId,
        method: &Method,
        cseq: Option<u32>,
        body: Option<&[u8]>,
    ) -> Result<Option<(Vec<u8>, message::BranchBuf, Transport)>, Error> {
        let Some(transport) = self.calls.get(&id).map(|c| c.transport) else {
            return Ok(None);
        };
        let hp = host_port_in(&self.locals, transport)?;
        let mut buf = message::BranchBuf::default();
        let branch = message::branch_into(&mut *self.rng, &mut buf);
        // RFC 3261 section 8.1.1.7, with `rport` (RFC 3581) as every
        // request of ours.
        let via = [
            "SIP/2.0/",
            transport.via_token(),
            " ",
            hp,
            ";branch=",
            branch,
            ";rport",
        ];
        let Some(call) = self.calls.get_mut(&id) else {
            return Ok(None);
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return Ok(None);
        };
        let seq = cseq.unwrap_or_else(|| dialog.next_local_seq());
        let mut out = Vec::with_capacity(512 + body.map_or(0, <[u8]>::len));
        dialog.write_request(method, seq, &via, &mut out);
        if let Some(invite) = call.out_invite.as_ref() {
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
        Ok(Some((out, buf, transport)))
    }
}
