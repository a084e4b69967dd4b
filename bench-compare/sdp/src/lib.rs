//! Empty: see benches/compare.rs.
