//! A deterministic network simulator: a virtual clock, seeded loss, duplication, reordering and latency.
