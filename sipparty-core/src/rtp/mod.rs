//! RTP and RTCP (RFC 3550), sans-IO.
//!
//! - [`packet`]: the RTP header, parsed as a borrowed [`RtpPacket`] and built
//!   into a buffer.
//! - [`rtcp`]: SR, RR, SDES and BYE compound packets.
//! - [`RtpSession`]: one media stream with one peer: sequence numbers,
//!   timestamps, reception statistics (RFC 3550 A.1, A.3, A.8), a small
//!   jitter buffer, RTCP reports every ~5 s and symmetric RTP.
//!
//! The session never touches a socket. A driver loop looks like this:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sipparty_core::rtp::{RtpSession, RtpSessionConfig};
//! use sipparty_core::SeededRandom;
//!
//! let now = Instant::now();
//! let config = RtpSessionConfig {
//!     remote_rtp: Some("127.0.0.1:40002".parse().unwrap()),
//!     ..RtpSessionConfig::default()
//! };
//! let mut session = RtpSession::new(config, now, &mut SeededRandom::new(1));
//! // Every 20 ms: 160 samples of PCMU.
//! session.send_rtp(now, 0, true, 0, &[0xFF; 160]);
//! while let Some(t) = session.poll_transmit() {
//!     // socket.send_to(&t.bytes, t.destination)
//!     assert_eq!(t.bytes.len(), 12 + 160);
//! }
//! // On a datagram: session.handle_rtp(now, &buf, source)
//! // then drain session.poll_received() and session.poll_event().
//! let wake = session.poll_timeout().unwrap();
//! assert!(wake <= now + Duration::from_millis(3750));
//! session.handle_timeout(wake); // sends RTCP when due
//! ```

mod jitter;
pub mod packet;
pub mod rtcp;
mod session;
mod stats;

pub use jitter::ReceivedPacket;
pub use packet::{is_rtcp, RtpError, RtpExtension, RtpHeader, RtpPacket};
pub use rtcp::{RtcpError, RtcpPacket};
pub use session::{
    Component, RtpEvent, RtpSession, RtpSessionConfig, RtpStats, RtpTransmit, SessionError,
};
