//! A minimal forking proxy for the simulator (RFC 3261 section 16), shared
//! by the forking and forked-early-media flows: Alice calls through it, and
//! it rings every Bob at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use sipparty_core::message::{HeaderName, Message, Method};
use sipparty_core::sim::Endpoint;
use sipparty_core::transport::{Transmit, Transport};

/// The proxy's address.
pub fn proxy() -> SocketAddr {
    "127.0.0.1:5080".parse().unwrap()
}
/// Bob number `n` (from 1).
pub fn bob(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5070 + n))
}

/// A minimal forking proxy: an INVITE, and the CANCEL or non-2xx ACK of
/// it, go to every branch with a Via of ours whose branch is derived from
/// the request's (stateless, RFC 3261 section 16.11); responses lose our
/// Via and go back to the next one, except that a non-2xx final response
/// is held until every branch has sent one (the best-response rule of
/// section 16.7, simplified: the last one goes). In-dialog requests bypass
/// it (no Record-Route).
#[derive(Default)]
pub struct ForkingProxy {
    /// Where each INVITE goes.
    pub branches: Vec<SocketAddr>,
    /// What it sends next.
    pub out: VecDeque<Transmit>,
    /// Per Call-ID, the branches that answered with a non-2xx final.
    pub failed: HashMap<String, HashSet<String>>,
}

impl ForkingProxy {
    fn forward(&mut self, msg: Message) {
        if msg.is_request() {
            let branch = msg
                .top_via()
                .unwrap()
                .unwrap()
                .branch()
                .unwrap()
                .to_string();
            for (i, target) in self.branches.clone().into_iter().enumerate() {
                let mut m = msg.clone();
                m.set_request_uri(&format!("sip:bob@{target}"));
                m.push_front_header(
                    HeaderName::Via,
                    &format!("SIP/2.0/UDP {};branch={branch}.{i}", proxy()),
                );
                self.send(target, m.to_bytes());
            }
        } else {
            let mut m = msg;
            let status = m.status().unwrap();
            let is_invite = m.cseq().unwrap().unwrap().method == Method::Invite;
            if is_invite && status >= 300 {
                let branch = m.top_via().unwrap().unwrap().branch().unwrap().to_string();
                let call_id = m.call_id().unwrap().to_string();
                let failed = self.failed.entry(call_id).or_default();
                failed.insert(branch);
                if failed.len() < self.branches.len() {
                    return;
                }
            }
            m.remove_first_header(&HeaderName::Via);
            let next = {
                let via = m.top_via().unwrap().unwrap();
                let port = via.rport().flatten().or(via.port).unwrap_or(5060);
                SocketAddr::new(via.host.parse().unwrap(), port)
            };
            self.send(next, m.to_bytes());
        }
    }

    fn send(&mut self, destination: SocketAddr, bytes: Vec<u8>) {
        self.out.push_back(Transmit {
            transport: Transport::Udp,
            destination,
            bytes: bytes.into(),
        });
    }
}

impl Endpoint for ForkingProxy {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, bytes: &[u8]) {
        if let Ok(m) = Message::parse(bytes) {
            self.forward(m)
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
}
