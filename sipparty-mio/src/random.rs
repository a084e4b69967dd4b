//! A random source for the core seeded from the operating system.
//!
//! The core only needs identifiers that are unique and hard to guess
//! (tags, branches, Call-IDs, SSRCs), not key material. std's
//! `RandomState` is keyed from the OS on first use per thread; hashing its
//! fresh state with the time and a process-wide counter gives each Party its
//! own seed without pulling in a random-number crate.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sipparty_core::{Random, SeededRandom};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A generator with a seed no other Party in this process (or, with
/// overwhelming probability, any other process) shares.
pub(crate) fn os_seeded() -> Box<dyn Random> {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    Box::new(SeededRandom::new(h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_generators_differ() {
        let mut a = os_seeded();
        let mut b = os_seeded();
        assert_ne!(a.next_u64(), b.next_u64());
    }
}
