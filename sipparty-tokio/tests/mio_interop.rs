//! A tokio party and a `sipparty-mio` party call each other over loopback
//! UDP and TCP: the two drivers interoperate on the wire.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use sipparty_core::sdp::MediaCapabilities;
use sipparty_tokio::{CallPolicy, DialogState, InviteOptions, PartyConfig};

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn config(aor: &str, rtp: u16) -> PartyConfig {
    let mut c = PartyConfig::new(aor).unwrap();
    c.media = Some(MediaCapabilities::default_audio());
    c.policy = CallPolicy::AutoAnswer;
    c.rtp_ports = (rtp, rtp + 99);
    c
}

fn host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Run blocking mio calls off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn tokio_calls_mio(ip: &str, rtp: u16, tcp: bool) {
    let bind: SocketAddr = format!("{ip}:0").parse().unwrap();
    let bob = sipparty_mio::Party::new(config("bob@mio.example", rtp));
    let mut ep = sipparty_mio::EndpointConfig::udp(bind);
    if tcp {
        ep = ep.with_tcp(bind);
    }
    bob.listen_with(ep).unwrap();
    let transport = if tcp {
        sipparty_mio::Transport::Tcp
    } else {
        sipparty_mio::Transport::Udp
    };
    let bob_addr = bob.local_addr(transport).unwrap();
    let alice = sipparty_tokio::Party::bind(config("alice@tokio.example", rtp + 100), bind)
        .await
        .unwrap();

    let target = if tcp {
        format!("sip:bob@{};transport=tcp", host(bob_addr))
    } else {
        format!("sip:bob@{}", host(bob_addr))
    };
    let call = alice
        .invite(&target, InviteOptions::default())
        .await
        .unwrap();
    within(
        "tokio caller in dialog",
        call.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
    let bob2 = bob.clone();
    let incoming = blocking(move || bob2.next_incoming(Some(Duration::from_secs(10))))
        .await
        .unwrap()
        .expect("mio party saw the call");
    assert!(incoming.from().contains("alice@tokio.example"));
    let dialog = incoming.dialog().clone();
    // The mio side hangs up.
    let d = dialog.clone();
    blocking(move || {
        assert!(d.wait_for_state_condition_timeout(
            |s| s == DialogState::InDialog,
            Duration::from_secs(10)
        ));
        d.terminate().unwrap();
    })
    .await;
    assert_eq!(
        within("tokio side sees BYE", call.wait_for(|s| s.is_final()))
            .await
            .unwrap(),
        DialogState::Terminated
    );
}

async fn mio_calls_tokio(ip: &str, rtp: u16) {
    let bind: SocketAddr = format!("{ip}:0").parse().unwrap();
    let bob = sipparty_tokio::Party::bind(config("bob@tokio.example", rtp), bind)
        .await
        .unwrap();
    let alice = sipparty_mio::Party::new(config("alice@mio.example", rtp + 100));
    alice.listen_on(bind).unwrap();
    let target = format!("sip:bob@{}", host(bob.local_addr()));
    let dialog = blocking(move || {
        let d = alice.invite(&target, InviteOptions::default()).unwrap();
        assert!(
            d.wait_for_state_condition_timeout(
                |s| s == DialogState::InDialog,
                Duration::from_secs(10)
            ),
            "mio caller: {:?} {:?}",
            d.state(),
            d.last_error()
        );
        (alice, d)
    })
    .await;
    let incoming = within("tokio callee's call", bob.incoming()).await.unwrap();
    assert!(incoming.from.contains("alice@mio.example"));
    within(
        "tokio callee in dialog",
        incoming.dialog.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
    // The tokio side hangs up.
    incoming.dialog.terminate().await.unwrap();
    let (_alice, d) = dialog;
    let ended = blocking(move || {
        d.wait_for_state_condition_timeout(|s| s.is_final(), Duration::from_secs(10));
        d.state()
    })
    .await;
    assert_eq!(ended, DialogState::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_calls_mio_udp_ipv4() {
    tokio_calls_mio("127.0.0.1", 26000, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_calls_mio_tcp_ipv6() {
    tokio_calls_mio("[::1]", 26200, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mio_calls_tokio_udp_ipv4() {
    mio_calls_tokio("127.0.0.1", 26400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mio_calls_tokio_udp_ipv6() {
    mio_calls_tokio("[::1]", 26600).await;
}
