//! Scaffolding shared by the mio driver's loopback tests: a log
//! subscriber, parties on their own sockets, their URIs, and polling with a
//! deadline. Each test binary includes it with `mod support;` and uses what
//! it needs.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_mio::parties::SingleRtpSessionSimpleParty;
use sipparty_mio::{Dialog, DialogState, InviteOptions, Party, Transport};

/// How long any step of a loopback test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Logs to the test's output, filtered by `RUST_LOG`.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Any port at `ip`.
pub fn any(ip: &str) -> SocketAddr {
    format!("{ip}:0").parse().expect("an IP address")
}

/// A media party for `aor` on its own UDP socket at `ip`.
pub fn media_party(aor: &str, ip: &str) -> Party {
    init_logs();
    let p = SingleRtpSessionSimpleParty::new(aor)
        .expect("valid address of record")
        .into_party();
    p.listen_on(any(ip)).expect("loopback socket");
    p
}

/// The URI of `user` at the party's socket for `transport` (`sips:` for
/// TLS).
pub fn uri(user: &str, p: &Party, transport: Transport) -> String {
    let addr = p.local_addr(transport).expect("the party listens");
    let host = match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    match transport {
        Transport::Udp => format!("sip:{user}@{host}"),
        Transport::Tcp => format!("sip:{user}@{host};transport=tcp"),
        _ => format!("sips:{user}@{host}"),
    }
}

/// Poll `f` until it holds; fail the test if [`WAIT`] passes first.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting for {what}");
}

/// `alice` calls `target` (a party of `bob`'s, which answers or is asked
/// and accepts): the two sides of the confirmed call.
pub fn answered_call(alice: &Party, bob: &Party, target: &str) -> (Dialog, Dialog) {
    let dialog = alice
        .invite(target, InviteOptions::default())
        .expect("the call is placed");
    assert!(
        dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT),
        "call not established: {:?} {:?}",
        dialog.state(),
        dialog.last_error()
    );
    let answered = bob
        .next_incoming(Some(WAIT))
        .expect("bob is running")
        .expect("bob saw the call")
        .accept()
        .expect("bob takes the call");
    (dialog, answered)
}

/// End `dialog` and wait until it is over; the test fails unless it ends
/// cleanly.
pub fn hang_up(dialog: &Dialog) {
    dialog.terminate().expect("the party is running");
    assert_eq!(
        dialog.wait_for_state_condition(|s| s.is_final()),
        DialogState::Terminated,
        "{:?}",
        dialog.last_error()
    );
}
