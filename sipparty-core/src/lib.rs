//! # sipparty-core
//!
//! A sans-IO SIP user agent: RFC 3261 messages, SDP (RFC 8866) with RFC 3264
//! offer/answer, the four RFC 3261 transaction machines, dialogs, and RTP
//! media, as pure state machines.
//!
//! Nothing in this crate opens a socket, reads the clock or spawns a thread.
//! Every call that advances state takes `now: Instant`; the driver (see the
//! `sipparty-mio` and `sipparty-tokio` crates) feeds datagrams and timeouts
//! in and drains outputs until it is told when to wake up next.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod dialog;
pub mod media;
pub mod message;
pub mod party;
pub mod rtp;
pub mod sdp;
pub mod transaction;
pub mod transport;

#[cfg(any(test, feature = "sim"))]
pub mod sim;

#[doc(hidden)]
pub mod fuzzing;

mod random;
mod text;
pub use random::{Random, SeededRandom};
pub use transport::{Payload, Transmit, Transport};
