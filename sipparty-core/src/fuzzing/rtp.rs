//! Fuzz entry points for RTP and RTCP.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::media::dtmf::DtmfReceiver;
use crate::media::wav::Wav;
use crate::media::{MediaConfig, MediaSession, G711};
use crate::rtp::{rtcp, RtpPacket};
use crate::SeededRandom;

/// Parse `data` as RTP, RTCP, a telephone-event and a WAV file, and feed
/// it, cut into datagrams at `0xFE` bytes, to a media session.
pub fn packet(data: &[u8]) {
    if let Ok(p) = RtpPacket::parse(data) {
        // What parses must serialize back to the same bytes, except padding
        // contents, which the builder writes as zeros.
        if let Ok(bytes) = p.to_bytes() {
            assert_eq!(bytes.len(), data.len());
            if p.padding == 0 {
                assert_eq!(bytes, data);
            }
        }
    }
    if let Ok(packets) = rtcp::parse_compound(data) {
        let mut out = Vec::new();
        // Building what was parsed must not fail or panic; unknown types
        // and SDES padding may differ in length, so no byte comparison.
        let _ = rtcp::write_compound(&packets, &mut out);
    }
    let _ = DtmfReceiver::new().handle(0, data);
    if let Ok(wav) = Wav::parse(data) {
        // What a WAV source does with a file: mono at 8 kHz. Bounded: the
        // parser only accepts rates that expand a file at most 8 times.
        let mono = wav.to_mono(8000);
        assert!(mono.len() <= 8 * wav.samples.len() + 1);
    }

    let source = SocketAddr::from((Ipv4Addr::LOCALHOST, 40000));
    let mut config = MediaConfig::new(source, G711::Pcmu);
    config.telephone_event_pt = Some(101);
    let mut now = Instant::now();
    let mut media = MediaSession::new(config, now, &mut SeededRandom::new(1));
    for datagram in data.split(|&b| b == 0xFE) {
        now += Duration::from_millis(7);
        let _ = media.handle_datagram(now, datagram, source);
        media.handle_timeout(now);
        while media.poll_transmit().is_some() {}
        while media.poll_event().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_packets() {
        let mut rtp = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
        rtp.extend_from_slice(&[0xFF; 160]);
        packet(&rtp);
        packet(&[
            0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0,
        ]);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            packet(&data);
        }

        #[test]
        fn never_panics_on_rtp_shaped_input(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            b0 in 0x80u8..0xC0,
        ) {
            let mut data = vec![b0];
            data.extend_from_slice(&body);
            packet(&data);
        }
    }
}
