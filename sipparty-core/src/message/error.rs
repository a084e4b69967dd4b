//! The one error type of the message layer: small, `Copy`, and carrying
//! what a server needs to answer (RFC 3261 section 21).

use std::fmt;

/// Why a message (or a header value) was rejected.
///
/// `offset` is the byte offset of the problem in the input that was being
/// parsed: the whole message for [`parse_datagram`](super::parse_datagram)
/// and [`parse_stream`](super::parse_stream), the raw header value for the
/// typed header decoders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

/// What went wrong; see [`ParseError`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The grammar wanted something else here, e.g. `"SP"`, `"token"`,
    /// `"Status-Code"`.
    Expected(&'static str),
    /// The message is larger than [`Limits::max_message`](super::Limits).
    MessageTooLarge,
    /// More header lines than [`Limits::max_headers`](super::Limits).
    TooManyHeaders,
    /// A header line (with its folded continuations) longer than
    /// [`Limits::max_header_line`](super::Limits).
    HeaderLineTooLong,
    /// The Request-URI is longer than [`Limits::max_uri`](super::Limits).
    UriTooLong,
    /// More parameters than [`Limits::max_params`](super::Limits).
    TooManyParams,
    /// A header section that is not UTF-8.
    InvalidUtf8,
    /// Content-Length says more bytes than the datagram holds (RFC 3261
    /// section 18.3).
    BodyTruncated,
    /// A stream message without Content-Length (RFC 3261 section 18.3).
    MissingContentLength,
    /// Two Content-Length headers that disagree.
    ConflictingContentLength,
    /// A mandatory header is missing (RFC 3261 section 8.1.1).
    MissingHeader(&'static str),
    /// A header that may appear once appears more often.
    RepeatedHeader(&'static str),
    /// The CSeq method is not the request method (RFC 3261 section 8.1.1.5).
    CSeqMethodMismatch,
    /// A SIP version other than 2.0 (answer 505).
    UnsupportedVersion,
    /// A Request-URI scheme this stack does not serve (answer 416).
    UnsupportedScheme,
}

impl ParseError {
    pub(crate) const fn new(offset: usize, kind: ParseErrorKind) -> Self {
        Self { offset, kind }
    }

    pub(crate) const fn expected(offset: usize, what: &'static str) -> Self {
        Self::new(offset, ParseErrorKind::Expected(what))
    }

    /// The status code a server should answer with (RFC 3261 section 21):
    /// 413 for an oversized message, 414 for an oversized Request-URI,
    /// 416 for an unsupported URI scheme, 505 for an unsupported version,
    /// 400 otherwise.
    pub fn status(&self) -> u16 {
        match self.kind {
            ParseErrorKind::MessageTooLarge => 413,
            ParseErrorKind::UriTooLong => 414,
            ParseErrorKind::UnsupportedScheme => 416,
            ParseErrorKind::UnsupportedVersion => 505,
            _ => 400,
        }
    }

    /// The same error with its offset moved by `base` (to report a position
    /// in the message rather than in a header value).
    pub fn shifted(self, base: usize) -> Self {
        Self {
            offset: self.offset.saturating_add(base),
            kind: self.kind,
        }
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expected(what) => write!(f, "expected {what}"),
            Self::MessageTooLarge => f.write_str("message too large"),
            Self::TooManyHeaders => f.write_str("too many headers"),
            Self::HeaderLineTooLong => f.write_str("header line too long"),
            Self::UriTooLong => f.write_str("Request-URI too long"),
            Self::TooManyParams => f.write_str("too many parameters"),
            Self::InvalidUtf8 => f.write_str("header section is not UTF-8"),
            Self::BodyTruncated => f.write_str("Content-Length larger than the message"),
            Self::MissingContentLength => f.write_str("Content-Length missing on a stream"),
            Self::ConflictingContentLength => f.write_str("conflicting Content-Length headers"),
            Self::MissingHeader(name) => write!(f, "missing mandatory header {name}"),
            Self::RepeatedHeader(name) => write!(f, "header {name} repeated"),
            Self::CSeqMethodMismatch => f.write_str("CSeq method differs from the request method"),
            Self::UnsupportedVersion => f.write_str("unsupported SIP version"),
            Self::UnsupportedScheme => f.write_str("unsupported Request-URI scheme"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for ParseError {}
