//! What the commands print about calls: progress lines while they run, a
//! summary at the end, errors in SIP terms.
//!
//! The summary's packet counts are `sent=N received=N` tokens, which the
//! interop harness reads (`sipparty_tests::sipparty::packet_counts`).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use sipparty_mio::{Dialog, DialogState, MediaInfo, MediaStats};

/// Print `error: WHAT` on stderr and return exit status 1.
pub fn fail(what: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {what}");
    ExitCode::from(1)
}

/// A progress line on stdout (`* ...`), so it interleaves with the ladder.
pub fn progress(what: impl std::fmt::Display) {
    println!("* {what}");
}

/// One side of a finished (or failed) call, for the summary.
#[derive(Debug, Clone)]
pub struct CallSummary {
    /// Who this side is (`alice`, `bob`, `call 2`).
    pub name: String,
    /// The negotiated stream, if any.
    pub media: Option<MediaInfo>,
    /// From INVITE sent (or received) to the call being established.
    pub setup: Option<Duration>,
    /// From established to over.
    pub talk: Option<Duration>,
    /// Packets on the call's media sockets.
    pub stats: MediaStats,
    /// DTMF digits received.
    pub dtmf: Vec<char>,
    /// How the call ended: `None` if cleanly, else why not.
    pub error: Option<String>,
    /// Seconds of audio recorded, and where.
    pub recorded: Option<(f64, String)>,
}

impl CallSummary {
    /// What the dialog handle knows now.
    pub fn of(name: &str, dialog: &Dialog) -> CallSummary {
        CallSummary {
            name: name.to_string(),
            media: dialog.media(),
            setup: None,
            talk: None,
            stats: dialog.media_stats(),
            dtmf: dialog.dtmf_received(),
            error: end_error(dialog),
            recorded: None,
        }
    }

    /// The summary line of this side:
    /// `alice: sent=101 received=99 packets, setup 12 ms, talk 2.00 s`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}: sent={} received={} packets",
            self.name, self.stats.packets_sent, self.stats.packets_received
        );
        if let Some(setup) = self.setup {
            let _ = write!(s, ", setup {}", millis(setup));
        }
        if let Some(talk) = self.talk {
            let _ = write!(s, ", talk {:.2} s", talk.as_secs_f64());
        }
        if !self.dtmf.is_empty() {
            let _ = write!(
                s,
                ", DTMF received {}",
                self.dtmf.iter().collect::<String>()
            );
        }
        if let Some((secs, path)) = &self.recorded {
            let _ = write!(s, ", recorded {secs:.2} s to {path}");
        }
        match &self.error {
            None => s.push_str(", ended cleanly"),
            Some(e) => {
                let _ = write!(s, ", failed: {e}");
            }
        }
        s
    }
}

/// `PCMU/8000 (payload type 0, 20 ms)`, or why there is no audio.
pub fn codec(media: Option<&MediaInfo>) -> String {
    match media {
        Some(m) => format!(
            "{}/{} (payload type {}, {} ms packets{})",
            m.codec,
            m.clock_rate,
            m.payload_type,
            m.ptime,
            if m.telephone_event_pt.is_some() {
                ", telephone-event"
            } else {
                ""
            }
        ),
        None => "none negotiated".into(),
    }
}

/// The summary block for one or more sides of a call.
pub fn summary(sides: &[CallSummary]) -> String {
    let mut s = String::from("Summary\n");
    let media = sides.iter().find_map(|c| c.media.as_ref());
    let _ = writeln!(s, "  codec: {}", codec(media));
    if let Some(setup) = sides.iter().find_map(|c| c.setup) {
        let _ = writeln!(s, "  call setup time: {}", millis(setup));
    }
    for side in sides {
        let _ = writeln!(s, "  {}", side.line());
    }
    s
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Why the dialog did not end cleanly, or None if it did (or is still up).
pub fn end_error(dialog: &Dialog) -> Option<String> {
    match dialog.state() {
        DialogState::Error => Some(
            dialog
                .last_error()
                .map_or_else(|| "the call failed".to_string(), |e| e.to_string()),
        ),
        _ => None,
    }
}

/// A short human word for a dialog state change.
pub fn state_words(state: DialogState) -> &'static str {
    match state {
        DialogState::InitiatingDialog => "calling",
        DialogState::Early => "ringing",
        DialogState::InDialog => "established",
        DialogState::TerminatingDialog => "hanging up",
        DialogState::Terminated => "ended",
        DialogState::Error => "failed",
        _ => "changed state",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(error: Option<&str>) -> CallSummary {
        CallSummary {
            name: "alice".into(),
            media: None,
            setup: Some(Duration::from_micros(12_500)),
            talk: Some(Duration::from_millis(2000)),
            stats: MediaStats::default(),
            dtmf: vec!['1', '#'],
            error: error.map(String::from),
            recorded: Some((1.5, "in.wav".into())),
        }
    }

    #[test]
    fn summary_line_carries_the_counts_the_harness_reads() {
        let line = side(None).line();
        assert!(
            line.starts_with("alice: sent=0 received=0 packets"),
            "{line}"
        );
        assert!(line.contains("setup 12.5 ms"), "{line}");
        assert!(line.contains("talk 2.00 s"), "{line}");
        assert!(line.contains("DTMF received 1#"), "{line}");
        assert!(line.contains("recorded 1.50 s to in.wav"), "{line}");
        assert!(line.ends_with("ended cleanly"), "{line}");
        let failed = side(Some("486 Busy Here")).line();
        assert!(failed.ends_with("failed: 486 Busy Here"), "{failed}");
    }

    #[test]
    fn summary_block_names_the_codec_once() {
        let text = summary(&[side(None), side(None)]);
        assert!(text.contains("codec: none negotiated"), "{text}");
        assert!(text.contains("call setup time: 12.5 ms"), "{text}");
        assert_eq!(text.matches("sent=").count(), 2, "{text}");
    }
}
