//! One decode at a time, to see where `message-callgrind decode` goes (a
//! separate binary so that the main driver's code, and its counts, stay
//! as they were).
//!
//! `message-one OP N` decodes one of the six headers of
//! `message-callgrind decode` (`via`, `from`, `to`, `cseq`, `callid`,
//! `contact`) N times. Per-operation cost = (Ir at N - Ir at 0) / N:
//!
//! ```text
//! cargo build --release
//! for n in 0 1000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/message-one via $n 2>&1 | grep refs; done
//! ```

use std::hint::black_box;

use sipparty_core::message::{parse_datagram, Limits};

const INVITE: &[u8] = include_bytes!("../../../../../samples/invite.sip");

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "via".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let view = parse_datagram(INVITE, &Limits::default()).unwrap();
    let mut acc = 0usize;
    for _ in 0..n {
        acc += match op.as_str() {
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
            "to" => black_box(&view)
                .headers()
                .to()
                .unwrap()
                .unwrap()
                .uri()
                .host
                .len(),
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
