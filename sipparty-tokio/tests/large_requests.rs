//! RFC 3261 section 18.1.1 over real loopback sockets: an INVITE too
//! large for UDP goes over TCP, and back to UDP when the peer has no TCP.

use sipparty_tokio::{CallPolicy, InviteOptions, Party, PartyConfig};

mod support;
use support::{any, hang_up, in_dialog, within};

fn config(aor: &str) -> PartyConfig {
    support::config(aor, CallPolicy::AutoAnswer)
}

fn loopback() -> std::net::SocketAddr {
    any("127.0.0.1")
}

fn big() -> InviteOptions {
    InviteOptions::default().header("X-Padding", &"p".repeat(1500))
}

#[tokio::test]
async fn rfc3261_s18_1_1_large_invite_goes_over_tcp() {
    let bob = Party::bind(config("bob@example.test"), loopback())
        .await
        .unwrap();
    let alice = Party::bind(config("alice@example.test"), loopback())
        .await
        .unwrap();
    let call = alice
        .invite(&format!("sip:bob@{}", bob.local_addr()), big())
        .await
        .unwrap();
    in_dialog("answer", &call).await;
    let incoming = within("bob's call", bob.incoming()).await.unwrap();
    // Over UDP the INVITE would come from Alice's SIP socket; over TCP it
    // comes from the connection's ephemeral port.
    assert_eq!(incoming.source.ip(), alice.local_addr().ip());
    assert_ne!(incoming.source, alice.local_addr(), "not over UDP");
    hang_up(&call).await;
}

#[tokio::test]
async fn rfc3261_s18_1_1_back_to_udp_when_tcp_is_refused() {
    // Bob has no TCP listener: the connection is refused.
    let bob = Party::builder(config("bob@example.test"))
        .tcp(false)
        .bind(loopback())
        .await
        .unwrap();
    let alice = Party::bind(config("alice@example.test"), loopback())
        .await
        .unwrap();
    let call = alice
        .invite(&format!("sip:bob@{}", bob.local_addr()), big())
        .await
        .unwrap();
    in_dialog("answer over UDP", &call).await;
    let incoming = within("bob's call", bob.incoming()).await.unwrap();
    assert_eq!(incoming.source, alice.local_addr(), "over UDP");
    hang_up(&call).await;
}
