//! Small text helpers shared by the layers that build messages.

/// Room for the decimal digits of any `u64`.
pub(crate) type Digits = [u8; 20];

/// `n` in decimal, written into `buf` without the formatting machinery
/// (on the hot path of every message built).
pub(crate) fn decimal(n: impl Into<u64>, buf: &mut Digits) -> &str {
    let start = write_digits(n.into(), buf);
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[start..]).unwrap_or("0")
}

/// Writes the digits of `n` at the end of `buf`; returns where they start.
fn write_digits(mut n: u64, buf: &mut Digits) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    i
}

/// Append `n` in decimal to `out`.
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = Digits::default();
    let start = write_digits(n, &mut digits);
    out.extend_from_slice(&digits[start..]);
}

/// Whether `b` holds a CR or LF. Header values are short (a call builds
/// dozens of them), where `memchr2`'s set-up costs more than the search:
/// CR and LF are the only bytes below 0x0E a value normally has none of,
/// so eight bytes at a time are tested for "any byte below 0x0E" (exact
/// for thresholds up to 0x80) and only a hit is looked at closely.
pub(crate) fn has_line_break(b: &[u8]) -> bool {
    if b.len() > 64 {
        return memchr::memchr2(b'\r', b'\n', b).is_some();
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let is_break = |c: &u8| *c == b'\r' || *c == b'\n';
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(w);
        let x = u64::from_le_bytes(bytes);
        if x.wrapping_sub(ONES * 0x0E) & !x & HIGH != 0 && w.iter().any(is_break) {
            return true;
        }
    }
    words.remainder().iter().any(is_break)
}

/// `value.trim()`, with a shortcut for the usual value that starts and
/// ends with a visible ASCII character (`str::trim` decodes chars).
pub(crate) fn trim_value(value: &str) -> &str {
    let b = value.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => value,
        _ => value.trim(),
    }
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
