//! A tokio party and a `sipparty-mio` party call each other over loopback
//! UDP, TCP and TLS: the two drivers interoperate on the wire.

use std::net::SocketAddr;
use std::time::Duration;

use sipparty_tokio::{CallPolicy, DialogState, InviteOptions, PartyConfig, Transport};

mod support;
use support::{certificate, host, within};

/// An answering party with audio on its own block of RTP ports.
fn config(aor: &str) -> PartyConfig {
    support::config(aor, CallPolicy::AutoAnswer)
}

/// Run blocking mio calls off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// One self-signed certificate for the loopback addresses, made for this
/// run, as each driver's TLS configuration (server and trust).
fn certificates() -> (sipparty_mio::TlsConfig, sipparty_tokio::TlsConfig) {
    let (der, key) = certificate();
    let trust = std::slice::from_ref(&der);
    (
        sipparty_mio::TlsConfig::with_certificate(vec![der.clone()], key.clone(), trust).unwrap(),
        sipparty_tokio::TlsConfig::with_certificate(vec![der.clone()], key, trust).unwrap(),
    )
}

/// The mio endpoint for `transport` (UDP always, and a listener for it).
fn mio_endpoint(
    bind: SocketAddr,
    transport: Transport,
    tls: sipparty_mio::TlsConfig,
) -> sipparty_mio::EndpointConfig {
    let ep = sipparty_mio::EndpointConfig::udp(bind);
    match transport {
        Transport::Tcp => ep.with_tcp(bind),
        Transport::Tls => ep.with_tls(bind, tls),
        _ => ep,
    }
}

/// Where to reach `user` at `addr` over `transport` (`sips:` for TLS).
fn uri(user: &str, addr: SocketAddr, transport: Transport) -> String {
    match transport {
        Transport::Tcp => format!("sip:{user}@{};transport=tcp", host(addr)),
        Transport::Tls => format!("sips:{user}@{}", host(addr)),
        _ => format!("sip:{user}@{}", host(addr)),
    }
}

async fn tokio_calls_mio(ip: &str, transport: Transport) {
    let bind: SocketAddr = format!("{ip}:0").parse().unwrap();
    let (mio_tls, tokio_tls) = certificates();
    let bob = sipparty_mio::Party::new(config("bob@mio.example"));
    bob.listen_with(mio_endpoint(bind, transport, mio_tls))
        .unwrap();
    let bob_addr = bob.local_addr(transport).unwrap();
    let alice = sipparty_tokio::Party::builder(config("alice@tokio.example"))
        .tls(tokio_tls)
        .bind(bind)
        .await
        .unwrap();

    let target = uri("bob", bob_addr, transport);
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
    // The call went over a connection when asked to (not UDP).
    let conns = alice.stats().await.unwrap().connections;
    assert_eq!(
        conns > 0,
        transport != Transport::Udp,
        "{conns} connections"
    );
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

async fn mio_calls_tokio(ip: &str, transport: Transport) {
    let bind: SocketAddr = format!("{ip}:0").parse().unwrap();
    let (mio_tls, tokio_tls) = certificates();
    let bob = sipparty_tokio::Party::builder(config("bob@tokio.example"))
        .tls(tokio_tls)
        .bind(bind)
        .await
        .unwrap();
    let alice = sipparty_mio::Party::new(config("alice@mio.example"));
    alice
        .listen_with(mio_endpoint(bind, transport, mio_tls))
        .unwrap();
    let target = uri("bob", bob.local_addr_for(transport).unwrap(), transport);
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
    let conns = bob.stats().await.unwrap().connections;
    assert_eq!(
        conns > 0,
        transport != Transport::Udp,
        "{conns} connections"
    );
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
    tokio_calls_mio("127.0.0.1", Transport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_calls_mio_tcp_ipv6() {
    tokio_calls_mio("[::1]", Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mio_calls_tokio_udp_ipv4() {
    mio_calls_tokio("127.0.0.1", Transport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mio_calls_tokio_udp_ipv6() {
    mio_calls_tokio("[::1]", Transport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3261_26_2_tokio_calls_mio_over_tls() {
    tokio_calls_mio("127.0.0.1", Transport::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3261_26_2_mio_calls_tokio_over_tls_ipv6() {
    mio_calls_tokio("[::1]", Transport::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5626_4_4_1_mio_answers_the_keepalives_of_tokio() {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let bob = sipparty_mio::Party::new(config("bob@mio.example"));
    bob.listen_with(sipparty_mio::EndpointConfig::udp(bind).with_tcp(bind))
        .unwrap();
    let bob_addr = bob.local_addr(Transport::Tcp).unwrap();
    let ping = Duration::from_millis(100);
    let alice = sipparty_tokio::Party::builder(config("alice@tokio.example"))
        .keepalive_interval(Some(ping))
        .pong_timeout(2 * ping)
        // Idle connections close after five rounds: only the pings and
        // pongs keep this one open for the ten below.
        .idle_timeout(5 * ping)
        .bind(bind)
        .await
        .unwrap();
    let reply = within(
        "OPTIONS",
        alice.options(&uri("bob", bob_addr, Transport::Tcp)),
    )
    .await
    .unwrap();
    assert_eq!(reply.code, 200);
    // Ten keep-alive rounds: one pong missing would have closed the
    // connection (nothing else would open a new one).
    tokio::time::sleep(10 * ping).await;
    assert_eq!(alice.stats().await.unwrap().connections, 1);
}
