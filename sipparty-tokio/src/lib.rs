//! The async sipparty API: one Tokio task per endpoint drives a
//! `sipparty_core` Party over sockets, timers and a command channel.
#![forbid(unsafe_code)]
