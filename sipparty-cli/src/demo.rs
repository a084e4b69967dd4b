//! `sipparty demo`: two parties in this process, each on its own loopback
//! socket (ephemeral ports). Alice calls bob, bob rings for a second and
//! answers, each sends a tone for two seconds (alice 440 Hz, bob 660 Hz),
//! alice hangs up. Prints the SIP ladder and a summary; exit status 0 if
//! the call went through with audio both ways.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use sipparty_mio::{CallPolicy, InviteOptions};

use crate::agent::{Agent, AgentSpec};
use crate::args::{SipUri, TlsArgs, TransportArg};
use crate::call::{follow_call, watch_states, FollowSpec};
use crate::ladder::{self, Ladder};
use crate::media::AudioPlan;
use crate::report;

/// Arguments of `sipparty demo` (none: it needs no setup).
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// How long bob rings before answering.
const RING: Duration = Duration::from_secs(1);
/// How long the call lasts once answered.
const TALK: Duration = Duration::from_secs(2);
/// Longest the demo may wait for bob to see the call.
const INCOMING_WAIT: Duration = Duration::from_secs(5);

fn party(user: &str, policy: CallPolicy) -> Result<Agent, String> {
    let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    // The address of record is only known once bound: make it from the
    // socket's address ("sip:alice@127.0.0.1:PORT").
    AgentSpec {
        bind: any_port,
        transport: TransportArg::Udp,
        aor: None,
        user,
        auth: None,
        tls: &TlsArgs::default(),
        policy,
    }
    .start()
}

/// Run `sipparty demo`.
pub fn run(_args: &DemoArgs, verbose: u8) -> ExitCode {
    let alice = match party("alice", CallPolicy::Reject { code: 486 }) {
        Ok(a) => a,
        Err(e) => return report::fail(e),
    };
    let bob = match party("bob", CallPolicy::RingThenAnswer { delay: RING }) {
        Ok(b) => b,
        Err(e) => return report::fail(e),
    };
    let bob_uri = SipUri(bob.party.aor().to_string());
    println!(
        "alice ({}) calls bob ({}); bob rings for {} s and answers; \
         tones for {} s (alice 440 Hz, bob 660 Hz); alice hangs up.\n",
        alice.party.aor(),
        bob_uri,
        RING.as_secs(),
        TALK.as_secs()
    );
    let start = Instant::now();
    ladder::start(
        Ladder::new(start)
            .local("alice", alice.local)
            .local("bob", bob.local),
    );

    let calling = match alice.party.invite(&bob_uri.0, InviteOptions::default()) {
        Ok(d) => d,
        Err(e) => return report::fail(format!("alice cannot call bob: {e}")),
    };
    let alice_watch = watch_states(calling.clone(), "alice".into());
    let incoming = match bob.party.next_incoming(Some(INCOMING_WAIT)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return report::fail(format!(
                "bob never saw the call (alice's call: {})",
                report::end_error(&calling).unwrap_or_else(|| calling.state().to_string())
            ))
        }
        Err(e) => return report::fail(format!("bob cannot take calls: {e}")),
    };
    let answered = match incoming.accept() {
        Ok(d) => d,
        Err(e) => return report::fail(format!("bob cannot answer: {e}")),
    };
    let bob_watch = watch_states(answered.clone(), "bob".into());

    // Bob follows his side on a thread while alice follows hers here.
    let bob_side = thread::spawn(move || {
        follow_call(
            &answered,
            &FollowSpec {
                name: "bob",
                plan: &AudioPlan::tone(660.0),
                record: None,
                started: Some(start),
                hang_up_after: None,
                dtmf: None,
                verbose,
            },
        )
    });
    let alice_side = follow_call(
        &calling,
        &FollowSpec {
            name: "alice",
            plan: &AudioPlan::tone(440.0),
            record: None,
            started: Some(start),
            hang_up_after: Some(TALK),
            dtmf: None,
            verbose,
        },
    );
    let bob_side = match bob_side.join() {
        Ok(o) => o,
        Err(_) => return report::fail("bob's side of the demo crashed"),
    };
    let _ = (alice_watch.join(), bob_watch.join());
    ladder::stop();
    println!();
    let sides = [alice_side.summary, bob_side.summary];
    print!("{}", report::summary(&sides));

    if let Some(e) = sides.iter().find_map(|s| s.error.as_ref()) {
        return report::fail(e);
    }
    if !alice_side.established {
        return report::fail("the call was not established");
    }
    if let Some(side) = sides
        .iter()
        .find(|s| s.stats.packets_sent == 0 || s.stats.packets_received == 0)
    {
        return report::fail(format!("{}: no audio one way ({})", side.name, side.line()));
    }
    ExitCode::SUCCESS
}
