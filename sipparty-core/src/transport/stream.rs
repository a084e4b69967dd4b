//! Framing SIP messages on a byte stream (TCP, TLS), and the keep-alive of
//! RFC 5626 section 4.4.1, without sockets.
//!
//! A driver keeps one [`StreamFramer`] per connection, pushes the bytes it
//! reads, and takes [`Frame`]s out: whole messages (framed by
//! Content-Length, RFC 3261 section 18.3), keep-alive pings (a double
//! CRLF, which the receiver answers with a single CRLF pong) and pongs.
//!
//! Framing does not parse. It finds the empty line that ends the header
//! section and the Content-Length among the header lines, and nothing
//! else: the message is parsed once, by whoever takes it (the Party, fed
//! the framed bytes as an [`Input::Datagram`](crate::party::Input)). A
//! message whose start line or headers are malformed but whose end can be
//! found is therefore delivered, and answered 400 by the Party like a bad
//! datagram, while the connection carries on; only a stream whose next
//! message cannot be delimited (no Content-Length, an unreadable one, or a
//! message over [`Limits::max_message`]) is a [`FramingError`], after which
//! the connection must be closed.
//!
//! ```
//! use sipparty_core::transport::stream::{Frame, StreamFramer};
//!
//! let mut framer = StreamFramer::new();
//! framer.push(b"\r\n\r\nOPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n");
//! assert_eq!(framer.next_frame().unwrap(), Some(Frame::Ping));
//! assert_eq!(framer.next_frame().unwrap(), None, "the blank line is still missing");
//! framer.push(b"\r\n");
//! match framer.next_frame().unwrap() {
//!     Some(Frame::Message(m)) => assert!(m.starts_with(b"OPTIONS")),
//!     other => panic!("expected a message, got {other:?}"),
//! }
//! ```

use std::fmt;
use std::ops::Range;

use crate::message::{self, Limits, Message, ParseError, ParseErrorKind, LWS, TOKEN};

/// The keep-alive ping a client sends on an idle connection (RFC 5626
/// section 4.4.1: a double CRLF).
pub const PING: &[u8] = b"\r\n\r\n";
/// The answer to a [`PING`] (a single CRLF).
pub const PONG: &[u8] = b"\r\n";

/// One thing found on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A whole SIP message, start line to the end of its body.
    Message(Vec<u8>),
    /// A keep-alive ping: answer with [`PONG`].
    Ping,
    /// A keep-alive pong: the peer is alive.
    Pong,
}

/// [`Frame`] with the message borrowed from the framer's buffer
/// ([`StreamFramer::next_frame_ref`]): no copy before the one parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameRef<'a> {
    /// A whole SIP message, start line to the end of its body, not parsed.
    Message(&'a [u8]),
    /// A keep-alive ping: answer with [`PONG`].
    Ping,
    /// A keep-alive pong: the peer is alive.
    Pong,
}

/// [`Frame`] with the message already parsed
/// ([`StreamFramer::next_parsed`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ParsedFrame {
    /// A whole SIP message.
    Message(Message),
    /// A message that was delimited but does not parse: answer it as a bad
    /// datagram (400 where the start line allows, RFC 3261 section 21.4.1);
    /// the stream goes on with the next message.
    Malformed {
        /// The message's bytes, start line to the end of its body.
        bytes: Vec<u8>,
        /// Why it does not parse.
        error: ParseError,
    },
    /// A keep-alive ping: answer with [`PONG`].
    Ping,
    /// A keep-alive pong: the peer is alive.
    Pong,
}

/// The stream cannot be framed any more: the connection should be closed
/// (RFC 3261 section 18.3: without a Content-Length, or with one that
/// cannot be read, the next message cannot be found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingError {
    /// Why framing gave up; [`ParseError::status`] is what a server would
    /// answer (413 for a message over the size limit, else 400).
    pub parse: ParseError,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream framing lost: {}", self.parse)
    }
}

impl std::error::Error for FramingError {}

/// Reassembles messages from the bytes of one connection.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Bytes before this offset are consumed (compacted lazily, so taking
    /// many small messages out of one read is not quadratic).
    start: usize,
    limits: Limits,
    awaiting_pong: bool,
    /// How far the message at `start` has been scanned, so bytes that
    /// arrive a few at a time are looked at once each, not once per read.
    scan: Scan,
    /// The framing error, once there was one: the scan stopped in the
    /// middle of the message, so nothing after it can be framed.
    failed: Option<ParseError>,
}

impl StreamFramer {
    /// A framer with the default message limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A framer with these limits (a message larger than
    /// `limits.max_message` is a framing error, not a reason to buffer
    /// without end; [`StreamFramer::next_parsed`] parses with them too).
    pub fn with_limits(limits: Limits) -> Self {
        StreamFramer {
            limits,
            ..Self::default()
        }
    }

    /// Note that we sent a ping: a lone CRLF is then read as its pong
    /// rather than as the first half of a ping split across reads.
    pub fn ping_sent(&mut self) {
        self.awaiting_pong = true;
    }

    /// Bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held for a message not yet complete.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The bytes held and not framed: after a [`FramingError`], the message
    /// that could not be delimited (and whatever followed it), from which
    /// the core may still answer the request (400 or 413, fed as
    /// [`Input::StreamData`](crate::party::Input) before the connection is
    /// closed).
    pub fn unframed(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The next frame, `None` until more bytes arrive. The message is
    /// copied out of the buffer; [`StreamFramer::next_frame_ref`] lends it.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        Ok(self.next_frame_ref()?.map(|f| match f {
            FrameRef::Message(m) => Frame::Message(m.to_vec()),
            FrameRef::Ping => Frame::Ping,
            FrameRef::Pong => Frame::Pong,
        }))
    }

    /// The next frame with the message borrowed from the buffer (valid
    /// until the next call), `None` until more bytes arrive.
    pub fn next_frame_ref(&mut self) -> Result<Option<FrameRef<'_>>, FramingError> {
        Ok(self.next_found()?.map(|found| match found {
            Found::Message(range) => FrameRef::Message(&self.buf[range]),
            Found::Ping => FrameRef::Ping,
            Found::Pong => FrameRef::Pong,
        }))
    }

    /// [`StreamFramer::next_frame`] with the message parsed straight out of
    /// the buffer (with the framer's limits): one copy, into the
    /// [`Message`], and one parse.
    pub fn next_parsed(&mut self) -> Result<Option<ParsedFrame>, FramingError> {
        let limits = self.limits;
        Ok(self.next_frame_ref()?.map(|f| match f {
            FrameRef::Message(bytes) => match Message::parse_with(bytes, &limits) {
                Ok(msg) => ParsedFrame::Message(msg),
                Err(error) => ParsedFrame::Malformed {
                    bytes: bytes.to_vec(),
                    error,
                },
            },
            FrameRef::Ping => ParsedFrame::Ping,
            FrameRef::Pong => ParsedFrame::Pong,
        }))
    }

    /// The next frame, a message as its range in `buf`.
    fn next_found(&mut self) -> Result<Option<Found>, FramingError> {
        if let Some(parse) = self.failed {
            return Err(FramingError { parse });
        }
        loop {
            let rest = &self.buf[self.start..];
            if rest.is_empty() {
                return Ok(None);
            }
            if rest.starts_with(PING) {
                self.start += PING.len();
                return Ok(Some(Found::Ping));
            }
            if rest.starts_with(PONG) {
                // "\r\n" then anything but a second "\r\n" is a pong; a
                // lone "\r\n" is one only if we asked for it (else wait: it
                // may be half of a ping).
                let ping_coming = rest.len() < PING.len() && PING.starts_with(rest);
                if !ping_coming || self.awaiting_pong {
                    self.awaiting_pong = false;
                    self.start += PONG.len();
                    return Ok(Some(Found::Pong));
                }
                return Ok(None);
            }
            // RFC 3261 section 7.5: stray CRLFs before a start line are
            // ignored (a lone LF from a sloppy peer too).
            let skip = rest
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            if skip == rest.len() {
                // Only line ends so far: drop them but for what may be the
                // start of a ping split across reads, so a peer sending
                // nothing else cannot make the buffer grow.
                let keep = [&PING[..3], &PING[..2], &PING[..1]]
                    .iter()
                    .find(|p| rest.ends_with(p))
                    .map_or(0, |p| p.len());
                self.start += skip - keep;
                return Ok(None);
            }
            if skip > 0 {
                self.start += skip;
                continue;
            }
            return match message_len(rest, &self.limits, &mut self.scan) {
                Ok(Some(len)) => {
                    let range = self.start..self.start + len;
                    self.start += len;
                    self.scan = Scan::default();
                    Ok(Some(Found::Message(range)))
                }
                Ok(None) => Ok(None),
                Err(parse) => {
                    self.failed = Some(parse);
                    Err(FramingError { parse })
                }
            };
        }
    }
}

/// What [`StreamFramer::next_found`] found.
enum Found {
    Message(Range<usize>),
    Ping,
    Pong,
}

/// Whether `b` may start a start line: a method is a token (RFC 3261
/// section 25.1: alphanumerics and `-.!%*_+`'~`), a status line starts
/// with "SIP/". Anything else (a NUL, a TLS record on a TCP port, a UTF-8
/// lead byte) cannot be SIP, and is refused before any of it is buffered.
fn starts_start_line(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// How far [`message_len`] got through a message, kept between reads.
/// Offsets are from the message's first byte.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scan {
    /// The next line to look at; 0 while the start line is not complete.
    line_start: usize,
    /// The Content-Length read so far.
    content_length: Option<usize>,
    /// The value of a Content-Length header not yet closed (a folded line
    /// may continue it).
    open: Option<Range<usize>>,
    /// The message's length, once the header section is complete.
    end: Option<usize>,
}

/// The length of the message at the start of `buf` (which does not start
/// with CR or LF), found without parsing it: the header section ends at the
/// first empty line, and the body is Content-Length bytes long (RFC 3261
/// section 18.3: it MUST be present on a stream; section 7.3.3: `l` is its
/// compact form; section 7.3.1: a header may be folded onto lines starting
/// with white space). `Ok(None)`: not all of it is there yet; `scan` keeps
/// how far it got, so the next call (with more bytes after the same ones)
/// goes on from there.
///
/// Only what framing needs is looked at; everything else (the start line,
/// the other headers) is checked by the one parse after framing.
pub(crate) fn message_len(
    buf: &[u8],
    limits: &Limits,
    scan: &mut Scan,
) -> Result<Option<usize>, ParseError> {
    if let Some(end) = scan.end {
        return Ok((end <= buf.len()).then_some(end));
    }
    let max = limits.max_message;
    let need_more = || {
        if buf.len() >= max {
            // The header section does not end within the limit.
            Err(ParseError::new(max, ParseErrorKind::MessageTooLarge))
        } else {
            Ok(None)
        }
    };
    let window = &buf[..buf.len().min(max)];
    if scan.line_start == 0 {
        if !buf.first().is_some_and(|b| starts_start_line(*b)) {
            return Err(ParseError::expected(0, "start line"));
        }
        // The start line is skipped: its first byte was checked above.
        let Some(nl) = memchr::memchr(b'\n', window) else {
            return need_more();
        };
        scan.line_start = nl + 1;
    }
    let head_end = loop {
        let line_start = scan.line_start;
        let Some(nl) = memchr::memchr(b'\n', &window[line_start..]) else {
            return need_more();
        };
        let lf = line_start + nl;
        scan.line_start = lf + 1;
        let line = &buf[line_start..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(value) = &mut scan.open {
                value.end = lf;
            }
            continue;
        }
        if let Some(value) = scan.open.take() {
            let n = content_length_value(&buf[value.clone()], value.start)?;
            if scan.content_length.is_some_and(|prev| prev != n) {
                return Err(ParseError::new(
                    value.start,
                    ParseErrorKind::ConflictingContentLength,
                ));
            }
            scan.content_length = Some(n);
        }
        if line.is_empty() {
            break lf + 1;
        }
        if let Some(at) = content_length_header(line) {
            scan.open = Some(line_start + at..lf);
        }
    };
    let Some(body) = scan.content_length else {
        return Err(ParseError::new(0, ParseErrorKind::MissingContentLength));
    };
    // Refused on the announcement, before the body is buffered.
    let end = head_end.saturating_add(body);
    if end > max {
        return Err(ParseError::new(head_end, ParseErrorKind::MessageTooLarge));
    }
    scan.end = Some(end);
    Ok((end <= buf.len()).then_some(end))
}

/// If `line` is a Content-Length header, where its value starts.
#[inline]
fn content_length_header(line: &[u8]) -> Option<usize> {
    const FULL: &[u8] = b"content-length";
    let name_len = match line.first()? | 0x20 {
        b'c' if is_content_length(line) => FULL.len(),
        b'l' => 1,
        _ => return None,
    };
    // HCOLON = *( SP / HTAB ) ":" SWS
    let colon = name_len
        + line[name_len..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
    (line.get(colon) == Some(&b':')).then_some(colon + 1)
}

/// Whether `line` starts with "Content-Length" in any case. Most lines
/// starting with `c` (Call-ID, CSeq, Contact, Content-Type) are turned
/// away by two 8-byte compares: setting bit 0x20 lowercases letters and
/// leaves `-` alone; a non-letter it would turn into a match is caught by
/// the exact compare after.
#[inline]
fn is_content_length(line: &[u8]) -> bool {
    const FULL: &[u8] = b"content-length";
    const LOWER: u64 = 0x2020_2020_2020_2020;
    let Some(name) = line.get(..FULL.len()) else {
        return false;
    };
    let word = |at: usize| u64::from_le_bytes(name[at..at + 8].try_into().expect("8 bytes of 14"));
    word(0) | LOWER == u64::from_le_bytes(*b"content-")
        && word(6) | LOWER == u64::from_le_bytes(*b"t-length")
        && name.eq_ignore_ascii_case(FULL)
}

/// The decimal value of a Content-Length (`v` may hold the CRLFs and white
/// space of folding); `at` is its offset, for the error. The digits are
/// read as the parser reads them.
fn content_length_value(v: &[u8], at: usize) -> Result<usize, ParseError> {
    let lead = v.iter().take_while(|b| LWS[usize::from(**b)]).count();
    let trail = v[lead..]
        .iter()
        .rev()
        .take_while(|b| LWS[usize::from(**b)])
        .count();
    message::content_length_value(&v[lead..v.len() - trail], at + lead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{parse_stream, Status};

    const INVITE: &[u8] = b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\n\
From: <sip:alice@127.0.0.1>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\nContent-Length: 4\r\n\r\nv=0\n";

    fn all(f: &mut StreamFramer) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(x) = f.next_frame().unwrap() {
            out.push(x);
        }
        out
    }

    #[test]
    fn rfc3261_18_3_every_split_of_two_messages_frames_the_same() {
        let mut stream = INVITE.to_vec();
        stream.extend_from_slice(INVITE);
        for cut in 0..stream.len() {
            let mut f = StreamFramer::new();
            f.push(&stream[..cut]);
            let mut frames = all(&mut f);
            f.push(&stream[cut..]);
            frames.extend(all(&mut f));
            assert_eq!(
                frames,
                vec![
                    Frame::Message(INVITE.to_vec()),
                    Frame::Message(INVITE.to_vec())
                ],
                "cut at {cut}"
            );
            assert_eq!(f.buffered(), 0);
        }
    }

    /// A peer writing a byte at a time: each message is framed once, when
    /// its last byte arrives (the scan resumes where it stopped, so each
    /// byte is looked at once, not once per read).
    #[test]
    fn rfc3261_18_3_a_byte_at_a_time() {
        let mut stream = INVITE.to_vec();
        stream.extend_from_slice(PING);
        stream.extend_from_slice(INVITE);
        let mut f = StreamFramer::new();
        let mut frames = Vec::new();
        for (i, b) in stream.iter().enumerate() {
            f.push(std::slice::from_ref(b));
            for x in all(&mut f) {
                frames.push((i, x));
            }
        }
        let first = INVITE.len() - 1;
        assert_eq!(
            frames,
            vec![
                (first, Frame::Message(INVITE.to_vec())),
                (first + PING.len(), Frame::Ping),
                (stream.len() - 1, Frame::Message(INVITE.to_vec())),
            ]
        );
    }

    #[test]
    fn rfc5626_4_4_1_ping_and_pong_between_messages() {
        let mut f = StreamFramer::new();
        let mut s = PING.to_vec();
        s.extend_from_slice(INVITE);
        s.extend_from_slice(PING);
        f.push(&s);
        assert_eq!(
            all(&mut f),
            vec![Frame::Ping, Frame::Message(INVITE.to_vec()), Frame::Ping]
        );
        // A lone CRLF waits (half a ping) unless we are expecting a pong.
        f.push(PONG);
        assert_eq!(f.next_frame().unwrap(), None);
        f.ping_sent();
        assert_eq!(f.next_frame().unwrap(), Some(Frame::Pong));
        // A CRLF followed by a message is a pong.
        let mut f = StreamFramer::new();
        let mut s = PONG.to_vec();
        s.extend_from_slice(INVITE);
        f.push(&s);
        assert_eq!(
            all(&mut f),
            vec![Frame::Pong, Frame::Message(INVITE.to_vec())]
        );
    }

    #[test]
    fn garbage_is_a_framing_error_and_oversize_is_bounded() {
        let mut f = StreamFramer::new();
        f.push(b"\x00\x01 not sip at all\r\n\r\n");
        assert!(f.next_frame().is_err());
        let mut f = StreamFramer::with_limits(Limits {
            max_message: 64,
            ..Limits::default()
        });
        f.push(b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nX-Long: ");
        f.push(&[b'a'; 100]);
        let e = f
            .next_frame()
            .expect_err("a message that cannot fit is refused");
        assert_eq!(e.parse.kind, ParseErrorKind::MessageTooLarge);
        assert_eq!(e.parse.status(), 413);
    }

    /// RFC 3261 section 18.3 (Content-Length MUST be used on streams) and
    /// section 21.4.13 (413): a body announced over the limit is refused
    /// at once, not after buffering it.
    #[test]
    fn rfc3261_18_3_a_body_announced_over_the_limit_is_refused_before_it_arrives() {
        let mut f = StreamFramer::new();
        f.push(b"MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: 1000000\r\n\r\nab");
        let e = f.next_frame().unwrap_err();
        assert_eq!(e.parse.kind, ParseErrorKind::MessageTooLarge);
        assert_eq!(e.parse.status(), 413);
        let mut f = StreamFramer::new();
        f.push(b"MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n\r\nhello");
        let e = f.next_frame().unwrap_err();
        assert_eq!(e.parse.kind, ParseErrorKind::MissingContentLength);
        assert_eq!(e.parse.status(), 400);
        assert!(e.to_string().contains("Content-Length missing"), "{e}");
    }

    /// RFC 3261 sections 7.3.1 (folding, white space before the colon) and
    /// 7.3.3 (compact `l`), bare LF line ends, and repeated or unreadable
    /// Content-Lengths.
    #[test]
    fn rfc3261_7_3_content_length_in_every_spelling() {
        let len = |head: &str| {
            let mut m = head.replace('|', "\r\n").into_bytes();
            m.extend_from_slice(b"0123456789");
            message_len(&m, &Limits::default(), &mut Scan::default())
                .map(|n| n.map(|n| n - (m.len() - 10)))
        };
        for (head, body) in [
            ("OPTIONS sip:a SIP/2.0|Content-Length: 3||", 3),
            ("OPTIONS sip:a SIP/2.0|l:5||", 5),
            ("OPTIONS sip:a SIP/2.0|L :  7 ||", 7),
            ("OPTIONS sip:a SIP/2.0|content-LENGTH\t:|  2||", 2),
            ("OPTIONS sip:a SIP/2.0\nContent-Length: 4\n\n", 4),
            (
                "OPTIONS sip:a SIP/2.0|Content-Length: 1|Content-Length: 1||",
                1,
            ),
            ("SIP/2.0 200 OK|Location: x|Content-Lengthy: 9|l: 6||", 6),
        ] {
            assert_eq!(len(head), Ok(Some(body)), "{head}");
        }
        for (head, kind) in [
            (
                "OPTIONS sip:a SIP/2.0|l: 1|l: 2||",
                ParseErrorKind::ConflictingContentLength,
            ),
            (
                "OPTIONS sip:a SIP/2.0|l: -1||",
                ParseErrorKind::Expected("Content-Length digits"),
            ),
            (
                "OPTIONS sip:a SIP/2.0|l: 99999999999||",
                ParseErrorKind::Expected("Content-Length digits"),
            ),
            (
                "OPTIONS sip:a SIP/2.0|l: 4294967296||",
                ParseErrorKind::Expected("Content-Length below 2^32"),
            ),
            (
                "OPTIONS sip:a SIP/2.0|l:||",
                ParseErrorKind::Expected("Content-Length digits"),
            ),
        ] {
            assert_eq!(len(head).map_err(|e| e.kind), Err(kind), "{head}");
        }
    }

    /// Framing reads only the header-section end and Content-Length: a
    /// message the parser refuses is still delimited, and the one parse,
    /// after framing, reports it while the next message goes through.
    #[test]
    fn framing_does_not_parse_a_malformed_message_is_delimited() {
        let bad = b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nthis line has no colon\r\nContent-Length: 2\r\n\r\nhi";
        let mut s = bad.to_vec();
        s.extend_from_slice(INVITE);
        for cut in 0..s.len() {
            let mut f = StreamFramer::new();
            let mut frames = Vec::new();
            for chunk in [&s[..cut], &s[cut..]] {
                f.push(chunk);
                while let Some(x) = f.next_parsed().unwrap() {
                    frames.push(x);
                }
            }
            assert_eq!(frames.len(), 2, "cut at {cut}");
            assert!(
                matches!(&frames[0], ParsedFrame::Malformed { bytes, .. } if bytes == bad),
                "{:?}",
                frames[0]
            );
            assert!(
                matches!(&frames[1], ParsedFrame::Message(m) if m.body() == b"v=0\n"),
                "{:?}",
                frames[1]
            );
        }
    }

    /// The scan agrees with the parser on where messages end, for the
    /// RFC 4475 section 3.1.1.1 style of tortuous header section (folding,
    /// odd case, white space before colons, compact forms).
    #[test]
    fn rfc4475_3_1_1_1_the_scan_ends_messages_where_the_parser_does() {
        let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n";
        let tortuous = format!(
            "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n\
TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n\
from   : \"J R\" <sip:jdrosen@example.com>\r\n  ;\r\n  tag \r\n  = 98asjd8\r\n\
MaX-fOrWaRdS: 0068\r\nCall-ID: wsinv.ndaksdj@127.0.0.1\r\n\
Content-Length   :\r\n   {}\r\ncseq: 0009\r\n  INVITE\r\n\
Via  : SIP  /   2.0\r\n /TCP\r\n    127.0.0.1;branch=390skdjuw\r\n\
s :\r\nContent-Type: application/sdp\r\n\r\n{body}",
            body.len()
        );
        for msg in [tortuous.as_bytes(), INVITE] {
            let mut stream = msg.to_vec();
            stream.extend_from_slice(b"OPTIONS sip:x SIP/2.0\r\n");
            let Ok(Status::Complete((_, parsed))) = parse_stream(&stream, &Limits::default())
            else {
                panic!("the parser takes it");
            };
            let whole = |bytes: &[u8]| message_len(bytes, &Limits::default(), &mut Scan::default());
            assert_eq!(whole(&stream), Ok(Some(parsed)));
            assert_eq!(parsed, msg.len());
            // Short of its last byte, it is not complete.
            assert_eq!(whole(&msg[..msg.len() - 1]), Ok(None));
            // A byte at a time, resuming: complete at the last one, and no
            // sooner.
            let mut scan = Scan::default();
            for n in 1..msg.len() {
                assert_eq!(
                    message_len(&msg[..n], &Limits::default(), &mut scan),
                    Ok(None),
                    "{n} bytes"
                );
            }
            assert_eq!(
                message_len(msg, &Limits::default(), &mut scan),
                Ok(Some(msg.len()))
            );
        }
    }

    #[test]
    fn stray_line_ends_are_not_buffered_without_end() {
        // RFC 3261 section 7.5 lets a receiver skip CRLFs before a start
        // line; a peer sending nothing else must not grow the buffer.
        let mut f = StreamFramer::new();
        for _ in 0..100_000 {
            f.push(b"\n");
            assert_eq!(f.next_frame(), Ok(None));
        }
        assert_eq!(f.buffered(), 0);
        // What may be the start of a split ping is kept, and completes.
        f.push(b"\n\r\n\r");
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered(), 3);
        f.push(b"\n");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
        f.push(INVITE);
        assert_eq!(f.next_frame(), Ok(Some(Frame::Message(INVITE.to_vec()))));
    }

    #[test]
    fn a_framing_error_stays() {
        // After two Content-Lengths that disagree the scan stopped inside
        // the message: asking again must not frame the body's lines.
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:x SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab");
        f.push(INVITE);
        let first = f.next_frame().unwrap_err();
        assert_eq!(first.parse.kind, ParseErrorKind::ConflictingContentLength);
        assert_eq!(f.next_frame(), Err(first));
        assert_eq!(f.next_frame(), Err(first));
    }
}
