//! `sipparty options TARGET`: ask a SIP server or user agent what it
//! supports (RFC 3261 section 11) and print the answer. Exit status 0 on a
//! 2xx answer.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use sipparty_mio::{CallPolicy, InviteOptions};

use crate::agent::{with_transport, AgentSpec};
use crate::args::{parse_sip_uri, LinkArgs, SipUri};
use crate::ladder::{self, Ladder};
use crate::report;

/// Examples for `sipparty options --help`.
const EXAMPLES: &str = "\
Examples:
  sipparty options sip:127.0.0.1:5060
  sipparty options sip:bob@127.0.0.1:5080 --transport tcp";

/// Arguments of `sipparty options`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct OptionsArgs {
    /// Whom to ask: a SIP URI (`sip:127.0.0.1:5060`).
    #[arg(value_parser = parse_sip_uri)]
    pub target: SipUri,
    /// Send through this outbound proxy.
    #[arg(long, value_name = "URI", value_parser = parse_sip_uri)]
    pub proxy: Option<SipUri>,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// Run `sipparty options`.
pub fn run(args: &OptionsArgs) -> ExitCode {
    let next_hop = args.proxy.as_ref().unwrap_or(&args.target);
    // A name is located by the Party (RFC 3263), not here.
    let bind = args.link.bind_towards(next_hop);
    let agent = match (AgentSpec {
        bind,
        transport: args.link.transport,
        aor: None,
        user: "sipparty",
        auth: None,
        tls: &args.link.tls,
        policy: CallPolicy::Reject { code: 480 },
    })
    .start()
    {
        Ok(a) => a,
        Err(e) => return report::fail(e),
    };
    ladder::start(Ladder::new(Instant::now()).local("sipparty", agent.local));
    let mut options = InviteOptions::default();
    let target = match &args.proxy {
        Some(p) => {
            options = options.proxy(&with_transport(p, args.link.transport));
            args.target.0.clone()
        }
        None => with_transport(&args.target, args.link.transport),
    };
    let response = agent.party.options_with(&target, options);
    ladder::stop();
    let response = match response {
        Ok(r) => r,
        Err(e) => return report::fail(format!("OPTIONS {target}: {e}")),
    };
    println!();
    println!("{} {}", response.code, response.reason);
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    println!("Allow: {}", list(&response.allow));
    println!("Supported: {}", list(&response.supported));
    if !response.accept.is_empty() {
        println!("Accept: {}", response.accept.join(", "));
    }
    if response.is_success() {
        ExitCode::SUCCESS
    } else {
        report::fail(format!("{} {}", response.code, response.reason))
    }
}
