//! Typed values of the structural SDP lines (RFC 8866 s.5): o=, c=, m=, b=,
//! t=. They borrow from the line they were decoded from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::{SdpError, SdpErrorKind};

/// Parses ASCII decimal digits into a `u64`, refusing empty input, signs,
/// anything that is not a digit and values that overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    // Up to 19 digits cannot overflow a u64 (10^19 - 1 < 2^64), so the
    // common case needs no overflow checks.
    if b.len() <= 19 {
        let mut v: u64 = 0;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Like [`parse_u64`], narrowed to `u32`.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

/// Like [`parse_u64`], narrowed to `u16` (ports).
pub(crate) fn parse_u16(s: &str) -> Option<u16> {
    parse_u64(s).and_then(|v| u16::try_from(v).ok())
}

/// Like [`parse_u64`], narrowed to `u8`.
pub(crate) fn parse_u8(s: &str) -> Option<u8> {
    parse_u64(s).and_then(|v| u8::try_from(v).ok())
}

/// An RTP payload type: 0..=127 (RFC 3550 s.5.1, seven bits).
pub(crate) fn parse_payload_type(s: &str) -> Result<u8, SdpErrorKind> {
    match parse_u64(s) {
        Some(v) if v <= 127 => Ok(v as u8),
        Some(_) => Err(SdpErrorKind::InvalidPayloadType),
        None => Err(SdpErrorKind::InvalidNumber),
    }
}

/// Word-at-a-time scanning (SWAR): eight bytes are tested with a few integer
/// operations instead of one comparison each. This is what keeps the
/// borrowed parse of a whole description within a few hundred nanoseconds.
pub(crate) mod swar {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;

    /// Marks (high bit of each byte) the bytes of `w` (little endian) below
    /// `n`, for `n <= 0x80`. The lowest mark is exact; a mark above a true
    /// one may be false (borrow), never missing, so callers check the byte.
    #[inline(always)]
    pub(crate) fn below(w: u64, n: u8) -> u64 {
        w.wrapping_sub(LO * u64::from(n)) & !w & HI
    }

    /// Marks the bytes of `w` equal to `c`. The lowest mark is exact and no
    /// equal byte is missed; a mark right above a true one may be false.
    #[inline(always)]
    pub(crate) fn eq(w: u64, c: u8) -> u64 {
        below(w ^ (LO * u64::from(c)), 1)
    }

    /// Marks exactly the bytes of `w` equal to `c`: no false marks, so
    /// every mark can be used (the sum cannot carry between bytes, as each
    /// byte adds at most 0x7F to at most 0x7F).
    #[inline(always)]
    pub(crate) fn eq_exact(w: u64, c: u8) -> u64 {
        let x = w ^ (LO * u64::from(c));
        !((x & !HI).wrapping_add(!HI) | x) & HI
    }

    /// The high bits of the first `valid` bytes.
    #[inline(always)]
    pub(crate) fn valid_mask(valid: usize) -> u64 {
        if valid >= 8 {
            HI
        } else {
            HI & ((1u64 << (8 * valid)) - 1)
        }
    }

    /// The eight bytes of `b` from `i` as a little-endian word, and how many
    /// of them are real: near the end the last eight bytes are loaded and
    /// shifted, so the missing ones read as zero bytes.
    #[inline(always)]
    pub(crate) fn word_at(b: &[u8], i: usize) -> (u64, usize) {
        if let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
            return (u64::from_le_bytes(*c), 8);
        }
        let valid = b.len().saturating_sub(i);
        if let Some(c) = b.last_chunk::<8>() {
            let skip = 8 - valid;
            return (u64::from_le_bytes(*c) >> (8 * skip), valid);
        }
        let mut w = 0u64;
        for (k, &x) in b.iter().skip(i).enumerate() {
            w |= u64::from(x) << (8 * k);
        }
        (w, valid)
    }
}

/// Scanning helpers for the canonical form of structural values: fields
/// separated by exactly one SP, none at either end, no tab (what strict mode
/// requires, and what nearly every peer sends). Each returns `None` when the
/// value is not canonical there; callers then take the general path, which
/// is authoritative and also says what is wrong. A `None` is therefore
/// always safe; a `Some` must only ever be given for canonical input.
pub(crate) mod canon {
    use super::swar;

    /// The end of the non-empty token starting at `i`, which must be
    /// followed by a single SP (the next field must not start with one).
    /// Tokens here are short (`IN`, `IP4`, `-`, `audio`): a byte loop.
    #[inline(always)]
    pub(crate) fn token_sp(b: &[u8], i: usize) -> Option<usize> {
        if let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
            let w = u64::from_le_bytes(*c);
            // The lowest mark of each `eq` is exact, and so is the lowest
            // of their union.
            let m = swar::eq(w, b' ') | swar::eq(w, b'\t');
            if m != 0 {
                let k = (m.trailing_zeros() / 8) as usize;
                let j = i + k;
                if k == 0 || c[k] == b'\t' || b.get(j + 1) == Some(&b' ') {
                    return None;
                }
                return Some(j);
            }
        }
        let mut j = i;
        loop {
            match b.get(j) {
                Some(b' ') => break,
                Some(b'\t') | None => return None,
                Some(_) => j += 1,
            }
        }
        if j == i || b.get(j + 1) == Some(&b' ') {
            return None;
        }
        Some(j)
    }

    /// 10^k for k in 0..=8.
    const POW10: [u64; 9] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
    ];

    /// Decimal digits from `i` (1 to 19 of them, so no overflow), and where
    /// they end. The caller checks what follows. Eight digits are converted
    /// at a time (SWAR): session ids and versions are ten or more digits.
    #[inline(always)]
    pub(crate) fn digits(b: &[u8], i: usize) -> Option<(u64, usize)> {
        let mut v: u64 = 0;
        let mut j = i;
        while let Some(c) = b.get(j..).and_then(|r| r.first_chunk::<8>()) {
            let d = u64::from_le_bytes(*c).wrapping_sub(0x3030_3030_3030_3030);
            let bad = non_digits(d);
            let k = if bad == 0 {
                8
            } else {
                (bad.trailing_zeros() / 8) as usize
            };
            if k > 0 {
                // The first byte is the most significant digit: move the k
                // digits to the top, zeros below act as leading zeros.
                let x = digit_value(if k == 8 { d } else { d << (8 * (8 - k)) });
                v = v.wrapping_mul(POW10[k]).wrapping_add(x);
                j += k;
            }
            if k < 8 || j - i > 19 {
                break;
            }
        }
        if j - i <= 19 {
            // The last few bytes of the value, one at a time.
            while let Some(&c) = b.get(j) {
                let d = c.wrapping_sub(b'0');
                if d > 9 || j - i > 19 {
                    break;
                }
                v = v.wrapping_mul(10).wrapping_add(u64::from(d));
                j += 1;
            }
        }
        if j == i || j - i > 19 {
            return None;
        }
        Some((v, j))
    }

    /// Where the next field starts if 1 to 19 decimal digits from `i` are
    /// followed by a single SP (the next field must not start with one):
    /// what [`number_sp`] accepts, without computing the value.
    #[inline(always)]
    pub(crate) fn digits_sp(b: &[u8], i: usize) -> Option<usize> {
        let mut j = i;
        // Whole words: the first non-digit ends the number.
        while let Some(c) = b.get(j..).and_then(|r| r.first_chunk::<8>()) {
            let bad = non_digits(u64::from_le_bytes(*c).wrapping_sub(0x3030_3030_3030_3030));
            if bad != 0 {
                return sp_after(b, i, j + (bad.trailing_zeros() / 8) as usize);
            }
            j += 8;
            if j - i > 19 {
                return None;
            }
        }
        // The last few bytes of the value.
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        sp_after(b, i, j)
    }

    /// [`digits_sp`] once the digits `b[i..j]` are found.
    #[inline(always)]
    fn sp_after(b: &[u8], i: usize, j: usize) -> Option<usize> {
        if j == i || j - i > 19 || b.get(j) != Some(&b' ') || b.get(j + 1) == Some(&b' ') {
            return None;
        }
        Some(j + 1)
    }

    /// Like [`digits`], followed by a single SP; returns the value and the
    /// start of the next field.
    #[inline(always)]
    pub(crate) fn number_sp(b: &[u8], i: usize) -> Option<(u64, usize)> {
        if let Some(r) = number_sp_words(b, i) {
            return Some(r);
        }
        let (v, j) = digits(b, i)?;
        if b.get(j) != Some(&b' ') || b.get(j + 1) == Some(&b' ') {
            return None;
        }
        Some((v, j + 1))
    }

    /// Splits a canonical run of fields (non-empty, no tab, no SP at either
    /// end, no two SPs in a row): the positions of its first `N` SPs and
    /// the number of SPs in all. One pass of word-at-a-time scanning gives
    /// every field boundary of an o=, c=, t= or m= value.
    #[inline(always)]
    pub(crate) fn split<const N: usize>(b: &[u8]) -> Option<([usize; N], usize)> {
        if matches!(b.first(), None | Some(b' ')) || b.last() == Some(&b' ') {
            return None;
        }
        let mut sp = [0; N];
        let mut count = 0;
        // Whether the byte before the current word was a SP.
        let mut carry = 0u64;
        let mut i = 0;
        while i < b.len() {
            let (w, valid) = swar::word_at(b, i);
            let live = swar::valid_mask(valid);
            let s = swar::eq_exact(w, b' ') & live;
            if swar::eq_exact(w, b'\t') & live != 0 || s & ((s << 8) | carry) != 0 {
                return None;
            }
            carry = (s >> 56) & 0x80;
            let mut m = s;
            while m != 0 {
                if let Some(slot) = sp.get_mut(count) {
                    *slot = i + (m.trailing_zeros() / 8) as usize;
                }
                count += 1;
                m &= m - 1;
            }
            i += 8;
        }
        Some((sp, count))
    }

    /// Whether `b` is a canonical run of fields: non-empty, no tab, no SP
    /// at either end, no two SPs in a row (the formats of an m= line).
    #[inline(always)]
    pub(crate) fn fields_ok(b: &[u8]) -> bool {
        if matches!(b.first(), None | Some(b' ')) || b.last() == Some(&b' ') {
            return false;
        }
        // Whether the byte before the current word was a SP.
        let mut carry = 0u64;
        let mut i = 0;
        while let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
            let w = u64::from_le_bytes(*c);
            let s = swar::eq_exact(w, b' ');
            if swar::eq_exact(w, b'\t') != 0 || s & ((s << 8) | carry) != 0 {
                return false;
            }
            carry = (s >> 56) & 0x80;
            i += 8;
        }
        let mut prev_sp = carry != 0;
        for &c in b.get(i..).unwrap_or_default() {
            if c == b'\t' || (c == b' ' && prev_sp) {
                return false;
            }
            prev_sp = c == b' ';
        }
        true
    }

    /// The value of `n` (1 to 8) decimal digits held in the low bytes of
    /// `w` (little endian: the first digit is the lowest byte), or `None`
    /// if any of them is not a digit.
    #[inline(always)]
    fn eight_digits(w: u64, n: usize) -> Option<u64> {
        // Move the digits to the top and fill the bytes below with '0':
        // leading zeros do not change the value.
        let shift = 8 * (8 - n) as u32;
        let pad = 0x3030_3030_3030_3030u64
            .checked_shr(8 * n as u32)
            .unwrap_or(0);
        let d = ((w << shift) | pad).wrapping_sub(0x3030_3030_3030_3030);
        // Any bad byte leaves a mark (see `non_digits`).
        if non_digits(d) != 0 {
            return None;
        }
        Some(digit_value(d))
    }

    /// The non-digit bytes of `d` (a word minus `'0'` in every byte): above
    /// 9 after the subtraction (the add sets their high bit), or wrapped
    /// below `'0'`. Carries only reach bytes above a marked one, so the
    /// lowest mark is exact.
    #[inline(always)]
    fn non_digits(d: u64) -> u64 {
        (d | d.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080
    }

    /// The value of eight digits already reduced to 0..=9 per byte (`d`,
    /// little endian: the first digit is the lowest byte, the most
    /// significant), combined pairwise in three multiplications.
    #[inline(always)]
    fn digit_value(d: u64) -> u64 {
        let mut x = d;
        x = ((x & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561)) >> 8;
        x = ((x & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601)) >> 16;
        x = ((x & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001)) >> 32;
        x
    }

    /// One to fifteen digits from `i` followed by a single SP (the next
    /// field must not start with one): the value and the start of the next
    /// field. Whole words only (the caller falls back to [`number_sp`]
    /// near the end of the value or for longer numbers).
    #[inline(always)]
    pub(crate) fn number_sp_words(b: &[u8], i: usize) -> Option<(u64, usize)> {
        let c = b.get(i..)?.first_chunk::<8>()?;
        let d = u64::from_le_bytes(*c).wrapping_sub(0x3030_3030_3030_3030);
        let bad = non_digits(d);
        let (v, end) = if bad != 0 {
            let k = (bad.trailing_zeros() / 8) as usize;
            if k == 0 {
                return None;
            }
            (digit_value(d << (8 * (8 - k))), i + k)
        } else {
            let c = b.get(i + 8..)?.first_chunk::<8>()?;
            let d2 = u64::from_le_bytes(*c).wrapping_sub(0x3030_3030_3030_3030);
            let bad = non_digits(d2);
            if bad == 0 {
                return None;
            }
            let k = (bad.trailing_zeros() / 8) as usize;
            let lo = if k == 0 {
                0
            } else {
                digit_value(d2 << (8 * (8 - k)))
            };
            (digit_value(d) * POW10[k] + lo, i + 8 + k)
        };
        if b.get(end) != Some(&b' ') || b.get(end + 1) == Some(&b' ') {
            return None;
        }
        Some((v, end + 1))
    }

    /// The value of the decimal field `b[i..end]`: 1 to 19 digits (so no
    /// overflow), nothing else. Up to 16 digits take one or two words.
    #[inline(always)]
    pub(crate) fn number_field(b: &[u8], i: usize, end: usize) -> Option<u64> {
        let n = end.checked_sub(i)?;
        if n == 0 || n > 16 {
            return match digits(b, i) {
                Some((v, j)) if j == end => Some(v),
                _ => None,
            };
        }
        let (w, valid) = swar::word_at(b, i);
        let first = n.min(8);
        if valid < first {
            return None;
        }
        let hi = eight_digits(w, first)?;
        if n <= 8 {
            return Some(hi);
        }
        let (w, valid) = swar::word_at(b, i + 8);
        if valid < n - 8 {
            return None;
        }
        let lo = eight_digits(w, n - 8)?;
        Some(hi * POW10[n - 8] + lo)
    }

    /// `IN IP4 <address>` or `IN IP6 <address>` from `i` to the end of
    /// `b`, the address being a plain last field (non-empty, no blank, no
    /// `/`): nearly every c= value and the end of nearly every o= value.
    /// Returns where the address starts (`i + 7`); `None` for anything else.
    #[inline(always)]
    pub(crate) fn internet(b: &[u8], i: usize) -> Option<usize> {
        // The seven bytes and the first of the address, in one compare.
        let head = u64::from_le_bytes(*b.get(i..)?.first_chunk::<8>()?) & 0x00FF_FFFF_FFFF_FFFF;
        if head != u64::from_le_bytes(*b"IN IP4 \0") && head != u64::from_le_bytes(*b"IN IP6 \0") {
            return None;
        }
        let a = b.get(i + 7..)?;
        if a.is_empty() {
            return None;
        }
        let mut j = 0;
        while let Some(c) = a.get(j..).and_then(|r| r.first_chunk::<8>()) {
            let w = u64::from_le_bytes(*c);
            // Any blank, '/' or other byte below 0x21 sends the value to
            // the general path (`below` and `eq` never miss a byte, and
            // mark none where there is none, so "any mark" is exact).
            if swar::below(w, 0x21) | swar::eq(w, b'/') != 0 {
                return None;
            }
            j += 8;
        }
        if a.get(j..)?.iter().any(|&c| c < 0x21 || c == b'/') {
            return None;
        }
        Some(i + 7)
    }

    /// Whether `b` (a last field) is non-empty and free of blanks, and
    /// where its first `/` is (multicast suffixes of c=).
    #[inline(always)]
    pub(crate) fn last_field(b: &[u8]) -> Option<Option<usize>> {
        if b.is_empty() {
            return None;
        }
        let mut slash = None;
        let mut i = 0;
        while i < b.len() {
            let (w, valid) = swar::word_at(b, i);
            let live = swar::valid_mask(valid);
            if (swar::eq(w, b' ') | swar::eq(w, b'\t')) & live != 0 {
                return None;
            }
            let s = swar::eq(w, b'/') & live;
            if slash.is_none() && s != 0 {
                slash = Some(i + (s.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        Some(slash)
    }
}

/// Where a field sits in a text: byte positions. The parsed view keeps
/// these instead of `&str`s (8 bytes instead of 16, so a smaller value to
/// build and move, and no char-boundary checks while parsing); the
/// accessors cut the text again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    start: u32,
    end: u32,
}

impl Cut {
    /// `start..end`; both fit in a `u32` (the parser refuses longer
    /// inputs, the `parse_canonical` wrappers longer values).
    #[inline(always)]
    pub(crate) fn new(start: usize, end: usize) -> Self {
        Cut {
            start: start as u32,
            end: end as u32,
        }
    }

    /// Where `part`, a slice of `base`, sits in it (for the general
    /// decoders, which return slices).
    pub(crate) fn of(base: &str, part: &str) -> Self {
        let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
        debug_assert!(
            start <= base.len() && part.len() <= base.len() - start,
            "Cut::of: the part is not inside the base"
        );
        Cut::new(start, start.wrapping_add(part.len()))
    }

    /// The field in `text` (empty if the positions are not char
    /// boundaries of it, which cannot happen for the text it was cut from:
    /// every cut is next to ASCII or at an end).
    #[inline(always)]
    pub(crate) fn get(self, text: &str) -> &str {
        text.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// Space- or tab-separated fields, runs of blanks skipped (a byte loop:
/// these lines are on the parse fast path).
#[derive(Clone, Debug)]
pub(crate) struct Fields<'a> {
    s: &'a str,
    /// Where the next field (or the blanks before it) starts.
    i: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Fields { s, i: 0 }
    }

    #[inline(always)]
    fn skip_blanks(&mut self) {
        let b = self.s.as_bytes();
        while b.get(self.i).is_some_and(|&c| c == b' ' || c == b'\t') {
            self.i += 1;
        }
    }

    /// What is left, from the next field on.
    pub(crate) fn remainder(&mut self) -> &'a str {
        self.skip_blanks();
        // After blanks (ASCII) or at a field start: a char boundary.
        self.s.get(self.i..).unwrap_or_default()
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        self.skip_blanks();
        let b = self.s.as_bytes();
        if self.i >= b.len() {
            return None;
        }
        let start = self.i;
        while b.get(self.i).is_some_and(|&c| c != b' ' && c != b'\t') {
            self.i += 1;
        }
        // Blanks are ASCII, so both ends are char boundaries.
        self.s.get(start..self.i)
    }
}

fn field<'a>(it: &mut Fields<'a>, kind: u8) -> Result<&'a str, SdpError> {
    it.next()
        .ok_or(SdpError::new(0, SdpErrorKind::InvalidField(kind)))
}

fn number<T>(s: &str, f: impl Fn(&str) -> Option<T>) -> Result<T, SdpError> {
    f(s).ok_or(SdpError::new(0, SdpErrorKind::InvalidNumber))
}

/// The `o=` line (RFC 8866 s.5.2): who made the description, and its
/// session id and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The originator's login, or `-`.
    pub username: &'a str,
    /// The session id.
    pub session_id: u64,
    /// The session version, incremented when the description changes
    /// (RFC 3264 s.8).
    pub session_version: u64,
    /// The network type, `IN`.
    pub nettype: &'a str,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: &'a str,
    /// The originating host: an address or a fully qualified domain name.
    pub address: &'a str,
}

impl<'a> Origin<'a> {
    /// Decodes the value of an `o=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(o) => Ok(o),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canon`]); `None` for
    /// anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &'a str) -> Option<Self> {
        if u32::try_from(value.len()).is_err() {
            return None;
        }
        Some(OriginAt::canonical(value.as_bytes(), 0)?.get(value))
    }

    pub(crate) fn parse_general(value: &'a str) -> Result<Self, SdpError> {
        Self::general(value).map(|(o, _)| o)
    }

    /// The general decoding, with the two number fields as written.
    fn general(value: &'a str) -> Result<(Self, [&'a str; 2]), SdpError> {
        let mut it = Fields::new(value);
        let username = field(&mut it, b'o')?;
        let id = field(&mut it, b'o')?;
        let session_id = number(id, parse_u64)?;
        let version = field(&mut it, b'o')?;
        let o = Origin {
            username,
            session_id,
            session_version: number(version, parse_u64)?,
            nettype: field(&mut it, b'o')?,
            addrtype: field(&mut it, b'o')?,
            address: field(&mut it, b'o')?,
        };
        if it.next().is_some() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'o')));
        }
        Ok((o, [id, version]))
    }
}

/// An [`Origin`] as positions in the text (see [`Cut`]). The two numbers
/// are checked (1 to 19 digits, or a valid `u64`) and only read when
/// asked for.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OriginAt {
    username: Cut,
    session_id: Cut,
    session_version: Cut,
    nettype: Cut,
    addrtype: Cut,
    address: Cut,
}

impl OriginAt {
    /// The canonical value from `i` to the end of `b` (see [`canon`]);
    /// `None` for anything else, well formed or not.
    #[inline(always)]
    pub(crate) fn canonical(b: &[u8], i: usize) -> Option<Self> {
        let u = canon::token_sp(b, i)?;
        let v = canon::digits_sp(b, u + 1)?;
        let j = canon::digits_sp(b, v)?;
        let (nettype, addrtype, address) = match canon::internet(b, j) {
            Some(a) => (Cut::new(j, j + 2), Cut::new(j + 3, j + 6), a),
            None => {
                let n = canon::token_sp(b, j)?;
                let a = canon::token_sp(b, n + 1)? + 1;
                if canon::last_field(b.get(a..)?)?.is_some() {
                    // A '/' has no place in an o= address; let the general
                    // path decide.
                    return None;
                }
                (Cut::new(j, n), Cut::new(n + 1, a - 1), a)
            }
        };
        Some(OriginAt {
            username: Cut::new(i, u),
            session_id: Cut::new(u + 1, v - 1),
            session_version: Cut::new(v, j - 1),
            nettype,
            addrtype,
            address: Cut::new(address, b.len()),
        })
    }

    /// The general decoding of `value`, a part of `base`, as positions in
    /// `base`.
    pub(crate) fn general(base: &str, value: &str) -> Result<Self, SdpError> {
        let (o, [id, version]) = Origin::general(value)?;
        Ok(OriginAt {
            username: Cut::of(base, o.username),
            session_id: Cut::of(base, id),
            session_version: Cut::of(base, version),
            nettype: Cut::of(base, o.nettype),
            addrtype: Cut::of(base, o.addrtype),
            address: Cut::of(base, o.address),
        })
    }

    /// The origin, cut from the text it was found in.
    #[inline]
    pub(crate) fn get(self, text: &str) -> Origin<'_> {
        Origin {
            username: self.username.get(text),
            // Checked while parsing: these parse.
            session_id: parse_u64(self.session_id.get(text)).unwrap_or_default(),
            session_version: parse_u64(self.session_version.get(text)).unwrap_or_default(),
            nettype: self.nettype.get(text),
            addrtype: self.addrtype.get(text),
            address: self.address.get(text),
        }
    }
}

/// The `c=` line (RFC 8866 s.5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection<'a> {
    /// The network type, `IN`.
    pub nettype: &'a str,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: &'a str,
    /// The address without the multicast suffixes: an IP address or an FQDN.
    pub address: &'a str,
    /// The IPv4 multicast TTL (`/ttl`).
    pub ttl: Option<u8>,
    /// The number of consecutive multicast addresses (`/count`).
    pub count: Option<u32>,
}

impl<'a> Connection<'a> {
    /// Decodes the value of a `c=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(c) => Ok(c),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canon`]); `None` for
    /// anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &'a str) -> Option<Self> {
        if u32::try_from(value.len()).is_err() {
            return None;
        }
        Some(ConnectionAt::canonical(value, 0, value.len())?.get(value))
    }

    pub(crate) fn parse_general(value: &'a str) -> Result<Self, SdpError> {
        let mut it = Fields::new(value);
        let nettype = field(&mut it, b'c')?;
        let addrtype = field(&mut it, b'c')?;
        let full = field(&mut it, b'c')?;
        if it.next().is_some() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'c')));
        }
        Self::from_parts(nettype, addrtype, full)
    }

    fn from_parts(nettype: &'a str, addrtype: &'a str, full: &'a str) -> Result<Self, SdpError> {
        let bad = || SdpError::new(0, SdpErrorKind::InvalidField(b'c'));
        // address[/first[/second]]; a byte loop, as addresses are short.
        let slash = |s: &'a str| {
            s.bytes()
                .position(|c| c == b'/')
                .map(|i| (&s[..i], &s[i + 1..]))
        };
        let (address, first, second) = match slash(full) {
            None => (full, None, None),
            Some((a, rest)) => match slash(rest) {
                None => (a, Some(rest), None),
                Some((f, second)) => {
                    if second.contains('/') {
                        return Err(bad());
                    }
                    (a, Some(f), Some(second))
                }
            },
        };
        if address.is_empty() {
            return Err(bad());
        }
        // RFC 8866 s.5.7: IPv4 multicast is addr/ttl[/count]; IPv6 has no
        // TTL, so its single suffix is the count.
        let (ttl, count) = if addrtype.eq_ignore_ascii_case("IP6") {
            if second.is_some() {
                return Err(bad());
            }
            (None, first.map(|c| number(c, parse_u32)).transpose()?)
        } else {
            (
                first.map(|t| number(t, parse_u8)).transpose()?,
                second.map(|c| number(c, parse_u32)).transpose()?,
            )
        };
        Ok(Connection {
            nettype,
            addrtype,
            address,
            ttl,
            count,
        })
    }

    /// The address as an IP address; `None` for an FQDN.
    pub fn ip(&self) -> Option<IpAddr> {
        if self.addrtype.eq_ignore_ascii_case("IP6") {
            self.address.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else {
            dotted_quad(self.address)
                .or_else(|| self.address.parse::<Ipv4Addr>().ok())
                .map(IpAddr::V4)
        }
    }

    /// `c=IN IP4 0.0.0.0`: the RFC 2543 way of putting a call on hold
    /// (RFC 3264 s.8.4).
    pub fn is_hold_address(&self) -> bool {
        self.address == "0.0.0.0"
    }
}

/// A [`Connection`] as positions in the text (see [`Cut`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConnectionAt {
    nettype: Cut,
    addrtype: Cut,
    address: Cut,
    ttl: Option<u8>,
    count: Option<u32>,
}

impl ConnectionAt {
    /// The canonical value `text[i..end]` (see [`canon`]); `None` for
    /// anything else, well formed or not.
    #[inline(always)]
    pub(crate) fn canonical(text: &str, i: usize, end: usize) -> Option<Self> {
        let b = text.as_bytes().get(..end)?;
        if let Some(a) = canon::internet(b, i) {
            return Some(ConnectionAt {
                nettype: Cut::new(i, i + 2),
                addrtype: Cut::new(i + 3, i + 6),
                address: Cut::new(a, b.len()),
                ttl: None,
                count: None,
            });
        }
        let (sp, count) = canon::split::<2>(b.get(i..)?)?;
        if count != 2 {
            return None;
        }
        let (n, a) = (i + sp[0], i + sp[1] + 1);
        if b.get(a..)?.contains(&b'/') {
            // Multicast suffixes are rare: the shared decoding.
            let c =
                Connection::from_parts(text.get(i..n)?, text.get(n + 1..a - 1)?, text.get(a..end)?)
                    .ok()?;
            return Some(Self::of(text, &c));
        }
        Some(ConnectionAt {
            nettype: Cut::new(i, n),
            addrtype: Cut::new(n + 1, a - 1),
            address: Cut::new(a, b.len()),
            ttl: None,
            count: None,
        })
    }

    /// Where the fields of `c`, decoded from a part of `base`, are in it.
    pub(crate) fn of(base: &str, c: &Connection<'_>) -> Self {
        ConnectionAt {
            nettype: Cut::of(base, c.nettype),
            addrtype: Cut::of(base, c.addrtype),
            address: Cut::of(base, c.address),
            ttl: c.ttl,
            count: c.count,
        }
    }

    /// The connection, cut from the text it was found in.
    #[inline]
    pub(crate) fn get(self, text: &str) -> Connection<'_> {
        Connection {
            nettype: self.nettype.get(text),
            addrtype: self.addrtype.get(text),
            address: self.address.get(text),
            ttl: self.ttl,
            count: self.count,
        }
    }
}

/// A plain dotted-quad IPv4 address (`192.0.2.1`), read in one pass; `None`
/// for anything else, including leading zeros, which the standard parser
/// then judges.
fn dotted_quad(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, o) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v: u32 = 0;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 || i - start == 3 {
                break;
            }
            v = v * 10 + u32::from(d);
            i += 1;
        }
        if i == start || (i - start > 1 && b[start] == b'0') {
            return None;
        }
        *o = u8::try_from(v).ok()?;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// The `m=` line (RFC 8866 s.5.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaLine<'a> {
    /// The media type: `audio`, `video`, `text`, `application`, `message`...
    pub media: &'a str,
    /// The transport port; 0 rejects or disables the stream (RFC 3264 s.6).
    pub port: u16,
    /// The number of ports (`port/count`).
    pub port_count: Option<u32>,
    /// The transport protocol: `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `udp`...
    pub proto: &'a str,
    /// The formats, space separated (payload types for RTP).
    pub formats: &'a str,
}

impl<'a> MediaLine<'a> {
    /// Decodes the value of an `m=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(m) => Ok(m),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canon`]); `None` for
    /// anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &'a str) -> Option<Self> {
        if u32::try_from(value.len()).is_err() {
            return None;
        }
        Some(MediaLineAt::canonical(value.as_bytes(), 0)?.get(value))
    }

    pub(crate) fn parse_general(value: &'a str) -> Result<Self, SdpError> {
        let value = value.trim_end_matches([' ', '\t']);
        let mut it = Fields::new(value);
        let media = field(&mut it, b'm')?;
        let port_field = field(&mut it, b'm')?;
        let proto = field(&mut it, b'm')?;
        let (port, port_count) = match port_field.split_once('/') {
            Some((p, c)) => (number(p, parse_u16)?, Some(number(c, parse_u32)?)),
            None => (number(port_field, parse_u16)?, None),
        };
        // The formats are the rest of the line after the proto token.
        let formats = it.remainder();
        if formats.is_empty() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'm')));
        }
        Ok(MediaLine {
            media,
            port,
            port_count,
            proto,
            formats,
        })
    }

    /// The formats, one by one.
    pub fn formats(&self) -> impl Iterator<Item = &'a str> + 'a {
        Fields::new(self.formats)
    }

    /// Whether the proto is RTP-based (`RTP/...` or `.../RTP/...`), so the
    /// formats are payload types.
    pub fn is_rtp(&self) -> bool {
        self.proto.split('/').any(|p| p.eq_ignore_ascii_case("RTP"))
    }
}

/// A [`MediaLine`] as positions in the text (see [`Cut`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MediaLineAt {
    media: Cut,
    proto: Cut,
    formats: Cut,
    port_count: Option<u32>,
    port: u16,
}

impl MediaLineAt {
    /// The canonical value from `i` to the end of `b` (see [`canon`]);
    /// `None` for anything else, well formed or not.
    #[inline(always)]
    pub(crate) fn canonical(b: &[u8], i: usize) -> Option<Self> {
        // The usual shape (a plain port), field by field.
        let m = canon::token_sp(b, i)?;
        if let Some((port, p)) = canon::number_sp_words(b, m + 1) {
            let t = canon::token_sp(b, p)?;
            if !canon::fields_ok(b.get(t + 1..)?) {
                return None;
            }
            return Some(MediaLineAt {
                media: Cut::new(i, m),
                proto: Cut::new(p, t),
                formats: Cut::new(t + 1, b.len()),
                port_count: None,
                port: u16::try_from(port).ok()?,
            });
        }
        let (sp, count) = canon::split::<3>(b.get(i..)?)?;
        if count < 3 {
            return None;
        }
        let sp = sp.map(|s| s + i);
        // port or port/count
        let (port, port_count) = match canon::number_field(b, sp[0] + 1, sp[1]) {
            Some(p) => (p, None),
            None => {
                let (p, j) = canon::digits(b, sp[0] + 1)?;
                if b.get(j) != Some(&b'/') {
                    return None;
                }
                let c = canon::number_field(b, j + 1, sp[1])?;
                (p, Some(u32::try_from(c).ok()?))
            }
        };
        Some(MediaLineAt {
            media: Cut::new(i, sp[0]),
            proto: Cut::new(sp[1] + 1, sp[2]),
            formats: Cut::new(sp[2] + 1, b.len()),
            port_count,
            port: u16::try_from(port).ok()?,
        })
    }

    /// Where the fields of `m`, decoded from a part of `base`, are in it.
    pub(crate) fn of(base: &str, m: &MediaLine<'_>) -> Self {
        MediaLineAt {
            media: Cut::of(base, m.media),
            proto: Cut::of(base, m.proto),
            formats: Cut::of(base, m.formats),
            port_count: m.port_count,
            port: m.port,
        }
    }

    /// The length of the formats field.
    #[inline(always)]
    pub(crate) fn formats_len(self) -> usize {
        (self.formats.end - self.formats.start) as usize
    }

    /// The m= line, cut from the text it was found in.
    #[inline]
    pub(crate) fn get(self, text: &str) -> MediaLine<'_> {
        MediaLine {
            media: self.media.get(text),
            port: self.port,
            port_count: self.port_count,
            proto: self.proto.get(text),
            formats: self.formats.get(text),
        }
    }
}

/// The `b=` line (RFC 8866 s.5.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    /// `CT`, `AS`, `TIAS`, `RR`, `RS`...
    pub bwtype: &'a str,
    /// The bandwidth in kbit/s (bit/s for TIAS).
    pub bandwidth: u64,
}

impl<'a> Bandwidth<'a> {
    /// Decodes the value of a `b=` line.
    pub fn parse(value: &'a str) -> Result<Self, SdpError> {
        let (t, v) = value
            .trim()
            .split_once(':')
            .ok_or(SdpError::new(0, SdpErrorKind::InvalidField(b'b')))?;
        if t.is_empty() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b'b')));
        }
        Ok(Bandwidth {
            bwtype: t,
            bandwidth: number(v, parse_u64)?,
        })
    }
}

/// The `t=` line (RFC 8866 s.5.9): NTP start and stop times, 0 for unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Start time (NTP seconds), 0 if unbounded.
    pub start: u64,
    /// Stop time (NTP seconds), 0 if unbounded.
    pub stop: u64,
}

impl Timing {
    /// Decodes the value of a `t=` line.
    pub fn parse(value: &str) -> Result<Self, SdpError> {
        match Self::parse_canonical(value) {
            Some(t) => Ok(t),
            None => Self::parse_general(value),
        }
    }

    /// The fast path for a canonical value (see [`canon`]); `None` for
    /// anything else, well formed or not.
    pub(crate) fn parse_canonical(value: &str) -> Option<Self> {
        Self::canonical(value.as_bytes())
    }

    /// [`Timing::parse_canonical`] on the bytes of the value.
    #[inline(always)]
    pub(crate) fn canonical(b: &[u8]) -> Option<Self> {
        // What SIP peers send (RFC 3264 s.5: an unbounded session).
        if b == b"0 0" {
            return Some(Timing { start: 0, stop: 0 });
        }
        let (start, i) = canon::number_sp(b, 0)?;
        let (stop, j) = canon::digits(b, i)?;
        (j == b.len()).then_some(Timing { start, stop })
    }

    pub(crate) fn parse_general(value: &str) -> Result<Self, SdpError> {
        let mut it = Fields::new(value);
        let t = Timing {
            start: number(field(&mut it, b't')?, parse_u64)?,
            stop: number(field(&mut it, b't')?, parse_u64)?,
        };
        if it.next().is_some() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(b't')));
        }
        Ok(t)
    }
}

/// Checks an `r=` or `z=` value: non-empty fields of digits with an
/// optional `d`/`h`/`m`/`s` unit and, for `z=`, a sign on offsets.
pub(crate) fn check_repeat_or_zone(value: &str, kind: u8) -> Result<(), SdpError> {
    let mut n = 0;
    for f in value.split_ascii_whitespace() {
        n += 1;
        let f = f.strip_prefix('-').unwrap_or(f);
        let f = f.strip_suffix(['d', 'h', 'm', 's']).unwrap_or(f);
        if parse_u64(f).is_none() {
            return Err(SdpError::new(0, SdpErrorKind::InvalidField(kind)));
        }
    }
    // r= has at least interval, duration and one offset; z= pairs.
    let ok = match kind {
        b'r' => n >= 3,
        _ => n >= 2 && n % 2 == 0,
    };
    if ok {
        Ok(())
    } else {
        Err(SdpError::new(0, SdpErrorKind::InvalidField(kind)))
    }
}

/// The `addrtype` token for an address.
pub(crate) fn addrtype(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quad_agrees_with_the_standard_parser() {
        for v in [
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4 ",
            "1234.1.1.1",
            "1..2.3",
            "",
        ] {
            assert_eq!(
                dotted_quad(v).is_some(),
                v.parse::<Ipv4Addr>().is_ok(),
                "{v:?}"
            );
            if let Some(ip) = dotted_quad(v) {
                assert_eq!(Ok(ip), v.parse::<Ipv4Addr>());
            }
        }
    }

    /// Asserts that a canonical scan refuses every one of `values`.
    fn refuses<T: std::fmt::Debug + PartialEq>(
        scan: impl Fn(&[u8]) -> Option<T>,
        values: &[&[u8]],
    ) {
        for v in values {
            assert_eq!(scan(v), None, "{:?}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn canonical_scans_refuse_every_blank_irregularity() {
        assert_eq!(canon::token_sp(b"IN IP4 h", 0), Some(2));
        // The same with eight bytes or more (the word-at-a-time path).
        assert_eq!(canon::token_sp(b"IN IP4 192.0.2.1", 0), Some(2));
        assert_eq!(canon::token_sp(b"RTP/AVP 0 8 111", 0), Some(7));
        assert_eq!(canon::token_sp(b"x RTP/AVPF 0 8 111", 2), Some(10));
        assert_eq!(canon::token_sp(b"a-long-token-name x", 0), Some(17));
        refuses(
            |v| canon::token_sp(v, 0),
            &[
                b" IN",
                b"IN",
                b"IN  IP4",
                b"I\tN IP4",
                b"",
                // Eight bytes or more.
                b"audio  49170 x",
                b"aud\tio 4917",
                b" audio 49170",
                b"audio\t49170 RTP",
                b"no-blank-in-here",
            ],
        );
        assert_eq!(canon::number_sp(b"12 x", 0), Some((12, 3)));
        for (text, value) in [
            (&b"2890844526 2890844526 IN"[..], Some((2_890_844_526, 11))),
            (b"12345678 IN IP4", Some((12_345_678, 9))),
            (b"1234567 IN IP4", Some((1_234_567, 8))),
            (b"123456789012345 x1234567", Some((123_456_789_012_345, 16))),
            // 16 digits and more: the general path.
            (
                b"1234567890123456 x1234567",
                Some((1_234_567_890_123_456, 17)),
            ),
            (b"1234567890  IN IP4", None),
            (b"12345678/2 RTP/AVP", None),
            (b"x2345678 RTP/AVP", None),
            (
                b"1234567890123456789 x",
                Some((1_234_567_890_123_456_789, 20)),
            ),
            (b"12345678901234567890 x", None),
            (b"12345678", None),
            (b"1 ", Some((1, 2))),
            (b" 1 x", None),
        ] {
            assert_eq!(canon::number_sp(text, 0), value, "{text:?}");
            // The check without the value (o= numbers) agrees.
            assert_eq!(canon::digits_sp(text, 0), value.map(|(_, j)| j), "{text:?}");
        }
        assert_eq!(
            canon::number_sp_words(b"12345 RTP/AVP 0", 0),
            Some((12_345, 6))
        );
        assert_eq!(canon::number_sp_words(b"12 x", 0), None);
        for (text, value) in [
            (&b"0"[..], Some(0)),
            (b"7 ", Some(7)),
            (b"12345678", Some(12_345_678)),
            (b"123456789", Some(123_456_789)),
            (b"2890844526 2890844526", Some(2_890_844_526)),
            (b"1000000000000000000", Some(1_000_000_000_000_000_000)),
            (b"9999999999999999999/", Some(9_999_999_999_999_999_999)),
            // 20 digits: left to the general path.
            (b"00000000000000000001", None),
        ] {
            let got = canon::digits(text, 0).map(|(v, _)| v);
            assert_eq!(got, value, "{text:?}");
        }
        assert_eq!(canon::digits(b"x1", 0), None);
        assert_eq!(canon::number_sp(b"12  x", 0), None);
        assert_eq!(canon::number_sp(b"99999999999999999999 x", 0), None);
        assert_eq!(canon::last_field(b"192.0.2.1"), Some(None));
        assert_eq!(canon::last_field(b"233.252.0.1/127"), Some(Some(11)));
        assert_eq!(canon::last_field(b"192.0.2.1 x"), None);
        assert_eq!(canon::last_field(b"a-long-host-name.example.com\t"), None);
        assert_eq!(
            canon::split::<3>(b"audio 49170 RTP/AVP 0 8 111 101 96 97 98 99 100"),
            Some(([5, 11, 19], 11))
        );
        assert_eq!(canon::split::<2>(b"0"), Some(([0, 0], 0)));
        assert_eq!(canon::split::<1>(b"a b c"), Some(([1], 2)));
        for (text, value) in [
            (&b"0"[..], Some(0)),
            (b"49170", Some(49_170)),
            (b"12345678", Some(12_345_678)),
            (b"2890844526", Some(2_890_844_526)),
            (b"1234567890123456", Some(1_234_567_890_123_456)),
            (b"1234567890123456789", Some(1_234_567_890_123_456_789)),
            (b"12345678901234567890", None),
            (b"", None),
            (b"1/2", None),
            (b"1234567x", None),
            (b"123456789x", None),
            (b"/", None),
        ] {
            assert_eq!(canon::number_field(text, 0, text.len()), value, "{text:?}");
            // The same inside a longer value, as the parser sees it.
            let mut padded = text.to_vec();
            padded.extend_from_slice(b" 123456789");
            assert_eq!(
                canon::number_field(&padded, 0, text.len()),
                value,
                "{text:?}"
            );
        }
        refuses(
            canon::split::<4>,
            &[
                b"",
                b" 0",
                b"0 ",
                b"0  8",
                b"0\t8",
                b"0 8 111 101 96 97 98  99",
                // The double SP straddles two words.
                b"0 8 111  101",
            ],
        );
    }

    #[test]
    fn structural_fast_paths_match_the_general_ones() {
        for v in [
            "- 1 2 IN IP4 192.0.2.1",
            "- 1 2 IN IP6 2001:db8::1",
            "- 1 2 IN IP4 a/b",
            "- 1 2 IN IP4 ",
            "- 1 2 IN IP4 h\tx",
            "- 1 2 IN IP4  h",
            "- 1 2 IN IP4 a-long-host-name.example.com",
            "- 1 2 IN IP4 a-long-host-name.example.com x",
            "- 1 2 IN IP7 h",
            "- 1 2 IN IP4",
            "- 18446744073709551616 1 IN IP4 h",
            "a  1 2 IN IP4 h",
        ] {
            assert_eq!(Origin::parse(v), Origin::parse_general(v), "{v:?}");
        }
        for v in [
            "IN IP4 233.252.0.1/127/3",
            "IN IP4 192.0.2.1",
            "IN IP6 ::",
            "IN IP4 ",
            "IN IP4 a b",
            "IN IP4 0.0.0.0\t",
            "IN IP4 a-long-host-name.example.com/2",
            "IN IP4 a-long-host-name.example.com ",
            "IN IP6 ff00::1/3",
            "IN IP4 a/1/2/3",
            "IN IP4 /1",
            "IN IP4 h x",
        ] {
            assert_eq!(Connection::parse(v), Connection::parse_general(v), "{v:?}");
        }
        for v in [
            "audio 49170/2 RTP/AVP 0 8",
            "audio 49170 RTP/AVP 0 8 111 101",
            "audio 49170 RTP/AVP 0 8 111 101 ",
            "audio 49170 RTP/AVP 0 8  111",
            "audio 49170 RTP/AVP  0",
            "audio 49170 RTP/AVP ",
            "audio 49170  RTP/AVP 0",
            "audio 49170 RTP/AVPF 0",
            "audio\t49170 RTP/AVP 0",
            "aud\tio 49170 RTP/AVP 0",
            " audio 49170 RTP/AVP 0",
            "application 9 RTP/AVP 0",
            "audio 0 RTP/AVP 0\t8",
            "a 65535 RTP/AVP 127",
            "a 65536 RTP/AVP 127",
            "a 00001 RTP/AVP 1",
            "a 1x RTP/AVP 1",
            "audio 70000 RTP/AVP 0",
            "audio 1 RTP/AVP",
            "audio 1 RTP/AVP 0 ",
        ] {
            assert_eq!(MediaLine::parse(v), MediaLine::parse_general(v), "{v:?}");
        }
        for v in [
            "0 0",
            "3034423619 3042462419",
            "0",
            "0 0 0",
            "x 0",
            "0  0",
            "0 0 ",
        ] {
            assert_eq!(Timing::parse(v), Timing::parse_general(v), "{v:?}");
        }
    }
}
