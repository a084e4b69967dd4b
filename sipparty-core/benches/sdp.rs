//! sdp benchmarks (filled in by the sdp work).
fn main() {}
