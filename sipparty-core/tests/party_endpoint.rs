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
