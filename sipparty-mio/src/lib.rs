//! # sipparty-mio
//!
//! The blocking, thread-safe API of the original sipparty library, over
//! the sans-IO [`sipparty_core`]. An [`Endpoint`] owns the SIP sockets and
//! one event-loop thread (a mio `Poll`) that feeds the core and sleeps
//! until its next timer; [`Party`], [`Dialog`] and [`Registration`] are
//! handles any thread may hold and block on.
//!
//! Parties created with default settings share one process-wide endpoint
//! (UDP on `127.0.0.1:5060` when free): requests reach the party whose
//! address of record matches the Request-URI, so two parties in one
//! process call each other through it.
//!
//! ```no_run
//! use std::time::Duration;
//! use sipparty_mio::parties::SingleRtpSessionSimpleParty;
//! use sipparty_mio::{DialogState, InviteOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Bob answers every call; he listens on the shared endpoint.
//! let bob = SingleRtpSessionSimpleParty::new("bob@biloxi.com")?;
//! bob.listen()?;
//!
//! let party = SingleRtpSessionSimpleParty::new("alice@atlanta.com")?;
//! let dialog = party.invite("bob@biloxi.com", InviteOptions::default().proxy("127.0.0.1:5060"))?;
//! dialog.wait_for_state_condition(|s| s != DialogState::InitiatingDialog);
//! if dialog.state() == DialogState::Error {
//!     eprintln!("failed to connect: {}", dialog.last_error().unwrap());
//! }
//! std::thread::sleep(Duration::from_secs(1));
//! dialog.terminate()?;
//! dialog.wait_for_state_condition(|s| s != DialogState::TerminatingDialog);
//! # Ok(()) }
//! ```
//!
//! Incoming calls arrive on [`Party::next_incoming`], [`Party::accept`] or
//! a callback ([`Party::on_incoming_call`]); what a Party does with them by
//! itself is its [`CallPolicy`].
//!
//! Transports: UDP always; TCP and TLS (rustls) listeners with
//! [`EndpointConfig`], and outgoing connections opened on demand and
//! reused, with CRLF keep-alive (RFC 5626 section 4.4.1), idle closing
//! and a cap on open connections. IPv4 and IPv6.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dialog;
mod dns;
mod driver;
mod endpoint;
mod error;
mod party;
mod random;
mod registration;
mod tls;

pub use dialog::{Dialog, MediaStats};
pub use endpoint::{Endpoint, EndpointConfig, DEFAULT_BIND};
pub use error::Error;
pub use party::{IncomingCall, Party, ReceivedMessage};
pub use registration::Registration;
pub use tls::TlsConfig;

pub use sipparty_core::party::{
    CallPolicy, DialogError, DialogId, DialogState, InviteOptions, MediaInfo, PartyConfig,
    RegisterOptions, RegistrationState, RequestCompleted,
};
pub use sipparty_core::Transport;

/// The final response to a request sent outside a dialog (OPTIONS,
/// MESSAGE): 408 if nobody answered, 503 if it could not be sent. The
/// core's [`RequestCompleted`], under the name this crate has always used.
pub type Response = sipparty_core::party::RequestCompleted;

/// Which way a traced message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Direction {
    /// We sent it.
    Sent,
    /// We received it.
    Received,
}

/// A copy of a SIP message that went through an endpoint, for ladders and
/// logs ([`Endpoint::capture_messages`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SipTrace {
    /// When the event loop handled it.
    pub at: std::time::Instant,
    /// Sent or received.
    pub direction: Direction,
    /// Over which transport.
    pub transport: Transport,
    /// Our address for that transport.
    pub local: Option<std::net::SocketAddr>,
    /// The peer's address (destination when sent, source when received).
    pub remote: std::net::SocketAddr,
    /// The message as on the wire (a whole message also for streams).
    pub bytes: Vec<u8>,
}

pub mod parties {
    //! The ready-made parties of the original library.
    //!
    //! Each is a [`Party`] with a preset configuration; it
    //! dereferences to `Party` for the whole API.

    use std::ops::Deref;

    use crate::{Error, Party};

    macro_rules! preset {
        ($(#[$doc:meta])* $name:ident, $ctor:ident) => {
            $(#[$doc])*
            #[derive(Debug, Clone)]
            pub struct $name(Party);

            impl $name {
                /// A party for the address of record `aor`
                /// (`alice@atlanta.com` or `sip:alice@atlanta.com`). It does
                /// not listen yet: [`Party::listen`] or the first request
                /// puts it on the shared endpoint.
                pub fn new(aor: &str) -> Result<Self, Error> {
                    Ok($name(Party::from_core(sipparty_core::party::Party::$ctor(aor)?)))
                }

                /// The underlying [`Party`].
                pub fn into_party(self) -> Party {
                    self.0
                }
            }

            impl Deref for $name {
                type Target = Party;
                fn deref(&self) -> &Party {
                    &self.0
                }
            }
        };
    }

    preset!(
        /// One audio stream (G.711 and the core's default codecs), answering
        /// calls at once; RTP flows both ways for the whole call.
        SingleRtpSessionSimpleParty,
        single_rtp_session_simple
    );
    preset!(
        /// Signalling only (no SDP), answering calls at once.
        NoMediaSimpleCallsParty,
        no_media_simple_calls
    );
}
