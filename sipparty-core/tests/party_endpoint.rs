//! Many parties on one transport (the original library's shared listening
//! point): the DEVELOPERS.md contract, with Alice and Bob behind one
//! Endpoint and the INVITE sent to the Endpoint's own address as outbound
//! proxy.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::party::{
    DialogState, Endpoint, Event, InviteOptions, Party, PartyKey, SimParty,
};
use sipparty_core::sim::Network;

#[test]
fn developers_md_contract_two_parties_share_one_transport() {
    let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let mut endpoint = Endpoint::new();
    let alice = endpoint.add(Party::single_rtp_session_simple("alice@atlanta.com").unwrap());
    let bob = endpoint.add(Party::single_rtp_session_simple("bob@biloxi.com").unwrap());
    assert_eq!(endpoint.find("bob@biloxi.com"), Some(bob));
    let mut net = Network::new(11, Instant::now());
    net.add(addr, SimParty::endpoint(endpoint, addr));

    let now = net.now();
    let node = net.endpoint_mut(addr);
    let call = node
        .party_at(alice)
        .invite(
            now,
            "bob@biloxi.com",
            InviteOptions::default().proxy("127.0.0.1:5060"),
        )
        .unwrap();
    // wait_for_state_condition(|s| s != InitiatingDialog)
    net.run_until(now + Duration::from_secs(2));
    let node = net.endpoint(addr);
    assert_eq!(node.state_at(alice, call), Some(DialogState::InDialog));
    // Bob, not Alice, got the call: the Request-URI names his AOR.
    let incoming: Vec<(PartyKey, String)> = node
        .events
        .iter()
        .filter_map(|(k, e)| match e {
            Event::IncomingCall { from, .. } => Some((*k, from.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].0, bob);
    assert!(incoming[0].1.contains("alice@atlanta.com"));
    // Their media ports differ although both parties use the same range.
    let opened: Vec<SocketAddr> = node
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::MediaSocketOpen { rtp, .. } => Some(*rtp),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 2);
    assert_ne!(opened[0], opened[1]);

    let now = net.now();
    net.endpoint_mut(addr)
        .party_at(alice)
        .dialog(call)
        .unwrap()
        .terminate(now)
        .unwrap();
    // wait_for_state_condition(|s| s != TerminatingDialog)
    net.run_until_idle(Duration::from_secs(120));
    let node = net.endpoint_mut(addr);
    assert_eq!(node.state_at(alice, call), Some(DialogState::Terminated));
    assert!(node.is_idle());
}

#[test]
fn requests_reach_the_party_whose_aor_matches() {
    let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let caller: SocketAddr = "127.0.0.1:5090".parse().unwrap();
    let mut endpoint = Endpoint::new();
    let mut keys = Vec::new();
    for i in 0..100 {
        keys.push(
            endpoint.add(Party::no_media_simple_calls(&format!("user{i}@example.com")).unwrap()),
        );
    }
    let mut net = Network::new(12, Instant::now());
    net.add(addr, SimParty::endpoint(endpoint, addr));
    net.add(
        caller,
        SimParty::new(
            Party::no_media_simple_calls("carol@example.com").unwrap(),
            caller,
        ),
    );
    let now = net.now();
    let call = net
        .endpoint_mut(caller)
        .party_mut()
        .invite(
            now,
            "sip:user42@example.com",
            InviteOptions::default().destination(addr),
        )
        .unwrap();
    net.run_until(now + Duration::from_secs(1));
    assert_eq!(
        net.endpoint(caller).state_of(call),
        Some(DialogState::InDialog)
    );
    let got: Vec<PartyKey> = net
        .endpoint(addr)
        .events
        .iter()
        .filter_map(|(k, e)| matches!(e, Event::IncomingCall { .. }).then_some(*k))
        .collect();
    assert_eq!(got, vec![keys[42]]);
    let now = net.now();
    net.endpoint_mut(caller)
        .party_mut()
        .dialog(call)
        .unwrap()
        .terminate(now)
        .unwrap();
    net.run_until_idle(Duration::from_secs(120));
    assert_eq!(
        net.endpoint(caller).state_of(call),
        Some(DialogState::Terminated)
    );
    assert!(net.endpoint_mut(addr).is_idle());
}

/// Drive an Endpoint by hand: feed one datagram, return what it sends.
fn feed(endpoint: &mut Endpoint, now: Instant, text: &str) -> Vec<sipparty_core::message::Message> {
    use sipparty_core::party::{EndpointOutput, Input};
    use sipparty_core::Transport;
    let bytes = text.replace('\n', "\r\n");
    endpoint.handle_input(Input::Datagram {
        now,
        transport: Transport::Udp,
        source: "127.0.0.1:5090".parse().unwrap(),
        destination: "127.0.0.1:5060".parse().unwrap(),
        bytes: bytes.as_bytes(),
    });
    let mut out = Vec::new();
    loop {
        match endpoint.poll_output() {
            EndpointOutput::Transmit(t) => {
                out.push(sipparty_core::message::Message::parse(&t.bytes).unwrap())
            }
            EndpointOutput::Event { .. } | EndpointOutput::MediaTransmit(_) => {}
            _ => break,
        }
    }
    out
}

fn two_parties() -> (Endpoint, PartyKey, PartyKey) {
    let mut endpoint = Endpoint::new();
    endpoint.set_local_address(
        sipparty_core::Transport::Udp,
        "127.0.0.1:5060".parse().unwrap(),
    );
    let alice = endpoint.add(Party::no_media_simple_calls("alice@atlanta.com").unwrap());
    let bob = endpoint.add(Party::no_media_simple_calls("bob@biloxi.com").unwrap());
    (endpoint, alice, bob)
}

const BYE_FOR_BOB: &str = "BYE sip:bob@127.0.0.1:5060 SIP/2.0\n\
Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKbye1\n\
From: <sip:carol@example.com>;tag=c1\n\
To: <sip:bob@biloxi.com>;tag=1.unknown\n\
Call-ID: gone@example.com\n\
CSeq: 2 BYE\n\
Max-Forwards: 70\n\
Content-Length: 0\n\n";

#[test]
fn rfc3261_21_4_1_endpoint_answers_an_unparseable_request_400() {
    let (mut endpoint, _, _) = two_parties();
    let now = Instant::now();
    let text = BYE_FOR_BOB.replace("Content-Length: 0", "Content-Length: 99");
    let out = feed(&mut endpoint, now, &text);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status(), Some(400));
    assert_eq!(
        out[0].reason(),
        Some("Content-Length larger than the message")
    );
    assert_eq!(out[0].call_id(), Some("gone@example.com"));
    // Late RTP to a media address nobody has is dropped, not answered.
    endpoint.handle_input(sipparty_core::party::Input::Datagram {
        now,
        transport: sipparty_core::Transport::Udp,
        source: "127.0.0.1:5090".parse().unwrap(),
        destination: "127.0.0.1:16400".parse().unwrap(),
        bytes: &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
    });
    assert!(matches!(
        endpoint.poll_output(),
        sipparty_core::party::EndpointOutput::Timeout(_)
            | sipparty_core::party::EndpointOutput::Idle
    ));
}

#[test]
fn removed_party_is_no_longer_routed() {
    let (mut endpoint, alice, bob) = two_parties();
    let now = Instant::now();
    // Bob answers a BYE for a dialog of his he does not know: 481.
    let out = feed(&mut endpoint, now, BYE_FOR_BOB);
    assert_eq!(
        out.iter().map(|m| m.status()).collect::<Vec<_>>(),
        [Some(481)]
    );

    let removed = endpoint.remove(bob).expect("bob was there");
    assert_eq!(removed.aor(), "sip:bob@biloxi.com");
    assert!(endpoint.remove(bob).is_none());
    assert!(endpoint.party(bob).is_none());
    assert!(endpoint.party_mut(bob).is_none());
    assert_eq!(endpoint.find("bob@biloxi.com"), None);
    assert_eq!(endpoint.len(), 1);
    // The same request (new branch) now reaches nobody.
    let text = BYE_FOR_BOB.replace("z9hG4bKbye1", "z9hG4bKbye2");
    assert!(feed(&mut endpoint, now, &text).is_empty());
    // Alice still works, and a new Party does not take Bob's key.
    assert!(endpoint.party(alice).is_some());
    let carol = endpoint.add(Party::no_media_simple_calls("carol@chicago.com").unwrap());
    assert_ne!(carol, bob);
}

#[test]
fn endpoint_polls_only_parties_that_ran_and_reports_the_earliest_deadline() {
    use sipparty_core::party::EndpointOutput;
    let mut endpoint = Endpoint::new();
    endpoint.set_local_address(
        sipparty_core::Transport::Udp,
        "127.0.0.1:5060".parse().unwrap(),
    );
    let keys: Vec<PartyKey> = (0..50)
        .map(|i| endpoint.add(Party::no_media_simple_calls(&format!("u{i}@example.com")).unwrap()))
        .collect();
    let now = Instant::now();
    assert!(matches!(endpoint.poll_output(), EndpointOutput::Idle));
    // Party 7 places a call: its INVITE comes out, and the next deadline is
    // its Timer A (T1 = 500 ms).
    endpoint
        .party_mut(keys[7])
        .unwrap()
        .invite(now, "sip:bob@127.0.0.1:5099", InviteOptions::default())
        .unwrap();
    let mut sent = 0;
    let deadline = loop {
        match endpoint.poll_output() {
            EndpointOutput::Transmit(t) => {
                sent += 1;
                assert_eq!(
                    t.destination,
                    "127.0.0.1:5099".parse::<SocketAddr>().unwrap()
                );
            }
            EndpointOutput::Timeout(at) => break at,
            EndpointOutput::Idle => panic!("the INVITE has timers"),
            _ => {}
        }
    };
    assert_eq!(sent, 1);
    assert_eq!(deadline, now + Duration::from_millis(500));
    // At that deadline the INVITE is retransmitted (Timer A).
    endpoint.handle_input(sipparty_core::party::Input::Timeout(deadline));
    let mut resent = 0;
    while let EndpointOutput::Transmit(_) = endpoint.poll_output() {
        resent += 1;
    }
    assert_eq!(resent, 1);
}

#[test]
fn rfc5626_4_4_1_endpoint_answers_a_stream_ping_with_a_pong() {
    use sipparty_core::party::{EndpointOutput, Input};
    use sipparty_core::Transport;
    let (mut endpoint, _, _) = two_parties();
    let peer: SocketAddr = "127.0.0.1:5090".parse().unwrap();
    endpoint.handle_input(Input::StreamData {
        now: Instant::now(),
        transport: Transport::Tcp,
        source: peer,
        destination: "127.0.0.1:5060".parse().unwrap(),
        bytes: b"\r\n\r\n",
    });
    let mut pongs = Vec::new();
    loop {
        match endpoint.poll_output() {
            EndpointOutput::Transmit(t) => pongs.push(t),
            EndpointOutput::Event { .. } | EndpointOutput::MediaTransmit(_) => {}
            _ => break,
        }
    }
    assert_eq!(pongs.len(), 1, "one pong for one ping: {pongs:?}");
    assert_eq!(pongs[0].bytes, b"\r\n");
    assert_eq!(
        (pongs[0].transport, pongs[0].destination),
        (Transport::Tcp, peer)
    );
}

/// Drain an endpoint, counting the DNS questions it passes on (never
/// answered here).
fn drain_counting_lookups(endpoint: &mut Endpoint) -> usize {
    use sipparty_core::party::EndpointOutput;
    let mut asked = 0;
    loop {
        match endpoint.poll_output() {
            EndpointOutput::Event {
                event: Event::ResolveRequest { .. },
                ..
            } => asked += 1,
            EndpointOutput::Timeout(_) | EndpointOutput::Idle => return asked,
            _ => {}
        }
    }
}

/// RFC 3263 lookups a driver never answers do not pile up in the
/// endpoint: each is forgotten when its party's resolver gives up on it
/// (the lookup timeout), and a removed party's go with it.
#[test]
fn rfc3263_unanswered_lookups_are_forgotten() {
    use sipparty_core::party::Input;
    let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let mut endpoint = Endpoint::new();
    let alice = endpoint.add(Party::no_media_simple_calls("alice@atlanta.com").unwrap());
    endpoint.set_local_address(sipparty_core::Transport::Udp, addr);
    let timeout = endpoint.party(alice).unwrap().config().dns.lookup_timeout;
    let start = Instant::now();
    let mut now = start;
    let mut asked = 0;
    let mut most = 0;
    // A call a second to a name, for three lookup timeouts: every call
    // asks, none is answered.
    let end = start + timeout * 3;
    let mut n = 0;
    while now < end {
        // A new name each time (the resolver would share one question).
        n += 1;
        endpoint
            .party_mut(alice)
            .unwrap()
            .invite(
                now,
                &format!("bob@host{n}.example.com"),
                InviteOptions::default(),
            )
            .unwrap();
        endpoint.handle_input(Input::Timeout(now));
        asked += drain_counting_lookups(&mut endpoint);
        most = most.max(endpoint.lookups_in_flight());
        now += Duration::from_secs(1);
    }
    let window = timeout.as_secs() as usize + 1;
    assert!(asked > 2 * window, "the calls asked ({asked})");
    // Only the questions of the last lookup timeout are held: a couple
    // per call (NAPTR, then SRV/A as each times out) in that window.
    assert!(
        most <= 4 * window,
        "held {most} of {asked} unanswered lookups"
    );
    // Once the resolver stopped waiting for every one, none is held.
    now += timeout * 4;
    for _ in 0..8 {
        endpoint.handle_input(Input::Timeout(now));
        drain_counting_lookups(&mut endpoint);
        now += timeout;
    }
    assert_eq!(endpoint.lookups_in_flight(), 0);

    // A removed party's questions go with it.
    let bob = endpoint.add(Party::no_media_simple_calls("bob@biloxi.com").unwrap());
    endpoint
        .party_mut(bob)
        .unwrap()
        .invite(now, "carol@chicago.example.com", InviteOptions::default())
        .unwrap();
    endpoint.handle_input(Input::Timeout(now));
    assert!(drain_counting_lookups(&mut endpoint) > 0);
    assert!(endpoint.lookups_in_flight() > 0);
    endpoint.remove(bob);
    assert_eq!(endpoint.lookups_in_flight(), 0);
}
