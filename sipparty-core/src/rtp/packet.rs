//! The RTP fixed header, CSRC list, header extension and padding
//! (RFC 3550 section 5.1 and 5.3.1), parsed as a borrowed view and built
//! into a caller's buffer.

use std::fmt;

use smallvec::SmallVec;

/// The only RTP version this crate speaks (RFC 3550 section 5.1).
pub const RTP_VERSION: u8 = 2;

/// Size of the fixed RTP header, without CSRCs or extension.
pub const FIXED_HEADER_LEN: usize = 12;

/// At most 15 contributing sources fit in the 4-bit CC field.
pub const MAX_CSRC: usize = 15;

/// Why an RTP packet could not be parsed or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtpError {
    /// Shorter than the header it announces.
    TooShort,
    /// The version field is not 2.
    BadVersion(u8),
    /// The P bit is set but the pad count is zero or longer than the packet.
    BadPadding,
    /// The extension header runs past the end of the packet.
    BadExtension,
    /// More than 15 CSRCs were given to the builder.
    TooManyCsrc,
    /// A header extension body that is not a multiple of 4 bytes, or is
    /// longer than the 16-bit length field can express.
    ExtensionNotAligned,
    /// Padding of zero bytes was requested (the pad count includes itself).
    ZeroPadding,
    /// The payload type does not fit in 7 bits.
    BadPayloadType(u8),
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtpError::TooShort => f.write_str("RTP packet shorter than its header"),
            RtpError::BadVersion(v) => write!(f, "RTP version {v}, expected 2"),
            RtpError::BadPadding => f.write_str("RTP padding count is zero or too large"),
            RtpError::BadExtension => f.write_str("RTP header extension runs past the packet"),
            RtpError::TooManyCsrc => f.write_str("more than 15 CSRCs"),
            RtpError::ExtensionNotAligned => {
                f.write_str("RTP header extension is not a multiple of 4 bytes or too long")
            }
            RtpError::ZeroPadding => f.write_str("RTP padding of zero bytes"),
            RtpError::BadPayloadType(pt) => write!(f, "payload type {pt} does not fit in 7 bits"),
        }
    }
}

impl std::error::Error for RtpError {}

/// The RTP header fields a sender chooses (RFC 3550 section 5.1). The
/// version is always 2; padding and extension presence are implied by the
/// [`RtpPacket`] that carries this header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// The M bit; for audio, the first packet of a talkspurt (RFC 3551 s.4.1).
    pub marker: bool,
    /// The 7-bit payload type.
    pub payload_type: u8,
    /// 16-bit sequence number, incremented by one per packet.
    pub sequence_number: u16,
    /// Sampling instant of the first octet of the payload, in clock-rate units.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
    /// Contributing sources (at most 15), inline for up to four.
    pub csrc: SmallVec<[u32; 4]>,
}

/// A header extension (RFC 3550 section 5.3.1): a 16-bit profile-defined
/// identifier and a body whose length is a multiple of four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    /// The "defined by profile" field (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension body, without its 4-byte preamble.
    pub data: &'a [u8],
}

/// An RTP packet, borrowed from the datagram it was parsed from (or from the
/// caller's buffers when built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The header fields.
    pub header: RtpHeader,
    /// The header extension, if the X bit is set.
    pub extension: Option<RtpExtension<'a>>,
    /// The payload, with padding removed.
    pub payload: &'a [u8],
    /// Number of padding bytes, including the count byte itself; zero when
    /// the P bit is clear.
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parse one RTP packet. Rejects anything RFC 3550 A.1 calls invalid at
    /// the header level: version other than 2, a length inconsistent with
    /// CC, X or P. Payload type validity is the session's business.
    pub fn parse(buf: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort);
        }
        let b0 = buf[0];
        let version = b0 >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let csrc_count = usize::from(b0 & 0x0F);
        let b1 = buf[1];
        let mut header = RtpHeader {
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7F,
            sequence_number: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: read_u32(buf, 4),
            ssrc: read_u32(buf, 8),
            csrc: SmallVec::new(),
        };
        let mut pos = FIXED_HEADER_LEN;
        if buf.len() < pos + 4 * csrc_count {
            return Err(RtpError::TooShort);
        }
        for _ in 0..csrc_count {
            header.csrc.push(read_u32(buf, pos));
            pos += 4;
        }
        let extension = if has_extension {
            if buf.len() < pos + 4 {
                return Err(RtpError::BadExtension);
            }
            let profile = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
            let words = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
            pos += 4;
            let end = pos + 4 * words;
            if buf.len() < end {
                return Err(RtpError::BadExtension);
            }
            let data = &buf[pos..end];
            pos = end;
            Some(RtpExtension { profile, data })
        } else {
            None
        };
        let mut end = buf.len();
        let padding = if has_padding {
            // RFC 3550 s.5.1: the last octet counts the padding, itself included.
            let count = buf[end - 1];
            if count == 0 || usize::from(count) > end - pos {
                return Err(RtpError::BadPadding);
            }
            end -= usize::from(count);
            count
        } else {
            0
        };
        Ok(RtpPacket {
            header,
            extension,
            payload: &buf[pos..end],
            padding,
        })
    }

    /// The length [`write_to`](Self::write_to) will append.
    pub fn len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.header.csrc.len()
            + self.extension.map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Whether the packet is header-only (no payload, no padding, no extras).
    pub fn is_empty(&self) -> bool {
        self.len() == FIXED_HEADER_LEN
    }

    /// Append the wire form to `out`. Padding bytes are zero except the
    /// final count byte.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let h = &self.header;
        if h.csrc.len() > MAX_CSRC {
            return Err(RtpError::TooManyCsrc);
        }
        if h.payload_type > 0x7F {
            return Err(RtpError::BadPayloadType(h.payload_type));
        }
        if let Some(ext) = self.extension {
            if ext.data.len() % 4 != 0 || ext.data.len() / 4 > usize::from(u16::MAX) {
                return Err(RtpError::ExtensionNotAligned);
            }
        }
        out.reserve(self.len());
        let mut b0 = RTP_VERSION << 6 | h.csrc.len() as u8;
        if self.padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(u8::from(h.marker) << 7 | h.payload_type);
        out.extend_from_slice(&h.sequence_number.to_be_bytes());
        out.extend_from_slice(&h.timestamp.to_be_bytes());
        out.extend_from_slice(&h.ssrc.to_be_bytes());
        for c in &h.csrc {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(ext) = self.extension {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            // Checked above: the word count fits in 16 bits.
            out.extend_from_slice(&((ext.data.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(ext.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.resize(out.len() + usize::from(self.padding) - 1, 0);
            out.push(self.padding);
        }
        Ok(())
    }

    /// The wire form as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        let mut out = Vec::with_capacity(self.len());
        self.write_to(&mut out)?;
        Ok(out)
    }
}

/// Whether a datagram on a multiplexed port is RTCP rather than RTP
/// (RFC 5761 section 4: the second octet of RTCP is a packet type in
/// 192..=223, which as marker + payload type falls in a range RTP avoids).
pub fn is_rtcp(buf: &[u8]) -> bool {
    buf.len() >= 2 && (192..=223).contains(&buf[1])
}

pub(crate) fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 3550 s.5.1: the layout of a minimal PCMU packet, field by field.
    #[test]
    fn rfc3550_s5_1_fixed_header_layout() {
        let pkt = RtpPacket {
            header: RtpHeader {
                marker: true,
                payload_type: 0,
                sequence_number: 0x1234,
                timestamp: 0xDEAD_BEEF,
                ssrc: 0x0102_0304,
                csrc: SmallVec::new(),
            },
            extension: None,
            payload: &[0xFF, 0xFE],
            padding: 0,
        };
        let bytes = pkt.to_bytes().unwrap();
        assert_eq!(
            bytes,
            [0x80, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 0xFF, 0xFE]
        );
        assert_eq!(RtpPacket::parse(&bytes).unwrap(), pkt);
    }

    #[test]
    fn rfc3550_s5_1_csrc_extension_and_padding() {
        let ext = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let pkt = RtpPacket {
            header: RtpHeader {
                marker: false,
                payload_type: 8,
                sequence_number: 7,
                timestamp: 160,
                ssrc: 9,
                csrc: SmallVec::from_slice(&[10, 11]),
            },
            extension: Some(RtpExtension {
                profile: 0xBEDE,
                data: &ext,
            }),
            payload: &[0xD5; 3],
            padding: 5,
        };
        let bytes = pkt.to_bytes().unwrap();
        assert_eq!(bytes[0], 0x80 | 0x20 | 0x10 | 2);
        assert_eq!(bytes.len(), 12 + 8 + 4 + 8 + 3 + 5);
        assert_eq!(*bytes.last().unwrap(), 5);
        // Extension length counts 32-bit words (RFC 3550 s.5.3.1).
        assert_eq!(&bytes[20..24], &[0xBE, 0xDE, 0, 2]);
        let parsed = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(parsed, pkt);
        assert_eq!(parsed.len(), bytes.len());
    }

    #[test]
    fn rejects_malformed_headers() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort));
        let mut v1 = [0u8; 12];
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        // CC = 2 but no CSRC words.
        let mut cc = [0u8; 12];
        cc[0] = 0x82;
        assert_eq!(RtpPacket::parse(&cc), Err(RtpError::TooShort));
        // X set, extension claims 1 word that is missing.
        let mut x = vec![0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 1];
        assert_eq!(RtpPacket::parse(&x), Err(RtpError::BadExtension));
        x.truncate(14);
        assert_eq!(RtpPacket::parse(&x), Err(RtpError::BadExtension));
        // P set with a zero count, and with a count past the header.
        let mut p = [0u8; 13];
        p[0] = 0xA0;
        assert_eq!(RtpPacket::parse(&p), Err(RtpError::BadPadding));
        p[12] = 2;
        assert_eq!(RtpPacket::parse(&p), Err(RtpError::BadPadding));
        p[12] = 1;
        assert_eq!(RtpPacket::parse(&p).unwrap().payload, &[] as &[u8]);
    }

    #[test]
    fn builder_rejects_what_the_wire_cannot_carry() {
        let mut pkt = RtpPacket {
            header: RtpHeader::default(),
            extension: Some(RtpExtension {
                profile: 1,
                data: &[1, 2, 3],
            }),
            payload: &[],
            padding: 0,
        };
        assert_eq!(pkt.to_bytes(), Err(RtpError::ExtensionNotAligned));
        pkt.extension = None;
        pkt.header.csrc = (0..16).collect();
        assert_eq!(pkt.to_bytes(), Err(RtpError::TooManyCsrc));
        pkt.header.csrc.clear();
        pkt.header.payload_type = 128;
        assert_eq!(pkt.to_bytes(), Err(RtpError::BadPayloadType(128)));
    }

    #[test]
    fn rfc5761_s4_demultiplexing() {
        assert!(is_rtcp(&[0x80, 200]));
        assert!(is_rtcp(&[0x81, 201]));
        assert!(!is_rtcp(&[0x80, 0]));
        assert!(!is_rtcp(&[0x80, 0x80 | 8]));
        assert!(!is_rtcp(&[0x80]));
    }

    proptest! {
        #[test]
        fn header_round_trip(
            marker: bool,
            pt in 0u8..128,
            seq: u16,
            ts: u32,
            ssrc: u32,
            csrc in proptest::collection::vec(any::<u32>(), 0..=15),
            ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<[u8; 4]>(), 0..4))),
            payload in proptest::collection::vec(any::<u8>(), 0..200),
            padding in 0u8..=255,
        ) {
            let ext_bytes: Option<(u16, Vec<u8>)> = ext.map(|(p, w)| (p, w.concat()));
            let pkt = RtpPacket {
                header: RtpHeader {
                    marker,
                    payload_type: pt,
                    sequence_number: seq,
                    timestamp: ts,
                    ssrc,
                    csrc: csrc.into_iter().collect(),
                },
                extension: ext_bytes.as_ref().map(|(profile, data)| RtpExtension { profile: *profile, data }),
                payload: &payload,
                padding,
            };
            let bytes = pkt.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), pkt.len());
            let parsed = RtpPacket::parse(&bytes).unwrap();
            prop_assert_eq!(parsed, pkt);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = RtpPacket::parse(&bytes);
        }
    }
}
