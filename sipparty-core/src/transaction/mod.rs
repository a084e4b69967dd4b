//! The four RFC 3261 section 17 transaction machines, with the RFC 6026 corrections.
