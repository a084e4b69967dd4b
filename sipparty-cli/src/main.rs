//! `sipparty`: the command line.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod parse;

/// sipparty: SIP user agent tools.
#[derive(Debug, Parser)]
#[command(name = "sipparty", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each has its own argument struct and `run` function in
/// a module of the same name.
#[derive(Debug, Subcommand)]
enum Command {
    /// Parse SIP messages from files and report what a server would answer.
    Parse(parse::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse::run(&args),
    }
}
