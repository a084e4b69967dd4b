//! Forked INVITEs as caller (RFC 3261 sections 12.1.2 and 13.2.2.4): a
//! proxy sends our INVITE to several callees, and each that answers
//! provisionally with its own To tag creates an early dialog. The first
//! one is the call itself; each further one becomes a dialog of its own
//! (its own [`DialogId`], `Early`), announced with
//! [`Event::EarlyDialog`]. When a 2xx arrives, the call takes that
//! callee's dialog and the other early dialogs end; a later 2xx from one
//! of them is ACKed and ended with BYE.

use std::time::Instant;

use tracing::debug;

use super::call::Call;
use super::early::CallExt;
use super::event::{DialogId, DialogState, Event};
use super::timer::TimerTable;
use super::Party;
use crate::dialog::Dialog;
use crate::message::Message;

/// Further early dialogs followed per call; beyond that a fork's
/// provisionals are reported on the call and not PRACKed.
pub(crate) const MAX_FORKS: usize = 16;

impl Party {
    /// The dialog a provisional response to our INVITE belongs to, by its
    /// To tag: the call's own (possibly not yet created), an existing
    /// fork, or a new fork made now. None when the response cannot be
    /// tracked (too many forks, malformed).
    pub(crate) fn early_dialog_for(
        &mut self,
        id: DialogId,
        status: u16,
        response: &Message,
    ) -> Option<DialogId> {
        let tag = response.to_tag().flatten()?;
        let call = self.calls.get(&id)?;
        match &call.dialog {
            None => return Some(id),
            Some(d) if d.remote_tag() == tag => return Some(id),
            Some(_) => {}
        }
        let forks = call.ext().map(|e| e.forks.as_slice()).unwrap_or(&[]);
        if let Some(f) = forks.iter().copied().find(|f| {
            self.calls
                .get(f)
                .and_then(|c| c.dialog.as_ref())
                .is_some_and(|d| d.remote_tag() == tag)
        }) {
            return Some(f);
        }
        if forks.len() >= MAX_FORKS {
            debug!(%id, "too many forks, not following another");
            return None;
        }
        let out = call.out_invite.as_ref()?;
        let dialog = match Dialog::from_uac_response_as(&out.request, &call.local_tag, response) {
            Ok(d) => d,
            Err(e) => {
                debug!(%id, error = %e, "forked provisional cannot create a dialog");
                return None;
            }
        };
        let remote_tag = tag.to_string();
        let fork = Call {
            state: DialogState::Early,
            last_error: None,
            uac: true,
            local_tag: call.local_tag,
            transport: call.transport,
            peer: call.peer,
            dialog: Some(dialog),
            timers: TimerTable::default(),
            out_invite: None,
            in_invite: None,
            pending_2xx: None,
            ack: None,
            media: None,
            reinvite: None,
            serving_reinvite: false,
            bye_after_ack: false,
            bye_sent: false,
            session: None,
            ext: Some(Box::new(CallExt {
                fork_of: Some(id),
                ..CallExt::default()
            })),
        };
        let fork_id = DialogId(self.new_id());
        self.calls.insert(fork_id, Box::new(fork));
        if let Some(c) = self.calls.get_mut(&id) {
            c.ext_mut().forks.push(fork_id);
        }
        debug!(%id, fork = %fork_id, %remote_tag, "forked: another early dialog");
        self.events.push_back(Event::EarlyDialog {
            call: id,
            dialog: fork_id,
            remote_tag,
            code: status,
        });
        self.events.push_back(Event::DialogStateChanged {
            id: fork_id,
            state: DialogState::Early,
        });
        Some(fork_id)
    }

    /// The 2xx came from the callee of fork `tag`: the call takes over that
    /// early dialog (its CSeq counts the PRACKs sent in it), so the 2xx
    /// confirms it.
    pub(crate) fn adopt_fork_dialog(&mut self, id: DialogId, tag: &str) {
        let Some(forks) = self
            .calls
            .get(&id)
            .and_then(|c| c.ext())
            .map(|e| e.forks.clone())
        else {
            return;
        };
        for f in forks {
            let matches = self
                .calls
                .get(&f)
                .and_then(|c| c.dialog.as_ref())
                .is_some_and(|d| d.remote_tag() == tag);
            if matches {
                let dialog = self.calls.get_mut(&f).and_then(|c| c.dialog.take());
                if let Some(c) = self.calls.get_mut(&id) {
                    // The call's first early dialog ends like a fork.
                    if let Some(old) = std::mem::replace(&mut c.dialog, dialog) {
                        c.ext_mut()
                            .fork_seqs
                            .push((old.remote_tag().into(), old.local_seq));
                    }
                }
                return;
            }
        }
    }

    /// The call is answered or over: its other early dialogs end too.
    /// Their CSeqs are remembered, so a BYE to a late 2xx from one of them
    /// counts on from its PRACKs.
    pub(crate) fn end_forks(&mut self, now: Instant, id: DialogId, state: DialogState) {
        let Some(forks) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.ext.as_mut())
            .map(|e| std::mem::take(&mut e.forks))
        else {
            return;
        };
        for f in forks {
            let seq = self
                .calls
                .get(&f)
                .and_then(|c| c.dialog.as_ref())
                .map(|d| (Box::<str>::from(d.remote_tag()), d.local_seq));
            if let (Some(seq), Some(c)) = (seq, self.calls.get_mut(&id)) {
                c.ext_mut().fork_seqs.push(seq);
            }
            self.finish_call(now, f, state, None);
        }
    }

    /// The highest CSeq we used in the ended early dialog with `tag`.
    pub(crate) fn fork_seq(&self, id: DialogId, tag: &str) -> Option<u32> {
        self.calls
            .get(&id)?
            .ext()?
            .fork_seqs
            .iter()
            .find(|(t, _)| **t == *tag)
            .map(|(_, s)| *s)
    }

    /// The call (or fork of it) whose dialog an in-dialog request with our
    /// tag belongs to.
    pub(crate) fn dialog_for_request(&self, id: DialogId, request: &Message) -> Option<DialogId> {
        let call = self.calls.get(&id)?;
        if call
            .dialog
            .as_ref()
            .is_some_and(|d| d.matches_request(request))
        {
            return Some(id);
        }
        call.ext()?.forks.iter().copied().find(|f| {
            self.calls
                .get(f)
                .and_then(|c| c.dialog.as_ref())
                .is_some_and(|d| d.matches_request(request))
        })
    }
}
