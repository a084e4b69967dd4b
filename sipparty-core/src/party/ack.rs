//! The ACK for a 2xx to our INVITE (RFC 3261 section 13.2.2.4), written
//! straight into bytes: it is built once from the dialog, sent outside any
//! transaction and only ever sent again as it is, so no owned message is
//! made for it.

use super::call::SentAck;
use super::event::DialogId;
use super::{host_port_in, Error, Party};
use crate::dialog::write_line;
use crate::message::{self, HeaderName, Method};
use crate::text::{decimal, Digits};

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
        let Some(transport) = self.calls.get(&id).map(|c| c.transport) else {
            return Ok(());
        };
        let hp = host_port_in(&self.locals, transport)?;
        let mut buf = message::BranchBuf::default();
        let branch = message::branch_into(&mut *self.rng, &mut buf);
        // RFC 3261 section 8.1.1.7, with `rport` (RFC 3581) as every
        // request of ours.
        let mut via = String::with_capacity(hp.len() + branch.len() + 30);
        for part in [
            "SIP/2.0/",
            transport.via_token(),
            " ",
            hp,
            ";branch=",
            branch,
            ";rport",
        ] {
            via.push_str(part);
        }
        let Some(call) = self.calls.get(&id) else {
            return Ok(());
        };
        let Some(dialog) = call.dialog.as_ref() else {
            return Ok(());
        };
        let mut out = Vec::with_capacity(512 + body.map_or(0, <[u8]>::len));
        dialog.write_request(&Method::Ack, cseq, &via, &mut out);
        if let Some(invite) = call.out_invite.as_ref() {
            for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
                for value in invite.request.headers(&name) {
                    write_line(&mut out, name.as_str(), value);
                }
            }
        }
        let mut digits = Digits::default();
        write_line(
            &mut out,
            "Max-Forwards",
            decimal(self.config.max_forwards, &mut digits),
        );
        if let Some(ua) = &self.config.user_agent {
            write_line(&mut out, "User-Agent", ua);
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() {
            write_line(&mut out, "Content-Type", "application/sdp");
        }
        write_line(
            &mut out,
            "Content-Length",
            decimal(body.len() as u64, &mut digits),
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
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
}
