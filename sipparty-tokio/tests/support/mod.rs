//! Scaffolding shared by the tokio driver's loopback tests: logs, parties
//! on their own sockets, their URIs, and waiting with a deadline. Each test
//! binary includes it with `mod support;` and uses what it needs.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use sipparty_core::sdp::MediaCapabilities;
use sipparty_tokio::{CallPolicy, Dialog, DialogState, Party, PartyConfig};

/// How long any step of a loopback test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// RTP port ranges, distinct per party so the parties of one test binary
/// never pick the same port.
static NEXT_RTP: AtomicU16 = AtomicU16::new(20000);

/// `fut`'s output; the test fails, naming `what`, if [`WAIT`] passes first.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Logs to the test's output, filtered by `RUST_LOG`
/// (`RUST_LOG=sipparty_tokio=trace` shows the traffic of a failing test).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Any port at `ip` (`127.0.0.1`, `[::1]`).
pub fn any(ip: &str) -> SocketAddr {
    format!("{ip}:0").parse().expect("an IP address")
}

/// `addr` as the host part of a URI (IPv6 in brackets).
pub fn host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// A configuration with audio on its own block of RTP ports, answering
/// calls by `policy`.
pub fn config(aor: &str, policy: CallPolicy) -> PartyConfig {
    let mut c = PartyConfig::new(aor).expect("valid address of record");
    c.media = Some(MediaCapabilities::default_audio());
    c.policy = policy;
    let base = NEXT_RTP.fetch_add(100, Ordering::Relaxed);
    c.rtp_ports = (base, base + 99);
    c
}

/// A media party for `aor` on its own sockets at `ip`.
pub async fn party(aor: &str, ip: &str, policy: CallPolicy) -> Party {
    init_logs();
    Party::bind(config(aor, policy), any(ip))
        .await
        .expect("loopback sockets")
}

/// The URI of `user` at the party's socket.
pub fn target(user: &str, p: &Party) -> String {
    format!("sip:{user}@{}", host(p.local_addr()))
}

/// Wait until `call` is confirmed; the test fails with the call's error if
/// it ends first.
pub async fn in_dialog(what: &str, call: &Dialog) {
    let state = within(
        what,
        call.wait_for(|s| s == DialogState::InDialog || s.is_final()),
    )
    .await
    .expect("the party is running");
    assert_eq!(
        state,
        DialogState::InDialog,
        "{what}: {:?}",
        call.last_error()
    );
}

/// The state `call` ends in.
pub async fn ended(what: &str, call: &Dialog) -> DialogState {
    within(what, call.wait_for(|s| s.is_final()))
        .await
        .expect("the party is running")
}

/// End `call` and wait until it is over; the test fails unless it ends
/// cleanly.
pub async fn hang_up(call: &Dialog) {
    call.terminate().await.expect("the party is running");
    assert_eq!(
        ended("the end of the call", call).await,
        DialogState::Terminated,
        "{:?}",
        call.last_error()
    );
}

/// Poll `probe` every 20 ms until it holds; the test fails, naming `what`,
/// if [`WAIT`] passes first.
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut probe: impl FnMut() -> F) {
    within(what, async {
        while !probe().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// A self-signed certificate for the loopback addresses, made for this
/// run: (certificate DER, private key DER).
pub fn certificate() -> (Vec<u8>, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec![
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "localhost".to_string(),
    ])
    .expect("a certificate for loopback names");
    (cert.cert.der().to_vec(), cert.key_pair.serialize_der())
}
