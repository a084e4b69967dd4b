//! `sipparty`: the command line.
use clap::Parser;

/// sipparty: SIP user agent tools.
#[derive(Debug, Parser)]
#[command(name = "sipparty", version, about)]
enum Cli {}

fn main() {
    let _ = Cli::parse();
}
