//! RTP and RTCP (RFC 3550), sans-IO.
