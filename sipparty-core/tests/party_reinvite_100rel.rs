//! Reliable provisional responses to a re-INVITE (RFC 3262 sections 3 to
//! 5). As UAC the Party PRACKs them in the confirmed dialog as it does for
//! the initial INVITE: RAck names the RSeq and the re-INVITE's CSeq, a
//! retransmission is not PRACKed again, one out of order is ignored, and
//! an answer carried in one takes effect at once. As UAS the Party answers
//! a re-INVITE finally at once, so a `Require: 100rel` asks nothing of it,
//! unless it is configured never to do 100rel (420). The RSeq order is
//! kept per request: a redirected INVITE starts it afresh.
//!
//! Peers that send reliable provisionals to re-INVITEs are B2BUAs and
//! session border controllers; here a scripted record-routing relay
//! between Alice and Bob plays that part.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::{HeaderName, Message, Method};
use sipparty_core::party::{
    CallPolicy, DialogId, DialogState, InviteOptions, Party, ReliableProvisionals, SimParty,
};
use sipparty_core::sim::{Endpoint, Network};
use sipparty_core::transport::{Transmit, Transport};

mod support;
use support::{
    alice_addr as alice, bob_addr as bob, lossy_30_percent, media_updates, no_frames, party_with,
    rewrite, two_parties, Calls, BOB, SENDONLY,
};

fn relay() -> SocketAddr {
    "127.0.0.1:5080".parse().unwrap()
}

/// What the relay does with a re-INVITE.
#[derive(Clone, Copy, Default)]
struct Script {
    /// Send each reliable provisional twice at once (a retransmission).
    duplicate: bool,
    /// Also send one whose RSeq skips a number, before the PRACK.
    gap: bool,
    /// After the first PRACK, a second reliable provisional (180).
    second: bool,
    /// Wait for Bob's 2xx and put its answer in the reliable 183.
    answer_in_1xx: bool,
    /// With `answer_in_1xx`, the 2xx then goes without the SDP (RFC 3261
    /// section 13.2.1 lets it repeat the answer or not).
    strip_2xx_sdp: bool,
}

/// The first RSeq the relay uses.
const FIRST_RSEQ: u32 = 4711;

/// A reliable provisional waiting for its PRACK, retransmitted T1,
/// doubling, for 64*T1 (RFC 3262 section 3).
struct Outstanding {
    rseq: u32,
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// A stateless record-routing relay between Alice and Bob that answers
/// each re-INVITE from Alice, on Bob's behalf, with reliable provisional
/// responses, PRACKs them itself, and holds Bob's 2xx until they are
/// PRACKed.
struct Relay {
    script: Script,
    out: VecDeque<Transmit>,
    next_rseq: u32,
    /// The re-INVITE being served.
    reinvite: Option<Message>,
    outstanding: Option<Outstanding>,
    /// Provisionals to send once the outstanding one is PRACKed.
    queue: VecDeque<Message>,
    /// Bob's 2xx to the re-INVITE, until everything is PRACKed.
    held: Option<Vec<u8>>,
    /// Every PRACK that reached it (retransmissions included).
    pracks: Vec<Message>,
}

impl Relay {
    fn new(script: Script) -> Self {
        Relay {
            script,
            out: VecDeque::new(),
            next_rseq: FIRST_RSEQ,
            reinvite: None,
            outstanding: None,
            queue: VecDeque::new(),
            held: None,
            pracks: Vec::new(),
        }
    }

    fn send(&mut self, destination: SocketAddr, bytes: Vec<u8>) {
        self.out.push_back(Transmit {
            transport: Transport::Udp,
            destination,
            bytes: bytes.into(),
        });
    }

    /// A reliable provisional to the re-INVITE, numbered `rseq`.
    fn provisional(&self, code: u16, rseq: u32) -> Message {
        let invite = self.reinvite.as_ref().expect("serving a re-INVITE");
        let mut m = Message::response_to(invite, code, None);
        m.add_header(HeaderName::Require, "100rel");
        m.add_header(HeaderName::RSeq, &rseq.to_string());
        m
    }

    /// Send a reliable provisional and retransmit it until its PRACK.
    fn send_reliable(&mut self, now: Instant, mut m: Message) {
        let rseq = self.next_rseq;
        self.next_rseq += 1;
        m.set_header(HeaderName::RSeq, &rseq.to_string());
        let bytes = m.to_bytes();
        self.send(alice(), bytes.clone());
        if self.script.duplicate {
            self.send(alice(), bytes.clone());
        }
        let t1 = Duration::from_millis(500);
        self.outstanding = Some(Outstanding {
            rseq,
            bytes,
            next: now + t1,
            interval: t1,
            give_up: now + 64 * t1,
        });
    }

    /// Everything PRACKed (or given up on): the next provisional, else
    /// Bob's 2xx.
    fn next_step(&mut self, now: Instant) {
        self.outstanding = None;
        if let Some(m) = self.queue.pop_front() {
            self.send_reliable(now, m);
        } else if let Some(ok) = self.held.take() {
            self.send(alice(), ok);
        }
    }

    fn on_request(&mut self, now: Instant, source: SocketAddr, mut m: Message) {
        let method = m.method().cloned().unwrap();
        let in_dialog = m.to_header().unwrap().unwrap().tag().is_some();
        if method == Method::Prack {
            // Answered here: Bob never sees it.
            let rack = m.header(&HeaderName::RAck).unwrap_or("").to_string();
            let ok = Message::response_to(&m, 200, None);
            self.send(source, ok.to_bytes());
            self.pracks.push(m);
            let matched = self
                .outstanding
                .as_ref()
                .is_some_and(|o| rack.starts_with(&format!("{} ", o.rseq)));
            if matched {
                self.next_step(now);
            }
            return;
        }
        let reinvite = method == Method::Invite && in_dialog && source == alice();
        let seq = m.cseq().unwrap().unwrap().seq;
        let new_reinvite = reinvite
            && self
                .reinvite
                .as_ref()
                .map_or(true, |r| r.cseq().unwrap().unwrap().seq != seq);
        if new_reinvite {
            self.reinvite = Some(m.clone());
            if !self.script.answer_in_1xx {
                let first = self.provisional(183, 0);
                self.send_reliable(now, first);
                if self.script.gap {
                    let skipping = self.provisional(183, self.next_rseq + 1);
                    self.send(alice(), skipping.to_bytes());
                }
                if self.script.second {
                    self.queue.push_back(self.provisional(180, 0));
                }
            }
        }
        // Forward, loose routing: our Route goes, our Via comes on top.
        let ours = m
            .header(&HeaderName::Route)
            .is_some_and(|r| r.contains("5080"));
        if ours {
            m.remove_first_header(&HeaderName::Route);
        }
        if !in_dialog && method == Method::Invite {
            m.set_request_uri(&format!("sip:bob@{}", bob()));
            m.push_front_header(HeaderName::RecordRoute, &format!("<sip:{};lr>", relay()));
        }
        let branch = m.top_via().unwrap().unwrap().branch().unwrap().to_string();
        m.push_front_header(
            HeaderName::Via,
            &format!("SIP/2.0/UDP {};branch={branch}.r", relay()),
        );
        let to = if source == alice() { bob() } else { alice() };
        self.send(to, m.to_bytes());
    }

    fn on_response(&mut self, now: Instant, mut m: Message) {
        m.remove_first_header(&HeaderName::Via);
        let next = {
            let via = m.top_via().unwrap().unwrap();
            let port = via.rport().flatten().or(via.port).unwrap_or(5060);
            SocketAddr::new(via.host.parse().unwrap(), port)
        };
        let status = m.status().unwrap();
        let cseq = m.cseq().unwrap().unwrap();
        let to_reinvite = cseq.method == Method::Invite
            && self
                .reinvite
                .as_ref()
                .is_some_and(|r| r.cseq().unwrap().unwrap().seq == cseq.seq);
        if to_reinvite && (200..300).contains(&status) {
            if self.script.answer_in_1xx
                && self.held.is_none()
                && self.outstanding.is_none()
                && !self.answered_in_1xx()
            {
                // Bob's answer goes out first in a reliable 183.
                let mut early = self.provisional(183, 0);
                early.set_body(Some("application/sdp"), m.body());
                if self.script.strip_2xx_sdp {
                    m.set_body(None, b"");
                    m.remove_header(&HeaderName::ContentType);
                }
                self.held = Some(m.to_bytes());
                self.send_reliable(now, early);
                return;
            }
            if self.outstanding.is_some() || !self.queue.is_empty() {
                // RFC 3262 section 3: no 2xx before the PRACKs.
                self.held = Some(m.to_bytes());
                return;
            }
        }
        self.send(next, m.to_bytes());
    }

    /// Whether the 183 with Bob's answer went out for this re-INVITE.
    fn answered_in_1xx(&self) -> bool {
        self.next_rseq != FIRST_RSEQ
    }
}

impl Endpoint for Relay {
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, _: SocketAddr, bytes: &[u8]) {
        let Ok(m) = Message::parse(bytes) else {
            return;
        };
        if m.is_request() {
            self.on_request(now, source, m);
        } else {
            self.on_response(now, m);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some(o) = self.outstanding.as_mut() else {
            return;
        };
        if now < o.next {
            return;
        }
        if now >= o.give_up {
            self.next_step(now);
            return;
        }
        o.interval *= 2;
        o.next = (now + o.interval).min(o.give_up);
        let bytes = o.bytes.clone();
        self.send(alice(), bytes);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.outstanding.as_ref().map(|o| o.next)
    }
}

type Node = support::Node<Relay>;

/// Alice and Bob (both with one audio stream, auto-answering) with the
/// relay between them, and the call set up through it.
fn established(seed: u64, script: Script) -> (Network<Node>, DialogId) {
    let mut net = Network::new(seed, Instant::now());
    let mk = |aor: &str| party_with(aor, CallPolicy::AutoAnswer, true, no_frames);
    net.add(alice(), Node::party(mk("alice@atlanta.com"), alice()));
    net.add(relay(), Node::scripted(Relay::new(script)));
    net.add(bob(), Node::party(mk("bob@biloxi.com"), bob()));
    let call = net.call_with(
        alice(),
        "sip:bob@biloxi.com",
        InviteOptions::default().proxy(&relay().to_string()),
    );
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    (net, call)
}

fn relay_of(net: &Network<Node>) -> &Relay {
    net.endpoint(relay()).peer()
}

/// The RAck of every PRACK that reached the relay, retransmissions of the
/// same PRACK counted once.
fn racks(net: &Network<Node>) -> Vec<String> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for p in &relay_of(net).pracks {
        let branch = p.top_via().unwrap().unwrap().branch().unwrap().to_string();
        let rack = p.header(&HeaderName::RAck).unwrap().to_string();
        if !seen.iter().any(|(b, _)| *b == branch) {
            seen.push((branch, rack));
        }
    }
    seen.into_iter().map(|(_, r)| r).collect()
}

/// Alice puts the call on hold now.
fn hold(net: &mut Network<Node>, call: DialogId) -> u32 {
    let mark = net.mark();
    net.with_dialog(alice(), call, |d, now| d.hold(now))
        .unwrap();
    // Sent once the network runs.
    net.run_for(Duration::from_millis(1));
    let reinvite = net
        .sent_since(mark)
        .into_iter()
        .find(|s| s.source == alice() && s.message.method() == Some(&Method::Invite))
        .unwrap();
    assert!(
        reinvite
            .message
            .tokens(&HeaderName::Supported)
            .any(|t| t == "100rel"),
        "a re-INVITE says we can PRACK"
    );
    reinvite.message.cseq().unwrap().unwrap().seq
}

fn hang_up_and_settle(net: &mut Network<Node>, call: DialogId) {
    net.hang_up(alice(), call);
    net.settle();
}

#[test]
fn rfc3262_4_reliable_183_to_a_reinvite_is_pracked_in_the_dialog() {
    let (mut net, call) = established(1, Script::default());
    let seq = hold(&mut net, call);
    net.run_for(Duration::from_secs(2));
    assert_eq!(racks(&net), [format!("{FIRST_RSEQ} {seq} INVITE")]);
    // The PRACK is a request of the confirmed dialog: to Bob's target,
    // through the route set, CSeq above the re-INVITE's.
    let prack = &relay_of(&net).pracks[0];
    assert_eq!(prack.cseq().unwrap().unwrap().seq, seq + 1);
    assert!(prack.request_uri().unwrap().contains("5070"));
    // Bob's 2xx was released by the PRACK: the hold is done.
    assert_eq!(media_updates(net.node(alice())), [SENDONLY]);
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    hang_up_and_settle(&mut net, call);
}

#[test]
fn rfc3262_4_retransmitted_or_out_of_order_provisionals_are_not_pracked() {
    let script = Script {
        duplicate: true,
        gap: true,
        second: true,
        ..Script::default()
    };
    let (mut net, call) = established(2, script);
    let seq = hold(&mut net, call);
    net.run_for(Duration::from_secs(2));
    // The duplicate of 4711 and the 4713 that skipped 4712 got nothing;
    // the 180 numbered 4712, sent after the first PRACK, got its own.
    assert_eq!(
        racks(&net),
        [
            format!("{FIRST_RSEQ} {seq} INVITE"),
            format!("{} {seq} INVITE", FIRST_RSEQ + 1)
        ]
    );
    assert_eq!(media_updates(net.node(alice())), [SENDONLY]);
    hang_up_and_settle(&mut net, call);
}

#[test]
fn rfc3262_5_answer_in_a_reliable_provisional_to_a_reinvite_takes_effect() {
    for strip_2xx_sdp in [true, false] {
        let (mut net, call) = established(
            3,
            Script {
                answer_in_1xx: true,
                strip_2xx_sdp,
                ..Script::default()
            },
        );
        let mark = net.mark();
        let seq = hold(&mut net, call);
        net.run_for(Duration::from_secs(2));
        assert_eq!(racks(&net), [format!("{FIRST_RSEQ} {seq} INVITE")]);
        // Applied once: from the 183 (the only answer when the 2xx has no
        // SDP); a 2xx repeating it changes nothing and ends nothing.
        assert_eq!(media_updates(net.node(alice())), [SENDONLY]);
        let sent = net.sent_since(mark);
        let at = |pred: &dyn Fn(&support::Sent) -> bool| {
            sent.iter().find(|s| pred(s)).map(|s| s.at).unwrap()
        };
        let prack_at = at(&|s| s.message.method() == Some(&Method::Prack));
        // Bob's 2xx as the relay passes it on.
        let ok_at = at(&|s| {
            s.destination == alice()
                && s.message.status() == Some(200)
                && s.message.cseq().unwrap().unwrap().method == Method::Invite
        });
        assert!(prack_at < ok_at, "the 2xx waited for the PRACK");
        assert!(!sent
            .iter()
            .any(|s| s.message.method() == Some(&Method::Bye)));
        assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
        hang_up_and_settle(&mut net, call);
    }
}

#[test]
fn reinvites_with_reliable_provisionals_under_30_percent_loss() {
    let mut held = 0;
    for seed in 0..12 {
        let script = Script {
            second: seed % 2 == 0,
            answer_in_1xx: seed % 3 == 0,
            ..Script::default()
        };
        let (mut net, call) = established(100 + seed, script);
        net.set_link(lossy_30_percent());
        hold(&mut net, call);
        net.run_for(Duration::from_secs(40));
        // Either the hold went through, or the dialog ended with a reason
        // (the re-INVITE timed out); never a PRACK for a number twice.
        match net.state(alice(), call) {
            Some(DialogState::InDialog) => {
                assert_eq!(media_updates(net.node(alice())), [SENDONLY], "seed {seed}");
                held += 1;
                let r = racks(&net);
                let mut dedup = r.clone();
                dedup.dedup();
                assert_eq!(r, dedup, "seed {seed}");
                net.hang_up(alice(), call);
            }
            other => assert!(
                matches!(other, Some(DialogState::Error | DialogState::Terminated)),
                "seed {seed}: {other:?}"
            ),
        }
        net.settle();
    }
    assert!(held >= 8, "only {held} of 12 holds went through");
}

/// Alice and Bob directly, Bob tweaked; the call is up.
fn direct(seed: u64, tweak: impl Fn(&mut Party)) -> (Network<SimParty>, DialogId) {
    let mut net = two_parties(
        seed,
        party_with("alice@atlanta.com", CallPolicy::AutoAnswer, true, no_frames),
        party_with("bob@biloxi.com", CallPolicy::AutoAnswer, true, |b| {
            no_frames(b);
            tweak(b);
        }),
    );
    let call = net.call(alice(), BOB);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    // Every re-INVITE of Alice's requires 100rel.
    net.set_hook(rewrite("INVITE", |m| {
        if m.to_header().unwrap().unwrap().tag().is_some() {
            m.add_header(HeaderName::Require, "100rel");
        }
    }));
    (net, call)
}

#[test]
fn rfc3262_3_reinvite_requiring_100rel_is_answered_at_once() {
    let (mut net, call) = direct(4, |b| {
        b.config_mut().reliable_provisionals = ReliableProvisionals::Always;
    });
    let mark = net.mark();
    net.with_dialog(alice(), call, |d, now| d.hold(now))
        .unwrap();
    net.run_for(Duration::from_secs(1));
    // No provisional to make reliable: the 2xx comes straight away.
    let mut ladder = net.labels_since(mark);
    ladder.retain(|l| l != "100/INVITE");
    assert_eq!(ladder, ["INVITE", "200/INVITE", "ACK"]);
    assert_eq!(media_updates(net.node(alice())), [SENDONLY]);
    net.hang_up(alice(), call);
    net.settle();
}

#[test]
fn rfc3261_8_2_2_3_reinvite_requiring_100rel_turned_off_gets_420() {
    let (mut net, call) = direct(5, |b| {
        b.config_mut().reliable_provisionals = ReliableProvisionals::Never;
    });
    let mark = net.mark();
    net.with_dialog(alice(), call, |d, now| d.hold(now))
        .unwrap();
    net.run_for(Duration::from_secs(1));
    let sent = net.sent_since(mark);
    let refusal = sent
        .iter()
        .find(|s| s.message.status().is_some_and(|c| c >= 200))
        .unwrap();
    assert_eq!(refusal.message.status(), Some(420));
    assert_eq!(
        refusal.message.header(&HeaderName::Unsupported),
        Some("100rel")
    );
    // The session goes on as it was (RFC 3261 section 14.1).
    assert!(media_updates(net.node(alice())).is_empty());
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    net.hang_up(alice(), call);
    net.settle();
}

#[test]
fn rfc3262_4_rseq_order_starts_afresh_for_a_redirected_invite() {
    use sipparty_core::sim::Verdict;
    use std::cell::Cell;
    use std::rc::Rc;
    // Carol rings reliably with a high RSeq, then redirects Alice to Bob,
    // whose reliable 180 has a lower RSeq: a new request, a new order.
    let carol: SocketAddr = "127.0.0.1:5090".parse().unwrap();
    let always = |p: &mut Party| {
        p.config_mut().reliable_provisionals = ReliableProvisionals::Always;
    };
    let mut net: Network<SimParty> = Network::new(6, Instant::now());
    net.add(
        alice(),
        SimParty::new(
            party_with("alice@atlanta.com", CallPolicy::AutoAnswer, false, |_| {}),
            alice(),
        ),
    );
    net.add(
        carol,
        SimParty::new(
            party_with(
                "carol@chicago.com",
                CallPolicy::AskApplication,
                false,
                always,
            ),
            carol,
        ),
    );
    net.add(
        bob(),
        SimParty::new(
            party_with(
                "bob@biloxi.com",
                support::ring_then_answer(500),
                false,
                always,
            ),
            bob(),
        ),
    );
    // Carol's RSeq reads as nearly the highest there is; her PRACKs get
    // the real one back. Her 302 names Bob.
    const HIGH: u32 = 0x7fff_fff0;
    let real = Rc::new(Cell::new(0u32));
    let seen = real.clone();
    net.set_hook(move |d| {
        let Ok(mut m) = Message::parse(&d.bytes) else {
            return Verdict::Deliver;
        };
        if d.source == carol && m.header(&HeaderName::RSeq).is_some() {
            seen.set(m.header(&HeaderName::RSeq).unwrap().parse().unwrap());
            m.set_header(HeaderName::RSeq, &HIGH.to_string());
        } else if d.destination == carol && m.method() == Some(&Method::Prack) {
            let rack = m.header(&HeaderName::RAck).unwrap().replacen(
                &HIGH.to_string(),
                &seen.get().to_string(),
                1,
            );
            m.set_header(HeaderName::RAck, &rack);
        } else if d.source == carol && m.status() == Some(302) {
            m.add_header(HeaderName::Contact, &format!("<sip:bob@{}>", bob()));
        } else {
            return Verdict::Deliver;
        }
        Verdict::Replace(m.to_bytes())
    });
    let call = net.call(alice(), &format!("carol@{carol}"));
    net.run_for(Duration::from_millis(500));
    let carol_call = net.first_incoming(carol);
    net.with_incoming(carol, carol_call, |i, now| i.reject(now, 302))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    assert_ne!(real.get(), 0, "Carol rang reliably");
    let pracks: Vec<(SocketAddr, String)> = net
        .sent()
        .into_iter()
        .filter(|s| s.message.method() == Some(&Method::Prack))
        .map(|s| {
            let rack = s.message.header(&HeaderName::RAck).unwrap();
            (s.destination, rack.split(' ').next().unwrap().to_string())
        })
        .collect();
    let bob_pracks: Vec<&String> = pracks
        .iter()
        .filter(|(d, _)| *d == bob())
        .map(|(_, r)| r)
        .collect();
    assert_eq!(bob_pracks.len(), 1, "{pracks:?}");
    assert!(bob_pracks[0].parse::<u32>().unwrap() < HIGH);
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    net.hang_up(alice(), call);
    net.settle();
}
