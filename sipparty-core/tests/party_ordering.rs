//! What drivers rely on about the order and limits of a Party's outputs:
//! a media socket is announced before anything is sent from it, a
//! provisional response is reported before the state it causes, and the
//! transaction table size is configurable.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::party::{
    CallPolicy, DialogState, Error, Event, Input, InviteOptions, Output, Party, PartyConfig,
};
use sipparty_core::SeededRandom;
use sipparty_core::Transport;

const ALICE: &str = "127.0.0.1:5060";
const BOB: &str = "127.0.0.1:5070";

/// What one Party put out, in order.
#[derive(Debug)]
enum Seen {
    Open(SocketAddr, SocketAddr),
    Media(SocketAddr),
    Event(Event),
}

/// Two parties wired back to back over a perfect loopback: every
/// transmit is delivered at once. Runs until both are quiet or `until`.
fn run(parties: &mut [(Party, SocketAddr, Vec<Seen>); 2], mut now: Instant, until: Instant) {
    loop {
        let mut moved = false;
        let mut earliest = until;
        for k in 0..2 {
            loop {
                let out = parties[k].0.poll_output();
                match out {
                    Output::Transmit(t) => {
                        moved = true;
                        let (other, from) = (1 - k, parties[k].1);
                        if t.destination == parties[other].1 {
                            let dest = parties[other].1;
                            parties[other].0.handle_input(Input::Datagram {
                                now,
                                transport: Transport::Udp,
                                source: from,
                                destination: dest,
                                bytes: &t.bytes,
                            });
                        }
                    }
                    Output::MediaTransmit(m) => parties[k].2.push(Seen::Media(m.source)),
                    Output::Event(e) => {
                        if let Event::MediaSocketOpen { rtp, rtcp, .. } = &e {
                            parties[k].2.push(Seen::Open(*rtp, *rtcp));
                        }
                        parties[k].2.push(Seen::Event(e));
                    }
                    Output::Timeout(at) => {
                        earliest = earliest.min(at);
                        break;
                    }
                    _ => break,
                }
            }
        }
        if !moved {
            if earliest >= until {
                return;
            }
            now = earliest.max(now);
            for p in parties.iter_mut() {
                p.0.handle_input(Input::Timeout(now));
            }
        }
    }
}

fn party(aor: &str, addr: &str, policy: CallPolicy) -> (Party, SocketAddr, Vec<Seen>) {
    let mut config = PartyConfig::new(aor).unwrap();
    config.media = Some(sipparty_core::sdp::MediaCapabilities::default_audio());
    config.policy = policy;
    let mut p = Party::new(config, Box::new(SeededRandom::new(aor.len() as u64)));
    let addr: SocketAddr = addr.parse().unwrap();
    p.set_local_address(Transport::Udp, addr);
    (p, addr, Vec::new())
}

#[test]
fn media_socket_open_comes_before_its_first_media_and_progress_before_early() {
    let now = Instant::now();
    let mut parties = [
        party("alice@atlanta.com", ALICE, CallPolicy::AutoAnswer),
        party(
            "bob@biloxi.com",
            BOB,
            CallPolicy::RingThenAnswer {
                delay: Duration::from_millis(100),
            },
        ),
    ];
    let call = parties[0]
        .0
        .invite(now, "sip:bob@127.0.0.1:5070", InviteOptions::default())
        .unwrap();
    run(&mut parties, now, now + Duration::from_secs(2));
    assert_eq!(parties[0].0.dialog_state(call), Some(DialogState::InDialog));
    for (p, _, seen) in &parties {
        let mut open = HashSet::new();
        let mut media = 0;
        for s in seen {
            match s {
                Seen::Open(rtp, rtcp) => {
                    open.insert(*rtp);
                    open.insert(*rtcp);
                }
                Seen::Media(src) => {
                    media += 1;
                    assert!(
                        open.contains(src),
                        "{}: media from {src} before its MediaSocketOpen",
                        p.aor()
                    );
                }
                Seen::Event(_) => {}
            }
        }
        assert!(media > 0, "{} sent media", p.aor());
    }
    // Alice hears of the 180 before her dialog turns Early.
    let events: Vec<&Event> = parties[0]
        .2
        .iter()
        .filter_map(|s| match s {
            Seen::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    let progress = events
        .iter()
        .position(|e| matches!(e, Event::Progress { code: 180, .. }))
        .expect("a 180 was reported");
    let early = events
        .iter()
        .position(|e| {
            matches!(e, Event::DialogStateChanged { state: DialogState::Early, id } if *id == call)
        })
        .expect("the dialog went Early");
    assert!(progress < early, "Progress {progress} after Early {early}");
}

#[test]
fn max_transactions_bounds_the_transaction_table() {
    let mut config = PartyConfig::new("alice@atlanta.com").unwrap();
    config.max_transactions = 2;
    let mut alice = Party::new(config, Box::new(SeededRandom::new(1)));
    alice.set_local_address(Transport::Udp, ALICE.parse().unwrap());
    let now = Instant::now();
    for i in 0..2 {
        alice
            .invite(
                now,
                &format!("sip:b{i}@127.0.0.1:5070"),
                InviteOptions::default(),
            )
            .unwrap();
    }
    let third = alice.invite(now, "sip:b3@127.0.0.1:5070", InviteOptions::default());
    assert!(matches!(third, Err(Error::Transaction(_))), "{third:?}");
    // The default still allows many.
    assert_eq!(PartyConfig::new("a@b.c").unwrap().max_transactions, 10_000);
}

#[test]
fn media_socket_open_precedes_media_when_inputs_arrive_before_a_poll() {
    // A driver may feed several inputs before it polls: here Bob's INVITE
    // goes out, the 200 comes back and time passes before Bob's queue is
    // drained. His MediaSocketOpen (queued by `invite`) must still come out
    // before any packet from that socket.
    let now = Instant::now();
    let (mut alice, alice_addr, _) = party("alice@atlanta.com", ALICE, CallPolicy::AutoAnswer);
    let (mut bob, bob_addr, _) = party("bob@biloxi.com", BOB, CallPolicy::AutoAnswer);
    bob.invite(now, "sip:alice@127.0.0.1:5060", InviteOptions::default())
        .unwrap();
    let Output::Transmit(invite) = bob.poll_output() else {
        panic!("the INVITE goes out first");
    };
    alice.handle_input(Input::Datagram {
        now,
        transport: Transport::Udp,
        source: bob_addr,
        destination: alice_addr,
        bytes: &invite.bytes,
    });
    while let Output::Transmit(_) | Output::Event(_) | Output::MediaTransmit(_) = {
        let out = alice.poll_output();
        if let Output::Transmit(t) = &out {
            bob.handle_input(Input::Datagram {
                now,
                transport: Transport::Udp,
                source: alice_addr,
                destination: bob_addr,
                bytes: &t.bytes,
            });
        }
        out
    } {}
    bob.handle_input(Input::Timeout(now + Duration::from_millis(200)));
    let mut open = HashSet::new();
    let mut media = 0;
    loop {
        match bob.poll_output() {
            Output::Event(Event::MediaSocketOpen { rtp, rtcp, .. }) => {
                open.insert(rtp);
                open.insert(rtcp);
            }
            Output::MediaTransmit(m) => {
                media += 1;
                assert!(
                    open.contains(&m.source),
                    "media from {} before its MediaSocketOpen",
                    m.source
                );
            }
            Output::Transmit(_) | Output::Event(_) => {}
            _ => break,
        }
    }
    assert!(media > 0, "Bob's media started");
}
