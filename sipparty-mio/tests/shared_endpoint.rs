//! A hundred parties with default settings share one socket, and requests
//! reach the party whose address of record matches. Its own test binary:
//! it uses the process-wide default endpoint.

use std::time::Duration;

use sipparty_mio::parties::NoMediaSimpleCallsParty;
use sipparty_mio::{DialogState, InviteOptions, Party, Transport};

/// Open file descriptors of this process (sockets, the poll instance...).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn a_hundred_parties_on_one_transport_each_get_their_own_requests() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    // The first party binds the shared endpoint: a socket, the poll
    // instance and its waker.
    let first = NoMediaSimpleCallsParty::new("user0@example.com").unwrap();
    first.listen().unwrap();
    let endpoint = first.endpoint().unwrap();
    let before = open_fds();
    let mut parties: Vec<Party> = vec![first.into_party()];
    for i in 1..100 {
        let p = NoMediaSimpleCallsParty::new(&format!("user{i}@example.com")).unwrap();
        p.listen().unwrap();
        parties.push(p.into_party());
    }
    assert_eq!(open_fds(), before, "no socket opened for parties 1..100");
    assert!(parties
        .iter()
        .all(|p| p.endpoint().unwrap().same_as(&endpoint)));
    assert_eq!(endpoint.party_count().unwrap(), 100);
    let sip = endpoint.local_addr(Transport::Udp).unwrap();

    // A caller on an endpoint of its own calls a few of them by AOR through
    // the shared socket: each call reaches exactly the party it names.
    let caller = NoMediaSimpleCallsParty::new("caller@example.net").unwrap();
    caller.listen_on("127.0.0.1:0".parse().unwrap()).unwrap();
    for n in [37usize, 0, 99, 5] {
        let d = caller
            .invite(
                &format!("user{n}@example.com"),
                InviteOptions::default().proxy(&sip.to_string()),
            )
            .unwrap();
        assert!(
            d.wait_for_state_condition_timeout(
                |s| s == DialogState::InDialog,
                Duration::from_secs(10)
            ),
            "call to user{n}: {:?}",
            d.last_error()
        );
        let got = parties[n]
            .next_incoming(Some(Duration::from_secs(5)))
            .unwrap()
            .expect("the named party got the call");
        assert!(
            got.to().contains(&format!("user{n}@example.com")),
            "{}",
            got.to()
        );
        for (i, p) in parties.iter().enumerate() {
            if i != n {
                assert!(
                    p.next_incoming(Some(Duration::ZERO)).unwrap().is_none(),
                    "user{i} got user{n}'s call"
                );
            }
        }
        d.terminate().unwrap();
        assert_eq!(
            d.wait_for_state_condition(|s| s.is_final()),
            DialogState::Terminated
        );
    }
}
