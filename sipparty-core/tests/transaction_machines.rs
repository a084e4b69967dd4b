//! Every transition of the four RFC 3261 section 17 machines (with RFC 6026
//! Accepted), with the timer values checked on a virtual clock: the layer
//! is driven directly, jumping from one `poll_timeout` to the next.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::{HeaderName, Message, Method};
use sipparty_core::transaction::{
    Matched, TransactionConfig, TransactionError, TransactionEvent, TransactionId, TransactionLayer,
};
use sipparty_core::{Transmit, Transport};

const UDP: Transport = Transport::Udp;
const TCP: Transport = Transport::Tcp;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn peer() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}

fn msg(text: &str) -> Message {
    Message::parse(text.replace('\n', "\r\n").as_bytes()).expect("test message parses")
}

/// A request as the peer at 127.0.0.1:5070 sends it.
fn request(method: &str, branch: &str) -> Message {
    msg(&format!(
        "{method} sip:bob@127.0.0.1:5060 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\n\
         Max-Forwards: 70\n\
         From: \"Alice\" <sip:alice@127.0.0.1>;tag=1928301774\n\
         To: <sip:bob@127.0.0.1>\n\
         Call-ID: a84b4c76e66710@127.0.0.1\n\
         CSeq: 314159 {method}\n\
         Content-Length: 0\n\n"
    ))
}

/// A response to `request` as the peer sends it back.
fn response(request: &Message, status: u16) -> Message {
    Message::response_to(request, status, Some("tag-b"))
}

/// `m` with `from` replaced by `to` in its text (LF line ends).
fn edited(m: &Message, from: &str, to: &str) -> Message {
    msg(&String::from_utf8_lossy(&m.to_bytes())
        .replace('\r', "")
        .replace(from, to))
}

/// The ACK the peer sends for a non-2xx final response to `invite`: the
/// same branch (RFC 3261 section 17.1.1.3).
fn ack_for(invite: &Message) -> Message {
    edited(
        &edited(invite, "INVITE sip", "ACK sip"),
        "314159 INVITE",
        "314159 ACK",
    )
}

fn layer() -> TransactionLayer {
    TransactionLayer::new(TransactionConfig::default())
}

/// A layer with the default configuration, and the instant the test
/// starts at.
fn setup() -> (Instant, TransactionLayer) {
    (Instant::now(), layer())
}

/// Send `request` to the peer in a new client transaction: exactly one
/// copy goes out at once.
fn start_client(
    l: &mut TransactionLayer,
    now: Instant,
    request: &Message,
    transport: Transport,
) -> TransactionId {
    let id = l
        .send_request(now, request.clone(), peer(), transport)
        .unwrap();
    let out = transmits(l);
    assert_eq!(out.len(), 1, "one copy sent at once");
    assert_eq!(out[0].destination, peer());
    id
}

fn transmits(layer: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| layer.poll_transmit()).collect()
}

fn events(layer: &mut TransactionLayer) -> Vec<TransactionEvent> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

fn first_line(t: &Transmit) -> String {
    String::from_utf8_lossy(&t.bytes)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// Things that happened, with their time relative to the start.
type Timed<T> = Vec<(Duration, T)>;

/// Run the layer's timers up to `until`, returning every transmit and
/// event with its time relative to `start`.
fn run(
    layer: &mut TransactionLayer,
    start: Instant,
    until: Duration,
) -> (Timed<Transmit>, Timed<TransactionEvent>) {
    let mut sent = Vec::new();
    let mut evs = Vec::new();
    while let Some(at) = layer.poll_timeout() {
        if at > start + until {
            break;
        }
        layer.handle_timeout(at);
        sent.extend(transmits(layer).into_iter().map(|t| (at - start, t)));
        evs.extend(events(layer).into_iter().map(|e| (at - start, e)));
    }
    (sent, evs)
}

fn times(sent: &[(Duration, Transmit)]) -> Vec<Duration> {
    sent.iter().map(|(t, _)| *t).collect()
}

/// The status code of the response a transmit carries.
fn status(t: &Transmit) -> Option<u16> {
    Message::parse(&t.bytes).unwrap().status()
}

/// Retransmission times of a timer that doubles from T1 = 0.5 s and stays
/// at T2 = 4 s, until 64*T1 (Timers E and G).
const DOUBLING_UP_TO_T2: [f64; 10] = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5];

/// What a transaction whose timeout timer fires at `at` reports.
fn timed_out(at: Duration, id: TransactionId) -> Timed<TransactionEvent> {
    vec![
        (at, TransactionEvent::Timeout { id }),
        (at, TransactionEvent::Terminated { id }),
    ]
}

/// The one event of a transaction that passed `response` up.
fn response_event(id: TransactionId, response: &Message) -> Vec<TransactionEvent> {
    vec![TransactionEvent::Response {
        id,
        response: response.clone(),
    }]
}

// ---------------------------------------------------------------- INVITE client

#[test]
fn rfc3261_17_1_1_2_unanswered_invite_over_udp() {
    let (start, mut l) = setup();
    let id = start_client(&mut l, start, &request("INVITE", "z9hG4bKinv1"), UDP);
    let (sent, evs) = run(&mut l, start, secs(100.0));
    let mut all = vec![Duration::ZERO];
    all.extend(times(&sent));
    assert_eq!(
        all,
        [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5].map(secs).to_vec(),
        "Timer A doubles from T1; seven copies in all"
    );
    assert!(sent
        .iter()
        .all(|(_, t)| first_line(t).starts_with("INVITE ")));
    assert_eq!(evs, timed_out(secs(32.0), id), "Timer B = 64*T1");
    assert!(l.is_empty());
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn rfc3261_17_1_1_2_invite_over_tcp_is_not_retransmitted() {
    let (start, mut l) = setup();
    let id = start_client(&mut l, start, &request("INVITE", "z9hG4bKinv2"), TCP);
    let (sent, evs) = run(&mut l, start, secs(100.0));
    assert!(sent.is_empty());
    assert_eq!(evs[0], (secs(32.0), TransactionEvent::Timeout { id }));
}

#[test]
fn rfc3261_17_1_1_2_provisional_stops_retransmission_and_timer_b() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKinv3");
    let id = start_client(&mut l, start, &invite, UDP);
    let ringing = response(&invite, 180);
    assert_eq!(
        l.handle_message(start + ms(100), ringing.clone(), peer(), UDP),
        Matched::Existing(id)
    );
    assert_eq!(events(&mut l), response_event(id, &ringing));
    assert_eq!(
        l.poll_timeout(),
        None,
        "Proceeding arms no timer (figure 5)"
    );
    // A final response much later still completes it.
    let busy = response(&invite, 486);
    l.handle_message(start + secs(60.0), busy, peer(), UDP);
    assert!(matches!(
        events(&mut l)[..],
        [TransactionEvent::Response { .. }]
    ));
}

#[test]
fn rfc3261_17_1_1_3_failure_response_is_acked_by_the_transaction() {
    let (start, mut l) = setup();
    let invite = edited(
        &request("INVITE", "z9hG4bKinv4"),
        "Max-Forwards: 70\n",
        "Max-Forwards: 70\nRoute: <sip:proxy@127.0.0.1;lr>\n",
    );
    let id = start_client(&mut l, start, &invite, UDP);
    let busy = response(&invite, 486);
    l.handle_message(start + ms(50), busy.clone(), peer(), UDP);
    let acks = transmits(&mut l);
    assert_eq!(acks.len(), 1);
    let ack = Message::parse(&acks[0].bytes).unwrap();
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), invite.request_uri());
    assert_eq!(
        ack.top_via().unwrap().unwrap().branch(),
        Some("z9hG4bKinv4"),
        "same branch as the INVITE"
    );
    assert_eq!(ack.vias().count(), 1);
    assert_eq!(
        ack.header(&HeaderName::To),
        busy.header(&HeaderName::To),
        "To from the response"
    );
    assert_eq!(
        ack.header(&HeaderName::From),
        invite.header(&HeaderName::From)
    );
    assert_eq!(ack.call_id(), invite.call_id());
    let cseq = ack.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, Method::Ack));
    assert_eq!(
        ack.header(&HeaderName::Route),
        Some("<sip:proxy@127.0.0.1;lr>")
    );
    assert_eq!(acks[0].destination, peer());
    assert_eq!(events(&mut l), response_event(id, &busy));

    // A retransmitted 486 is ACKed again and not passed up.
    l.handle_message(start + secs(1.0), busy.clone(), peer(), UDP);
    assert_eq!(transmits(&mut l).len(), 1);
    assert!(events(&mut l).is_empty());

    // Timer D: 32 s over UDP.
    assert_eq!(l.poll_timeout(), Some(start + ms(50) + secs(32.0)));
    let (_, evs) = run(&mut l, start, secs(100.0));
    assert_eq!(
        evs,
        vec![(ms(50) + secs(32.0), TransactionEvent::Terminated { id })]
    );
}

#[test]
fn rfc3261_17_1_1_2_timer_d_is_zero_over_tcp() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKinv5");
    let id = start_client(&mut l, start, &invite, TCP);
    l.handle_message(start, response(&invite, 603), peer(), TCP);
    assert_eq!(transmits(&mut l).len(), 1, "the ACK");
    let evs = events(&mut l);
    assert!(matches!(evs[0], TransactionEvent::Response { .. }));
    assert_eq!(evs[1], TransactionEvent::Terminated { id });
    assert!(l.is_empty());
}

#[test]
fn rfc6026_8_4_accepted_passes_2xx_retransmissions_until_timer_m() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKinv6");
    let id = start_client(&mut l, start, &invite, UDP);
    let ok = response(&invite, 200);
    l.handle_message(start + ms(10), ok.clone(), peer(), UDP);
    assert!(
        transmits(&mut l).is_empty(),
        "the TU, not the transaction, ACKs a 2xx"
    );
    assert_eq!(events(&mut l), response_event(id, &ok));
    // Retransmission of the 2xx: passed up again, so the TU re-ACKs.
    assert_eq!(
        l.handle_message(start + ms(510), ok.clone(), peer(), UDP),
        Matched::Existing(id)
    );
    assert_eq!(events(&mut l), response_event(id, &ok));
    // Non-2xx in Accepted is absorbed.
    l.handle_message(start + ms(600), response(&invite, 486), peer(), UDP);
    assert!(events(&mut l).is_empty());
    let (_, evs) = run(&mut l, start, secs(100.0));
    assert_eq!(
        evs,
        vec![(ms(10) + secs(32.0), TransactionEvent::Terminated { id })],
        "Timer M = 64*T1"
    );
    // After Timer M a 2xx is a stray the TU still wants.
    assert_eq!(
        l.handle_message(start + secs(40.0), ok.clone(), peer(), UDP),
        Matched::Stray
    );
    assert!(
        matches!(&events(&mut l)[..], [TransactionEvent::Stray { message, .. }] if *message == ok)
    );
    // But a stray failure response is discarded (section 17.1.3).
    assert_eq!(
        l.handle_message(start + secs(40.0), response(&invite, 486), peer(), UDP),
        Matched::Dropped
    );
}

#[test]
fn rfc3261_17_1_4_transport_error_is_reported() {
    let (start, mut l) = setup();
    let a = l
        .send_request(start, request("INVITE", "z9hG4bKte1"), peer(), UDP)
        .unwrap();
    let b = l
        .send_request(start, request("OPTIONS", "z9hG4bKte2"), peer(), UDP)
        .unwrap();
    let other: SocketAddr = "127.0.0.1:5099".parse().unwrap();
    let c = l
        .send_request(start, request("OPTIONS", "z9hG4bKte3"), other, UDP)
        .unwrap();
    l.transport_error(start + ms(5), peer(), UDP);
    assert_eq!(
        events(&mut l),
        vec![
            TransactionEvent::TransportError { id: a },
            TransactionEvent::Terminated { id: a },
            TransactionEvent::TransportError { id: b },
            TransactionEvent::Terminated { id: b },
        ]
    );
    assert!(l.contains(c));
    assert_eq!(l.len(), 1);
}

// ------------------------------------------------------------ non-INVITE client

#[test]
fn rfc3261_17_1_2_2_non_invite_retransmissions_cap_at_t2() {
    let (start, mut l) = setup();
    let id = start_client(&mut l, start, &request("OPTIONS", "z9hG4bKopt1"), UDP);
    let (sent, evs) = run(&mut l, start, secs(100.0));
    assert_eq!(
        times(&sent),
        DOUBLING_UP_TO_T2.map(secs).to_vec(),
        "Timer E doubles from T1 up to T2 = 4 s"
    );
    assert_eq!(evs, timed_out(secs(32.0), id), "Timer F = 64*T1");
}

#[test]
fn rfc3261_17_1_2_2_proceeding_retransmits_every_t2() {
    let (start, mut l) = setup();
    let bye = request("BYE", "z9hG4bKbye1");
    let id = start_client(&mut l, start, &bye, UDP);
    l.handle_message(start + ms(200), response(&bye, 100), peer(), UDP);
    assert!(matches!(&events(&mut l)[..], [TransactionEvent::Response { id: i, .. }] if *i == id));
    let (sent, evs) = run(&mut l, start, secs(100.0));
    assert_eq!(
        times(&sent),
        [0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]
            .map(secs)
            .to_vec()
    );
    assert_eq!(evs[0], (secs(32.0), TransactionEvent::Timeout { id }));
}

#[test]
fn rfc3261_17_1_2_2_completed_absorbs_retransmissions_for_timer_k() {
    let (start, mut l) = setup();
    let bye = request("BYE", "z9hG4bKbye2");
    let id = start_client(&mut l, start, &bye, UDP);
    let ok = response(&bye, 200);
    l.handle_message(start + secs(1.0), ok.clone(), peer(), UDP);
    assert_eq!(events(&mut l), response_event(id, &ok));
    l.handle_message(start + secs(2.0), ok.clone(), peer(), UDP);
    assert!(events(&mut l).is_empty(), "retransmitted final absorbed");
    assert!(transmits(&mut l).is_empty());
    let (sent, evs) = run(&mut l, start, secs(100.0));
    assert!(sent.is_empty(), "no retransmission after Completed");
    assert_eq!(
        evs,
        vec![(secs(6.0), TransactionEvent::Terminated { id })],
        "Timer K = T4"
    );

    // Over TCP, K is zero.
    let id = l
        .send_request(start, request("BYE", "z9hG4bKbye3"), peer(), TCP)
        .unwrap();
    l.handle_message(
        start,
        response(&request("BYE", "z9hG4bKbye3"), 200),
        peer(),
        TCP,
    );
    assert_eq!(
        events(&mut l).last(),
        Some(&TransactionEvent::Terminated { id })
    );
    assert!(l.is_empty());
}

#[test]
fn rfc3261_17_1_3_responses_match_branch_and_cseq_method() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKsame");
    let cancel_req = request("CANCEL", "z9hG4bKsame");
    let inv = l.send_request(start, invite.clone(), peer(), UDP).unwrap();
    let can = l
        .send_request(start, cancel_req.clone(), peer(), UDP)
        .unwrap();
    assert_ne!(inv, can);
    assert_eq!(
        l.handle_message(start, response(&cancel_req, 200), peer(), UDP),
        Matched::Existing(can)
    );
    assert_eq!(
        l.handle_message(start, response(&invite, 487), peer(), UDP),
        Matched::Existing(inv)
    );
    let unknown = request("OPTIONS", "z9hG4bKnone");
    assert_eq!(
        l.handle_message(start, response(&unknown, 200), peer(), UDP),
        Matched::Dropped
    );
    // Section 18.1.2: two Vias in a response means it is not for us.
    let mut two = response(&request("INVITE", "z9hG4bKsame"), 200);
    two.add_header(HeaderName::Via, "SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKx");
    assert_eq!(l.handle_message(start, two, peer(), UDP), Matched::Dropped);
}

#[test]
fn send_request_refuses_what_it_cannot_run() {
    let start = Instant::now();
    let mut l = TransactionLayer::new(TransactionConfig {
        max_transactions: 1,
        ..TransactionConfig::default()
    });
    assert_eq!(
        l.send_request(start, request("ACK", "z9hG4bKa"), peer(), UDP),
        Err(TransactionError::AckNeedsNoTransaction)
    );
    let mut no_branch = request("OPTIONS", "x");
    no_branch.set_header(HeaderName::Via, "SIP/2.0/UDP 127.0.0.1:5070");
    assert_eq!(
        l.send_request(start, no_branch, peer(), UDP),
        Err(TransactionError::NoBranch)
    );
    let inv = request("INVITE", "z9hG4bKa");
    assert_eq!(
        l.send_request(start, response(&inv, 200), peer(), UDP),
        Err(TransactionError::WrongKind)
    );
    l.send_request(start, inv.clone(), peer(), UDP).unwrap();
    assert_eq!(
        l.send_request(start, inv, peer(), UDP),
        Err(TransactionError::Duplicate)
    );
    assert_eq!(
        l.send_request(start, request("OPTIONS", "z9hG4bKb"), peer(), UDP),
        Err(TransactionError::Full)
    );
    assert_eq!(
        TransactionError::Full.to_string(),
        "the transaction table is full"
    );
}

// ---------------------------------------------------------------- INVITE server

fn new_server(
    l: &mut TransactionLayer,
    now: Instant,
    req: Message,
    transport: Transport,
) -> TransactionId {
    let Matched::New(id) = l.handle_message(now, req, peer(), transport) else {
        panic!("expected a new server transaction");
    };
    match &events(l)[..] {
        [TransactionEvent::Request {
            id: i,
            source,
            transport: t,
            ..
        }] => {
            assert_eq!((*i, *source, *t), (id, peer(), transport));
        }
        other => panic!("expected one Request event, got {other:?}"),
    }
    id
}

/// The TU answers `request` in server transaction `id` with `status` at
/// `now`; what the layer sent at once.
fn respond(
    l: &mut TransactionLayer,
    now: Instant,
    id: TransactionId,
    request: &Message,
    status: u16,
) -> Vec<Transmit> {
    l.send_response(now, id, response(request, status)).unwrap();
    transmits(l)
}

#[test]
fn rfc3261_17_2_1_100_trying_after_200_ms_of_tu_silence() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKsrv1");
    let id = new_server(&mut l, start, invite.clone(), UDP);
    assert!(transmits(&mut l).is_empty());
    assert_eq!(l.poll_timeout(), Some(start + ms(200)));
    l.handle_timeout(start + ms(200));
    let out = transmits(&mut l);
    assert_eq!(out.len(), 1);
    assert_eq!(first_line(&out[0]), "SIP/2.0 100 Trying");
    let trying = Message::parse(&out[0].bytes).unwrap();
    assert_eq!(
        trying.to_header().unwrap().unwrap().tag(),
        None,
        "100 carries no To tag"
    );
    assert_eq!(trying.cseq().unwrap().unwrap().seq, 314159);
    // The INVITE retransmitted: the 100 again.
    assert_eq!(
        l.handle_message(start + ms(500), invite.clone(), peer(), UDP),
        Matched::Existing(id)
    );
    assert_eq!(first_line(&transmits(&mut l)[0]), "SIP/2.0 100 Trying");
    assert!(
        events(&mut l).is_empty(),
        "retransmission not passed to the TU"
    );
}

#[test]
fn rfc3261_17_2_1_no_100_when_the_tu_answers_in_time() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKsrv2");
    let id = new_server(&mut l, start, invite.clone(), UDP);
    assert_eq!(
        first_line(&respond(&mut l, start + ms(100), id, &invite, 180)[0]),
        "SIP/2.0 180 Ringing"
    );
    assert_eq!(l.poll_timeout(), None);
    // Retransmitted INVITE gets the latest provisional.
    l.handle_message(start + ms(500), invite, peer(), UDP);
    assert_eq!(first_line(&transmits(&mut l)[0]), "SIP/2.0 180 Ringing");
}

#[test]
fn rfc3261_17_2_1_failure_retransmitted_until_ack_then_confirmed() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKsrv3");
    let id = new_server(&mut l, start, invite.clone(), UDP);
    assert_eq!(respond(&mut l, start + ms(50), id, &invite, 486).len(), 1);
    assert_eq!(
        l.send_response(start + ms(60), id, response(&invite, 500)),
        Err(TransactionError::InvalidState),
        "only one final response"
    );
    // Timer G: T1 doubling up to T2, until the ACK at 10 s.
    let (sent, _) = run(&mut l, start, secs(10.0));
    assert_eq!(times(&sent), [0.55, 1.55, 3.55, 7.55].map(secs).to_vec());
    assert!(sent
        .iter()
        .all(|(_, t)| first_line(t) == "SIP/2.0 486 Busy Here"));
    // An INVITE retransmission gets the final response again.
    l.handle_message(start + secs(10.0), invite.clone(), peer(), UDP);
    assert_eq!(first_line(&transmits(&mut l)[0]), "SIP/2.0 486 Busy Here");
    let ack = ack_for(&invite);
    assert_eq!(
        l.handle_message(start + secs(10.0), ack.clone(), peer(), UDP),
        Matched::Existing(id)
    );
    assert!(
        events(&mut l).is_empty(),
        "the ACK for a failure stays in the transaction"
    );
    // Confirmed: ACKs absorbed, no more G; Timer I = T4.
    l.handle_message(start + secs(11.0), ack, peer(), UDP);
    let (sent, evs) = run(&mut l, start, secs(100.0));
    assert!(sent.is_empty());
    assert_eq!(evs, vec![(secs(15.0), TransactionEvent::Terminated { id })]);
}

#[test]
fn rfc3261_17_2_1_timer_h_without_ack() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKsrv4");
    let id = new_server(&mut l, start, invite.clone(), UDP);
    respond(&mut l, start, id, &invite, 404);
    let (sent, evs) = run(&mut l, start, secs(100.0));
    assert_eq!(times(&sent), DOUBLING_UP_TO_T2.map(secs).to_vec());
    assert_eq!(evs, timed_out(secs(32.0), id));
}

#[test]
fn rfc3261_17_2_1_reliable_transport_no_g_and_zero_i() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKsrv5");
    let id = new_server(&mut l, start, invite.clone(), TCP);
    assert_eq!(respond(&mut l, start, id, &invite, 486).len(), 1);
    assert_eq!(
        l.poll_timeout(),
        Some(start + secs(32.0)),
        "only H is armed"
    );
    let ack = ack_for(&invite);
    l.handle_message(start + ms(20), ack, peer(), TCP);
    assert_eq!(
        events(&mut l),
        vec![TransactionEvent::Terminated { id }],
        "Timer I is zero"
    );
}

#[test]
fn rfc6026_8_7_accepted_absorbs_invites_and_passes_acks() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKsrv6");
    let id = new_server(&mut l, start, invite.clone(), UDP);
    let ok = response(&invite, 200);
    l.send_response(start + ms(10), id, ok.clone()).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    // An INVITE retransmission is absorbed: no new transaction, nothing sent.
    assert_eq!(
        l.handle_message(start + ms(500), invite.clone(), peer(), UDP),
        Matched::Existing(id)
    );
    assert!(transmits(&mut l).is_empty());
    assert!(events(&mut l).is_empty());
    // The TU retransmits its 2xx through the transaction.
    l.send_response(start + ms(510), id, ok.clone()).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    // The ACK for the 2xx has a branch of its own: it reaches the TU.
    let ack = request("ACK", "z9hG4bKack6");
    assert_eq!(
        l.handle_message(start + ms(600), ack.clone(), peer(), UDP),
        Matched::Stray
    );
    assert!(
        matches!(&events(&mut l)[..], [TransactionEvent::Stray { message, .. }] if *message == ack)
    );
    // An ACK that does match (same branch, as some UAs send) goes up too.
    let same_branch_ack = request("ACK", "z9hG4bKsrv6");
    assert_eq!(
        l.handle_message(start + ms(700), same_branch_ack, peer(), UDP),
        Matched::Existing(id)
    );
    assert!(matches!(
        &events(&mut l)[..],
        [TransactionEvent::Stray { .. }]
    ));
    let (_, evs) = run(&mut l, start, secs(100.0));
    assert_eq!(
        evs,
        vec![(ms(10) + secs(32.0), TransactionEvent::Terminated { id })],
        "Timer L = 64*T1"
    );
}

// ------------------------------------------------------------ non-INVITE server

#[test]
fn rfc3261_17_2_2_non_invite_server_absorbs_and_repeats() {
    let (start, mut l) = setup();
    let options = request("OPTIONS", "z9hG4bKsrv7");
    let id = new_server(&mut l, start, options.clone(), UDP);
    // Trying: a retransmission is silently absorbed.
    assert_eq!(
        l.handle_message(start + ms(500), options.clone(), peer(), UDP),
        Matched::Existing(id)
    );
    assert!(transmits(&mut l).is_empty());
    assert!(events(&mut l).is_empty());
    // Proceeding: the provisional is repeated.
    respond(&mut l, start + ms(600), id, &options, 183);
    l.handle_message(start + ms(1500), options.clone(), peer(), UDP);
    assert_eq!(
        first_line(&transmits(&mut l)[0]),
        "SIP/2.0 183 Session Progress"
    );
    // Completed: the final is repeated; Timer J = 64*T1.
    assert_eq!(
        first_line(&respond(&mut l, start + secs(2.0), id, &options, 200)[0]),
        "SIP/2.0 200 OK"
    );
    l.handle_message(start + secs(3.5), options.clone(), peer(), UDP);
    assert_eq!(first_line(&transmits(&mut l)[0]), "SIP/2.0 200 OK");
    assert_eq!(
        l.send_response(start + secs(4.0), id, response(&options, 200)),
        Err(TransactionError::InvalidState)
    );
    let (sent, evs) = run(&mut l, start, secs(100.0));
    assert!(
        sent.is_empty(),
        "a non-INVITE server never retransmits on its own"
    );
    assert_eq!(evs, vec![(secs(34.0), TransactionEvent::Terminated { id })]);
    // After J the same request is new again.
    assert!(matches!(
        l.handle_message(start + secs(35.0), options, peer(), UDP),
        Matched::New(_)
    ));
}

#[test]
fn rfc3261_17_2_2_timer_j_is_zero_over_tcp() {
    let (start, mut l) = setup();
    let options = request("OPTIONS", "z9hG4bKsrv8");
    let id = new_server(&mut l, start, options.clone(), TCP);
    let out = respond(&mut l, start, id, &options, 200);
    assert_eq!(
        (out.len(), out[0].transport, out[0].destination),
        (1, TCP, peer())
    );
    assert_eq!(events(&mut l), vec![TransactionEvent::Terminated { id }]);
    assert!(l.is_empty());
    assert_eq!(
        l.send_response(start, id, response(&options, 200)),
        Err(TransactionError::UnknownTransaction)
    );
}

// ------------------------------------------------------------ matching, CANCEL

#[test]
fn rfc3261_9_2_cancel_matches_its_invite() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKcan1");
    let id = new_server(&mut l, start, invite.clone(), UDP);
    l.send_response(
        start,
        id,
        Message::response_to(&invite, 180, Some("uas-tag")),
    )
    .unwrap();
    transmits(&mut l);
    let cancel = request("CANCEL", "z9hG4bKcan1");
    let Matched::Cancel {
        cancel: cid,
        invite: Some(inv),
    } = l.handle_message(start + ms(300), cancel.clone(), peer(), UDP)
    else {
        panic!("CANCEL should match the INVITE")
    };
    assert_eq!(inv, id);
    assert_ne!(cid, id);
    let out = transmits(&mut l);
    let ok = Message::parse(&out[0].bytes).unwrap();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.cseq().unwrap().unwrap().method, Method::Cancel);
    assert_eq!(
        ok.to_header().unwrap().unwrap().tag(),
        Some("uas-tag"),
        "same To tag as the INVITE's responses"
    );
    assert_eq!(
        events(&mut l),
        vec![TransactionEvent::Cancelled {
            id,
            cancel: cancel.clone()
        }]
    );
    // A retransmitted CANCEL is absorbed by its own transaction: 200 again, no event.
    l.handle_message(start + ms(800), cancel.clone(), peer(), UDP);
    assert_eq!(status(&transmits(&mut l)[0]), Some(200));
    assert!(events(&mut l).is_empty());
    // The TU ends the INVITE with 487.
    l.send_response(
        start + ms(900),
        id,
        Message::response_to(&invite, 487, Some("uas-tag")),
    )
    .unwrap();
    assert_eq!(
        first_line(&transmits(&mut l)[0]),
        "SIP/2.0 487 Request Terminated"
    );

    // A CANCEL for an answered INVITE gets 200 but no event; for nothing, 481.
    let late = request("CANCEL", "z9hG4bKcan1");
    let mut l2 = layer();
    let id2 = new_server(&mut l2, start, invite.clone(), UDP);
    respond(&mut l2, start, id2, &invite, 486);
    assert!(matches!(
        l2.handle_message(start, late, peer(), UDP),
        Matched::Cancel {
            invite: Some(_),
            ..
        }
    ));
    assert_eq!(status(&transmits(&mut l2)[0]), Some(200));
    assert!(events(&mut l2).is_empty());
    let stray = request("CANCEL", "z9hG4bKnothing");
    assert!(matches!(
        l2.handle_message(start, stray, peer(), UDP),
        Matched::Cancel { invite: None, .. }
    ));
    assert_eq!(status(&transmits(&mut l2)[0]), Some(481));
}

#[test]
fn rfc3261_9_1_cancel_waits_for_a_provisional_response() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKcc1");
    let inv = start_client(&mut l, start, &invite, UDP);
    let can = l.cancel(start + ms(100), inv).unwrap();
    assert!(
        transmits(&mut l).is_empty(),
        "no CANCEL before a provisional response"
    );
    assert!(!l.contains(can));
    assert_eq!(l.cancel(start, inv), Err(TransactionError::Duplicate));
    l.handle_message(start + ms(300), response(&invite, 180), peer(), UDP);
    let out = transmits(&mut l);
    assert_eq!(out.len(), 1);
    let cancel = Message::parse(&out[0].bytes).unwrap();
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(
        cancel.top_via().unwrap().unwrap().branch(),
        Some("z9hG4bKcc1")
    );
    assert_eq!(cancel.cseq().unwrap().unwrap().seq, 314159);
    assert_eq!(
        cancel.header(&HeaderName::To),
        invite.header(&HeaderName::To)
    );
    assert!(l.contains(can));
    assert_eq!(
        l.handle_message(start + ms(400), response(&cancel, 200), peer(), UDP),
        Matched::Existing(can)
    );
    // Once the INVITE is finally answered there is nothing to cancel.
    let inv2 = l
        .send_request(start, request("INVITE", "z9hG4bKcc2"), peer(), UDP)
        .unwrap();
    let can2 = l.cancel(start, inv2).unwrap();
    l.handle_message(
        start + ms(50),
        response(&request("INVITE", "z9hG4bKcc2"), 200),
        peer(),
        UDP,
    );
    assert!(events(&mut l).contains(&TransactionEvent::Terminated { id: can2 }));
    assert_eq!(l.cancel(start, inv2), Err(TransactionError::InvalidState));
}

#[test]
fn rfc3261_17_2_3_rfc2543_requests_match_without_magic_cookie() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "2543branch");
    let id = new_server(&mut l, start, invite.clone(), UDP);
    assert_eq!(
        l.handle_message(start + ms(500), invite.clone(), peer(), UDP),
        Matched::Existing(id)
    );
    l.send_response(start, id, response(&invite, 486)).unwrap();
    let ack = edited(
        &ack_for(&invite),
        "To: <sip:bob@127.0.0.1>",
        "To: <sip:bob@127.0.0.1>;tag=tag-b",
    );
    assert_eq!(
        l.handle_message(start + ms(600), ack, peer(), UDP),
        Matched::Existing(id)
    );
    assert!(events(&mut l).is_empty());
}

#[test]
fn rfc3261_17_2_3_sent_by_and_method_keep_transactions_apart() {
    let (start, mut l) = setup();
    let a = new_server(&mut l, start, request("OPTIONS", "z9hG4bKdup"), UDP);
    let other_host = edited(
        &request("OPTIONS", "z9hG4bKdup"),
        "127.0.0.1:5070;branch",
        "127.0.0.2:5070;branch",
    );
    let b = new_server(&mut l, start, other_host, UDP);
    let c = new_server(&mut l, start, request("INFO", "z9hG4bKdup"), UDP);
    assert!(a != b && b != c && a != c);
}

#[test]
fn rfc3261_18_2_1_received_and_rport_stamped_on_new_requests() {
    let (start, mut l) = setup();
    let req = edited(
        &request("OPTIONS", "z9hG4bKnat"),
        "127.0.0.1:5070;branch",
        "10.0.0.1:5060;rport;branch",
    );
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let Matched::New(id) = l.handle_message(start, req, from, UDP) else {
        panic!()
    };
    let Some(TransactionEvent::Request { request, .. }) = l.poll_event() else {
        panic!()
    };
    let via = request.top_via().unwrap().unwrap();
    assert_eq!(via.received(), Some("127.0.0.1"));
    assert_eq!(via.rport(), Some(Some(40000)));
    assert_eq!(
        respond(&mut l, start, id, &request, 200)[0].destination,
        from,
        "RFC 3581: back to the NAT binding"
    );
}

#[test]
fn table_cap_answers_503_with_retry_after() {
    let start = Instant::now();
    let mut l = TransactionLayer::new(TransactionConfig {
        max_transactions: 2,
        retry_after: 7,
        ..TransactionConfig::default()
    });
    new_server(&mut l, start, request("OPTIONS", "z9hG4bKcap1"), UDP);
    new_server(&mut l, start, request("OPTIONS", "z9hG4bKcap2"), UDP);
    assert_eq!(
        l.handle_message(start, request("OPTIONS", "z9hG4bKcap3"), peer(), UDP),
        Matched::Rejected(503)
    );
    let out = transmits(&mut l);
    let busy = Message::parse(&out[0].bytes).unwrap();
    assert_eq!(busy.status(), Some(503));
    assert_eq!(busy.header(&HeaderName::RetryAfter), Some("7"));
    assert!(busy.to_header().unwrap().unwrap().tag().is_some());
    assert_eq!(l.len(), 2);
    // Retransmissions of live transactions are still matched when full.
    assert!(matches!(
        l.handle_message(start, request("OPTIONS", "z9hG4bKcap1"), peer(), UDP),
        Matched::Existing(_)
    ));
    // A stray ACK needs no room.
    assert_eq!(
        l.handle_message(start, request("ACK", "z9hG4bKcap4"), peer(), UDP),
        Matched::Stray
    );
}

#[test]
fn rfc3261_8_2_2_incomplete_requests_get_400() {
    let (start, mut l) = setup();
    let mut req = request("OPTIONS", "z9hG4bKbad");
    req.remove_header(&HeaderName::CallId);
    assert_eq!(
        l.handle_message(start, req, peer(), UDP),
        Matched::Rejected(400)
    );
    let out = transmits(&mut l);
    assert_eq!(status(&out[0]), Some(400));
    let mut mismatched = request("OPTIONS", "z9hG4bKbad2");
    mismatched.set_header(HeaderName::CSeq, "1 INFO");
    assert_eq!(
        l.handle_message(start, mismatched, peer(), UDP),
        Matched::Rejected(400)
    );
    let mut no_via = request("OPTIONS", "z9hG4bKbad3");
    no_via.remove_header(&HeaderName::Via);
    assert_eq!(
        l.handle_message(start, no_via, peer(), UDP),
        Matched::Dropped
    );
    assert!(l.is_empty());
}

#[test]
fn stateless_sends_use_section_18_2_2_addressing() {
    let mut l = layer();
    let req = edited(
        &request("OPTIONS", "z9hG4bKsl"),
        "127.0.0.1:5070;branch",
        "127.0.0.1:5070;maddr=127.0.0.5;branch",
    );
    l.send_stateless_response(peer(), UDP, response(&req, 404));
    assert_eq!(
        transmits(&mut l)[0].destination,
        "127.0.0.5:5070".parse().unwrap()
    );
    l.send_stateless_request(request("ACK", "z9hG4bKsl2"), peer(), TCP);
    let out = transmits(&mut l);
    assert_eq!((out[0].destination, out[0].transport), (peer(), TCP));
    assert!(l.is_empty());
}

#[test]
fn degenerate_timer_config_cannot_stall_the_clock() {
    let start = Instant::now();
    let mut l = TransactionLayer::new(TransactionConfig {
        timers: sipparty_core::transaction::TimerConfig {
            t1: Duration::ZERO,
            t2: Duration::ZERO,
            t4: Duration::ZERO,
        },
        ..TransactionConfig::default()
    });
    assert_eq!(l.config().timers.t1, ms(1));
    let id = start_client(&mut l, start, &request("OPTIONS", "z9hG4bKzero"), UDP);
    let (sent, evs) = run(&mut l, start, secs(1.0));
    // T1 = T2 = 1 ms: one copy per millisecond, the last as F = 64 ms fires.
    assert_eq!(times(&sent), (1..=64).map(ms).collect::<Vec<_>>());
    assert_eq!(evs[0], (ms(64), TransactionEvent::Timeout { id }));
}

#[test]
fn rfc3261_17_2_4_server_transport_error_is_reported() {
    let (start, mut l) = setup();
    let invite = request("INVITE", "z9hG4bKste");
    let id = new_server(&mut l, start, invite.clone(), TCP);
    respond(&mut l, start, id, &invite, 486);
    // The connection the 486 went out on broke before the ACK came.
    l.transport_error(start + ms(10), peer(), TCP);
    assert_eq!(
        events(&mut l),
        vec![
            TransactionEvent::TransportError { id },
            TransactionEvent::Terminated { id }
        ]
    );
    assert!(l.is_empty());
    // An error on another transport to the same address touches nothing.
    let id = new_server(&mut l, start, request("OPTIONS", "z9hG4bKste2"), UDP);
    l.transport_error(start, peer(), TCP);
    assert!(l.contains(id));
}
