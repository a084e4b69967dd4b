//! The blocking mio driver and the async Tokio driver call each other over
//! loopback UDP, with RTP both ways.

use std::time::{Duration, Instant};

use sipparty_mio::parties::SingleRtpSessionSimpleParty;
use sipparty_mio::{DialogState, InviteOptions, Transport};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn mio_party_calls_tokio_party_and_back() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let carol = rt
        .block_on(sipparty_tokio::Party::bind(
            "carol@chicago.com",
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let alice = SingleRtpSessionSimpleParty::new("alice@atlanta.com").unwrap();
    alice.listen_on("127.0.0.1:0".parse().unwrap()).unwrap();

    // mio -> tokio: carol answers by policy.
    let d = alice
        .invite(
            &format!("sip:carol@{}", carol.local_addr()),
            InviteOptions::default(),
        )
        .unwrap();
    assert!(
        d.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT),
        "{:?}",
        d.last_error()
    );
    let end = Instant::now() + WAIT;
    while !(d.media_stats().packets_received >= 5 && d.media_stats().packets_sent >= 5) {
        assert!(Instant::now() < end, "RTP both ways: {:?}", d.media_stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    d.terminate().unwrap();
    assert_eq!(
        d.wait_for_state_condition(|s| s.is_final()),
        DialogState::Terminated
    );

    // tokio -> mio: alice answers by policy.
    let target = format!("sip:alice@{}", alice.local_addr(Transport::Udp).unwrap());
    rt.block_on(async {
        let d = carol
            .invite(&target, sipparty_tokio::InviteOptions::default())
            .await
            .unwrap();
        let s = tokio::time::timeout(WAIT, d.wait_for(|s| s == DialogState::InDialog))
            .await
            .expect("established in time")
            .unwrap();
        assert_eq!(s, DialogState::InDialog);
        d.terminate().await.unwrap();
        let s = tokio::time::timeout(WAIT, d.wait_for(|s| s.is_final()))
            .await
            .expect("ended in time")
            .unwrap();
        assert_eq!(s, DialogState::Terminated, "{:?}", d.last_error());
    });
    let incoming = alice.next_incoming(Some(WAIT)).unwrap().unwrap();
    assert!(incoming.from().contains("carol@chicago.com"));
    assert!(incoming
        .dialog()
        .wait_for_state_condition_timeout(|s| s.is_final(), WAIT));
}
