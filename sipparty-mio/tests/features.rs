//! Media, DTMF, incoming-call callbacks and registration over loopback.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use sipparty_mio::parties::SingleRtpSessionSimpleParty;
use sipparty_mio::{
    CallPolicy, DialogState, InviteOptions, Party, RegisterOptions, RegistrationState, Transport,
};

mod support;
use support::{answered_call, eventually, hang_up, media_party, uri, WAIT};

fn party(aor: &str) -> Party {
    media_party(aor, "127.0.0.1")
}

fn target(user: &str, p: &Party) -> String {
    uri(user, p, Transport::Udp)
}

#[test]
fn rfc3550_rtp_flows_both_ways_through_the_media_sockets() {
    let alice = party("alice@atlanta.com");
    let bob = party("bob@biloxi.com");
    let (dialog, bob_dialog) = answered_call(&alice, &bob, &target("bob", &bob));
    // 20 ms packets: a few hundred milliseconds give several each way.
    eventually("RTP both ways", || {
        let (a, b) = (dialog.media_stats(), bob_dialog.media_stats());
        a.packets_sent >= 5
            && a.packets_received >= 5
            && b.packets_sent >= 5
            && b.packets_received >= 5
    });
    // The core's RTP statistics agree that packets arrived.
    let rtp = dialog.with_media(|m| m.stats()).unwrap();
    assert!(rtp.is_some(), "alice has a running media session");
    hang_up(&dialog);
    // Nothing more is sent once the call is over.
    let sent = dialog.media_stats().packets_sent;
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(dialog.media_stats().packets_sent, sent);
}

#[test]
fn rfc4733_dtmf_reaches_the_callee() {
    let alice = party("alice@atlanta.com");
    let bob = party("bob@biloxi.com");
    let (dialog, bob_dialog) = answered_call(&alice, &bob, &target("bob", &bob));
    eventually("media on both sides", || {
        dialog.media().is_some() && bob_dialog.media().is_some()
    });
    dialog.send_dtmf("12#").unwrap();
    eventually("three digits", || bob_dialog.dtmf_received().len() >= 3);
    assert_eq!(bob_dialog.dtmf_received(), vec!['1', '2', '#']);
    dialog.terminate().unwrap();
}

#[test]
fn incoming_calls_reach_a_callback_that_may_block() {
    let alice = party("alice@atlanta.com");
    let bob = party("bob@biloxi.com");
    bob.set_call_policy(CallPolicy::AskApplication).unwrap();
    let (tx, rx) = mpsc::channel();
    bob.on_incoming_call(move |call| {
        let from = call.from().to_string();
        // Blocking calls are fine here: the callback has its own thread.
        let dialog = call.accept().unwrap();
        let state = dialog.wait_for_state_condition(|s| s == DialogState::InDialog);
        tx.send((from, state)).unwrap();
    })
    .unwrap();
    let dialog = alice
        .invite(&target("bob", &bob), InviteOptions::default())
        .unwrap();
    let (from, state) = rx.recv_timeout(WAIT).unwrap();
    assert!(from.contains("alice@atlanta.com"));
    assert_eq!(state, DialogState::InDialog);
    assert!(dialog.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT));
    hang_up(&dialog);
}

/// A registrar that grants every binding for 60 s: just enough of RFC 3261
/// section 10.3 to answer REGISTER over a plain socket.
fn fake_registrar() -> (SocketAddr, mpsc::Receiver<String>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let mut resp = String::from("SIP/2.0 200 OK\r\n");
            let mut expires = "60".to_string();
            for line in req.split("\r\n") {
                let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
                if let Some(v) = line.strip_prefix("Expires: ") {
                    expires = v.trim().to_string();
                }
                match name.as_str() {
                    "via" | "from" | "call-id" | "cseq" => resp += &format!("{line}\r\n"),
                    "to" => resp += &format!("{line};tag=reg1\r\n"),
                    "contact" if !line.contains("expires=") => {
                        resp += &format!("{line};expires={}\r\n", "EXPIRES")
                    }
                    "contact" => resp += &format!("{line}\r\n"),
                    _ => {}
                }
            }
            let resp = resp.replace("EXPIRES", &expires) + "Content-Length: 0\r\n\r\n";
            socket.send_to(resp.as_bytes(), from).unwrap();
            if tx.send(req).is_err() {
                break;
            }
        }
    });
    (addr, rx)
}

#[test]
fn rfc3261_10_register_and_unregister() {
    let alice = party("alice@atlanta.com");
    let (registrar, requests) = fake_registrar();
    let reg = alice
        .register(
            &registrar.to_string(),
            RegisterOptions::default().expires(60),
        )
        .unwrap();
    let registered = |s: &RegistrationState| matches!(s, RegistrationState::Registered { .. });
    assert!(
        reg.wait_for_state_condition_timeout(registered, WAIT),
        "{:?}",
        reg.state()
    );
    match reg.state() {
        RegistrationState::Registered { expires } => assert_eq!(expires, Duration::from_secs(60)),
        other => panic!("{other:?}"),
    }
    let first = requests.recv_timeout(WAIT).unwrap();
    assert!(first.starts_with("REGISTER sip:"), "{first}");
    assert!(
        first.contains(&alice.local_addr(Transport::Udp).unwrap().to_string()),
        "Contact"
    );
    reg.unregister().unwrap();
    assert!(reg.wait_for_state_condition_timeout(|s| *s == RegistrationState::Unregistered, WAIT));
    let last = requests.recv_timeout(WAIT).unwrap();
    assert!(
        last.contains("Expires: 0") || last.contains("expires=0"),
        "{last}"
    );
}

#[test]
fn captured_messages_show_the_whole_call_ladder() {
    use sipparty_mio::{Direction, Endpoint};
    let ep = Endpoint::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let alice = SingleRtpSessionSimpleParty::new("alice@atlanta.com").unwrap();
    let bob = SingleRtpSessionSimpleParty::new("bob@biloxi.com").unwrap();
    alice.attach(&ep).unwrap();
    bob.attach(&ep).unwrap();
    let ladder = ep.capture_messages(1000).unwrap();
    let proxy = ep.local_addr(Transport::Udp).unwrap().to_string();
    let d = alice
        .invite("bob@biloxi.com", InviteOptions::default().proxy(&proxy))
        .unwrap();
    assert!(d.wait_for_state_condition_timeout(|s| s == DialogState::InDialog, WAIT));
    d.terminate().unwrap();
    assert_eq!(
        d.wait_for_state_condition(|s| s.is_final()),
        DialogState::Terminated
    );
    let mut seen = Vec::new();
    while let Ok(t) = ladder.recv_timeout(Duration::from_millis(200)) {
        let line = String::from_utf8_lossy(&t.bytes)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        let cseq = String::from_utf8_lossy(&t.bytes)
            .lines()
            .find(|l| l.starts_with("CSeq:"))
            .unwrap_or("")
            .to_string();
        seen.push((t.direction, line, cseq));
    }
    let has = |dir: Direction, start: &str, cseq: &str| {
        seen.iter()
            .any(|(d, l, c)| *d == dir && l.starts_with(start) && c.ends_with(cseq))
    };
    // The shared socket sends every message to itself: each is seen going
    // out and coming in.
    for dir in [Direction::Sent, Direction::Received] {
        assert!(has(dir, "INVITE ", "INVITE"), "{seen:#?}");
        assert!(has(dir, "SIP/2.0 200", "INVITE"), "{seen:#?}");
        assert!(has(dir, "ACK ", "ACK"), "{seen:#?}");
        assert!(has(dir, "BYE ", "BYE"), "{seen:#?}");
        assert!(has(dir, "SIP/2.0 200", "BYE"), "{seen:#?}");
    }
}
