//! Digest authentication (RFC 3261 section 22, RFC 7616, RFC 8760).
