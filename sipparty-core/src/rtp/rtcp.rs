//! RTCP compound packets (RFC 3550 section 6.4 to 6.6): sender reports,
//! receiver reports, source descriptions and BYE. Other packet types (APP,
//! feedback) are kept as opaque bytes so a compound packet survives a
//! round trip.
//!
//! RTCP is sent a few times a minute, so the parsed form is owned.

use std::fmt;

use super::packet::read_u32;

/// RTCP packet type: sender report.
pub const PT_SR: u8 = 200;
/// RTCP packet type: receiver report.
pub const PT_RR: u8 = 201;
/// RTCP packet type: source description.
pub const PT_SDES: u8 = 202;
/// RTCP packet type: goodbye.
pub const PT_BYE: u8 = 203;

/// SDES item type CNAME (RFC 3550 s.6.5.1), required in every compound packet.
pub const SDES_CNAME: u8 = 1;

/// Why an RTCP packet could not be parsed or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpError {
    /// Shorter than a header or than its length field says.
    TooShort,
    /// The version field is not 2.
    BadVersion(u8),
    /// The padding bit is set on a packet other than the last, or the pad
    /// count is invalid (RFC 3550 A.2).
    BadPadding,
    /// The count field disagrees with the body (report blocks, chunks, SSRCs).
    BadCount,
    /// An SDES item runs past its chunk, or a chunk is not terminated.
    BadSdes,
    /// More than 31 report blocks, chunks or SSRCs, or an item, reason or
    /// packet too long for its length field.
    TooLong,
    /// The compound packet holds no packet.
    Empty,
}

impl fmt::Display for RtcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtcpError::TooShort => f.write_str("RTCP packet shorter than its length"),
            RtcpError::BadVersion(v) => write!(f, "RTCP version {v}, expected 2"),
            RtcpError::BadPadding => f.write_str("invalid RTCP padding"),
            RtcpError::BadCount => f.write_str("RTCP count field disagrees with the body"),
            RtcpError::BadSdes => f.write_str("malformed SDES chunk"),
            RtcpError::TooLong => f.write_str("RTCP element too long for its field"),
            RtcpError::Empty => f.write_str("empty RTCP compound packet"),
        }
    }
}

impl std::error::Error for RtcpError {}

/// One reception report block (RFC 3550 s.6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256 units.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a signed 24-bit value (negative with duplicates).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | max_seq).
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR from this source.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

/// The sender information of an SR (RFC 3550 s.6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp (seconds since 1900 << 32 | fraction).
    pub ntp_timestamp: u64,
    /// The same instant in the RTP timestamp clock.
    pub rtp_timestamp: u32,
    /// Packets sent since starting transmission.
    pub packet_count: u32,
    /// Payload octets sent since starting transmission.
    pub octet_count: u32,
}

/// A sender report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// What the sender sent.
    pub sender_info: SenderInfo,
    /// What the sender received (at most 31 blocks).
    pub reports: Vec<ReportBlock>,
}

/// A receiver report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// What the reporter received (at most 31 blocks).
    pub reports: Vec<ReportBlock>,
}

/// One SDES chunk: a source and its items (type, value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesChunk {
    /// The described source.
    pub ssrc: u32,
    /// Items as (type, value), CNAME being type 1; values are at most 255 bytes.
    pub items: Vec<(u8, Vec<u8>)>,
}

/// A BYE packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Goodbye {
    /// The sources leaving.
    pub sources: Vec<u32>,
    /// Optional reason (at most 255 bytes).
    pub reason: Option<Vec<u8>>,
}

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket {
    /// SR (200).
    SenderReport(SenderReport),
    /// RR (201).
    ReceiverReport(ReceiverReport),
    /// SDES (202).
    SourceDescription(Vec<SdesChunk>),
    /// BYE (203).
    Goodbye(Goodbye),
    /// Any other type (APP, RTPFB, PSFB, XR...), kept verbatim.
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count/subtype field.
        count: u8,
        /// The body after the 4-byte header, padding removed.
        body: Vec<u8>,
    },
}

/// Parse a compound RTCP packet into its parts (RFC 3550 s.6.1 and the
/// validity checks of A.2: version 2 on every packet, padding only on the
/// last, lengths summing to the datagram). Unlike A.2 a first packet other
/// than SR/RR is accepted, for RFC 5506 reduced-size RTCP.
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(RtcpError::TooShort);
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        if rest.len() < len {
            return Err(RtcpError::TooShort);
        }
        let (packet, tail) = rest.split_at(len);
        let mut body = &packet[4..];
        if packet[0] & 0x20 != 0 {
            if !tail.is_empty() {
                return Err(RtcpError::BadPadding);
            }
            let count = usize::from(packet[len - 1]);
            if count == 0 || count > body.len() {
                return Err(RtcpError::BadPadding);
            }
            body = &body[..body.len() - count];
        }
        out.push(parse_one(packet[1], packet[0] & 0x1F, body)?);
        rest = tail;
    }
    if out.is_empty() {
        return Err(RtcpError::Empty);
    }
    Ok(out)
}

fn parse_one(packet_type: u8, count: u8, body: &[u8]) -> Result<RtcpPacket, RtcpError> {
    match packet_type {
        PT_SR => {
            if body.len() < 24 {
                return Err(RtcpError::TooShort);
            }
            let sender_info = SenderInfo {
                ntp_timestamp: u64::from(read_u32(body, 4)) << 32 | u64::from(read_u32(body, 8)),
                rtp_timestamp: read_u32(body, 12),
                packet_count: read_u32(body, 16),
                octet_count: read_u32(body, 20),
            };
            Ok(RtcpPacket::SenderReport(SenderReport {
                ssrc: read_u32(body, 0),
                sender_info,
                reports: parse_blocks(&body[24..], count)?,
            }))
        }
        PT_RR => {
            if body.len() < 4 {
                return Err(RtcpError::TooShort);
            }
            Ok(RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: read_u32(body, 0),
                reports: parse_blocks(&body[4..], count)?,
            }))
        }
        PT_SDES => parse_sdes(body, count).map(RtcpPacket::SourceDescription),
        PT_BYE => {
            let n = usize::from(count);
            if body.len() < 4 * n {
                return Err(RtcpError::BadCount);
            }
            let sources = (0..n).map(|i| read_u32(body, 4 * i)).collect();
            let rest = &body[4 * n..];
            let reason = match rest.first() {
                Some(&l) if l > 0 => {
                    let l = usize::from(l);
                    if rest.len() < 1 + l {
                        return Err(RtcpError::TooShort);
                    }
                    Some(rest[1..=l].to_vec())
                }
                _ => None,
            };
            Ok(RtcpPacket::Goodbye(Goodbye { sources, reason }))
        }
        _ => Ok(RtcpPacket::Other {
            packet_type,
            count,
            body: body.to_vec(),
        }),
    }
}

fn parse_blocks(body: &[u8], count: u8) -> Result<Vec<ReportBlock>, RtcpError> {
    let n = usize::from(count);
    // Profile-specific extensions may follow the blocks; they are ignored.
    if body.len() < 24 * n {
        return Err(RtcpError::BadCount);
    }
    Ok(body
        .chunks_exact(24)
        .take(n)
        .map(|b| {
            let lost = read_u32(b, 4);
            // Sign-extend the 24-bit cumulative loss.
            let cumulative = ((lost << 8) as i32) >> 8;
            ReportBlock {
                ssrc: read_u32(b, 0),
                fraction_lost: (lost >> 24) as u8,
                cumulative_lost: cumulative,
                highest_sequence: read_u32(b, 8),
                jitter: read_u32(b, 12),
                last_sr: read_u32(b, 16),
                delay_since_last_sr: read_u32(b, 20),
            }
        })
        .collect())
}

fn parse_sdes(mut body: &[u8], count: u8) -> Result<Vec<SdesChunk>, RtcpError> {
    let mut chunks = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        if body.len() < 4 {
            return Err(RtcpError::BadCount);
        }
        let mut chunk = SdesChunk {
            ssrc: read_u32(body, 0),
            items: Vec::new(),
        };
        let mut pos = 4;
        loop {
            let Some(&kind) = body.get(pos) else {
                return Err(RtcpError::BadSdes);
            };
            if kind == 0 {
                // RFC 3550 s.6.5: the list ends with a null octet, then
                // padding to the next 32-bit boundary.
                pos = (pos + 4) & !3;
                break;
            }
            let Some(&l) = body.get(pos + 1) else {
                return Err(RtcpError::BadSdes);
            };
            let end = pos + 2 + usize::from(l);
            if end > body.len() {
                return Err(RtcpError::BadSdes);
            }
            chunk.items.push((kind, body[pos + 2..end].to_vec()));
            pos = end;
        }
        chunks.push(chunk);
        body = body.get(pos..).unwrap_or(&[]);
    }
    Ok(chunks)
}

/// Append `packets` as one compound packet to `out`. No padding is added
/// (RTCP over SRTP is not in scope).
pub fn write_compound(packets: &[RtcpPacket], out: &mut Vec<u8>) -> Result<(), RtcpError> {
    if packets.is_empty() {
        return Err(RtcpError::Empty);
    }
    for p in packets {
        write_one(p, out)?;
    }
    Ok(())
}

fn write_one(packet: &RtcpPacket, out: &mut Vec<u8>) -> Result<(), RtcpError> {
    let start = out.len();
    let (packet_type, count) = match packet {
        RtcpPacket::SenderReport(sr) => (PT_SR, sr.reports.len()),
        RtcpPacket::ReceiverReport(rr) => (PT_RR, rr.reports.len()),
        RtcpPacket::SourceDescription(chunks) => (PT_SDES, chunks.len()),
        RtcpPacket::Goodbye(bye) => (PT_BYE, bye.sources.len()),
        RtcpPacket::Other {
            packet_type, count, ..
        } => (*packet_type, usize::from(*count)),
    };
    if count > 31 {
        return Err(RtcpError::TooLong);
    }
    out.extend_from_slice(&[0x80 | count as u8, packet_type, 0, 0]);
    match packet {
        RtcpPacket::SenderReport(sr) => {
            put_u32(out, sr.ssrc);
            let si = &sr.sender_info;
            put_u32(out, (si.ntp_timestamp >> 32) as u32);
            put_u32(out, si.ntp_timestamp as u32);
            put_u32(out, si.rtp_timestamp);
            put_u32(out, si.packet_count);
            put_u32(out, si.octet_count);
            write_blocks(&sr.reports, out);
        }
        RtcpPacket::ReceiverReport(rr) => {
            put_u32(out, rr.ssrc);
            write_blocks(&rr.reports, out);
        }
        RtcpPacket::SourceDescription(chunks) => {
            for chunk in chunks {
                put_u32(out, chunk.ssrc);
                for (kind, value) in &chunk.items {
                    if value.len() > 255 || *kind == 0 {
                        out.truncate(start);
                        return Err(RtcpError::TooLong);
                    }
                    out.push(*kind);
                    out.push(value.len() as u8);
                    out.extend_from_slice(value);
                }
                // Null terminator plus padding to a word boundary.
                out.push(0);
                while (out.len() - start) % 4 != 0 {
                    out.push(0);
                }
            }
        }
        RtcpPacket::Goodbye(bye) => {
            for s in &bye.sources {
                put_u32(out, *s);
            }
            if let Some(reason) = &bye.reason {
                if reason.len() > 255 {
                    out.truncate(start);
                    return Err(RtcpError::TooLong);
                }
                out.push(reason.len() as u8);
                out.extend_from_slice(reason);
                while (out.len() - start) % 4 != 0 {
                    out.push(0);
                }
            }
        }
        RtcpPacket::Other { body, .. } => {
            out.extend_from_slice(body);
            while (out.len() - start) % 4 != 0 {
                out.push(0);
            }
        }
    }
    let words = (out.len() - start) / 4 - 1;
    let Ok(words) = u16::try_from(words) else {
        out.truncate(start);
        return Err(RtcpError::TooLong);
    };
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

fn write_blocks(blocks: &[ReportBlock], out: &mut Vec<u8>) {
    for b in blocks {
        put_u32(out, b.ssrc);
        // Clamp to the 24-bit signed range (RFC 3550 s.6.4.1).
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF;
        put_u32(out, u32::from(b.fraction_lost) << 24 | lost);
        put_u32(out, b.highest_sequence);
        put_u32(out, b.jitter);
        put_u32(out, b.last_sr);
        put_u32(out, b.delay_since_last_sr);
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xAABB_CCDD,
            fraction_lost: 64,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 42,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x0001_8000,
        }
    }

    /// RFC 3550 s.6.4.1: SR layout, word by word.
    #[test]
    fn rfc3550_s6_4_1_sender_report_fields() {
        let sr = RtcpPacket::SenderReport(SenderReport {
            ssrc: 0x0102_0304,
            sender_info: SenderInfo {
                ntp_timestamp: 0x8385_0000_4000_0000,
                rtp_timestamp: 8000,
                packet_count: 50,
                octet_count: 8000,
            },
            reports: vec![block()],
        });
        let mut out = Vec::new();
        write_compound(std::slice::from_ref(&sr), &mut out).unwrap();
        assert_eq!(out.len(), 4 + 24 + 24);
        assert_eq!(&out[..4], &[0x81, 200, 0, 12]);
        assert_eq!(&out[4..8], &[1, 2, 3, 4]);
        assert_eq!(&out[8..16], &[0x83, 0x85, 0, 0, 0x40, 0, 0, 0]);
        assert_eq!(&out[16..20], &8000u32.to_be_bytes());
        assert_eq!(&out[20..24], &50u32.to_be_bytes());
        // Report block: fraction 64, cumulative -3 as 24-bit two's complement.
        assert_eq!(&out[32..36], &[64, 0xFF, 0xFF, 0xFD]);
        assert_eq!(parse_compound(&out).unwrap(), vec![sr]);
    }

    /// RFC 3550 s.6.4.2 + s.6.5 + s.6.6: RR, SDES CNAME and BYE in one compound.
    #[test]
    fn rfc3550_s6_1_compound_rr_sdes_bye() {
        let packets = vec![
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 7,
                reports: vec![block(), ReportBlock::default()],
            }),
            RtcpPacket::SourceDescription(vec![SdesChunk {
                ssrc: 7,
                items: vec![
                    (SDES_CNAME, b"alice@192.0.2.1".to_vec()),
                    (2, b"Alice".to_vec()),
                ],
            }]),
            RtcpPacket::Goodbye(Goodbye {
                sources: vec![7],
                reason: Some(b"hangup".to_vec()),
            }),
        ];
        let mut out = Vec::new();
        write_compound(&packets, &mut out).unwrap();
        assert_eq!(out.len() % 4, 0);
        assert_eq!(out[1], PT_RR);
        assert_eq!(out[0] & 0x1F, 2);
        assert_eq!(parse_compound(&out).unwrap(), packets);
    }

    #[test]
    fn unknown_types_survive() {
        let packets = vec![
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 1,
                reports: vec![],
            }),
            RtcpPacket::Other {
                packet_type: 204,
                count: 3,
                body: b"\0\0\0\x01name".to_vec(),
            },
        ];
        let mut out = Vec::new();
        write_compound(&packets, &mut out).unwrap();
        assert_eq!(parse_compound(&out).unwrap(), packets);
    }

    /// RFC 3550 A.2: validity checks on compound packets.
    #[test]
    fn rfc3550_a2_validity_checks() {
        assert_eq!(parse_compound(&[]), Err(RtcpError::Empty));
        assert_eq!(parse_compound(&[0x80, 201, 0]), Err(RtcpError::TooShort));
        assert_eq!(
            parse_compound(&[0x40, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::BadVersion(1))
        );
        // Length says two words, only one present.
        assert_eq!(
            parse_compound(&[0x80, 201, 0, 2, 0, 0, 0, 1]),
            Err(RtcpError::TooShort)
        );
        // RR claiming one block with none present.
        assert_eq!(
            parse_compound(&[0x81, 201, 0, 1, 0, 0, 0, 1]),
            Err(RtcpError::BadCount)
        );
        // Padding on a packet that is not last.
        let rr = [0xA0, 201, 0, 1, 0, 0, 0, 4];
        let mut two = rr.to_vec();
        two.extend_from_slice(&[0x80, 201, 0, 1, 0, 0, 0, 1]);
        assert_eq!(parse_compound(&two), Err(RtcpError::BadPadding));
        // On the last it is honoured: four bytes of padding.
        let mut padded = vec![0xA0, 201, 0, 2, 0, 0, 0, 9, 0, 0, 0, 4];
        assert_eq!(
            parse_compound(&padded).unwrap(),
            vec![RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 9,
                reports: vec![]
            })]
        );
        // An SDES item running past the packet.
        padded = vec![0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', 0];
        assert_eq!(parse_compound(&padded), Err(RtcpError::BadSdes));
    }

    #[test]
    fn builder_rejects_overlong_fields() {
        let mut out = Vec::new();
        let many = RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock::default(); 32],
        });
        assert_eq!(write_compound(&[many], &mut out), Err(RtcpError::TooLong));
        let long = RtcpPacket::SourceDescription(vec![SdesChunk {
            ssrc: 1,
            items: vec![(SDES_CNAME, vec![b'x'; 256])],
        }]);
        assert_eq!(write_compound(&[long], &mut out), Err(RtcpError::TooLong));
        assert!(out.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            let _ = parse_compound(&bytes);
        }
    }
}
