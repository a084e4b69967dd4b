//! UAC corner cases driven message by message: forking (a second 2xx is
//! ACKed then ended with BYE), a 200 racing our CANCEL (ACK then BYE),
//! 3xx redirects followed once, early media in a 183, and 100rel PRACK.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{DialogState, Event, Input, InviteOptions, Output, Party};
use sipparty_core::Transport;

mod support;

const ALICE: &str = "127.0.0.1:5060";
const PROXY: &str = "127.0.0.1:5080";

struct Uac {
    party: Party,
    now: Instant,
    events: Vec<Event>,
}

impl Uac {
    fn new() -> Self {
        let mut party = Party::no_media_simple_calls("alice@atlanta.com").unwrap();
        party.set_local_address(Transport::Udp, ALICE.parse().unwrap());
        Uac {
            party,
            now: Instant::now(),
            events: Vec::new(),
        }
    }

    fn drain(&mut self) -> Vec<(SocketAddr, Message)> {
        let mut out = Vec::new();
        loop {
            match self.party.poll_output() {
                Output::Transmit(t) => out.push((t.destination, Message::parse(&t.bytes).unwrap())),
                Output::Event(e) => self.events.push(e),
                Output::MediaTransmit(_) => {}
                _ => break,
            }
        }
        out
    }

    fn feed(&mut self, msg: &Message) -> Vec<(SocketAddr, Message)> {
        let bytes = msg.to_bytes();
        self.party.handle_input(Input::Datagram {
            now: self.now,
            transport: Transport::Udp,
            source: PROXY.parse().unwrap(),
            destination: ALICE.parse().unwrap(),
            bytes: &bytes,
        });
        self.drain()
    }

    fn advance(&mut self, d: Duration) -> Vec<(SocketAddr, Message)> {
        self.now += d;
        self.party.handle_input(Input::Timeout(self.now));
        self.drain()
    }

    fn states(&self) -> Vec<DialogState> {
        support::dialog_states(&self.events)
    }
}

/// A response to `req` from the callee with To tag `tag` and a Contact.
fn answer(req: &Message, code: u16, tag: &str, contact: &str) -> Message {
    let mut r = Message::response_to(req, code, Some(tag));
    if !contact.is_empty() {
        r.add_header(HeaderName::Contact, contact);
    }
    r
}

fn methods(out: &[(SocketAddr, Message)]) -> Vec<String> {
    out.iter()
        .map(|(_, m)| {
            m.method()
                .map(|x| x.as_str().to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn start(uac: &mut Uac) -> Message {
    let now = uac.now;
    uac.party
        .invite(now, "bob@biloxi.com", InviteOptions::default().proxy(PROXY))
        .unwrap();
    let out = uac.drain();
    assert_eq!(methods(&out), ["INVITE"]);
    assert_eq!(out[0].0, PROXY.parse::<SocketAddr>().unwrap());
    // The outbound proxy is a pre-loaded loose route (section 8.1.2).
    assert_eq!(
        out[0].1.header(&HeaderName::Route),
        Some("<sip:127.0.0.1:5080;lr>")
    );
    out[0].1.clone()
}

#[test]
fn forked_second_2xx_is_acked_and_ended_with_bye_rfc3261_13_2_2_4() {
    let mut uac = Uac::new();
    let invite = start(&mut uac);
    uac.feed(&answer(&invite, 180, "b1", "<sip:bob@127.0.0.1:5071>"));
    uac.feed(&answer(&invite, 180, "b2", "<sip:bob@127.0.0.1:5072>"));
    let out = uac.feed(&answer(&invite, 200, "b1", "<sip:bob@127.0.0.1:5071>"));
    assert_eq!(methods(&out), ["ACK"]);
    // The ACK goes by the route set (the proxy had not Record-Routed: to
    // the remote target).
    assert_eq!(out[0].0, "127.0.0.1:5071".parse::<SocketAddr>().unwrap());
    let out = uac.feed(&answer(&invite, 200, "b2", "<sip:bob@127.0.0.1:5072>"));
    assert_eq!(methods(&out), ["ACK", "BYE"]);
    for (dest, m) in &out {
        assert_eq!(*dest, "127.0.0.1:5072".parse::<SocketAddr>().unwrap());
        assert_eq!(m.to_header().unwrap().unwrap().tag(), Some("b2"));
    }
    // A retransmitted 2xx of the chosen branch is ACKed again, nothing else.
    let out = uac.feed(&answer(&invite, 200, "b1", "<sip:bob@127.0.0.1:5071>"));
    assert_eq!(methods(&out), ["ACK"]);
    // The call's states; the fork "b2" had its own early dialog id, which
    // ended when "b1" answered.
    let (call, fork) = match uac
        .events
        .iter()
        .filter_map(|e| match e {
            Event::EarlyDialog { call, dialog, .. } => Some((*call, *dialog)),
            _ => None,
        })
        .collect::<Vec<_>>()[..]
    {
        [(c, d1), (c2, d2)] if c == d1 && c2 == c => (c, d2),
        ref other => panic!("early dialogs: {other:?}"),
    };
    let states_of = |id| {
        uac.events
            .iter()
            .filter_map(|e| match e {
                Event::DialogStateChanged { id: i, state } if *i == id => Some(*state),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        states_of(call),
        [
            DialogState::InitiatingDialog,
            DialogState::Early,
            DialogState::InDialog
        ]
    );
    assert_eq!(
        states_of(fork),
        [DialogState::Early, DialogState::Terminated]
    );
}

#[test]
fn ok_racing_cancel_is_acked_then_ended_with_bye_rfc3261_9_1() {
    let mut uac = Uac::new();
    let invite = start(&mut uac);
    uac.feed(&answer(&invite, 180, "b1", "<sip:bob@127.0.0.1:5071>"));
    let id = uac.party.dialog_ids().next().unwrap();
    let now = uac.now;
    uac.party.dialog(id).unwrap().terminate(now).unwrap();
    let out = uac.drain();
    assert_eq!(methods(&out), ["CANCEL"]);
    let cancel = out[0].1.clone();
    assert_eq!(
        cancel.cseq().unwrap().unwrap().seq,
        invite.cseq().unwrap().unwrap().seq
    );
    assert_eq!(
        cancel.top_via().unwrap().unwrap().branch(),
        invite.top_via().unwrap().unwrap().branch()
    );
    // Bob answered before the CANCEL reached him.
    let out = uac.feed(&answer(&invite, 200, "b1", "<sip:bob@127.0.0.1:5071>"));
    assert_eq!(methods(&out), ["ACK", "BYE"]);
    let bye = out[1].1.clone();
    uac.feed(&answer(&cancel, 200, "b1", ""));
    uac.feed(&answer(&bye, 200, "b1", ""));
    assert_eq!(uac.party.dialog_state(id), Some(DialogState::Terminated));
    assert!(uac.party.last_error(id).is_none());
    uac.advance(Duration::from_secs(40));
    assert!(uac.party.is_idle());
}

#[test]
fn redirect_is_followed_once_rfc3261_8_1_3_4() {
    let mut uac = Uac::new();
    let invite = start(&mut uac);
    let out = uac.feed(&answer(&invite, 302, "r1", "<sip:bob@127.0.0.1:5090>"));
    // The transaction ACKs the 302 (to the proxy); the new INVITE goes to
    // the Contact with CSeq one higher and no pre-loaded route.
    let invites: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method().is_some_and(|x| x.as_str() == "INVITE"))
        .collect();
    assert_eq!(invites.len(), 1);
    let (dest, second) = invites[0].clone();
    assert_eq!(dest, "127.0.0.1:5090".parse::<SocketAddr>().unwrap());
    assert_eq!(second.request_uri(), Some("sip:bob@127.0.0.1:5090"));
    assert_eq!(
        second.cseq().unwrap().unwrap().seq,
        invite.cseq().unwrap().unwrap().seq + 1
    );
    assert_eq!(second.call_id(), invite.call_id());
    assert!(second.header(&HeaderName::Route).is_none());
    // A second redirect ends the call with it.
    let out = uac.feed(&answer(&second, 302, "r2", "<sip:bob@127.0.0.1:5091>"));
    assert!(methods(&out).iter().all(|m| m == "ACK"));
    let id = uac.party.dialog_ids().next();
    assert!(id.is_none(), "call is over");
    let last = uac.states();
    assert_eq!(last.last(), Some(&DialogState::Error));
    let err = uac.events.iter().rev().find_map(|e| match e {
        Event::DialogStateChanged { id, .. } => uac.party.last_error(*id).cloned(),
        _ => None,
    });
    assert_eq!(err.unwrap().to_string(), "302 Moved Temporarily");
}

#[test]
fn reliable_provisional_is_pracked_rfc3262() {
    let mut uac = Uac::new();
    let invite = start(&mut uac);
    let mut ringing = answer(&invite, 180, "b1", "<sip:bob@127.0.0.1:5071>");
    ringing.add_header(HeaderName::Require, "100rel");
    ringing.add_header(HeaderName::RSeq, "4711");
    let out = uac.feed(&ringing);
    assert_eq!(methods(&out), ["PRACK"]);
    let prack = &out[0].1;
    assert_eq!(prack.header(&HeaderName::RAck), Some("4711 1 INVITE"));
    assert_eq!(prack.to_header().unwrap().unwrap().tag(), Some("b1"));
    assert_eq!(out[0].0, "127.0.0.1:5071".parse::<SocketAddr>().unwrap());
}

/// RFC 3262 section 4: after a reliable 180 (RSeq 4711), its
/// retransmission and a 183 that skips 4712 are neither PRACKed nor
/// processed (no Progress event); 4712 then is.
#[test]
fn repeated_or_out_of_order_reliable_provisionals_are_ignored_rfc3262_4() {
    let mut uac = Uac::new();
    let invite = start(&mut uac);
    let reliable = |code: u16, rseq: &str| {
        let mut r = answer(&invite, code, "b1", "<sip:bob@127.0.0.1:5071>");
        r.add_header(HeaderName::Require, "100rel");
        r.add_header(HeaderName::RSeq, rseq);
        r
    };
    let progress = |uac: &Uac| {
        uac.events
            .iter()
            .filter_map(|e| match e {
                Event::Progress { code, .. } => Some(*code),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(methods(&uac.feed(&reliable(180, "4711"))), ["PRACK"]);
    assert_eq!(progress(&uac), [180]);
    // The retransmission and the gap: nothing sent, nothing reported.
    assert!(uac.feed(&reliable(180, "4711")).is_empty());
    assert!(uac.feed(&reliable(183, "4713")).is_empty());
    assert_eq!(progress(&uac), [180]);
    let out = uac.feed(&reliable(183, "4712"));
    assert_eq!(methods(&out), ["PRACK"]);
    assert_eq!(out[0].1.header(&HeaderName::RAck), Some("4712 1 INVITE"));
    assert_eq!(progress(&uac), [180, 183]);
}

#[test]
fn early_dialog_from_183_then_200_confirms_it() {
    let mut uac = Uac::new();
    let invite = start(&mut uac);
    uac.feed(&answer(&invite, 183, "b1", "<sip:bob@127.0.0.1:5071>"));
    assert!(uac
        .events
        .iter()
        .any(|e| matches!(e, Event::Progress { code: 183, .. })));
    let mut ok = answer(&invite, 200, "b1", "<sip:bob@127.0.0.1:5073>");
    ok.add_header(HeaderName::RecordRoute, "<sip:127.0.0.1:5080;lr>");
    let out = uac.feed(&ok);
    assert_eq!(methods(&out), ["ACK"]);
    // The 2xx's route set and Contact replace the early dialog's: the ACK
    // goes to the Record-Routed proxy with the new target in the URI.
    assert_eq!(out[0].0, PROXY.parse::<SocketAddr>().unwrap());
    assert_eq!(out[0].1.request_uri(), Some("sip:bob@127.0.0.1:5073"));
    assert_eq!(
        out[0].1.header(&HeaderName::Route),
        Some("<sip:127.0.0.1:5080;lr>")
    );
}

#[test]
fn session_interval_too_small_is_retried_with_min_se_rfc4028_7_4() {
    let mut uac = Uac::new();
    uac.party.config_mut().session_expires = Some(Duration::from_secs(90));
    let invite = start(&mut uac);
    assert_eq!(invite.header(&HeaderName::SessionExpires), Some("90"));
    let mut too_small = answer(&invite, 422, "b1", "");
    too_small.add_header(HeaderName::MinSe, "1800");
    let out = uac.feed(&too_small);
    let again: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method().is_some_and(|x| x.as_str() == "INVITE"))
        .collect();
    assert_eq!(again.len(), 1);
    let second = &again[0].1;
    assert_eq!(second.header(&HeaderName::SessionExpires), Some("1800"));
    assert_eq!(second.cseq().unwrap().unwrap().seq, 2);
    // A second 422 ends the call with it.
    let mut again_422 = answer(second, 422, "b1", "");
    again_422.add_header(HeaderName::MinSe, "3600");
    uac.feed(&again_422);
    assert_eq!(uac.states().last(), Some(&DialogState::Error));
}
