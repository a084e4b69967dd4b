//! `sipparty listen`: a user agent server answering calls (at once, after
//! ringing, or rejecting them), sending a tone, a WAV file or silence and
//! recording what arrives, until interrupted or after `--calls N`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;

use crate::agent::{transport_name, AgentSpec};
use crate::args::{
    parse_answer, parse_auth, parse_bind, AnswerMode, Auth, Bind, MediaArgs, TlsArgs, TransportArg,
};
use crate::call::{follow_call, watch_states, FollowSpec, Outcome};
use crate::interrupt;
use crate::ladder::{self, Ladder};
use crate::media::AudioPlan;
use crate::report;

/// Examples for `sipparty listen --help`.
const EXAMPLES: &str = "\
Examples:
  sipparty listen --bind 127.0.0.1:5080
  sipparty listen --bind 0.0.0.0:5060 --answer ring:3 --play music.wav --record in.wav
  sipparty listen --answer reject:486 --calls 1";

/// Arguments of `sipparty listen`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ListenArgs {
    /// Local address to listen on, `IP:PORT` or an IP (port 5060).
    #[arg(long, value_name = "ADDR", value_parser = parse_bind, default_value = "0.0.0.0:5060")]
    pub bind: Bind,
    /// SIP transport to listen on (UDP is always on).
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    pub transport: TransportArg,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// What to do with a call: `auto` (answer at once), `ring:SECS`
    /// (180 Ringing, then answer), `reject:CODE` (e.g. reject:486).
    #[arg(long, value_name = "MODE", value_parser = parse_answer, default_value = "auto")]
    pub answer: AnswerMode,
    #[command(flatten)]
    pub media: MediaArgs,
    /// Credentials for digest challenges to the requests we send (a BYE
    /// through an authenticating proxy): `USER:PASSWORD`.
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_auth)]
    pub auth: Option<Auth>,
    /// Exit after this many calls have ended (default: run until
    /// interrupted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub calls: Option<u64>,
}

/// After Ctrl-C, how long to wait for the calls to hang up.
const DRAIN: Duration = Duration::from_secs(10);

/// Run `sipparty listen`.
pub fn run(args: &ListenArgs, verbose: u8) -> ExitCode {
    let plan = match AudioPlan::from_args(&args.media) {
        Ok(p) => p,
        Err(e) => return report::fail(e),
    };
    interrupt::install();
    let agent = match (AgentSpec {
        bind: args.bind.addr(5060),
        transport: args.transport,
        aor: None,
        user: "sipparty",
        auth: args.auth.as_ref(),
        tls: &args.tls,
        policy: args.answer.policy(),
    })
    .start()
    {
        Ok(a) => a,
        Err(e) => return report::fail(e),
    };
    report::progress(format!(
        "listening on {} {} as {}",
        transport_name(args.transport),
        agent.local,
        agent.party.aor()
    ));
    ladder::start(Ladder::new(Instant::now()).local("sipparty", agent.local));

    let (done_tx, done_rx) = mpsc::channel::<Outcome>();
    // Calls taken so far, to know when all have reported after Ctrl-C.
    let taken = Arc::new(AtomicU64::new(0));
    let taken_by_acceptor = taken.clone();
    let party = agent.party.clone();
    let accept_plan = plan.clone();
    let rejecting = matches!(args.answer, AnswerMode::Reject(_));
    // Calls are taken on their own thread so that several can be up at
    // once; each is followed on a thread of its own.
    thread::spawn(move || {
        let mut n = 0usize;
        loop {
            let incoming = match party.next_incoming(None) {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("error: no more incoming calls: {e}");
                    return;
                }
            };
            n += 1;
            taken_by_acceptor.fetch_add(1, Ordering::SeqCst);
            report::progress(format!(
                "call {n}: incoming from {} ({})",
                incoming.from(),
                incoming.source()
            ));
            let dialog = incoming.dialog().clone();
            // The policy answers (or rejects) by itself; accepting only
            // hands us the dialog.
            let dialog = incoming.accept().unwrap_or(dialog);
            let (tx, plan) = (done_tx.clone(), accept_plan.clone());
            thread::spawn(move || {
                let name = format!("call {n}");
                let watcher = watch_states(dialog.clone(), name.clone());
                let outcome = follow_call(
                    &dialog,
                    &FollowSpec {
                        name: &name,
                        plan: &plan,
                        record: plan.record_path(n),
                        started: None,
                        hang_up_after: None,
                        dtmf: None,
                        verbose,
                    },
                );
                let _ = watcher.join();
                let _ = tx.send(outcome);
            });
        }
    });

    let mut ended = 0u64;
    let mut failed = 0u64;
    let mut interrupted_at: Option<Instant> = None;
    loop {
        let outcome = match done_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(o) => o,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if interrupt::interrupted() {
                    // Each call's thread hangs up by itself; wait for them
                    // to report, within reason.
                    let since = *interrupted_at.get_or_insert_with(Instant::now);
                    if taken.load(Ordering::SeqCst) <= ended || since.elapsed() > DRAIN {
                        break;
                    }
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        ended += 1;
        print!(
            "{}",
            report::summary(std::slice::from_ref(&outcome.summary))
        );
        // A call we rejected on purpose is not a failure of ours.
        if outcome.summary.error.is_some() && !rejecting {
            failed += 1;
        }
        if args.calls.is_some_and(|n| ended >= n) {
            break;
        }
    }
    ladder::stop();
    if failed > 0 {
        return report::fail(format!("{failed} of {ended} calls failed"));
    }
    ExitCode::SUCCESS
}
