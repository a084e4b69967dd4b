//! Call flows between tokio parties over real loopback sockets (UDP and
//! TCP, IPv4 and IPv6).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use sipparty_core::party::Event;
use sipparty_core::sdp::MediaCapabilities;
use sipparty_tokio::{CallPolicy, DialogError, DialogState, InviteOptions, Party, PartyConfig};

/// RTP port ranges, distinct per party so parties in this process never
/// pick the same port.
static NEXT_RTP: AtomicU16 = AtomicU16::new(20000);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn config(aor: &str, policy: CallPolicy) -> PartyConfig {
    let mut c = PartyConfig::new(aor).unwrap();
    c.media = Some(MediaCapabilities::default_audio());
    c.policy = policy;
    let base = NEXT_RTP.fetch_add(100, Ordering::Relaxed);
    c.rtp_ports = (base, base + 99);
    c
}

async fn party(aor: &str, ip: &str, policy: CallPolicy) -> Party {
    // RUST_LOG=sipparty_tokio=trace shows the traffic of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    Party::bind(config(aor, policy), addr).await.unwrap()
}

fn target(user: &str, p: &Party) -> String {
    format!("sip:{user}@{}", p.local_addr())
}

async fn call_and_hang_up(ip: &str) {
    let bob = party("bob@example.com", ip, CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", ip, CallPolicy::AutoAnswer).await;
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    within(
        "alice in dialog",
        call.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
    let incoming = within("bob's incoming call", bob.incoming()).await.unwrap();
    assert!(incoming.from.contains("alice@example.com"));
    assert!(incoming.has_offer);
    within(
        "bob in dialog",
        incoming.dialog.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
    // Media sockets are open on both sides while the call is up.
    assert_eq!(alice.stats().await.unwrap().media_sockets, 2);
    assert_eq!(bob.stats().await.unwrap().media_sockets, 2);

    call.terminate().await.unwrap();
    let end = within("alice terminated", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert_eq!(end, DialogState::Terminated);
    assert!(call.last_error().is_none());
    let end = within("bob terminated", incoming.dialog.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert_eq!(end, DialogState::Terminated);
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
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    within(
        "bob in dialog",
        incoming.dialog.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
    incoming.dialog.terminate().await.unwrap();
    let end = within("alice terminated", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert_eq!(end, DialogState::Terminated);
    assert_eq!(
        within("bob terminated", incoming.dialog.wait_for(|s| s.is_final()))
            .await
            .unwrap(),
        DialogState::Terminated
    );
}

#[tokio::test]
async fn rejected_by_policy() {
    let bob = party(
        "bob@example.com",
        "127.0.0.1",
        CallPolicy::Reject { code: 486 },
    )
    .await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    let end = within("rejection", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert_eq!(end, DialogState::Error);
    match call.last_error() {
        Some(DialogError::Rejected { code: 486, .. }) => {}
        other => panic!("expected 486, got {other:?}"),
    }
}

#[tokio::test]
async fn rejected_by_the_application() {
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AskApplication).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    assert!(incoming.needs_decision);
    // Bob rings first (180 creates an early dialog at Alice).
    within("early", call.wait_for(|s| s == DialogState::Early))
        .await
        .unwrap();
    incoming.reject(603).await.unwrap();
    within("rejection", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
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
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AskApplication).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    within("early", call.wait_for(|s| s == DialogState::Early))
        .await
        .unwrap();
    assert_eq!(call.state(), DialogState::Early);
    incoming.accept().await.unwrap();
    within("answered", call.wait_for(|s| s == DialogState::InDialog))
        .await
        .unwrap();
    // Deciding twice is refused by the core, as an error value.
    assert!(incoming.accept().await.is_err());
}

#[tokio::test]
async fn cancel_before_answer() {
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AskApplication).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    within("early", call.wait_for(|s| s == DialogState::Early))
        .await
        .unwrap();
    call.terminate().await.unwrap();
    let end = within("alice final", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert_eq!(end, DialogState::Terminated, "{:?}", call.last_error());
    let bob_end = within("bob final", incoming.dialog.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert!(bob_end.is_final());
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
    within("in dialog", call.wait_for(|s| s == DialogState::InDialog))
        .await
        .unwrap();

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
    call.terminate().await.unwrap();
    within("end", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
}

#[tokio::test]
async fn tcp_call() {
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let to = format!("{};transport=tcp", target("bob", &bob));
    let call = alice.invite(&to, InviteOptions::default()).await.unwrap();
    within("in dialog", call.wait_for(|s| s == DialogState::InDialog))
        .await
        .unwrap();
    assert_eq!(alice.stats().await.unwrap().connections, 1);
    assert_eq!(bob.stats().await.unwrap().connections, 1);
    call.terminate().await.unwrap();
    assert_eq!(
        within("end", call.wait_for(|s| s.is_final()))
            .await
            .unwrap(),
        DialogState::Terminated
    );
}

#[tokio::test]
async fn tcp_call_ipv6() {
    let bob = party("bob@example.com", "[::1]", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "[::1]", CallPolicy::AutoAnswer).await;
    let to = format!("{};transport=tcp", target("bob", &bob));
    let call = alice.invite(&to, InviteOptions::default()).await.unwrap();
    within("in dialog", call.wait_for(|s| s == DialogState::InDialog))
        .await
        .unwrap();
    call.terminate().await.unwrap();
    assert_eq!(
        within("end", call.wait_for(|s| s.is_final()))
            .await
            .unwrap(),
        DialogState::Terminated
    );
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
    let bob = party("bob@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice = party("alice@example.com", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let alice_addr = alice.local_addr();
    let call = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .await
        .unwrap();
    let incoming = within("incoming", bob.incoming()).await.unwrap();
    within(
        "in dialog",
        incoming.dialog.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
    drop(alice);
    // The task sent BYE on its way out.
    assert_eq!(
        within("bob sees BYE", incoming.dialog.wait_for(|s| s.is_final()))
            .await
            .unwrap(),
        DialogState::Terminated
    );
    // Alice's handles now report the stop instead of hanging.
    assert!(matches!(
        call.terminate().await,
        Err(sipparty_tokio::Error::Closed)
    ));
    // Its sockets are closed: the port can be bound again.
    within("port released", async {
        loop {
            let udp = std::net::UdpSocket::bind(alice_addr);
            let tcp = std::net::TcpListener::bind(alice_addr);
            if udp.is_ok() && tcp.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
    within(
        "in dialog despite junk",
        call.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
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
    within("in dialog", call.wait_for(|s| s == DialogState::InDialog))
        .await
        .unwrap();
    call.terminate().await.unwrap();
    within("end", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    // The abandoned calls were ended by the task: nothing is left.
    within("all calls gone", async {
        loop {
            let a = alice.stats().await.unwrap().dialogs;
            let b = bob.stats().await.unwrap().dialogs;
            if a == 0 && b == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
        let s = within(
            "every call answered",
            c.wait_for(|s| s.is_final() || s == DialogState::InDialog),
        )
        .await
        .unwrap();
        assert_eq!(s, DialogState::InDialog, "{:?}", c.last_error());
    }
    assert_eq!(alice.stats().await.unwrap().dialogs, 1000);
    assert_eq!(bob.stats().await.unwrap().dialogs, 1000);
    for c in &calls {
        c.terminate().await.unwrap();
    }
    for c in &calls {
        let s = within("every call ended", c.wait_for(|s| s.is_final()))
            .await
            .unwrap();
        assert_eq!(s, DialogState::Terminated);
    }
    within("bob's dialogs gone", async {
        while bob.stats().await.unwrap().dialogs != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
    within("idle connections closed", async {
        loop {
            let (a, b) = (
                alice.stats().await.unwrap().connections,
                bob.stats().await.unwrap().connections,
            );
            if a == 0 && b == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // A new request opens a new connection.
    let reply = within("OPTIONS again", alice.options(&to)).await.unwrap();
    assert_eq!(reply.code, 200);
}
