//! Where received audio goes: nowhere, or a WAV recording.

use std::fmt;
use std::io::{self, Seek, Write};

use super::wav::WavWriter;

/// A consumer of decoded audio at the session's clock rate.
pub trait Sink: Send + fmt::Debug {
    /// Take the next samples (lost packets arrive as silence, so the
    /// recording keeps its timing).
    fn write(&mut self, samples: &[i16]);

    /// The call is over: flush and report the first error, if any.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Drops everything: the default sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl Sink for Discard {
    fn write(&mut self, _samples: &[i16]) {}
}

/// Records to a 16-bit mono WAV file. Write errors are kept and returned
/// by [`finish`](Sink::finish); after one, further audio is dropped.
#[derive(Debug)]
pub struct WavRecorder<W: Write + Seek + Send + fmt::Debug> {
    writer: WavWriter<W>,
    error: Option<io::Error>,
}

impl<W: Write + Seek + Send + fmt::Debug> WavRecorder<W> {
    /// Record into `inner` at `sample_rate` (the session's clock rate).
    pub fn new(inner: W, sample_rate: u32) -> Self {
        WavRecorder {
            writer: WavWriter::new(inner, sample_rate, 1),
            error: None,
        }
    }

    /// Samples recorded so far.
    pub fn samples_written(&self) -> usize {
        self.writer.samples_written()
    }

    /// The underlying writer (call `finish` first).
    pub fn into_inner(self) -> W {
        self.writer.into_inner()
    }
}

impl<W: Write + Seek + Send + fmt::Debug> Sink for WavRecorder<W> {
    fn write(&mut self, samples: &[i16]) {
        if self.error.is_none() {
            if let Err(e) = self.writer.write_samples(samples) {
                tracing::warn!(error = %e, "recording failed");
                self.error = Some(e);
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.writer.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::wav::Wav;
    use std::io::Cursor;

    #[test]
    fn recorder_writes_a_readable_file() {
        let mut rec = WavRecorder::new(Cursor::new(Vec::new()), 8000);
        rec.write(&[1, 2, 3]);
        rec.write(&[4]);
        rec.finish().unwrap();
        assert_eq!(rec.samples_written(), 4);
        let wav = Wav::parse(&rec.into_inner().into_inner()).unwrap();
        assert_eq!(wav.samples, [1, 2, 3, 4]);
        assert_eq!(wav.sample_rate, 8000);
    }

    #[derive(Debug)]
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Seek for Broken {
        fn seek(&mut self, _: io::SeekFrom) -> io::Result<u64> {
            Ok(0)
        }
    }

    #[test]
    fn recorder_reports_write_errors_at_finish() {
        let mut rec = WavRecorder::new(Broken, 8000);
        rec.write(&[1]);
        rec.write(&[2]);
        assert_eq!(rec.finish().unwrap_err().to_string(), "disk full");
    }
}
