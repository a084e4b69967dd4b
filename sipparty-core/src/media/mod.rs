//! Media: G.711 codecs, RFC 4733 telephone-events, tone and WAV sources
//! and sinks, and [`MediaSession`], which ties them to an
//! [`RtpSession`](crate::rtp::RtpSession) for one call.
//!
//! With no source set a session sends silence, so RTP flows both ways for
//! the whole call (NAT bindings stay open, the peer's media timeout stays quiet).
pub mod dtmf;
pub mod g711;
mod session;
pub mod sink;
pub mod source;
pub mod tone;
pub mod wav;

pub use dtmf::ReceivedDtmf;
pub use g711::G711;
pub use session::{MediaConfig, MediaError, MediaEvent, MediaSession, MediaStats};
pub use sink::{Discard, Sink, WavRecorder};
pub use source::{Silence, Source, ToneSource, WavSource};
pub use tone::ToneGenerator;
pub use wav::{Wav, WavError, WavWriter};

/// The media capabilities this module can serve, for the SDP
/// [`Negotiator`](crate::sdp::Negotiator): PCMU and PCMA, telephone-event
/// (PT 101, events 0-16), ptime 20, sendrecv. Offer these rather than
/// [`MediaCapabilities::default_audio`](crate::sdp::MediaCapabilities::default_audio),
/// whose G.722 and opus [`MediaConfig::from_negotiated`] would refuse.
pub fn capabilities() -> crate::sdp::MediaCapabilities {
    let mut caps = crate::sdp::MediaCapabilities::default_audio();
    caps.audio
        .retain(|c| G711::from_name(&c.name).is_some() && c.clock_rate == 8000);
    caps
}
