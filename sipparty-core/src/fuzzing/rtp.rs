//! Fuzz entry points for RTP and RTCP.

/// Parse `data` as RTP, RTCP, and feed it to an RTP session.
pub fn packet(_data: &[u8]) {}
