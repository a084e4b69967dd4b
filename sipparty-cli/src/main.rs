//! `sipparty`: the command line.
//!
//! Every subcommand lives in a module of its name with an argument struct
//! and a `run` function returning the process exit code. Shared pieces:
//! [`args`] (argument types and their validation), [`ladder`] (the SIP
//! message ladder, fed by the driver's trace events), [`report`] (call
//! summaries and errors), [`media`] (tone, WAV playback and recording).
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
mod args;
mod call;
mod demo;
mod interrupt;
mod ladder;
mod listen;
mod logging;
mod media;
mod options;
mod parse;
mod register;
mod report;

/// Examples shown at the end of `sipparty --help`.
const EXAMPLES: &str = "\
Examples:
  sipparty demo                                   two parties call each other on loopback
  sipparty listen --bind 127.0.0.1:5080 --tone 440
  sipparty call sip:bob@127.0.0.1:5080 --duration 5 --tone 1000
  sipparty register sip:127.0.0.1:5060 --aor sip:alice@127.0.0.1 --auth alice:secret
  sipparty options sip:127.0.0.1:5060
  sipparty parse samples/*.sip

Logs: -v shows call progress and live packet counts, -vv the protocol
layers' debug output; RUST_LOG (e.g. RUST_LOG=sipparty_core=trace)
overrides both.";

/// sipparty: a SIP user agent for calls with real audio on the command line.
#[derive(Debug, Parser)]
#[command(name = "sipparty", version, after_help = EXAMPLES)]
struct Cli {
    /// More output: -v call progress and live packet counts, -vv debug
    /// logs, -vvv traces of every layer (RUST_LOG takes precedence).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each has its own argument struct and `run` function in
/// a module of the same name.
#[derive(Debug, Subcommand)]
enum Command {
    /// Two parties call each other on loopback: see it work, no setup.
    ///
    /// Alice calls bob, bob rings for a second and answers, tones flow
    /// both ways for two seconds, alice hangs up. Prints the SIP ladder and
    /// a summary; exit status 0 if audio flowed both ways.
    Demo(demo::DemoArgs),
    /// Answer incoming calls until interrupted (or after --calls N).
    Listen(listen::ListenArgs),
    /// Place a call, keep it up for --duration seconds, hang up.
    ///
    /// Exit status 0 only if the call was established and ended cleanly;
    /// otherwise 1 with the reason (`error: 486 Busy Here`).
    Call(call::CallArgs),
    /// Register an address of record with a registrar.
    Register(register::RegisterArgs),
    /// Ask a server what it supports (OPTIONS): status, Allow, Supported.
    Options(options::OptionsArgs),
    /// Parse SIP messages from files and report what a server would answer.
    Parse(parse::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    match cli.command {
        Command::Demo(args) => demo::run(&args, cli.verbose),
        Command::Listen(args) => listen::run(&args, cli.verbose),
        Command::Call(args) => call::run(&args, cli.verbose),
        Command::Register(args) => register::run(&args),
        Command::Options(args) => options::run(&args),
        Command::Parse(args) => parse::run(&args),
    }
}
