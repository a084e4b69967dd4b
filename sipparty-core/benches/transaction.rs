//! transaction benchmarks (filled in by the transaction work).
fn main() {}
