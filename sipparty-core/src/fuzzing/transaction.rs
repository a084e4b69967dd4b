//! Fuzz entry points for the transaction layer.
//!
//! [`sequence`] decodes bytes into operations on a small [`TransactionLayer`]
//! (requests and responses from a few peers with colliding branches, TU
//! responses, new client transactions, CANCELs, transport errors, jumps of
//! the clock, raw bytes) and checks the layer's invariants after each:
//! the table never exceeds its cap, a handled timeout is never due again at
//! the same instant, and every id is terminated at most once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::message::Message;
use crate::transaction::{TransactionConfig, TransactionEvent, TransactionId, TransactionLayer};
use crate::transport::Transport;

const METHODS: [&str; 6] = ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "INFO"];
const BRANCHES: [&str; 5] = [
    ";branch=z9hG4bKa",
    ";branch=z9hG4bKb",
    ";branch=z9hG4bKc",
    ";branch=old2543",
    "",
];
const STATUSES: [u16; 8] = [100, 180, 183, 200, 202, 404, 486, 603];
const CAP: usize = 8;

fn peer(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5070 + u16::from(i % 2)))
}

fn request_text(method: &str, branch: &str, host: u8, seq: u8, to_tag: bool) -> String {
    let cseq_method = if method == "ACK" && seq % 3 == 0 {
        "INVITE" // a mismatched CSeq method now and then
    } else {
        method
    };
    format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.{host}:5070{branch}\r\n\
         From: <sip:alice@127.0.0.1>;tag=f{seq}\r\n\
         To: <sip:bob@127.0.0.1>{}\r\n\
         Call-ID: call{seq}\r\n\
         CSeq: {seq} {cseq_method}\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        if to_tag { ";tag=t1" } else { "" }
    )
}

fn response_text(status: u16, method: &str, branch: &str, seq: u8) -> String {
    format!(
        "SIP/2.0 {status} X\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060{branch}\r\n\
         From: <sip:alice@127.0.0.1>;tag=f{seq}\r\n\
         To: <sip:bob@127.0.0.1>;tag=t{seq}\r\n\
         Call-ID: call{seq}\r\n\
         CSeq: {seq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A cursor over the fuzz input.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
}

/// Drive a transaction layer with a sequence of messages and timer firings
/// decoded from `data`, panicking only if an invariant breaks.
pub fn sequence(data: &[u8]) {
    let config = TransactionConfig {
        max_transactions: CAP,
        ..TransactionConfig::default()
    };
    let start = Instant::now();
    let mut now = start;
    let mut layer = TransactionLayer::new(config);
    let mut input = Input { data };
    let mut servers: Vec<TransactionId> = Vec::new();
    let mut clients: Vec<TransactionId> = Vec::new();
    let mut terminated: HashSet<TransactionId> = HashSet::new();
    let mut branch_counter = 0u32;

    while let Some(op) = input.byte() {
        let arg = input.byte().unwrap_or(0);
        let arg2 = input.byte().unwrap_or(0);
        match op % 9 {
            0 | 1 => {
                let method = METHODS[usize::from(arg) % METHODS.len()];
                let branch = BRANCHES[usize::from(arg >> 3) % BRANCHES.len()];
                let text = request_text(method, branch, 1 + arg2 % 2, arg2 % 4, arg2 & 0x80 != 0);
                if let Ok(msg) = Message::parse(text.as_bytes()) {
                    layer.handle_message(now, msg, peer(arg2), Transport::Udp);
                }
            }
            2 => {
                let status = STATUSES[usize::from(arg) % STATUSES.len()];
                let method = METHODS[usize::from(arg2) % METHODS.len()];
                let branch = if arg2 & 0x80 != 0 {
                    // A branch of one of our client transactions.
                    format!(
                        ";branch=z9hG4bKc{}",
                        u32::from(arg >> 4) % (branch_counter + 1)
                    )
                } else {
                    BRANCHES[usize::from(arg >> 4) % BRANCHES.len()].to_owned()
                };
                let text = response_text(status, method, &branch, arg2 % 4);
                if let Ok(msg) = Message::parse(text.as_bytes()) {
                    layer.handle_message(now, msg, peer(arg2), Transport::Udp);
                }
            }
            3 => {
                if let Some(&id) = servers.get(usize::from(arg) % servers.len().max(1)) {
                    let status = STATUSES[usize::from(arg2) % STATUSES.len()];
                    let request = request_text("INVITE", BRANCHES[0], 1, 1, false);
                    if let Ok(req) = Message::parse(request.as_bytes()) {
                        let response = Message::response_to(&req, status, Some("t1"));
                        let _ = layer.send_response(now, id, response);
                    }
                }
            }
            4 => {
                let method = METHODS[usize::from(arg) % METHODS.len()];
                branch_counter += 1;
                let branch = format!(";branch=z9hG4bKc{branch_counter}");
                let text = request_text(method, &branch, 1, arg2 % 4, false);
                let transport = if arg2 & 0x80 != 0 {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                if let Ok(msg) = Message::parse(text.as_bytes()) {
                    if let Ok(id) = layer.send_request(now, msg, peer(arg2), transport) {
                        clients.push(id);
                    }
                }
            }
            5 => {
                now += Duration::from_millis(u64::from(arg) * 100 + u64::from(arg2));
                layer.handle_timeout(now);
                if let Some(next) = layer.poll_timeout() {
                    assert!(next > now, "a handled timeout is due again");
                }
            }
            6 => {
                let transport = if arg2 & 1 == 1 {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                layer.transport_error(now, peer(arg), transport);
            }
            7 => {
                if let Some(&id) = clients.get(usize::from(arg) % clients.len().max(1)) {
                    if let Ok(cancel) = layer.cancel(now, id) {
                        clients.push(cancel);
                    }
                }
            }
            _ => {
                let len = usize::from(arg).min(input.data.len());
                let (raw, rest) = input.data.split_at(len);
                input.data = rest;
                if let Ok(msg) = Message::parse(raw) {
                    layer.handle_message(now, msg, peer(arg2), Transport::Udp);
                }
            }
        }
        assert!(layer.len() <= CAP, "table grew beyond its cap");
        while layer.poll_transmit().is_some() {}
        while let Some(event) = layer.poll_event() {
            match event {
                TransactionEvent::Request { id, .. } => servers.push(id),
                TransactionEvent::Terminated { id } => {
                    assert!(terminated.insert(id), "{id} terminated twice");
                    assert!(!layer.contains(id), "{id} reported terminated but live");
                }
                _ => {}
            }
        }
    }
    // Everything that has a timer runs out of it.
    now += Duration::from_secs(600);
    layer.handle_timeout(now);
    // Every timer of RFC 3261 and RFC 6026 is at most 64*T1 (plus Timer D's
    // 32 s), so ten minutes later none may be armed.
    assert_eq!(
        layer.poll_timeout(),
        None,
        "timers left behind after ten minutes"
    );
}
