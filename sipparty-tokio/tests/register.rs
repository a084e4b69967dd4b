//! Registration and MESSAGE through the driver, against a minimal registrar
//! on a loopback UDP socket.

use std::time::Duration;

use sipparty_core::message::{HeaderName, Message, Method};
use sipparty_tokio::{Party, PartyConfig, RegisterOptions, RegistrationState};
use tokio::net::UdpSocket;

/// Answer every REGISTER 200 with the Contact and Expires it asked for;
/// returns the Expires values seen.
async fn registrar(socket: UdpSocket, requests: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 65536];
    while seen.len() < requests {
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        let Ok(req) = Message::parse(&buf[..n]) else {
            continue;
        };
        if req.method() != Some(&Method::Register) {
            continue;
        }
        let expires = req.header(&HeaderName::Expires).unwrap_or("").to_string();
        let mut resp = Message::response_to(&req, 200, Some("registrar1"));
        if let Some(contact) = req.header(&HeaderName::Contact) {
            resp.add_header(HeaderName::Contact, &format!("{contact};expires={expires}"));
        }
        resp.add_header(HeaderName::Expires, &expires);
        socket.send_to(&resp.to_bytes(), from).await.unwrap();
        seen.push(expires);
    }
    seen
}

#[tokio::test]
async fn register_then_unregister() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let registrar_addr = socket.local_addr().unwrap();
    let server = tokio::spawn(registrar(socket, 2));

    let alice = Party::bind(
        PartyConfig::new("alice@example.com").unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let reg = alice
        .register(
            &format!("sip:{registrar_addr}"),
            RegisterOptions::default().expires(120),
        )
        .await
        .unwrap();
    let state = tokio::time::timeout(
        Duration::from_secs(10),
        reg.wait_for(|s| !matches!(s, RegistrationState::Registering)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        state,
        RegistrationState::Registered {
            expires: Duration::from_secs(120)
        }
    );
    reg.unregister().await.unwrap();
    let state = tokio::time::timeout(
        Duration::from_secs(10),
        reg.wait_for(|s| matches!(s, RegistrationState::Unregistered)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(state, RegistrationState::Unregistered);
    let seen = server.await.unwrap();
    assert_eq!(seen, vec!["120".to_string(), "0".to_string()]);
}

#[tokio::test]
async fn message_outside_a_dialog() {
    let bob = Party::bind(
        PartyConfig::new("bob@example.com").unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let alice = Party::bind(
        PartyConfig::new("alice@example.com").unwrap(),
        "[::1]:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut events = bob.events();
    // Different families cannot reach each other: a transport error
    // comes back as 503, and the loop carries on.
    let r = alice
        .message(
            &format!("sip:bob@{}", bob.local_addr()),
            "text/plain",
            b"hi",
        )
        .await
        .unwrap();
    assert_eq!(r.code, 503);
    let carol = Party::bind(
        PartyConfig::new("carol@example.com").unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let r = carol
        .message(
            &format!("sip:bob@{}", bob.local_addr()),
            "text/plain",
            b"hello bob",
        )
        .await
        .unwrap();
    assert_eq!(r.code, 200);
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let sipparty_core::party::Event::MessageReceived { body, .. } =
                events.recv().await.unwrap()
            {
                return body;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got, b"hello bob");
}
