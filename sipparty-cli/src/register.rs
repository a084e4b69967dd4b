//! `sipparty register REGISTRAR --aor AOR`: bind a contact to an address of
//! record (RFC 3261 section 10), answering digest challenges with `--auth`;
//! with `--stay`, keep refreshing the binding until interrupted.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sipparty_mio::{CallPolicy, RegisterOptions, Registration, RegistrationState};

use crate::agent::{with_transport, AgentSpec};
use crate::args::{parse_auth, parse_sip_uri, Auth, LinkArgs, SipUri};
use crate::interrupt;
use crate::ladder::{self, Ladder};
use crate::report;

/// Examples for `sipparty register --help`.
const EXAMPLES: &str = "\
Examples:
  sipparty register sip:127.0.0.1:5060 --aor sip:alice@127.0.0.1 --contact sip:alice@127.0.0.1:5080
  sipparty register sip:registrar.example.com --aor sip:alice@example.com --auth alice:secret --stay";

/// Arguments of `sipparty register`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct RegisterArgs {
    /// The registrar: a SIP URI (`sip:127.0.0.1:5060`).
    #[arg(value_parser = parse_sip_uri)]
    pub registrar: SipUri,
    /// The address of record to register (To and From).
    #[arg(long, value_name = "AOR", value_parser = parse_sip_uri)]
    pub aor: SipUri,
    /// The contact to bind (default: this process's own address, which
    /// only answers while it runs: see --stay).
    #[arg(long, value_name = "URI", value_parser = parse_sip_uri)]
    pub contact: Option<SipUri>,
    /// Credentials for digest challenges (401/407): `USER:PASSWORD`.
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_auth)]
    pub auth: Option<Auth>,
    /// Binding lifetime to ask for, in seconds.
    #[arg(long, value_name = "S")]
    pub expires: Option<u32>,
    /// Stay running and refresh the binding before it expires.
    #[arg(long)]
    pub stay: bool,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// Longer than a REGISTER transaction can last (Timer F, 64*T1 = 32 s).
const REGISTER_WAIT: Duration = Duration::from_secs(40);

/// How often `--stay` looks at the interrupt flag.
const TICK: Duration = Duration::from_millis(100);

/// Remove the binding (Ctrl-C with `--stay`) and wait for the answer.
fn unregister(registration: &Registration, registrar: &str) -> ExitCode {
    if let Err(e) = registration.unregister() {
        ladder::stop();
        return report::fail(format!("cannot unregister: {e}"));
    }
    let done = registration.wait_for_state_condition_timeout(
        |s| {
            matches!(
                s,
                RegistrationState::Unregistered | RegistrationState::Failed(_)
            )
        },
        REGISTER_WAIT,
    );
    ladder::stop();
    match registration.state() {
        RegistrationState::Unregistered => {
            report::progress(format!("unregistered from {registrar}"));
            ExitCode::SUCCESS
        }
        RegistrationState::Failed(e) => report::fail(format!("unregister failed: {e}")),
        _ if !done => report::fail(format!("no answer from {registrar} to the unregister")),
        other => report::fail(format!("unregister ended in {other:?}")),
    }
}

/// Run `sipparty register`.
pub fn run(args: &RegisterArgs) -> ExitCode {
    if args.stay {
        interrupt::install();
    }
    // A name is located by the Party (RFC 3263), not here.
    let bind = args.link.bind_towards(&args.registrar);
    let agent = match (AgentSpec {
        bind,
        transport: args.link.transport,
        aor: Some(&args.aor),
        user: "sipparty",
        auth: args.auth.as_ref(),
        tls: &args.link.tls,
        policy: CallPolicy::Reject { code: 480 },
    })
    .start()
    {
        Ok(a) => a,
        Err(e) => return report::fail(e),
    };
    ladder::start(Ladder::new(std::time::Instant::now()).local("sipparty", agent.local));
    let mut options = RegisterOptions::default().aor(&args.aor.0);
    if let Some(c) = &args.contact {
        options = options.contact(&c.0);
    }
    if let Some(e) = args.expires {
        options = options.expires(e);
    }
    let registrar = with_transport(&args.registrar, args.link.transport);
    let registration = match agent.party.register(&registrar, options) {
        Ok(r) => r,
        Err(e) => return report::fail(format!("cannot register with {registrar}: {e}")),
    };
    let settled = |s: &RegistrationState| {
        matches!(
            s,
            RegistrationState::Registered { .. } | RegistrationState::Failed(_)
        )
    };
    if !registration.wait_for_state_condition_timeout(settled, REGISTER_WAIT) {
        return report::fail(format!("no final answer from {registrar}"));
    }
    let mut state = registration.state();
    loop {
        match &state {
            RegistrationState::Registered { expires } => report::progress(format!(
                "registered {} at {registrar} for {} s (contact {})",
                args.aor,
                expires.as_secs(),
                args.contact
                    .as_ref()
                    .map_or_else(|| agent.local.to_string(), |c| c.0.clone())
            )),
            RegistrationState::Failed(e) => {
                ladder::stop();
                return report::fail(format!("registration failed: {e}"));
            }
            _ => {}
        }
        if !args.stay {
            break;
        }
        // Refreshes go through Registering and back; print each outcome.
        let last = state.clone();
        loop {
            if interrupt::interrupted() {
                return unregister(&registration, &registrar);
            }
            if registration.wait_for_state_condition_timeout(|s| settled(s) && *s != last, TICK) {
                break;
            }
        }
        state = registration.state();
    }
    ladder::stop();
    ExitCode::SUCCESS
}
