//! RFC 3263 server location through the Party's resolution requests, and
//! RFC 3261 section 18.1.1 (large requests over TCP). DNS is a stub
//! (`SimDns`, answering at once inside the simulator, or when the test
//! says so for a Party driven by hand): nothing leaves the process.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{
    CallPolicy, DialogError, DialogId, DialogState, Endpoint, Event, Input, InviteOptions, Output,
    Party, PartyConfig, RegisterOptions, RegistrationState, RequestCompleted, RequestId, SimDns,
    SimParty,
};
use sipparty_core::sim::Network;
use sipparty_core::transport::locate::{Answer, DnsRecord, LookupId};
use sipparty_core::transport::resolve::{Query, Record, RecordType};
use sipparty_core::Transport;

mod support;
use support::Calls;

const ALICE: &str = "127.0.0.1:5060";
const CAROL: &str = "127.0.0.1:5070";
const BOB: &str = "127.0.0.1:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ttl(record: Record, secs: u64) -> DnsRecord {
    DnsRecord::new(record, Duration::from_secs(secs))
}

fn localhost(secs: u64) -> Vec<DnsRecord> {
    vec![ttl(Record::A("127.0.0.1".parse().unwrap()), secs)]
}

/// SRV for `_sip._udp.example.test`: Carol (priority 10) before Bob (20).
fn two_servers() -> SimDns {
    SimDns::new()
        .with(
            "_sip._udp.example.test",
            RecordType::Srv,
            vec![
                ttl(Record::srv(20, 0, 5080, "backup.example.test."), 300),
                ttl(Record::srv(10, 0, 5070, "primary.example.test."), 300),
            ],
        )
        .with("primary.example.test", RecordType::A, localhost(300))
        .with("backup.example.test", RecordType::A, localhost(300))
}

/// SRV for `_sip._{transport}.example.test`: `a.example.test` at Carol's
/// port (priority 1) before `b.example.test` at Bob's (2), both on
/// loopback, valid for a minute.
fn a_then_b(transport: &str) -> SimDns {
    SimDns::new()
        .with(
            &format!("_sip._{transport}.example.test"),
            RecordType::Srv,
            vec![
                ttl(Record::srv(1, 0, 5070, "a.example.test"), 60),
                ttl(Record::srv(2, 0, 5080, "b.example.test"), 60),
            ],
        )
        .with("a.example.test", RecordType::A, localhost(60))
        .with("b.example.test", RecordType::A, localhost(60))
}

fn party(aor: &str, policy: CallPolicy) -> Party {
    let mut p = Party::no_media_simple_calls(aor).unwrap();
    p.set_policy(policy);
    p
}

/// Alice at ALICE, located through `dns`, and a Bob at each of `servers`
/// answering with its policy.
fn network(seed: u64, dns: SimDns, servers: &[(&str, CallPolicy)]) -> Network<SimParty> {
    let mut net = Network::new(seed, Instant::now());
    let mut alice = SimParty::new(
        party("alice@example.test", CallPolicy::AutoAnswer),
        addr(ALICE),
    );
    alice.set_dns(dns);
    net.add(addr(ALICE), alice);
    for &(at, policy) in servers {
        net.add(
            addr(at),
            SimParty::new(party("bob@example.test", policy), addr(at)),
        );
    }
    net
}

fn invites_to(net: &Network<SimParty>, to: SocketAddr) -> Vec<Message> {
    net.log()
        .iter()
        .filter(|d| d.destination == to)
        .filter_map(|d| Message::parse(&d.bytes).ok())
        .filter(|m| m.method().map(|x| x.as_str()) == Some("INVITE"))
        .collect()
}

/// Whether an event is the Party asking its driver to resolve a name.
fn asked_to_resolve(e: &Event) -> bool {
    matches!(e, Event::ResolveRequest { .. })
}

fn branch(m: &Message) -> String {
    m.top_via().unwrap().unwrap().branch().unwrap().to_string()
}

#[test]
fn rfc3263_s4_3_srv_targets_in_order_fail_over_on_503() {
    let mut net = network(
        1,
        two_servers(),
        &[
            (CAROL, CallPolicy::Reject { code: 503 }),
            (BOB, CallPolicy::AutoAnswer),
        ],
    );
    let call = net.call(addr(ALICE), "sip:bob@example.test");
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.state(addr(ALICE), call),
        Some(DialogState::InDialog),
        "{:?}",
        net.error_text(addr(ALICE), call)
    );
    // The states the application saw: no Error in between.
    assert_eq!(
        net.states(addr(ALICE), call),
        vec![DialogState::InitiatingDialog, DialogState::InDialog]
    );
    let to_carol = invites_to(&net, addr(CAROL));
    let to_bob = invites_to(&net, addr(BOB));
    assert_eq!(to_carol.len(), 1, "the primary first");
    assert_eq!(to_bob.len(), 1, "then the backup");
    // Section 4.3: the same request in a new transaction.
    assert_eq!(to_carol[0].call_id(), to_bob[0].call_id());
    assert_eq!(
        to_carol[0].cseq().unwrap().unwrap(),
        to_bob[0].cseq().unwrap().unwrap()
    );
    assert_ne!(branch(&to_carol[0]), branch(&to_bob[0]));
    // NAPTR first (nothing), then the UDP SRV, then the hosts.
    let asked = &net.endpoint(addr(ALICE)).dns().unwrap().asked;
    assert_eq!(asked[0].rtype, RecordType::Naptr);
    assert_eq!(asked[0].name, "example.test");
    assert_eq!(asked[1].name, "_sip._udp.example.test");
    assert!(asked.iter().any(|q| q.name == "backup.example.test"));
    // The application saw the questions too.
    assert!(net.saw(addr(ALICE), asked_to_resolve));

    // In-dialog requests go where the INVITE went.
    let now = net.now();
    net.hang_up(addr(ALICE), call);
    net.run_until(now + Duration::from_secs(2));
    assert_eq!(net.state(addr(ALICE), call), Some(DialogState::Terminated));
    // Once Timer D of the failed attempt has run, nothing is left.
    net.run_until(now + Duration::from_secs(40));
    assert!(net.endpoint_mut(addr(ALICE)).is_idle());
}

#[test]
fn rfc3263_s4_3_fail_over_when_the_first_target_times_out() {
    // Nobody at CAROL: Timer B fires (64*T1) and the backup gets the call.
    let mut net = network(2, two_servers(), &[(BOB, CallPolicy::AutoAnswer)]);
    let now = net.now();
    let call = net.call(addr(ALICE), "bob@example.test");
    net.run_until(now + Duration::from_secs(31));
    assert_eq!(
        net.state(addr(ALICE), call),
        Some(DialogState::InitiatingDialog)
    );
    net.run_until(now + Duration::from_secs(34));
    assert_eq!(net.state(addr(ALICE), call), Some(DialogState::InDialog));
    assert!(
        invites_to(&net, addr(CAROL)).len() >= 7,
        "Timer A retransmissions"
    );
}

#[test]
fn rfc3263_name_without_records_fails_the_call_with_a_clear_error() {
    let mut net = network(3, SimDns::new(), &[]);
    let call = net.call(addr(ALICE), "sip:bob@nowhere.test");
    net.run_for(Duration::from_secs(1));
    let node = net.endpoint(addr(ALICE));
    assert_eq!(node.state_of(call), Some(DialogState::Error));
    let error = node.party().last_error(call).cloned().unwrap();
    assert!(matches!(error, DialogError::Unresolvable(_)), "{error:?}");
    assert!(error.to_string().contains("nowhere.test"), "{error}");
    assert!(net.log().is_empty(), "nothing was sent");
    // NAPTR, the three SRV guesses, then A and AAAA... of a v4-only party:
    // A alone.
    let asked = &node.dns().unwrap().asked;
    assert_eq!(asked.last().unwrap().rtype, RecordType::A);
    assert!(!asked.iter().any(|q| q.rtype == RecordType::Aaaa));
}

#[test]
fn rfc3263_answers_are_cached_for_their_ttl() {
    let dns = SimDns::new().with("pbx.example.test", RecordType::A, localhost(60));
    let mut net = network(4, dns, &[(BOB, CallPolicy::AutoAnswer)]);
    let asked = |net: &Network<SimParty>| net.endpoint(addr(ALICE)).dns().unwrap().asked.len();
    let target = "sip:bob@pbx.example.test:5080";
    let mut calls = Vec::new();
    let start = net.now();
    for at in [0, 30, 70] {
        net.run_until(start + Duration::from_secs(at));
        let call = net.call(addr(ALICE), target);
        net.run_for(Duration::from_secs(1));
        assert_eq!(net.state(addr(ALICE), call), Some(DialogState::InDialog));
        calls.push(asked(&net));
    }
    // A name with a port: A only (a v4 party). The second call is within
    // the TTL, the third after it.
    assert_eq!(calls, vec![1, 1, 2]);
}

#[test]
fn rfc3263_literal_addresses_need_no_lookup() {
    let mut net = network(5, SimDns::new(), &[(BOB, CallPolicy::AutoAnswer)]);
    let call = net.call(addr(ALICE), "bob@127.0.0.1:5080");
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(addr(ALICE), call), Some(DialogState::InDialog));
    assert!(net.node(addr(ALICE)).dns().unwrap().asked.is_empty());
    assert!(!net.saw(addr(ALICE), asked_to_resolve));
}

#[test]
fn rfc3263_endpoint_routes_answers_to_the_party_that_asked() {
    let mut net = Network::new(6, Instant::now());
    let mut endpoint = Endpoint::new();
    let a = endpoint.add(party("alice@example.test", CallPolicy::AutoAnswer));
    let c = endpoint.add(party("carl@example.test", CallPolicy::AutoAnswer));
    let mut node = SimParty::endpoint(endpoint, addr(ALICE));
    node.set_dns(
        SimDns::new()
            .with("bob.example.test", RecordType::A, localhost(60))
            .with("dave.example.test", RecordType::A, localhost(60)),
    );
    net.add(addr(ALICE), node);
    net.add(
        addr(BOB),
        SimParty::endpoint(
            {
                let mut e = Endpoint::new();
                e.add(party("bob@example.test", CallPolicy::AutoAnswer));
                e.add(party("dave@example.test", CallPolicy::AutoAnswer));
                e
            },
            addr(BOB),
        ),
    );
    let now = net.now();
    let mut invite = |key, target: &str| {
        net.endpoint_mut(addr(ALICE))
            .party_at(key)
            .invite(now, target, InviteOptions::default())
            .unwrap()
    };
    let call_a = invite(a, "sip:bob@bob.example.test:5080");
    let call_c = invite(c, "sip:dave@dave.example.test:5080");
    net.run_until(now + Duration::from_secs(1));
    let node = net.endpoint(addr(ALICE));
    assert_eq!(node.state_at(a, call_a), Some(DialogState::InDialog));
    assert_eq!(node.state_at(c, call_c), Some(DialogState::InDialog));
    // Each party asked its own question; the ids the driver saw differ.
    let ids: Vec<(LookupId, String)> = node
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ResolveRequest { id, query } => Some((*id, query.name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0].0, ids[1].0);
}

#[test]
fn rfc3263_registrar_name_is_located() {
    let dns = SimDns::new()
        .with(
            "_sip._udp.example.test",
            RecordType::Srv,
            vec![ttl(Record::srv(0, 0, 5080, "reg.example.test"), 10)],
        )
        .with("reg.example.test", RecordType::A, localhost(10));
    let mut net = network(7, dns, &[]);
    // Nobody registers at BOB: every REGISTER times out, which is enough
    // to see where they went.
    let now = net.now();
    let reg = net
        .endpoint_mut(addr(ALICE))
        .party_mut()
        .register(now, "sip:example.test", RegisterOptions::default())
        .unwrap();
    net.run_until(now + Duration::from_secs(40));
    let node = net.endpoint(addr(ALICE));
    let last = node
        .events
        .iter()
        .rev()
        .find_map(|(_, e)| match e {
            Event::Registration { id, state } if *id == reg => Some(state.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last, RegistrationState::Failed(DialogError::Timeout));
    let registers: Vec<_> = net
        .log()
        .iter()
        .filter(|d| d.destination == addr(BOB))
        .collect();
    assert!(!registers.is_empty());
    assert!(registers.iter().all(|d| d.transport == Transport::Udp));
}

/// A Party driven by hand; its DNS questions wait until the test answers
/// them from `dns`.
struct Manual {
    party: Party,
    now: Instant,
    sent: Vec<(Transport, SocketAddr, Message)>,
    lookups: Vec<(LookupId, Query)>,
    events: Vec<Event>,
    dns: SimDns,
}

impl Manual {
    fn new(config: PartyConfig, tcp: bool) -> Self {
        let mut party = Party::new(config, Box::new(sipparty_core::SeededRandom::new(3)));
        party.set_local_address(Transport::Udp, addr(ALICE));
        if tcp {
            party.set_local_address(Transport::Tcp, addr(ALICE));
        }
        Manual {
            party,
            now: Instant::now(),
            sent: Vec::new(),
            lookups: Vec::new(),
            events: Vec::new(),
            dns: SimDns::new(),
        }
    }

    /// Answer lookups from `dns`.
    fn with_dns(mut self, dns: SimDns) -> Self {
        self.dns = dns;
        self
    }

    fn drain(&mut self) {
        loop {
            match self.party.poll_output() {
                Output::Transmit(t) => self.sent.push((
                    t.transport,
                    t.destination,
                    Message::parse(&t.bytes).unwrap(),
                )),
                Output::Event(Event::ResolveRequest { id, query }) => {
                    self.lookups.push((id, query))
                }
                Output::Event(e) => self.events.push(e),
                Output::MediaTransmit(_) => {}
                _ => break,
            }
        }
    }

    /// Answer the waiting lookups (and those they lead to) from `dns`.
    fn answer(&mut self) {
        while let Some((id, q)) = self.lookups.pop() {
            let records = self.dns.answer(&q);
            let answer = match &records {
                Some(r) => Answer::Records(r),
                None => Answer::Failed,
            };
            self.party.handle_input(Input::Resolved {
                now: self.now,
                id,
                answer,
            });
            self.drain();
        }
    }

    /// Place a call now and hand over what the Party does at once.
    fn invite(&mut self, target: &str, options: InviteOptions) -> DialogId {
        let call = self.party.invite(self.now, target, options).unwrap();
        self.drain();
        call
    }

    /// A response from `from` arrives over UDP.
    fn feed(&mut self, from: &str, response: Message) {
        let bytes = response.to_bytes();
        self.party.handle_input(Input::Datagram {
            now: self.now,
            transport: Transport::Udp,
            source: addr(from),
            destination: addr(ALICE),
            bytes: &bytes,
        });
        self.drain();
    }

    /// The outcome of request `id`, once it completed.
    fn completed(&self, id: RequestId) -> Option<&RequestCompleted> {
        self.events.iter().find_map(|e| match e {
            Event::RequestCompleted { id: i, outcome } if *i == id => Some(outcome),
            _ => None,
        })
    }

    fn states(&self) -> Vec<DialogState> {
        support::dialog_states(&self.events)
    }
}

fn config() -> PartyConfig {
    PartyConfig::new("alice@example.test").unwrap()
}

#[test]
fn rfc3263_s4_1_naptr_picks_tcp_and_the_request_says_so() {
    let mut m = Manual::new(config(), true).with_dns(
        SimDns::new()
            .with(
                "example.test",
                RecordType::Naptr,
                vec![ttl(
                    Record::naptr(10, 10, "SIP+D2T", "_sip._tcp.example.test"),
                    60,
                )],
            )
            .with(
                "_sip._tcp.example.test",
                RecordType::Srv,
                vec![ttl(Record::srv(0, 0, 5090, "tcp.example.test"), 60)],
            )
            .with("tcp.example.test", RecordType::A, localhost(60)),
    );
    let call = m.invite("sip:bob@example.test", InviteOptions::default());
    assert!(m.sent.is_empty(), "held until located");
    assert_eq!(m.lookups.len(), 1);
    m.answer();
    let asked: Vec<&str> = m.dns.asked.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        asked,
        ["example.test", "_sip._tcp.example.test", "tcp.example.test"]
    );
    assert_eq!(m.sent.len(), 1);
    let (transport, dest, invite) = &m.sent[0];
    assert_eq!(*transport, Transport::Tcp);
    assert_eq!(*dest, addr("127.0.0.1:5090"));
    let via = invite.top_via().unwrap().unwrap();
    assert_eq!(via.transport, "TCP");
    assert!(invite
        .header(&HeaderName::Contact)
        .unwrap()
        .contains("transport=tcp"));
    assert_eq!(
        m.party.dialog_state(call),
        Some(DialogState::InitiatingDialog)
    );
}

#[test]
fn rfc3263_cancel_while_resolving_sends_nothing() {
    let mut m = Manual::new(config(), false).with_dns(SimDns::new().with(
        "pbx.example.test",
        RecordType::A,
        localhost(60),
    ));
    let call = m.invite("sip:bob@pbx.example.test:5080", InviteOptions::default());
    m.party.dialog(call).unwrap().terminate(m.now).unwrap();
    m.drain();
    m.answer();
    assert!(m.sent.is_empty());
    assert_eq!(
        m.states(),
        vec![
            DialogState::InitiatingDialog,
            DialogState::TerminatingDialog,
            DialogState::Terminated
        ]
    );
    assert!(m.party.is_idle() || m.party.poll_timeout().is_some());
}

#[test]
fn rfc3263_unanswered_lookups_time_out() {
    let mut cfg = config();
    cfg.dns.lookup_timeout = Duration::from_secs(2);
    let mut m = Manual::new(cfg, false);
    let call = m.invite("sip:bob@pbx.example.test:5080", InviteOptions::default());
    assert_eq!(m.lookups.len(), 1);
    // The driver never answers: after the timeout the A lookup counts as
    // failed, and there is nothing else to ask.
    let at = m.party.poll_timeout().unwrap();
    assert_eq!(at, m.now + Duration::from_secs(2));
    {
        m.now = at;
        m.party.handle_input(Input::Timeout(at));
        m.drain();
    }
    assert_eq!(m.party.dialog_state(call), Some(DialogState::Error));
    assert!(matches!(
        m.party.last_error(call),
        Some(DialogError::Unresolvable(_))
    ));
}

#[test]
fn rfc3263_options_to_an_unknown_name_completes_with_503() {
    let mut m = Manual::new(config(), false);
    let id = m.party.options(m.now, "sip:nowhere.test:5060").unwrap();
    m.drain();
    m.answer();
    let done = m.completed(id).unwrap();
    assert_eq!(done.code, 503);
    assert!(done.reason.contains("nowhere.test"), "{}", done.reason);
}

fn big_invite() -> InviteOptions {
    InviteOptions::default().header("X-Padding", &"p".repeat(1400))
}

#[test]
fn rfc3261_s18_1_1_large_request_goes_over_tcp_then_udp_if_tcp_fails() {
    let mut m = Manual::new(config(), true);
    let call = m.invite("sip:bob@127.0.0.1:5080", big_invite());
    assert_eq!(m.sent.len(), 1);
    let (t, dest, first) = m.sent[0].clone();
    assert_eq!(t, Transport::Tcp);
    assert_eq!(dest, addr(BOB));
    assert_eq!(first.top_via().unwrap().unwrap().transport, "TCP");
    // The connection is refused: the same request again over UDP, a new
    // transaction.
    m.party.handle_input(Input::TransportError {
        now: m.now,
        transport: Transport::Tcp,
        destination: addr(BOB),
    });
    m.drain();
    assert_eq!(m.sent.len(), 2, "{:?}", m.states());
    let (t, dest, second) = m.sent[1].clone();
    assert_eq!(t, Transport::Udp);
    assert_eq!(dest, addr(BOB));
    assert_eq!(second.top_via().unwrap().unwrap().transport, "UDP");
    assert_ne!(branch(&first), branch(&second));
    assert_eq!(first.call_id(), second.call_id());
    assert_eq!(
        m.party.dialog_state(call),
        Some(DialogState::InitiatingDialog)
    );
}

#[test]
fn rfc3261_s18_1_1_small_or_pinned_requests_stay_on_udp() {
    let padded_1100 = || InviteOptions::default().header("X-Padding", &"p".repeat(1100));
    // (case, path MTU, local TCP address, target, options, transport).
    let cases = [
        (
            "small",
            Some(1500),
            true,
            "sip:bob@127.0.0.1:5080",
            InviteOptions::default(),
            Transport::Udp,
        ),
        (
            "large but the URI says transport=udp",
            Some(1500),
            true,
            "sip:bob@127.0.0.1:5080;transport=udp",
            big_invite(),
            Transport::Udp,
        ),
        (
            "large, no local TCP address",
            Some(1500),
            false,
            "sip:bob@127.0.0.1:5080",
            big_invite(),
            Transport::Udp,
        ),
        (
            "large for a 1500 MTU, small for a 9000 one",
            Some(9000),
            true,
            "sip:bob@127.0.0.1:5080",
            big_invite(),
            Transport::Udp,
        ),
        (
            "unknown MTU: 1300 bytes is the limit",
            None,
            true,
            "sip:bob@127.0.0.1:5080",
            padded_1100(),
            Transport::Tcp,
        ),
    ];
    for (case, mtu, tcp, target, options, expected) in cases {
        let mut cfg = config();
        cfg.path_mtu = mtu;
        let mut m = Manual::new(cfg, tcp);
        m.invite(target, options);
        let (transport, _, invite) = &m.sent[0];
        assert_eq!(*transport, expected, "{case}");
        if mtu.is_none() {
            assert!(invite.to_bytes().len() > 1300, "{case}");
        }
    }
}

#[test]
fn rfc3263_in_dialog_requests_to_a_known_name_use_the_cache() {
    let mut m = Manual::new(config(), false).with_dns(
        SimDns::new()
            .with("pbx.example.test", RecordType::A, localhost(60))
            .with(
                "proxy.example.test",
                RecordType::A,
                vec![ttl(Record::A("127.0.0.2".parse().unwrap()), 60)],
            ),
    );
    // The proxy's name gets into the cache through an OPTIONS.
    m.party
        .options(m.now, "sip:proxy.example.test:5090")
        .unwrap();
    m.drain();
    m.answer();
    let call = m.invite("sip:bob@pbx.example.test:5080", InviteOptions::default());
    m.answer();
    let (_, dest, invite) = m
        .sent
        .iter()
        .find(|(_, _, msg)| msg.method().map(|x| x.as_str()) == Some("INVITE"))
        .cloned()
        .unwrap();
    assert_eq!(dest, addr(BOB));
    // Bob answers through a proxy that record-routes by name.
    let mut ok = Message::response_to(&invite, 200, Some("b1"));
    ok.add_header(HeaderName::RecordRoute, "<sip:proxy.example.test:5090;lr>");
    ok.add_header(HeaderName::Contact, "<sip:bob@127.0.0.1:5080>");
    m.feed(BOB, ok);
    assert_eq!(m.party.dialog_state(call), Some(DialogState::InDialog));
    let (_, dest, ack) = m.sent.last().cloned().unwrap();
    assert_eq!(ack.method().unwrap().as_str(), "ACK");
    assert_eq!(
        dest,
        addr("127.0.0.2:5090"),
        "the proxy, located from the cache"
    );
    assert!(m.lookups.is_empty(), "nothing asked mid-dialog");
    let proxy_lookups = m
        .dns
        .asked
        .iter()
        .filter(|q| q.name == "proxy.example.test")
        .count();
    assert_eq!(proxy_lookups, 1, "asked once: {:?}", m.dns.asked);
}

#[test]
fn rfc3263_s4_3_a_challenged_request_keeps_its_targets() {
    let mut cfg = config();
    cfg.credentials = Some(sipparty_core::party::Credentials::new("alice", "secret"));
    let mut m = Manual::new(cfg, false).with_dns(a_then_b("udp"));
    let id = m.party.options(m.now, "sip:example.test").unwrap();
    m.drain();
    m.answer();
    let (_, dest, first) = m.sent.last().cloned().unwrap();
    assert_eq!(dest, addr(CAROL));
    // The first server challenges; the answer goes to it again.
    let mut challenge = Message::response_to(&first, 401, Some("x"));
    challenge.add_header(
        HeaderName::WwwAuthenticate,
        "Digest realm=\"example.test\", nonce=\"n1\", algorithm=MD5",
    );
    m.feed(CAROL, challenge);
    let (_, dest, second) = m.sent.last().cloned().unwrap();
    assert_eq!(dest, addr(CAROL));
    assert!(second.header(&HeaderName::Authorization).is_some());
    // Then it is overloaded: the next target gets the request.
    m.feed(CAROL, Message::response_to(&second, 503, Some("x")));
    let (_, dest, third) = m.sent.last().cloned().unwrap();
    assert_eq!(dest, addr(BOB));
    assert_eq!(third.method().unwrap().as_str(), "OPTIONS");
    assert_eq!(
        third.cseq().unwrap().unwrap(),
        second.cseq().unwrap().unwrap()
    );
    m.feed(BOB, Message::response_to(&third, 200, Some("y")));
    assert_eq!(m.completed(id).map(|o| o.code), Some(200));
}

#[test]
fn rfc3263_s4_3_a_connection_that_does_not_open_fails_over_before_timer_b() {
    use sipparty_core::transport::connection::{ConnectionAction, ConnectionPolicy, Connections};
    // Two TCP targets; the first never completes its connect (a host that
    // drops SYNs). A driver keeps the core's connection table, which says
    // when to give up; the Party then tries the next target.
    let mut m = Manual::new(config(), true).with_dns(a_then_b("tcp"));
    let t0 = m.now;
    let call = m.invite(
        "sip:bob@example.test;transport=tcp",
        InviteOptions::default(),
    );
    m.answer();
    let (transport, dest, first) = m.sent[0].clone();
    assert_eq!((transport, dest), (Transport::Tcp, addr(CAROL)));
    let mut conns = Connections::new(ConnectionPolicy::default());
    conns.opening(m.now, (transport, dest), true);

    // Nothing happens until the open limit, long before Timer B (32 s).
    let due = conns.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(5));
    assert!(m.party.poll_timeout().map_or(true, |t| t >= due));
    m.now = due;
    let mut actions = Vec::new();
    conns.handle_timeout(m.now, &mut actions);
    assert_eq!(
        actions,
        vec![ConnectionAction::Close {
            conn: (Transport::Tcp, addr(CAROL)),
            failed: true
        }]
    );
    // The driver reports the failed connection; the INVITE queued on it
    // fails and goes to the next target as a new transaction.
    m.party.handle_input(Input::TransportError {
        now: m.now,
        transport: Transport::Tcp,
        destination: addr(CAROL),
    });
    m.drain();
    assert_eq!(m.sent.len(), 2, "{:?}", m.states());
    let (transport, dest, second) = m.sent[1].clone();
    assert_eq!((transport, dest), (Transport::Tcp, addr(BOB)));
    assert_eq!(first.call_id(), second.call_id());
    assert_ne!(branch(&first), branch(&second));
    assert_eq!(
        m.party.dialog_state(call),
        Some(DialogState::InitiatingDialog)
    );
}

/// Bob answers `invite` through proxies whose Record-Route lines make
/// every request in the dialog about 1,500 bytes long.
fn answered_through_long_route(m: &mut Manual, invite: &Message) {
    let mut ok = Message::response_to(invite, 200, Some("b1"));
    for i in 0..5 {
        let pad = "p".repeat(250);
        ok.add_header(
            HeaderName::RecordRoute,
            &format!("<sip:127.0.0.1:5080;lr;hop={i};pad={pad}>"),
        );
    }
    ok.add_header(HeaderName::Contact, "<sip:bob@127.0.0.1:5080>");
    m.feed(BOB, ok);
}

#[test]
fn rfc3261_s18_1_1_large_bye_goes_over_tcp_with_the_next_cseq() {
    let mut m = Manual::new(config(), true);
    let call = m.invite("sip:bob@127.0.0.1:5080", InviteOptions::default());
    let (t, _, invite) = m.sent[0].clone();
    assert_eq!(t, Transport::Udp, "the INVITE is small");
    answered_through_long_route(&mut m, &invite);
    assert_eq!(m.party.dialog_state(call), Some(DialogState::InDialog));
    m.party.dialog(call).unwrap().terminate(m.now).unwrap();
    m.drain();
    let (t, dest, bye) = m.sent.last().cloned().unwrap();
    assert_eq!(bye.method().unwrap().as_str(), "BYE");
    assert!(bye.to_bytes().len() > 1300);
    assert_eq!((t, dest), (Transport::Tcp, addr(BOB)));
    assert_eq!(bye.top_via().unwrap().unwrap().transport, "TCP");
    // Section 12.2.1.1: one higher than the INVITE's. Switching to TCP
    // takes no CSeq number of its own.
    let invite_seq = invite.cseq().unwrap().unwrap().seq;
    assert_eq!(bye.cseq().unwrap().unwrap().seq, invite_seq + 1);
}

#[test]
fn rfc3261_s22_2_a_challenged_bye_is_sent_again_with_credentials() {
    let mut cfg = config();
    cfg.credentials = Some(sipparty_core::party::Credentials::new("alice", "secret"));
    let mut m = Manual::new(cfg, false);
    let call = m.invite("sip:bob@127.0.0.1:5080", InviteOptions::default());
    let (_, _, invite) = m.sent[0].clone();
    let mut ok = Message::response_to(&invite, 200, Some("b1"));
    ok.add_header(HeaderName::Contact, "<sip:bob@127.0.0.1:5080>");
    m.feed(BOB, ok);
    m.party.dialog(call).unwrap().terminate(m.now).unwrap();
    m.drain();
    let (_, _, bye) = m.sent.last().cloned().unwrap();
    assert_eq!(bye.method().unwrap().as_str(), "BYE");
    assert!(bye.header(&HeaderName::Authorization).is_none());
    let mut challenge = Message::response_to(&bye, 401, Some("b1"));
    challenge.add_header(
        HeaderName::WwwAuthenticate,
        "Digest realm=\"example.test\", nonce=\"n1\", algorithm=MD5",
    );
    m.feed(BOB, challenge);
    let (_, dest, again) = m.sent.last().cloned().unwrap();
    assert_eq!(again.method().unwrap().as_str(), "BYE");
    assert_eq!(dest, addr(BOB));
    let auth = again.header(&HeaderName::Authorization).unwrap();
    assert!(auth.contains("realm=\"example.test\""), "{auth}");
    assert_ne!(branch(&bye), branch(&again));
    m.feed(BOB, Message::response_to(&again, 200, Some("b1")));
    assert_eq!(m.party.dialog_state(call), Some(DialogState::Terminated));
}

#[test]
fn rfc3261_s22_1_the_ack_repeats_the_credentials_of_a_challenged_invite() {
    let mut cfg = config();
    cfg.credentials = Some(sipparty_core::party::Credentials::new("alice", "secret"));
    let mut m = Manual::new(cfg, false);
    let call = m.invite("sip:bob@127.0.0.1:5080", InviteOptions::default());
    let (_, _, first) = m.sent[0].clone();
    assert!(first.header(&HeaderName::ProxyAuthorization).is_none());
    let mut challenge = Message::response_to(&first, 407, Some("p1"));
    challenge.add_header(
        HeaderName::ProxyAuthenticate,
        "Digest realm=\"proxy.test\", nonce=\"n1\", algorithm=MD5",
    );
    m.feed(BOB, challenge);
    let (_, _, second) = m.sent.last().cloned().unwrap();
    let credentials = second
        .header(&HeaderName::ProxyAuthorization)
        .unwrap()
        .to_string();
    let mut ok = Message::response_to(&second, 200, Some("b1"));
    ok.add_header(HeaderName::Contact, "<sip:bob@127.0.0.1:5080>");
    m.feed(BOB, ok);
    assert_eq!(m.party.dialog_state(call), Some(DialogState::InDialog));
    let (_, _, ack) = m.sent.last().cloned().unwrap();
    assert_eq!(ack.method().unwrap().as_str(), "ACK");
    assert_eq!(
        ack.header(&HeaderName::ProxyAuthorization),
        Some(credentials.as_str())
    );
    assert_eq!(
        ack.cseq().unwrap().unwrap().seq,
        second.cseq().unwrap().unwrap().seq
    );
    // The dialog's other requests carry them too: no second challenge.
    m.party.dialog(call).unwrap().terminate(m.now).unwrap();
    m.drain();
    let (_, _, bye) = m.sent.last().cloned().unwrap();
    assert_eq!(bye.method().unwrap().as_str(), "BYE");
    assert_eq!(
        bye.header(&HeaderName::ProxyAuthorization),
        Some(credentials.as_str())
    );
}
