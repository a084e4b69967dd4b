//! Where a response goes when the connection its request came on is gone
//! (RFC 3261 section 18.2.2): over TCP or TLS the response goes back on
//! that connection; if it has closed, the server opens a new connection to
//! the top Via's `received` address (the source's, when the sent-by
//! already was it) at the sent-by port, or the transport's default port.
//! The core cannot open connections: it sends a Transmit to that address,
//! which makes the driver connect. It learns that a connection is gone
//! from `Input::StreamClosed` (before the response) or
//! `Input::TransportError` (the response could not go: it is sent again
//! to the Via's address, and only a second failure fails the
//! transaction).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::Message;
use sipparty_core::party::{CallPolicy, DialogState, Event, Input, Output, Party};
use sipparty_core::transaction::{
    Matched, TransactionConfig, TransactionEvent, TransactionId, TransactionLayer,
};
use sipparty_core::transport::{Transmit, Transport};

/// Our (the server's) TCP address.
fn local() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}

/// The client's connection: an ephemeral port, not its listening one.
fn ephemeral(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An INVITE from Alice over `transport`, with `sent_by` in its Via.
fn invite(transport: &str, sent_by: &str, branch: &str) -> Vec<u8> {
    format!(
        "INVITE sip:bob@127.0.0.1:5070;transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/{transport} {sent_by};branch=z9hG4bK{branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@atlanta.com>;tag=a1\r\n\
To: <sip:bob@127.0.0.1:5070>\r\n\
Call-ID: {branch}@atlanta.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@127.0.0.1:5060;transport=tcp>\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

// ---------------------------------------------------------------------
// The transaction layer alone
// ---------------------------------------------------------------------

/// A layer that got `request` from `source` over `transport`: its server
/// transaction.
fn serving(
    request: &[u8],
    source: SocketAddr,
    transport: Transport,
) -> (TransactionLayer, TransactionId, Message, Instant) {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TransactionConfig {
        trying_delay: Duration::ZERO,
        ..Default::default()
    });
    let Matched::New(id) =
        layer.handle_message(now, Message::parse(request).unwrap(), source, transport)
    else {
        panic!("a new server transaction");
    };
    let request = loop {
        match layer.poll_event() {
            Some(TransactionEvent::Request { request, .. }) => break request,
            Some(_) => {}
            None => panic!("the TU hears of the request"),
        }
    };
    (layer, id, request, now)
}

/// The transmits the layer has queued: (destination, status).
fn transmits(layer: &mut TransactionLayer) -> Vec<(SocketAddr, u16)> {
    std::iter::from_fn(|| layer.poll_transmit())
        .map(|t: Transmit| {
            let m = Message::parse(&t.bytes).unwrap();
            (t.destination, m.status().unwrap())
        })
        .collect()
}

fn events(layer: &mut TransactionLayer) -> Vec<TransactionEvent> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

#[test]
fn rfc3261_18_2_2_failed_response_is_resent_to_the_via_sent_by_port() {
    let source = ephemeral(40001);
    let (mut layer, id, request, now) = serving(
        &invite("TCP", "127.0.0.1:5062", "f1"),
        source,
        Transport::Tcp,
    );
    // On the connection while it works.
    layer
        .send_response(now, id, Message::response_to(&request, 180, Some("b1")))
        .unwrap();
    assert_eq!(transmits(&mut layer), [(source, 100), (source, 180)]);
    // It is gone: the 180 goes again, on a new connection to the Via.
    layer.transport_error(now, source, Transport::Tcp);
    let fallback = ephemeral(5062);
    assert_eq!(transmits(&mut layer), [(fallback, 180)]);
    assert!(layer.contains(id), "the transaction lives on");
    assert!(events(&mut layer).is_empty());
    // Later responses follow, and the 2xx too.
    layer
        .send_response(now, id, Message::response_to(&request, 200, Some("b1")))
        .unwrap();
    assert_eq!(transmits(&mut layer), [(fallback, 200)]);
    // The 2xx cannot go there either: a second failure ends the
    // transaction.
    layer.transport_error(now, fallback, Transport::Tcp);
    assert!(transmits(&mut layer).is_empty());
    assert!(!layer.contains(id));
}

#[test]
fn rfc3261_18_2_2_failed_2xx_is_resent_too() {
    // Over TCP the TU does not retransmit the 2xx: the transaction keeps
    // it so that it can go on a new connection.
    let source = ephemeral(40002);
    let (mut layer, id, request, now) = serving(
        &invite("TCP", "127.0.0.1:5062", "f2"),
        source,
        Transport::Tcp,
    );
    layer
        .send_response(now, id, Message::response_to(&request, 200, Some("b2")))
        .unwrap();
    assert_eq!(transmits(&mut layer), [(source, 100), (source, 200)]);
    layer.transport_error(now, source, Transport::Tcp);
    assert_eq!(transmits(&mut layer), [(ephemeral(5062), 200)]);
}

#[test]
fn rfc3261_18_2_2_closed_connection_sends_later_responses_to_the_received_address() {
    // The sent-by is a name: the Via got `received` (section 18.2.1), and
    // the fallback is that IP at the sent-by port.
    let source = SocketAddr::from(([127, 0, 0, 2], 40003));
    let (mut layer, id, request, now) = serving(
        &invite("TCP", "client.atlanta.example.com:5064", "f3"),
        source,
        Transport::Tcp,
    );
    assert_eq!(transmits(&mut layer), [(source, 100)]);
    layer.connection_closed(now, source, Transport::Tcp);
    // Nothing is resent on a close (nothing was lost)...
    assert!(transmits(&mut layer).is_empty());
    // ...but the next response goes to received:sent-by-port.
    layer
        .send_response(now, id, Message::response_to(&request, 486, Some("b3")))
        .unwrap();
    assert_eq!(
        transmits(&mut layer),
        [(SocketAddr::from(([127, 0, 0, 2], 5064)), 486)]
    );
}

#[test]
fn rfc3261_18_2_2_without_sent_by_port_the_default_port_of_the_transport() {
    for (transport, name, port) in [(Transport::Tcp, "TCP", 5060), (Transport::Tls, "TLS", 5061)] {
        let source = ephemeral(40004);
        let (mut layer, id, request, now) =
            serving(&invite(name, "127.0.0.1", "f4"), source, transport);
        let _ = transmits(&mut layer);
        layer.connection_closed(now, source, transport);
        layer
            .send_response(now, id, Message::response_to(&request, 180, Some("b4")))
            .unwrap();
        assert_eq!(transmits(&mut layer), [(ephemeral(port), 180)], "{name}");
    }
}

#[test]
fn rfc3261_18_2_2_no_fallback_when_the_connection_was_the_via_address() {
    // The client sent from its listening port: nothing else to try, the
    // transaction fails as before (section 17.2.4).
    let source = ephemeral(5062);
    let (mut layer, id, request, now) = serving(
        &invite("TCP", "127.0.0.1:5062", "f5"),
        source,
        Transport::Tcp,
    );
    layer
        .send_response(now, id, Message::response_to(&request, 486, Some("b5")))
        .unwrap();
    let _ = transmits(&mut layer);
    layer.transport_error(now, source, Transport::Tcp);
    assert!(transmits(&mut layer).is_empty());
    assert!(events(&mut layer)
        .iter()
        .any(|e| matches!(e, TransactionEvent::TransportError { id: e } if *e == id)));
}

/// A BYE from Alice over `transport`, with `sent_by` in its Via.
fn bye(transport: &str, sent_by: &str, branch: &str) -> Vec<u8> {
    format!(
        "BYE sip:bob@127.0.0.1:5070;transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/{transport} {sent_by};branch=z9hG4bK{branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@atlanta.com>;tag=a1\r\n\
To: <sip:bob@127.0.0.1:5070>;tag=b1\r\n\
Call-ID: {branch}@atlanta.com\r\n\
CSeq: 2 BYE\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn rfc3261_18_2_2_failed_non_invite_final_response_is_resent_to_the_via() {
    // Over TCP Timer J is zero (section 17.2.2), yet the final response
    // is kept a while: a failed send goes again on a new connection.
    let source = ephemeral(40007);
    let (mut layer, id, request, now) =
        serving(&bye("TCP", "127.0.0.1:5062", "f7"), source, Transport::Tcp);
    layer
        .send_response(now, id, Message::response_to(&request, 200, None))
        .unwrap();
    assert_eq!(transmits(&mut layer), [(source, 200)]);
    layer.transport_error(now, source, Transport::Tcp);
    let fallback = ephemeral(5062);
    assert_eq!(transmits(&mut layer), [(fallback, 200)]);
    assert!(events(&mut layer).is_empty(), "nothing for the TU");
    // A second failure ends it, the TU hearing nothing (it answered).
    layer.transport_error(now, fallback, Transport::Tcp);
    assert!(transmits(&mut layer).is_empty());
    assert!(!layer.contains(id));
    assert!(!events(&mut layer)
        .iter()
        .any(|e| matches!(e, TransactionEvent::TransportError { .. })));
}

#[test]
fn rfc3261_17_2_2_a_non_invite_response_over_tcp_is_kept_for_t4_only() {
    let source = ephemeral(40008);
    let (mut layer, id, request, now) =
        serving(&bye("TCP", "127.0.0.1:5062", "f8"), source, Transport::Tcp);
    layer
        .send_response(now, id, Message::response_to(&request, 200, None))
        .unwrap();
    let _ = transmits(&mut layer);
    let t4 = layer.config().timers.t4;
    assert_eq!(layer.poll_timeout(), Some(now + t4));
    layer.handle_timeout(now + t4);
    assert!(!layer.contains(id));
    // Without a fallback (the connection was from the Via's own port)
    // nothing could resend it: it goes at once, as Timer J says.
    let source = ephemeral(5062);
    let (mut layer, id, request, now) =
        serving(&bye("TCP", "127.0.0.1:5062", "f9"), source, Transport::Tcp);
    layer
        .send_response(now, id, Message::response_to(&request, 200, None))
        .unwrap();
    assert!(!layer.contains(id));
}

#[test]
fn udp_responses_have_no_connection_to_lose() {
    let source = ephemeral(40006);
    let (mut layer, id, request, now) = serving(
        &invite("UDP", "127.0.0.1:5062", "f6"),
        source,
        Transport::Udp,
    );
    let _ = transmits(&mut layer);
    layer.connection_closed(now, source, Transport::Udp);
    layer
        .send_response(now, id, Message::response_to(&request, 180, Some("b6")))
        .unwrap();
    // UDP answers the sent-by port (no rport), unchanged by the close.
    assert_eq!(transmits(&mut layer), [(ephemeral(5062), 180)]);
}

// ---------------------------------------------------------------------
// A Party taking a call over TCP
// ---------------------------------------------------------------------

/// Bob, asked about each incoming call, with a TCP address; the INVITE
/// arrived on a connection from `source`.
fn bob_with_invite(source: SocketAddr, branch: &str) -> (Party, Instant) {
    let mut bob = Party::no_media_simple_calls("bob@127.0.0.1:5070").unwrap();
    bob.set_policy(CallPolicy::AskApplication);
    bob.set_local_address(Transport::Tcp, local());
    let now = Instant::now();
    bob.handle_input(Input::StreamData {
        now,
        transport: Transport::Tcp,
        source,
        destination: local(),
        bytes: &invite("TCP", "127.0.0.1:5060", branch),
    });
    (bob, now)
}

/// What Bob sent over TCP: (destination, status), and his incoming calls.
fn drain(bob: &mut Party) -> (Vec<(SocketAddr, u16)>, Vec<sipparty_core::party::DialogId>) {
    let (mut sent, mut calls) = (Vec::new(), Vec::new());
    loop {
        match bob.poll_output() {
            Output::Transmit(t) => {
                assert_eq!(t.transport, Transport::Tcp);
                let m = Message::parse(&t.bytes).unwrap();
                sent.push((t.destination, m.status().unwrap_or(0)));
            }
            Output::Event(Event::IncomingCall { id, .. }) => calls.push(id),
            Output::Event(_) | Output::MediaTransmit(_) => {}
            _ => return (sent, calls),
        }
    }
}

#[test]
fn rfc3261_18_2_2_party_answers_a_call_whose_connection_closed_on_a_new_one() {
    let source = ephemeral(40010);
    let (mut bob, now) = bob_with_invite(source, "p1");
    let (sent, calls) = drain(&mut bob);
    // Ringing on the connection.
    assert!(sent.iter().all(|(d, _)| *d == source), "{sent:?}");
    assert!(sent.iter().any(|(_, s)| *s == 180));
    // Alice's side closes it; Bob answers later.
    bob.handle_input(Input::StreamClosed {
        now,
        transport: Transport::Tcp,
        source,
    });
    bob.incoming(calls[0]).unwrap().accept(now).unwrap();
    let (sent, _) = drain(&mut bob);
    assert_eq!(sent, [(ephemeral(5060), 200)]);
    assert_eq!(bob.dialog(calls[0]).unwrap().state(), DialogState::InDialog);
}

#[test]
fn rfc3261_18_2_2_party_resends_a_2xx_that_could_not_go() {
    let source = ephemeral(40011);
    let (mut bob, now) = bob_with_invite(source, "p2");
    let (_, calls) = drain(&mut bob);
    bob.incoming(calls[0]).unwrap().accept(now).unwrap();
    assert_eq!(drain(&mut bob).0, [(source, 200)]);
    // The driver found the connection gone when it wrote the 200.
    bob.handle_input(Input::TransportError {
        now,
        transport: Transport::Tcp,
        destination: source,
    });
    assert_eq!(drain(&mut bob).0, [(ephemeral(5060), 200)]);
    assert_eq!(bob.dialog(calls[0]).unwrap().state(), DialogState::InDialog);
}

#[test]
fn rfc3261_18_2_2_endpoint_passes_a_closed_connection_to_its_parties() {
    use sipparty_core::party::{Endpoint, EndpointOutput};
    let mut endpoint = Endpoint::new();
    let mut bob = Party::no_media_simple_calls("bob@127.0.0.1:5070").unwrap();
    bob.set_policy(CallPolicy::AskApplication);
    let key = endpoint.add(bob);
    endpoint.set_local_address(Transport::Tcp, local());
    let source = ephemeral(40012);
    let now = Instant::now();
    endpoint.handle_input(Input::StreamData {
        now,
        transport: Transport::Tcp,
        source,
        destination: local(),
        bytes: &invite("TCP", "127.0.0.1:5060", "e1"),
    });
    let drain = |endpoint: &mut Endpoint| {
        let (mut sent, mut calls) = (Vec::new(), Vec::new());
        loop {
            match endpoint.poll_output() {
                EndpointOutput::Transmit(t) => {
                    let m = Message::parse(&t.bytes).unwrap();
                    sent.push((t.destination, m.status().unwrap_or(0)));
                }
                EndpointOutput::Event {
                    event: Event::IncomingCall { id, .. },
                    ..
                } => calls.push(id),
                EndpointOutput::Event { .. } | EndpointOutput::MediaTransmit(_) => {}
                _ => return (sent, calls),
            }
        }
    };
    let (sent, calls) = drain(&mut endpoint);
    assert!(sent.iter().all(|(d, _)| *d == source), "{sent:?}");
    endpoint.handle_input(Input::StreamClosed {
        now,
        transport: Transport::Tcp,
        source,
    });
    let bob = endpoint.party_mut(key).unwrap();
    bob.incoming(calls[0]).unwrap().accept(now).unwrap();
    assert_eq!(drain(&mut endpoint).0, [(ephemeral(5060), 200)]);
}

#[test]
fn rfc3263_5_a_via_sent_by_name_is_located_when_the_received_address_fails_too() {
    use sipparty_core::transport::locate::{Answer, DnsRecord};
    use sipparty_core::transport::resolve::{Record, RecordType};
    // Alice's Via names her host; she sent from an ephemeral port, so the
    // layer stamped received=127.0.0.1.
    let source = ephemeral(40013);
    let mut bob = Party::no_media_simple_calls("bob@127.0.0.1:5070").unwrap();
    bob.set_policy(CallPolicy::AskApplication);
    bob.set_local_address(Transport::Tcp, local());
    let now = Instant::now();
    bob.handle_input(Input::StreamData {
        now,
        transport: Transport::Tcp,
        source,
        destination: local(),
        bytes: &invite("TCP", "alice.example.test:5062", "p3"),
    });
    let (_, calls) = drain(&mut bob);
    bob.incoming(calls[0]).unwrap().accept(now).unwrap();
    assert_eq!(drain(&mut bob).0, [(source, 200)]);
    // Section 18.2.2: the connection is gone; the 200 goes to the
    // received address at the sent-by port...
    bob.handle_input(Input::TransportError {
        now,
        transport: Transport::Tcp,
        destination: source,
    });
    assert_eq!(drain(&mut bob).0, [(ephemeral(5062), 200)]);
    // ...which refuses too: the sent-by is located (RFC 3263 section 5:
    // a port is given, so its addresses only).
    bob.handle_input(Input::TransportError {
        now,
        transport: Transport::Tcp,
        destination: ephemeral(5062),
    });
    let mut asked = Vec::new();
    loop {
        match bob.poll_output() {
            Output::Event(Event::ResolveRequest { id, query }) => asked.push((id, query)),
            Output::Transmit(t) => panic!("sent {:?} before locating", t.destination),
            Output::Event(_) | Output::MediaTransmit(_) => {}
            _ => break,
        }
    }
    assert_eq!(asked.len(), 1, "{asked:?}");
    let (id, query) = asked.pop().unwrap();
    assert_eq!(query.name, "alice.example.test");
    assert!(matches!(query.rtype, RecordType::A | RecordType::Aaaa));
    let records = [DnsRecord::new(
        Record::A("127.0.0.3".parse().unwrap()),
        Duration::from_secs(60),
    )];
    bob.handle_input(Input::Resolved {
        now,
        id,
        answer: Answer::Records(&records),
    });
    // Any further question (AAAA) has no records; then the 200 goes to
    // the address found, at the sent-by port.
    let sent = loop {
        let (mut sent, mut more) = (Vec::new(), Vec::new());
        loop {
            match bob.poll_output() {
                Output::Event(Event::ResolveRequest { id, .. }) => more.push(id),
                Output::Transmit(t) => {
                    let m = Message::parse(&t.bytes).unwrap();
                    sent.push((t.destination, m.status().unwrap_or(0)));
                }
                Output::Event(_) | Output::MediaTransmit(_) => {}
                _ => break,
            }
        }
        if more.is_empty() {
            break sent;
        }
        assert!(sent.is_empty(), "sent before the lookups ended: {sent:?}");
        for id in more {
            bob.handle_input(Input::Resolved {
                now,
                id,
                answer: Answer::Records(&[]),
            });
        }
    };
    assert_eq!(sent, [("127.0.0.3:5062".parse().unwrap(), 200)]);
    assert_eq!(bob.dialog(calls[0]).unwrap().state(), DialogState::InDialog);
    // A failure there ends the transaction: nothing more is tried.
    bob.handle_input(Input::TransportError {
        now,
        transport: Transport::Tcp,
        destination: "127.0.0.3:5062".parse().unwrap(),
    });
    assert!(drain(&mut bob).0.is_empty());
}
