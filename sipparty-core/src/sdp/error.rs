//! The SDP error type and the parser limits.

use std::fmt;

/// Why a session description (or one of its typed fields) was refused.
///
/// Small and `Copy`, like the message parser's error: the 1-based line
/// number points at the offending line (0 when the error is not tied to a
/// line, e.g. the description is too large).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdpError {
    /// 1-based line number of the offending line, 0 if none applies.
    pub line: u32,
    /// What was wrong.
    pub kind: SdpErrorKind,
}

/// The kinds of [`SdpError`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpErrorKind {
    /// The description is empty.
    Empty,
    /// The description is larger than [`SdpLimits::max_size`].
    TooLarge,
    /// More lines than [`SdpLimits::max_lines`].
    TooManyLines,
    /// More m= sections than [`SdpLimits::max_media`].
    TooManyMedia,
    /// More a= lines in one section than [`SdpLimits::max_attributes`].
    TooManyAttributes,
    /// More formats on an m= line than [`SdpLimits::max_formats`].
    TooManyFormats,
    /// The bytes are not UTF-8 (RFC 8866 s.5: ISO 10646 in UTF-8 by default).
    InvalidUtf8,
    /// A line is not `<type>=<value>` with a single lower-case letter type.
    MalformedLine,
    /// A line ends with a bare LF (strict mode; RFC 8866 s.5 requires CRLF).
    BareLineFeed,
    /// The last line has no line ending (strict mode).
    MissingLineEnding,
    /// A line carries trailing white space (strict mode).
    TrailingWhitespace,
    /// A NUL or a stray CR inside a line.
    InvalidCharacter,
    /// The first line is not `v=0`.
    BadVersion,
    /// A required line (o=, s=, t=) is missing.
    MissingLine(u8),
    /// A line appears where the RFC 8866 s.9 grammar does not allow it
    /// (strict mode), or appears twice where only one is allowed.
    UnexpectedLine(u8),
    /// No c= at session level nor in this media section (strict mode).
    MissingConnection,
    /// A field of a line is missing or malformed (the letter says which line type).
    InvalidField(u8),
    /// A number is not decimal digits or does not fit its type
    /// (e.g. payload type 4294967296, port 65536).
    InvalidNumber,
    /// An RTP payload type is outside 0..=127.
    InvalidPayloadType,
    /// A typed attribute value is malformed.
    InvalidAttribute,
}

impl SdpError {
    pub(crate) const fn new(line: u32, kind: SdpErrorKind) -> Self {
        Self { line, kind }
    }

    /// The same error pointing at `line`.
    pub(crate) const fn at(self, line: u32) -> Self {
        Self {
            line,
            kind: self.kind,
        }
    }

    /// The SIP status a server should answer when the body of a request
    /// failed to parse: 400 for malformed SDP, 413 when over the size limit.
    pub fn status(&self) -> u16 {
        match self.kind {
            SdpErrorKind::TooLarge => 413,
            _ => 400,
        }
    }
}

impl fmt::Display for SdpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty session description"),
            Self::TooLarge => f.write_str("session description too large"),
            Self::TooManyLines => f.write_str("too many lines"),
            Self::TooManyMedia => f.write_str("too many media sections"),
            Self::TooManyAttributes => f.write_str("too many attributes"),
            Self::TooManyFormats => f.write_str("too many formats on an m= line"),
            Self::InvalidUtf8 => f.write_str("not UTF-8"),
            Self::MalformedLine => f.write_str("line is not <type>=<value>"),
            Self::BareLineFeed => f.write_str("line ends with LF instead of CRLF"),
            Self::MissingLineEnding => f.write_str("last line has no CRLF"),
            Self::TrailingWhitespace => f.write_str("trailing white space"),
            Self::InvalidCharacter => f.write_str("NUL or CR inside a line"),
            Self::BadVersion => f.write_str("first line is not v=0"),
            Self::MissingLine(t) => write!(f, "missing {}= line", *t as char),
            Self::UnexpectedLine(t) => write!(f, "{}= line not allowed here", *t as char),
            Self::MissingConnection => f.write_str("no c= line for a media section"),
            Self::InvalidField(t) => write!(f, "malformed {}= line", *t as char),
            Self::InvalidNumber => f.write_str("invalid or out-of-range number"),
            Self::InvalidPayloadType => f.write_str("payload type outside 0..=127"),
            Self::InvalidAttribute => f.write_str("malformed attribute value"),
        }
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "SDP: {}", self.kind)
        } else {
            write!(f, "SDP line {}: {}", self.line, self.kind)
        }
    }
}

impl std::error::Error for SdpError {}

/// Limits and strictness applied when parsing a session description.
///
/// The defaults are strict (RFC 8866 grammar, CRLF line ends) and bounded
/// well above what SIP peers send (a WebRTC offer with audio, video and data
/// is about 6 KiB and 150 lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdpLimits {
    /// Largest accepted description in bytes (default 32 KiB).
    pub max_size: usize,
    /// Most lines in total (default 1024).
    pub max_lines: usize,
    /// Most m= sections (default 32).
    pub max_media: usize,
    /// Most a= lines in the session section or in one media section (default 256).
    pub max_attributes: usize,
    /// Most formats on one m= line (default 64).
    pub max_formats: usize,
    /// Accept what sloppy peers send: bare LF line ends, a missing final line
    /// end, trailing white space, lines out of grammar order, a missing s= or
    /// t= line (old gear), and media sections without any c= line.
    pub lenient: bool,
}

impl SdpLimits {
    /// The default limits in lenient mode, for descriptions from the wire.
    pub const fn lenient() -> Self {
        Self {
            lenient: true,
            ..Self::strict()
        }
    }

    /// The default limits in strict mode (the same as `Default`).
    pub const fn strict() -> Self {
        Self {
            max_size: 32 * 1024,
            max_lines: 1024,
            max_media: 32,
            max_attributes: 256,
            max_formats: 64,
            lenient: false,
        }
    }
}

impl Default for SdpLimits {
    fn default() -> Self {
        Self::strict()
    }
}
