//! New SDP offers in UPDATE (RFC 3311) between two Parties in the network
//! simulator: hold and resume in a confirmed dialog, an offer in an early
//! dialog (after a reliable 183), 491 glare retried after the RFC 3261
//! section 14.1 waits, lost messages, and the offer rules of section 5.1.

use std::net::SocketAddr;
use std::time::Duration;

use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{
    CallPolicy, DialogId, DialogState, Error, MediaChange, Party, SimParty,
};
use sipparty_core::sim::{Network, Verdict};

mod support;
use support::{
    alice_addr as a, bob_addr as b, media_updates, media_updates_of_both, no_frames, party_with,
    ring_then_answer, two_parties, Calls, BOB, RECVONLY, SENDONLY, SENDRECV,
};

/// Alice and Bob, both with `policy`, one audio stream (negotiated, no
/// frames) and early media when `early_media`.
fn network(seed: u64, policy: CallPolicy, early_media: bool) -> Network<SimParty> {
    let mk = |aor: &str| {
        party_with(aor, policy, true, |p: &mut Party| {
            no_frames(p);
            p.config_mut().early_media = early_media;
        })
    };
    two_parties(seed, mk("alice@atlanta.com"), mk("bob@biloxi.com"))
}

/// A confirmed call: (network, Alice's id, Bob's id).
fn established(seed: u64) -> (Network<SimParty>, DialogId, DialogId) {
    let mut net = network(seed, CallPolicy::AutoAnswer, false);
    let call = net.call(a(), BOB);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(a(), call), Some(DialogState::InDialog));
    let bob_call = net.first_incoming(b());
    (net, call, bob_call)
}

/// Alice calls a Bob who rings for 3 s; half a second in, the call is
/// early.
fn ringing(seed: u64, early_media: bool) -> (Network<SimParty>, DialogId) {
    let mut net = network(seed, ring_then_answer(3000), early_media);
    let call = net.call(a(), BOB);
    net.run_for(Duration::from_millis(500));
    assert_eq!(net.state(a(), call), Some(DialogState::Early));
    (net, call)
}

/// The party at `node` offers `change` in an UPDATE now.
fn update(net: &mut Network<SimParty>, node: SocketAddr, id: DialogId, change: MediaChange) {
    net.with_dialog(node, id, |d, now| d.update(now, change))
        .unwrap();
}

/// Alice hangs up; nothing is left behind.
fn hang_up(net: &mut Network<SimParty>, call: DialogId) {
    net.hang_up(a(), call);
    net.settle();
}

#[test]
fn rfc3311_5_1_hold_and_resume_by_update() {
    let (mut net, call, _) = established(30);
    let mark = net.mark();
    update(&mut net, a(), call, MediaChange::Hold);
    net.run_for(Duration::from_secs(1));
    // One UPDATE transaction, no re-INVITE, no ACK.
    assert_eq!(net.labels_since(mark), ["UPDATE", "200/UPDATE"]);
    assert_eq!(
        media_updates_of_both(&net),
        (vec![SENDONLY], vec![RECVONLY])
    );
    let update = Message::parse(&net.log()[mark].bytes).unwrap();
    assert!(update.body().windows(8).any(|w| w == b"sendonly"));
    assert!(update.header(&HeaderName::Contact).is_some());
    update_and_check_resume(&mut net, call);
    hang_up(&mut net, call);
}

fn update_and_check_resume(net: &mut Network<SimParty>, call: DialogId) {
    update(net, a(), call, MediaChange::Resume);
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        media_updates_of_both(net),
        (vec![SENDONLY, SENDRECV], vec![RECVONLY, SENDRECV])
    );
}

#[test]
fn rfc3311_5_1_callee_renegotiates_by_update() {
    let (mut net, call, bob_call) = established(31);
    let mark = net.mark();
    update(&mut net, b(), bob_call, MediaChange::Renegotiate);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.labels_since(mark), ["UPDATE", "200/UPDATE"]);
    assert_eq!(
        media_updates_of_both(&net),
        (vec![SENDRECV], vec![SENDRECV])
    );
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_5_1_no_second_offer_while_one_is_outstanding() {
    let (mut net, call, _) = established(32);
    update(&mut net, a(), call, MediaChange::Hold);
    let second = net.with_dialog(a(), call, |d, now| d.update(now, MediaChange::Resume));
    assert!(
        matches!(second, Err(Error::InvalidState { .. })),
        "{second:?}"
    );
    // A re-INVITE asked meanwhile waits for the UPDATE and goes after it.
    net.with_dialog(a(), call, |d, now| d.resume(now)).unwrap();
    net.run_for(Duration::from_secs(3));
    assert_eq!(media_updates(net.endpoint(a())), vec![SENDONLY, SENDRECV]);
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_5_2_glare_is_491_and_both_retry_rfc3261_14_1() {
    let (mut net, call, bob_call) = established(33);
    let mark = net.mark();
    let start = net.now();
    update(&mut net, a(), call, MediaChange::Hold);
    update(&mut net, b(), bob_call, MediaChange::Renegotiate);
    net.run_until(start + Duration::from_secs(10));
    let log: Vec<_> = net
        .sent_since(mark)
        .into_iter()
        .map(|s| (s.at, s.source, support::label(&s.message)))
        .collect();
    let glares = log.iter().filter(|(_, _, l)| l == "491/UPDATE").count();
    assert_eq!(glares, 2, "{log:?}");
    // Bob (not the Call-ID owner) retries within 2 s; Alice after 2.1 s.
    let retry = |from: SocketAddr| {
        log.iter()
            .filter(|(_, s, l)| *s == from && l == "UPDATE")
            .nth(1)
            .map(|(at, _, _)| *at - start)
            .expect("a retry")
    };
    assert!(
        retry(b()) <= Duration::from_millis(2100),
        "{:?}",
        retry(b())
    );
    assert!(
        retry(a()) >= Duration::from_millis(2100),
        "{:?}",
        retry(a())
    );
    // Both offers went through in the end: Alice holds.
    assert_eq!(media_updates(net.endpoint(a())).last(), Some(&SENDONLY));
    assert_eq!(media_updates(net.endpoint(b())).last(), Some(&RECVONLY));
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_update_survives_lost_requests_and_answers() {
    let (mut net, call, _) = established(34);
    // The first UPDATE and the first 200 to it are lost.
    let mut lost_update = false;
    let mut lost_ok = false;
    net.set_hook(move |d| {
        let t = d.text();
        if t.starts_with("UPDATE ") && !lost_update {
            lost_update = true;
            return Verdict::Drop;
        }
        if t.starts_with("SIP/2.0 200") && t.contains(" UPDATE\r\n") && !lost_ok {
            lost_ok = true;
            return Verdict::Drop;
        }
        Verdict::Deliver
    });
    update(&mut net, a(), call, MediaChange::Hold);
    net.run_for(Duration::from_secs(5));
    assert_eq!(media_updates(net.endpoint(a())), vec![SENDONLY]);
    // The peer answered the retransmission from its transaction, not as a
    // second offer.
    assert_eq!(media_updates(net.endpoint(b())), vec![RECVONLY]);
    net.clear_hook();
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_update_in_an_early_dialog_after_a_reliable_183() {
    let (mut net, call) = ringing(35, true);
    let mark = net.mark();
    update(&mut net, a(), call, MediaChange::Hold);
    // Until 5 s after the call was placed: Bob has answered.
    net.run_for(Duration::from_millis(4500));
    let after = net.labels_since(mark);
    assert_eq!(after[..2], ["UPDATE", "200/UPDATE"], "{after:?}");
    assert!(after.contains(&"200/INVITE".to_string()));
    assert_eq!(
        media_updates_of_both(&net),
        (vec![SENDONLY], vec![RECVONLY])
    );
    // The 200 to the INVITE changed nothing.
    assert_eq!(net.state(a(), call), Some(DialogState::InDialog));
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_5_1_no_update_offer_before_the_invite_is_answered() {
    // Bob rings (180, no SDP): Alice's INVITE offer is unanswered.
    let (mut net, call) = ringing(36, false);
    let r = net.with_dialog(a(), call, |d, now| d.update(now, MediaChange::Hold));
    assert!(matches!(r, Err(Error::InvalidState { .. })), "{r:?}");
    net.run_for(Duration::from_secs(5));
    hang_up(&mut net, call);
}
