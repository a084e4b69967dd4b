//! RFC 3261 section 18.1.1 over real loopback sockets: an INVITE too
//! large for UDP goes over TCP, and back to UDP when the TCP connection
//! fails.

use std::time::Duration;

use sipparty_core::message::{HeaderName, Message};
use sipparty_core::transport::stream::{Frame, StreamFramer};
use sipparty_tokio::{CallPolicy, IncomingCall, InviteOptions, Party};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

mod support;
use support::{any, config, hang_up, in_dialog, party, target, within};

/// Alice calls `bob` with an INVITE padded past UDP's limit; the call is
/// answered and hung up. Returns Alice and Bob's view of the call.
async fn large_call(bob: &Party) -> (Party, IncomingCall) {
    let alice = party("alice@example.test", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let big = InviteOptions::default().header("X-Padding", &"p".repeat(1500));
    let call = alice.invite(&target("bob", bob), big).await.unwrap();
    in_dialog("answer", &call).await;
    let incoming = within("bob's call", bob.incoming()).await.unwrap();
    hang_up(&call).await;
    (alice, incoming)
}

#[tokio::test]
async fn rfc3261_s18_1_1_large_invite_goes_over_tcp() {
    let bob = party("bob@example.test", "127.0.0.1", CallPolicy::AutoAnswer).await;
    let (alice, incoming) = large_call(&bob).await;
    // Over UDP the INVITE would come from Alice's SIP socket; over TCP it
    // comes from the connection's ephemeral port.
    assert_eq!(incoming.source.ip(), alice.local_addr().ip());
    assert_ne!(incoming.source, alice.local_addr(), "not over UDP");
}

#[tokio::test]
async fn rfc3261_s18_1_1_back_to_udp_when_the_tcp_connection_fails() {
    // Bob has no TCP listener of his own; in its place on his port, a
    // listener that takes the connection, reads the INVITE and resets.
    let bob = Party::builder(config("bob@example.test", CallPolicy::AutoAnswer))
        .tcp(false)
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let breaker = TcpListener::bind(bob.local_addr()).await.unwrap();
    let tried = tokio::spawn(async move {
        let (mut conn, from) = breaker.accept().await.unwrap();
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; 8192];
        let invite = loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the request arrived");
            framer.push(&buf[..n]);
            if let Some(Frame::Message(bytes)) = framer.next_frame().unwrap() {
                break Message::parse(&bytes).unwrap();
            }
        };
        // RST rather than FIN: the sender sees a broken connection.
        socket2::SockRef::from(&conn)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(conn);
        (from, invite)
    });
    let (alice, incoming) = large_call(&bob).await;
    let (from, over_tcp) = within("the TCP attempt", tried).await.unwrap();
    // First over TCP, from Alice, with a Via saying so...
    assert_eq!(from.ip(), alice.local_addr().ip());
    assert_eq!(over_tcp.method().map(|m| m.as_str()), Some("INVITE"));
    let via = over_tcp.top_via().unwrap().unwrap();
    assert_eq!(via.transport, "TCP");
    // ...then the same request over UDP, which Bob answered.
    assert_eq!(incoming.source, alice.local_addr(), "over UDP");
    // The same call: the From header (with its tag) is unchanged.
    assert_eq!(
        over_tcp.header(&HeaderName::From),
        Some(incoming.from.as_str())
    );
}
