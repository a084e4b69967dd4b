//! Message-layer benchmarks (filled in by the message layer work).
fn main() {}
