//! Stream transports of the tokio driver over loopback: TLS (RFC 3261
//! section 26.2, with a certificate made at test time), connection reuse
//! for responses (section 18.2.2), CRLF keep-alive (RFC 5626 section
//! 4.4.1), idle closing and the cap on open connections.

use std::time::Duration;

use sipparty_core::message::Message;
use sipparty_core::transport::stream::{Frame, StreamFramer, PING, PONG};
use sipparty_core::transport::tls::server_name;
use sipparty_tokio::{
    CallPolicy, DialogError, DialogState, InviteOptions, Party, PartyBuilder, PartyConfig,
    TlsConfig, Transport,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod support;
use support::{any, certificate, host, init_logs, within};

/// Signalling only: these tests are about transports, not media.
fn builder(aor: &str) -> PartyBuilder {
    init_logs();
    let mut c = PartyConfig::new(aor).unwrap();
    c.policy = CallPolicy::AutoAnswer;
    Party::builder(c)
}

/// A TLS server with `cert` that trusts `cert` as a client.
fn tls_with((cert, key): &(Vec<u8>, Vec<u8>)) -> TlsConfig {
    TlsConfig::with_certificate(vec![cert.clone()], key.clone(), std::slice::from_ref(cert))
        .unwrap()
}

async fn tls_party(aor: &str, ip: &str, tls: TlsConfig) -> Party {
    builder(aor).tls(tls).bind(any(ip)).await.unwrap()
}

async fn stats_until(what: &str, party: &Party, mut done: impl FnMut(usize) -> bool) {
    within(what, async {
        loop {
            if done(party.stats().await.unwrap().connections) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

async fn call_then_callee_hangs_up(alice: &Party, bob: &Party, target: &str) {
    let call = alice
        .invite(target, InviteOptions::default())
        .await
        .unwrap();
    within(
        "caller in dialog",
        call.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", call.last_error()));
    let incoming = within("callee's call", bob.incoming()).await.unwrap();
    assert!(incoming.from.contains("alice@"), "{}", incoming.from);
    within(
        "callee in dialog",
        incoming.dialog.wait_for(|s| s == DialogState::InDialog),
    )
    .await
    .unwrap();
    // The callee's BYE goes to the caller's Contact, over TLS too.
    incoming.dialog.terminate().await.unwrap();
    let end = within("caller sees the BYE", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert_eq!(end, DialogState::Terminated, "{:?}", call.last_error());
}

#[tokio::test]
async fn rfc3261_26_2_sips_call_between_tokio_parties() {
    let cert = certificate();
    let alice = tls_party("alice@atlanta.com", "127.0.0.1", tls_with(&cert)).await;
    let bob = tls_party("bob@biloxi.com", "127.0.0.1", tls_with(&cert)).await;
    let bob_tls = bob
        .local_addr_for(Transport::Tls)
        .expect("bob listens for TLS");
    assert_ne!(
        bob_tls.port(),
        bob.local_addr().port(),
        "TLS has its own port"
    );
    call_then_callee_hangs_up(&alice, &bob, &format!("sips:bob@{}", host(bob_tls))).await;
}

#[tokio::test]
async fn rfc3261_26_2_transport_tls_call_over_ipv6() {
    let cert = certificate();
    let alice = tls_party("alice@atlanta.com", "[::1]", tls_with(&cert)).await;
    let bob = tls_party("bob@biloxi.com", "[::1]", tls_with(&cert)).await;
    let to = format!(
        "sip:bob@{};transport=tls",
        host(bob.local_addr_for(Transport::Tls).unwrap())
    );
    call_then_callee_hangs_up(&alice, &bob, &to).await;
}

#[tokio::test]
async fn rfc3261_18_2_2_tls_responses_reuse_the_connection_of_the_request() {
    let cert = certificate();
    // Alice only connects: she has no TLS listener, so a response could
    // reach her on no other connection than the one her request opened.
    let alice = builder("alice@atlanta.com")
        .tls(TlsConfig::client_trusting(std::slice::from_ref(&cert.0)).unwrap())
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(alice.local_addr_for(Transport::Tls), None);
    let bob = tls_party("bob@biloxi.com", "127.0.0.1", tls_with(&cert)).await;
    let to = format!(
        "sips:bob@{}",
        host(bob.local_addr_for(Transport::Tls).unwrap())
    );
    let reply = within("OPTIONS over TLS", alice.options(&to))
        .await
        .unwrap();
    assert_eq!(reply.code, 200);
    assert!(reply.is_success());
    let reply = within("second OPTIONS", alice.options(&to)).await.unwrap();
    assert_eq!(reply.code, 200);
    assert_eq!(alice.stats().await.unwrap().connections, 1);
    assert_eq!(bob.stats().await.unwrap().connections, 1);
}

#[tokio::test]
async fn tls_to_a_peer_with_an_untrusted_certificate_fails_the_call() {
    let alice = tls_party("alice@atlanta.com", "127.0.0.1", tls_with(&certificate())).await;
    let bob = tls_party("bob@biloxi.com", "127.0.0.1", tls_with(&certificate())).await;
    let to = format!(
        "sips:bob@{}",
        host(bob.local_addr_for(Transport::Tls).unwrap())
    );
    let call = alice.invite(&to, InviteOptions::default()).await.unwrap();
    let end = within("call fails", call.wait_for(|s| s.is_final()))
        .await
        .unwrap();
    assert_eq!(end, DialogState::Error);
    assert_eq!(call.last_error(), Some(DialogError::TransportError));
    stats_until("the failed connection is gone", &alice, |n| n == 0).await;
}

#[tokio::test]
async fn tls_without_a_tls_configuration_is_refused_at_once() {
    let alice = builder("alice@atlanta.com")
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let bob = tls_party("bob@biloxi.com", "127.0.0.1", tls_with(&certificate())).await;
    let to = format!(
        "sips:bob@{}",
        host(bob.local_addr_for(Transport::Tls).unwrap())
    );
    // The core has no TLS address to put in the Via: nothing is sent.
    let err = within("OPTIONS", alice.options(&to)).await.unwrap_err();
    assert!(
        matches!(
            err,
            sipparty_tokio::Error::Party(sipparty_core::party::Error::NoLocalAddress(
                Transport::Tls
            ))
        ),
        "{err}"
    );
    assert_eq!(alice.stats().await.unwrap().connections, 0);
}

/// Read one frame from a raw connection (messages, pings and pongs).
async fn next_frame(s: &mut (impl AsyncRead + Unpin), framer: &mut StreamFramer) -> Option<Frame> {
    loop {
        if let Some(f) = framer.next_frame().unwrap() {
            return Some(f);
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        framer.push(&buf[..n]);
    }
}

/// An OPTIONS over TCP from `local` to `to` with this branch.
fn tcp_options(to: std::net::SocketAddr, local: std::net::SocketAddr, branch: &str) -> String {
    format!(
        "OPTIONS sip:bob@{to} SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@{to}>\r\n\
         From: <sip:raw@{local}>;tag=raw1\r\nCall-ID: {branch}-test\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Frames from a raw connection until `want` came, then for a short while
/// more (to catch a duplicate): `pong`, or the branch of a 200.
async fn frames_from(s: &mut TcpStream, framer: &mut StreamFramer, want: usize) -> Vec<String> {
    let mut got = Vec::new();
    let mut linger = Duration::from_secs(10);
    while let Ok(Some(f)) = tokio::time::timeout(linger, next_frame(s, framer)).await {
        got.push(match f {
            Frame::Message(m) => {
                let m = Message::parse(&m).unwrap();
                assert_eq!(m.status(), Some(200));
                m.top_via().unwrap().unwrap().branch().unwrap().to_string()
            }
            Frame::Pong => "pong".to_string(),
            other => panic!("unexpected {other:?}"),
        });
        if got.len() >= want {
            // Anything more would be a second delivery.
            linger = Duration::from_millis(300);
        }
    }
    got
}

/// RFC 3261 section 18.3 with RFC 5626 section 4.4.1: over one connection,
/// a request split across two reads, then two requests and a ping in one
/// read. Each request reaches the core once (one 200 each: a second
/// delivery would make the server transaction send its 200 again), and the
/// ping is answered.
#[tokio::test]
async fn rfc3261_18_3_split_and_batched_stream_messages_are_delivered_once() {
    let bob = builder("bob@biloxi.com")
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let to = bob.local_addr();
    let mut s = TcpStream::connect(to).await.unwrap();
    s.set_nodelay(true).unwrap();
    let local = s.local_addr().unwrap();
    let mut framer = StreamFramer::new();
    let split = tcp_options(to, local, "split");
    s.write_all(&split.as_bytes()[..70]).await.unwrap();
    // Long enough for the first half to be read on its own.
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(&split.as_bytes()[70..]).await.unwrap();
    assert_eq!(frames_from(&mut s, &mut framer, 1).await, ["z9hG4bKsplit"]);
    let batch = tcp_options(to, local, "one") + "\r\n\r\n" + &tcp_options(to, local, "two");
    s.write_all(batch.as_bytes()).await.unwrap();
    // The pong is queued as the ping is read, the 200s once the core has
    // answered: either may come first.
    let mut got = frames_from(&mut s, &mut framer, 3).await;
    got.sort();
    assert_eq!(got, ["pong", "z9hG4bKone", "z9hG4bKtwo"]);
}

/// RFC 3261 section 18.3: a request without Content-Length cannot be
/// framed on a stream. It is answered 400 (section 21.4.1) from its
/// headers, and then the connection is closed.
#[tokio::test]
async fn rfc3261_18_3_a_stream_request_without_content_length_gets_400_then_close() {
    let bob = builder("bob@biloxi.com")
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let to = bob.local_addr();
    let mut s = TcpStream::connect(to).await.unwrap();
    let local = s.local_addr().unwrap();
    let request = tcp_options(to, local, "nolength").replace("Content-Length: 0\r\n", "");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    // Until bob closes the connection.
    let _ = within("close", s.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    assert!(text.contains("z9hG4bKnolength"), "{text}");
}

/// A ping gets its pong, and the connection stays usable.
async fn ping_pong(s: &mut (impl AsyncRead + AsyncWrite + Unpin)) {
    s.write_all(PING).await.unwrap();
    let mut pong = [0u8; 2];
    within("pong", s.read_exact(&mut pong)).await.unwrap();
    assert_eq!(&pong, PONG);
}

#[tokio::test]
async fn rfc5626_4_4_1_a_ping_is_answered_with_a_pong_over_tcp() {
    let bob = builder("bob@biloxi.com")
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let mut s = TcpStream::connect(bob.local_addr()).await.unwrap();
    ping_pong(&mut s).await;
    ping_pong(&mut s).await;
    // A request on the same connection is answered on it (RFC 3261
    // section 18.2.2), pings before and after notwithstanding.
    let local = s.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:bob@{to} SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bKpingtest1\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@{to}>\r\n\
         From: <sip:raw@{local}>;tag=raw1\r\nCall-ID: keepalive-test\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        to = bob.local_addr(),
    );
    let mut bytes = PING.to_vec();
    bytes.extend_from_slice(options.as_bytes());
    s.write_all(&bytes).await.unwrap();
    let mut framer = StreamFramer::new();
    framer.ping_sent();
    assert_eq!(
        within("pong", next_frame(&mut s, &mut framer)).await,
        Some(Frame::Pong)
    );
    let Some(Frame::Message(reply)) = within("200", next_frame(&mut s, &mut framer)).await else {
        panic!("expected the response on the connection");
    };
    let reply = Message::parse(&reply).unwrap();
    assert_eq!(reply.status(), Some(200));
    assert_eq!(reply.call_id(), Some("keepalive-test"));
    ping_pong(&mut s).await;
}

#[tokio::test]
async fn rfc5626_4_4_1_a_ping_is_answered_with_a_pong_over_tls() {
    let cert = certificate();
    let bob = tls_party("bob@biloxi.com", "127.0.0.1", tls_with(&cert)).await;
    let to = bob.local_addr_for(Transport::Tls).unwrap();
    // A raw TLS client with the same configuration a party would use.
    let client = TlsConfig::client_trusting(std::slice::from_ref(&cert.0)).unwrap();
    let tcp = TcpStream::connect(to).await.unwrap();
    let mut s = within(
        "handshake",
        tokio_rustls::TlsConnector::from(client.client_config().clone())
            .connect(server_name(to), tcp),
    )
    .await
    .unwrap();
    ping_pong(&mut s).await;
    ping_pong(&mut s).await;
}

/// A raw SIP "server": answers the first request on `conn` with 200.
async fn answer_one_request(conn: &mut TcpStream, framer: &mut StreamFramer) {
    let Some(Frame::Message(req)) = within("request", next_frame(conn, framer)).await else {
        panic!("expected a request");
    };
    let req = Message::parse(&req).unwrap();
    let ok = Message::response_to(&req, 200, Some("raw")).to_bytes();
    conn.write_all(&ok).await.unwrap();
}

#[tokio::test]
async fn rfc5626_4_4_1_connections_we_open_are_pinged_and_dropped_without_pong() {
    let alice = builder("alice@atlanta.com")
        .keepalive_interval(Some(Duration::from_millis(200)))
        .pong_timeout(Duration::from_millis(300))
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = format!(
        "sip:raw@{};transport=tcp",
        host(server.local_addr().unwrap())
    );
    let ask = tokio::spawn({
        let alice = alice.clone();
        async move { alice.options(&to).await }
    });
    let (mut conn, _) = within("connection", server.accept()).await.unwrap();
    let mut framer = StreamFramer::new();
    answer_one_request(&mut conn, &mut framer).await;
    let reply = within("OPTIONS", ask).await.unwrap().unwrap();
    assert_eq!(reply.code, 200);
    // Silence: Alice pings; a pong keeps the flow, so she pings again.
    for _ in 0..2 {
        assert_eq!(
            within("ping", next_frame(&mut conn, &mut framer)).await,
            Some(Frame::Ping)
        );
        conn.write_all(PONG).await.unwrap();
    }
    assert_eq!(
        within("third ping", next_frame(&mut conn, &mut framer)).await,
        Some(Frame::Ping)
    );
    // No pong this time: the flow has failed and Alice closes it.
    assert_eq!(
        within("close", next_frame(&mut conn, &mut framer)).await,
        None
    );
    stats_until("alice forgot the connection", &alice, |n| n == 0).await;
}

#[tokio::test]
async fn connections_we_accept_are_not_pinged_but_close_when_idle() {
    let bob = builder("bob@biloxi.com")
        .keepalive_interval(Some(Duration::from_millis(50)))
        .idle_timeout(Duration::from_millis(400))
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let mut s = TcpStream::connect(bob.local_addr()).await.unwrap();
    ping_pong(&mut s).await;
    assert_eq!(bob.stats().await.unwrap().connections, 1);
    // Only the side that opened a flow pings (RFC 5626 section 4.4.1):
    // the first thing Bob does on this connection is close it when idle.
    let mut buf = [0u8; 16];
    let n = within("idle close", s.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0, "nothing but the close: {:?}", &buf[..n]);
    stats_until("bob forgot the connection", &bob, |n| n == 0).await;
}

#[tokio::test]
async fn the_cap_refuses_inbound_connections_and_evicts_for_outbound() {
    let bob = builder("bob@biloxi.com")
        .max_connections(1)
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let mut first = TcpStream::connect(bob.local_addr()).await.unwrap();
    ping_pong(&mut first).await;
    // A second connection is accepted by the kernel and closed by Bob.
    let mut second = TcpStream::connect(bob.local_addr()).await.unwrap();
    let _ = second.write_all(PING).await;
    let mut buf = [0u8; 4];
    let n = within("refused", second.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0, "no pong on a refused connection");
    ping_pong(&mut first).await;
    drop(first);

    // Opening a connection at the cap closes the silent one.
    let alice = builder("alice@atlanta.com")
        .max_connections(1)
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let carol = builder("carol@chicago.com")
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    stats_until("bob's first connection closed", &bob, |n| n == 0).await;
    for p in [&bob, &carol] {
        let to = format!("sip:x@{};transport=tcp", host(p.local_addr()));
        let reply = within("OPTIONS", alice.options(&to)).await.unwrap();
        assert_eq!(reply.code, 200);
        assert_eq!(alice.stats().await.unwrap().connections, 1);
    }
    stats_until("bob saw the eviction", &bob, |n| n == 0).await;
    assert_eq!(carol.stats().await.unwrap().connections, 1);
}

#[tokio::test]
async fn idle_tls_connections_are_closed_and_reopened() {
    let cert = certificate();
    let bind = |aor: &'static str| {
        builder(aor)
            .tls(tls_with(&cert))
            .idle_timeout(Duration::from_millis(300))
            .bind(any("127.0.0.1"))
    };
    let alice = bind("alice@atlanta.com").await.unwrap();
    let bob = bind("bob@biloxi.com").await.unwrap();
    let to = format!(
        "sips:bob@{}",
        host(bob.local_addr_for(Transport::Tls).unwrap())
    );
    let reply = within("OPTIONS", alice.options(&to)).await.unwrap();
    assert_eq!(reply.code, 200);
    stats_until("alice's closed", &alice, |n| n == 0).await;
    stats_until("bob's closed", &bob, |n| n == 0).await;
    let reply = within("OPTIONS again", alice.options(&to)).await.unwrap();
    assert_eq!(reply.code, 200);
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_does_not_hold_a_slot_inbound() {
    // The core's connection table (ConnectionPolicy::open_timeout) closes
    // the connection; 300 ms here instead of the default 5 s.
    let bob = builder("bob@biloxi.com")
        .tls(tls_with(&certificate()))
        .open_timeout(Duration::from_millis(300))
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    // Connect to the TLS listener and never send a ClientHello.
    let mut s = TcpStream::connect(bob.local_addr_for(Transport::Tls).unwrap())
        .await
        .unwrap();
    stats_until("bob took the connection", &bob, |n| n == 1).await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf))
        .await
        .expect("bob gives up on the handshake")
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing but the close: {:?}", &buf[..n]);
    // The idle timeout is 300 s and the read above would wait up to 30 s:
    // a close this soon is the open limit.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed after the 300 ms open limit, not later: {:?}",
        started.elapsed()
    );
    stats_until("bob forgot the connection", &bob, |n| n == 0).await;
}

#[tokio::test]
async fn a_tls_peer_that_never_answers_the_handshake_fails_the_call_before_timer_b() {
    let alice = builder("alice@atlanta.com")
        .tls(tls_with(&certificate()))
        .open_timeout(Duration::from_millis(300))
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    // A TCP server that accepts and then says nothing.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (conn, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(conn);
    });
    let started = std::time::Instant::now();
    let call = alice
        .invite(
            &format!("sips:bob@{}", host(addr)),
            InviteOptions::default(),
        )
        .await
        .unwrap();
    // Timer B would end the call after 32 s; the open limit ends it with a
    // transport error much sooner.
    let end = tokio::time::timeout(Duration::from_secs(20), call.wait_for(|s| s.is_final()))
        .await
        .expect("the call fails before Timer B")
        .unwrap();
    assert_eq!(end, DialogState::Error);
    assert_eq!(call.last_error(), Some(DialogError::TransportError));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "failed by the 300 ms open limit: {:?}",
        started.elapsed()
    );
    assert_eq!(alice.stats().await.unwrap().connections, 0);
    held.abort();
}

async fn closed_until(what: &str, party: &Party, n: u64) {
    within(what, async {
        while party.stats().await.unwrap().streams_closed != n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// A connection closed normally (the peer's FIN, or idle) is reported to
/// the core as `Input::StreamClosed`, which releases its framing state; a
/// half message on a closed connection is not glued to what a new
/// connection sends.
#[tokio::test]
async fn rfc3261_18_3_normal_closes_are_reported_to_the_core() {
    let bob = builder("bob@biloxi.com")
        .idle_timeout(Duration::from_millis(300))
        .bind(any("127.0.0.1"))
        .await
        .unwrap();
    let to = bob.local_addr();
    let options = |from: std::net::SocketAddr, branch: &str| {
        format!(
            "OPTIONS sip:bob@{};transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/TCP {};branch=z9hG4bK{branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:carol@chicago.com>;tag=c1\r\n\
To: <sip:bob@biloxi.com>\r\n\
Call-ID: {branch}@chicago.com\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n",
            host(to),
            host(from)
        )
    };
    assert_eq!(bob.stats().await.unwrap().streams_closed, 0);

    // Half a request, then the peer closes.
    let mut half = TcpStream::connect(to).await.unwrap();
    let from = half.local_addr().unwrap();
    half.write_all(&options(from, "half").as_bytes()[..60])
        .await
        .unwrap();
    drop(half);
    closed_until("the peer's close reported", &bob, 1).await;

    // A new connection starts clean: its request is answered.
    let mut whole = TcpStream::connect(to).await.unwrap();
    let from = whole.local_addr().unwrap();
    whole
        .write_all(options(from, "whole").as_bytes())
        .await
        .unwrap();
    let mut framer = StreamFramer::new();
    let Some(Frame::Message(reply)) = within("reply", next_frame(&mut whole, &mut framer)).await
    else {
        panic!("expected a response");
    };
    assert_eq!(Message::parse(&reply).unwrap().status(), Some(200));

    // Left silent, bob closes it when idle: reported too.
    assert_eq!(
        within("idle close", next_frame(&mut whole, &mut framer)).await,
        None
    );
    closed_until("the idle close reported", &bob, 2).await;
}
