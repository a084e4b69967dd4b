//! Media: G.711 codecs, RFC 4733 telephone-events, tone and WAV sources and sinks.
pub mod dtmf;
pub mod g711;
pub mod sink;
pub mod source;
pub mod tone;
pub mod wav;
