//! Fuzz entry points for the Party.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::party::{CallPolicy, Input, InviteOptions, Output, Party};
use crate::transport::Transport;

/// Requests and responses the sequence draws from, with `{t}` (a tag),
/// `{c}` (a Call-ID) and `{n}` (a CSeq number) filled from the input.
const TEMPLATES: &[&str] = &[
    "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{b}\r\nFrom: <sip:alice@a.com>;tag={t}\r\nTo: <sip:bob@b.com>\r\nCall-ID: {c}\r\nCSeq: {n} INVITE\r\nContact: <sip:alice@127.0.0.1:5060>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{b}\r\nFrom: <sip:alice@a.com>;tag={t}\r\nTo: <sip:bob@b.com>;tag={u}\r\nCall-ID: {c}\r\nCSeq: {n} INVITE\r\nContact: <sip:alice@127.0.0.1:5060>\r\nContent-Type: application/sdp\r\nContent-Length: 98\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n",
    "ACK sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{b}\r\nFrom: <sip:alice@a.com>;tag={t}\r\nTo: <sip:bob@b.com>;tag={u}\r\nCall-ID: {c}\r\nCSeq: {n} ACK\r\nContent-Length: 0\r\n\r\n",
    "BYE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{b}\r\nFrom: <sip:alice@a.com>;tag={t}\r\nTo: <sip:bob@b.com>;tag={u}\r\nCall-ID: {c}\r\nCSeq: {n} BYE\r\nContent-Length: 0\r\n\r\n",
    "CANCEL sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{b}\r\nFrom: <sip:alice@a.com>;tag={t}\r\nTo: <sip:bob@b.com>\r\nCall-ID: {c}\r\nCSeq: {n} CANCEL\r\nContent-Length: 0\r\n\r\n",
    "OPTIONS sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{b}\r\nFrom: <sip:alice@a.com>;tag={t}\r\nTo: <sip:bob@b.com>\r\nCall-ID: {c}\r\nCSeq: {n} OPTIONS\r\nRequire: {u}\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{b}\r\nFrom: <sip:bob@b.com>;tag={t}\r\nTo: <sip:carol@c.com>;tag={u}\r\nCall-ID: {c}\r\nCSeq: {n} INVITE\r\nContact: <sip:carol@127.0.0.1:5080>\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{b}\r\nFrom: <sip:bob@b.com>;tag={t}\r\nTo: <sip:carol@c.com>;tag={u}\r\nCall-ID: {c}\r\nCSeq: {n} INVITE\r\nRequire: 100rel\r\nRSeq: {n}\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{b}\r\nFrom: <sip:bob@b.com>;tag={t}\r\nTo: <sip:carol@c.com>;tag={u}\r\nCall-ID: {c}\r\nCSeq: {n} INVITE\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"{u}\"\r\nContent-Length: 0\r\n\r\n",
    "MESSAGE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{b}\r\nFrom: <sip:alice@a.com>;tag={t}\r\nTo: <sip:bob@b.com>\r\nCall-ID: {c}\r\nCSeq: {n} MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
];

/// Drive a Party with a sequence of messages, commands and timer firings decoded from `data`.
///
/// Every byte pair is one step: the first picks what to do, the second
/// parametrises it. At the end the Party must still be able to place a
/// call, which the function checks (a failure panics, which the fuzzer
/// reports).
pub fn sequence(data: &[u8]) {
    let local: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5070));
    let peer: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5060));
    let Ok(mut party) = Party::single_rtp_session_simple("bob@b.com") else {
        return;
    };
    party.set_local_address(Transport::Udp, local);
    let policy = match data.first().copied().unwrap_or(0) % 4 {
        0 => CallPolicy::AutoAnswer,
        1 => CallPolicy::RingThenAnswer {
            delay: Duration::from_millis(100),
        },
        2 => CallPolicy::Reject { code: 486 },
        _ => CallPolicy::AskApplication,
    };
    party.set_policy(policy);
    // The harness needs some instant to count from; the Party itself never
    // reads the clock, and nothing depends on this value.
    let start = Instant::now();
    let mut now = start;
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for pair in data.chunks(2).take(512) {
        let (op, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        match op % 8 {
            0..=2 => {
                let t = TEMPLATES[usize::from(arg) % TEMPLATES.len()];
                let msg = t
                    .replace("{b}", &format!("b{}", arg % 4))
                    .replace("{t}", &format!("t{}", arg % 3))
                    .replace("{u}", &format!("u{}", op % 3))
                    .replace("{c}", &format!("c{}", arg % 2))
                    .replace("{n}", &(u32::from(arg % 5) + 1).to_string());
                party.handle_input(Input::Datagram {
                    now,
                    transport: Transport::Udp,
                    source: peer,
                    destination: local,
                    bytes: msg.as_bytes(),
                });
            }
            3 => {
                // Raw bytes from the input itself, as a datagram.
                let len = usize::from(arg).min(data.len());
                party.handle_input(Input::Datagram {
                    now,
                    transport: Transport::Udp,
                    source: peer,
                    destination: local,
                    bytes: &data[..len],
                });
            }
            4 => {
                now += Duration::from_millis(u64::from(arg) * 50);
                party.handle_input(Input::Timeout(now));
            }
            5 => {
                let _ = party.invite(now, "carol@127.0.0.1:5080", InviteOptions::default());
            }
            6 => {
                let ids: Vec<_> = party.dialog_ids().collect();
                if let Some(id) = ids.get(usize::from(arg) % ids.len().max(1)) {
                    if let Some(d) = party.dialog(*id) {
                        let _ = match arg % 4 {
                            0 => d.terminate(now),
                            1 => d.hold(now),
                            2 => d.resume(now),
                            _ => d.send_dtmf(now, "1#"),
                        };
                    }
                    if let Some(inc) = party.incoming(*id) {
                        let _ = if arg % 2 == 0 {
                            inc.accept(now)
                        } else {
                            inc.reject(now, 486)
                        };
                    }
                }
            }
            _ => {
                // Echo back something we sent (a reflection attack).
                if let Some(b) = sent.get(usize::from(arg) % sent.len().max(1)).cloned() {
                    party.handle_input(Input::Datagram {
                        now,
                        transport: Transport::Udp,
                        source: peer,
                        destination: local,
                        bytes: &b,
                    });
                }
            }
        }
        while let Output::Transmit(_) | Output::Event(_) | Output::MediaTransmit(_) = {
            let o = party.poll_output();
            if let Output::Transmit(t) = &o {
                if sent.len() < 32 {
                    sent.push(t.bytes.to_vec());
                }
            }
            o
        } {}
    }
    // The party must still work.
    let before = party.dialog_count();
    let id = party.invite(now, "dave@127.0.0.1:5090", InviteOptions::default());
    assert!(
        id.is_ok() || before >= party.config().max_dialogs,
        "cannot place a call: {id:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_never_panic_and_leave_a_working_party() {
        let mut rng = crate::SeededRandom::new(42);
        use crate::Random;
        for len in [0usize, 1, 2, 17, 64, 300] {
            for _ in 0..40 {
                let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                sequence(&data);
            }
        }
    }
}
