//! Early media from a forked INVITE (RFC 3261 sections 13.2.1 and
//! 13.2.2.4, RFC 3264 section 4): Alice's offer reaches several Bobs
//! through a forking proxy, and each Bob that answers it in a 183 does so
//! in his own early dialog. Alice keeps each early dialog's answer, her
//! media follows the latest (reported with `Event::EarlyMedia`), and the
//! 2xx that wins puts the winner's answer in place.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::party::{
    CallPolicy, DialogId, DialogState, Event, InviteOptions, Party, ReliableProvisionals,
};
use sipparty_core::sim::Network;
use sipparty_core::SeededRandom;

mod support;
use support::forking::{bob, proxy, ForkingProxy};
use support::{alice_addr as alice, lossy_30_percent, no_frames, ring_then_answer, Calls};

type Node = support::Node<ForkingProxy>;

/// How one Bob behaves.
#[derive(Clone, Copy)]
struct Bob {
    /// Answers after this many ms (None: rings until Alice gives up).
    answer_ms: Option<u64>,
    /// Sends 183 with his answer while ringing (else a plain 180).
    early_media: bool,
}

const EARLY_1S: Bob = Bob {
    answer_ms: Some(1000),
    early_media: true,
};
const EARLY_2S: Bob = Bob {
    answer_ms: Some(2000),
    early_media: true,
};
const EARLY_NEVER: Bob = Bob {
    answer_ms: None,
    early_media: true,
};

/// Alice and the Bobs, all with one audio stream (no frames), the Bobs on
/// RTP ports of their own; `tweak` changes every Party.
fn network(seed: u64, bobs: &[Bob], tweak: impl Fn(&mut Party)) -> Network<Node> {
    let mut net = Network::new(seed, Instant::now());
    let mut a = Party::single_rtp_session_simple("alice@atlanta.com").unwrap();
    no_frames(&mut a);
    tweak(&mut a);
    net.add(alice(), Node::party(a, alice()));
    net.add(
        proxy(),
        Node::scripted(ForkingProxy {
            branches: (1..=bobs.len() as u16).map(bob).collect(),
            ..ForkingProxy::default()
        }),
    );
    for (i, b) in bobs.iter().enumerate() {
        let n = i as u16 + 1;
        let mut p = Party::single_rtp_session_simple("bob@biloxi.com").unwrap();
        p.set_random(Box::new(SeededRandom::new(seed * 10 + n as u64)));
        no_frames(&mut p);
        p.set_rtp_ports(20_000 + n * 1000, 20_998 + n * 1000);
        p.config_mut().early_media = b.early_media;
        p.set_policy(match b.answer_ms {
            Some(ms) => ring_then_answer(ms),
            None => CallPolicy::AskApplication,
        });
        tweak(&mut p);
        net.add(bob(n), Node::party(p, bob(n)));
    }
    net
}

fn invite(net: &mut Network<Node>) -> DialogId {
    net.call_with(
        alice(),
        "sip:bob@biloxi.com",
        InviteOptions::default().proxy(&proxy().to_string()),
    )
}

/// The RTP port Bob `n` announced.
fn rtp_port(net: &Network<Node>, n: u16) -> u16 {
    net.node(bob(n))
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::MediaSocketOpen { rtp, .. } => Some(rtp.port()),
            _ => None,
        })
        .expect("bob opened media")
}

/// The Bob whose RTP port is `port`.
fn bob_with_port(net: &Network<Node>, bobs: usize, port: u16) -> u16 {
    (1..=bobs as u16)
        .find(|n| rtp_port(net, *n) == port)
        .unwrap_or_else(|| panic!("no bob on port {port}"))
}

/// Which Bob Alice's media went to, in order: every `MediaStarted` and
/// `MediaUpdated` of the call, by the remote RTP port.
fn media_peers(net: &Network<Node>, bobs: usize) -> Vec<u16> {
    let ports: Vec<u16> = net
        .node(alice())
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::MediaStarted { stream, .. } | Event::MediaUpdated { stream, .. } => {
                stream.remote_rtp.map(|a: SocketAddr| a.port())
            }
            _ => None,
        })
        .collect();
    ports
        .into_iter()
        .map(|p| bob_with_port(net, bobs, p))
        .collect()
}

/// The early dialogs Alice's media followed, in order.
fn early_media_dialogs(net: &Network<Node>, call: DialogId) -> Vec<DialogId> {
    net.node(alice())
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::EarlyMedia { call: c, dialog } if *c == call => Some(*dialog),
            _ => None,
        })
        .collect()
}

/// The early dialog of Bob `n`, by its To tag.
fn early_dialog_of(net: &Network<Node>, n: u16) -> DialogId {
    let bob_tag = net
        .log()
        .iter()
        .filter(|d| d.source == bob(n))
        .filter_map(|d| sipparty_core::message::Message::parse(&d.bytes).ok())
        .find(|m| m.status().is_some_and(|s| s > 100))
        .and_then(|m| support::to_tag(&m))
        .expect("bob answered");
    net.node(alice())
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::EarlyDialog {
                dialog, remote_tag, ..
            } if *remote_tag == bob_tag => Some(*dialog),
            _ => None,
        })
        .expect("an early dialog per bob")
}

/// Both Bobs' 183s are in by then.
fn ringing(net: &mut Network<Node>) -> DialogId {
    let call = invite(net);
    net.run_for(Duration::from_millis(500));
    call
}

#[test]
fn rfc3261_13_2_2_4_each_early_dialog_keeps_its_own_answer_and_the_2xx_decides() {
    // Both send early media; Bob 1 answers first, at 1 s.
    let mut net = network(50, &[EARLY_1S, EARLY_2S], |_| {});
    let call = ringing(&mut net);
    let (d1, d2) = (early_dialog_of(&net, 1), early_dialog_of(&net, 2));
    // Each early dialog's answer was taken: the media followed the first,
    // then the second (the latest).
    let first = media_peers(&net, 2);
    assert_eq!(first.len(), 2, "{first:?}");
    assert_ne!(first[0], first[1]);
    let (order, dialogs) = if first == [1, 2] {
        ([1, 2], [d1, d2])
    } else {
        ([2, 1], [d2, d1])
    };
    assert_eq!(first, order);
    assert_eq!(early_media_dialogs(&net, call), dialogs);
    assert_eq!(net.state(alice(), call), Some(DialogState::Early));

    // Bob 1 wins: the session is his, whatever played last.
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    let peers = media_peers(&net, 2);
    assert_eq!(*peers.last().unwrap(), 1, "{peers:?}");
    // Bob 2's late 2xx (ACK, BYE) changes the media no more.
    net.run_for(Duration::from_secs(2));
    assert_eq!(media_peers(&net, 2), peers);
    net.hang_up(alice(), call);
    net.settle();
}

#[test]
fn the_winner_whose_early_media_plays_keeps_it() {
    // Bob 2 answers first; both ring with early media.
    let mut net = network(51, &[EARLY_2S, EARLY_1S], |_| {});
    let call = ringing(&mut net);
    let before = media_peers(&net, 2);
    let playing = *before.last().unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    let after = media_peers(&net, 2);
    assert_eq!(*after.last().unwrap(), 2);
    if playing == 2 {
        // Already Bob 2's: his 2xx repeated the answer, nothing changed.
        assert_eq!(after, before);
    } else {
        assert_eq!(after.len(), before.len() + 1);
    }
    net.hang_up(alice(), call);
    net.settle();
}

#[test]
fn rfc3261_13_2_1_a_winner_without_early_media_answers_in_its_2xx() {
    // Bob 1 rings with a plain 180 and answers at 1 s; Bob 2 plays early
    // media and never answers.
    let plain = Bob {
        answer_ms: Some(1000),
        early_media: false,
    };
    let mut net = network(52, &[plain, EARLY_NEVER], |_| {});
    let call = ringing(&mut net);
    assert_eq!(media_peers(&net, 2), [2]);
    assert_eq!(early_media_dialogs(&net, call), [early_dialog_of(&net, 2)]);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    // Bob 1's 2xx brought his answer: the media is his.
    assert_eq!(media_peers(&net, 2), [2, 1]);
    net.hang_up(alice(), call);
    net.settle();
}

#[test]
fn an_early_dialog_that_ends_hands_the_media_to_another() {
    // Both ring with early media and never answer; Alice ends the early
    // dialog her media follows (BYE in it, RFC 3261 section 15).
    let mut net = network(53, &[EARLY_NEVER, EARLY_NEVER], |_| {});
    let call = ringing(&mut net);
    let followed = early_media_dialogs(&net, call);
    assert_eq!(followed.len(), 2);
    let current = followed[1];
    let playing = *media_peers(&net, 2).last().unwrap();
    // A fork (the call's own early dialog cannot be ended alone): with
    // this seed the call's 183 came first.
    assert_ne!(current, call);
    net.hang_up(alice(), current);
    net.run_for(Duration::from_millis(500));
    assert_eq!(
        early_media_dialogs(&net, call),
        [followed[0], followed[1], followed[0]]
    );
    let peers = media_peers(&net, 2);
    assert_ne!(*peers.last().unwrap(), playing, "{peers:?}");
    net.hang_up(alice(), call);
    net.settle();
}

#[test]
fn forked_early_media_under_30_percent_loss_ends_with_the_winners_answer() {
    let mut answered = 0;
    for seed in 0..10 {
        let mut net = network(500 + seed, &[EARLY_1S, EARLY_2S], |p| {
            if seed % 2 == 0 {
                p.config_mut().reliable_provisionals = ReliableProvisionals::Always;
            }
        });
        net.set_link(lossy_30_percent());
        let call = invite(&mut net);
        net.run_for(Duration::from_secs(40));
        match net.state(alice(), call) {
            Some(DialogState::InDialog) => {
                answered += 1;
                // The media is the winner's: the Bob whose dialog the call
                // confirmed.
                let remote = net.remote(alice(), call);
                let winner = (1..=2u16)
                    .find(|n| {
                        net.node(bob(*n))
                            .incoming_calls()
                            .first()
                            .is_some_and(|id| {
                                net.state(bob(*n), *id) == Some(DialogState::InDialog)
                            })
                    })
                    .unwrap_or_else(|| panic!("seed {seed}: no bob in the call ({remote})"));
                let peers = media_peers(&net, 2);
                assert_eq!(peers.last(), Some(&winner), "seed {seed}: {peers:?}");
                net.hang_up(alice(), call);
            }
            Some(DialogState::Error) => {}
            other => panic!("seed {seed}: call in {other:?}"),
        }
        net.settle();
    }
    assert!(answered >= 7, "only {answered} of 10 answered");
}
