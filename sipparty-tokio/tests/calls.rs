//! Call flows between tokio parties over real loopback sockets (UDP and
//! TCP, IPv4 and IPv6).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use sipparty_core::party::Event;
use sipparty_tokio::{CallPolicy, DialogError, DialogState, InviteOptions, Party, PartyConfig};

mod support;
use support::{config, ended, eventually, hang_up, in_dialog, party, target, within};

/// Alice and Bob on `ip`, Bob answering by `bob_policy`, and Alice's call
/// to Bob, placed.
async fn alice_calls_bob(
    ip: &str,
    bob_policy: CallPolicy,
) -> (Party, Party, sipparty_tokio::Dialog) {
    let bob = party("bob@example.com", ip, bob_policy).await;
    let alice = party("alice@example.com", ip, CallPolicy::AutoAnswer).await;
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    (alice, bob, call)
}

async fn call_and_hang_up(ip: &str) {
    let (alice, bob, call) = alice_calls_bob(ip, CallPolicy::AutoAnswer).await;
    in_dialog("alice in dialog", &call).await;
    let incoming = within("bob's incoming call", bob.incoming()).await.unwrap();
    assert!(incoming.from.contains("alice@example.com"));
    assert!(incoming.has_offer);
    in_dialog("bob in dialog", &incoming.dialog).await;
    // Media sockets are open on both sides while the call is up.
    assert_eq!(alice.stats().await.unwrap().media_sockets, 2);
    assert_eq!(bob.stats().await.unwrap().media_sockets, 2);

    hang_up(&call).await;
    assert!(call.last_error().is_none());
    assert_eq!(
        ended("bob terminated", &incoming.dialog).await,
        DialogState::Terminated
    );
    let stats = alice.stats().await.unwrap();
    assert_eq!((stats.dialogs, stats.media_sockets), (0, 0));
    let stats = bob.stats().await.unwrap();
    assert_eq!((stats.dialogs, stats.media_sockets), (0, 0));
}

#[tokio::test]
async fn udp_ipv4_call_and_bye_from_caller() {
    call_and_hang_up("127.0.0.1").await;
}

#[tokio::test]
async fn udp_ipv6_call_and_bye_from_caller() {
    call_and_hang_up("[::1]").await;
}

#[tokio::test]
async fn bye_from_callee() {
    let (_alice, bob, call) = alice_calls_bob("127.0.0.1", CallPolicy::AutoAnswer).await;
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    in_dialog("bob in dialog", &incoming.dialog).await;
    hang_up(&incoming.dialog).await;
    assert_eq!(
        ended("alice terminated", &call).await,
        DialogState::Terminated
    );
}

#[tokio::test]
async fn rejected_by_policy() {
    let (_alice, _bob, call) = alice_calls_bob("127.0.0.1", CallPolicy::Reject { code: 486 }).await;
    assert_eq!(ended("rejection", &call).await, DialogState::Error);
    match call.last_error() {
        Some(DialogError::Rejected { code: 486, .. }) => {}
        other => panic!("expected 486, got {other:?}"),
    }
}

#[tokio::test]
async fn rejected_by_the_application() {
    let (_alice, bob, call) = alice_calls_bob("127.0.0.1", CallPolicy::AskApplication).await;
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    assert!(incoming.needs_decision);
    // Bob rings first (180 creates an early dialog at Alice).
    within("early", call.wait_for(|s| s == DialogState::Early))
        .await
        .unwrap();
    incoming.reject(603).await.unwrap();
    ended("rejection", &call).await;
    assert!(
        matches!(
            call.last_error(),
            Some(DialogError::Rejected { code: 603, .. })
        ),
        "{:?}",
        call.last_error()
    );
}

#[tokio::test]
async fn accepted_by_the_application() {
    let (_alice, bob, call) = alice_calls_bob("127.0.0.1", CallPolicy::AskApplication).await;
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    within("early", call.wait_for(|s| s == DialogState::Early))
        .await
        .unwrap();
    assert_eq!(call.state(), DialogState::Early);
    incoming.accept().await.unwrap();
    in_dialog("answered", &call).await;
    // Deciding twice is refused by the core, as an error value.
    assert!(incoming.accept().await.is_err());
}

#[tokio::test]
async fn cancel_before_answer() {
    let (_alice, bob, call) = alice_calls_bob("127.0.0.1", CallPolicy::AskApplication).await;
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    within("early", call.wait_for(|s| s == DialogState::Early))
        .await
        .unwrap();
    hang_up(&call).await;
    assert!(ended("bob final", &incoming.dialog).await.is_final());
    // The call was never answered: a late accept is refused.
    assert!(incoming.accept().await.is_err());
}

#[tokio::test]
async fn hold_and_resume() {
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let mut bob_events = bob.events();
    let mut alice_events = alice.events();
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    in_dialog("in dialog", &call).await;

    // Bob's view of the stream after each re-INVITE from Alice.
    async fn next_update(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> (bool, bool) {
        loop {
            match rx.recv().await.unwrap() {
                Event::MediaUpdated { stream, .. } => return (stream.send, stream.recv),
                _ => continue,
            }
        }
    }
    call.hold().await.unwrap();
    let (send, recv) = within("hold at bob", next_update(&mut bob_events)).await;
    assert!(
        !send && recv,
        "held: bob only receives (send={send}, recv={recv})"
    );
    // The re-INVITE completes at Alice (her answer arrives) before the next.
    let (send, recv) = within("hold at alice", next_update(&mut alice_events)).await;
    assert!(
        send && !recv,
        "holding: alice only sends (send={send}, recv={recv})"
    );
    call.resume().await.unwrap();
    let (send, recv) = within("resume at bob", next_update(&mut bob_events)).await;
    assert!(
        send && recv,
        "resumed: both ways (send={send}, recv={recv})"
    );
    assert_eq!(call.state(), DialogState::InDialog);
    hang_up(&call).await;
}

async fn tcp_call(ip: &str) {
    let bob = party("bob@example.com", ip, CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", ip, CallPolicy::AutoAnswer).await;
    let to = format!("{};transport=tcp", target("bob", &bob));
    let call = alice.invite(&to, InviteOptions::default()).await.unwrap();
    in_dialog("in dialog", &call).await;
    assert_eq!(alice.stats().await.unwrap().connections, 1);
    assert_eq!(bob.stats().await.unwrap().connections, 1);
    hang_up(&call).await;
}

#[tokio::test]
async fn tcp_call_ipv4() {
    tcp_call("127.0.0.1").await;
}

#[tokio::test]
async fn tcp_call_ipv6() {
    tcp_call("[::1]").await;
}

#[tokio::test]
async fn options_answered() {
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let reply = within("OPTIONS", alice.options(&target("bob", &bob)))
        .await
        .unwrap();
    assert_eq!(reply.code, 200);
    assert!(
        reply.allow.iter().any(|m| m == "INVITE"),
        "{:?}",
        reply.allow
    );
}

#[tokio::test]
async fn dropping_the_party_ends_its_calls_and_closes_its_sockets() {
    let (alice, bob, call) = alice_calls_bob("127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice_addr = alice.local_addr();
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    in_dialog("in dialog", &incoming.dialog).await;
    drop(alice);
    // The task sent BYE on its way out.
    assert_eq!(
        ended("bob sees BYE", &incoming.dialog).await,
        DialogState::Terminated
    );
    // Alice's handles now report the stop instead of hanging.
    assert!(matches!(
        call.terminate().await,
        Err(sipparty_tokio::Error::Closed)
    ));
    // Its sockets are closed: the port can be bound again.
    eventually("port released", || async {
        let udp = std::net::UdpSocket::bind(alice_addr);
        let tcp = std::net::TcpListener::bind(alice_addr);
        udp.is_ok() && tcp.is_ok()
    })
    .await;
}

#[tokio::test]
async fn junk_traffic_does_not_stop_the_loop() {
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for payload in [
        &b"\x00\x01\x02garbage"[..],
        b"INVITE sip:bob@x SIP/2.0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
        b"",
    ] {
        junk.send_to(payload, bob.local_addr()).await.unwrap();
    }
    // A TCP peer that sends junk and one that hangs up at once.
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(bob.local_addr())
        .await
        .unwrap();
    s.write_all(b"NOT SIP AT ALL\r\n\r\n\x00\xff")
        .await
        .unwrap();
    drop(
        tokio::net::TcpStream::connect(bob.local_addr())
            .await
            .unwrap(),
    );

    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    in_dialog("in dialog despite junk", &call).await;
    drop(s);
}

#[tokio::test]
async fn a_dropped_invite_future_leaves_no_call_behind() {
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    for _ in 0..5 {
        // Poll the invite once (the command is queued) and drop it.
        let to = target("bob", &bob);
        let fut = alice.invite(&to, InviteOptions::default());
        let mut fut = std::pin::pin!(fut);
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
    }
    // The loop still serves new calls.
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    in_dialog("in dialog", &call).await;
    hang_up(&call).await;
    // The abandoned calls were ended by the task: nothing is left.
    eventually("all calls gone", || async {
        alice.stats().await.unwrap().dialogs == 0 && bob.stats().await.unwrap().dialogs == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_through_one_driver() {
    let signalling = |aor: &str| {
        let mut c = PartyConfig::new(aor).unwrap();
        c.policy = CallPolicy::AutoAnswer;
        c
    };
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let bob = Party::bind(signalling("bob@example.com"), addr)
        .await
        .unwrap();
    let alice = Party::bind(signalling("alice@example.com"), addr)
        .await
        .unwrap();
    let to = target("bob", &bob);
    let mut calls = Vec::new();
    for _ in 0..1000 {
        calls.push(alice.invite(&to, InviteOptions::default()).await.unwrap());
    }
    for c in &calls {
        in_dialog("every call answered", c).await;
    }
    assert_eq!(alice.stats().await.unwrap().dialogs, 1000);
    assert_eq!(bob.stats().await.unwrap().dialogs, 1000);
    for c in &calls {
        c.terminate().await.unwrap();
    }
    for c in &calls {
        assert_eq!(ended("every call ended", c).await, DialogState::Terminated);
    }
    eventually("bob's dialogs gone", || async {
        bob.stats().await.unwrap().dialogs == 0
    })
    .await;
}

#[tokio::test]
async fn idle_tcp_connections_are_closed() {
    let bind = |aor: &str| {
        Party::builder(config(aor, CallPolicy::AutoAnswer))
            .idle_timeout(Duration::from_millis(300))
            .bind("127.0.0.1:0".parse().unwrap())
    };
    let bob = bind("bob@example.com").await.unwrap();
    let alice = bind("alice@example.com").await.unwrap();
    let to = format!("{};transport=tcp", target("bob", &bob));
    let reply = within("OPTIONS over TCP", alice.options(&to))
        .await
        .unwrap();
    assert_eq!(reply.code, 200);
    assert_eq!(alice.stats().await.unwrap().connections, 1);
    eventually("idle connections closed", || async {
        alice.stats().await.unwrap().connections == 0 && bob.stats().await.unwrap().connections == 0
    })
    .await;
    // A new request opens a new connection.
    let reply = within("OPTIONS again", alice.options(&to)).await.unwrap();
    assert_eq!(reply.code, 200);
}
