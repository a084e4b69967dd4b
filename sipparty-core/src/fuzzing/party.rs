//! Fuzz entry points for the Party.

/// Drive a Party with a sequence of messages, commands and timer firings decoded from `data`.
pub fn sequence(_data: &[u8]) {}
