//! WAV files and tone detection, to check that audio really got through.

use std::path::Path;

use crate::error::{Error, Result};

/// A 16-bit PCM WAV file's samples (interleaved if more than one channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// The samples.
    pub samples: Vec<i16>,
}

impl Wav {
    /// Reads a 16-bit PCM WAV file.
    ///
    /// A file still being written (its RIFF and data sizes not filled in
    /// yet, as baresip's `sndfile` leaves them until the call ends) is read
    /// up to its current end.
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable, [`Error::Peer`] if not 16-bit PCM WAV.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::parse(&bytes).map_err(|message| Error::Peer {
            peer: path.display().to_string(),
            message,
        })
    }

    /// Parses WAV bytes (see [`Wav::read`]).
    ///
    /// # Errors
    /// What is wrong with them.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err("not a RIFF/WAVE file".into());
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut pos = 12;
        let mut format = None;
        while pos + 8 <= bytes.len() {
            let id = &bytes[pos..pos + 4];
            let size = u32_at(pos + 4) as usize;
            let body = pos + 8;
            match id {
                b"fmt " if body + 16 <= bytes.len() => {
                    let (tag, channels, rate, bits) = (
                        u16_at(body),
                        u16_at(body + 2),
                        u32_at(body + 4),
                        u16_at(body + 14),
                    );
                    if tag != 1 || bits != 16 {
                        return Err(format!(
                            "format tag {tag}, {bits} bits: only 16-bit PCM is supported"
                        ));
                    }
                    format = Some((channels, rate));
                }
                b"data" => {
                    let (channels, sample_rate) = format.ok_or("data chunk before fmt chunk")?;
                    // An unfinished file says 0 (or too much): take what is there.
                    let end = if size == 0 || body + size > bytes.len() {
                        bytes.len()
                    } else {
                        body + size
                    };
                    let samples = bytes[body..end]
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    return Ok(Self {
                        sample_rate,
                        channels,
                        samples,
                    });
                }
                _ => {}
            }
            // Chunks are padded to an even size.
            pos = body + size + (size & 1);
        }
        Err("no data chunk".into())
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate) / f64::from(self.channels.max(1))
    }

    /// The share of the signal's energy at `hz` (see [`tone_fraction`]), for
    /// the first channel.
    pub fn tone_fraction(&self, hz: f64) -> f64 {
        let mono: Vec<i16> = self
            .samples
            .iter()
            .step_by(usize::from(self.channels.max(1)))
            .copied()
            .collect();
        tone_fraction(&mono, self.sample_rate, hz)
    }
}

/// The share of the energy of `samples` that is at frequency `hz`, from 0
/// (none) to about 1 (a pure tone), by the Goertzel algorithm over the
/// longest whole number of seconds available (so integer frequencies fall on
/// a bin). Silence gives 0.
pub fn tone_fraction(samples: &[i16], sample_rate: u32, hz: f64) -> f64 {
    let rate = sample_rate as usize;
    let n = if samples.len() >= rate {
        samples.len() / rate * rate
    } else {
        samples.len()
    };
    let x = &samples[samples.len() - n..];
    let energy: f64 = x.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    if n == 0 || energy == 0.0 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / f64::from(sample_rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &s in x {
        let s0 = f64::from(s) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A pure tone of amplitude A: power = (A n / 2)^2, energy = A^2 n / 2.
    2.0 * power / (n as f64 * energy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, rate: u32, seconds: f64) -> Vec<i16> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn a_pure_tone_is_found_at_its_frequency_only() {
        let x = sine(440.0, 8000, 1.5);
        assert!(tone_fraction(&x, 8000, 440.0) > 0.95);
        assert!(tone_fraction(&x, 8000, 1000.0) < 0.01);
        assert_eq!(tone_fraction(&[0; 100], 8000, 440.0), 0.0);
    }

    #[test]
    fn wav_round_trip_and_unfinished_header() {
        let samples = sine(1000.0, 8000, 1.0);
        let mut bytes = Vec::new();
        let data_len = (samples.len() * 2) as u32;
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
        bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&16000u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        let size_at = bytes.len();
        bytes.extend_from_slice(&data_len.to_le_bytes());
        bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));

        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (8000, 1));
        assert_eq!(wav.samples, samples);
        assert!(wav.tone_fraction(1000.0) > 0.95);

        bytes[size_at..size_at + 4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(Wav::parse(&bytes).unwrap().samples.len(), samples.len());
        assert!(Wav::parse(b"RIFF....WAVX").is_err());
    }
}
