//! Two parties in one process: Bob decides on each call, Alice calls him,
//! puts him on hold, takes him off and hangs up.
//!
//! ```text
//! RUST_LOG=sipparty_tokio=debug cargo run -p sipparty-tokio --example call
//! ```

use std::time::Duration;

use sipparty_tokio::{CallPolicy, DialogState, InviteOptions, Party, PartyConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();

    let mut config = PartyConfig::new("bob@biloxi.example")?;
    config.media = Some(sipparty_core::sdp::MediaCapabilities::default_audio());
    config.policy = CallPolicy::AskApplication;
    let bob = Party::bind(config, "127.0.0.1:0".parse()?).await?;
    let alice = Party::bind("alice@atlanta.example", "127.0.0.1:0".parse()?).await?;

    // Bob answers every call after a second of ringing.
    let bobs = bob.clone();
    tokio::spawn(async move {
        while let Some(call) = bobs.incoming().await {
            println!("bob: call from {}", call.from);
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = call.accept().await {
                println!("bob: could not answer: {e}");
            }
        }
    });

    let call = alice
        .invite(
            &format!("sip:bob@{}", bob.local_addr()),
            InviteOptions::default(),
        )
        .await?;
    let mut states = call.states();
    tokio::spawn(async move {
        while states.changed().await.is_ok() {
            println!("alice: call is {}", *states.borrow());
        }
    });
    call.wait_for(|s| s == DialogState::InDialog).await?;
    call.hold().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    call.resume().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    call.terminate().await?;
    let end = call.wait_for(|s| s.is_final()).await?;
    println!("alice: call ended: {end}");
    Ok(())
}
