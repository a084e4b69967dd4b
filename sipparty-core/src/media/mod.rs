//! Media: G.711 codecs, RFC 4733 telephone-events, tone and WAV sources and sinks.
