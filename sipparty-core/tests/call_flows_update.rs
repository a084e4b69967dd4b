//! New SDP offers in UPDATE (RFC 3311) between two Parties in the network
//! simulator: hold and resume in a confirmed dialog, an offer in an early
//! dialog (after a reliable 183), 491 glare retried after the RFC 3261
//! section 14.1 waits, lost messages, and the offer rules of section 5.1.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::Message;
use sipparty_core::party::{
    CallPolicy, DialogId, DialogState, Error, Event, InviteOptions, MediaChange, Party, SimParty,
};
use sipparty_core::sim::{Network, Verdict};

fn a() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}
fn b() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}

fn network(seed: u64, policy: CallPolicy, early_media: bool) -> Network<SimParty> {
    let mk = |aor: &str| {
        let mut p = Party::single_rtp_session_simple(aor).unwrap();
        p.config_mut().run_media = false;
        p.set_policy(policy);
        p.config_mut().early_media = early_media;
        p
    };
    let mut net = Network::new(seed, Instant::now());
    net.add(a(), SimParty::new(mk("alice@atlanta.com"), a()));
    net.add(b(), SimParty::new(mk("bob@biloxi.com"), b()));
    net
}

/// A confirmed call: (network, Alice's id, Bob's id).
fn established(seed: u64) -> (Network<SimParty>, DialogId, DialogId) {
    let mut net = network(seed, CallPolicy::AutoAnswer, false);
    let now = net.now();
    let call = net
        .endpoint_mut(a())
        .party_mut()
        .invite(now, "bob@127.0.0.1:5070", InviteOptions::default())
        .unwrap();
    net.run_until(now + Duration::from_secs(1));
    assert_eq!(
        net.endpoint(a()).state_of(call),
        Some(DialogState::InDialog)
    );
    let bob_call = net.endpoint(b()).incoming_calls()[0];
    (net, call, bob_call)
}

/// (send, recv) of every MediaUpdated of a node.
fn media_updates(node: &SimParty) -> Vec<(bool, bool)> {
    node.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::MediaUpdated { stream, .. } => Some((stream.send, stream.recv)),
            _ => None,
        })
        .collect()
}

fn label(m: &Message) -> String {
    match m.status() {
        Some(s) => format!("{s}/{}", m.cseq().unwrap().unwrap().method),
        None => m.method().unwrap().to_string(),
    }
}

/// The labels of the messages sent from `from`, after the first `skip`
/// messages of the log.
fn sent(net: &Network<SimParty>, skip: usize) -> Vec<(Instant, SocketAddr, String)> {
    net.log()
        .iter()
        .skip(skip)
        .filter(|d| !d.duplicate)
        .filter_map(|d| {
            Message::parse(&d.bytes)
                .ok()
                .map(|m| (d.at, d.source, label(&m)))
        })
        .collect()
}

fn labels(net: &Network<SimParty>, skip: usize) -> Vec<String> {
    sent(net, skip).into_iter().map(|(_, _, l)| l).collect()
}

fn update(net: &mut Network<SimParty>, node: SocketAddr, id: DialogId, change: MediaChange) {
    let now = net.now();
    net.endpoint_mut(node)
        .party_mut()
        .dialog(id)
        .unwrap()
        .update(now, change)
        .unwrap();
}

fn hang_up(net: &mut Network<SimParty>, call: DialogId) {
    let now = net.now();
    net.endpoint_mut(a())
        .party_mut()
        .dialog(call)
        .unwrap()
        .terminate(now)
        .unwrap();
    net.run_until_idle(Duration::from_secs(300));
    assert!(net.endpoint_mut(a()).is_idle());
    assert!(net.endpoint_mut(b()).is_idle());
}

#[test]
fn rfc3311_5_1_hold_and_resume_by_update() {
    let (mut net, call, _) = established(30);
    let mark = net.log().len();
    update(&mut net, a(), call, MediaChange::Hold);
    net.run_until(net.now() + Duration::from_secs(1));
    // One UPDATE transaction, no re-INVITE, no ACK.
    assert_eq!(labels(&net, mark), ["UPDATE", "200/UPDATE"]);
    assert_eq!(media_updates(net.endpoint(a())), vec![(true, false)]);
    assert_eq!(media_updates(net.endpoint(b())), vec![(false, true)]);
    let update = Message::parse(&net.log()[mark].bytes).unwrap();
    assert!(update.body().windows(8).any(|w| w == b"sendonly"));
    assert!(update
        .header(&sipparty_core::message::HeaderName::Contact)
        .is_some());
    update_and_check_resume(&mut net, call);
    hang_up(&mut net, call);
}

fn update_and_check_resume(net: &mut Network<SimParty>, call: DialogId) {
    update(net, a(), call, MediaChange::Resume);
    net.run_until(net.now() + Duration::from_secs(1));
    assert_eq!(
        media_updates(net.endpoint(a())),
        vec![(true, false), (true, true)]
    );
    assert_eq!(
        media_updates(net.endpoint(b())),
        vec![(false, true), (true, true)]
    );
}

#[test]
fn rfc3311_5_1_callee_renegotiates_by_update() {
    let (mut net, call, bob_call) = established(31);
    let mark = net.log().len();
    update(&mut net, b(), bob_call, MediaChange::Renegotiate);
    net.run_until(net.now() + Duration::from_secs(1));
    assert_eq!(labels(&net, mark), ["UPDATE", "200/UPDATE"]);
    assert_eq!(media_updates(net.endpoint(a())), vec![(true, true)]);
    assert_eq!(media_updates(net.endpoint(b())), vec![(true, true)]);
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_5_1_no_second_offer_while_one_is_outstanding() {
    let (mut net, call, _) = established(32);
    update(&mut net, a(), call, MediaChange::Hold);
    let now = net.now();
    let second = net
        .endpoint_mut(a())
        .party_mut()
        .dialog(call)
        .unwrap()
        .update(now, MediaChange::Resume);
    assert!(
        matches!(second, Err(Error::InvalidState { .. })),
        "{second:?}"
    );
    // A re-INVITE asked meanwhile waits for the UPDATE and goes after it.
    net.endpoint_mut(a())
        .party_mut()
        .dialog(call)
        .unwrap()
        .resume(now)
        .unwrap();
    net.run_until(now + Duration::from_secs(3));
    assert_eq!(
        media_updates(net.endpoint(a())),
        vec![(true, false), (true, true)]
    );
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_5_2_glare_is_491_and_both_retry_rfc3261_14_1() {
    let (mut net, call, bob_call) = established(33);
    let mark = net.log().len();
    let start = net.now();
    update(&mut net, a(), call, MediaChange::Hold);
    update(&mut net, b(), bob_call, MediaChange::Renegotiate);
    net.run_until(start + Duration::from_secs(10));
    let log = sent(&net, mark);
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
    assert_eq!(
        media_updates(net.endpoint(a())).last(),
        Some(&(true, false))
    );
    assert_eq!(
        media_updates(net.endpoint(b())).last(),
        Some(&(false, true))
    );
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
    net.run_until(net.now() + Duration::from_secs(5));
    assert_eq!(media_updates(net.endpoint(a())), vec![(true, false)]);
    // The peer answered the retransmission from its transaction, not as a
    // second offer.
    assert_eq!(media_updates(net.endpoint(b())), vec![(false, true)]);
    net.clear_hook();
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_update_in_an_early_dialog_after_a_reliable_183() {
    let mut net = network(
        35,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_secs(3),
        },
        true,
    );
    let now = net.now();
    let call = net
        .endpoint_mut(a())
        .party_mut()
        .invite(now, "bob@127.0.0.1:5070", InviteOptions::default())
        .unwrap();
    net.run_until(now + Duration::from_millis(500));
    assert_eq!(net.endpoint(a()).state_of(call), Some(DialogState::Early));
    let mark = net.log().len();
    update(&mut net, a(), call, MediaChange::Hold);
    net.run_until(now + Duration::from_secs(5));
    let after = labels(&net, mark);
    assert_eq!(after[..2], ["UPDATE", "200/UPDATE"], "{after:?}");
    assert!(after.contains(&"200/INVITE".to_string()));
    assert_eq!(media_updates(net.endpoint(a())), vec![(true, false)]);
    assert_eq!(media_updates(net.endpoint(b())), vec![(false, true)]);
    // The 200 to the INVITE changed nothing.
    assert_eq!(
        net.endpoint(a()).state_of(call),
        Some(DialogState::InDialog)
    );
    hang_up(&mut net, call);
}

#[test]
fn rfc3311_5_1_no_update_offer_before_the_invite_is_answered() {
    // Bob rings (180, no SDP): Alice's INVITE offer is unanswered.
    let mut net = network(
        36,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_secs(3),
        },
        false,
    );
    let now = net.now();
    let call = net
        .endpoint_mut(a())
        .party_mut()
        .invite(now, "bob@127.0.0.1:5070", InviteOptions::default())
        .unwrap();
    net.run_until(now + Duration::from_millis(500));
    assert_eq!(net.endpoint(a()).state_of(call), Some(DialogState::Early));
    let now = net.now();
    let r = net
        .endpoint_mut(a())
        .party_mut()
        .dialog(call)
        .unwrap()
        .update(now, MediaChange::Hold);
    assert!(matches!(r, Err(Error::InvalidState { .. })), "{r:?}");
    net.run_until(now + Duration::from_secs(5));
    hang_up(&mut net, call);
}
