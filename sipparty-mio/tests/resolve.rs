//! RFC 3263 through the mio driver: the core asks, the driver answers with
//! the system resolver (`getaddrinfo`; `localhost` comes from the hosts
//! file, never from outside DNS).

use sipparty_mio::parties::NoMediaSimpleCallsParty;
use sipparty_mio::{CallPolicy, DialogState, InviteOptions, Party, Transport};

mod support;
use support::{hang_up, WAIT};

fn party(aor: &str) -> Party {
    let p = NoMediaSimpleCallsParty::new(aor).unwrap().into_party();
    p.listen_on("127.0.0.1:0".parse().unwrap()).unwrap();
    p.set_call_policy(CallPolicy::AutoAnswer).unwrap();
    p
}

#[test]
fn rfc3263_s4_2_localhost_with_a_port_is_located_by_the_system_resolver() {
    let bob = party("bob@example.test");
    let alice = party("alice@example.test");
    let port = bob.local_addr(Transport::Udp).unwrap().port();
    // A name with a port: A/AAAA only (section 4.2), answered on a helper
    // thread from the hosts file.
    let dialog = alice
        .invite(
            &format!("sip:bob@localhost:{port}"),
            InviteOptions::default(),
        )
        .unwrap();
    assert!(
        dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT),
        "{:?} {:?}",
        dialog.state(),
        dialog.last_error()
    );
    let incoming = bob
        .next_incoming(Some(WAIT))
        .unwrap()
        .expect("bob saw the call");
    assert_eq!(incoming.source(), alice.local_addr(Transport::Udp).unwrap());
    // A second request to the same name reaches the same place.
    let options = alice.options(&format!("sip:bob@localhost:{port}")).unwrap();
    assert_eq!(options.code, 200);
    hang_up(&dialog);
}
