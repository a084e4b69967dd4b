//! Injected randomness: branches, tags, Call-IDs, SSRCs and cnonces all come
//! from a [`Random`] the embedder supplies, so the core stays deterministic
//! under test and never reaches for an OS entropy source itself.

/// A source of random numbers. Drivers seed one from the OS; tests and the
/// simulator use [`SeededRandom`] so every run is repeatable.
pub trait Random: Send {
    /// Next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// Fill `out` with random alphanumeric characters (`[0-9a-zA-Z]`),
    /// suitable for tags, branch suffixes and Call-IDs (RFC 3261 token).
    fn fill_token(&mut self, out: &mut [u8]) {
        const ALPHABET: &[u8; 62] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for chunk in out.chunks_mut(8) {
            let mut bits = self.next_u64();
            for b in chunk {
                *b = ALPHABET[(bits % 62) as usize];
                bits /= 62;
            }
        }
    }
}

/// A small, fast, deterministic generator (xorshift64*), good enough for
/// protocol identifiers; not for cryptographic keys.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// A generator seeded with `seed` (zero is remapped, xorshift cannot
    /// leave the all-zero state).
    pub fn new(seed: u64) -> Self {
        Self {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }
}

impl Random for SeededRandom {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_alphanumeric_and_repeatable() {
        let mut a = SeededRandom::new(7);
        let mut b = SeededRandom::new(7);
        let mut x = [0u8; 20];
        let mut y = [0u8; 20];
        a.fill_token(&mut x);
        b.fill_token(&mut y);
        assert_eq!(x, y);
        assert!(x.iter().all(u8::is_ascii_alphanumeric));
        let mut c = SeededRandom::new(8);
        c.fill_token(&mut y);
        assert_ne!(x, y);
    }
}
