//! In a call: hold and resume by re-INVITE (RFC 3264 section 8.4), glare
//! (491 and the RFC 3261 section 14.1 retry timers), INFO, MESSAGE and
//! OPTIONS in the dialog, DTMF by INFO, and session timers (RFC 4028).

use std::time::Duration;

use sipparty_core::party::{
    CallPolicy, DialogError, DialogId, DialogState, Event, Party, SimParty,
};
use sipparty_core::sim::Network;

mod support;
use support::{
    alice_addr as a, bob_addr as b, drop_every, media_updates, media_updates_of_both, no_frames,
    party_with, two_parties, Calls, BOB, RECVONLY, SENDONLY, SENDRECV,
};

fn established(
    seed: u64,
    media: bool,
    tweak: impl Fn(&mut Party),
) -> (Network<SimParty>, DialogId, DialogId) {
    let mk = |aor: &str| party_with(aor, CallPolicy::AutoAnswer, media, &tweak);
    let mut net = two_parties(seed, mk("alice@atlanta.com"), mk("bob@biloxi.com"));
    let call = net.call(a(), BOB);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(a(), call), Some(DialogState::InDialog));
    let bob_call = net.first_incoming(b());
    (net, call, bob_call)
}

/// The DTMF digits a node received, in order.
fn dtmf_digits(node: &SimParty) -> Vec<char> {
    node.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Dtmf { digit, .. } => Some(*digit),
            _ => None,
        })
        .collect()
}

fn hang_up(net: &mut Network<SimParty>, call: DialogId) {
    net.hang_up(a(), call);
    net.settle();
}

#[test]
fn hold_and_resume_rfc3264_8_4() {
    let (mut net, call, _bob_call) = established(20, true, |_| {});
    net.with_dialog(a(), call, |d, now| d.hold(now)).unwrap();
    net.run_for(Duration::from_secs(1));
    // Alice offered sendonly; Bob answered recvonly.
    assert_eq!(
        media_updates_of_both(&net),
        (vec![SENDONLY], vec![RECVONLY])
    );
    net.with_dialog(a(), call, |d, now| d.resume(now)).unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        media_updates_of_both(&net),
        (vec![SENDONLY, SENDRECV], vec![RECVONLY, SENDRECV])
    );
    assert_eq!(net.state(a(), call), Some(DialogState::InDialog));
    hang_up(&mut net, call);
}

#[test]
fn glare_both_hold_at_once_rfc3261_14_1() {
    let (mut net, call, bob_call) = established(21, true, |_| {});
    net.with_dialog(a(), call, |d, now| d.hold(now)).unwrap();
    net.with_dialog(b(), bob_call, |d, now| d.hold(now))
        .unwrap();
    net.run_for(Duration::from_secs(10));
    let log: Vec<String> = net
        .log()
        .iter()
        .map(|d| d.text().lines().next().unwrap_or("").to_string())
        .collect();
    let glares = log.iter().filter(|l| l.starts_with("SIP/2.0 491")).count();
    assert_eq!(glares, 2, "both re-INVITEs refused: {log:?}");
    // Both retried, Bob first (he does not own the Call-ID: 0-2 s), then
    // Alice (2.1-4 s); each side's offer was answered.
    let ok_reinvites = log.iter().filter(|l| l.starts_with("INVITE")).count();
    assert_eq!(ok_reinvites, 1 + 2 + 2);
    assert!(!media_updates(net.endpoint(a())).is_empty());
    assert!(!media_updates(net.endpoint(b())).is_empty());
    assert_eq!(net.state(a(), call), Some(DialogState::InDialog));
    assert_eq!(net.state(b(), bob_call), Some(DialogState::InDialog));
    hang_up(&mut net, call);
}

#[test]
fn info_message_and_dtmf_in_dialog_reach_the_application() {
    let (mut net, call, bob_call) = established(22, false, |_| {});
    net.with_dialog(a(), call, |d, now| d.send_dtmf(now, "1#"))
        .unwrap();
    net.with_dialog(a(), call, |d, now| {
        d.send_message(now, "text/plain", b"hi bob")
    })
    .unwrap();
    net.with_dialog(b(), bob_call, |d, now| d.send_options(now))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    let bob = net.endpoint(b());
    assert_eq!(dtmf_digits(bob), vec!['1', '#']);
    assert!(bob.events.iter().any(|(_, e)| matches!(
        e,
        Event::MessageReceived { dialog: Some(d), body, .. } if *d == bob_call && body == b"hi bob"
    )));
    // Bob's OPTIONS was answered 200 by Alice.
    assert!(net
        .log()
        .iter()
        .any(|d| d.text().starts_with("SIP/2.0 200") && d.text().contains(" OPTIONS\r\n")));
    hang_up(&mut net, call);
}

#[test]
fn options_outside_a_dialog_reports_allow_and_supported() {
    let mut net = support::network(23, CallPolicy::AutoAnswer, false);
    let now = net.now();
    let id = net
        .endpoint_mut(a())
        .party_mut()
        .options(now, "bob@127.0.0.1:5070")
        .unwrap();
    net.run_until_idle(Duration::from_secs(60));
    let done = net.endpoint(a()).events.iter().find_map(|(_, e)| match e {
        Event::RequestCompleted { id: i, outcome } if *i == id => Some((
            outcome.code,
            outcome.allow.clone(),
            outcome.supported.clone(),
        )),
        _ => None,
    });
    let (code, allow, supported) = done.expect("OPTIONS completed");
    assert_eq!(code, 200);
    assert!(allow.iter().any(|m| m == "INVITE"));
    assert!(supported.iter().any(|t| t == "timer"));
    assert!(net.endpoint_mut(a()).is_idle());
}

#[test]
fn session_timer_refreshes_keep_the_call_up_rfc4028() {
    let (mut net, call, bob_call) = established(24, false, |p| {
        p.config_mut().session_expires = Some(Duration::from_secs(90));
    });
    net.run_for(Duration::from_secs(300));
    assert_eq!(net.state(a(), call), Some(DialogState::InDialog));
    assert_eq!(net.state(b(), bob_call), Some(DialogState::InDialog));
    let updates = net
        .log()
        .iter()
        .filter(|d| d.text().starts_with("UPDATE"))
        .count();
    assert!(updates >= 6, "refreshed every 45 s: {updates}");
    hang_up(&mut net, call);
}

#[test]
fn session_expires_without_refresh_ends_the_call_rfc4028_10() {
    let (mut net, call, bob_call) = established(25, false, |p| {
        p.config_mut().session_expires = Some(Duration::from_secs(90));
    });
    // Alice is the refresher; lose every refresh.
    net.set_hook(drop_every("UPDATE"));
    net.run_for(Duration::from_secs(200));
    assert_eq!(net.state(b(), bob_call), Some(DialogState::Error));
    assert_eq!(
        net.endpoint(b()).party().last_error(bob_call),
        Some(&DialogError::SessionExpired)
    );
    assert!(net.state(a(), call).unwrap().is_final());
}

/// Carry the media packets the two nodes sent to each other (the
/// simulator carries SIP only), in virtual time steps of 10 ms.
fn run_with_media(net: &mut Network<SimParty>, duration: Duration) {
    let end = net.now() + duration;
    while net.now() < end {
        let t = net.now() + Duration::from_millis(10);
        net.run_until(t);
        for (from, to) in [(a(), b()), (b(), a())] {
            let packets: Vec<_> = std::mem::take(&mut net.endpoint_mut(from).media);
            let now = net.now();
            for m in packets {
                net.endpoint_mut(to).party_mut().handle_input(
                    sipparty_core::party::Input::Datagram {
                        now,
                        transport: sipparty_core::Transport::Udp,
                        source: m.source,
                        destination: m.destination,
                        bytes: &m.bytes,
                    },
                );
                net.endpoint_mut(to).drain();
            }
        }
    }
}

#[test]
fn rtp_flows_both_ways_and_dtmf_rides_rfc4733() {
    let (mut net, call, bob_call) = established(26, true, |_| {});
    run_with_media(&mut net, Duration::from_secs(1));
    net.with_dialog(a(), call, |d, now| d.send_dtmf(now, "42"))
        .unwrap();
    run_with_media(&mut net, Duration::from_secs(2));
    for (node, id) in [(a(), call), (b(), bob_call)] {
        let stats = net.with_dialog(node, id, |mut d, _| {
            d.media().expect("G.711 stream running").stats()
        });
        assert!(stats.rtp.packets_sent >= 100, "{node}: {stats:?}");
        assert!(stats.rtp.packets_received >= 100, "{node}: {stats:?}");
    }
    assert_eq!(dtmf_digits(net.endpoint(b())), vec!['4', '2']);
    // No INFO was needed.
    assert!(!net.log().iter().any(|d| d.text().starts_with("INFO")));
    hang_up(&mut net, call);
}

#[test]
fn whole_call_with_hold_resume_info_under_30_percent_loss() {
    let mut finished_clean = 0;
    for seed in 0..12 {
        let mk = |aor: &str| party_with(aor, CallPolicy::AutoAnswer, true, no_frames);
        let mut net = two_parties(500 + seed, mk("alice@atlanta.com"), mk("bob@biloxi.com"));
        net.set_link(sipparty_core::sim::LinkConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(15),
            loss: 0.3,
            duplicate: 0.05,
            reorder: 0.2,
        });
        let call = net.call(a(), BOB);
        net.run_for(Duration::from_secs(40));
        if net.state(a(), call) == Some(DialogState::InDialog) {
            for step in 0..3 {
                let now = net.now();
                if let Some(d) = net.endpoint_mut(a()).party_mut().dialog(call) {
                    let _ = match step {
                        0 => d.hold(now),
                        1 => d.resume(now),
                        _ => d.send_dtmf(now, "5"),
                    };
                }
                net.run_until(now + Duration::from_secs(40));
            }
            net.hang_up_if_open(a(), call);
        }
        net.run_until_idle(Duration::from_secs(600));
        let s = net.state(a(), call).unwrap();
        assert!(s.is_final(), "seed {seed}: alice {s:?}");
        for id in net.endpoint(b()).incoming_calls() {
            let s = net.state(b(), id).unwrap();
            assert!(s.is_final(), "seed {seed}: bob {s:?}");
        }
        assert!(
            net.endpoint_mut(a()).is_idle(),
            "seed {seed}: alice not idle"
        );
        assert!(net.endpoint_mut(b()).is_idle(), "seed {seed}: bob not idle");
        if s == DialogState::Terminated {
            finished_clean += 1;
        } else {
            eprintln!(
                "seed {seed}: {:?} {:?}",
                net.endpoint(a()).states_of(call),
                net.endpoint(a()).party().last_error(call)
            );
        }
    }
    assert!(finished_clean >= 10, "{finished_clean} of 12 ended cleanly");
}
