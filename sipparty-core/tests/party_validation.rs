//! RFC 3261 section 8.2: what a UAS answers to requests it cannot or will
//! not process, one table row per subsection, plus section 12.2.2 (481 and
//! 500) and section 8.2.2.2 (482).

use std::net::SocketAddr;
use std::time::Instant;

use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{Event, Input, Output, Party};
use sipparty_core::Transport;

const LOCAL: &str = "127.0.0.1:5070";
const PEER: &str = "127.0.0.1:5060";

struct Uas {
    party: Party,
    now: Instant,
    events: Vec<Event>,
}

impl Uas {
    fn new() -> Self {
        let mut party = Party::single_rtp_session_simple("bob@biloxi.com").unwrap();
        party.set_local_address(Transport::Udp, LOCAL.parse().unwrap());
        Uas {
            party,
            now: Instant::now(),
            events: Vec::new(),
        }
    }

    /// Feed `text` (with `\n` line ends turned into CRLF) and return every
    /// response sent.
    fn send(&mut self, text: &str) -> Vec<Message> {
        let bytes = text.replace('\n', "\r\n");
        let source: SocketAddr = PEER.parse().unwrap();
        self.party.handle_input(Input::Datagram {
            now: self.now,
            transport: Transport::Udp,
            source,
            destination: LOCAL.parse().unwrap(),
            bytes: bytes.as_bytes(),
        });
        let mut out = Vec::new();
        loop {
            match self.party.poll_output() {
                Output::Transmit(t) => out.push(Message::parse(&t.bytes).unwrap()),
                Output::Event(e) => self.events.push(e),
                Output::MediaTransmit(_) => {}
                _ => break,
            }
        }
        out
    }

    fn status(&mut self, text: &str) -> (u16, Message) {
        let out = self.send(text);
        let r = out
            .into_iter()
            .find(|m| m.status().is_some_and(|s| s >= 200))
            .expect("a final response");
        (r.status().unwrap(), r)
    }
}

fn request(method: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:bob@127.0.0.1:5070 SIP/2.0\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{method}{n}\n\
From: <sip:alice@atlanta.com>;tag=a1\n\
To: <sip:bob@biloxi.com>\n\
Call-ID: call-{method}-{n}\n\
CSeq: 1 {method}\n\
Max-Forwards: 70\n\
Contact: <sip:alice@127.0.0.1:5060>\n\
{extra}Content-Length: {len}\n\n{body}",
        n = extra.len(),
        len = body.len()
    )
}

#[test]
fn rfc3261_8_2_other_sip_version_gets_505() {
    let mut uas = Uas::new();
    let text = request("OPTIONS", "", "").replace("5070 SIP/2.0\n", "5070 SIP/3.0\n");
    let (code, _) = uas.status(&text);
    assert_eq!(code, 505);
}

#[test]
fn rfc3261_8_2_1_unknown_method_gets_501_with_allow() {
    let mut uas = Uas::new();
    let (code, resp) = uas.status(&request("FROBNICATE", "", ""));
    assert_eq!(code, 501);
    assert!(resp.header(&HeaderName::Allow).unwrap().contains("INVITE"));
}

#[test]
fn rfc3261_8_2_1_known_but_unsupported_method_gets_405_with_allow() {
    let mut uas = Uas::new();
    let (code, resp) = uas.status(&request("SUBSCRIBE", "Event: presence\n", ""));
    assert_eq!(code, 405);
    assert!(resp.header(&HeaderName::Allow).unwrap().contains("BYE"));
}

#[test]
fn rfc3261_8_2_2_1_unsupported_uri_scheme_gets_416() {
    let mut uas = Uas::new();
    let text = request("OPTIONS", "", "").replace(
        "OPTIONS sip:bob@127.0.0.1:5070",
        "OPTIONS http://example.com/",
    );
    let (code, _) = uas.status(&text);
    assert_eq!(code, 416);
}

#[test]
fn rfc3261_8_2_2_3_unknown_require_gets_420_with_unsupported() {
    let mut uas = Uas::new();
    let (code, resp) = uas.status(&request("INVITE", "Require: foo, timer\n", ""));
    assert_eq!(code, 420);
    assert_eq!(resp.header(&HeaderName::Unsupported), Some("foo"));
    // 100rel (RFC 3262) is understood: only the unknown tag is named.
    let (code, resp) = uas.status(&request("INVITE", "Require: 100rel, foo\n", ""));
    assert_eq!(code, 420);
    assert_eq!(resp.header(&HeaderName::Unsupported), Some("foo"));
}

#[test]
fn rfc3261_8_2_3_unreadable_body_gets_415_with_accept() {
    let mut uas = Uas::new();
    let (code, resp) = uas.status(&request(
        "INVITE",
        "Content-Type: application/x-foo\n",
        "hello",
    ));
    assert_eq!(code, 415);
    assert_eq!(resp.header(&HeaderName::Accept), Some("application/sdp"));
}

#[test]
fn rfc3261_8_2_3_content_encoding_gets_415() {
    let mut uas = Uas::new();
    let (code, _) = uas.status(&request(
        "INVITE",
        "Content-Type: application/sdp\nContent-Encoding: gzip\n",
        "xxxx",
    ));
    assert_eq!(code, 415);
}

#[test]
fn rfc3261_8_2_cseq_method_mismatch_gets_400() {
    let mut uas = Uas::new();
    let text = request("OPTIONS", "", "").replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    let out = uas.send(&text);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status(), Some(400));
}

#[test]
fn rfc3261_8_2_2_2_merged_request_gets_482() {
    let mut uas = Uas::new();
    uas.party
        .set_policy(sipparty_core::party::CallPolicy::AskApplication);
    let first = request("INVITE", "", "");
    let out = uas.send(&first);
    assert!(out.iter().any(|m| m.status() == Some(180)));
    // The same request forked to us again on another branch.
    let second = first.replace("branch=z9hG4bKINVITE0", "branch=z9hG4bKother");
    let (code, _) = uas.status(&second);
    assert_eq!(code, 482);
}

#[test]
fn rfc3261_12_2_2_request_for_unknown_dialog_gets_481() {
    let mut uas = Uas::new();
    let text = request("BYE", "", "").replace(
        "To: <sip:bob@biloxi.com>",
        "To: <sip:bob@biloxi.com>;tag=zz",
    );
    let (code, _) = uas.status(&text);
    assert_eq!(code, 481);
}

#[test]
fn rfc3261_12_2_2_out_of_order_cseq_gets_500() {
    let mut uas = Uas::new();
    let invite = request("INVITE", "", "").replace("CSeq: 1 INVITE", "CSeq: 10 INVITE");
    let out = uas.send(&invite);
    let ok = out
        .iter()
        .find(|m| m.status() == Some(200))
        .expect("auto-answered");
    let to = ok.header(&HeaderName::To).unwrap().to_string();
    let ack = request("ACK", "", "")
        .replace("To: <sip:bob@biloxi.com>", &format!("To: {to}"))
        .replace("Call-ID: call-ACK-0", "Call-ID: call-INVITE-0")
        .replace("CSeq: 1 ACK", "CSeq: 10 ACK");
    assert!(uas.send(&ack).is_empty());
    let info = request("INFO", "", "")
        .replace("To: <sip:bob@biloxi.com>", &format!("To: {to}"))
        .replace("Call-ID: call-INFO-0", "Call-ID: call-INVITE-0")
        .replace("CSeq: 1 INFO", "CSeq: 5 INFO");
    let (code, _) = uas.status(&info);
    assert_eq!(code, 500);
    let info = info
        .replace("CSeq: 5 INFO", "CSeq: 11 INFO")
        .replace("z9hG4bKINFO0", "z9hG4bKINFO1");
    let (code, _) = uas.status(&info);
    assert_eq!(code, 200);
}

#[test]
fn options_outside_a_dialog_lists_allow_accept_supported() {
    let mut uas = Uas::new();
    let (code, resp) = uas.status(&request("OPTIONS", "", ""));
    assert_eq!(code, 200);
    assert!(resp.header(&HeaderName::Allow).unwrap().contains("INVITE"));
    assert_eq!(resp.header(&HeaderName::Accept), Some("application/sdp"));
    assert!(resp.header(&HeaderName::Supported).is_some());
}

#[test]
fn message_outside_a_dialog_reaches_the_application() {
    let mut uas = Uas::new();
    let (code, _) = uas.status(&request(
        "MESSAGE",
        "Content-Type: text/plain\n",
        "hello bob",
    ));
    assert_eq!(code, 200);
    assert!(uas.events.iter().any(|e| matches!(
        e,
        Event::MessageReceived { body, dialog: None, .. } if body == b"hello bob"
    )));
}

#[test]
fn signalling_only_party_refuses_an_offer_with_488() {
    let mut uas = Uas::new();
    uas.party = Party::no_media_simple_calls("bob@biloxi.com").unwrap();
    uas.party
        .set_local_address(Transport::Udp, LOCAL.parse().unwrap());
    let sdp =
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
            .replace('\n', "\r\n");
    let (code, _) = uas.status(&request("INVITE", "Content-Type: application/sdp\n", &sdp));
    assert_eq!(code, 488);
}

#[test]
fn unacceptable_offer_gets_488() {
    let mut uas = Uas::new();
    let sdp = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 99\na=rtpmap:99 X-NOPE/8000\n".replace('\n', "\r\n");
    let (code, _) = uas.status(&request("INVITE", "Content-Type: application/sdp\n", &sdp));
    assert_eq!(code, 488);
    assert_eq!(uas.party.dialog_count(), 0);
}

#[test]
fn rfc3261_18_3_stream_data_is_framed_by_content_length_at_any_split() {
    let text = request("MESSAGE", "Content-Type: text/plain\n", "hello").replace('\n', "\r\n");
    let mut stream = b"\r\n\r\n".to_vec(); // keep-alive pings first (RFC 5626 4.4.1)
    stream.extend_from_slice(text.as_bytes());
    stream.extend_from_slice(text.replace("z9hG4bKMESSAGE", "z9hG4bKsecond").as_bytes());
    for split in [1, 7, 100, stream.len() - 1] {
        let mut party = Party::no_media_simple_calls("bob@biloxi.com").unwrap();
        party.set_local_address(Transport::Tcp, LOCAL.parse().unwrap());
        let now = Instant::now();
        for chunk in [&stream[..split], &stream[split..]] {
            party.handle_input(Input::StreamData {
                now,
                transport: Transport::Tcp,
                source: PEER.parse().unwrap(),
                destination: LOCAL.parse().unwrap(),
                bytes: chunk,
            });
        }
        let mut oks = 0;
        let mut messages = 0;
        let mut pongs = 0;
        loop {
            match party.poll_output() {
                Output::Transmit(t) if t.bytes == b"\r\n" => {
                    assert_eq!(t.transport, Transport::Tcp);
                    assert_eq!(t.destination, PEER.parse().unwrap());
                    pongs += 1;
                }
                Output::Transmit(t) => {
                    assert_eq!(t.transport, Transport::Tcp);
                    if Message::parse(&t.bytes).unwrap().status() == Some(200) {
                        oks += 1;
                    }
                }
                Output::Event(Event::MessageReceived { body, .. }) => {
                    assert_eq!(body, b"hello");
                    messages += 1;
                }
                Output::Event(_) | Output::MediaTransmit(_) => {}
                _ => break,
            }
        }
        assert_eq!((oks, messages), (2, 2), "split at {split}");
        // The ping is answered with a pong on the same connection.
        assert_eq!(pongs, 1, "split at {split}");
    }
}

#[test]
fn rfc4028_8_1_session_expires_below_min_se_gets_422() {
    let mut uas = Uas::new();
    let (code, resp) = uas.status(&request(
        "INVITE",
        "Session-Expires: 30\nSupported: timer\n",
        "",
    ));
    assert_eq!(code, 422);
    assert_eq!(resp.header(&HeaderName::MinSe), Some("90"));
    let (code, resp) = uas.status(
        &request("INVITE", "Session-Expires: 1800\nSupported: timer\n", "")
            .replace("z9hG4bKINVITE", "z9hG4bKok")
            .replace("call-INVITE", "call-ok"),
    );
    assert_eq!(code, 200);
    assert_eq!(
        resp.header(&HeaderName::SessionExpires),
        Some("1800;refresher=uac")
    );
    assert_eq!(resp.header(&HeaderName::Require), Some("timer"));
}

// RFC 3261 section 21.4.1 (and issue 6 s.3): a request that does not parse
// is answered statelessly when Via, From, To, Call-ID and CSeq can be read,
// with the status the problem calls for and a reason phrase naming it.

#[test]
fn rfc3261_21_4_1_unparseable_request_gets_400_naming_the_problem() {
    let mut uas = Uas::new();
    // Content-Length says more than the datagram holds (section 18.3).
    let text = request("OPTIONS", "", "").replace("Content-Length: 0", "Content-Length: 500");
    let out = uas.send(&text);
    assert_eq!(out.len(), 1, "one stateless answer");
    assert_eq!(out[0].status(), Some(400));
    assert_eq!(
        out[0].reason(),
        Some("Content-Length larger than the message")
    );
    // The echoed headers let the UAC match it (section 8.2.6.2).
    assert_eq!(out[0].call_id(), Some("call-OPTIONS-0"));
    assert!(out[0]
        .header(&HeaderName::Via)
        .unwrap()
        .contains("branch=z9hG4bKOPTIONS0"));
    assert_eq!(out[0].header(&HeaderName::CSeq), Some("1 OPTIONS"));
}

#[test]
fn rfc3261_21_4_15_request_uri_too_long_gets_414() {
    let mut uas = Uas::new();
    let long = format!("sip:{}@127.0.0.1:5070", "b".repeat(2000));
    let text =
        request("OPTIONS", "", "").replace("sip:bob@127.0.0.1:5070 SIP", &format!("{long} SIP"));
    let out = uas.send(&text);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status(), Some(414));
}

#[test]
fn rfc3261_8_2_6_2_unanswerable_garbage_is_dropped() {
    let mut uas = Uas::new();
    // Unparseable and without Call-ID: a response could not be matched,
    // so none is sent.
    let text = request("OPTIONS", "", "")
        .replace("Call-ID: call-OPTIONS-0\n", "")
        .replace("Content-Length: 0", "Content-Length: 500");
    assert!(uas.send(&text).is_empty());
    // The same with its Call-ID is answered: only the header was missing.
    let text = request("OPTIONS", "", "").replace("Content-Length: 0", "Content-Length: 500");
    assert_eq!(uas.send(&text).len(), 1);
    // An ACK is never answered (section 17.2.1), even a broken one.
    let text = request("ACK", "", "").replace("Content-Length: 0", "Content-Length: 500");
    assert!(uas.send(&text).is_empty());
    // Not a request at all.
    assert!(uas.send("hello world\n\n").is_empty());
    // A broken response is not answered either.
    assert!(uas.send("SIP/2.0 200 OK\nVia: x\n\n").is_empty());
}

#[test]
fn rfc3550_late_rtp_on_a_closed_media_address_is_not_sip() {
    let mut uas = Uas::new();
    // RTP version 2, PT 0, then RTCP BYE (PT 203): not answered, no panic.
    let rtp = [0x80u8, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1];
    let bye = [0x81u8, 203, 0x00, 0x01, 0, 0, 0, 1];
    for packet in [&rtp[..], &bye[..]] {
        uas.party.handle_input(Input::Datagram {
            now: uas.now,
            transport: Transport::Udp,
            source: PEER.parse().unwrap(),
            destination: "127.0.0.1:16384".parse().unwrap(),
            bytes: packet,
        });
        assert!(matches!(uas.party.poll_output(), Output::Timeout(_)));
    }
}
