//! G.711 (ITU-T, 1988): µ-law (PCMU, payload type 0) and A-law (PCMA,
//! payload type 8) companding of 16-bit linear PCM, one byte per sample.
//!
//! Encoding follows the segment tables of G.711 Tables 1 and 2: the
//! magnitude is split into eight chords of sixteen steps each. µ-law works
//! on 14 bits of the input, A-law on 13; the low bits are dropped, which is
//! the quantization the standard specifies.

/// Encode one sample to µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    // Only the top 14 bits matter: index by them (two's complement).
    ULAW_ENCODE[(sample as u16 >> 2) as usize]
}

/// Encode one sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // Only the top 13 bits matter.
    ALAW_ENCODE[(sample as u16 >> 3) as usize]
}

const fn ulaw_encode_slow(sample: i16) -> u8 {
    const BIAS: i32 = 0x21; // 33, the µ-law bias on 14-bit magnitudes
    const CLIP: i32 = 8159;
    let mut pcm = (sample as i32) >> 2;
    let mask = if pcm < 0 {
        pcm = -pcm;
        0x7F
    } else {
        0xFF
    };
    let magnitude = (if pcm < CLIP { pcm } else { CLIP }) + BIAS;
    // Chord: position of the highest set bit above bit 5 (values 0x21..=0x1FFF).
    let chord = 31 - magnitude.leading_zeros() as i32 - 5;
    if chord >= 8 {
        return 0x7F ^ mask;
    }
    let step = (magnitude >> (chord + 1)) & 0x0F;
    ((chord << 4 | step) as u8) ^ mask
}

/// Decode one µ-law byte to a 16-bit sample.
pub fn ulaw_decode(byte: u8) -> i16 {
    ULAW_TABLE[usize::from(byte)]
}

const fn alaw_encode_slow(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // Chord 0 and 1 share a step size; chords start at 0x20 << (chord - 1).
    let chord = if pcm < 0x20 {
        0
    } else {
        31 - pcm.leading_zeros() as i32 - 4
    };
    if chord >= 8 {
        return 0x7F ^ mask;
    }
    let step = if chord < 2 {
        (pcm >> 1) & 0x0F
    } else {
        (pcm >> chord) & 0x0F
    };
    ((chord << 4 | step) as u8) ^ mask
}

/// Decode one A-law byte to a 16-bit sample.
pub fn alaw_decode(byte: u8) -> i16 {
    ALAW_TABLE[usize::from(byte)]
}

const fn ulaw_decode_slow(byte: u8) -> i16 {
    let u = !byte;
    let mut t = (((u & 0x0F) as i32) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

const fn alaw_decode_slow(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let chord = (a & 0x70) >> 4;
    // Reconstruct at the middle of the step.
    t += 8;
    if chord != 0 {
        t += 0x100;
    }
    if chord > 1 {
        t <<= chord - 1;
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

const fn table(ulaw: bool) -> [i16; 256] {
    let mut out = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = if ulaw {
            ulaw_decode_slow(i as u8)
        } else {
            alaw_decode_slow(i as u8)
        };
        i += 1;
    }
    out
}

const fn encode_table<const N: usize>(ulaw: bool) -> [u8; N] {
    let mut out = [0u8; N];
    let shift = if ulaw { 2 } else { 3 };
    let mut i = 0;
    while i < N {
        // Index i holds the top bits of a sample; rebuild that sample.
        let sample = ((i << shift) as u16) as i16;
        out[i] = if ulaw {
            ulaw_encode_slow(sample)
        } else {
            alaw_encode_slow(sample)
        };
        i += 1;
    }
    out
}

static ULAW_ENCODE: [u8; 1 << 14] = encode_table(true);
static ALAW_ENCODE: [u8; 1 << 13] = encode_table(false);
static ULAW_TABLE: [i16; 256] = table(true);
static ALAW_TABLE: [i16; 256] = table(false);

/// The two G.711 laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum G711 {
    /// µ-law, RTP payload type 0 (RFC 3551 s.4.5.14).
    Pcmu,
    /// A-law, RTP payload type 8.
    Pcma,
}

impl G711 {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            G711::Pcmu => "PCMU",
            G711::Pcma => "PCMA",
        }
    }

    /// Look up by SDP encoding name, case-insensitively.
    pub fn from_name(name: &str) -> Option<G711> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(G711::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(G711::Pcma)
        } else {
            None
        }
    }

    /// The byte that decodes to zero: what silence looks like on the wire.
    pub fn silence(self) -> u8 {
        match self {
            G711::Pcmu => 0xFF,
            G711::Pcma => 0xD5,
        }
    }

    /// Encode `samples`, appending one byte per sample to `out`.
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        match self {
            G711::Pcmu => out.extend(samples.iter().map(|&s| ulaw_encode(s))),
            G711::Pcma => out.extend(samples.iter().map(|&s| alaw_encode(s))),
        }
    }

    /// Decode `bytes`, appending one sample per byte to `out`.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            G711::Pcmu => &ULAW_TABLE,
            G711::Pcma => &ALAW_TABLE,
        };
        out.extend(bytes.iter().map(|&b| table[usize::from(b)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference points of G.711 Tables 1 and 2 (and the RFC 3551 silence bytes).
    #[test]
    fn g711_reference_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        // First chord boundaries: 1 µ-law step is 8 (16-bit units) near zero.
        assert_eq!(ulaw_decode(ulaw_encode(100)), 104);
        assert_eq!(ulaw_decode(ulaw_encode(-100)), -104);
        assert_eq!(ulaw_encode(1000), 0xCE);
        assert_eq!(alaw_encode(1000), 0xFA);
    }

    /// Every code decodes to a value that encodes back to the same code
    /// (except the µ-law negative zero 0x7F, which is +0).
    #[test]
    fn g711_codes_are_fixed_points() {
        for b in 0..=255u8 {
            let expect = if b == 0x7F { 0xFF } else { b };
            assert_eq!(ulaw_encode(ulaw_decode(b)), expect, "ulaw {b:#x}");
            assert_eq!(alaw_encode(alaw_decode(b)), b, "alaw {b:#x}");
        }
    }

    /// Round-trip error is within half a quantization step of the chord the
    /// sample falls in (G.711's design), outside the clipping range.
    #[test]
    fn g711_round_trip_error_bounds() {
        for s in i16::MIN..=i16::MAX {
            let x = i32::from(s);
            let u = i32::from(ulaw_decode(ulaw_encode(s)));
            if x.abs() <= 32124 {
                // Step is 8 << chord; chord >= log2((|x| + 132) / 132).
                let bound = ((x.abs() + 132) >> 4).max(8);
                assert!((x - u).abs() <= bound, "ulaw {s} -> {u}");
            }
            let a = i32::from(alaw_decode(alaw_encode(s)));
            if x.abs() <= 32256 {
                let bound = (x.abs() >> 5).max(16);
                assert!((x - a).abs() <= bound, "alaw {s} -> {a}");
            }
        }
    }

    #[test]
    fn tables_match_the_formulas() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), ulaw_encode_slow(s), "{s}");
            assert_eq!(alaw_encode(s), alaw_encode_slow(s), "{s}");
        }
    }

    #[test]
    fn monotonic_decode() {
        // Decoded values increase with the code within each sign half.
        let mut prev = i16::MIN;
        for b in (0..=0x7Fu8).chain((0x80..=0xFFu8).rev()) {
            let v = ulaw_decode(b);
            assert!(v >= prev, "{b:#x}");
            prev = v;
        }
    }

    #[test]
    fn buffer_codec() {
        let samples = [0i16, 1000, -1000, 32000];
        let mut enc = Vec::new();
        G711::Pcma.encode(&samples, &mut enc);
        assert_eq!(enc.len(), 4);
        assert_eq!(enc[0], G711::Pcma.silence());
        let mut dec = Vec::new();
        G711::Pcma.decode(&enc, &mut dec);
        assert_eq!(dec[0], 8);
        assert_eq!(G711::from_name("pcmu"), Some(G711::Pcmu));
        assert_eq!(G711::Pcmu.payload_type(), 0);
        assert_eq!(G711::Pcma.name(), "PCMA");
    }
}
