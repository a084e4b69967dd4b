//! SDP (RFC 8866) parsing and building, and RFC 3264 offer/answer negotiation.
