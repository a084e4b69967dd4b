//! Call flows over real loopback sockets (127.0.0.1 and ::1), each party on
//! an endpoint of its own: UDP, TCP and TLS; answer, reject, cancel,
//! hold/resume, both directions, OPTIONS, bad traffic.

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use sipparty_mio::parties::{NoMediaSimpleCallsParty, SingleRtpSessionSimpleParty};
use sipparty_mio::{
    CallPolicy, Dialog, DialogState, Endpoint, EndpointConfig, InviteOptions, Party, TlsConfig,
    Transport,
};

mod support;
use support::{answered_call, any, eventually, hang_up, init_logs, media_party, uri, WAIT};

fn established_call_then_hangup(alice: &Party, bob: &Party, target: &str) {
    let dialog = alice.invite(target, InviteOptions::default()).unwrap();
    let incoming = bob
        .next_incoming(Some(WAIT))
        .unwrap()
        .expect("bob saw the call");
    assert!(
        incoming.from().contains(alice.aor()),
        "From {}",
        incoming.from()
    );
    assert!(incoming.needs_decision());
    // Ringing until bob decides.
    assert!(dialog.wait_for_state_condition_timeout(|s| s == DialogState::Early, WAIT));
    let bob_dialog = incoming.accept().unwrap();
    assert!(
        dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT),
        "call not established: {:?} {:?}",
        dialog.state(),
        dialog.last_error()
    );
    assert!(bob_dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT));
    dialog.terminate().unwrap();
    assert_eq!(
        dialog.wait_for_state_condition(|s| s.is_final()),
        DialogState::Terminated,
        "{:?}",
        dialog.last_error()
    );
    assert_eq!(
        bob_dialog.wait_for_state_condition(|s| s.is_final()),
        DialogState::Terminated
    );
    assert!(dialog.last_error().is_none());
}

#[test]
fn rfc3261_basic_call_over_udp_ipv4_opens_and_closes_media_sockets() {
    init_logs();
    let alice = media_party("alice@atlanta.com", "127.0.0.1");
    let bob = media_party("bob@biloxi.com", "127.0.0.1");
    let dialog = alice
        .invite(&uri("bob", &bob, Transport::Udp), InviteOptions::default())
        .unwrap();
    assert!(dialog.is_outgoing());
    assert!(
        dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT),
        "{:?}",
        dialog.last_error()
    );
    eventually("negotiated media", || dialog.media().is_some());
    let media = dialog.media().unwrap();
    assert!(media.send && media.recv);
    assert!(
        media.codec == "PCMU" || media.codec == "PCMA",
        "{}",
        media.codec
    );
    // The driver bound the RTP address the SDP advertised: it is taken.
    assert!(
        UdpSocket::bind(media.local_rtp).is_err(),
        "RTP socket {} should be open",
        media.local_rtp
    );
    hang_up(&dialog);
    // Closed again once the call is over.
    eventually("media socket closed", || {
        UdpSocket::bind(media.local_rtp).is_ok()
    });
}

#[test]
fn rfc3261_basic_call_over_udp_ipv6() {
    init_logs();
    let alice = media_party("alice@atlanta.com", "[::1]");
    let bob = media_party("bob@biloxi.com", "[::1]");
    bob.set_call_policy(CallPolicy::AskApplication).unwrap();
    established_call_then_hangup(&alice, &bob, &uri("bob", &bob, Transport::Udp));
}

/// Alice and Bob on loopback UDP, Bob answering by `policy`, and Alice's
/// call to Bob, placed.
fn alice_calls_bob(policy: CallPolicy) -> (Party, Party, Dialog) {
    init_logs();
    let alice = media_party("alice@atlanta.com", "127.0.0.1");
    let bob = media_party("bob@biloxi.com", "127.0.0.1");
    bob.set_call_policy(policy).unwrap();
    let dialog = alice
        .invite(&uri("bob", &bob, Transport::Udp), InviteOptions::default())
        .unwrap();
    (alice, bob, dialog)
}

#[test]
fn calls_in_both_directions_between_the_same_parties() {
    init_logs();
    let alice = media_party("alice@atlanta.com", "127.0.0.1");
    let bob = media_party("bob@biloxi.com", "127.0.0.1");
    alice.set_call_policy(CallPolicy::AskApplication).unwrap();
    bob.set_call_policy(CallPolicy::AskApplication).unwrap();
    established_call_then_hangup(&alice, &bob, &uri("bob", &bob, Transport::Udp));
    established_call_then_hangup(&bob, &alice, &uri("alice", &alice, Transport::Udp));
}

#[test]
fn rfc3261_21_4_busy_callee_rejects_with_486() {
    let (_alice, _bob, dialog) = alice_calls_bob(CallPolicy::Reject { code: 486 });
    assert_eq!(
        dialog.wait_for_state_condition(|s| s.is_final()),
        DialogState::Error
    );
    assert_eq!(dialog.last_error().unwrap().to_string(), "486 Busy Here");
}

#[test]
fn application_rejects_an_incoming_call_with_603() {
    let (_alice, bob, dialog) = alice_calls_bob(CallPolicy::AskApplication);
    let incoming = bob.next_incoming(Some(WAIT)).unwrap().unwrap();
    assert!(incoming.needs_decision());
    incoming.reject(603).unwrap();
    assert_eq!(
        dialog.wait_for_state_condition(|s| s.is_final()),
        DialogState::Error
    );
    assert!(dialog.last_error().unwrap().to_string().starts_with("603"));
}

#[test]
fn rfc3261_9_cancel_a_ringing_call() {
    let (_alice, bob, dialog) = alice_calls_bob(CallPolicy::AskApplication);
    let incoming = bob.next_incoming(Some(WAIT)).unwrap().unwrap();
    // Ringing (180 from the AskApplication policy) creates the early dialog.
    assert!(dialog.wait_for_state_condition_timeout(|s| s == DialogState::Early, WAIT));
    eventually("180 reported", || {
        dialog.last_progress().map(|p| p.0) == Some(180)
    });
    dialog.terminate().unwrap();
    let end = dialog.wait_for_state_condition(|s| s.is_final());
    assert!(end.is_final());
    // The callee's side of the call ends too (487 to its INVITE).
    assert!(incoming
        .dialog()
        .wait_for_state_condition_timeout(|s| s.is_final(), WAIT));
    assert!(incoming.dialog().state().is_final());
}

#[test]
fn rfc3264_8_4_hold_and_resume_change_the_callee_media_direction() {
    init_logs();
    let alice = media_party("alice@atlanta.com", "127.0.0.1");
    let bob = media_party("bob@biloxi.com", "127.0.0.1");
    let (dialog, bob_dialog) = answered_call(&alice, &bob, &uri("bob", &bob, Transport::Udp));
    eventually("bob's media", || bob_dialog.media().is_some_and(|m| m.send));
    dialog.hold().unwrap();
    // sendonly offer: bob answers recvonly, so bob stops sending.
    eventually("bob on hold", || {
        bob_dialog.media().is_some_and(|m| !m.send && m.recv)
    });
    eventually("alice holding", || {
        dialog.media().is_some_and(|m| m.send && !m.recv)
    });
    dialog.resume().unwrap();
    eventually("bob resumed", || {
        bob_dialog.media().is_some_and(|m| m.send && m.recv)
    });
    assert_eq!(dialog.state(), DialogState::InDialog);
    hang_up(&dialog);
}

#[test]
fn options_are_answered_with_allow() {
    init_logs();
    let alice = media_party("alice@atlanta.com", "127.0.0.1");
    let bob = media_party("bob@biloxi.com", "127.0.0.1");
    let r = alice.options(&uri("bob", &bob, Transport::Udp)).unwrap();
    assert_eq!(r.code, 200, "{r:?}");
    assert!(r.allow.iter().any(|m| m == "INVITE"), "{r:?}");
}

#[test]
fn unparseable_datagrams_do_not_stop_the_endpoint() {
    init_logs();
    let alice = media_party("alice@atlanta.com", "127.0.0.1");
    let bob = media_party("bob@biloxi.com", "127.0.0.1");
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = bob.local_addr(Transport::Udp).unwrap();
    for garbage in [
        &b"\x00\x01\x02"[..],
        b"INVITE nonsense\r\n\r\n",
        &[0xff; 1500][..],
        b"",
    ] {
        junk.send_to(garbage, to).unwrap();
    }
    established_after_junk(&alice, &bob);
}

fn established_after_junk(alice: &Party, bob: &Party) {
    let dialog = alice
        .invite(&uri("bob", bob, Transport::Udp), InviteOptions::default())
        .unwrap();
    assert!(dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT));
    hang_up(&dialog);
}

fn stream_party(aor: &str, ip: &str, tls: Option<TlsConfig>) -> Party {
    let p = SingleRtpSessionSimpleParty::new(aor).unwrap().into_party();
    let mut cfg = EndpointConfig::udp(any(ip)).with_tcp(any(ip));
    if let Some(t) = tls {
        cfg = cfg.with_tls(any(ip), t);
    }
    p.listen_with(cfg).unwrap();
    p
}

#[test]
fn rfc3261_18_call_over_tcp_both_directions() {
    init_logs();
    let alice = stream_party("alice@atlanta.com", "127.0.0.1", None);
    let bob = stream_party("bob@biloxi.com", "127.0.0.1", None);
    alice.set_call_policy(CallPolicy::AskApplication).unwrap();
    bob.set_call_policy(CallPolicy::AskApplication).unwrap();
    established_call_then_hangup(&alice, &bob, &uri("bob", &bob, Transport::Tcp));
    established_call_then_hangup(&bob, &alice, &uri("alice", &alice, Transport::Tcp));
}

#[test]
fn rfc3261_18_call_over_tcp_ipv6() {
    init_logs();
    let alice = stream_party("alice@atlanta.com", "[::1]", None);
    let bob = stream_party("bob@biloxi.com", "[::1]", None);
    bob.set_call_policy(CallPolicy::AskApplication).unwrap();
    established_call_then_hangup(&alice, &bob, &uri("bob", &bob, Transport::Tcp));
}

#[test]
fn tcp_garbage_and_keepalive_pings_do_not_disturb_the_endpoint() {
    init_logs();
    let alice = stream_party("alice@atlanta.com", "127.0.0.1", None);
    let bob = stream_party("bob@biloxi.com", "127.0.0.1", None);
    let to = bob.local_addr(Transport::Tcp).unwrap();
    // RFC 5626 s.4.4.1: a double-CRLF ping is answered with a CRLF pong.
    let mut ping = TcpStream::connect(to).unwrap();
    ping.write_all(b"\r\n\r\n").unwrap();
    ping.set_read_timeout(Some(WAIT)).unwrap();
    let mut pong = [0u8; 2];
    std::io::Read::read_exact(&mut ping, &mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
    // Garbage on another connection: it is closed, nothing else is.
    let mut junk = TcpStream::connect(to).unwrap();
    junk.write_all(b"\x00\x01garbage that is no SIP\r\n\r\n")
        .unwrap();
    junk.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    let closed = matches!(std::io::Read::read(&mut junk, &mut buf), Ok(0) | Err(_));
    assert!(closed, "the garbage connection is closed");
    established_call_then_hangup_auto(&alice, &uri("bob", &bob, Transport::Tcp));
}

fn established_call_then_hangup_auto(alice: &Party, target: &str) {
    let dialog = alice.invite(target, InviteOptions::default()).unwrap();
    assert!(
        dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT),
        "{:?}",
        dialog.last_error()
    );
    hang_up(&dialog);
}

/// A certificate for 127.0.0.1 and ::1 made for this test run.
fn test_tls() -> TlsConfig {
    let cert = rcgen::generate_simple_self_signed(vec![
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "localhost".to_string(),
    ])
    .unwrap();
    let der = cert.cert.der().to_vec();
    TlsConfig::with_certificate(vec![der.clone()], cert.key_pair.serialize_der(), &[der]).unwrap()
}

#[test]
fn rfc3261_26_2_call_over_tls_with_a_certificate_made_at_test_time() {
    init_logs();
    let tls = test_tls();
    let alice = stream_party("alice@atlanta.com", "127.0.0.1", Some(tls.clone()));
    let bob = stream_party("bob@biloxi.com", "127.0.0.1", Some(tls));
    bob.set_call_policy(CallPolicy::AskApplication).unwrap();
    established_call_then_hangup(&alice, &bob, &uri("bob", &bob, Transport::Tls));
}

#[test]
fn tls_to_a_peer_with_an_untrusted_certificate_fails_the_call() {
    init_logs();
    let alice = stream_party("alice@atlanta.com", "127.0.0.1", Some(test_tls()));
    let bob = stream_party("bob@biloxi.com", "127.0.0.1", Some(test_tls()));
    let dialog = alice
        .invite(&uri("bob", &bob, Transport::Tls), InviteOptions::default())
        .unwrap();
    assert_eq!(
        dialog.wait_for_state_condition(|s| s.is_final()),
        DialogState::Error
    );
    assert!(dialog
        .last_error()
        .unwrap()
        .to_string()
        .contains("transport error"));
}

#[test]
fn calls_to_a_closed_port_fail_and_shared_endpoints_serve_several_parties() {
    init_logs();
    // Two parties on one endpoint bound beforehand, calling each other.
    let ep = Endpoint::bind(any("127.0.0.1")).unwrap();
    let carol = NoMediaSimpleCallsParty::new("carol@chicago.com").unwrap();
    let dave = NoMediaSimpleCallsParty::new("dave@denver.com").unwrap();
    carol.attach(&ep).unwrap();
    dave.attach(&ep).unwrap();
    assert_eq!(ep.party_count().unwrap(), 2);
    let port = ep.local_addr(Transport::Udp).unwrap().port();
    let d = carol
        .invite(
            "sip:dave@denver.com",
            InviteOptions::default().proxy(&format!("127.0.0.1:{port}")),
        )
        .unwrap();
    assert!(d.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT));
    let incoming = dave.next_incoming(Some(WAIT)).unwrap().unwrap();
    assert!(incoming.from().contains("carol@chicago.com"));
    assert!(carol
        .next_incoming(Some(Duration::from_millis(50)))
        .unwrap()
        .is_none());
    d.terminate().unwrap();
    assert_eq!(
        d.wait_for_state_condition(|s| s.is_final()),
        DialogState::Terminated
    );

    // TCP to a port nobody listens on: connection refused, transport error
    // (RFC 3261 s.8.1.3.1), at once rather than after Timer B.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let started = Instant::now();
    let d = carol
        .invite(
            &format!("sip:nobody@{dead};transport=tcp"),
            InviteOptions::default(),
        )
        .unwrap();
    assert_eq!(
        d.wait_for_state_condition(|s| s.is_final()),
        DialogState::Error
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(d
        .last_error()
        .unwrap()
        .to_string()
        .contains("transport error"));
}

#[test]
fn rfc5626_4_4_1_keepalive_ping_on_our_connections_and_idle_close_of_others() {
    init_logs();
    use std::io::Read;
    // A scripted SIP server: answers alice's OPTIONS, then stays silent.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    let alice = SingleRtpSessionSimpleParty::new("alice@atlanta.com")
        .unwrap()
        .into_party();
    let mut cfg = EndpointConfig::udp(any("127.0.0.1")).with_tcp(any("127.0.0.1"));
    cfg.keepalive_interval = Some(Duration::from_millis(500));
    cfg.idle_timeout = Duration::from_secs(60);
    alice.listen_with(cfg).unwrap();
    let a2 = alice.clone();
    let target = format!("sip:bob@{server_addr};transport=tcp");
    let options = std::thread::spawn(move || a2.options(&target).unwrap());
    let (mut conn, _) = server.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).unwrap();
    let req = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(req.starts_with("OPTIONS "), "{req}");
    let mut resp = String::from("SIP/2.0 200 OK\r\n");
    for line in req.split("\r\n") {
        let l = line.to_ascii_lowercase();
        if ["via:", "from:", "to:", "call-id:", "cseq:"]
            .iter()
            .any(|h| l.starts_with(h))
        {
            resp += line;
            resp += "\r\n";
        }
    }
    resp += "Content-Length: 0\r\n\r\n";
    conn.write_all(resp.as_bytes()).unwrap();
    assert_eq!(options.join().unwrap().code, 200);
    // Silence: alice, the client of this flow, pings with a double CRLF.
    let mut ping = [0u8; 4];
    conn.read_exact(&mut ping).unwrap();
    assert_eq!(&ping, b"\r\n\r\n");

    // A connection to bob nobody uses is closed once idle.
    let bob = SingleRtpSessionSimpleParty::new("bob@biloxi.com")
        .unwrap()
        .into_party();
    let mut cfg = EndpointConfig::udp(any("127.0.0.1")).with_tcp(any("127.0.0.1"));
    cfg.idle_timeout = Duration::from_millis(500);
    bob.listen_with(cfg).unwrap();
    let mut idle = TcpStream::connect(bob.local_addr(Transport::Tcp).unwrap()).unwrap();
    idle.set_read_timeout(Some(WAIT)).unwrap();
    let started = Instant::now();
    assert!(matches!(idle.read(&mut buf), Ok(0)), "closed by bob");
    assert!(started.elapsed() < WAIT);
}

#[test]
fn a_tls_peer_that_never_answers_the_handshake_fails_the_call_by_the_open_limit() {
    init_logs();
    let alice = SingleRtpSessionSimpleParty::new("alice@atlanta.com")
        .unwrap()
        .into_party();
    let mut cfg = EndpointConfig::udp(any("127.0.0.1")).with_tls_client(test_tls());
    // The core's connection table (ConnectionPolicy::open_timeout) gives
    // up on the handshake; 300 ms instead of the default 5 s.
    cfg.open_timeout = Duration::from_millis(300);
    alice.listen_with(cfg).unwrap();
    // A TCP server that says nothing: the kernel completes the connect
    // into the listener's backlog, and nobody ever reads the ClientHello.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let started = Instant::now();
    let dialog = alice
        .invite(&format!("sips:bob@{addr}"), InviteOptions::default())
        .unwrap();
    // Timer B would end the call after 32 s, the mio loop never does by
    // itself: the open limit fails it with a transport error.
    assert!(dialog.wait_for_state_condition_timeout(|s| s.is_final(), WAIT));
    assert_eq!(dialog.state(), DialogState::Error);
    assert_eq!(
        dialog.last_error(),
        Some(sipparty_mio::DialogError::TransportError)
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "failed by the 300 ms open limit: {:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn a_tls_handshake_that_never_comes_is_closed_by_the_open_limit() {
    init_logs();
    let bob = SingleRtpSessionSimpleParty::new("bob@biloxi.com")
        .unwrap()
        .into_party();
    let mut cfg = EndpointConfig::udp(any("127.0.0.1")).with_tls(any("127.0.0.1"), test_tls());
    cfg.open_timeout = Duration::from_millis(300);
    bob.listen_with(cfg).unwrap();
    let started = Instant::now();
    // Connect to the TLS listener and never send a ClientHello.
    let mut s = TcpStream::connect(bob.local_addr(Transport::Tls).unwrap()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 16];
    // The close: end of stream, or a reset; a read timeout is a failure.
    let n = match std::io::Read::read(&mut s, &mut buf) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
        Err(e) => panic!("no close within the read timeout: {e}"),
    };
    assert_eq!(n, 0, "nothing but the close: {:?}", &buf[..n]);
    // The idle timeout is 300 s: a close this soon is the open limit.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed by the 300 ms open limit: {:?}",
        started.elapsed()
    );
}

/// An OPTIONS to `to` from `port` over TCP (the Via names the sender).
fn tcp_options(to: std::net::SocketAddr, from: std::net::SocketAddr, branch: &str) -> String {
    format!(
        "OPTIONS sip:bob@{to};transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/TCP {from};branch=z9hG4bK{branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:carol@chicago.com>;tag=c1\r\n\
To: <sip:bob@biloxi.com>\r\n\
Call-ID: {branch}@chicago.com\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    )
}

/// A connection closed normally (the peer's FIN, or idle) is reported to
/// the core as `Input::StreamClosed`, which releases its framing state; a
/// half message on a closed connection is not glued to what a new
/// connection sends.
#[test]
fn rfc3261_18_3_normal_closes_are_reported_to_the_core() {
    use std::io::Read;
    init_logs();
    let bob = SingleRtpSessionSimpleParty::new("bob@biloxi.com")
        .unwrap()
        .into_party();
    let mut cfg = EndpointConfig::udp(any("127.0.0.1")).with_tcp(any("127.0.0.1"));
    cfg.idle_timeout = Duration::from_millis(300);
    bob.listen_with(cfg).unwrap();
    let ep = bob.endpoint().unwrap();
    let to = bob.local_addr(Transport::Tcp).unwrap();
    assert_eq!(ep.streams_closed().unwrap(), 0);

    // Half a request, then the peer closes.
    let mut half = TcpStream::connect(to).unwrap();
    let from = half.local_addr().unwrap();
    half.write_all(&tcp_options(to, from, "half").as_bytes()[..60])
        .unwrap();
    drop(half);
    eventually("the peer's close reported", || {
        ep.streams_closed().unwrap() == 1
    });

    // A new connection starts clean: its request is answered.
    let mut whole = TcpStream::connect(to).unwrap();
    let from = whole.local_addr().unwrap();
    whole
        .write_all(tcp_options(to, from, "whole").as_bytes())
        .unwrap();
    whole.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 2048];
    let n = whole.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200 "),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    // Left silent, bob closes it when idle: reported too.
    assert!(matches!(whole.read(&mut buf), Ok(0)), "closed by bob");
    eventually("the idle close reported", || {
        ep.streams_closed().unwrap() == 2
    });
}

/// Read frames off a raw connection until `want` of them came, then for a
/// short while more (to catch any duplicate); what came, as strings: `pong`
/// for a keep-alive answer, else the response's branch.
fn frames_from(conn: &mut TcpStream, want: usize) -> Vec<String> {
    use sipparty_core::message::Message;
    use sipparty_core::transport::stream::{Frame, StreamFramer};
    use std::io::Read;
    let mut framer = StreamFramer::new();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        conn.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => framer.push(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
        while let Some(f) = framer.next_frame().unwrap() {
            got.push(match f {
                Frame::Message(m) => {
                    let m = Message::parse(&m).unwrap();
                    assert_eq!(m.status(), Some(200));
                    m.top_via().unwrap().unwrap().branch().unwrap().to_string()
                }
                Frame::Pong => "pong".to_string(),
                other => panic!("unexpected {other:?}"),
            });
            if got.len() == want {
                // Anything more would be a second delivery.
                deadline = Instant::now() + Duration::from_millis(300);
            }
        }
    }
    got
}

/// RFC 3261 section 18.3 with RFC 5626 section 4.4.1: over one connection,
/// a request split across two reads, then two requests and a ping in one
/// read. Each request reaches the core once (one 200 each: a second
/// delivery would make the server transaction send its 200 again, and the
/// capture shows each received message once), and the ping is answered.
#[test]
fn rfc3261_18_3_split_and_batched_stream_messages_are_delivered_once() {
    init_logs();
    let bob = stream_party("bob@biloxi.com", "127.0.0.1", None);
    let ep = bob.endpoint().unwrap();
    let ladder = ep.capture_messages(100).unwrap();
    let to = bob.local_addr(Transport::Tcp).unwrap();
    let mut conn = TcpStream::connect(to).unwrap();
    conn.set_nodelay(true).unwrap();
    let from = conn.local_addr().unwrap();
    let split = tcp_options(to, from, "split");
    conn.write_all(&split.as_bytes()[..70]).unwrap();
    // Long enough for the first half to be read on its own.
    std::thread::sleep(Duration::from_millis(100));
    conn.write_all(&split.as_bytes()[70..]).unwrap();
    assert_eq!(frames_from(&mut conn, 1), ["z9hG4bKsplit"]);
    let batch = tcp_options(to, from, "one") + "\r\n\r\n" + &tcp_options(to, from, "two");
    conn.write_all(batch.as_bytes()).unwrap();
    // The pong is written as the ping is read, the 200s once the core's
    // output is drained: it may come first.
    let mut got = frames_from(&mut conn, 3);
    got.sort();
    assert_eq!(got, ["pong", "z9hG4bKone", "z9hG4bKtwo"]);
    let received: Vec<String> = ladder
        .try_iter()
        .filter(|t| t.direction == sipparty_mio::Direction::Received)
        .map(|t| String::from_utf8(t.bytes).unwrap())
        .collect();
    assert_eq!(
        received,
        [
            split,
            tcp_options(to, from, "one"),
            tcp_options(to, from, "two")
        ]
    );
}

/// RFC 3261 section 18.3: a request without Content-Length cannot be
/// framed on a stream. It is answered 400 (section 21.4.1) from its
/// headers, and then the connection is closed.
#[test]
fn rfc3261_18_3_a_stream_request_without_content_length_gets_400_then_close() {
    use std::io::Read;
    init_logs();
    let bob = stream_party("bob@biloxi.com", "127.0.0.1", None);
    let to = bob.local_addr(Transport::Tcp).unwrap();
    let mut conn = TcpStream::connect(to).unwrap();
    let from = conn.local_addr().unwrap();
    let request = tcp_options(to, from, "nolength").replace("Content-Length: 0\r\n", "");
    conn.write_all(request.as_bytes()).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    // Until bob closes (or resets) the connection.
    let mut buf = [0u8; 2048];
    let end = loop {
        match conn.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    assert!(text.contains("z9hG4bKnolength"), "{text}");
    // Closed by bob, not given up on by our read timeout.
    if let Err(e) = end {
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
            "the connection was not closed: {e}"
        );
    }
}
