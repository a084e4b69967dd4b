//! SIP messages (RFC 3261 sections 7, 20, 25): a zero-copy parser, typed
//! headers decoded on demand, and an owned message with a builder.
//!
//! - [`parse_datagram`] / [`parse_stream`] give a [`MessageView`] borrowing
//!   the input: start line, one slot per header line, body slice. No heap
//!   allocation for messages of up to 24 header lines.
//! - [`Headers`] decodes typed headers ([`Via`], [`NameAddr`], [`CSeq`],
//!   [`Contact`], [`MediaType`] ...) from raw values when asked.
//! - [`Message`] owns a message, keeps header text as written (lossless),
//!   and builds requests and responses.
//!
//! ```
//! use sipparty_core::message::{Message, new_tag};
//! use sipparty_core::SeededRandom;
//!
//! let invite = Message::parse(
//!     b"INVITE sip:bob@example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n\
//!       From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
//!       To: Bob <sip:bob@example.com>\r\n\
//!       Call-ID: a84b4c76e66710\r\n\
//!       CSeq: 314159 INVITE\r\n\
//!       Content-Length: 0\r\n\r\n",
//! )
//! .unwrap();
//! let tag = new_tag(&mut SeededRandom::new(1));
//! let ringing = Message::response_to(&invite, 180, Some(&tag));
//! assert_eq!(ringing.to_header().unwrap().unwrap().tag(), Some(tag.as_str()));
//! assert_eq!(ringing.call_id(), Some("a84b4c76e66710"));
//! ```

mod error;
pub mod headers;
mod lex;
mod method;
mod msg;
pub mod multipart;
mod name;
mod params;
mod parse;
mod reason;
mod section;
mod tables;

// For stream framing (`transport::stream`), which reads the same grammar.
pub(crate) use parse::content_length_value;
pub(crate) use tables::{LWS, TOKEN};
mod uri;
mod validate;

pub use error::{ParseError, ParseErrorKind};
pub use headers::{CSeq, Contact, MediaType, NameAddr, RAck, Via};
pub use lex::CommaSplit;
pub use method::Method;
pub use msg::Message;
pub use multipart::{Multipart, Part};
pub use name::HeaderName;
pub use params::{ParamIter, Params};
pub use parse::{
    keepalive_len, parse_datagram, parse_stream, Limits, MessageView, StartLine, Status,
};
pub use reason::reason_phrase;
pub use section::{HeaderField, Headers, SplitValues, Values};
pub use uri::{Scheme, Uri};

use crate::Random;

fn token(rng: &mut dyn Random, len: usize) -> String {
    let mut buf = vec![0u8; len];
    rng.fill_token(&mut buf);
    // fill_token writes ASCII alphanumerics only.
    String::from_utf8(buf).unwrap_or_default()
}

/// Room for a branch of [`new_branch`]'s form.
pub(crate) type BranchBuf = [u8; 23];

/// A new Via branch written into `buf`, without a `String`: the RFC 3261
/// magic cookie `z9hG4bK` and 16 random token characters (section
/// 8.1.1.7).
pub(crate) fn branch_into<'b>(rng: &mut dyn Random, buf: &'b mut BranchBuf) -> &'b str {
    *buf = *b"z9hG4bK0000000000000000";
    rng.fill_token(&mut buf[7..]);
    // The cookie is ASCII and fill_token writes ASCII alphanumerics only.
    std::str::from_utf8(buf).unwrap_or("z9hG4bK")
}

/// A new Via branch: the RFC 3261 magic cookie `z9hG4bK` and 16 random
/// token characters (section 8.1.1.7).
pub fn new_branch(rng: &mut dyn Random) -> String {
    branch_into(rng, &mut [0; 23]).to_owned()
}

/// A new From/To tag: 10 random token characters (section 19.3 asks for
/// at least 32 bits of randomness; this has about 59).
pub fn new_tag(rng: &mut dyn Random) -> String {
    token(rng, 10)
}

/// A new Call-ID: 20 random token characters, `@host` appended when `host`
/// is not empty (section 8.1.1.4).
pub fn new_call_id(rng: &mut dyn Random, host: &str) -> String {
    let mut buf = [0u8; 20];
    rng.fill_token(&mut buf);
    let mut id = String::with_capacity(20 + 1 + host.len());
    // fill_token writes ASCII alphanumerics only.
    id.push_str(std::str::from_utf8(&buf).unwrap_or_default());
    if !host.is_empty() {
        id.push('@');
        id.push_str(host);
    }
    id
}
