//! party benchmarks (filled in by the party work).
fn main() {}
