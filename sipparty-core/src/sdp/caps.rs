//! What a party can send and receive: codecs and media capabilities.

use super::attributes::{Direction, EventSet};

/// A codec as negotiated: encoding name, RTP clock rate, channels, payload
/// type and format parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Codec {
    /// Encoding name as in rtpmap (`PCMU`, `opus`...); compared case-insensitively.
    pub name: String,
    /// RTP clock rate in Hz (8000 for G.722, RFC 3551 s.4.5.2).
    pub clock_rate: u32,
    /// Audio channels (1 unless the rtpmap says otherwise).
    pub channels: u8,
    /// RTP payload type (static 0..=95, dynamic 96..=127).
    pub payload_type: u8,
    /// Format parameters (`a=fmtp`), if any.
    pub fmtp: Option<String>,
}

// By hand so `clone_from` reuses the name and fmtp strings.
impl Clone for Codec {
    fn clone(&self) -> Self {
        Codec {
            name: self.name.clone(),
            clock_rate: self.clock_rate,
            channels: self.channels,
            payload_type: self.payload_type,
            fmtp: self.fmtp.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.name.clone_from(&source.name);
        self.clock_rate = source.clock_rate;
        self.channels = source.channels;
        self.payload_type = source.payload_type;
        self.fmtp.clone_from(&source.fmtp);
    }
}

impl Codec {
    /// A codec without format parameters.
    pub fn new(name: &str, clock_rate: u32, channels: u8, payload_type: u8) -> Self {
        Codec {
            name: name.to_owned(),
            clock_rate,
            channels,
            payload_type,
            fmtp: None,
        }
    }

    /// G.711 mu-law, static payload type 0.
    pub fn pcmu() -> Self {
        Self::new("PCMU", 8000, 1, 0)
    }

    /// G.711 A-law, static payload type 8.
    pub fn pcma() -> Self {
        Self::new("PCMA", 8000, 1, 8)
    }

    /// G.722, static payload type 9 (RTP clock 8000 though sampled at 16 kHz).
    pub fn g722() -> Self {
        Self::new("G722", 8000, 1, 9)
    }

    /// Opus, dynamic payload type 111, always `opus/48000/2` (RFC 7587 s.7).
    pub fn opus() -> Self {
        Self::new("opus", 48000, 2, 111)
    }

    /// Whether this codec is `name/clock_rate/channels`, names compared
    /// case-insensitively (RFC 3264 s.6.1, RFC 4855 s.3).
    pub fn matches(&self, name: &str, clock_rate: u32, channels: u8) -> bool {
        // The numbers first: they settle most mismatches cheaply.
        self.clock_rate == clock_rate
            && self.channels == channels
            && self.name.eq_ignore_ascii_case(name)
    }
}

/// What a party offers and accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaCapabilities {
    /// Audio codecs, in order of preference.
    pub audio: Vec<Codec>,
    /// Video codecs, in order of preference (empty: no video).
    pub video: Vec<Codec>,
    /// Whether RFC 4733 telephone-event is offered and accepted with audio.
    pub telephone_event: bool,
    /// The payload type used when offering telephone-event (default 101).
    pub telephone_event_pt: u8,
    /// The events offered and accepted (default 0-16: DTMF and flash).
    pub telephone_events: EventSet,
    /// The packetization time put in offers and answers, in milliseconds.
    pub ptime: Option<u32>,
    /// The direction wanted for the media (before hold/resume changes).
    pub direction: Direction,
}

impl MediaCapabilities {
    /// PCMU, PCMA, G722, opus/48000/2 (PT 111) and telephone-event (PT 101,
    /// events 0-16), ptime 20, sendrecv.
    pub fn default_audio() -> Self {
        MediaCapabilities {
            audio: vec![Codec::pcmu(), Codec::pcma(), Codec::g722(), Codec::opus()],
            video: Vec::new(),
            telephone_event: true,
            telephone_event_pt: 101,
            telephone_events: EventSet::parse("0-16").unwrap_or_default(),
            ptime: Some(20),
            direction: Direction::SendRecv,
        }
    }

    /// The codecs for a media type (`audio` or `video`).
    pub fn codecs_for(&self, media: &str) -> &[Codec] {
        if media.eq_ignore_ascii_case("audio") {
            &self.audio
        } else if media.eq_ignore_ascii_case("video") {
            &self.video
        } else {
            &[]
        }
    }
}

/// The RFC 3551 s.6 static payload types: (pt, name, clock rate, channels).
const STATIC: &[(u8, &str, u32, u8)] = &[
    (0, "PCMU", 8000, 1),
    (3, "GSM", 8000, 1),
    (4, "G723", 8000, 1),
    (5, "DVI4", 8000, 1),
    (6, "DVI4", 16000, 1),
    (7, "LPC", 8000, 1),
    (8, "PCMA", 8000, 1),
    (9, "G722", 8000, 1),
    (10, "L16", 44100, 2),
    (11, "L16", 44100, 1),
    (12, "QCELP", 8000, 1),
    (13, "CN", 8000, 1),
    (14, "MPA", 90000, 1),
    (15, "G728", 8000, 1),
    (16, "DVI4", 11025, 1),
    (17, "DVI4", 22050, 1),
    (18, "G729", 8000, 1),
    (25, "CelB", 90000, 1),
    (26, "JPEG", 90000, 1),
    (28, "nv", 90000, 1),
    (31, "H261", 90000, 1),
    (32, "MPV", 90000, 1),
    (33, "MP2T", 90000, 1),
    (34, "H263", 90000, 1),
];

/// The static assignment of payload type `pt`, if it has one.
pub fn static_payload_type(pt: u8) -> Option<(&'static str, u32, u8)> {
    STATIC
        .iter()
        .find(|s| s.0 == pt)
        .map(|&(_, n, r, c)| (n, r, c))
}
