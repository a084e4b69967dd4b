//! The early phase of an incoming call as callee: reliable provisional
//! responses and PRACK (RFC 3262), and early media in a 183 Session
//! Progress (RFC 3261 section 13.3.1.1, RFC 6337 section 3.1).
//!
//! A reliable provisional carries `Require: 100rel` and an `RSeq`, and is
//! retransmitted (T1, doubling) until a PRACK names it in its `RAck`; after
//! 64*T1 the INVITE is rejected with 500 (section 3). One reliable
//! provisional is outstanding at a time: later ones, and the final 2xx,
//! wait for its PRACK.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use super::config::ReliableProvisionals;
use super::event::{DialogError, DialogId, DialogState, Event};
use super::handle::Incoming;
use super::timer::CallTimer;
use super::{Error, Party};
use crate::message::{HeaderName, Message, Method};
use crate::sdp::Negotiator;
use crate::transaction::TransactionId;

/// The option tag of RFC 3262.
pub(crate) const TAG_100REL: &str = "100rel";

/// What a call needs beyond the common case, kept out of line so a plain
/// confirmed call pays one pointer for it.
#[derive(Debug, Default)]
pub(crate) struct CallExt {
    /// UAS: reliable provisional responses to the incoming INVITE.
    pub(crate) rel: Option<UasReliable>,
    /// UAS: media started from a 183 (early media); the 2xx changes
    /// nothing.
    pub(crate) early_media: bool,
    /// UAC: the RSeq of the last reliable provisional we PRACKed in this
    /// (early) dialog (RFC 3262 section 4).
    pub(crate) rseq_in: Option<u32>,
    /// UAC, a further early dialog: the call it belongs to.
    pub(crate) fork_of: Option<DialogId>,
    /// UAC, the call: the ids of the further early dialogs of a forked
    /// INVITE.
    pub(crate) forks: Vec<DialogId>,
    /// UAC, the call: (To tag, last CSeq) of the early dialogs that ended
    /// when the call was answered, for the BYE to a late 2xx of theirs.
    pub(crate) fork_seqs: Vec<(Box<str>, u32)>,
    /// Our UPDATE with an offer (RFC 3311) in flight, or waiting to be
    /// retried after 491.
    pub(crate) update: Option<super::update::PendingUpdate>,
    /// UAC, the call: the answers early dialogs gave to our INVITE's offer
    /// in their 18x, until a 2xx decides.
    pub(crate) early_sdp: Option<Box<EarlyAnswers>>,
}

/// The answers the early dialogs of our INVITE gave to its offer. Forked,
/// the one offer is answered by each callee in its own early dialog, each
/// its own offer/answer exchange (RFC 3261 section 13.2.2.4, RFC 3264
/// section 4); the media follows the latest, and the 2xx that wins puts
/// the winner's in place. Another answer than the one in place is applied
/// to the offer made pending again ([`Party::offer_again`]): nothing is
/// copied for the common unforked call.
#[derive(Debug, Default)]
pub(crate) struct EarlyAnswers {
    /// (remote tag, answer) of each early dialog that answered, the one
    /// the media follows last. That one stays when its early dialog ends
    /// and no other answered (the media stays with it until the 2xx
    /// decides); the next answer then replaces it.
    answers: Vec<(Box<str>, Vec<u8>)>,
}

impl EarlyAnswers {
    /// The remote tag whose answer the media follows.
    fn current(&self) -> Option<&str> {
        self.answers.last().map(|(t, _)| &**t)
    }
}

/// Reliable provisional responses of one incoming INVITE.
#[derive(Debug)]
pub(crate) struct UasReliable {
    /// The INVITE required 100rel (every provisional goes reliably).
    all: bool,
    /// The RSeq of the next reliable provisional.
    next_rseq: u32,
    /// The one not yet PRACKed.
    outstanding: Option<Outstanding>,
    /// Provisionals waiting for the outstanding one's PRACK (section 3:
    /// no second reliable provisional before the first is acknowledged).
    queue: VecDeque<Message>,
    /// The application answered while a provisional was outstanding: the
    /// 2xx goes once it is PRACKed.
    pub(crate) final_deferred: bool,
}

#[derive(Debug)]
struct Outstanding {
    response: Message,
    rseq: u32,
    interval: Duration,
    give_up: Instant,
}

impl CallExt {
    /// Whether nothing is kept (the box can go).
    fn is_empty(&self) -> bool {
        self.rel.is_none()
            && !self.early_media
            && self.rseq_in.is_none()
            && self.fork_of.is_none()
            && self.forks.is_empty()
            && self.fork_seqs.is_empty()
            && self.update.is_none()
            && self.early_sdp.is_none()
    }
}

impl UasReliable {
    /// Whether the 2xx must wait.
    pub(crate) fn busy(&self) -> bool {
        self.outstanding.is_some() || !self.queue.is_empty()
    }
}

impl super::call::Call {
    /// The out-of-line part, made on first use.
    pub(crate) fn ext_mut(&mut self) -> &mut CallExt {
        self.ext.get_or_insert_with(Default::default)
    }

    pub(crate) fn ext(&self) -> Option<&CallExt> {
        self.ext.as_deref()
    }

    /// The incoming INVITE got its final response: its early-phase state
    /// goes (a confirmed call keeps no more than before).
    pub(crate) fn forget_early_phase(&mut self) {
        if let Some(e) = self.ext.as_mut() {
            e.rel = None;
            e.early_media = false;
            if e.is_empty() {
                self.ext = None;
            }
        }
    }
}

/// Whether `msg` names `tag` in its header `name` (Require, Supported).
pub(crate) fn has_tag(msg: &Message, name: &HeaderName, tag: &str) -> bool {
    msg.tokens(name).any(|t| t.eq_ignore_ascii_case(tag))
}

/// The option tags we support as UAS (Supported, RFC 3261 section 20.37).
pub(crate) fn uas_supported(config: &super::PartyConfig) -> &'static str {
    if config.reliable_provisionals == ReliableProvisionals::Never {
        super::SUPPORTED
    } else {
        "timer, 100rel"
    }
}

/// `RAck: response-num CSeq-num Method` (RFC 3262 section 7.2).
fn parse_rack(value: &str) -> Option<(u32, u32, Method)> {
    let mut it = value.split_ascii_whitespace();
    let rseq = it.next()?.parse().ok()?;
    let cseq = it.next()?.parse().ok()?;
    let method = Method::from_token(it.next()?);
    if it.next().is_some() {
        return None;
    }
    Some((rseq, cseq, method))
}

impl Party {
    /// RFC 3262 for a new incoming INVITE: the reliability state the call
    /// keeps (None: provisionals go unreliably). One that requires 100rel
    /// when we never do it was answered 420 by the request checks.
    pub(crate) fn reliable_for(&mut self, request: &Message) -> Option<UasReliable> {
        let required = has_tag(request, &HeaderName::Require, TAG_100REL);
        let supported = required || has_tag(request, &HeaderName::Supported, TAG_100REL);
        let mode = self.config.reliable_provisionals;
        if mode == ReliableProvisionals::Never {
            return None;
        }
        let all = required || mode == ReliableProvisionals::Always;
        // No state where no provisional can go reliably: policies that
        // answer or reject at once, and one that rings with a plain 180
        // when the caller merely supports 100rel.
        let policy = self.config.policy;
        if !supported
            || matches!(
                policy,
                super::CallPolicy::AutoAnswer | super::CallPolicy::Reject { .. }
            )
            || (!all
                && !self.config.early_media
                && matches!(policy, super::CallPolicy::RingThenAnswer { .. }))
        {
            return None;
        }
        // Section 3: the first RSeq is random, between 1 and 2^31 - 1, so
        // a restarted UAS does not reuse numbers.
        let first = (self.rng.next_u64() % 0x7fff_ffff) as u32 + 1;
        Some(UasReliable {
            all,
            next_rseq: first,
            outstanding: None,
            queue: VecDeque::new(),
            final_deferred: false,
        })
    }

    /// Send a provisional response to the incoming INVITE: reliably when
    /// 100rel is in use for it (always, or because `with_sdp`), else as is.
    /// Returns whether it went (or waits) reliably.
    pub(crate) fn send_provisional_with(
        &mut self,
        now: Instant,
        id: DialogId,
        code: u16,
        sdp: Option<&[u8]>,
    ) -> bool {
        let Some(mut resp) = self.invite_response(id, code) else {
            return false;
        };
        if let Some(b) = sdp {
            resp.set_body(Some("application/sdp"), b);
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        let Some(tx) = call.in_invite.as_ref().map(|u| u.tx) else {
            return false;
        };
        let reliable = call
            .ext()
            .and_then(|e| e.rel.as_ref())
            .is_some_and(|r| r.all || sdp.is_some());
        if reliable {
            resp.add_header(HeaderName::Require, TAG_100REL);
            let rel = call.ext_mut().rel.as_mut();
            // Checked just above.
            let rel = rel.expect("reliable implies state");
            if rel.busy() {
                trace!(%id, code, "reliable provisional queued behind an unacknowledged one");
                rel.queue.push_back(resp);
            } else {
                self.send_reliable(now, id, resp);
            }
        } else {
            let _ = self.tx.send_response(now, tx, resp);
        }
        if self
            .calls
            .get(&id)
            .is_some_and(|c| c.state == DialogState::InitiatingDialog)
        {
            self.set_state(id, DialogState::Early);
        }
        reliable
    }

    /// Number and send a reliable provisional, and retransmit it until its
    /// PRACK (section 3).
    fn send_reliable(&mut self, now: Instant, id: DialogId, mut resp: Message) {
        let t1 = self.config.timers.t1;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(tx) = call.in_invite.as_ref().map(|u| u.tx) else {
            return;
        };
        let Some(rel) = call.ext.as_mut().and_then(|e| e.rel.as_mut()) else {
            return;
        };
        let rseq = rel.next_rseq;
        rel.next_rseq = rel.next_rseq.wrapping_add(1);
        resp.set_header(HeaderName::RSeq, &rseq.to_string());
        rel.outstanding = Some(Outstanding {
            response: resp.clone(),
            rseq,
            interval: t1,
            give_up: now + 64 * t1,
        });
        debug!(%id, rseq, status = resp.status(), "reliable provisional sent");
        let _ = self.tx.send_response(now, tx, resp);
        self.set_call_timer(id, CallTimer::Retransmit1xx, now + t1);
    }

    /// Retransmit the outstanding reliable provisional, or give up.
    pub(crate) fn on_retransmit_1xx(&mut self, now: Instant, id: DialogId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(tx) = call.in_invite.as_ref().map(|u| u.tx) else {
            return;
        };
        let Some(out) = call
            .ext
            .as_mut()
            .and_then(|e| e.rel.as_mut())
            .and_then(|r| r.outstanding.as_mut())
        else {
            return;
        };
        if now >= out.give_up {
            // Section 3: no PRACK in 64*T1; reject the INVITE with a 5xx.
            debug!(%id, rseq = out.rseq, "no PRACK, rejecting the INVITE");
            if let Some(resp) = self.invite_response(id, 500) {
                if let Some(uas) = self.calls.get_mut(&id).and_then(|c| c.in_invite.take()) {
                    let _ = self.tx.send_response(now, uas.tx, resp);
                }
            }
            self.finish_call(now, id, DialogState::Error, Some(DialogError::NoPrack));
            return;
        }
        // Unlike a 2xx, the interval is not capped at T2 (section 3).
        out.interval *= 2;
        let next = (now + out.interval).min(out.give_up);
        let resp = out.response.clone();
        trace!(%id, rseq = out.rseq, "retransmitting reliable provisional");
        let _ = self.tx.send_response(now, tx, resp);
        self.set_call_timer(id, CallTimer::Retransmit1xx, next);
    }

    /// Whether the 2xx to the incoming INVITE must wait for a PRACK; if so
    /// it is remembered and sent when the PRACK comes.
    pub(crate) fn defer_answer(&mut self, id: DialogId) -> bool {
        let Some(rel) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.ext.as_mut())
            .and_then(|e| e.rel.as_mut())
        else {
            return false;
        };
        if rel.busy() {
            debug!(%id, "2xx waits for the PRACK of a reliable provisional");
            rel.final_deferred = true;
            return true;
        }
        false
    }

    /// A PRACK in the dialog of an incoming INVITE (RFC 3262 section 3).
    pub(crate) fn on_prack(
        &mut self,
        now: Instant,
        id: DialogId,
        tx: TransactionId,
        request: Message,
    ) {
        let rack = request.header(&HeaderName::RAck).and_then(parse_rack);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let invite_seq = call
            .in_invite
            .as_ref()
            .and_then(|u| u.request.cseq())
            .and_then(Result::ok)
            .map(|c| c.seq);
        let rel = call.ext.as_mut().and_then(|e| e.rel.as_mut());
        let matched = match (rel, rack, invite_seq) {
            (Some(rel), Some((rseq, cseq, method)), Some(seq))
                if method == Method::Invite
                    && cseq == seq
                    && rel.outstanding.as_ref().is_some_and(|o| o.rseq == rseq) =>
            {
                rel.outstanding = None;
                true
            }
            _ => false,
        };
        if !matched {
            // Section 3: a PRACK for no unacknowledged reliable
            // provisional.
            debug!(%id, rack = ?request.header(&HeaderName::RAck), "PRACK matches nothing: 481");
            let resp = Message::response_to(&request, 481, None);
            let _ = self.tx.send_response(now, tx, resp);
            return;
        }
        call.timers.stop(CallTimer::Retransmit1xx);
        let mut resp = Message::response_to(&request, 200, None);
        // Section 5: the PRACK may carry the answer to the offer of our
        // provisional, or a new offer answered in its 2xx.
        let mut negotiated = false;
        let mut failed = None;
        if !request.body().is_empty() {
            let pending = call.media.as_ref().is_some_and(|m| m.offer_pending);
            if call.media.is_none() {
                let resp = Message::response_to(&request, 488, None);
                let _ = self.tx.send_response(now, tx, resp);
                self.after_prack(now, id);
                return;
            }
            if pending {
                match self.apply_answer(now, id, request.body()) {
                    Ok(()) => {
                        if let Some(c) = self.calls.get_mut(&id) {
                            c.ext_mut().early_media = true;
                            if let Some(u) = c.in_invite.as_mut() {
                                // The 2xx carries no offer now.
                                u.sdp = None;
                            }
                        }
                    }
                    Err(e) => failed = Some(e),
                }
            } else {
                match self.apply_offer(now, id, request.body()) {
                    Ok(answer) => {
                        resp.set_body(Some("application/sdp"), &answer);
                        negotiated = true;
                    }
                    Err(_) => {
                        let resp = Message::response_to(&request, 488, None);
                        let _ = self.tx.send_response(now, tx, resp);
                        self.after_prack(now, id);
                        return;
                    }
                }
            }
        }
        let _ = self.tx.send_response(now, tx, resp);
        trace!(%id, "PRACK answered");
        if let Some(e) = failed {
            // The answer in the PRACK is unusable: the session cannot be
            // set up (RFC 3264 section 6 has no way to refuse an answer).
            if let Some(r) = self.invite_response(id, 488) {
                if let Some(uas) = self.calls.get_mut(&id).and_then(|c| c.in_invite.take()) {
                    let _ = self.tx.send_response(now, uas.tx, r);
                }
            }
            self.finish_call(now, id, DialogState::Error, Some(e));
            return;
        }
        if negotiated {
            self.media_negotiated(now, id);
        }
        self.after_prack(now, id);
    }

    /// The outstanding provisional is acknowledged: send the next queued
    /// one, or the 2xx that waited.
    fn after_prack(&mut self, now: Instant, id: DialogId) {
        let Some(rel) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.ext.as_mut())
            .and_then(|e| e.rel.as_mut())
        else {
            return;
        };
        if let Some(next) = rel.queue.pop_front() {
            self.send_reliable(now, id, next);
        } else if rel.final_deferred {
            rel.final_deferred = false;
            self.answer(now, id);
        }
    }

    /// Send 183 Session Progress with our SDP (the answer to the INVITE's
    /// offer) and start media (early media). Reliable when the caller
    /// supports 100rel; without it the 2xx repeats the same answer
    /// (RFC 6337 section 3.1). An INVITE without offer gets our offer in
    /// a reliable 183 (the answer comes in the PRACK), or a plain 183
    /// without SDP when the caller cannot PRACK.
    pub(crate) fn send_early_media(&mut self, now: Instant, id: DialogId) -> Result<(), Error> {
        let call = self.calls.get_mut(&id).ok_or(Error::Unknown)?;
        if call.media.is_none() {
            return Err(Error::NoMedia);
        }
        let Some(uas) = call.in_invite.as_ref() else {
            return Err(Error::InvalidState {
                state: call.state,
                action: "send early media in",
            });
        };
        if call.ext().is_some_and(|e| e.early_media) {
            return Ok(());
        }
        let has_offer = !uas.request.body().is_empty();
        let can_prack = call.ext().is_some_and(|e| e.rel.is_some());
        let sdp = uas.sdp.clone();
        match (sdp, has_offer, can_prack) {
            (Some(answer), true, _) => {
                let reliable = self.send_provisional_with(now, id, 183, Some(&answer));
                if let Some(c) = self.calls.get_mut(&id) {
                    c.ext_mut().early_media = true;
                    if reliable {
                        // Section 13.3.1.1 / RFC 6337: the answer is
                        // delivered; the 2xx carries no SDP.
                        if let Some(u) = c.in_invite.as_mut() {
                            u.sdp = None;
                        }
                    }
                }
                self.media_negotiated(now, id);
            }
            (Some(offer), false, true) => {
                // Our offer in the reliable 183; media starts with the
                // answer in the PRACK.
                self.send_provisional_with(now, id, 183, Some(&offer));
            }
            _ => {
                warn!(%id, "no early media: no offer and no 100rel");
                self.send_provisional_with(now, id, 183, None);
            }
        }
        Ok(())
    }

    /// The ringing provisional of a policy: 183 with early media when
    /// configured, else 180.
    pub(crate) fn ring_or_early_media(&mut self, now: Instant, id: DialogId) {
        let early = self.config.early_media
            && self.calls.get(&id).is_some_and(|c| {
                c.media.is_some() && c.in_invite.as_ref().is_some_and(|u| u.sdp.is_some())
            });
        if !early || self.send_early_media(now, id).is_err() {
            self.send_provisional_with(now, id, 180, None);
        }
    }
}

/// Early answers to a forked INVITE's offer, as caller.
impl Party {
    /// An 18x to our INVITE carried SDP: early dialog `dialog` (the call
    /// `id` or a fork of it, remote tag `tag`) answered our offer. The
    /// first answer of each early dialog counts; a repeat (an unreliable
    /// 18x again) changes nothing (RFC 3264 section 4: one answer per
    /// exchange). The media follows the latest answer.
    pub(crate) fn on_early_answer(
        &mut self,
        now: Instant,
        id: DialogId,
        dialog: DialogId,
        tag: &str,
        sdp: &[u8],
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let earlier = call.ext().and_then(|e| e.early_sdp.as_ref());
        if earlier.is_some_and(|ea| ea.answers.iter().any(|(t, _)| **t == *tag)) {
            trace!(%id, %dialog, "early dialog answered already: SDP ignored");
            return;
        }
        let first = earlier.is_none();
        let Some(pending) = call.media.as_ref().map(|m| m.offer_pending) else {
            return;
        };
        if first {
            if !pending {
                // No offer of ours to answer (it was answered otherwise).
                return;
            }
            if let Err(e) = self.apply_answer(now, id, sdp) {
                // The negotiator keeps the offer pending: a later 18x or
                // the 2xx may still answer it.
                debug!(%id, error = %e, "early media answer refused");
                if let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
                    m.offer_pending = true;
                }
                return;
            }
        } else {
            // Another early dialog answered first: this answer goes on our
            // offer made pending again, and the media switches to it.
            let Some(offer) = self.offer_again(id) else {
                debug!(%id, %dialog, "offer cannot be made again, media unchanged");
                return;
            };
            let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
                return;
            };
            let previous = std::mem::replace(&mut m.negotiator, offer);
            m.offer_pending = true;
            if let Err(e) = self.apply_answer(now, id, sdp) {
                debug!(%id, %dialog, error = %e, "early answer refused, media unchanged");
                if let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
                    m.negotiator = previous;
                    m.offer_pending = false;
                }
                return;
            }
        }
        let followed = self
            .early_sdp(id)
            .and_then(|ea| ea.current())
            .map(Box::<str>::from);
        if followed.is_some_and(|t| self.early_dialog_with_tag(id, &t).is_none()) {
            // The answer in place was of an early dialog that ended: it
            // gives way.
            if let Some(ea) = self.early_sdp_mut(id) {
                ea.answers.clear();
            }
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let ea = call.ext_mut().early_sdp.get_or_insert_with(Box::default);
        ea.answers.push((tag.into(), sdp.to_vec()));
        debug!(%id, %dialog, "media follows this early dialog");
        self.events
            .push_back(Event::EarlyMedia { call: id, dialog });
    }

    fn early_sdp(&self, id: DialogId) -> Option<&EarlyAnswers> {
        self.calls.get(&id)?.ext()?.early_sdp.as_deref()
    }

    fn early_sdp_mut(&mut self, id: DialogId) -> Option<&mut EarlyAnswers> {
        self.calls
            .get_mut(&id)?
            .ext
            .as_mut()?
            .early_sdp
            .as_deref_mut()
    }

    /// Call `id`'s media negotiator as it was with our INVITE's offer
    /// pending, before any early dialog answered it: made afresh from
    /// the same capabilities, address, port and session id, which give
    /// the same offer (checked against the INVITE's body). Needed only
    /// when a second callee answers, so the common call keeps no copy.
    pub(crate) fn offer_again(&self, id: DialogId) -> Option<Negotiator> {
        let call = self.calls.get(&id)?;
        let sent = call.out_invite.as_ref()?.request.body();
        let m = call.media.as_ref()?;
        let n = &m.negotiator;
        // A negotiator's first o= version is its session id, and taking
        // an answer leaves the version alone.
        let mut fresh = Negotiator::new(
            n.capabilities().clone(),
            m.rtp.ip(),
            m.rtp.port(),
            n.session_version(),
        );
        let offer = fresh.create_offer_with_direction(n.direction()).to_bytes();
        (offer == sent).then_some(fresh)
    }

    /// The 2xx from the callee with `tag` answered the call: the session
    /// is that callee's. `None` when no early dialog answered (the 2xx's
    /// answer is applied as usual); else whether the winner's answer (its
    /// early one, else the 2xx's `body`) is in place. A winner that never
    /// answered our offer breaks RFC 3261 section 13.2.1.
    pub(crate) fn settle_early_answers(
        &mut self,
        now: Instant,
        id: DialogId,
        tag: &str,
        body: &[u8],
    ) -> Option<Result<(), DialogError>> {
        let call = self.calls.get_mut(&id)?;
        let ea = *call.ext.as_mut().and_then(|e| e.early_sdp.take())?;
        if ea.current() == Some(tag) {
            // The media follows the winner already; its 2xx may only
            // repeat the answer.
            return Some(Ok(()));
        }
        let early = ea.answers.iter().find(|(t, _)| **t == *tag);
        let answer = match early {
            Some((_, a)) => a.as_slice(),
            None if !body.is_empty() => body,
            None => {
                return Some(Err(DialogError::NotAcceptable(
                    "the callee that answered sent no SDP answer".into(),
                )))
            }
        };
        let Some(offer) = self.offer_again(id) else {
            return Some(Err(DialogError::NotAcceptable(
                "our offer cannot be made again for the winning callee's answer".into(),
            )));
        };
        let m = self.calls.get_mut(&id)?.media.as_mut()?;
        m.negotiator = offer;
        m.offer_pending = true;
        debug!(%id, "the winning callee's answer replaces the early media");
        Some(self.apply_answer(now, id, answer))
    }

    /// Early dialog `tag` of call `id` ended before the call was answered:
    /// its answer goes, and if the media followed it, it follows the
    /// latest remaining one.
    pub(crate) fn early_dialog_gone(&mut self, now: Instant, id: DialogId, tag: &str) {
        let Some(ea) = self.early_sdp_mut(id) else {
            return;
        };
        let Some(at) = ea.answers.iter().position(|(t, _)| **t == *tag) else {
            return;
        };
        if at + 1 < ea.answers.len() {
            // The media follows another one.
            ea.answers.remove(at);
            return;
        }
        if ea.answers.len() == 1 {
            // Nothing else answered: the media stays as it is until the
            // 2xx decides.
            return;
        }
        ea.answers.pop();
        let Some((next, answer)) = ea.answers.last().cloned() else {
            return;
        };
        let Some(offer) = self.offer_again(id) else {
            debug!(%id, "offer cannot be made again, media unchanged");
            return;
        };
        let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        m.negotiator = offer;
        m.offer_pending = true;
        if self.apply_answer(now, id, &answer).is_ok() {
            if let Some(dialog) = self.early_dialog_with_tag(id, &next) {
                self.events
                    .push_back(Event::EarlyMedia { call: id, dialog });
            }
        }
    }

    /// Our INVITE goes again (redirect, 422 retry) with the same offer: the
    /// early answers to it are void, the offer pending again, and the RSeq
    /// order starts afresh with the new request (RFC 3262 section 4).
    pub(crate) fn invite_sent_again(&mut self, id: DialogId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(e) = call.ext.as_mut() {
            e.rseq_in = None;
        }
        if call.ext.as_mut().and_then(|e| e.early_sdp.take()).is_none() {
            return;
        }
        let Some(offer) = self.offer_again(id) else {
            debug!(%id, "offer cannot be made again for the new INVITE");
            return;
        };
        if let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
            m.negotiator = offer;
            m.offer_pending = true;
        }
    }

    /// The call or fork of call `id` whose early dialog has `tag`.
    fn early_dialog_with_tag(&self, id: DialogId, tag: &str) -> Option<DialogId> {
        let call = self.calls.get(&id)?;
        let has = |c: &super::call::Call| c.dialog.as_ref().is_some_and(|d| d.remote_tag() == tag);
        if has(call) {
            return Some(id);
        }
        let forks = call.ext()?.forks.iter();
        forks
            .copied()
            .find(|f| self.calls.get(f).is_some_and(|c| has(c)))
    }
}

impl Incoming<'_> {
    /// Send 183 Session Progress with the SDP answer and start media
    /// before answering (early media: announcements, ringback). The 183
    /// goes reliably (RFC 3262) when the caller supports 100rel; `accept`
    /// then sends the 200 once it is PRACKed, without a new SDP.
    pub fn early_media(&mut self, now: Instant) -> Result<(), Error> {
        self.party.touch(now);
        let r = self.party.send_early_media(now, self.id);
        self.party.after_command(now);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack_rfc3262_7_2() {
        assert_eq!(
            parse_rack("776656 1 INVITE"),
            Some((776656, 1, Method::Invite))
        );
        assert_eq!(
            parse_rack(" 1  314159 INVITE "),
            Some((1, 314159, Method::Invite))
        );
        assert_eq!(parse_rack("1 INVITE"), None);
        assert_eq!(parse_rack("x 1 INVITE"), None);
        assert_eq!(parse_rack("1 2 INVITE extra"), None);
    }
}
