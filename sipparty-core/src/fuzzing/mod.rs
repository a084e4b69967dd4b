//! Entry points for the cargo-fuzz targets in `fuzz/` (rustls's
//! `internal::fuzzing` pattern): each target is a one-line shim into a
//! function here, so the fuzzed code paths are the library's own and the
//! same functions can be driven by unit tests and proptest.
//!
//! Every function must accept any input without panicking, hanging or
//! allocating without bound.

pub mod auth;
pub mod message;
pub mod party;
pub mod rtp;
pub mod sdp;
pub mod transaction;
