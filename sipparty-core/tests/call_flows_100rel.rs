//! Reliable provisional responses as callee (RFC 3262) and early media
//! from the callee's side (183 Session Progress with the SDP answer, RFC
//! 3261 section 13.3.1.1 and RFC 6337 section 3.1), between two Parties in
//! the network simulator, with lost and tampered messages.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{
    CallPolicy, DialogError, DialogId, DialogState, Event, InviteOptions, Party,
    ReliableProvisionals, SimParty,
};
use sipparty_core::sim::{LinkConfig, Network, Verdict};

fn alice() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}
fn bob() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}
const BOB: &str = "bob@127.0.0.1:5070";

/// Alice (caller, default configuration: she supports 100rel) and Bob
/// (callee, `policy`, changed by `tweak`), with media when `media`.
fn network(
    seed: u64,
    media: bool,
    policy: CallPolicy,
    tweak: impl Fn(&mut Party),
) -> Network<SimParty> {
    let mk = |aor: &str| {
        let mut p = if media {
            Party::single_rtp_session_simple(aor).unwrap()
        } else {
            Party::no_media_simple_calls(aor).unwrap()
        };
        // Negotiate media, but generate no 20 ms frames.
        p.config_mut().run_media = false;
        p
    };
    let mut net = Network::new(seed, Instant::now());
    net.add(alice(), SimParty::new(mk("alice@atlanta.com"), alice()));
    let mut b = mk("bob@biloxi.com");
    b.set_policy(policy);
    tweak(&mut b);
    net.add(bob(), SimParty::new(b, bob()));
    net
}

fn call(net: &mut Network<SimParty>, options: InviteOptions) -> DialogId {
    let now = net.now();
    net.endpoint_mut(alice())
        .party_mut()
        .invite(now, BOB, options)
        .unwrap()
}

/// Every SIP message sent (duplicates made by the link left out), parsed,
/// with when it was sent and whether it arrived.
fn messages(net: &Network<SimParty>) -> Vec<(Instant, bool, Message)> {
    net.log()
        .iter()
        .filter(|d| !d.duplicate)
        .filter_map(|d| {
            Message::parse(&d.bytes)
                .ok()
                .map(|m| (d.at, d.delivered(), m))
        })
        .collect()
}

/// `"INVITE"`, `"180"`, `"PRACK"`, `"200/PRACK"`...: the method, or the
/// status and the CSeq method of a response.
fn label(m: &Message) -> String {
    match m.status() {
        Some(s) => format!("{s}/{}", m.cseq().unwrap().unwrap().method),
        None => m.method().unwrap().to_string(),
    }
}

fn ladder(net: &Network<SimParty>) -> Vec<String> {
    messages(net).iter().map(|(_, _, m)| label(m)).collect()
}

fn hang_up_and_settle(net: &mut Network<SimParty>, call: DialogId) {
    let now = net.now();
    if let Some(d) = net.endpoint_mut(alice()).party_mut().dialog(call) {
        d.terminate(now).unwrap();
    }
    settle(net);
}

fn settle(net: &mut Network<SimParty>) {
    net.run_until_idle(Duration::from_secs(300));
    assert!(
        net.endpoint_mut(alice()).is_idle(),
        "alice left state behind"
    );
    assert!(net.endpoint_mut(bob()).is_idle(), "bob left state behind");
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

fn media_updates(node: &SimParty) -> usize {
    node.events
        .iter()
        .filter(|(_, e)| matches!(e, Event::MediaUpdated { .. }))
        .count()
}

#[test]
fn rfc3262_3_reliable_180_is_pracked_before_the_200() {
    let mut net = network(
        1,
        false,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(100),
        },
        |b| b.config_mut().reliable_provisionals = ReliableProvisionals::Always,
    );
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_secs(2));
    assert_eq!(
        net.endpoint(alice()).state_of(id),
        Some(DialogState::InDialog)
    );
    assert_eq!(
        ladder(&net),
        [
            "INVITE",
            "180/INVITE",
            "PRACK",
            "200/PRACK",
            "200/INVITE",
            "ACK"
        ]
    );
    let msgs = messages(&net);
    let invite = &msgs[0].2;
    assert!(invite.tokens(&HeaderName::Supported).any(|t| t == "100rel"));
    let ringing = &msgs[1].2;
    assert!(ringing.tokens(&HeaderName::Require).any(|t| t == "100rel"));
    let rseq: u32 = ringing.header(&HeaderName::RSeq).unwrap().parse().unwrap();
    assert!((1..=0x7fff_ffff).contains(&rseq));
    let prack = &msgs[2].2;
    assert_eq!(
        prack.header(&HeaderName::RAck),
        Some(format!("{rseq} 1 INVITE").as_str())
    );
    // The 2xx advertises 100rel (RFC 3262 section 3).
    let ok = &msgs[4].2;
    assert!(ok.tokens(&HeaderName::Supported).any(|t| t == "100rel"));
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_3_require_100rel_is_honoured_by_default() {
    let mut net = network(
        2,
        false,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(100),
        },
        |_| {},
    );
    let id = call(
        &mut net,
        InviteOptions::default().header("Require", "100rel"),
    );
    net.run_until(net.now() + Duration::from_secs(2));
    assert_eq!(
        net.endpoint(alice()).state_of(id),
        Some(DialogState::InDialog)
    );
    assert_eq!(
        ladder(&net),
        [
            "INVITE",
            "180/INVITE",
            "PRACK",
            "200/PRACK",
            "200/INVITE",
            "ACK"
        ]
    );
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_3_supported_alone_keeps_180_unreliable_by_default() {
    let mut net = network(
        3,
        false,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(100),
        },
        |_| {},
    );
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_secs(2));
    assert_eq!(ladder(&net), ["INVITE", "180/INVITE", "200/INVITE", "ACK"]);
    let ringing = &messages(&net)[1].2;
    assert!(ringing.header(&HeaderName::RSeq).is_none());
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3261_8_2_2_3_require_100rel_turned_off_gets_420() {
    let mut net = network(4, false, CallPolicy::AutoAnswer, |b| {
        b.config_mut().reliable_provisionals = ReliableProvisionals::Never
    });
    let id = call(
        &mut net,
        InviteOptions::default().header("Require", "100rel"),
    );
    net.run_until(net.now() + Duration::from_secs(2));
    let msgs = messages(&net);
    let refused = msgs
        .iter()
        .find(|(_, _, m)| m.status() == Some(420))
        .expect("a 420");
    assert_eq!(refused.2.header(&HeaderName::Unsupported), Some("100rel"));
    assert_eq!(net.endpoint(alice()).state_of(id), Some(DialogState::Error));
    settle(&mut net);
}

#[test]
fn rfc3262_3_final_2xx_waits_for_the_prack() {
    // Bob's application accepts the moment the call arrives, while the
    // reliable 180 is outstanding; the first two PRACKs are lost.
    let mut net = network(5, false, CallPolicy::AskApplication, |b| {
        b.config_mut().reliable_provisionals = ReliableProvisionals::Always
    });
    let mut dropped = 0;
    net.set_hook(move |d| {
        if d.text().starts_with("PRACK ") && dropped < 2 {
            dropped += 1;
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let id = call(&mut net, InviteOptions::default());
    // Run until Bob has the call and has sent the reliable 180.
    net.run_until(net.now() + Duration::from_millis(10));
    let bob_call = net.endpoint(bob()).incoming_calls()[0];
    let now = net.now();
    net.endpoint_mut(bob())
        .party_mut()
        .incoming(bob_call)
        .expect("ringing")
        .accept(now)
        .unwrap();
    net.run_until(now + Duration::from_secs(5));
    assert_eq!(
        net.endpoint(alice()).state_of(id),
        Some(DialogState::InDialog)
    );
    let msgs = messages(&net);
    let prack_ok = msgs
        .iter()
        .position(|(_, _, m)| label(m) == "200/PRACK")
        .expect("PRACK answered");
    let ok = msgs
        .iter()
        .position(|(_, _, m)| label(m) == "200/INVITE")
        .expect("INVITE answered");
    assert!(
        ok > prack_ok,
        "the 2xx went before the PRACK: {:?}",
        ladder(&net)
    );
    // Two PRACKs lost: the PRACK transaction (Timer E) retransmitted it.
    let pracks = msgs.iter().filter(|(_, _, m)| label(m) == "PRACK").count();
    assert_eq!(pracks, 3);
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_3_retransmitted_with_t1_doubling_then_500_after_64_t1() {
    // Every PRACK is lost.
    let mut net = network(
        6,
        false,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(100),
        },
        |b| b.config_mut().reliable_provisionals = ReliableProvisionals::Always,
    );
    net.set_hook(|d| {
        if d.text().starts_with("PRACK ") {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    });
    let start = net.now();
    let id = call(&mut net, InviteOptions::default());
    net.run_until(start + Duration::from_secs(40));
    let msgs = messages(&net);
    let times: Vec<Duration> = msgs
        .iter()
        .filter(|(_, _, m)| label(m) == "180/INVITE")
        .map(|(at, _, _)| *at - start)
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
        .filter(|(_, _, m)| label(m) == "180/INVITE")
        .map(|(_, _, m)| m.header(&HeaderName::RSeq).unwrap())
        .collect();
    assert!(rseqs.windows(2).all(|w| w[0] == w[1]));
    // No 2xx was sent, and after 64*T1 the INVITE got 500.
    assert!(!msgs.iter().any(|(_, _, m)| label(m) == "200/INVITE"));
    let (at, _, _) = msgs
        .iter()
        .find(|(_, _, m)| label(m) == "500/INVITE")
        .expect("a 500");
    assert_eq!((*at - start - times[0]).as_millis(), 32_000);
    assert_eq!(net.endpoint(alice()).state_of(id), Some(DialogState::Error));
    let bob_call = net.endpoint(bob()).incoming_calls()[0];
    assert_eq!(
        net.endpoint(bob()).party().last_error(bob_call),
        Some(&DialogError::NoPrack)
    );
    net.clear_hook();
    settle(&mut net);
}

#[test]
fn rfc3262_3_prack_with_unknown_rack_gets_481() {
    let mut net = network(
        7,
        false,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(100),
        },
        |b| b.config_mut().reliable_provisionals = ReliableProvisionals::Always,
    );
    // Alice's PRACK names an RSeq Bob never sent.
    net.set_hook(|d| {
        let text = d.text();
        if !text.starts_with("PRACK ") {
            return Verdict::Deliver;
        }
        let mut m = Message::parse(&d.bytes).unwrap();
        let rack = m.header(&HeaderName::RAck).unwrap().to_string();
        let mut parts = rack.split(' ');
        let rseq: u32 = parts.next().unwrap().parse().unwrap();
        let rest: Vec<&str> = parts.collect();
        m.set_header(
            HeaderName::RAck,
            &format!("{} {}", rseq.wrapping_add(1), rest.join(" ")),
        );
        Verdict::Replace(m.to_bytes())
    });
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_secs(2));
    assert!(ladder(&net).contains(&"481/PRACK".to_string()));
    // Alice does not PRACK the retransmissions of the same 180 again
    // (section 4), so the call fails once Bob gives up.
    let pracks = ladder(&net).iter().filter(|l| *l == "PRACK").count();
    assert_eq!(pracks, 1);
    net.run_until(net.now() + Duration::from_secs(40));
    assert_eq!(net.endpoint(alice()).state_of(id), Some(DialogState::Error));
    assert_eq!(
        net.endpoint(alice())
            .party()
            .last_error(id)
            .unwrap()
            .to_string(),
        "500 Server Internal Error"
    );
    net.clear_hook();
    settle(&mut net);
}

#[test]
fn rfc3262_3_reliable_provisionals_queue_behind_the_outstanding_one() {
    // Bob's application rings twice (180, 183) and accepts at once: the
    // 183 waits for the 180's PRACK, the 200 for the 183's.
    let mut net = network(8, false, CallPolicy::AskApplication, |b| {
        b.config_mut().reliable_provisionals = ReliableProvisionals::Always
    });
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_millis(10));
    let bob_call = net.endpoint(bob()).incoming_calls()[0];
    let now = net.now();
    let mut incoming = net
        .endpoint_mut(bob())
        .party_mut()
        .incoming(bob_call)
        .unwrap();
    incoming.ring(now, 183);
    incoming.accept(now).unwrap();
    net.run_until(now + Duration::from_secs(2));
    assert_eq!(
        ladder(&net),
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
    let msgs = messages(&net);
    let r1: u32 = msgs[1]
        .2
        .header(&HeaderName::RSeq)
        .unwrap()
        .parse()
        .unwrap();
    let r2: u32 = msgs[4]
        .2
        .header(&HeaderName::RSeq)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r2, r1 + 1, "RSeq increments by one (section 3)");
    assert_eq!(
        msgs[5].2.header(&HeaderName::RAck),
        Some(format!("{r2} 1 INVITE").as_str())
    );
    assert_eq!(
        net.endpoint(alice()).state_of(id),
        Some(DialogState::InDialog)
    );
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_early_media_183_is_reliable_and_the_200_has_no_sdp() {
    let mut net = network(
        9,
        true,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(300),
        },
        |b| b.config_mut().early_media = true,
    );
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_millis(150));
    // Media flows before the answer, on both sides.
    assert_eq!(net.endpoint(alice()).state_of(id), Some(DialogState::Early));
    let bob_call = net.endpoint(bob()).incoming_calls()[0];
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob()))[0].0, bob_call);
    net.run_until(net.now() + Duration::from_secs(1));
    assert_eq!(
        ladder(&net),
        [
            "INVITE",
            "183/INVITE",
            "PRACK",
            "200/PRACK",
            "200/INVITE",
            "ACK"
        ]
    );
    let msgs = messages(&net);
    let progress = &msgs[1].2;
    assert!(progress.tokens(&HeaderName::Require).any(|t| t == "100rel"));
    assert!(progress.body().starts_with(b"v=0"));
    // RFC 6337 section 3.1: the answer was delivered reliably; the 2xx
    // carries no new SDP and nothing is renegotiated.
    assert!(msgs[4].2.body().is_empty());
    assert_eq!(
        net.endpoint(alice()).state_of(id),
        Some(DialogState::InDialog)
    );
    assert_eq!(media_updates(net.endpoint(alice())), 0);
    assert_eq!(media_updates(net.endpoint(bob())), 0);
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc6337_3_1_early_media_without_100rel_repeats_the_answer_in_the_200() {
    // A caller that cannot PRACK: the 183 is unreliable, so the 200 must
    // carry the answer, the same one.
    let mut net = network(
        10,
        true,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(300),
        },
        |b| b.config_mut().early_media = true,
    );
    net.set_hook(|d| {
        let text = d.text();
        if !text.starts_with("INVITE ") {
            return Verdict::Deliver;
        }
        let mut m = Message::parse(&d.bytes).unwrap();
        m.set_header(HeaderName::Supported, "timer");
        Verdict::Replace(m.to_bytes())
    });
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_secs(1));
    assert_eq!(ladder(&net), ["INVITE", "183/INVITE", "200/INVITE", "ACK"]);
    let msgs = messages(&net);
    assert!(msgs[1].2.header(&HeaderName::RSeq).is_none());
    assert!(!msgs[1].2.body().is_empty());
    assert_eq!(msgs[1].2.body(), msgs[2].2.body());
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_updates(net.endpoint(bob())), 0);
    assert_eq!(media_updates(net.endpoint(alice())), 0);
    net.clear_hook();
    hang_up_and_settle(&mut net, id);
}

#[test]
fn early_media_through_the_incoming_api() {
    let mut net = network(11, true, CallPolicy::AskApplication, |_| {});
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_millis(50));
    let bob_call = net.endpoint(bob()).incoming_calls()[0];
    let now = net.now();
    net.endpoint_mut(bob())
        .party_mut()
        .incoming(bob_call)
        .unwrap()
        .early_media(now)
        .unwrap();
    net.run_until(now + Duration::from_millis(100));
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    // Still undecided: the application accepts later.
    let now = net.now();
    net.endpoint_mut(bob())
        .party_mut()
        .incoming(bob_call)
        .expect("still ringing")
        .accept(now)
        .unwrap();
    net.run_until(now + Duration::from_secs(1));
    assert_eq!(
        ladder(&net),
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
    assert!(messages(&net)[5].2.body().is_empty());
    assert_eq!(
        net.endpoint(alice()).state_of(id),
        Some(DialogState::InDialog)
    );
    hang_up_and_settle(&mut net, id);
}

#[test]
fn reliable_calls_under_30_percent_loss_complete_or_fail_cleanly() {
    let mut completed = 0;
    for seed in 0..16 {
        let mut net = network(
            200 + seed,
            true,
            CallPolicy::RingThenAnswer {
                delay: Duration::from_millis(200),
            },
            |b| {
                b.config_mut().reliable_provisionals = ReliableProvisionals::Always;
                b.config_mut().early_media = true;
            },
        );
        net.set_link(LinkConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            loss: 0.3,
            duplicate: 0.05,
            reorder: 0.2,
        });
        let id = call(&mut net, InviteOptions::default());
        net.run_until(net.now() + Duration::from_secs(40));
        match net.endpoint(alice()).state_of(id) {
            Some(DialogState::InDialog) => {
                completed += 1;
                // The answer came in the 183 only: never a second answer.
                assert_eq!(media_started(net.endpoint(alice())).len(), 1);
                assert_eq!(media_updates(net.endpoint(alice())), 0);
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
    let mut net = network(
        12,
        true,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(300),
        },
        |b| b.config_mut().early_media = true,
    );
    let id = call(&mut net, InviteOptions::default().delayed_offer());
    net.run_until(net.now() + Duration::from_millis(150));
    // Media flows from the PRACK on, before the answer.
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(net.endpoint(alice()).state_of(id), Some(DialogState::Early));
    net.run_until(net.now() + Duration::from_secs(1));
    assert_eq!(
        ladder(&net),
        [
            "INVITE",
            "183/INVITE",
            "PRACK",
            "200/PRACK",
            "200/INVITE",
            "ACK"
        ]
    );
    let bodies: Vec<bool> = messages(&net)
        .iter()
        .map(|(_, _, m)| m.body().starts_with(b"v=0"))
        .collect();
    // Offer in the 183, answer in the PRACK; nothing else carries SDP.
    assert_eq!(bodies, [false, true, true, false, false, false]);
    // Alice's answer fits Bob's offer: both agree on Bob's RTP address.
    let alice_remote = media_started(net.endpoint(alice()))[0].1;
    assert!(messages(&net)[1]
        .2
        .body()
        .windows(6)
        .any(|w| w == format!("{alice_remote} ").as_bytes()));
    assert_eq!(media_updates(net.endpoint(alice())), 0);
    assert_eq!(media_updates(net.endpoint(bob())), 0);
    assert_eq!(
        net.endpoint(alice()).state_of(id),
        Some(DialogState::InDialog)
    );
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3264_delayed_offer_in_the_200_is_answered_in_the_ack() {
    let mut net = network(13, true, CallPolicy::AutoAnswer, |_| {});
    let id = call(&mut net, InviteOptions::default().delayed_offer());
    net.run_until(net.now() + Duration::from_secs(1));
    assert_eq!(ladder(&net), ["INVITE", "200/INVITE", "ACK"]);
    let bodies: Vec<bool> = messages(&net)
        .iter()
        .map(|(_, _, m)| !m.body().is_empty())
        .collect();
    assert_eq!(bodies, [false, true, true]);
    assert_eq!(media_started(net.endpoint(alice())).len(), 1);
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    hang_up_and_settle(&mut net, id);
}

#[test]
fn rfc3262_5_new_offer_in_the_prack_is_answered_in_its_2xx() {
    let mut net = network(
        14,
        true,
        CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(300),
        },
        |b| b.config_mut().early_media = true,
    );
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
    let id = call(&mut net, InviteOptions::default());
    net.run_until(net.now() + Duration::from_secs(1));
    let msgs = messages(&net);
    let prack_ok = msgs
        .iter()
        .find(|(_, _, m)| label(m) == "200/PRACK")
        .expect("PRACK answered");
    assert!(
        prack_ok.2.body().starts_with(b"v=0"),
        "answer in the 2xx to PRACK"
    );
    // Bob's media: started by the INVITE's offer, updated by the PRACK's.
    assert_eq!(media_started(net.endpoint(bob())).len(), 1);
    assert_eq!(media_updates(net.endpoint(bob())), 1);
    net.clear_hook();
    hang_up_and_settle(&mut net, id);
}

thread_local! {
    static OFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}
