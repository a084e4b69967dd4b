//! Fuzz entry points for the message layer.

/// Parse `data` as one datagram.
pub fn datagram(_data: &[u8]) {}

/// Parse `data` as a stream of messages.
pub fn stream(_data: &[u8]) {}

/// Parse `data` as a URI.
pub fn uri(_data: &[u8]) {}

/// Decode `data[1..]` with the typed header decoder chosen by `data[0]`.
pub fn headers(_data: &[u8]) {}
