//! Typed headers, decoded from a raw value on access and borrowing it.
//! Each decoder takes one element (one comma-separated entry of a list
//! header); [`Headers`](super::Headers) does the splitting.
//!
//! WWW-Authenticate, Proxy-Authenticate, Authorization and
//! Proxy-Authorization are exposed raw (never comma-split); the digest
//! grammar is decoded by `crate::auth`.

pub(crate) mod cseq;
mod media_type;
pub(crate) mod misc;
mod name_addr;
mod via;

pub use cseq::{CSeq, RAck};
pub use media_type::MediaType;
#[doc(hidden)]
pub use misc::decode_any;
pub use misc::{
    parse_call_id, Event, Reason, Refresher, Replaces, RetryAfter, SessionExpires,
    SubscriptionState, Timestamp,
};
pub use name_addr::{Contact, NameAddr};
pub use via::Via;
