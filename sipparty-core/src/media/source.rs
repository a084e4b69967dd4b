//! Where outgoing audio comes from: silence, a tone, or a WAV file.

use std::fmt;

use super::tone::ToneGenerator;
use super::wav::{Wav, WavError};

/// A producer of audio frames at the session's clock rate (8 kHz mono for
/// G.711). The media session asks for one frame per packetization interval.
pub trait Source: Send + fmt::Debug {
    /// Fill `frame` with the next samples. Returns false once the source
    /// has run out; `frame` must then hold silence (the session keeps
    /// sending it, so RTP keeps flowing).
    fn fill(&mut self, frame: &mut [i16]) -> bool;
}

/// Silence forever: the default source, so that a party with nothing to
/// say still sends RTP (NAT bindings and the peer's media timeout need it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silence;

impl Source for Silence {
    fn fill(&mut self, frame: &mut [i16]) -> bool {
        frame.fill(0);
        true
    }
}

/// A continuous sine tone.
#[derive(Debug, Clone)]
pub struct ToneSource {
    generator: ToneGenerator,
    remaining: Option<u64>,
}

impl ToneSource {
    /// A tone of `frequency` Hz at `sample_rate` with a moderate level
    /// (0.3 of full scale), lasting forever.
    pub fn new(frequency: f64, sample_rate: u32) -> Self {
        ToneSource {
            generator: ToneGenerator::new(frequency, sample_rate, 0.3),
            remaining: None,
        }
    }

    /// Stop after `samples` samples (then silence).
    pub fn with_limit(mut self, samples: u64) -> Self {
        self.remaining = Some(samples);
        self
    }
}

impl Source for ToneSource {
    fn fill(&mut self, frame: &mut [i16]) -> bool {
        let n = match self.remaining {
            None => frame.len(),
            Some(r) => (r.min(frame.len() as u64)) as usize,
        };
        self.generator.fill(&mut frame[..n]);
        frame[n..].fill(0);
        if let Some(r) = self.remaining.as_mut() {
            *r -= n as u64;
            return n == frame.len();
        }
        true
    }
}

/// Plays a WAV file, converted to mono at the session's rate, once or in a loop.
#[derive(Debug, Clone)]
pub struct WavSource {
    samples: Vec<i16>,
    position: usize,
    looped: bool,
}

impl WavSource {
    /// Decode `bytes` (a whole WAV file) for playback at `rate` Hz.
    pub fn from_bytes(bytes: &[u8], rate: u32, looped: bool) -> Result<Self, WavError> {
        Ok(Self::from_wav(&Wav::parse(bytes)?, rate, looped))
    }

    /// Prepare decoded audio for playback at `rate` Hz.
    pub fn from_wav(wav: &Wav, rate: u32, looped: bool) -> Self {
        WavSource {
            samples: wav.to_mono(rate),
            position: 0,
            looped,
        }
    }

    /// Samples of audio (at the playback rate) in the file.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the file holds no audio.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

impl Source for WavSource {
    fn fill(&mut self, frame: &mut [i16]) -> bool {
        let mut filled = 0;
        while filled < frame.len() {
            if self.position >= self.samples.len() {
                if !self.looped || self.samples.is_empty() {
                    frame[filled..].fill(0);
                    return filled > 0;
                }
                self.position = 0;
            }
            let n = (frame.len() - filled).min(self.samples.len() - self.position);
            frame[filled..filled + n]
                .copy_from_slice(&self.samples[self.position..self.position + n]);
            filled += n;
            self.position += n;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_source_plays_once_then_silence() {
        let wav = Wav {
            sample_rate: 8000,
            channels: 1,
            samples: (1..=250).collect(),
        };
        let mut src = WavSource::from_bytes(&wav.to_bytes(), 8000, false).unwrap();
        assert_eq!(src.len(), 250);
        let mut frame = [0i16; 160];
        assert!(src.fill(&mut frame));
        assert_eq!(frame[0], 1);
        assert_eq!(frame[159], 160);
        assert!(src.fill(&mut frame));
        assert_eq!(frame[89], 250);
        assert!(frame[90..].iter().all(|&s| s == 0));
        assert!(!src.fill(&mut frame));
        assert!(frame.iter().all(|&s| s == 0));
    }

    #[test]
    fn looped_wav_wraps() {
        let wav = Wav {
            sample_rate: 8000,
            channels: 1,
            samples: vec![1, 2, 3],
        };
        let mut src = WavSource::from_wav(&wav, 8000, true);
        let mut frame = [0i16; 7];
        assert!(src.fill(&mut frame));
        assert_eq!(frame, [1, 2, 3, 1, 2, 3, 1]);
    }

    #[test]
    fn tone_with_limit_and_silence() {
        let mut t = ToneSource::new(400.0, 8000).with_limit(200);
        let mut frame = [0i16; 160];
        assert!(t.fill(&mut frame));
        assert!(frame.iter().any(|&s| s != 0));
        assert!(!t.fill(&mut frame));
        assert!(frame[40..].iter().all(|&s| s == 0));
        assert!(!t.fill(&mut frame));
        let mut s = Silence;
        frame.fill(5);
        assert!(s.fill(&mut frame));
        assert!(frame.iter().all(|&s| s == 0));
    }
}
