//! SIP messages (RFC 3261 sections 7, 20, 25): a zero-copy parser, typed headers decoded on demand, and an owned message with a builder.
