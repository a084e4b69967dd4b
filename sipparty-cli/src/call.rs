//! `sipparty call TARGET`: place a call, keep it up for `--duration`
//! seconds with a tone, a WAV file or silence, optionally send DTMF and
//! record what arrives, hang up. Exit status 0 only if the call was
//! established and ended cleanly; otherwise 1 with `error: REASON`
//! (`error: 486 Busy Here`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use sipparty_mio::{CallPolicy, Dialog, DialogState, InviteOptions};

use crate::agent::{with_transport, AgentSpec};
use crate::args::{
    parse_auth, parse_dtmf, parse_seconds, parse_sip_uri, Auth, LinkArgs, MediaArgs, SipUri,
};
use crate::interrupt;
use crate::ladder::{self, Ladder};
use crate::media::{self, AudioPlan, Recording, RATE};
use crate::report::{self, CallSummary};

/// Examples for `sipparty call --help`.
const EXAMPLES: &str = "\
Examples:
  sipparty call sip:bob@127.0.0.1:5080
  sipparty call bob@127.0.0.1:5080 --duration 10 --tone 440 --record bob.wav
  sipparty call sip:bob@example.com --proxy sip:127.0.0.1:5060;lr --auth alice:secret \\
      --from sip:alice@example.com
  sipparty call sip:ivr@127.0.0.1:5080 --dtmf 1234#";

/// Arguments of `sipparty call`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct CallArgs {
    /// Whom to call: a SIP URI (`sip:bob@127.0.0.1:5080`; `bob@host` works
    /// too).
    #[arg(value_parser = parse_sip_uri)]
    pub target: SipUri,
    /// Our address of record, for From (default `sip:sipparty@LOCAL-ADDRESS`).
    #[arg(long, value_name = "AOR", value_parser = parse_sip_uri)]
    pub from: Option<SipUri>,
    /// Send the INVITE through this outbound proxy (`sip:10.0.0.1;lr`):
    /// it becomes the first entry of the route set (RFC 3261 section 8.1.2).
    #[arg(long, value_name = "URI", value_parser = parse_sip_uri)]
    pub proxy: Option<SipUri>,
    #[command(flatten)]
    pub link: LinkArgs,
    /// Seconds to stay in the call once established before hanging up.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "5")]
    pub duration: Duration,
    /// Credentials for digest challenges (401/407): `USER:PASSWORD`.
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_auth)]
    pub auth: Option<Auth>,
    #[command(flatten)]
    pub media: MediaArgs,
    /// Send these DTMF digits (RFC 4733) shortly after the call is
    /// established.
    #[arg(long, value_name = "DIGITS", value_parser = parse_dtmf)]
    pub dtmf: Option<String>,
}

/// How long to wait for the call's RTP stream once established.
const MEDIA_WAIT: Duration = Duration::from_secs(2);
/// How long hanging up may take (a BYE's transaction lasts up to 32 s
/// without an answer; we stop waiting earlier and say so).
const HANGUP_WAIT: Duration = Duration::from_secs(10);

/// Run `sipparty call`.
pub fn run(args: &CallArgs, verbose: u8) -> ExitCode {
    let plan = match AudioPlan::from_args(&args.media) {
        Ok(p) => p,
        Err(e) => return report::fail(e),
    };
    interrupt::install();
    let next_hop = args.proxy.as_ref().unwrap_or(&args.target);
    // A name is located by the Party (RFC 3263), not here.
    let bind = args.link.bind_towards(next_hop);
    let agent = match (AgentSpec {
        bind,
        transport: args.link.transport,
        aor: args.from.as_ref(),
        user: "sipparty",
        auth: args.auth.as_ref(),
        tls: &args.link.tls,
        policy: CallPolicy::Reject { code: 486 },
    })
    .start()
    {
        Ok(a) => a,
        Err(e) => return report::fail(e),
    };
    let start = Instant::now();
    let mut ladder = Ladder::new(start).local("sipparty", agent.local);
    // A named peer gets its column when its first message shows its
    // address.
    if let Some(addr) = next_hop.socket_addr() {
        let name = match &args.proxy {
            Some(_) => "proxy".to_string(),
            None => args.target.user().unwrap_or_default(),
        };
        ladder = ladder.peer(&name, addr);
    }
    ladder::start(ladder);

    let target = match &args.proxy {
        Some(_) => args.target.0.clone(),
        None => with_transport(&args.target, args.link.transport),
    };
    let mut options = InviteOptions::default();
    if let Some(p) = &args.proxy {
        options = options.proxy(&with_transport(p, args.link.transport));
    }
    report::progress(format!("calling {target} as {}", agent.party.aor()));
    let dialog = match agent.party.invite(&target, options) {
        Ok(d) => d,
        Err(e) => return report::fail(format!("cannot call {target}: {e}")),
    };
    let watcher = watch_states(dialog.clone(), "call".into());
    let outcome = follow_call(
        &dialog,
        &FollowSpec {
            name: "sipparty",
            plan: &plan,
            record: plan.record.clone(),
            started: Some(start),
            hang_up_after: Some(args.duration),
            dtmf: args.dtmf.as_deref(),
            verbose,
        },
    );
    let _ = watcher.join();
    ladder::stop();
    println!();
    print!(
        "{}",
        report::summary(std::slice::from_ref(&outcome.summary))
    );
    match (&outcome.summary.error, outcome.established) {
        (None, true) => ExitCode::SUCCESS,
        (Some(e), _) => report::fail(e),
        (None, false) => report::fail("the call was not established"),
    }
}

/// How to follow one call to its end.
#[derive(Debug)]
pub struct FollowSpec<'a> {
    /// The side's name in the summary.
    pub name: &'a str,
    /// What to send.
    pub plan: &'a AudioPlan,
    /// Where to record, if anywhere.
    pub record: Option<PathBuf>,
    /// When the INVITE was sent, for the setup time (None for calls we
    /// receive: their setup is the caller's to measure).
    pub started: Option<Instant>,
    /// Hang up this long after the call is established (None: wait for the
    /// peer to hang up).
    pub hang_up_after: Option<Duration>,
    /// DTMF digits to send once established.
    pub dtmf: Option<&'a str>,
    /// Print live packet counts (-v).
    pub verbose: u8,
}

/// What became of a call.
#[derive(Debug)]
pub struct Outcome {
    /// Whether it was established.
    pub established: bool,
    /// The summary of our side.
    pub summary: CallSummary,
}

/// Wait for the call to be established, attach the audio, keep it up,
/// hang up (or wait for the peer to), and report.
pub fn follow_call(dialog: &Dialog, spec: &FollowSpec<'_>) -> Outcome {
    let established = wait_established(dialog);
    let setup = spec.started.filter(|_| established).map(|s| s.elapsed());
    let mut talk = None;
    let mut recording: Option<Recording> = None;
    let mut local_error = None;
    if established {
        let since = Instant::now();
        match media::attach(dialog, spec.plan, spec.record.as_deref(), MEDIA_WAIT) {
            Ok(r) => recording = r,
            Err(e) => local_error = Some(e),
        }
        if let Some(digits) = spec.dtmf {
            // A short pause first: some peers drop telephone-events
            // arriving before their own media is set up.
            thread::sleep(Duration::from_millis(300));
            if let Err(e) = dialog.send_dtmf(digits) {
                local_error = Some(format!("cannot send DTMF: {e}"));
            } else {
                report::progress(format!("sent DTMF {digits}"));
            }
        }
        let until = spec.hang_up_after.map(|d| since + d);
        let ended_by_peer = stay(dialog, spec.name, until, spec.verbose);
        if !ended_by_peer {
            if let Err(e) = dialog.terminate() {
                local_error.get_or_insert(format!("cannot hang up: {e}"));
            }
            if !dialog.wait_for_state_condition_timeout(|s| s.is_final(), HANGUP_WAIT) {
                local_error.get_or_insert("no answer to our BYE".into());
            }
        }
        talk = Some(since.elapsed());
    }
    let mut summary = CallSummary::of(spec.name, dialog);
    summary.setup = setup;
    summary.talk = talk;
    if let Some(r) = &recording {
        match r.finish(RATE) {
            Ok(secs) => summary.recorded = Some((secs, r.path().display().to_string())),
            Err(e) => local_error = Some(format!("recording {}: {e}", r.path().display())),
        }
    }
    if summary.error.is_none() {
        summary.error = local_error;
    }
    Outcome {
        established,
        summary,
    }
}

/// How often waits look at the interrupt flag.
const TICK: Duration = Duration::from_millis(100);

/// Wait until the call is established or over; an interrupt meanwhile
/// cancels it. Returns whether it was established.
fn wait_established(dialog: &Dialog) -> bool {
    let mut established = false;
    let mut cancelled = false;
    loop {
        let done = dialog.wait_for_state_condition_timeout(
            |s| {
                established |= s == DialogState::InDialog;
                s == DialogState::InDialog || s.is_final()
            },
            TICK,
        );
        if done {
            return established;
        }
        if interrupt::interrupted() && !cancelled {
            cancelled = true;
            // CANCEL for a call we placed, a decline for one we ring.
            let _ = dialog.terminate();
        }
    }
}

/// Stay in the call until `until` (None: for ever), an interrupt, or the
/// call ends, printing DTMF as it arrives (and packet counts with -v).
/// Returns whether it ended (the peer hung up or it failed).
fn stay(dialog: &Dialog, name: &str, until: Option<Instant>, verbose: u8) -> bool {
    let mut next_report = Instant::now() + Duration::from_secs(1);
    let mut digits_seen = 0;
    loop {
        let digits = dialog.dtmf_received();
        if digits.len() > digits_seen {
            let new: String = digits[digits_seen..].iter().collect();
            report::progress(format!("{name}: DTMF received {new}"));
            digits_seen = digits.len();
        }
        let slice = match until {
            Some(u) => u.saturating_duration_since(Instant::now()),
            None => TICK,
        }
        .min(TICK);
        if slice.is_zero() || interrupt::interrupted() {
            return false;
        }
        let over = |s: DialogState| s == DialogState::TerminatingDialog || s.is_final();
        if dialog.wait_for_state_condition_timeout(over, slice) {
            // Wait for the peer's BYE to complete.
            dialog.wait_for_state_condition_timeout(|s| s.is_final(), HANGUP_WAIT);
            return true;
        }
        if verbose > 0 && Instant::now() >= next_report {
            next_report += Duration::from_secs(1);
            let s = dialog.media_stats();
            // Not `sent=`: the summary's tokens are what scripts read.
            report::progress(format!(
                "{name}: media packets out {} in {}",
                s.packets_sent, s.packets_received
            ));
        }
    }
}

/// Print each state the dialog enters until it ends.
pub fn watch_states(dialog: Dialog, who: String) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut last = dialog.state();
        // A call answered by the policy may be up before we look.
        if last != DialogState::InitiatingDialog {
            report::progress(format!("{who}: {}", report::state_words(last)));
        }
        loop {
            let now = dialog.wait_for_state_condition(|s| s != last);
            if now == last {
                return;
            }
            let detail = match now {
                DialogState::Early => dialog
                    .last_progress()
                    .map(|(code, reason)| format!(" ({code} {reason})"))
                    .unwrap_or_default(),
                DialogState::Error => report::end_error(&dialog)
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            report::progress(format!("{who}: {}{detail}", report::state_words(now)));
            last = now;
            if now.is_final() {
                return;
            }
        }
    })
}
