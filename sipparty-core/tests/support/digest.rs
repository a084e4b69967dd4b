//! What the digest tests (client and server) both use.

use sipparty_core::auth::DigestRequest;

/// The REGISTER every digest test authenticates, unless it says otherwise.
pub const REGISTER: DigestRequest<'static> = DigestRequest {
    method: "REGISTER",
    uri: "sip:example.com",
    body: b"",
};

/// No earlier Authorization header (the client's first answer).
pub fn none() -> std::iter::Empty<&'static str> {
    std::iter::empty()
}
