//! The zero-copy parser: a [`MessageView`] borrows the input and holds the
//! start line, one slot of offsets per header line, and the body slice
//! (httparse's shape). Typed headers are decoded later, on access.
//!
//! Datagram and stream framing follow RFC 3261 section 18.3: in a datagram
//! the body is the rest of the datagram when Content-Length is absent, and
//! octets past Content-Length are ignored; on a stream Content-Length is
//! mandatory and a message is [`Status::Partial`] until all of it arrived.

use super::error::{ParseError, ParseErrorKind};
use super::lex::{cut, find_byte, run};
use super::name::{lookup_id, lookup_line, HeaderName, LINE_PREFIX};
use super::params::DEFAULT_MAX_PARAMS;
use super::section::{Headers, Slot};
use super::tables::{HOST, LWS, TOKEN, USER_PLAIN};
use super::uri::{expect_end, scan_uri};

/// Size caps applied while parsing. Exceeding one is an error, never a
/// panic or an unbounded allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (start line, headers and body), in bytes. Default
    /// 65,536 (answer 413 above it).
    pub max_message: usize,
    /// Most header lines. Default 256.
    pub max_headers: usize,
    /// Longest header line including its folded continuations. Default
    /// 8,192.
    pub max_header_line: usize,
    /// Longest Request-URI. Default 1,024 (answer 414 above it).
    pub max_uri: usize,
    /// Most parameters on the Request-URI (header elements are decoded
    /// later with the same default cap of 64).
    pub max_params: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: 65_536,
            max_headers: 256,
            max_header_line: 8_192,
            max_uri: 1_024,
            max_params: DEFAULT_MAX_PARAMS,
        }
    }
}

/// The outcome of parsing from a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message.
    Complete(T),
    /// The input ends before the message does: read more and try again.
    Partial,
}

/// The first line of a message.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP-Version CRLF`
    Request {
        /// The method token (case-sensitive).
        method: &'a str,
        /// The Request-URI as written.
        uri: &'a str,
        /// The version, `SIP/2.0` for anything this stack serves.
        version: &'a str,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase CRLF`
    Response {
        /// The version.
        version: &'a str,
        /// The status code, 100 to 699.
        code: u16,
        /// The reason phrase (UTF-8, possibly empty).
        reason: &'a str,
    },
}

/// Most messages have no more header lines than this; they parse without
/// touching the heap. (24 rather than 32: the view is returned by value,
/// and each slot is 24 bytes to copy.)
pub(crate) const INLINE_HEADERS: usize = 24;

/// The slots of a view's header lines: the first [`INLINE_HEADERS`] in
/// place (written without a call per line), all of them on the heap when
/// there are more.
#[derive(Clone, Debug)]
struct SlotBuf {
    /// Number of slots: those in `inline` while it holds them all, else
    /// those in `heap`.
    len: usize,
    inline: [Slot; INLINE_HEADERS],
    /// Every slot, once there were more than `inline` holds.
    heap: Vec<Slot>,
}

impl SlotBuf {
    #[inline(always)]
    fn new() -> Self {
        SlotBuf {
            len: 0,
            inline: [Slot::EMPTY; INLINE_HEADERS],
            heap: Vec::new(),
        }
    }

    #[inline(always)]
    fn push(&mut self, slot: Slot) {
        match self.inline.get_mut(self.len) {
            Some(free) => *free = slot,
            None => self.spill(slot),
        }
        self.len += 1;
    }

    #[cold]
    #[inline(never)]
    fn spill(&mut self, slot: Slot) {
        if self.heap.is_empty() {
            self.heap.reserve(2 * INLINE_HEADERS);
            self.heap.extend_from_slice(&self.inline);
        }
        self.heap.push(slot);
    }

    /// One compare: the inline slots while `len` fits there, else the heap.
    #[inline]
    fn as_slice(&self) -> &[Slot] {
        self.inline.get(..self.len).unwrap_or(&self.heap)
    }
}

/// A parsed message borrowing its input. Build an owned
/// [`Message`](super::Message) from it with
/// [`Message::from_view`](super::Message::from_view).
#[derive(Clone, Debug)]
pub struct MessageView<'a> {
    /// Start line and headers, through the empty line.
    head: &'a str,
    /// Offset of `head` in the input (leading CRLFs skipped).
    offset: usize,
    start: StartLine<'a>,
    /// Length of the start line including its line end.
    start_len: u32,
    slots: SlotBuf,
    body: &'a [u8],
    content_length: Option<usize>,
}

impl<'a> MessageView<'a> {
    /// The start line.
    #[inline]
    pub fn start_line(&self) -> StartLine<'a> {
        self.start
    }

    /// Whether this is a request.
    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method token.
    #[inline]
    pub fn method(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written.
    #[inline]
    pub fn request_uri(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    #[inline]
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    #[inline]
    pub fn reason(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// The SIP version as written.
    #[inline]
    pub fn version(&self) -> &'a str {
        match self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => version,
        }
    }

    /// The header section, with raw and typed access.
    #[inline]
    pub fn headers(&self) -> Headers<'_> {
        Headers::new(self.head, self.slots.as_slice())
    }

    /// Number of header lines.
    #[inline]
    pub fn header_count(&self) -> usize {
        self.slots.len
    }

    /// The body.
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The start line and header section as written, through the empty
    /// line.
    #[inline]
    pub fn head(&self) -> &'a str {
        self.head
    }

    /// Offset of the message in the parsed input (after skipped CRLFs).
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The Content-Length header's value, if present.
    #[inline]
    pub fn content_length(&self) -> Option<usize> {
        self.content_length
    }

    /// The semantic checks of [`Message::validate`](super::Message::validate);
    /// error offsets point into the parsed input.
    #[inline]
    pub fn validate(&self) -> Result<(), ParseError> {
        let info = super::validate::StartInfo {
            method: self.method(),
            request_uri: self.request_uri(),
            version: self.version(),
        };
        super::validate::validate(&info, &self.headers(), self.offset)
    }

    pub(crate) fn start_len(&self) -> usize {
        self.start_len as usize
    }

    pub(crate) fn slots(&self) -> &[Slot] {
        self.slots.as_slice()
    }
}

/// Parse one message from a UDP datagram (RFC 3261 section 18.3): leading
/// CRLFs are skipped; without Content-Length the body is the rest of the
/// datagram; octets after Content-Length are ignored.
///
/// ```
/// use sipparty_core::message::{parse_datagram, Limits};
/// let raw = b"OPTIONS sip:bob@example.com SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
/// let view = parse_datagram(raw, &Limits::default()).unwrap();
/// assert_eq!(view.method(), Some("OPTIONS"));
/// assert_eq!(view.headers().cseq().unwrap().unwrap().seq, 1);
/// ```
pub fn parse_datagram<'a>(buf: &'a [u8], limits: &Limits) -> Result<MessageView<'a>, ParseError> {
    if buf.len() > limits.max_message {
        return Err(ParseError::new(
            limits.max_message,
            ParseErrorKind::MessageTooLarge,
        ));
    }
    match parse(buf, limits, false)? {
        Status::Complete((view, _)) => Ok(view),
        // Datagram parsing reports truncation as errors, never Partial.
        Status::Partial => Err(ParseError::expected(buf.len(), "end of header section")),
    }
}

/// Parse the next message from a byte stream (TCP, TLS). Returns the view
/// and the number of bytes it used (leading CRLF keep-alives included), or
/// [`Status::Partial`] if more bytes are needed. Content-Length is
/// mandatory (RFC 3261 section 18.3).
pub fn parse_stream<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Status<(MessageView<'a>, usize)>, ParseError> {
    parse(buf, limits, true)
}

/// The number of leading CR and LF bytes: keep-alives (RFC 5626 section
/// 4.4.1) a stream reader may drop.
pub fn keepalive_len(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

macro_rules! need_more {
    ($stream:expr, $at:expr, $what:literal) => {
        if $stream {
            return Ok(Status::Partial);
        } else {
            return Err(ParseError::expected($at, $what));
        }
    };
}

#[inline(always)]
fn parse<'a>(
    buf: &'a [u8],
    limits: &Limits,
    stream: bool,
) -> Result<Status<(MessageView<'a>, usize)>, ParseError> {
    // RFC 3261 section 7.5: CRLFs before the start line are ignored.
    let base = keepalive_len(buf);
    if base == buf.len() {
        need_more!(stream, base, "start line");
    }
    let limit_end = base.saturating_add(limits.max_message).min(buf.len());
    let (start, nl) = match fast_request_line(buf, base, limit_end, limits) {
        Some(fast) => fast,
        None => {
            let Some(nl) = memchr::memchr(b'\n', &buf[base..limit_end]) else {
                if stream && buf.len() - base < limits.max_message {
                    return Ok(Status::Partial);
                }
                if stream {
                    return Err(ParseError::new(limit_end, ParseErrorKind::MessageTooLarge));
                }
                return Err(ParseError::expected(buf.len(), "CRLF after start line"));
            };
            let nl = base + nl;
            let line_end = if nl > base && buf[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            (start_line(buf, base, line_end, limits)?, nl)
        }
    };
    let start_len = (nl + 1 - base) as u32;

    // The header lines, with offsets relative to `base` (the slots keep
    // those), so `base` is added back only for an error.
    let h = buf.get(base..).unwrap_or_default();
    let mut slots = SlotBuf::new();
    let mut content_length: Option<usize> = None;
    let mut p = nl + 1 - base;
    let head_end = base
        + loop {
            // (A datagram is no larger than max_message: checked up front.)
            if stream && p > limits.max_message {
                return Err(ParseError::new(base + p, ParseErrorKind::MessageTooLarge));
            }
            // header-name = token, then HCOLON = *( SP / HTAB ) ":" SWS. Fast
            // path: a known name directly followed by the colon.
            let name_start = p;
            let fast = h
                .get(p..p + LINE_PREFIX)
                .and_then(|line| lookup_line(line.try_into().expect("LINE_PREFIX bytes")));
            let (name_end, colon, id) = match fast {
                Some((len, id)) => (p + len, p + len, id),
                None => {
                    // A line that does not start with a token character is the
                    // empty line ending the header section, or an error.
                    let name_end = token_end(h, p);
                    if name_end == name_start {
                        match h.get(p) {
                            None => need_more!(stream, base + p, "empty line after headers"),
                            Some(b'\n') => break p + 1,
                            Some(b'\r') => match h.get(p + 1) {
                                Some(b'\n') => break p + 2,
                                None => need_more!(stream, base + p + 1, "LF"),
                                Some(_) => return Err(ParseError::expected(base + p + 1, "LF")),
                            },
                            Some(_) => return Err(ParseError::expected(base + p, "header name")),
                        }
                    }
                    let mut i = name_end;
                    while i < h.len() && (h[i] == b' ' || h[i] == b'\t') {
                        i += 1;
                    }
                    match h.get(i) {
                        Some(b':') => {}
                        None => need_more!(stream, base + i, "\":\""),
                        Some(_) => return Err(ParseError::expected(base + i, "\":\"")),
                    }
                    (name_end, i, lookup_id(&h[name_start..name_end]))
                }
            };
            // The value runs to a line end not followed by SP/HTAB (folding,
            // RFC 3261 section 7.3.1).
            let value_start = colon + 1;
            let mut q = value_start;
            let lf = loop {
                let Some(lf) = find_byte(h, q, b'\n') else {
                    if h.len() - name_start > limits.max_header_line {
                        return Err(ParseError::new(
                            base + name_start,
                            ParseErrorKind::HeaderLineTooLong,
                        ));
                    }
                    need_more!(stream, buf.len(), "end of header line");
                };
                match h.get(lf + 1) {
                    Some(b' ') | Some(b'\t') => q = lf + 1,
                    Some(_) => break lf,
                    None => need_more!(stream, base + lf + 1, "empty line after headers"),
                }
            };
            let next = lf + 1;
            if next - name_start > limits.max_header_line {
                return Err(ParseError::new(
                    base + name_start,
                    ParseErrorKind::HeaderLineTooLong,
                ));
            }
            if slots.len >= limits.max_headers {
                return Err(ParseError::new(
                    base + name_start,
                    ParseErrorKind::TooManyHeaders,
                ));
            }
            // Trim LWS (folds included) on both sides of the value: the line
            // terminator first, then any white space.
            let mut ve = lf;
            if ve > value_start && h[ve - 1] == b'\r' {
                ve -= 1;
            }
            // Usually one SP before the value and nothing after it.
            let value = &h[value_start..ve];
            let (vs, ve) = match value {
                [b' ', first, .., last] if !LWS[*first as usize] && !LWS[*last as usize] => {
                    (value_start + 1, ve)
                }
                _ => {
                    let lead = value
                        .iter()
                        .position(|&b| !LWS[b as usize])
                        .unwrap_or(value.len());
                    let trail = value[lead..]
                        .iter()
                        .rev()
                        .position(|&b| !LWS[b as usize])
                        .unwrap_or(0);
                    (value_start + lead, ve - trail)
                }
            };
            if id == CONTENT_LENGTH {
                let cl = content_length_value(&h[vs..ve], base + vs)?;
                if content_length.is_some_and(|prev| prev != cl) {
                    return Err(ParseError::new(
                        base + name_start,
                        ParseErrorKind::ConflictingContentLength,
                    ));
                }
                content_length = Some(cl);
            }
            slots.push(Slot {
                name_start: name_start as u32,
                name_end: name_end as u32,
                value_start: vs as u32,
                value_end: ve as u32,
                line_end: next as u32,
                id,
            });
            p = next;
        };

    let head = head_str(&buf[base..head_end], base)?;
    let start = start_line_str(head, start, base, limits.max_params)?;

    let (body, end) = match content_length {
        Some(cl) => {
            let end = head_end.saturating_add(cl);
            if end > buf.len() && !stream {
                return Err(ParseError::new(head_end, ParseErrorKind::BodyTruncated));
            }
            if end - base > limits.max_message {
                return Err(ParseError::new(head_end, ParseErrorKind::MessageTooLarge));
            }
            if end > buf.len() {
                return Ok(Status::Partial);
            }
            (&buf[head_end..end], end)
        }
        None if stream => {
            return Err(ParseError::new(base, ParseErrorKind::MissingContentLength));
        }
        None => (&buf[head_end..], buf.len()),
    };
    Ok(Status::Complete((
        MessageView {
            head,
            offset: base,
            start,
            start_len,
            slots,
            body,
            content_length,
        },
        end,
    )))
}

/// The head as `&str`. `simdutf8` checks the usual all-ASCII head in
/// vector blocks, several times faster than `str::from_utf8` on a 500-byte
/// head; only when it refuses does std's validator run, for the offset of
/// the first bad byte.
#[inline]
fn head_str(head: &[u8], base: usize) -> Result<&str, ParseError> {
    match simdutf8::basic::from_utf8(head) {
        Ok(s) => Ok(s),
        Err(_) => std::str::from_utf8(head)
            .map_err(|e| ParseError::new(base + e.valid_up_to(), ParseErrorKind::InvalidUtf8)),
    }
}

const CONTENT_LENGTH: u8 = HeaderName::ContentLength.known_id();

/// End of the token starting at `i` (`i` itself if there is none).
#[inline(always)]
fn token_end(buf: &[u8], i: usize) -> usize {
    let rest = buf.get(i..).unwrap_or_default();
    i + rest
        .iter()
        .position(|&b| !TOKEN[b as usize])
        .unwrap_or(rest.len())
}

/// `Content-Length = 1*DIGIT`; values beyond `u32` are malformed (RFC
/// 4475 section 3.1.2.4 expects 400 for them).
#[inline]
pub(crate) fn content_length_value(v: &[u8], at: usize) -> Result<usize, ParseError> {
    if v.is_empty() || v.len() > 10 {
        return Err(ParseError::expected(at, "Content-Length digits"));
    }
    let mut n: u64 = 0;
    for &d in v {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            return Err(ParseError::expected(at, "Content-Length digits"));
        }
        n = n * 10 + u64::from(digit);
    }
    u32::try_from(n)
        .map(|n| n as usize)
        .map_err(|_| ParseError::expected(at, "Content-Length below 2^32"))
}

/// Start-line fields as byte ranges relative to the line start (the head
/// is validated as UTF-8 only after the header scan).
#[derive(Clone, Copy)]
enum RawStart {
    Request {
        method: (usize, usize),
        uri: (usize, usize),
        version: (usize, usize),
    },
    Response {
        version: (usize, usize),
        code: u16,
        reason: (usize, usize),
    },
}

/// The common request line, `token SP uri SP "SIP/2.0" CRLF` with a URI
/// of no more than `max_uri` bytes above 0x20, in one pass: the start line
/// and the index of its LF. Anything else (responses, other spacing or
/// versions, errors) is `None`, and [`start_line`] decides; on this shape
/// both agree. The URI's syntax is checked later, as on the general path.
#[inline(always)]
fn fast_request_line(
    buf: &[u8],
    base: usize,
    limit_end: usize,
    limits: &Limits,
) -> Option<(RawStart, usize)> {
    let line = buf.get(base..limit_end)?;
    let m = line.iter().position(|&b| !TOKEN[b as usize])?;
    if m == 0 || line[m] != b' ' {
        return None;
    }
    let u = m + 1;
    let e = u + below_0x21(line.get(u..)?)?;
    if e == u || e - u > limits.max_uri || line[e] != b' ' {
        return None;
    }
    let v = e + 1;
    if line.get(v..v + 9)? != b"SIP/2.0\r\n" {
        return None;
    }
    Some((
        RawStart::Request {
            method: (0, m),
            uri: (u, e),
            version: (v, v + 7),
        },
        base + v + 8,
    ))
}

/// Index of the first byte below 0x21 (SP, HTAB, CR, LF, controls), eight
/// bytes at a time.
#[inline(always)]
fn below_0x21(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        // `get(i..i + 8)` returned eight bytes.
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // High bit of each byte below 0x21 (bytes of 0x80 and up never
        // count); the lowest one is exact, as borrows only travel upwards.
        let z = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b < 0x21).map(|k| i + k)
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT` ("SIP" case-insensitive).
fn is_version(v: &[u8]) -> bool {
    if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return false;
    }
    let rest = &v[4..];
    let Some(dot) = rest.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (major, minor) = (&rest[..dot], &rest[dot + 1..]);
    !major.is_empty()
        && !minor.is_empty()
        && major.iter().all(u8::is_ascii_digit)
        && minor.iter().all(u8::is_ascii_digit)
}

fn start_line(
    buf: &[u8],
    base: usize,
    end: usize,
    limits: &Limits,
) -> Result<RawStart, ParseError> {
    let line = &buf[base..end];
    let sp1 = memchr::memchr(b' ', line).ok_or(ParseError::expected(end, "SP"))?;
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line
        let version = &line[..sp1];
        if !is_version(version) {
            return Err(ParseError::expected(base, "SIP-Version"));
        }
        let c = sp1 + 1;
        let code_bytes = line
            .get(c..c + 3)
            .ok_or(ParseError::expected(base + c, "Status-Code"))?;
        if !code_bytes.iter().all(u8::is_ascii_digit) || code_bytes[0] == b'0' {
            return Err(ParseError::expected(base + c, "Status-Code"));
        }
        let code = code_bytes
            .iter()
            .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&code) {
            return Err(ParseError::expected(base + c, "Status-Code 100-699"));
        }
        let reason_start = match line.get(c + 3) {
            None => c + 3,
            Some(b' ') => c + 4,
            Some(_) => return Err(ParseError::expected(base + c + 3, "SP")),
        };
        if let Some(bad) = line[reason_start..]
            .iter()
            .position(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
        {
            return Err(ParseError::expected(
                base + reason_start + bad,
                "Reason-Phrase",
            ));
        }
        return Ok(RawStart::Response {
            version: (0, sp1),
            code,
            reason: (reason_start, line.len()),
        });
    }
    // Request-Line: exactly one SP between the three elements.
    if sp1 == 0 || !line[..sp1].iter().all(|&b| TOKEN[b as usize]) {
        return Err(ParseError::expected(base, "Method"));
    }
    let u = sp1 + 1;
    let sp2 = memchr::memchr(b' ', &line[u..])
        .map(|x| u + x)
        .ok_or(ParseError::expected(end, "SP before SIP-Version"))?;
    if sp2 == u {
        return Err(ParseError::expected(base + u, "Request-URI"));
    }
    if sp2 - u > limits.max_uri {
        return Err(ParseError::new(base + u, ParseErrorKind::UriTooLong));
    }
    let version = &line[sp2 + 1..];
    if !is_version(version) {
        return Err(ParseError::expected(base + sp2 + 1, "SIP-Version"));
    }
    Ok(RawStart::Request {
        method: (0, sp1),
        uri: (u, sp2),
        version: (sp2 + 1, line.len()),
    })
}

/// Turn the raw start line into `&str`s of the validated head and check the
/// Request-URI's syntax.
fn start_line_str(
    head: &str,
    raw: RawStart,
    base: usize,
    max_params: usize,
) -> Result<StartLine<'_>, ParseError> {
    Ok(match raw {
        RawStart::Request {
            method,
            uri,
            version,
        } => {
            let uri_str = cut(head, uri.0, uri.1);
            // The Request-URI's syntax (its parts are decoded on demand).
            check_request_uri(uri_str.as_bytes(), max_params)
                .map_err(|e| e.shifted(base + uri.0))?;
            StartLine::Request {
                method: cut(head, method.0, method.1),
                uri: uri_str,
                version: cut(head, version.0, version.1),
            }
        }
        RawStart::Response {
            version,
            code,
            reason,
        } => StartLine::Response {
            version: cut(head, version.0, version.1),
            code,
            reason: cut(head, reason.0, reason.1),
        },
    })
}

/// The Request-URI's syntax check: [`scan_uri`] to the end of the URI,
/// after a shortcut for the usual shape.
#[inline(always)]
fn check_request_uri(u: &[u8], max_params: usize) -> Result<(), ParseError> {
    if plain_sip_uri(u) {
        return Ok(());
    }
    scan_uri(u, 0, max_params).and_then(|(parts, stop)| expect_end(&parts, stop, u.len()))
}

/// Whether `u` is `sip:` (any case) `user@host[:port]` with a user of
/// plain characters (no escapes, no password), a host name or IPv4
/// address, and a port of one to five digits up to 65535: the usual
/// Request-URI, in one pass. [`scan_uri`] accepts every URI of this shape
/// (the test `plain_sip_uri_agrees_with_scan_uri` checks it); `false`
/// only means "ask `scan_uri`", which decides every other URI.
#[inline(always)]
fn plain_sip_uri(u: &[u8]) -> bool {
    let Some((scheme, rest)) = u.split_first_chunk::<4>() else {
        return false;
    };
    if u32::from_le_bytes(*scheme) | 0x0020_2020 != u32::from_le_bytes(*b"sip:") {
        return false;
    }
    let at = run(rest, 0, &USER_PLAIN);
    if at == 0 || rest.get(at) != Some(&b'@') {
        return false;
    }
    let host = at + 1;
    // (Not `lex::run_host`: a second caller makes it a call in the
    // decoders too.)
    let end = run(rest, host, &HOST);
    if end == host {
        return false;
    }
    match rest.get(end..) {
        Some([]) => true,
        Some([b':', port @ ..]) if !port.is_empty() && port.len() <= 5 => {
            let mut n = 0u32;
            for &d in port {
                let d = d.wrapping_sub(b'0');
                if d > 9 {
                    return false;
                }
                n = n * 10 + u32::from(d);
            }
            n <= 65_535
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scan(u: &[u8]) -> Result<(), ParseError> {
        scan_uri(u, 0, DEFAULT_MAX_PARAMS)
            .and_then(|(parts, stop)| expect_end(&parts, stop, u.len()))
    }

    /// URIs near the shortcut's shape: its characters, its delimiters and
    /// a few that end it (escapes, brackets, params, spaces, UTF-8).
    fn near_plain_uri() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop::sample::select(
            b"sSiIpP:@.-_0123456789abzAZ%;?=&[]<> \t\x7f\xc3+!~*'(),$/".to_vec(),
        );
        (
            prop::sample::select(vec![
                "sip:", "SIP:", "sIp:", "sips:", "tel:", "sip", "", "xip:",
            ]),
            prop::collection::vec(byte.clone(), 0..6),
            prop::sample::select(vec!["@", "", "@@", ":pw@"]),
            prop::collection::vec(byte, 0..24),
        )
            .prop_map(|(scheme, user, at, rest)| {
                let mut u = scheme.as_bytes().to_vec();
                u.extend(user);
                u.extend(at.as_bytes());
                u.extend(rest);
                u
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The shortcut accepts only what `scan_uri` accepts, so
        /// `check_request_uri` answers exactly as `scan_uri` does.
        #[test]
        fn plain_sip_uri_agrees_with_scan_uri(u in near_plain_uri()) {
            if plain_sip_uri(&u) {
                prop_assert_eq!(scan(&u), Ok(()), "{}", String::from_utf8_lossy(&u));
            }
            prop_assert_eq!(check_request_uri(&u, DEFAULT_MAX_PARAMS), scan(&u));
        }
    }

    /// RFC 3261 section 19.1.1 examples of the usual shape take the
    /// shortcut; other forms are left to the full scan, which still
    /// accepts or rejects them.
    #[test]
    fn rfc3261_19_1_1_plain_uris_take_the_shortcut() {
        for u in [
            "sip:alice@atlanta.com",
            "SIP:bob@biloxi.example.com",
            "sip:+1-212-555-1212@gateway.com",
            "sip:alice@192.0.2.4",
            "sip:alice@192.0.2.4:5060",
            "sip:a@b:65535",
            "sip:alice;day=tuesday@atlanta.com",
            "sip:a!~*'()&=+$,;?/_.-@h_1",
        ] {
            assert!(plain_sip_uri(u.as_bytes()), "{u}");
            assert_eq!(scan(u.as_bytes()), Ok(()), "{u}");
        }
        for (u, ok) in [
            ("sip:alice:secretword@atlanta.com;transport=tcp", true),
            (
                "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
                true,
            ),
            (
                "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
                true,
            ),
            ("sip:biloxi.com", true),
            ("sip:%61lice@atlanta.com", true),
            ("sip:a@[2001:db8::1]:5060", true),
            ("sip:a@b:65536", false),
            ("sip:a@b:", false),
            ("sip:a@b:5060x", false),
            ("sip:a@b c", false),
            ("sip:@b", false),
            ("sip:a@", false),
            ("sip:a@b@c", false),
        ] {
            assert!(!plain_sip_uri(u.as_bytes()), "{u}");
            assert_eq!(
                check_request_uri(u.as_bytes(), DEFAULT_MAX_PARAMS).is_ok(),
                ok,
                "{u}"
            );
            assert_eq!(
                check_request_uri(u.as_bytes(), DEFAULT_MAX_PARAMS),
                scan(u.as_bytes()),
                "{u}"
            );
        }
    }
}
