//! The example of DEVELOPERS.md, as written: alice calls bob through the
//! "proxy" at 127.0.0.1:5060, which is the shared default endpoint of this
//! process, where bob (created first, auto-answering) listens.
//!
//! Run with `cargo run -p sipparty-mio --example contract` (30 s).

use std::time::Duration;

use sipparty_mio::parties::SingleRtpSessionSimpleParty;
use sipparty_mio::{DialogState, InviteOptions};

/// The contract of DEVELOPERS.md, verbatim (kept from rustfmt so it reads
/// exactly as quoted).
#[rustfmt::skip]
fn contract() -> Result<sipparty_mio::Dialog, Box<dyn std::error::Error>> {
let party = SingleRtpSessionSimpleParty::new("alice@atlanta.com")?;
let dialog = party.invite("bob@biloxi.com", InviteOptions::default().proxy("127.0.0.1:5060"))?;
dialog.wait_for_state_condition(|s| s != DialogState::InitiatingDialog);
if dialog.state() == DialogState::Error {
    eprintln!("failed to connect: {}", dialog.last_error().unwrap());
}
std::thread::sleep(Duration::from_secs(30));
dialog.terminate()?;
dialog.wait_for_state_condition(|s| s != DialogState::TerminatingDialog);
    Ok(dialog)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    // The callee, in the same process: it answers every call.
    let bob = SingleRtpSessionSimpleParty::new("bob@biloxi.com")?;
    bob.listen()?;

    let dialog = contract()?;

    let stats = dialog.media_stats();
    println!(
        "call ended: {} (media packets sent {}, received {})",
        dialog.state(),
        stats.packets_sent,
        stats.packets_received
    );
    Ok(())
}
