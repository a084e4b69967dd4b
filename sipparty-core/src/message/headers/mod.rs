//! Typed headers, decoded from a raw value on access and borrowing it.
//! Each decoder takes one element (one comma-separated entry of a list
//! header); [`Headers`](super::Headers) does the splitting.

pub(crate) mod cseq;
mod media_type;
mod name_addr;
mod via;

pub use cseq::{CSeq, RAck};
pub use media_type::MediaType;
pub use name_addr::{Contact, NameAddr};
pub use via::Via;
