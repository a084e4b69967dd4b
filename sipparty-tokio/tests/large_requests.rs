//! RFC 3261 section 18.1.1 over real loopback sockets: an INVITE too
//! large for UDP goes over TCP, and back to UDP when the peer has no TCP.

use sipparty_tokio::{CallPolicy, IncomingCall, InviteOptions, Party};

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
async fn rfc3261_s18_1_1_back_to_udp_when_tcp_is_refused() {
    // Bob has no TCP listener: the connection is refused.
    let bob = Party::builder(config("bob@example.test", CallPolicy::AutoAnswer))
        .tcp(false)
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let (alice, incoming) = large_call(&bob).await;
    assert_eq!(incoming.source, alice.local_addr(), "over UDP");
}
