//! The DEVELOPERS.md contract, with only the sleep shortened: it compiles
//! as written and runs against a second party in the same process. Its own
//! test binary, because it uses the process-wide default endpoint on
//! 127.0.0.1:5060.

use std::time::Duration;

use sipparty_mio::parties::SingleRtpSessionSimpleParty;
use sipparty_mio::{DialogState, InviteOptions};

/// The contract, verbatim but for the sleep (kept from rustfmt so it reads
/// exactly as quoted).
#[rustfmt::skip]
fn contract() -> Result<(SingleRtpSessionSimpleParty, sipparty_mio::Dialog), Box<dyn std::error::Error>> {
let party = SingleRtpSessionSimpleParty::new("alice@atlanta.com")?;
let dialog = party.invite("bob@biloxi.com", InviteOptions::default().proxy("127.0.0.1:5060"))?;
dialog.wait_for_state_condition(|s| s != DialogState::InitiatingDialog);
if dialog.state() == DialogState::Error {
    eprintln!("failed to connect: {}", dialog.last_error().unwrap());
}
std::thread::sleep(Duration::from_secs(1));
dialog.terminate()?;
dialog.wait_for_state_condition(|s| s != DialogState::TerminatingDialog);
    Ok((party, dialog))
}

#[test]
fn developers_md_contract_runs_against_bob_in_the_same_process(
) -> Result<(), Box<dyn std::error::Error>> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let bob = SingleRtpSessionSimpleParty::new("bob@biloxi.com")?;
    bob.listen()?;
    assert_eq!(
        bob.local_addr(sipparty_mio::Transport::Udp),
        Some("127.0.0.1:5060".parse()?),
        "the shared endpoint must own 127.0.0.1:5060 for the contract's proxy to reach bob"
    );

    let (party, dialog) = contract()?;

    assert_eq!(
        dialog.state(),
        DialogState::Terminated,
        "{:?}",
        dialog.last_error()
    );
    assert!(dialog.last_error().is_none());
    // Both parties went through the one shared socket.
    assert!(party.endpoint().unwrap().same_as(&bob.endpoint().unwrap()));
    Ok(())
}
