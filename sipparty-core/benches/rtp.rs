//! rtp benchmarks (filled in by the rtp work).
fn main() {}
