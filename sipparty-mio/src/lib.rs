//! The blocking sipparty API: a mio event loop thread drives a
//! `sipparty_core` Party; application threads get thread-safe handles.
#![forbid(unsafe_code)]
