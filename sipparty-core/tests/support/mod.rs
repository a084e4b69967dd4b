//! Scaffolding shared by the simulator call-flow tests: two Parties on
//! loopback addresses in a [`Network`], and the few moves every flow makes
//! (place a call, hang up, read states, list the messages sent, check that
//! nothing is left behind).
//!
//! Each test binary includes this with `mod support;` and uses what it
//! needs, so some items are unused in some binaries.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::party::{
    CallPolicy, DialogHandle, DialogId, DialogState, Event, InviteOptions, Party, SimParty,
};
use sipparty_core::sim::{Datagram, Network};

/// Alice's SIP address (the caller in most flows).
pub fn alice_addr() -> SocketAddr {
    "127.0.0.1:5060".parse().expect("literal address")
}

/// Bob's SIP address (the callee in most flows).
pub fn bob_addr() -> SocketAddr {
    "127.0.0.1:5070".parse().expect("literal address")
}

/// Bob's address of record at his simulated address.
pub const BOB: &str = "bob@127.0.0.1:5070";

/// A Party for `aor`: one audio stream with `media`, signalling only
/// without.
pub fn party(aor: &str, policy: CallPolicy, media: bool) -> Party {
    let mut p = if media {
        Party::single_rtp_session_simple(aor).expect("valid address of record")
    } else {
        Party::no_media_simple_calls(aor).expect("valid address of record")
    };
    p.set_policy(policy);
    p
}

/// Alice (auto-answering) and Bob (with `bob_policy`) in a network seeded
/// with `seed`.
pub fn network(seed: u64, bob_policy: CallPolicy, media: bool) -> Network<SimParty> {
    two_parties(
        seed,
        party("alice@atlanta.com", CallPolicy::AutoAnswer, media),
        party("bob@biloxi.com", bob_policy, media),
    )
}

/// `alice` at [`alice_addr`] and `bob` at [`bob_addr`] in a network seeded
/// with `seed`.
pub fn two_parties(seed: u64, alice: Party, bob: Party) -> Network<SimParty> {
    let mut net = Network::new(seed, Instant::now());
    net.add(alice_addr(), SimParty::new(alice, alice_addr()));
    net.add(bob_addr(), SimParty::new(bob, bob_addr()));
    net
}

/// The first line of a datagram reduced to its method or status code
/// (`"INVITE"`, `"180"`, ...).
pub fn method_or_code(d: &Datagram) -> String {
    let text = d.text();
    let first = text.lines().next().unwrap_or("");
    let word = match first.strip_prefix("SIP/2.0 ") {
        Some(rest) => rest.split(' ').next(),
        None => first.split(' ').next(),
    };
    word.unwrap_or("").to_string()
}

/// The moves a call-flow test makes on a network of Parties.
pub trait Calls {
    /// The Party at `at` calls `target` now, with default options.
    fn call(&mut self, at: SocketAddr, target: &str) -> DialogId;
    /// The Party at `at` ends dialog `id` now (BYE, or CANCEL before an
    /// answer).
    fn hang_up(&mut self, at: SocketAddr, id: DialogId);
    /// Run `f` now on dialog `id` of the Party at `at`.
    fn with_dialog<R>(
        &mut self,
        at: SocketAddr,
        id: DialogId,
        f: impl FnOnce(DialogHandle<'_>, Instant) -> R,
    ) -> R;
    /// The last state reported for dialog `id` of the Party at `at`.
    fn state(&self, at: SocketAddr, id: DialogId) -> Option<DialogState>;
    /// The first incoming call the Party at `at` reported.
    fn first_incoming(&self, at: SocketAddr) -> DialogId;
    /// The last error of dialog `id` at `at`, as text.
    fn error_text(&self, at: SocketAddr, id: DialogId) -> Option<String>;
    /// The methods and status codes sent, in order, without duplicates the
    /// network made.
    fn ladder(&self) -> Vec<String>;
    /// [`Calls::ladder`] without the `100 Trying`s, whose presence depends
    /// on timing.
    fn ladder_without_100(&self) -> Vec<String>;
    /// Whether any event at `at` matches.
    fn saw(&self, at: SocketAddr, pred: impl Fn(&Event) -> bool) -> bool;
    /// Run until nothing is scheduled (at most 300 s of simulated time),
    /// then check that neither Party kept a dialog, transaction or timer.
    fn settle(&mut self);
}

impl Calls for Network<SimParty> {
    fn call(&mut self, at: SocketAddr, target: &str) -> DialogId {
        let now = self.now();
        self.endpoint_mut(at)
            .party_mut()
            .invite(now, target, InviteOptions::default())
            .expect("the call can be placed")
    }

    fn hang_up(&mut self, at: SocketAddr, id: DialogId) {
        self.with_dialog(at, id, |d, now| d.terminate(now))
            .expect("the dialog can be ended");
    }

    fn with_dialog<R>(
        &mut self,
        at: SocketAddr,
        id: DialogId,
        f: impl FnOnce(DialogHandle<'_>, Instant) -> R,
    ) -> R {
        let now = self.now();
        let dialog = self
            .endpoint_mut(at)
            .party_mut()
            .dialog(id)
            .unwrap_or_else(|| panic!("{at} has no dialog {id}"));
        f(dialog, now)
    }

    fn state(&self, at: SocketAddr, id: DialogId) -> Option<DialogState> {
        self.endpoint(at).state_of(id)
    }

    fn first_incoming(&self, at: SocketAddr) -> DialogId {
        *self
            .endpoint(at)
            .incoming_calls()
            .first()
            .unwrap_or_else(|| panic!("no incoming call at {at}"))
    }

    fn error_text(&self, at: SocketAddr, id: DialogId) -> Option<String> {
        self.endpoint(at)
            .party()
            .last_error(id)
            .map(|e| e.to_string())
    }

    fn ladder(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|d| !d.duplicate)
            .map(method_or_code)
            .collect()
    }

    fn ladder_without_100(&self) -> Vec<String> {
        let mut l = self.ladder();
        l.retain(|m| m != "100");
        l
    }

    fn saw(&self, at: SocketAddr, pred: impl Fn(&Event) -> bool) -> bool {
        self.endpoint(at).events.iter().any(|(_, e)| pred(e))
    }

    fn settle(&mut self) {
        self.run_until_idle(Duration::from_secs(300));
        let addrs: Vec<SocketAddr> = self.endpoints().map(|(a, _)| a).collect();
        for a in addrs {
            assert!(self.endpoint_mut(a).is_idle(), "{a} left state behind");
        }
    }
}
