//! Call flows between two Parties in the network simulator: the basic
//! call, ringing, rejection, CANCEL, timeouts, BYE from either side, the
//! 2xx retransmitted until the ACK, and calls under seeded loss. After each
//! flow nothing is left: no dialog, transaction or timer.

use std::time::Duration;

use sipparty_core::party::{CallPolicy, DialogError, DialogState, Event, SimParty};
use sipparty_core::sim::Verdict;

mod support;
use support::{
    alice_addr, bob_addr, drop_every, lossy_30_percent, network, no_frames, ring_then_answer,
    Calls, BOB,
};

#[test]
fn basic_call_rfc3665_3_1_message_by_message() {
    let mut net = network(1, ring_then_answer(300), true);
    let call = net.call(alice_addr(), BOB);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::InDialog));
    let bob_call = net.first_incoming(bob_addr());
    assert_eq!(net.state(bob_addr(), bob_call), Some(DialogState::InDialog));
    assert_eq!(
        net.states(alice_addr(), call),
        vec![
            DialogState::InitiatingDialog,
            DialogState::Early,
            DialogState::InDialog
        ]
    );
    // Both sides started media with the same codec.
    let started = |n: &SimParty| {
        n.events.iter().find_map(|(_, e)| match e {
            Event::MediaStarted { stream, .. } => Some(stream.clone()),
            _ => None,
        })
    };
    let a = started(net.endpoint(alice_addr())).expect("alice media started");
    let b = started(net.endpoint(bob_addr())).expect("bob media started");
    assert_eq!(a.codec, b.codec);
    assert_eq!(a.remote_rtp, Some(b.local_rtp));
    assert_eq!(b.remote_rtp, Some(a.local_rtp));

    net.hang_up(alice_addr(), call);
    net.settle();
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Terminated));
    assert_eq!(
        net.state(bob_addr(), bob_call),
        Some(DialogState::Terminated)
    );
    // RFC 3665 section 3.1 (without the proxy): INVITE, 100 (bob's
    // transaction layer, if it takes longer than 200 ms), 180, 200, ACK,
    // BYE, 200.
    let l = net.ladder_without_100();
    assert_eq!(l, ["INVITE", "180", "200", "ACK", "BYE", "200"]);
    // Message by message, the headers RFC 3665 section 3.1 shows.
    use sipparty_core::message::{HeaderName, Message};
    let msgs: Vec<Message> = net
        .log()
        .iter()
        .filter(|d| !d.duplicate && !d.text().starts_with("SIP/2.0 100"))
        .map(|d| Message::parse(&d.bytes).unwrap())
        .collect();
    let (inv, ringing, ok, ack, bye, bye_ok) =
        (&msgs[0], &msgs[1], &msgs[2], &msgs[3], &msgs[4], &msgs[5]);
    let tag = |m: &Message, to: bool| {
        let h = if to { m.to_header() } else { m.from_header() };
        h.unwrap().unwrap().tag().map(str::to_string)
    };
    let cseq = |m: &Message| m.header(&HeaderName::CSeq).unwrap().to_string();
    assert_eq!(inv.request_uri(), Some("sip:bob@127.0.0.1:5070"));
    assert!(inv
        .top_via()
        .unwrap()
        .unwrap()
        .branch()
        .unwrap()
        .starts_with("z9hG4bK"));
    assert_eq!(inv.header(&HeaderName::MaxForwards), Some("70"));
    assert_eq!(tag(inv, true), None);
    assert!(tag(inv, false).is_some());
    assert_eq!(cseq(inv), "1 INVITE");
    assert_eq!(
        inv.header(&HeaderName::ContentType),
        Some("application/sdp")
    );
    assert!(inv.header(&HeaderName::Contact).is_some());
    let bob_tag = tag(ringing, true).expect("180 carries the To tag");
    assert_eq!(tag(ok, true).as_ref(), Some(&bob_tag));
    assert!(ringing.header(&HeaderName::Contact).is_some());
    assert_eq!(ok.header(&HeaderName::ContentType), Some("application/sdp"));
    assert_eq!(cseq(ok), "1 INVITE");
    // The ACK goes to Bob's Contact, CSeq number of the INVITE.
    let contact = ok.header(&HeaderName::Contact).unwrap();
    assert!(contact.contains(ack.request_uri().unwrap()), "{contact}");
    assert_eq!(cseq(ack), "1 ACK");
    assert_eq!(tag(ack, true).as_ref(), Some(&bob_tag));
    assert_eq!(cseq(bye), "2 BYE");
    assert_eq!(tag(bye, true).as_ref(), Some(&bob_tag));
    assert_eq!(tag(bye, false), tag(inv, false));
    assert_eq!(cseq(bye_ok), "2 BYE");
    for m in &msgs {
        assert_eq!(m.call_id(), inv.call_id());
    }
    // The ACK is a new transaction: a branch of its own (section 13.2.2.4).
    let log = net.log();
    let branch = |i: usize| {
        let t = log[i].text();
        let via = t
            .lines()
            .find(|l| l.starts_with("Via:"))
            .unwrap()
            .to_string();
        via.split("branch=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let invite = log
        .iter()
        .position(|d| d.text().starts_with("INVITE"))
        .unwrap();
    let ack = log
        .iter()
        .position(|d| d.text().starts_with("ACK"))
        .unwrap();
    assert_ne!(branch(invite), branch(ack));
    // Media sockets were opened and then closed on both sides.
    for n in [alice_addr(), bob_addr()] {
        let count =
            |pred: fn(&Event) -> bool| net.node(n).events.iter().filter(|(_, e)| pred(e)).count();
        let opened = count(|e| matches!(e, Event::MediaSocketOpen { .. }));
        let closed = count(|e| matches!(e, Event::MediaSocketClose { .. }));
        assert_eq!((opened, closed), (1, 1), "media sockets of {n}");
    }
}

#[test]
fn callee_hangs_up_with_bye() {
    let mut net = network(2, CallPolicy::AutoAnswer, false);
    let call = net.call(alice_addr(), BOB);
    net.run_for(Duration::from_secs(1));
    let bob_call = net.first_incoming(bob_addr());
    net.hang_up(bob_addr(), bob_call);
    net.settle();
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Terminated));
    assert_eq!(
        net.state(bob_addr(), bob_call),
        Some(DialogState::Terminated)
    );
    let l = net.ladder();
    assert_eq!(&l[l.len() - 2..], ["BYE", "200"]);
}

#[test]
fn busy_rfc3665_3_5_ends_in_error_486() {
    let mut net = network(3, CallPolicy::Reject { code: 486 }, false);
    let call = net.call(alice_addr(), BOB);
    net.settle();
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Error));
    let alice = net.endpoint(alice_addr()).party();
    let err = alice.last_error(call).unwrap();
    assert_eq!(err.to_string(), "486 Busy Here");
    assert_eq!(
        *err,
        DialogError::Rejected {
            code: 486,
            reason: "Busy Here".into()
        }
    );
    // INVITE, 486, ACK (sent by the transaction layer, section 17.1.1.3).
    let l = net.ladder_without_100();
    assert_eq!(l, ["INVITE", "486", "ACK"]);
}

#[test]
fn no_answer_rfc3665_3_7_caller_cancels() {
    let mut net = network(4, CallPolicy::AskApplication, false);
    let call = net.call(alice_addr(), BOB);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Early));
    let bob_call = net.first_incoming(bob_addr());
    assert_eq!(net.state(bob_addr(), bob_call), Some(DialogState::Early));
    net.hang_up(alice_addr(), call);
    net.settle();
    assert_eq!(
        net.states(alice_addr(), call),
        vec![
            DialogState::InitiatingDialog,
            DialogState::Early,
            DialogState::TerminatingDialog,
            DialogState::Terminated
        ]
    );
    assert_eq!(
        net.state(bob_addr(), bob_call),
        Some(DialogState::Terminated)
    );
    let l = net.ladder_without_100();
    // CANCEL and its 200 may cross the 487 (section 9): compare as sets
    // around the fixed start.
    assert_eq!(&l[..2], ["INVITE", "180"]);
    let mut tail = l[2..].to_vec();
    tail.sort();
    assert_eq!(tail, ["200", "487", "ACK", "CANCEL"]);
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    // Bob rings only after 1 s; Alice gives up at once. RFC 3261 section
    // 9.1: no CANCEL before a provisional response.
    let mut net = network(5, CallPolicy::AskApplication, false);
    net.set_hook(|d| {
        if d.text().starts_with("SIP/2.0 1") {
            Verdict::Delay(Duration::from_millis(900))
        } else {
            Verdict::Deliver
        }
    });
    let now = net.now();
    let call = net.call(alice_addr(), BOB);
    net.run_until(now + Duration::from_millis(5));
    net.endpoint_mut(alice_addr())
        .party_mut()
        .dialog(call)
        .unwrap()
        .terminate(now + Duration::from_millis(5))
        .unwrap();
    net.run_until(now + Duration::from_millis(500));
    assert!(
        !net.ladder().contains(&"CANCEL".to_string()),
        "no CANCEL before the 180"
    );
    net.settle();
    assert!(net.ladder().contains(&"CANCEL".to_string()));
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Terminated));
}

#[test]
fn application_accepts_incoming_call() {
    let mut net = network(6, CallPolicy::AskApplication, false);
    let call = net.call(alice_addr(), BOB);
    net.run_for(Duration::from_secs(1));
    let bob_call = net.first_incoming(bob_addr());
    assert!(net.saw(bob_addr(), |e| matches!(
        e,
        Event::IncomingCall {
            needs_decision: true,
            ..
        }
    )));
    net.with_incoming(bob_addr(), bob_call, |i, now| i.accept(now))
        .unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::InDialog));
    assert!(!net.undecided(bob_addr(), bob_call), "decided");
    net.hang_up(alice_addr(), call);
    net.settle();
}

#[test]
fn application_rejects_incoming_call() {
    let mut net = network(7, CallPolicy::AskApplication, false);
    let call = net.call(alice_addr(), BOB);
    net.run_for(Duration::from_secs(1));
    let bob_call = net.first_incoming(bob_addr());
    net.with_incoming(bob_addr(), bob_call, |i, now| i.reject(now, 603))
        .unwrap();
    net.settle();
    assert_eq!(
        net.error_text(alice_addr(), call).as_deref(),
        Some("603 Decline")
    );
}

#[test]
fn nobody_there_times_out_with_timer_b() {
    let mut net = network(8, CallPolicy::AutoAnswer, false);
    let now = net.now();
    let call = net.call(alice_addr(), "carol@127.0.0.1:5999");
    net.settle();
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Error));
    assert_eq!(
        net.node(alice_addr()).party().last_error(call),
        Some(&DialogError::Timeout)
    );
    // Timer B: 64*T1 after the INVITE.
    let elapsed = net.now() - now;
    assert!(elapsed >= Duration::from_secs(32), "{elapsed:?}");
}

#[test]
fn lost_acks_make_the_callee_retransmit_2xx_then_bye_rfc3261_13_3_1_4() {
    let mut net = network(9, CallPolicy::AutoAnswer, false);
    net.set_hook(drop_every("ACK"));
    let call = net.call(alice_addr(), BOB);
    net.settle();
    let bob_call = net.first_incoming(bob_addr());
    let oks = net
        .log()
        .iter()
        .filter(|d| d.text().starts_with("SIP/2.0 200") && d.text().contains(" INVITE\r\n"))
        .count();
    // T1, 2T1, 4T1, then T2 (4 s) until 64*T1 = 32 s: 1 + 10 sends.
    assert!(oks >= 8, "2xx sent {oks} times");
    assert_eq!(net.state(bob_addr(), bob_call), Some(DialogState::Error));
    assert_eq!(
        net.endpoint(bob_addr()).party().last_error(bob_call),
        Some(&DialogError::NoAck)
    );
    // Alice saw the BYE and ended too.
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Terminated));
}

#[test]
fn calls_complete_under_30_percent_loss_with_reordering() {
    let mut completed = 0;
    for seed in 0..20 {
        let mut net = network(100 + seed, ring_then_answer(200), true);
        // Negotiate media but do not generate 20 ms frames for 40 s.
        for n in [alice_addr(), bob_addr()] {
            no_frames(net.node_mut(n).party_mut());
        }
        net.set_link(lossy_30_percent());
        let call = net.call(alice_addr(), BOB);
        net.run_for(Duration::from_secs(40));
        let state = net.state(alice_addr(), call);
        match state {
            Some(DialogState::InDialog) => {
                completed += 1;
                net.hang_up(alice_addr(), call);
            }
            Some(DialogState::Error) => {
                // A failure names an RFC reason.
                let e = net.error_text(alice_addr(), call).unwrap();
                assert!(!e.is_empty());
            }
            other => panic!("seed {seed}: call stuck in {other:?}"),
        }
        net.settle();
        let final_state = net.state(alice_addr(), call).unwrap();
        assert!(final_state.is_final(), "seed {seed}: {final_state:?}");
        for id in net.endpoint(bob_addr()).incoming_calls() {
            let s = net.state(bob_addr(), id).unwrap();
            assert!(s.is_final(), "seed {seed}: bob's call in {s:?}");
        }
    }
    assert!(
        completed >= 15,
        "only {completed} of 20 calls completed at 30% loss"
    );
}

#[test]
fn stray_bye_gets_481() {
    let mut net = network(10, CallPolicy::AutoAnswer, false);
    let call = net.call(alice_addr(), BOB);
    net.run_for(Duration::from_secs(1));
    // Rewrite alice's BYE so its To tag matches nothing at bob.
    net.set_hook(|d| {
        let t = d.text();
        if t.starts_with("BYE") {
            let mut out = String::new();
            for line in t.split("\r\n") {
                if line.starts_with("To:") {
                    let (head, _) = line.split_once(";tag=").unwrap();
                    out.push_str(&format!("{head};tag=nosuchtag"));
                } else {
                    out.push_str(line);
                }
                out.push_str("\r\n");
            }
            out.truncate(out.len() - 2);
            Verdict::Replace(out.into_bytes())
        } else {
            Verdict::Deliver
        }
    });
    let now = net.now();
    net.hang_up(alice_addr(), call);
    net.run_until(now + Duration::from_secs(1));
    assert!(net.ladder().contains(&"481".to_string()));
    // A 481 to BYE ends the dialog anyway (section 12.2.1.2).
    assert_eq!(net.state(alice_addr(), call), Some(DialogState::Terminated));
}
