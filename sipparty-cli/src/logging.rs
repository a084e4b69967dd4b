//! Tracing setup: human logs on stderr (`-v`, `-vv`, `-vvv` or
//! `RUST_LOG`), and a second layer that hands the driver's per-message
//! trace events (`sip out`, `sip in`) to the ladder whatever the log level.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::ladder::{self, SipTrace};

/// The target of the mio driver's socket-level events.
const DRIVER_TARGET: &str = "sipparty_mio::driver";

/// Install the global subscriber. `RUST_LOG`, when set, decides what is
/// logged; otherwise `verbose` does (0: warnings, 1: info, 2: debug, 3:
/// trace).
pub fn init(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    let human = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose >= 2)
        .with_filter(filter)
        .with_filter(EndOfCallNoise { verbose });
    let messages = MessageCapture.with_filter(filter_fn(|meta| {
        meta.target() == DRIVER_TARGET && *meta.level() == Level::TRACE
    }));
    // A subscriber set earlier (never, in the binary) wins; logging is
    // not worth failing over.
    let _ = Registry::default().with(human).with(messages).try_init();
}

/// Hides, at the default verbosity, the core's warning about a media
/// packet (the peer's RTCP BYE, RFC 3550 section 6.6) that arrives after
/// the call's media route is gone and is then parsed as SIP: it ends every
/// call until the core drops such packets quietly.
struct EndOfCallNoise {
    verbose: u8,
}

impl<S: Subscriber> Filter<S> for EndOfCallNoise {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        if self.verbose > 0
            || !event
                .metadata()
                .target()
                .starts_with("sipparty_core::party")
        {
            return true;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        fields.message.as_deref() != Some("dropping unparseable datagram")
    }
}

/// Turns the driver's `sip out` / `sip in` events into [`SipTrace`]s.
struct MessageCapture;

impl<S: Subscriber> Layer<S> for MessageCapture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !ladder::is_capturing() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let out = match fields.message.as_deref() {
            Some("sip out") => true,
            Some("sip in") => false,
            _ => return,
        };
        let peer = if out {
            fields.destination
        } else {
            fields.source
        };
        // Events without the first line (older drivers) cannot be drawn.
        if let (Some(peer), Some(first_line)) = (peer, fields.first_line) {
            ladder::record(SipTrace {
                at: Instant::now(),
                out,
                peer,
                transport: fields.transport,
                first_line,
            });
        }
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    destination: Option<SocketAddr>,
    source: Option<SocketAddr>,
    transport: Option<String>,
    first_line: Option<String>,
}

impl Fields {
    fn set(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = Some(value),
            "destination" => self.destination = value.parse().ok(),
            "source" => self.source = value.parse().ok(),
            "transport" => self.transport = Some(value),
            "first_line" => self.first_line = Some(value),
            _ => {}
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%x` fields arrive here and print with Display.
        self.set(field, format!("{value:?}"));
    }
}
