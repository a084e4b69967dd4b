//! Small text helpers shared by the layers that build messages.

/// Room for the decimal digits of any `u64`.
pub(crate) type Digits = [u8; 20];

/// `n` in decimal, written into `buf` without the formatting machinery
/// (on the hot path of every message built).
pub(crate) fn decimal(n: impl Into<u64>, buf: &mut Digits) -> &str {
    let mut n: u64 = n.into();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_the_digits_of_the_whole_range() {
        let mut d = Digits::default();
        assert_eq!(decimal(0u8, &mut d), "0");
        assert_eq!(decimal(65535u16, &mut d), "65535");
        assert_eq!(decimal(4_294_967_295u32, &mut d), "4294967295");
        assert_eq!(decimal(u64::MAX, &mut d), "18446744073709551615");
        for n in [1u64, 9, 10, 99, 100, 1_000_001] {
            assert_eq!(decimal(n, &mut d), n.to_string());
        }
    }
}
