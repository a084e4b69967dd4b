//! Harness for sipparty's integration and interoperability tests.
//!
//! It starts real SIP peers on loopback, each with a generated config in a
//! temp dir and free ports, and stops them reliably: every peer runs in its
//! own process group that is killed with SIGKILL when the handle drops, so a
//! failing or panicking test leaves no processes behind.
//!
//! - [`Baresip`]: a baresip 1.0 user agent (headless audio: a sine tone out,
//!   an in-memory player), driven over its `ctrl_tcp` JSON control socket:
//!   dial, hangup, hold, resume, DTMF, RTP counters, and its events.
//! - [`Kamailio`]: Kamailio 5.6 as an in-memory registrar and
//!   record-routing proxy, optionally with digest authentication, whose
//!   routing decisions are read back from its log as [`ProxyTrace`]s.
//! - [`sipparty`]: finds or builds the `sipparty` binary and runs it.
//!
//! The peers come from Debian's `baresip-core` and `kamailio` packages,
//! installed by `scripts/install-deps`. A missing peer is an error naming it
//! ("baresip not found: run scripts/install-deps ..."), so the tests fail
//! instead of passing silently.
//!
//! ```no_run
//! use std::time::Duration;
//! use sipparty_tests::{Baresip, Kamailio};
//!
//! # fn main() -> sipparty_tests::Result<()> {
//! let mut proxy = Kamailio::builder().user("alice", "pw").user("bob", "pw").start()?;
//! let mut alice = Baresip::builder("alice").proxy(proxy.addr()).password("pw").register().start()?;
//! let mut bob = Baresip::builder("bob").proxy(proxy.addr()).password("pw").start()?;
//! bob.dial(&proxy.aor("alice"))?;
//! alice.wait_event("CALL_ESTABLISHED", Duration::from_secs(5))?;
//! bob.hangup()?;
//! proxy.wait_trace("loose", "BYE", Duration::from_secs(5))?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod audio;
mod baresip;
mod error;
mod kamailio;
pub mod ports;
pub mod probe;
mod process;
pub mod sipparty;

pub use baresip::{AnswerMode, Baresip, BaresipBuilder, BaresipEvent, RtpStats};
pub use error::{Error, Result};
pub use kamailio::{Kamailio, KamailioBuilder, ProxyTrace, REALM};
pub use process::{find_binary, PeerProcess, INSTALL_HINT};
