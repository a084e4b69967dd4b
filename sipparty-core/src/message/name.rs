//! Header field names (RFC 3261 section 20 and the extensions this stack
//! reads), matched case-insensitively, with the compact forms of section 7.3.3
//! and the IANA registry folded into their long names.

use std::fmt;

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident = $canonical:literal $(, $compact:literal)?; )*) => {
        /// A header field name. Known names are variants; compact forms map
        /// to their long name (`i` is [`HeaderName::CallId`]); any other
        /// name is kept in [`HeaderName::Other`].
        #[non_exhaustive]
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// A header this crate has no variant for, as written.
            Other(Box<str>),
        }

        /// Canonical spellings, indexed by `id - 1`.
        const CANONICAL: &[&str] = &[$($canonical),*];

        /// Compact forms: `(letter, id)`.
        const COMPACT: &[(u8, u8)] = &[
            $( $( ($compact, HeaderName::$variant.known_id()), )? )*
        ];

        impl HeaderName {
            /// 1-based index of a known name; 0 for [`HeaderName::Other`].
            pub(crate) const fn known_id(&self) -> u8 {
                #[allow(unused_assignments)]
                {
                    let mut i = 0u8;
                    $(
                        i += 1;
                        if let HeaderName::$variant = self {
                            return i;
                        }
                    )*
                    0
                }
            }

            /// The known name with index `id` (as returned by `known_id`).
            pub(crate) fn from_id(id: u8) -> Option<HeaderName> {
                let mut i = 0u8;
                $(
                    i += 1;
                    if i == id {
                        return Some(HeaderName::$variant);
                    }
                )*
                None
            }
        }
    };
}

header_names! {
    /// `Via`, compact `v` (RFC 3261 section 20.42).
    Via = "Via", b'v';
    /// `From`, compact `f` (section 20.20).
    From = "From", b'f';
    /// `To`, compact `t` (section 20.39).
    To = "To", b't';
    /// `Call-ID`, compact `i` (section 20.8).
    CallId = "Call-ID", b'i';
    /// `CSeq` (section 20.16).
    CSeq = "CSeq";
    /// `Max-Forwards` (section 20.22).
    MaxForwards = "Max-Forwards";
    /// `Contact`, compact `m` (section 20.10).
    Contact = "Contact", b'm';
    /// `Route` (section 20.34).
    Route = "Route";
    /// `Record-Route` (section 20.30).
    RecordRoute = "Record-Route";
    /// `Content-Type`, compact `c` (section 20.15).
    ContentType = "Content-Type", b'c';
    /// `Content-Length`, compact `l` (section 20.14).
    ContentLength = "Content-Length", b'l';
    /// `Content-Encoding`, compact `e` (section 20.12).
    ContentEncoding = "Content-Encoding", b'e';
    /// `Content-Disposition` (section 20.11).
    ContentDisposition = "Content-Disposition";
    /// `Content-Language` (section 20.13).
    ContentLanguage = "Content-Language";
    /// `Expires` (section 20.19).
    Expires = "Expires";
    /// `Allow` (section 20.5).
    Allow = "Allow";
    /// `Supported`, compact `k` (section 20.37).
    Supported = "Supported", b'k';
    /// `Require` (section 20.32).
    Require = "Require";
    /// `Proxy-Require` (section 20.29).
    ProxyRequire = "Proxy-Require";
    /// `Unsupported` (section 20.40).
    Unsupported = "Unsupported";
    /// `Accept` (section 20.1).
    Accept = "Accept";
    /// `Accept-Encoding` (section 20.2).
    AcceptEncoding = "Accept-Encoding";
    /// `Accept-Language` (section 20.3).
    AcceptLanguage = "Accept-Language";
    /// `Alert-Info` (section 20.4).
    AlertInfo = "Alert-Info";
    /// `Call-Info` (section 20.9).
    CallInfo = "Call-Info";
    /// `Error-Info` (section 20.18).
    ErrorInfo = "Error-Info";
    /// `In-Reply-To` (section 20.21).
    InReplyTo = "In-Reply-To";
    /// `MIME-Version` (section 20.24).
    MimeVersion = "MIME-Version";
    /// `Min-Expires` (section 20.23).
    MinExpires = "Min-Expires";
    /// `Organization` (section 20.25).
    Organization = "Organization";
    /// `Priority` (section 20.26).
    Priority = "Priority";
    /// `Reply-To` (section 20.31).
    ReplyTo = "Reply-To";
    /// `Subject`, compact `s` (section 20.36).
    Subject = "Subject", b's';
    /// `Warning` (section 20.43).
    Warning = "Warning";
    /// `WWW-Authenticate` (section 20.44).
    WwwAuthenticate = "WWW-Authenticate";
    /// `Proxy-Authenticate` (section 20.27).
    ProxyAuthenticate = "Proxy-Authenticate";
    /// `Authorization` (section 20.7).
    Authorization = "Authorization";
    /// `Proxy-Authorization` (section 20.28).
    ProxyAuthorization = "Proxy-Authorization";
    /// `Authentication-Info` (section 20.6).
    AuthenticationInfo = "Authentication-Info";
    /// `Date` (section 20.17).
    Date = "Date";
    /// `Retry-After` (section 20.33).
    RetryAfter = "Retry-After";
    /// `Timestamp` (section 20.38).
    Timestamp = "Timestamp";
    /// `User-Agent` (section 20.41).
    UserAgent = "User-Agent";
    /// `Server` (section 20.35).
    Server = "Server";
    /// `Reason` (RFC 3326).
    Reason = "Reason";
    /// `RSeq` (RFC 3262).
    RSeq = "RSeq";
    /// `RAck` (RFC 3262).
    RAck = "RAck";
    /// `Session-Expires`, compact `x` (RFC 4028).
    SessionExpires = "Session-Expires", b'x';
    /// `Min-SE` (RFC 4028).
    MinSe = "Min-SE";
    /// `Event`, compact `o` (RFC 6665).
    Event = "Event", b'o';
    /// `Allow-Events`, compact `u` (RFC 6665).
    AllowEvents = "Allow-Events", b'u';
    /// `Subscription-State` (RFC 6665).
    SubscriptionState = "Subscription-State";
    /// `Refer-To`, compact `r` (RFC 3515).
    ReferTo = "Refer-To", b'r';
    /// `Referred-By`, compact `b` (RFC 3892).
    ReferredBy = "Referred-By", b'b';
    /// `Replaces` (RFC 3891).
    Replaces = "Replaces";
    /// `Request-Disposition`, compact `d` (RFC 3841).
    RequestDisposition = "Request-Disposition", b'd';
    /// `Accept-Contact`, compact `a` (RFC 3841).
    AcceptContact = "Accept-Contact", b'a';
    /// `Reject-Contact`, compact `j` (RFC 3841).
    RejectContact = "Reject-Contact", b'j';
    /// `Identity`, compact `y` (RFC 8224).
    Identity = "Identity", b'y';
    /// `Identity-Info`, compact `n` (RFC 4474, obsolete).
    IdentityInfo = "Identity-Info", b'n';
    /// `Path` (RFC 3327).
    Path = "Path";
    /// `Service-Route` (RFC 3608).
    ServiceRoute = "Service-Route";
    /// `P-Asserted-Identity` (RFC 3325).
    PAssertedIdentity = "P-Asserted-Identity";
    /// `P-Preferred-Identity` (RFC 3325).
    PPreferredIdentity = "P-Preferred-Identity";
    /// `Privacy` (RFC 3323).
    Privacy = "Privacy";
}

/// Number of known names.
const KNOWN: usize = CANONICAL.len();

/// Hash of a header name (two or more bytes) for the lookup table: length,
/// first, middle and last byte with ASCII case folded by OR-ing 0x20 (names
/// are tokens, and in a token only letters map onto letters that way),
/// mixed by a multiplicative hash.
const fn name_hash(name: &[u8]) -> usize {
    let len = name.len();
    name_hash_parts(len, name[0], name[len / 2], name[len - 1])
}

#[inline(always)]
const fn name_hash_parts(len: usize, first: u8, mid: u8, last: u8) -> usize {
    let first = (first | 0x20) as u32;
    let mid = (mid | 0x20) as u32;
    let last = (last | 0x20) as u32;
    let key = first | (mid << 8) | (last << 16) | ((len as u32) << 24);
    (key.wrapping_mul(0x9E37_79B1) >> 24) as usize
}

const TABLE_SIZE: usize = 256;

/// Open-addressing table from [`name_hash`] to known id (0 = empty), built at
/// compile time from the long names.
const LOOKUP: [u8; TABLE_SIZE] = {
    let mut t = [0u8; TABLE_SIZE];
    let mut i = 0;
    while i < KNOWN {
        let mut h = name_hash(CANONICAL[i].as_bytes());
        while t[h] != 0 {
            h = (h + 1) & (TABLE_SIZE - 1);
        }
        t[h] = (i + 1) as u8;
        i += 1;
    }
    t
};

/// Hash of a header name from its first word, for [`lookup_line`]: the
/// name's first eight bytes (fewer if shorter) with ASCII case folded by
/// OR-ing 0x20, plus its length, mixed by a multiplicative hash. One
/// mask and a multiply, where [`name_hash`] gathers three bytes.
#[inline(always)]
const fn word_hash(w0: u64, len: usize) -> usize {
    let keep = if len >= 8 {
        u64::MAX
    } else {
        u64::MAX >> (64 - 8 * len)
    };
    let key = ((w0 | 0x2020_2020_2020_2020) & keep).wrapping_add((len as u64) << 56);
    word_hash_key(key)
}

/// The mixing step of [`word_hash`], for a key built by the caller.
#[inline(always)]
const fn word_hash_key(key: u64) -> usize {
    (key.wrapping_mul(0xBD1C_19CF_481C_2109) >> 56) as usize
}

/// Open-addressing table from [`word_hash`] to known id (0 = empty).
/// [`lookup_line`] looks at one entry only: a name displaced by a
/// collision takes the general scan. The multiplier of [`word_hash`] was
/// chosen so that only `Content-Language` is (it shares its first word and
/// its length with `Content-Encoding`); the tests check the common names.
const LINE_LOOKUP: [u8; TABLE_SIZE] = {
    let mut t = [0u8; TABLE_SIZE];
    let mut i = 0;
    while i < KNOWN {
        let name = CANONICAL[i].as_bytes();
        let mut w0 = 0u64;
        let mut k = 0;
        while k < name.len() && k < 8 {
            w0 |= (name[k] as u64) << (8 * k);
            k += 1;
        }
        let mut h = word_hash(w0, name.len());
        while t[h] != 0 {
            h = (h + 1) & (TABLE_SIZE - 1);
        }
        t[h] = (i + 1) as u8;
        i += 1;
    }
    t
};

/// Compact forms by lowercase letter.
const COMPACT_ID: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut j = 0;
    while j < COMPACT.len() {
        t[COMPACT[j].0 as usize] = COMPACT[j].1;
        j += 1;
    }
    t
};

/// Case-insensitive comparison of a token with a canonical name (letters,
/// digits and `-` only), folding by OR-ing 0x20 (in a token only letters map
/// onto letters that way). Compares whole words with overlapping loads
/// instead of byte by byte: header names are 2 to 19 bytes, and this runs
/// once per header line of every parsed message.
#[inline]
fn eq_folded(token: &[u8], canonical: &[u8]) -> bool {
    let len = token.len();
    if len != canonical.len() {
        return false;
    }
    match len {
        0 => true,
        1 => token[0] | 0x20 == canonical[0] | 0x20,
        2..=3 => {
            const F: u16 = 0x2020;
            (word16(token, 0) | F) == (word16(canonical, 0) | F)
                && (word16(token, len - 2) | F) == (word16(canonical, len - 2) | F)
        }
        4..=7 => {
            const F: u32 = 0x2020_2020;
            (word32(token, 0) | F) == (word32(canonical, 0) | F)
                && (word32(token, len - 4) | F) == (word32(canonical, len - 4) | F)
        }
        _ => {
            const F: u64 = 0x2020_2020_2020_2020;
            let mut i = 0;
            while i + 8 < len {
                if (word64(token, i) | F) != (word64(canonical, i) | F) {
                    return false;
                }
                i += 8;
            }
            (word64(token, len - 8) | F) == (word64(canonical, len - 8) | F)
        }
    }
}

// The callers pass `at + N <= s.len()`, so the slices below always have N
// bytes and the conversions to arrays cannot fail.
#[inline(always)]
fn word16(s: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([s[at], s[at + 1]])
}

#[inline(always)]
fn word32(s: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"))
}

#[inline(always)]
fn word64(s: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"))
}

/// The known id for `name`, which must be a token; 0 if unknown.
#[inline]
pub(crate) fn lookup_id(name: &[u8]) -> u8 {
    match name.len() {
        0 => 0,
        1 => COMPACT_ID[(name[0] | 0x20) as usize],
        _ => {
            let mut h = name_hash(name);
            loop {
                let id = LOOKUP[h];
                if id == 0 {
                    return 0;
                }
                if eq_folded(name, CANONICAL[usize::from(id - 1)].as_bytes()) {
                    return id;
                }
                h = (h + 1) & (TABLE_SIZE - 1);
            }
        }
    }
}

/// Widest name [`lookup_line`] handles: the longest canonical name (20
/// bytes) and its colon fit.
pub(crate) const LINE_PREFIX: usize = 24;

/// A canonical name lowercased and zero-padded to [`LINE_PREFIX`] bytes
/// (as three little-endian words), a mask with 0x20 where it has a letter,
/// and a mask of its bytes: `(x | fold) & keep == lower` holds for a name
/// `x` of the same length exactly when each byte is that letter in either
/// case, or that very non-letter.
#[derive(Clone, Copy)]
struct Folded {
    len: usize,
    lower: [u64; 3],
    fold: [u64; 3],
    keep: [u64; 3],
}

const FOLDED: [Folded; KNOWN] = {
    let mut t = [Folded {
        len: 0,
        lower: [0; 3],
        fold: [0; 3],
        keep: [0; 3],
    }; KNOWN];
    let mut i = 0;
    while i < KNOWN {
        let name = CANONICAL[i].as_bytes();
        let mut f = Folded {
            len: name.len(),
            lower: [0; 3],
            fold: [0; 3],
            keep: [0; 3],
        };
        let mut k = 0;
        while k < name.len() {
            let c = name[k];
            let shift = 8 * (k % 8);
            let (lower, fold) = if c.is_ascii_alphabetic() {
                (c | 0x20, 0x20)
            } else {
                (c, 0)
            };
            f.lower[k / 8] |= (lower as u64) << shift;
            f.fold[k / 8] |= (fold as u64) << shift;
            f.keep[k / 8] |= 0xff << shift;
            k += 1;
        }
        t[i] = f;
        i += 1;
    }
    t
};

/// [`FOLDED`] indexed by known id (1-based), padded to a power of two
/// with entries of length 0.
const FOLDED_BY_ID: [Folded; 128] = {
    assert!(KNOWN < 128);
    let mut t = [Folded {
        len: 0,
        lower: [0; 3],
        fold: [0; 3],
        keep: [0; 3],
    }; 128];
    let mut i = 0;
    while i < KNOWN {
        t[i + 1] = FOLDED[i];
        i += 1;
    }
    t
};

/// The header line parser's fast path: if `line` (the first
/// [`LINE_PREFIX`] bytes of a header line) starts with a known name or
/// compact form written exactly (any case) and directly followed by `:`,
/// the name's length and id. `None` sends the caller to the general scan
/// (unknown names, white space before the colon, errors), which decides.
/// Comparing whole words against the folded canonical spelling both finds
/// the name and checks that every byte of it is a token character.
#[inline(always)]
pub(crate) fn lookup_line(line: &[u8; LINE_PREFIX]) -> Option<(usize, u8)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const COLONS: u64 = ONES * b':' as u64;
    // `line` has 24 bytes, so the three 8-byte slices below exist.
    let w = [
        u64::from_le_bytes(line[0..8].try_into().expect("8 bytes")),
        u64::from_le_bytes(line[8..16].try_into().expect("8 bytes")),
        u64::from_le_bytes(line[16..24].try_into().expect("8 bytes")),
    ];
    // The first colon: zero bytes of `x` are colons, and the lowest set
    // high bit marks the first one exactly.
    let colons = |word: u64| {
        let x = word ^ COLONS;
        x.wrapping_sub(ONES) & !x & HIGH
    };
    let z0 = colons(w[0]);
    // The bytes of the first word that belong to the name: below the
    // first colon's bit, or all eight when it holds no colon (`z0 == 0`
    // gives 0 - 1). This is `word_hash`'s mask without its branch.
    let keep = ((z0 & z0.wrapping_neg()) >> 7).wrapping_sub(1);
    let len = if z0 != 0 {
        (z0.trailing_zeros() / 8) as usize
    } else {
        let z1 = colons(w[1]);
        if z1 != 0 {
            8 + (z1.trailing_zeros() / 8) as usize
        } else {
            let z2 = colons(w[2]);
            if z2 == 0 {
                return None;
            }
            16 + (z2.trailing_zeros() / 8) as usize
        }
    };
    match len {
        0 => None,
        1 => match COMPACT_ID[usize::from(line[0] | 0x20)] {
            // Only letters fold onto the letters of COMPACT_ID.
            0 => None,
            id => Some((1, id)),
        },
        _ => {
            let key = ((w[0] | 0x2020_2020_2020_2020) & keep).wrapping_add((len as u64) << 56);
            let id = LINE_LOOKUP[word_hash_key(key)];
            // Masked to the table's size, the index needs no bounds check;
            // id 0 (no name) finds an entry of length 0, which never
            // matches a name of two or more bytes.
            let f = &FOLDED_BY_ID[usize::from(id) & (FOLDED_BY_ID.len() - 1)];
            // The length check keeps NUL bytes from matching the padding.
            let ok = f.len == len
                && (w[0] | f.fold[0]) & f.keep[0] == f.lower[0]
                && (len <= 8 || (w[1] | f.fold[1]) & f.keep[1] == f.lower[1])
                && (len <= 16 || (w[2] | f.fold[2]) & f.keep[2] == f.lower[2]);
            ok.then_some((len, id))
        }
    }
}

/// The known id for arbitrary bytes (non-tokens are never known).
fn lookup_any(name: &[u8]) -> u8 {
    if super::tables::is_token_str(name) {
        lookup_id(name)
    } else {
        0
    }
}

/// The canonical spelling of known id `id` (1-based).
pub(crate) fn canonical(id: u8) -> Option<&'static str> {
    CANONICAL.get(usize::from(id).wrapping_sub(1)).copied()
}

impl HeaderName {
    /// The name written as `name` (case-insensitive; compact forms fold to
    /// their long name). Unknown names become [`HeaderName::Other`].
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match HeaderName::from_id(lookup_any(name)) {
            Some(known) => known,
            None => HeaderName::Other(String::from_utf8_lossy(name).into()),
        }
    }

    /// The canonical spelling (`Call-ID`, `WWW-Authenticate`), or the name
    /// as written for [`HeaderName::Other`].
    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Other(s) => s,
            known => canonical(known.known_id()).unwrap_or(""),
        }
    }

    /// The compact form (RFC 3261 section 7.3.3), if the name has one.
    pub fn compact(&self) -> Option<char> {
        let id = self.known_id();
        COMPACT
            .iter()
            .find(|&&(_, i)| i == id && id != 0)
            .map(|&(c, _)| char::from(c))
    }

    /// Whether a header line named `written` (as on the wire) is this name.
    pub fn matches(&self, written: &str) -> bool {
        match self {
            HeaderName::Other(s) => s.eq_ignore_ascii_case(written),
            known => lookup_any(written.as_bytes()) == known.known_id(),
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canonical_name_and_compact_form_is_found() {
        for (i, name) in CANONICAL.iter().enumerate() {
            let id = (i + 1) as u8;
            assert_eq!(lookup_id(name.as_bytes()), id, "{name}");
            assert_eq!(
                lookup_id(name.to_ascii_uppercase().as_bytes()),
                id,
                "{name}"
            );
            assert_eq!(
                lookup_id(name.to_ascii_lowercase().as_bytes()),
                id,
                "{name}"
            );
            assert_eq!(HeaderName::from_id(id).unwrap().as_str(), *name);
        }
        for &(c, id) in COMPACT {
            assert_eq!(lookup_id(&[c]), id);
            assert_eq!(lookup_id(&[c.to_ascii_uppercase()]), id);
        }
    }

    /// The header line fast path answers for every name the table placed
    /// without a collision, in any case, and for nothing else: displaced
    /// names are left to the general scan (which the test above covers).
    #[test]
    fn line_lookup_finds_names_followed_by_a_colon() {
        let mut direct = 0;
        for (i, name) in CANONICAL.iter().enumerate() {
            let id = (i + 1) as u8;
            for written in [
                name.to_string(),
                name.to_ascii_uppercase(),
                name.to_ascii_lowercase(),
            ] {
                let mut line = [b'x'; LINE_PREFIX];
                line[..written.len()].copy_from_slice(written.as_bytes());
                line[written.len()] = b':';
                match lookup_line(&line) {
                    Some(found) => {
                        assert_eq!(found, (written.len(), id), "{written}");
                        direct += 1;
                    }
                    // The one known name whose hash collides with an
                    // earlier one's: the general scan finds it.
                    None => assert_eq!(*name, "Content-Language", "{written} missed"),
                }
                // Followed by anything but the colon, it is not a name.
                line[written.len()] = b' ';
                assert_eq!(lookup_line(&line), None, "{written}");
            }
        }
        // The names of nearly every message take the fast path.
        for name in [
            "Via",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "Max-Forwards",
            "Content-Type",
            "Content-Length",
            "Allow",
            "Supported",
            "User-Agent",
            "Server",
            "Route",
            "Record-Route",
            "Expires",
            "Require",
            "Authorization",
            "WWW-Authenticate",
            "Proxy-Authorization",
            "Proxy-Authenticate",
        ] {
            let mut line = [b' '; LINE_PREFIX];
            line[..name.len()].copy_from_slice(name.as_bytes());
            line[name.len()] = b':';
            assert!(lookup_line(&line).is_some(), "{name}");
        }
        assert_eq!(direct, 3 * (KNOWN - 1), "all but Content-Language");
    }

    /// RFC 3261 section 7.3.3: compact forms are equivalent to long names.
    #[test]
    fn rfc3261_7_3_3_compact_forms() {
        for (c, long) in [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("f", HeaderName::From),
            ("s", HeaderName::Subject),
            ("k", HeaderName::Supported),
            ("t", HeaderName::To),
            ("v", HeaderName::Via),
        ] {
            assert_eq!(HeaderName::from_bytes(c.as_bytes()), long);
            assert!(long.matches(c));
        }
        assert_eq!(HeaderName::Via.compact(), Some('v'));
        assert_eq!(HeaderName::CSeq.compact(), None);
    }

    #[test]
    fn unknown_names_are_kept_as_written() {
        let n = HeaderName::from_bytes(b"X-Custom");
        assert_eq!(n, HeaderName::Other("X-Custom".into()));
        assert!(n.matches("x-custom"));
        assert!(!n.matches("X-Other"));
        assert_eq!(lookup_id(b"q"), 0);
        assert_eq!(lookup_id(b"Vias"), 0);
        assert_eq!(lookup_id(b""), 0);
        assert_eq!(
            HeaderName::from_bytes(b"Call\rID"),
            HeaderName::Other("Call\rID".into())
        );
    }
}
