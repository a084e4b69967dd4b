//! Fuzz entry points for SDP.

/// Parse `data` as a session description.
pub fn parse(_data: &[u8]) {}

/// Use `data` as a remote offer and answer it.
pub fn negotiate(_data: &[u8]) {}
