//! Fuzz entry points for the transaction layer.

/// Drive a transaction layer with a sequence of messages and timer firings decoded from `data`.
pub fn sequence(_data: &[u8]) {}
