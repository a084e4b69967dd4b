//! RFC 3263 server location through the driver, with a stub resolver (no
//! outside DNS): SRV ordering, failover on 503 and on a refused
//! connection, and names that do not resolve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sipparty_core::transport::resolve::{Record, RecordType};
use sipparty_tokio::{CallPolicy, DialogError, DialogState, InviteOptions, Party, StaticResolver};

mod support;
use support::{config, ended, hang_up, in_dialog, within};

async fn party(aor: &str, policy: CallPolicy) -> Party {
    support::party(aor, "127.0.0.1", policy).await
}

/// Alice, asking `dns` for her targets.
async fn alice_with(dns: Arc<StaticResolver>) -> Party {
    Party::builder(config("alice@example.test", CallPolicy::AutoAnswer))
        .resolver(dns)
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn localhost() -> Record {
    Record::A("127.0.0.1".parse().unwrap())
}

#[tokio::test]
async fn rfc3263_s4_3_srv_targets_in_priority_order_fail_over_on_503() {
    // Carol, the preferred server, is overloaded; Bob, the backup, answers.
    let carol = party("bob@example.test", CallPolicy::Reject { code: 503 }).await;
    let bob = party("bob@example.test", CallPolicy::AutoAnswer).await;
    let dns = Arc::new(
        StaticResolver::new()
            .with(
                "_sip._udp.example.test",
                RecordType::Srv,
                vec![
                    Record::srv(20, 0, bob.local_addr().port(), "backup.example.test."),
                    Record::srv(10, 0, carol.local_addr().port(), "primary.example.test."),
                ],
            )
            .with("primary.example.test", RecordType::A, vec![localhost()])
            .with("backup.example.test", RecordType::A, vec![localhost()]),
    );
    let alice = alice_with(dns.clone()).await;

    let call = alice
        .invite("sip:bob@example.test", InviteOptions::default())
        .await
        .unwrap();
    in_dialog("call answered by the backup", &call).await;
    // The primary saw the INVITE first and refused it.
    let refused = within("primary's call", carol.incoming()).await.unwrap();
    assert!(refused.from.contains("alice@example.test"));
    let answered = within("backup's call", bob.incoming()).await.unwrap();
    assert!(answered.from.contains("alice@example.test"));

    let asked = dns.asked();
    assert_eq!(asked[0].rtype, RecordType::Naptr);
    assert_eq!(asked[0].name, "example.test");
    assert_eq!(asked[1].name, "_sip._udp.example.test");
    assert!(asked.iter().any(|q| q.name == "primary.example.test"));

    hang_up(&call).await;
}

#[tokio::test]
async fn rfc3263_s4_3_fail_over_when_the_connection_is_refused() {
    let bob = party("bob@example.test", CallPolicy::AutoAnswer).await;
    // A port nobody listens on (bound, then closed).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dns = Arc::new(
        StaticResolver::new()
            .with(
                "example.test",
                RecordType::Naptr,
                vec![Record::naptr(10, 10, "SIP+D2T", "_sip._tcp.example.test")],
            )
            .with(
                "_sip._tcp.example.test",
                RecordType::Srv,
                vec![
                    Record::srv(1, 0, closed, "dead.example.test"),
                    Record::srv(2, 0, bob.local_addr().port(), "alive.example.test"),
                ],
            )
            .with("dead.example.test", RecordType::A, vec![localhost()])
            .with("alive.example.test", RecordType::A, vec![localhost()]),
    );
    let alice = alice_with(dns.clone()).await;
    let call = alice
        .invite(
            "sip:bob@example.test;transport=tcp",
            InviteOptions::default(),
        )
        .await
        .unwrap();
    in_dialog("answered after failover", &call).await;
    // An explicit transport skips NAPTR (RFC 3263 section 4.1).
    assert_eq!(dns.asked()[0].name, "_sip._tcp.example.test");
    hang_up(&call).await;
}

#[tokio::test]
async fn unresolvable_names_fail_the_invite() {
    let alice = alice_with(Arc::new(StaticResolver::new())).await;
    // The core holds the INVITE while it asks; with no records anywhere
    // the call fails, saying which name.
    let call = alice
        .invite("sip:bob@nowhere.test", InviteOptions::default())
        .await
        .unwrap();
    assert_eq!(ended("resolution failure", &call).await, DialogState::Error);
    match call.last_error() {
        Some(DialogError::Unresolvable(why)) => assert!(why.contains("nowhere.test"), "{why}"),
        other => panic!("expected a resolution error, got {other:?}"),
    }
    // A literal address needs no DNS at all.
    let bob = party("bob@example.test", CallPolicy::AutoAnswer).await;
    let addr: SocketAddr = bob.local_addr();
    let call = alice
        .invite(&format!("sip:bob@{addr}"), InviteOptions::default())
        .await
        .unwrap();
    in_dialog("literal call", &call).await;
}

#[tokio::test]
async fn names_that_do_not_resolve_end_the_request_with_a_dns_error_and_no_hang() {
    // `nowhere.test` has no records (NXDOMAIN: the answer SystemResolver
    // gives when DNS denies a name and getaddrinfo cannot find it either);
    // lookups of `broken.test` fail (SERVFAIL, no resolver).
    let dns = Arc::new(StaticResolver::new().failing("broken.test"));
    let alice = alice_with(dns.clone()).await;
    let started = std::time::Instant::now();

    let reply = within(
        "OPTIONS to a missing name",
        alice.options("sip:nowhere.test:5060"),
    )
    .await
    .unwrap();
    assert_eq!(reply.code, 503);
    assert!(reply.reason.contains("nowhere.test"), "{}", reply.reason);
    // "No records" is cached (negative TTL): asked once, not again.
    let asked = dns.asked().len();
    assert!(asked >= 1);
    let again = within("OPTIONS again", alice.options("sip:nowhere.test:5060"))
        .await
        .unwrap();
    assert_eq!(again.code, 503);
    assert_eq!(dns.asked().len(), asked, "negative answer cached");

    // A failed lookup ends the call with an error naming the host...
    let call = alice
        .invite("sip:bob@broken.test:5060", InviteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        ended("call to a broken name", &call).await,
        DialogState::Error
    );
    match call.last_error() {
        Some(DialogError::Unresolvable(why)) => assert!(why.contains("broken.test"), "{why}"),
        other => panic!("expected a resolution error, got {other:?}"),
    }
    // ... and is not cached: the next request asks again.
    let before = dns.asked().len();
    let reply = within(
        "OPTIONS to a broken name",
        alice.options("sip:broken.test:5060"),
    )
    .await
    .unwrap();
    assert_eq!(reply.code, 503);
    assert!(dns.asked().len() > before, "failures are asked again");

    // No waiting for the core's 10 s lookup timeout nor Timer F (32 s).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
