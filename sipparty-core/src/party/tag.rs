//! Our own tags (RFC 3261 section 19.3), kept inline: every call holds
//! one, and the tag index holds it again, so two heap allocations per call
//! side went to ten-odd bytes each.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// The most bytes a tag of ours has: an [`Endpoint`](super::Endpoint)
/// prefix (`{index}.`, at most 21 bytes for a 64-bit index) and the ten
/// random token characters.
const CAPACITY: usize = 32;

/// A tag we generated, stored inline, zero-padded (a tag has no zero
/// byte), so equality and hashing look at the whole array, eight bytes at
/// a time, and never need the `str`. A tag read from a message is looked
/// up as [`LocalTag::parse`] of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalTag {
    len: u8,
    bytes: [u8; CAPACITY],
}

impl LocalTag {
    /// `prefix` then `token`, or `None` if they do not fit or are not
    /// ASCII (tags are tokens, section 25.1).
    pub(crate) fn new(prefix: &str, token: &[u8]) -> Option<LocalTag> {
        let len = prefix.len() + token.len();
        if len > CAPACITY || !prefix.is_ascii() || !token.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; CAPACITY];
        bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
        bytes[prefix.len()..len].copy_from_slice(token);
        Some(LocalTag {
            // At most CAPACITY, checked above.
            len: len as u8,
            bytes,
        })
    }

    /// `tag` as one of ours would be stored, to look it up; `None` when it
    /// cannot be one of ours.
    pub(crate) fn parse(tag: &str) -> Option<LocalTag> {
        LocalTag::new("", tag.as_bytes())
    }

    /// The tag.
    pub(crate) fn as_str(&self) -> &str {
        // ASCII by construction (checked in `new`), so always UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Deref for LocalTag {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Hash for LocalTag {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for chunk in self.bytes.chunks_exact(8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            state.write_u64(u64::from_le_bytes(word));
        }
    }
}

impl fmt::Debug for LocalTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for LocalTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn rfc3261_19_3_tag_is_found_by_the_str_read_from_a_message() {
        let tag = LocalTag::new("12.", b"a84b4c76e6").unwrap();
        assert_eq!(&*tag, "12.a84b4c76e6");
        assert_eq!(tag.to_string(), "12.a84b4c76e6");
        let mut map = HashMap::new();
        map.insert(tag, 7);
        let find = |s: &str| LocalTag::parse(s).and_then(|t| map.get(&t).copied());
        assert_eq!(find("12.a84b4c76e6"), Some(7));
        assert_eq!(find("12.a84b4c76e7"), None);
        assert_eq!(find("12.a84b4c76e"), None, "a prefix of it is another tag");
        assert_eq!(find(&"x".repeat(40)), None, "too long to be ours");
        // The longest prefix an endpoint writes still fits; more does not.
        let prefix = format!("{}.", u64::MAX);
        assert!(LocalTag::new(&prefix, b"0123456789").is_some());
        assert!(LocalTag::new(&format!("99{prefix}"), b"0123456789").is_none());
        assert!(LocalTag::new("é", b"x").is_none());
    }
}
