//! A forked INVITE (RFC 3261 sections 12.1.2, 13.2.2.4 and 16.7): Alice
//! calls through a forking proxy that rings several Bobs at once. Every
//! early dialog gets its own id (`Event::EarlyDialog`); the first 2xx
//! decides the call and ends the other early dialogs; a later 2xx is ACKed
//! and ended with BYE; reliable provisionals are PRACKed per early dialog.

use std::time::{Duration, Instant};

use sipparty_core::message::{Message, Method};
use sipparty_core::party::{
    CallPolicy, DialogId, DialogState, Event, InviteOptions, Party, ReliableProvisionals,
};
use sipparty_core::sim::{LinkConfig, Network};
use sipparty_core::SeededRandom;

mod support;
use support::forking::{bob, proxy, ForkingProxy};
use support::{alice_addr as alice, ring_then_answer, to_tag, Calls};

type Node = support::Node<ForkingProxy>;

/// Alice, the proxy, and one Bob per ring delay (None: rings until
/// Alice gives up), each tweaked by `tweak`.
fn network(seed: u64, delays: &[Option<u64>], tweak: impl Fn(&mut Party)) -> Network<Node> {
    let mut net = Network::new(seed, Instant::now());
    let mut a = Party::no_media_simple_calls("alice@atlanta.com").unwrap();
    tweak(&mut a);
    net.add(alice(), Node::party(a, alice()));
    net.add(
        proxy(),
        Node::scripted(ForkingProxy {
            branches: (1..=delays.len() as u16).map(bob).collect(),
            ..ForkingProxy::default()
        }),
    );
    for (i, d) in delays.iter().enumerate() {
        let mut p = Party::no_media_simple_calls("bob@biloxi.com").unwrap();
        // Each Bob its own tags (the default generator is seeded by AOR).
        p.set_random(Box::new(SeededRandom::new(seed * 10 + i as u64)));
        p.set_policy(match d {
            Some(ms) => ring_then_answer(*ms),
            None => CallPolicy::AskApplication,
        });
        tweak(&mut p);
        let addr = bob(i as u16 + 1);
        net.add(addr, Node::party(p, addr));
    }
    net
}

/// Alice calls Bob through the forking proxy.
fn invite(net: &mut Network<Node>) -> DialogId {
    net.call_with(
        alice(),
        "sip:bob@biloxi.com",
        InviteOptions::default().proxy(&proxy().to_string()),
    )
}

/// (call, dialog, remote tag) of every EarlyDialog event of Alice.
fn early_dialogs(net: &Network<Node>) -> Vec<(DialogId, DialogId, String)> {
    net.node(alice())
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::EarlyDialog {
                call,
                dialog,
                remote_tag,
                ..
            } => Some((*call, *dialog, remote_tag.clone())),
            _ => None,
        })
        .collect()
}

/// The To tag Bob `n` gave his dialog.
fn bob_tag(net: &Network<Node>, n: u16) -> String {
    net.log()
        .iter()
        .filter(|d| d.source == bob(n))
        .filter_map(|d| Message::parse(&d.bytes).ok())
        .find(|m| m.status().is_some_and(|s| s > 100))
        .and_then(|m| to_tag(&m))
        .expect("bob answered")
}

/// Requests of `method` Alice sent to Bob `n`.
fn sent_to(net: &Network<Node>, n: u16, method: Method) -> Vec<Message> {
    net.log()
        .iter()
        .filter(|d| d.source == alice() && d.destination == bob(n) && !d.duplicate)
        .filter_map(|d| Message::parse(&d.bytes).ok())
        .filter(|m| m.method() == Some(&method))
        .collect()
}

/// Alice hangs up `id` (BYE, or CANCEL while it rings), then nothing may
/// be left at Alice or any Bob.
fn hang_up_and_settle(net: &mut Network<Node>, id: DialogId) {
    net.hang_up(alice(), id);
    net.settle();
}

/// Alice places the call through the proxy and lets it run half a second:
/// every Bob has sent his provisional response by then.
fn ringing(net: &mut Network<Node>) -> DialogId {
    let call = invite(net);
    net.run_for(Duration::from_millis(500));
    call
}

#[test]
fn every_early_dialog_gets_an_id_and_the_first_2xx_ends_the_others_rfc3261_13_2_2_4() {
    // Bob 1 answers after 1 s, Bob 3 after 2 s, Bob 2 after 3 s.
    let mut net = network(40, &[Some(1000), Some(3000), Some(2000)], |_| {});
    let call = ringing(&mut net);
    let early = early_dialogs(&net);
    assert_eq!(early.len(), 3, "{early:?}");
    assert!(early.iter().all(|(c, _, _)| *c == call));
    // The first early dialog is the call itself; the others are new ids.
    assert_eq!(early[0].1, call);
    let ids: Vec<DialogId> = early.iter().map(|e| e.1).collect();
    assert!(ids[1] != ids[2] && ids[1] != call && ids[2] != call);
    let mut tags: Vec<String> = early.iter().map(|e| e.2.clone()).collect();
    tags.sort();
    let mut bob_tags: Vec<String> = (1..=3).map(|n| bob_tag(&net, n)).collect();
    bob_tags.sort();
    assert_eq!(tags, bob_tags);
    for id in &ids {
        assert_eq!(net.state(alice(), *id), Some(DialogState::Early));
    }
    assert_eq!(net.node(alice()).party().dialog_count(), 3);

    // Bob 1 answers: the call is his, the other early dialogs end.
    net.run_for(Duration::from_millis(1000));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    for id in &ids[1..] {
        assert_eq!(
            net.states(alice(), *id),
            [DialogState::Early, DialogState::Terminated]
        );
    }
    let remote = net.remote(alice(), call);
    assert!(remote.contains(&bob_tag(&net, 1)));

    // Bobs 3 and 2 answer later: each 2xx is ACKed, then ended with BYE.
    net.run_for(Duration::from_secs(3));
    for n in [2, 3] {
        assert_eq!(sent_to(&net, n, Method::Ack).len(), 1, "bob {n}");
        assert_eq!(sent_to(&net, n, Method::Bye).len(), 1, "bob {n}");
        let bob_call = net.first_incoming(bob(n));
        assert_eq!(net.state(bob(n), bob_call), Some(DialogState::Terminated));
    }
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    assert_eq!(sent_to(&net, 1, Method::Bye).len(), 0);

    hang_up_and_settle(&mut net, call);
    assert_eq!(sent_to(&net, 1, Method::Bye).len(), 1);
}

#[test]
fn a_later_fork_can_win_and_each_early_dialog_is_pracked_rfc3262() {
    // Bob 2 (the second to ring) answers first; both send reliable 180s.
    let mut net = network(41, &[Some(3000), Some(1000)], |p| {
        p.config_mut().reliable_provisionals = ReliableProvisionals::Always
    });
    let call = ringing(&mut net);
    // One PRACK to each Bob, in his own early dialog.
    for n in [1, 2] {
        let pracks = sent_to(&net, n, Method::Prack);
        assert_eq!(pracks.len(), 1, "bob {n}");
        assert_eq!(to_tag(&pracks[0]), Some(bob_tag(&net, n)));
        assert_eq!(pracks[0].cseq().unwrap().unwrap().seq, 2);
    }
    let early = early_dialogs(&net);
    let fork_of_bob2 = early
        .iter()
        .find(|(_, _, t)| *t == bob_tag(&net, 2))
        .map(|e| e.1)
        .unwrap();
    net.run_for(Duration::from_secs(1));
    // The call took Bob 2's dialog; his fork id ended.
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    if fork_of_bob2 != call {
        assert_eq!(
            net.state(alice(), fork_of_bob2),
            Some(DialogState::Terminated)
        );
    }
    assert_eq!(sent_to(&net, 2, Method::Ack).len(), 1);
    // Bob 1 answers at 3 s: ACK and BYE.
    net.run_for(Duration::from_secs(3));
    let bye1 = sent_to(&net, 1, Method::Bye);
    assert_eq!(bye1.len(), 1);
    // Its CSeq counts on from the PRACK sent in that early dialog.
    assert_eq!(bye1[0].cseq().unwrap().unwrap().seq, 3);

    // Hanging up the call reaches Bob 2, whose dialog counts the PRACK too.
    net.hang_up(alice(), call);
    net.run_for(Duration::from_secs(1));
    let bye2 = sent_to(&net, 2, Method::Bye);
    assert_eq!(bye2.len(), 1);
    assert_eq!(bye2[0].cseq().unwrap().unwrap().seq, 3);
    let bob2_call = net.first_incoming(bob(2));
    assert_eq!(net.state(bob(2), bob2_call), Some(DialogState::Terminated));
    assert_eq!(net.error_text(bob(2), bob2_call), None);
    net.settle();
}

#[test]
fn cancelling_a_forked_call_ends_every_early_dialog_rfc3261_9_1() {
    let mut net = network(42, &[None, None], |_| {});
    let call = ringing(&mut net);
    let early = early_dialogs(&net);
    assert_eq!(early.len(), 2);
    net.hang_up(alice(), call);
    net.run_for(Duration::from_secs(2));
    for (_, id, _) in &early {
        let s = net.state(alice(), *id);
        assert_eq!(s, Some(DialogState::Terminated), "{id}");
    }
    for n in [1, 2] {
        let bob_call = net.first_incoming(bob(n));
        assert_eq!(net.state(bob(n), bob_call), Some(DialogState::Terminated));
    }
    net.settle();
}

#[test]
fn a_fork_whose_callee_rejects_leaves_the_call_to_the_others() {
    // Bob 1 rings and his application rejects (486, which the proxy holds
    // while Bob 2 may still answer); Bob 2 answers after 1.5 s.
    let mut net = network(43, &[None, Some(1500)], |_| {});
    let call = ringing(&mut net);
    let bob1_call = net.first_incoming(bob(1));
    net.with_incoming(bob(1), bob1_call, |i, now| i.reject(now, 486))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    let remote = net.remote(alice(), call);
    assert!(remote.contains(&bob_tag(&net, 2)));
    // Bob 1's early dialog (the call's first, or a fork) is over for Alice.
    let early = early_dialogs(&net);
    assert_eq!(early.len(), 2);
    for (_, id, _) in &early {
        if *id != call {
            assert_eq!(net.state(alice(), *id), Some(DialogState::Terminated));
        }
    }
    hang_up_and_settle(&mut net, call);
}

#[test]
fn terminating_a_fork_ends_only_that_early_dialog_rfc3261_15() {
    // Both Bobs ring; Alice hangs up on the second with BYE in its early
    // dialog (a caller may, section 15), then Bob 1 answers.
    let mut net = network(44, &[Some(2000), None], |_| {});
    let call = ringing(&mut net);
    let early = early_dialogs(&net);
    assert_eq!(early.len(), 2);
    let fork = early[1].1;
    let fork_bob = if early[1].2 == bob_tag(&net, 1) { 1 } else { 2 };
    net.hang_up(alice(), fork);
    net.run_for(Duration::from_millis(500));
    assert_eq!(
        net.states(alice(), fork),
        [
            DialogState::Early,
            DialogState::TerminatingDialog,
            DialogState::Terminated
        ]
    );
    let byes = sent_to(&net, fork_bob, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(
        byes[0].to_header().unwrap().unwrap().tag(),
        Some(early[1].2.as_str())
    );
    // The fork's callee ended its side (487 to the INVITE, held by the
    // proxy); the call itself still rings.
    let fork_call = net.first_incoming(bob(fork_bob));
    assert_eq!(
        net.state(bob(fork_bob), fork_call),
        Some(DialogState::Terminated)
    );
    assert_eq!(net.state(alice(), call), Some(DialogState::Early));
    if fork_bob == 2 {
        // Bob 1 answers at 2 s.
        net.run_for(Duration::from_secs(2));
        assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    }
    hang_up_and_settle(&mut net, call);
}

#[test]
fn forked_calls_under_loss_end_cleanly() {
    let mut completed = 0;
    for seed in 0..10 {
        let mut net = network(300 + seed, &[Some(400), Some(800)], |p| {
            p.config_mut().reliable_provisionals = ReliableProvisionals::Always
        });
        net.set_link(LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            loss: 0.2,
            duplicate: 0.05,
            reorder: 0.1,
        });
        let call = invite(&mut net);
        net.run_for(Duration::from_secs(40));
        match net.state(alice(), call) {
            Some(DialogState::InDialog) => {
                completed += 1;
                net.hang_up(alice(), call);
            }
            Some(DialogState::Error) => {}
            other => panic!("seed {seed}: call in {other:?}"),
        }
        net.run_until_idle(Duration::from_secs(600));
        // Every early dialog Alice saw ended.
        for (_, id, _) in early_dialogs(&net) {
            let s = net.state(alice(), id).unwrap();
            assert!(s.is_final(), "seed {seed}: {id} in {s:?}");
        }
        for n in [alice(), bob(1), bob(2)] {
            assert!(net.node_mut(n).is_idle(), "seed {seed}: {n} left state");
        }
    }
    assert!(completed >= 7, "only {completed} of 10 completed");
}
