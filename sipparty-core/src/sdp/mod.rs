//! SDP (RFC 8866, read compatibly with RFC 4566) and RFC 3264 offer/answer.
//!
//! - [`parse`] gives a borrowed, zero-copy [`SessionDescription`]: lines are
//!   slices of the input, structural lines are checked with line numbers,
//!   attributes are decoded on access ([`Attribute::typed`]).
//! - [`Sdp`] is the owned form with builder methods; it keeps every line as
//!   written, so an unmodified description serializes back byte for byte.
//! - [`create_offer`], [`create_answer`] and [`process_answer`] are RFC 3264
//!   as pure functions; [`Negotiator`] holds the per-dialog state (pending
//!   offer, rollback, o= version, hold/resume) around them and returns a
//!   [`NegotiatedSession`], a plain value for the media layer.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use sipparty_core::sdp::{MediaCapabilities, Negotiator};
//! let mut bob = Negotiator::new(MediaCapabilities::default_audio(),
//!                               IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 6000, 7);
//! let offer = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
//!               t=0 0\r\nm=audio 4000 RTP/AVP 8 0\r\n";
//! let (answer, session) = bob.accept_offer(offer).unwrap();
//! assert_eq!(session.streams[0].codec.name, "PCMA"); // the offerer's preference
//! assert!(String::from_utf8(answer.to_bytes()).unwrap().contains("m=audio 6000 RTP/AVP 8 0\r\n"));
//! ```

mod attributes;
mod caps;
mod error;
mod fields;
mod negotiate;
mod owned;
mod parse;

pub use attributes::{
    Attribute, Candidate, Crypto, Direction, EventSet, ExtMap, Fingerprint, Fmtp, Group, Rtcp,
    RtpMap, Setup, Ssrc, TypedAttribute,
};
pub use caps::{static_payload_type, Codec, MediaCapabilities};
pub use error::{SdpError, SdpErrorKind, SdpLimits};
pub use fields::{Bandwidth, Connection, MediaLine, Origin, Timing};
pub use negotiate::{
    create_answer, create_offer, is_hold_address, process_answer, LocalMedia, NegotiatedSession,
    NegotiatedStream, NegotiationError, Negotiator,
};
pub use owned::{Media, Sdp};
pub use parse::{parse, Line, LineEnding, Lines, MediaView, SessionDescription};
