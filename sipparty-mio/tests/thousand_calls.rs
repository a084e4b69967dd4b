//! A thousand concurrent calls through one driver: all established, all
//! held at once, all hung up, nothing left behind.

use std::time::Duration;

use sipparty_mio::parties::NoMediaSimpleCallsParty;
use sipparty_mio::{DialogState, Endpoint, InviteOptions, Transport};

#[test]
fn a_thousand_concurrent_calls_through_one_driver() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    // Caller and callee on one endpoint (one driver thread, one socket):
    // every message of both sides goes through the same loop.
    let ep = Endpoint::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let alice = NoMediaSimpleCallsParty::new("alice@atlanta.com").unwrap();
    let bob = NoMediaSimpleCallsParty::new("bob@biloxi.com").unwrap();
    alice.attach(&ep).unwrap();
    bob.attach(&ep).unwrap();
    let proxy = ep.local_addr(Transport::Udp).unwrap().to_string();

    let dialogs: Vec<_> = (0..1000)
        .map(|_| {
            alice
                .invite("bob@biloxi.com", InviteOptions::default().proxy(&proxy))
                .unwrap()
        })
        .collect();
    let limit = Duration::from_secs(30);
    for d in &dialogs {
        assert!(
            d.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, limit),
            "{:?} {:?}",
            d.state(),
            d.last_error()
        );
    }
    // Both sides of all thousand calls are alive at once.
    assert_eq!(ep.dialog_count().unwrap(), 2000);
    for d in &dialogs {
        d.terminate().unwrap();
    }
    for d in &dialogs {
        assert_eq!(
            d.wait_for_state_condition(|s| s.is_final()),
            DialogState::Terminated,
            "{:?}",
            d.last_error()
        );
    }
    // The callee's dialogs end when the BYE is answered.
    let mut left = usize::MAX;
    for _ in 0..200 {
        left = ep.dialog_count().unwrap();
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(left, 0);
}
