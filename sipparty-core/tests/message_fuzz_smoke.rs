//! The fuzz entry points on deterministic mutations of real messages: no
//! input may panic (a quick stand-in for the cargo-fuzz runs in CI).

use sipparty_core::fuzzing::message as fuzz;
use sipparty_core::{Random, SeededRandom};

const INVITE: &[u8] = include_bytes!("../../samples/invite.sip");

const SPECIAL: &[u8] = b"\r\n \t:;,<>\"\\@%[]?=/()*0\xff\x00";

fn mutate(rng: &mut SeededRandom, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.next_u64() % 4 {
        if m.is_empty() {
            break;
        }
        let at = (rng.next_u64() % m.len() as u64) as usize;
        match rng.next_u64() % 4 {
            0 => m[at] = SPECIAL[(rng.next_u64() % SPECIAL.len() as u64) as usize],
            1 => {
                m.remove(at);
            }
            2 => m.insert(
                at,
                SPECIAL[(rng.next_u64() % SPECIAL.len() as u64) as usize],
            ),
            _ => m.truncate(at),
        }
    }
    m
}

#[test]
fn fuzz_entry_points_survive_mutated_messages() {
    let mut rng = SeededRandom::new(4475);
    let response = b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/TCP [::1]:5060;rport\r\nTo: \"B\" <sip:b@h>;tag=2\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\nContact: *\r\nRecord-Route: <sip:p;lr>, <sip:q;lr>\r\nContent-Type: multipart/mixed;boundary=b\r\nContent-Length: 20\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
    for base in [INVITE, &response[..]] {
        for _ in 0..3000 {
            let m = mutate(&mut rng, base);
            fuzz::datagram(&m);
            fuzz::stream(&m);
            let mut h = vec![(rng.next_u64() % 256) as u8];
            let start = (rng.next_u64() % m.len().max(1) as u64) as usize;
            h.extend_from_slice(&m[start.min(m.len())..(start + 80).min(m.len())]);
            fuzz::headers(&h);
            fuzz::uri(&m[start.min(m.len())..(start + 40).min(m.len())]);
        }
    }
    for b in 0..=255u8 {
        fuzz::headers(&[b]);
        fuzz::headers(&[b, b'"', b'<', b';']);
    }
}
