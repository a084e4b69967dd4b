//! A sine tone generator (a dial tone, a test signal, the demo's audio).

use std::f64::consts::TAU;

/// Generates a sine wave sample by sample, keeping its phase between frames
/// so consecutive frames join without clicks.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    step: f64,
    phase: f64,
    amplitude: f64,
}

impl ToneGenerator {
    /// A tone of `frequency` Hz at `sample_rate`, with peak `amplitude`
    /// (0.0 to 1.0 of full scale; clamped).
    pub fn new(frequency: f64, sample_rate: u32, amplitude: f64) -> Self {
        let rate = f64::from(sample_rate.max(1));
        ToneGenerator {
            step: TAU * frequency / rate,
            phase: 0.0,
            amplitude: amplitude.clamp(0.0, 1.0) * f64::from(i16::MAX),
        }
    }

    /// Fill `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = (self.phase.sin() * self.amplitude).round() as i16;
            self.phase += self.step;
            if self.phase >= TAU {
                self.phase -= TAU;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_has_its_frequency_and_amplitude() {
        // 1 kHz at 8 kHz: exactly 8 samples per period, so 1 s has 2000
        // sign changes and a peak at 45 degrees multiples.
        let mut g = ToneGenerator::new(1000.0, 8000, 0.5);
        let mut buf = vec![0i16; 8000];
        g.fill(&mut buf[..160]);
        g.fill(&mut buf[160..]);
        let peak = buf.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak.abs_diff(16384) <= 1, "{peak}");
        let crossings = buf.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((1998..=2000).contains(&crossings), "{crossings}");
        // Continuous across the frame boundary: same as one 8000-sample fill.
        let mut h = ToneGenerator::new(1000.0, 8000, 0.5);
        let mut whole = vec![0i16; 8000];
        h.fill(&mut whole);
        assert_eq!(buf, whole);
    }
}
