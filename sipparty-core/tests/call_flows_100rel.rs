//! Reliable provisional responses as callee (RFC 3262) and early media
//! from the callee's side (183 Session Progress with the SDP answer, RFC
//! 3261 section 13.3.1.1 and RFC 6337 section 3.1), between two Parties in
//! the network simulator, with lost and tampered messages.

use std::time::Duration;

use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{
    CallPolicy, DialogError, DialogId, DialogState, Event, InviteOptions, Party,
    ReliableProvisionals, SimParty,
};
use sipparty_core::sim::{Network, Verdict};

mod support;
use support::{
    alice_addr as alice, bob_addr as bob, drop_every, drop_first, label, lossy_30_percent,
    media_updates, no_frames, party_with, rewrite, ring_then_answer, two_parties, Calls, BOB,
};

/// Alice (caller, default configuration: she supports 100rel) and Bob
/// (callee, `policy`, changed by `tweak`), with media when `media`; media
/// is negotiated but no frames are generated.
fn network(
    seed: u64,
    media: bool,
    policy: CallPolicy,
    tweak: impl Fn(&mut Party),
) -> Network<SimParty> {
    two_parties(
        seed,
        party_with(
            "alice@atlanta.com",
            CallPolicy::AutoAnswer,
            media,
            no_frames,
        ),
        party_with("bob@biloxi.com", policy, media, |b| {
            no_frames(b);
            tweak(b);
        }),
    )
}

/// Bob's tweak: every provisional response reliable.
fn always_100rel(b: &mut Party) {
    b.config_mut().reliable_provisionals = ReliableProvisionals::Always;
}

/// Bob's tweak: the answer goes out early, in a 183.
fn early_media(b: &mut Party) {
    b.config_mut().early_media = true;
}

/// The ladder of a call whose reliable 180 is PRACKed before the 200.
const PRACKED_180: [&str; 6] = [
    "INVITE",
    "180/INVITE",
    "PRACK",
    "200/PRACK",
    "200/INVITE",
    "ACK",
];

/// The ladder of a call whose early answer in a reliable 183 is PRACKed
/// before the 200.
const PRACKED_183: [&str; 6] = [
    "INVITE",
    "183/INVITE",
    "PRACK",
    "200/PRACK",
    "200/INVITE",
    "ACK",
];

/// The RSeq of a reliable provisional response.
fn rseq(m: &Message) -> u32 {
    m.header(&HeaderName::RSeq).unwrap().parse().unwrap()
}

/// Bob's application accepts incoming call `bob_call` now.
fn accept(net: &mut Network<SimParty>, bob_call: DialogId) {
    net.with_incoming(bob(), bob_call, |i, now| i.accept(now))
        .unwrap();
}

/// Alice hangs up (if the call got that far); nothing is left behind.
fn hang_up_and_settle(net: &mut Network<SimParty>, call: DialogId) {
    net.hang_up_if_open(alice(), call);
    net.settle();
}

fn media_started(node: &SimParty) -> Vec<(DialogId, u16)> {
    node.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::MediaStarted { dialog, stream } => {
                Some((*dialog, stream.remote_rtp.map_or(0, |a| a.port())))
            }
            _ => None,
        })
        .collect()
}

/// How many times each of Alice and Bob changed a running stream.
fn media_update_counts(net: &Network<SimParty>) -> (usize, usize) {
    (
        media_updates(net.endpoint(alice())).len(),
        media_updates(net.endpoint(bob())).len(),
    )
}

#[test]
fn rfc3262_3_reliable_180_is_pracked_before_the_200() {
    let mut net = network(1, false, ring_then_answer(100), always_100rel);
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.state(alice(), id), Some(DialogState::InDialog));
    assert_eq!(net.labels(), PRACKED_180);
    let msgs = net.sent();
    let invite = &msgs[0].message;
    assert!(invite.tokens(&HeaderName::Supported).any(|t| t == "100rel"));
    let ringing = &msgs[1].message;
    assert!(ringing.tokens(&HeaderName::Require).any(|t| t == "100rel"));
    let rseq = rseq(ringing);
    assert!((1..=0x7fff_ffff).contains(&rseq));
    let prack = &msgs[2].message;
    assert_eq!(
        prack.header(&HeaderName::RAck),
        Some(format!("{rseq} 1 INVITE").as_str())
    );
    // The 2xx advertises 100rel (RFC 3262 section 3).
    let ok = &msgs[4].message;
    assert!(ok.tokens(&HeaderName::Supported).any(|t| t == "100rel"));
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_3_require_100rel_is_honoured_by_default() {
    let mut net = network(2, false, ring_then_answer(100), |_| {});
    let id = net.call_with(
        alice(),
        BOB,
        InviteOptions::default().header("Require", "100rel"),
    );
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.state(alice(), id), Some(DialogState::InDialog));
    assert_eq!(net.labels(), PRACKED_180);
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_3_supported_alone_keeps_180_unreliable_by_default() {
    let mut net = network(3, false, ring_then_answer(100), |_| {});
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.labels(), ["INVITE", "180/INVITE", "200/INVITE", "ACK"]);
    let ringing = &net.sent()[1].message;
    assert!(ringing.header(&HeaderName::RSeq).is_none());
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3261_8_2_2_3_require_100rel_turned_off_gets_420() {
    let mut net = network(4, false, CallPolicy::AutoAnswer, |b| {
        b.config_mut().reliable_provisionals = ReliableProvisionals::Never
    });
    let id = net.call_with(
        alice(),
        BOB,
        InviteOptions::default().header("Require", "100rel"),
    );
    net.run_for(Duration::from_secs(2));
    let msgs = net.sent();
    let refused = msgs
        .iter()
        .find(|s| s.message.status() == Some(420))
        .expect("a 420");
    assert_eq!(
        refused.message.header(&HeaderName::Unsupported),
        Some("100rel")
    );
    assert_eq!(net.state(alice(), id), Some(DialogState::Error));
    net.settle();
}

#[test]
fn rfc3262_3_final_2xx_waits_for_the_prack() {
    // Bob's application accepts the moment the call arrives, while the
    // reliable 180 is outstanding; the first two PRACKs are lost.
    let mut net = network(5, false, CallPolicy::AskApplication, always_100rel);
    net.set_hook(drop_first(2, "PRACK "));
    let id = net.call(alice(), BOB);
    // Run until Bob has the call and has sent the reliable 180.
    net.run_for(Duration::from_millis(10));
    let bob_call = net.first_incoming(bob());
    accept(&mut net, bob_call);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.state(alice(), id), Some(DialogState::InDialog));
    let msgs = net.sent();
    let prack_ok = msgs
        .iter()
        .position(|s| label(&s.message) == "200/PRACK")
        .expect("PRACK answered");
    let ok = msgs
        .iter()
        .position(|s| label(&s.message) == "200/INVITE")
        .expect("INVITE answered");
    assert!(
        ok > prack_ok,
        "the 2xx went before the PRACK: {:?}",
        net.labels()
    );
    // Two PRACKs lost: the PRACK transaction (Timer E) retransmitted it.
    let pracks = msgs.iter().filter(|s| label(&s.message) == "PRACK").count();
    assert_eq!(pracks, 3);
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_3_retransmitted_with_t1_doubling_then_500_after_64_t1() {
    // Every PRACK is lost.
    let mut net = network(6, false, ring_then_answer(100), always_100rel);
    net.set_hook(drop_every("PRACK "));
    let start = net.now();
    let id = net.call(alice(), BOB);
    net.run_until(start + Duration::from_secs(40));
    let msgs = net.sent();
    let times: Vec<Duration> = msgs
        .iter()
        .filter(|s| label(&s.message) == "180/INVITE")
        .map(|s| s.at - start)
        .collect();
    // T1 = 500 ms: sent, then again after 0.5, 1, 2, 4, 8, 16 s (the
    // interval is not capped at T2).
    let gaps: Vec<u128> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert_eq!(gaps[..6], [500, 1000, 2000, 4000, 8000, 16000]);
    // Every copy carries the same RSeq.
    let rseqs: Vec<&str> = msgs
        .iter()
        .filter(|s| label(&s.message) == "180/INVITE")
        .map(|s| s.message.header(&HeaderName::RSeq).unwrap())
        .collect();
    assert!(rseqs.windows(2).all(|w| w[0] == w[1]));
    // No 2xx was sent, and after 64*T1 the INVITE got 500.
    assert!(!msgs.iter().any(|s| label(&s.message) == "200/INVITE"));
    let at = msgs
        .iter()
        .find(|s| label(&s.message) == "500/INVITE")
        .map(|s| s.at)
        .expect("a 500");
    assert_eq!((at - start - times[0]).as_millis(), 32_000);
    assert_eq!(net.state(alice(), id), Some(DialogState::Error));
    let bob_call = net.first_incoming(bob());
    assert_eq!(
        net.endpoint(bob()).party().last_error(bob_call),
        Some(&DialogError::NoPrack)
    );
    net.clear_hook();
    net.settle();
}

#[test]
fn rfc3262_3_prack_with_unknown_rack_gets_481() {
    let mut net = network(7, false, ring_then_answer(100), always_100rel);
    // Alice's PRACK names an RSeq Bob never sent.
    net.set_hook(rewrite("PRACK ", |m| {
        let rack = m.header(&HeaderName::RAck).unwrap().to_string();
        let mut parts = rack.split(' ');
        let rseq: u32 = parts.next().unwrap().parse().unwrap();
        let rest: Vec<&str> = parts.collect();
        m.set_header(
            HeaderName::RAck,
            &format!("{} {}", rseq.wrapping_add(1), rest.join(" ")),
        );
    }));
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_secs(2));
    assert!(net.labels().contains(&"481/PRACK".to_string()));
    // Alice does not PRACK the retransmissions of the same 180 again
    // (section 4), so the call fails once Bob gives up.
    let pracks = net.labels().iter().filter(|l| *l == "PRACK").count();
    assert_eq!(pracks, 1);
    net.run_for(Duration::from_secs(40));
    assert_eq!(net.state(alice(), id), Some(DialogState::Error));
    assert_eq!(
        net.error_text(alice(), id).as_deref(),
        Some("500 Server Internal Error")
    );
    net.clear_hook();
    net.settle();
}

#[test]
fn rfc3262_3_reliable_provisionals_queue_behind_the_outstanding_one() {
    // Bob's application rings twice (180, 183) and accepts at once: the
    // 183 waits for the 180's PRACK, the 200 for the 183's.
    let mut net = network(8, false, CallPolicy::AskApplication, always_100rel);
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_millis(10));
    let bob_call = net.first_incoming(bob());
    net.with_incoming(bob(), bob_call, |mut i, now| {
        i.ring(now, 183);
        i.accept(now)
    })
    .unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.labels(),
        [
            "INVITE",
            "180/INVITE",
            "PRACK",
            "200/PRACK",
            "183/INVITE",
            "PRACK",
            "200/PRACK",
            "200/INVITE",
            "ACK"
        ]
    );
    let msgs = net.sent();
    let (r1, r2) = (rseq(&msgs[1].message), rseq(&msgs[4].message));
    assert_eq!(r2, r1 + 1, "RSeq increments by one (section 3)");
    assert_eq!(
        msgs[5].message.header(&HeaderName::RAck),
        Some(format!("{r2} 1 INVITE").as_str())
    );
    assert_eq!(net.state(alice(), id), Some(DialogState::InDialog));
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_early_media_183_is_reliable_and_the_200_has_no_sdp() {
    let mut net = network(9, true, ring_then_answer(300), early_media);
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_millis(150));
    // Media flows before the answer, on both sides.
    assert_eq!(net.state(alice(), id), Some(DialogState::Early));
    let bob_call = net.first_incoming(bob());
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob()))[0].0, bob_call);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.labels(), PRACKED_183);
    let msgs = net.sent();
    let progress = &msgs[1].message;
    assert!(progress.tokens(&HeaderName::Require).any(|t| t == "100rel"));
    assert!(progress.body().starts_with(b"v=0"));
    // RFC 6337 section 3.1: the answer was delivered reliably; the 2xx
    // carries no new SDP and nothing is renegotiated.
    assert!(msgs[4].message.body().is_empty());
    assert_eq!(net.state(alice(), id), Some(DialogState::InDialog));
    assert_eq!(media_update_counts(&net), (0, 0));
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc6337_3_1_early_media_without_100rel_repeats_the_answer_in_the_200() {
    // A caller that cannot PRACK: the 183 is unreliable, so the 200 must
    // carry the answer, the same one.
    let mut net = network(10, true, ring_then_answer(300), early_media);
    net.set_hook(rewrite("INVITE ", |m| {
        m.set_header(HeaderName::Supported, "timer")
    }));
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.labels(), ["INVITE", "183/INVITE", "200/INVITE", "ACK"]);
    let msgs = net.sent();
    assert!(msgs[1].message.header(&HeaderName::RSeq).is_none());
    assert!(!msgs[1].message.body().is_empty());
    assert_eq!(msgs[1].message.body(), msgs[2].message.body());
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_update_counts(&net), (0, 0));
    net.clear_hook();
    hang_up_and_settle(&mut net, id);
}

#[test]
fn early_media_through_the_incoming_api() {
    let mut net = network(11, true, CallPolicy::AskApplication, |_| {});
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_millis(50));
    let bob_call = net.first_incoming(bob());
    net.with_incoming(bob(), bob_call, |mut i, now| i.early_media(now))
        .unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    // Still undecided: the application accepts later.
    accept(&mut net, bob_call);
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        net.labels(),
        [
            "INVITE",
            "180/INVITE",
            "183/INVITE",
            "PRACK",
            "200/PRACK",
            "200/INVITE",
            "ACK"
        ]
    );
    assert!(net.sent()[5].message.body().is_empty());
    assert_eq!(net.state(alice(), id), Some(DialogState::InDialog));
    hang_up_and_settle(&mut net, id);
}

#[test]
fn reliable_calls_under_30_percent_loss_complete_or_fail_cleanly() {
    let mut completed = 0;
    for seed in 0..16 {
        let mut net = network(200 + seed, true, ring_then_answer(200), |b| {
            b.config_mut().reliable_provisionals = ReliableProvisionals::Always;
            b.config_mut().early_media = true;
        });
        net.set_link(lossy_30_percent());
        let id = net.call(alice(), BOB);
        net.run_for(Duration::from_secs(40));
        match net.state(alice(), id) {
            Some(DialogState::InDialog) => {
                completed += 1;
                // The answer came in the 183 only: never a second answer.
                assert_eq!(media_started(net.endpoint(alice())).len(), 1);
                assert_eq!(media_updates(net.endpoint(alice())).len(), 0);
            }
            Some(DialogState::Error) => {
                assert!(net.endpoint(alice()).party().last_error(id).is_some());
            }
            other => panic!("seed {seed}: call stuck in {other:?}"),
        }
        hang_up_and_settle(&mut net, id);
        for b in net.endpoint(bob()).incoming_calls() {
            let s = net.endpoint(bob()).state_of(b).unwrap();
            assert!(s.is_final(), "seed {seed}: bob's call in {s:?}");
        }
    }
    assert!(completed >= 12, "only {completed} of 16 completed");
}

#[test]
fn rfc3262_5_offer_in_a_reliable_183_is_answered_in_the_prack() {
    // Alice sends no offer; Bob's early media 183 carries his, reliably.
    let mut net = network(12, true, ring_then_answer(300), early_media);
    let id = net.call_with(alice(), BOB, InviteOptions::default().delayed_offer());
    net.run_for(Duration::from_millis(150));
    // Media flows from the PRACK on, before the answer.
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(net.state(alice(), id), Some(DialogState::Early));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.labels(), PRACKED_183);
    let bodies: Vec<bool> = net
        .sent()
        .iter()
        .map(|s| s.message.body().starts_with(b"v=0"))
        .collect();
    // Offer in the 183, answer in the PRACK; nothing else carries SDP.
    assert_eq!(bodies, [false, true, true, false, false, false]);
    // Alice's answer fits Bob's offer: both agree on Bob's RTP address.
    let alice_remote = media_started(net.endpoint(alice()))[0].1;
    assert!(net.sent()[1]
        .message
        .body()
        .windows(6)
        .any(|w| w == format!("{alice_remote} ").as_bytes()));
    assert_eq!(media_update_counts(&net), (0, 0));
    assert_eq!(net.state(alice(), id), Some(DialogState::InDialog));
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3264_delayed_offer_in_the_200_is_answered_in_the_ack() {
    let mut net = network(13, true, CallPolicy::AutoAnswer, |_| {});
    let id = net.call_with(alice(), BOB, InviteOptions::default().delayed_offer());
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.labels(), ["INVITE", "200/INVITE", "ACK"]);
    let bodies: Vec<bool> = net
        .sent()
        .iter()
        .map(|s| !s.message.body().is_empty())
        .collect();
    assert_eq!(bodies, [false, true, true]);
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_5_new_offer_in_the_prack_is_answered_in_its_2xx() {
    let mut net = network(14, true, ring_then_answer(300), early_media);
    // Alice's PRACK carries a new offer: her INVITE's SDP with the next
    // session version (RFC 3264 section 8).
    net.set_hook(|d| {
        let text = d.text();
        if text.starts_with("INVITE ") {
            let invite = Message::parse(&d.bytes).unwrap();
            let sdp = String::from_utf8(invite.body().to_vec()).unwrap();
            let o_line = sdp.lines().find(|l| l.starts_with("o=")).unwrap();
            let mut o: Vec<String> = o_line.split(' ').map(str::to_string).collect();
            o[2] = (o[2].parse::<u64>().unwrap() + 1).to_string();
            let next = sdp.replace(o_line, &o.join(" "));
            OFFER.with(|c| *c.borrow_mut() = next.into_bytes());
            return Verdict::Deliver;
        }
        if !text.starts_with("PRACK ") {
            return Verdict::Deliver;
        }
        let mut m = Message::parse(&d.bytes).unwrap();
        let offer = OFFER.with(|o| o.borrow().clone());
        m.set_body(Some("application/sdp"), &offer);
        Verdict::Replace(m.to_bytes())
    });
    let id = net.call(alice(), BOB);
    net.run_for(Duration::from_secs(1));
    let msgs = net.sent();
    let prack_ok = msgs
        .iter()
        .find(|s| label(&s.message) == "200/PRACK")
        .expect("PRACK answered");
    assert!(
        prack_ok.message.body().starts_with(b"v=0"),
        "answer in the 2xx to PRACK"
    );
    // Bob's media: started by the INVITE's offer, updated by the PRACK's.
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_updates(net.endpoint(bob())).len(), 1);
    net.clear_hook();
    hang_up_and_settle(&mut net, id);
}

thread_local! {
    static OFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}
