//! One decode at a time, to see where `message-callgrind decode` goes (a
//! separate binary so that the main driver's code, and its counts, stay
//! as they were).
//!
//! `message-callgrind OP N` runs OP (`parse`, `decode`, `respond`, or one
//! of the six decodes alone: `via`, `from`, `to`, `cseq`, `callid`,
//! `contact`) N times.
//! Per-operation cost = (Ir at N - Ir at 0) / N:
//!
//! ```text
//! cargo build --release
//! for n in 0 1000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/message-callgrind parse $n 2>&1 | grep refs; done
//! ```
//! or `./count.sh` which does that for every operation.

use std::hint::black_box;

use sipparty_core::message::{parse_datagram, Limits, Message, MessageView};

const INVITE: &[u8] = include_bytes!("../../../../../samples/invite.sip");

/// Decode the six headers every transaction and dialog needs (as in
/// `sipparty-core/benches/message.rs`).
#[inline(never)]
fn decode_six(view: &MessageView<'_>) -> usize {
    let h = view.headers();
    let via = h.top_via().unwrap().unwrap();
    let from = h.from().unwrap().unwrap();
    let to = h.to().unwrap().unwrap();
    let cseq = h.cseq().unwrap().unwrap();
    let call_id = h.call_id().unwrap();
    let contact = h.contacts().next().unwrap().unwrap();
    via.branch().map_or(0, str::len)
        + from.tag().map_or(0, str::len)
        + to.uri().host.len()
        + cseq.seq as usize
        + call_id.len()
        + usize::from(contact.address().is_some())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "parse".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let limits = Limits::default();
    let view = parse_datagram(INVITE, &limits).unwrap();
    let request = Message::parse(INVITE).unwrap();
    let mut out = Vec::with_capacity(1024);
    let mut acc = 0usize;
    for _ in 0..n {
        acc += match op.as_str() {
            "parse" => parse_datagram(black_box(INVITE), &limits)
                .unwrap()
                .header_count(),
            "decode" => decode_six(black_box(&view)),
            "respond" => {
                out.clear();
                Message::response_to(black_box(&request), 180, Some("a6c85cf")).write_to(&mut out);
                out.len()
            }
            // One header at a time, to see where `decode` goes.
            "via" => black_box(&view)
                .headers()
                .top_via()
                .unwrap()
                .unwrap()
                .branch()
                .map_or(0, str::len),
            "from" => black_box(&view)
                .headers()
                .from()
                .unwrap()
                .unwrap()
                .tag()
                .map_or(0, str::len),
            "to" => black_box(&view).headers().to().unwrap().unwrap().uri().host.len(),
            "cseq" => black_box(&view).headers().cseq().unwrap().unwrap().seq as usize,
            "callid" => black_box(&view).headers().call_id().unwrap().len(),
            "contact" => usize::from(
                black_box(&view)
                    .headers()
                    .contacts()
                    .next()
                    .unwrap()
                    .unwrap()
                    .address()
                    .is_some(),
            ),
            other => panic!("unknown op {other}"),
        };
    }
    println!("{acc}");
}
