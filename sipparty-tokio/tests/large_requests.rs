//! RFC 3261 section 18.1.1 over real loopback sockets: an INVITE too
//! large for UDP goes over TCP, and back to UDP when the peer has no TCP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use sipparty_core::sdp::MediaCapabilities;
use sipparty_tokio::{CallPolicy, DialogState, InviteOptions, Party, PartyConfig};

static NEXT_RTP: AtomicU16 = AtomicU16::new(26000);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn config(aor: &str) -> PartyConfig {
    let mut c = PartyConfig::new(aor).unwrap();
    c.media = Some(MediaCapabilities::default_audio());
    c.policy = CallPolicy::AutoAnswer;
    let base = NEXT_RTP.fetch_add(100, Ordering::Relaxed);
    c.rtp_ports = (base, base + 99);
    c
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
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
    within("answer", call.wait_for(|s| s == DialogState::InDialog))
        .await
        .unwrap();
    let incoming = within("bob's call", bob.incoming()).await.unwrap();
    // Over UDP the INVITE would come from Alice's SIP socket; over TCP it
    // comes from the connection's ephemeral port.
    assert_eq!(incoming.source.ip(), alice.local_addr().ip());
    assert_ne!(incoming.source, alice.local_addr(), "not over UDP");
    call.terminate().await.unwrap();
    within("end", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
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
    let state = within(
        "answer over UDP",
        call.wait_for(|s| s == DialogState::InDialog || s.is_final()),
    )
    .await
    .unwrap();
    assert_eq!(state, DialogState::InDialog, "{:?}", call.last_error());
    let incoming = within("bob's call", bob.incoming()).await.unwrap();
    assert_eq!(incoming.source, alice.local_addr(), "over UDP");
    call.terminate().await.unwrap();
    within("end", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
}
