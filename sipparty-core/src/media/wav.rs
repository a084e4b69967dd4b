//! WAV (RIFF WAVE) reading and writing, and conversion to the 8 kHz mono
//! the G.711 codecs take.
//!
//! Reading accepts integer PCM of 8, 16, 24 or 32 bits and 32-bit float,
//! in `WAVE_FORMAT_PCM`, `WAVE_FORMAT_IEEE_FLOAT` or `WAVE_FORMAT_EXTENSIBLE`
//! wrappers, any rate and channel count. Writing produces 16-bit PCM.
//! The core does no file I/O: give it bytes, or a writer of your choosing.

use std::fmt;
use std::io::{self, Seek, SeekFrom, Write};

/// Why a WAV file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WavError {
    /// Not a RIFF/WAVE file.
    NotWave,
    /// No `fmt ` chunk before the data, or one too short.
    MissingFormat,
    /// No `data` chunk.
    MissingData,
    /// A sample format this reader does not decode.
    Unsupported {
        /// The format tag (1 PCM, 3 float, 0xFFFE extensible...).
        format: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Zero channels, or a sample rate outside 1000 to 768000 Hz.
    BadFormat,
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WavError::NotWave => f.write_str("not a RIFF WAVE file"),
            WavError::MissingFormat => f.write_str("WAV file has no valid fmt chunk"),
            WavError::MissingData => f.write_str("WAV file has no data chunk"),
            WavError::Unsupported { format, bits } => {
                write!(
                    f,
                    "unsupported WAV format {format:#06x} with {bits} bits per sample"
                )
            }
            WavError::BadFormat => {
                f.write_str("WAV file has zero channels or a sample rate outside 1000-768000 Hz")
            }
        }
    }
}

impl std::error::Error for WavError {}

/// Decoded audio: 16-bit samples, interleaved by channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<i16>,
}

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// The lowest sample rate [`Wav::parse`] accepts.
const MIN_RATE: u32 = 1000;
/// The highest sample rate [`Wav::parse`] accepts (4 x 192 kHz).
const MAX_RATE: u32 = 768_000;

impl Wav {
    /// Parse a WAV file held in memory. A data chunk shorter than its
    /// header claims (a recording cut short) is read as far as it goes.
    pub fn parse(bytes: &[u8]) -> Result<Wav, WavError> {
        if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err(WavError::NotWave);
        }
        let mut pos = 12;
        let mut format: Option<(u16, u16, u32, u16)> = None;
        while pos + 8 <= bytes.len() {
            let id = &bytes[pos..pos + 4];
            let len = u32_le(bytes, pos + 4) as usize;
            let body_start = pos + 8;
            let body_end = body_start.saturating_add(len).min(bytes.len());
            let body = &bytes[body_start..body_end];
            match id {
                b"fmt " => {
                    if body.len() < 16 {
                        return Err(WavError::MissingFormat);
                    }
                    let mut tag = u16_le(body, 0);
                    let channels = u16_le(body, 2);
                    let rate = u32_le(body, 4);
                    let bits = u16_le(body, 14);
                    if tag == FORMAT_EXTENSIBLE && body.len() >= 26 {
                        // The sub-format GUID starts with the real format tag.
                        tag = u16_le(body, 24);
                    }
                    // Resampling to 8 kHz multiplies the sample count by
                    // 8000 / rate: a bogus 1 Hz header would turn a small
                    // file into gigabytes, so only real audio rates pass.
                    if channels == 0 || !(MIN_RATE..=MAX_RATE).contains(&rate) {
                        return Err(WavError::BadFormat);
                    }
                    format = Some((tag, channels, rate, bits));
                }
                b"data" => {
                    let (tag, channels, sample_rate, bits) =
                        format.ok_or(WavError::MissingFormat)?;
                    let samples = decode_samples(tag, bits, body)?;
                    return Ok(Wav {
                        sample_rate,
                        channels,
                        samples,
                    });
                }
                _ => {}
            }
            // Chunks are padded to an even length.
            pos = body_start.saturating_add(len).saturating_add(len & 1);
        }
        Err(WavError::MissingData)
    }

    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Mix down to mono and resample to `rate` (8000 for G.711).
    pub fn to_mono(&self, rate: u32) -> Vec<i16> {
        resample(
            &downmix(&self.samples, self.channels),
            self.sample_rate,
            rate,
        )
    }

    /// The file as bytes: 16-bit PCM.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(44 + 2 * self.samples.len());
        out.extend_from_slice(&header(self.sample_rate, self.channels, self.samples.len()));
        for s in &self.samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }
}

fn decode_samples(tag: u16, bits: u16, data: &[u8]) -> Result<Vec<i16>, WavError> {
    let unsupported = WavError::Unsupported { format: tag, bits };
    Ok(match (tag, bits) {
        (FORMAT_PCM, 8) => data.iter().map(|&b| (i16::from(b) - 128) << 8).collect(),
        (FORMAT_PCM, 16) => data
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect(),
        (FORMAT_PCM, 24) => data
            .chunks_exact(3)
            .map(|c| i16::from_le_bytes([c[1], c[2]]))
            .collect(),
        (FORMAT_PCM, 32) => data
            .chunks_exact(4)
            .map(|c| i16::from_le_bytes([c[2], c[3]]))
            .collect(),
        (FORMAT_FLOAT, 32) => data
            .chunks_exact(4)
            .map(|c| {
                let f = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                // NaN becomes 0 through the saturating cast.
                (f.clamp(-1.0, 1.0) * 32767.0).round() as i16
            })
            .collect(),
        _ => return Err(unsupported),
    })
}

/// The 44-byte header of a 16-bit PCM WAV file holding `samples` samples.
pub fn header(sample_rate: u32, channels: u16, samples: usize) -> [u8; 44] {
    let data_len = (samples * 2).min(u32::MAX as usize - 36) as u32;
    let block_align = channels.saturating_mul(2);
    let mut h = [0u8; 44];
    h[..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(
        &sample_rate
            .saturating_mul(u32::from(block_align))
            .to_le_bytes(),
    );
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Average interleaved channels into one.
pub fn downmix(samples: &[i16], channels: u16) -> Vec<i16> {
    let n = usize::from(channels.max(1));
    if n == 1 {
        return samples.to_vec();
    }
    samples
        .chunks_exact(n)
        .map(|f| (f.iter().map(|&s| i32::from(s)).sum::<i32>() / n as i32) as i16)
        .collect()
}

/// Resample mono audio from `from` Hz to `to` Hz. The output has
/// `round(len * to / from)` samples. Downsampling averages the input
/// over each output sample's span (a box filter, which keeps most of the
/// aliasing out of the voice band); upsampling interpolates linearly.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || from == 0 || to == 0 || input.is_empty() {
        return input.to_vec();
    }
    let out_len =
        ((input.len() as u64 * u64::from(to) + u64::from(from) / 2) / u64::from(from)) as usize;
    let ratio = f64::from(from) / f64::from(to);
    let last = input.len() - 1;
    let mut out = Vec::with_capacity(out_len);
    for i in 0..out_len {
        let center = i as f64 * ratio;
        let v = if ratio > 1.0 {
            let lo = (center - ratio / 2.0).ceil().max(0.0) as usize;
            let hi = ((center + ratio / 2.0).floor() as usize).min(last);
            let lo = lo.min(hi);
            let sum: i64 = input[lo..=hi].iter().map(|&s| i64::from(s)).sum();
            (sum / (hi - lo + 1) as i64) as f64
        } else {
            let j = (center.floor() as usize).min(last);
            let k = (j + 1).min(last);
            let t = center - j as f64;
            f64::from(input[j]) * (1.0 - t) + f64::from(input[k]) * t
        };
        out.push(v.round().clamp(-32768.0, 32767.0) as i16);
    }
    out
}

/// Writes a 16-bit PCM WAV file as samples come, then fixes the sizes in
/// the header when finished (hence `Seek`).
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: W,
    sample_rate: u32,
    channels: u16,
    samples: usize,
    started: bool,
}

impl<W: Write + Seek> WavWriter<W> {
    /// A writer of `channels` channels at `sample_rate`; nothing is
    /// written until the first samples or `finish`.
    pub fn new(inner: W, sample_rate: u32, channels: u16) -> Self {
        WavWriter {
            inner,
            sample_rate,
            channels,
            samples: 0,
            started: false,
        }
    }

    /// Append interleaved samples.
    pub fn write_samples(&mut self, samples: &[i16]) -> io::Result<()> {
        if !self.started {
            self.inner
                .write_all(&header(self.sample_rate, self.channels, 0))?;
            self.started = true;
        }
        let mut buf = Vec::with_capacity(samples.len() * 2);
        for s in samples {
            buf.extend_from_slice(&s.to_le_bytes());
        }
        self.inner.write_all(&buf)?;
        self.samples += samples.len();
        Ok(())
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> usize {
        self.samples
    }

    /// Rewrite the header with the final sizes and flush.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.started {
            self.write_samples(&[])?;
        }
        let end = self.inner.stream_position()?;
        self.inner.seek(SeekFrom::Start(0))?;
        self.inner
            .write_all(&header(self.sample_rate, self.channels, self.samples))?;
        self.inner.seek(SeekFrom::Start(end))?;
        self.inner.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

fn u16_le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::ToneGenerator;
    use std::io::Cursor;

    fn tone(rate: u32, secs: f64) -> Vec<i16> {
        let mut g = ToneGenerator::new(440.0, rate, 0.5);
        let mut v = vec![0; (f64::from(rate) * secs) as usize];
        g.fill(&mut v);
        v
    }

    #[test]
    fn write_then_read_8k_mono() {
        let samples = tone(8000, 0.5);
        let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, 1);
        w.write_samples(&samples[..1000]).unwrap();
        w.write_samples(&samples[1000..]).unwrap();
        w.finish().unwrap();
        let bytes = w.into_inner().into_inner();
        assert_eq!(bytes.len(), 44 + 2 * samples.len());
        assert_eq!(u32_le(&bytes, 40) as usize, 2 * samples.len());
        assert_eq!(u32_le(&bytes, 4) as usize, 36 + 2 * samples.len());
        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (8000, 1));
        assert_eq!(wav.samples, samples);
        assert_eq!(wav.to_mono(8000), samples);
        // The in-memory writer agrees with the streaming one.
        assert_eq!(wav.to_bytes(), bytes);
    }

    /// Found by auditing for allocation amplification: a header claiming
    /// 1 Hz made `to_mono(8000)` allocate 8000 samples per input sample.
    #[test]
    fn implausible_sample_rates_are_refused() {
        for rate in [1, 999, 768_001, u32::MAX] {
            let mut bytes = Wav {
                sample_rate: 8000,
                channels: 1,
                samples: vec![0; 16],
            }
            .to_bytes();
            bytes[24..28].copy_from_slice(&rate.to_le_bytes());
            assert_eq!(
                Wav::parse(&bytes).err(),
                Some(WavError::BadFormat),
                "{rate}"
            );
        }
        for rate in [1000, 8000, 768_000] {
            let wav = Wav {
                sample_rate: rate,
                channels: 1,
                samples: vec![0; 16],
            };
            assert_eq!(Wav::parse(&wav.to_bytes()).unwrap().sample_rate, rate);
        }
    }

    #[test]
    fn resampling_lengths_from_common_rates() {
        for (rate, secs) in [(16000, 1.0), (44100, 1.0), (48000, 0.5), (11025, 2.0)] {
            let input = tone(rate, secs);
            let out = resample(&input, rate, 8000);
            assert_eq!(out.len(), (8000.0 * secs) as usize, "{rate}");
        }
        // Upsampling too.
        assert_eq!(resample(&tone(8000, 1.0), 8000, 16000).len(), 16000);
    }

    #[test]
    fn resampled_tone_keeps_its_pitch() {
        let out = resample(&tone(48000, 1.0), 48000, 8000);
        let crossings = out.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        // 440 Hz: 880 zero crossings a second.
        assert!((876..=884).contains(&crossings), "{crossings}");
        let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 15000, "{peak}");
    }

    #[test]
    fn stereo_44k1_is_downmixed_and_resampled() {
        let left = tone(44100, 1.0);
        let mut interleaved = Vec::with_capacity(left.len() * 2);
        for s in &left {
            interleaved.push(*s);
            interleaved.push(-*s / 2);
        }
        let wav = Wav {
            sample_rate: 44100,
            channels: 2,
            samples: interleaved,
        };
        let parsed = Wav::parse(&wav.to_bytes()).unwrap();
        assert_eq!(parsed.frames(), 44100);
        let mono = parsed.to_mono(8000);
        assert_eq!(mono.len(), 8000);
        // (s - s/2) / 2 = s/4: a quarter of the 0.5 amplitude.
        let peak = mono.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((3800..=4200).contains(&peak), "{peak}");
    }

    #[test]
    fn reads_other_sample_formats() {
        // 8-bit unsigned and 32-bit float, with an extra chunk before data.
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF\0\0\0\0WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&[1, 0, 1, 0]);
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&[1, 0, 8, 0]);
        b.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        b.extend_from_slice(b"data\x03\0\0\0");
        b.extend_from_slice(&[0, 128, 255]);
        let wav = Wav::parse(&b).unwrap();
        assert_eq!(wav.samples, [-32768, 0, 32512]);

        let mut f = b[..20].to_vec();
        f.extend_from_slice(&[3, 0, 1, 0]);
        f.extend_from_slice(&8000u32.to_le_bytes());
        f.extend_from_slice(&32000u32.to_le_bytes());
        f.extend_from_slice(&[4, 0, 32, 0]);
        f.extend_from_slice(b"data\x08\0\0\0");
        f.extend_from_slice(&0.5f32.to_le_bytes());
        f.extend_from_slice(&(-2.0f32).to_le_bytes());
        assert_eq!(Wav::parse(&f).unwrap().samples, [16384, -32767]);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(Wav::parse(b"RIFX"), Err(WavError::NotWave));
        assert_eq!(
            Wav::parse(b"RIFF\0\0\0\0WAVEdata\0\0\0\0"),
            Err(WavError::MissingFormat)
        );
        let mut h = header(8000, 1, 0).to_vec();
        h.truncate(36);
        assert_eq!(Wav::parse(&h), Err(WavError::MissingData));
        let mut adpcm = header(8000, 1, 0).to_vec();
        adpcm[20] = 2;
        assert_eq!(
            Wav::parse(&adpcm),
            Err(WavError::Unsupported {
                format: 2,
                bits: 16
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            let mut b = b"RIFF\0\0\0\0WAVE".to_vec();
            b.extend_from_slice(&bytes);
            let _ = Wav::parse(&b);
            let _ = Wav::parse(&bytes);
        }
    }
}
