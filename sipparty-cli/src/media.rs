//! What a call sends (`--tone`, `--play`) and where its received audio
//! goes (`--record`), attached to a call's RTP stream once negotiated.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sipparty_core::media::{Sink, Source, ToneSource, Wav, WavRecorder, WavSource};
use sipparty_mio::Dialog;

use crate::args::MediaArgs;

/// What to send on a call.
#[derive(Debug, Clone)]
pub enum Sound {
    /// Silence (the Party's default): RTP flows all the same.
    Silence,
    /// A sine tone at this frequency.
    Tone(f64),
    /// A WAV file, decoded once, played in a loop.
    Wav(Arc<Wav>),
}

/// What to send and where to record, checked before any call starts.
#[derive(Debug, Clone)]
pub struct AudioPlan {
    /// The sound to send.
    pub sound: Sound,
    /// The file for received audio, if any.
    pub record: Option<PathBuf>,
}

impl AudioPlan {
    /// From the command line; reads and checks a `--play` file.
    pub fn from_args(args: &MediaArgs) -> Result<AudioPlan, String> {
        let sound = match (&args.play, args.tone) {
            (Some(path), _) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let wav = Wav::parse(&bytes)
                    .map_err(|e| format!("{} is not a usable WAV file: {e}", path.display()))?;
                Sound::Wav(Arc::new(wav))
            }
            (None, Some(hz)) => Sound::Tone(hz),
            (None, None) => Sound::Silence,
        };
        Ok(AudioPlan {
            sound,
            record: args.record.clone(),
        })
    }

    /// A plan sending a tone and recording nothing.
    pub fn tone(hz: f64) -> AudioPlan {
        AudioPlan {
            sound: Sound::Tone(hz),
            record: None,
        }
    }

    /// The recording path for the `n`th call (1-based): FILE.wav, then
    /// FILE-2.wav, FILE-3.wav...
    pub fn record_path(&self, n: usize) -> Option<PathBuf> {
        let path = self.record.as_ref()?;
        if n <= 1 {
            return Some(path.clone());
        }
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        Some(path.with_file_name(format!("{stem}-{n}{ext}")))
    }

    fn source(&self, rate: u32) -> Option<Box<dyn Source>> {
        match &self.sound {
            Sound::Silence => None,
            Sound::Tone(hz) => Some(Box::new(ToneSource::new(*hz, rate))),
            Sound::Wav(wav) => Some(Box::new(WavSource::from_wav(wav, rate, true))),
        }
    }
}

/// A recording in progress. The call's stream writes to it through a
/// [`SharedSink`]; [`Recording::finish`] completes the WAV header whether
/// or not the Party closed the stream itself.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    recorder: Arc<Mutex<WavRecorder<BufWriter<File>>>>,
}

impl Recording {
    fn create(path: &Path, rate: u32) -> io::Result<Recording> {
        let file = File::create(path)?;
        Ok(Recording {
            path: path.to_path_buf(),
            recorder: Arc::new(Mutex::new(WavRecorder::new(BufWriter::new(file), rate))),
        })
    }

    /// Write the final WAV header; returns the seconds recorded.
    pub fn finish(&self, rate: u32) -> io::Result<f64> {
        let mut r = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        Sink::finish(&mut *r)?;
        Ok(r.samples_written() as f64 / f64::from(rate.max(1)))
    }

    /// Where it is written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The stream's end of a [`Recording`].
#[derive(Debug)]
struct SharedSink(Arc<Mutex<WavRecorder<BufWriter<File>>>>);

impl Sink for SharedSink {
    fn write(&mut self, samples: &[i16]) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write(samples);
    }

    // The header is finished by `Recording::finish`, once the call is over.
}

/// The clock rate of G.711, the only codec whose stream the Party runs.
pub const RATE: u32 = 8000;

/// Wait until the call's RTP stream exists (or the call ends, or
/// `timeout`), then give it the plan's source and, with `record`, a sink
/// writing to that file. Returns the recording, if one was started.
pub fn attach(
    dialog: &Dialog,
    plan: &AudioPlan,
    record: Option<&Path>,
    timeout: Duration,
) -> Result<Option<Recording>, String> {
    let recording = match record {
        Some(path) => Some(
            Recording::create(path, RATE)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let deadline = Instant::now() + timeout;
    loop {
        let rate = match dialog.media() {
            Some(info) if info.clock_rate > 0 => info.clock_rate,
            Some(_) => RATE,
            None => 0,
        };
        if rate > 0 {
            let source = plan.source(rate);
            let sink = recording.as_ref().map(|r| SharedSink(r.recorder.clone()));
            let attached = dialog
                .with_media(move |m| {
                    if let Some(s) = source {
                        m.set_source(s);
                    }
                    if let Some(s) = sink {
                        m.set_sink(Box::new(s));
                    }
                })
                .map_err(|e| format!("cannot reach the call's media: {e}"))?;
            if attached.is_some() {
                tracing::debug!(rate, "audio source and sink attached");
                return Ok(recording);
            }
        }
        if dialog.state().is_final() || Instant::now() >= deadline {
            // No stream (no G.711, or the call ended): nothing to play or
            // record; the summary says what happened.
            tracing::warn!(state = %dialog.state(), "the call has no RTP stream to attach audio to");
            return Ok(recording);
        }
        thread::sleep(Duration::from_millis(5));
    }
}
