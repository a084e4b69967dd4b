//! Framing SIP messages on a byte stream (TCP, TLS), and the keep-alive of
//! RFC 5626 section 4.4.1, without sockets.
//!
//! A driver keeps one [`StreamFramer`] per connection, pushes the bytes it
//! reads, and takes [`Frame`]s out: whole messages (framed by
//! Content-Length, RFC 3261 section 18.3), keep-alive pings (a double
//! CRLF, which the receiver answers with a single CRLF pong) and pongs.
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

use crate::message::{self, Limits, Message, MessageView, ParseError};

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

/// [`Frame`] with the message already parsed
/// ([`StreamFramer::next_parsed`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ParsedFrame {
    /// A whole SIP message.
    Message(Message),
    /// A keep-alive ping: answer with [`PONG`].
    Ping,
    /// A keep-alive pong: the peer is alive.
    Pong,
}

/// The stream cannot be framed any more: the connection should be closed
/// (after answering 400 where the start line allows, RFC 3261 section
/// 18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingError {
    /// Why the parser gave up.
    pub parse: ParseError,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream framing lost: {:?}", self.parse)
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
}

impl StreamFramer {
    /// A framer with the default message limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A framer with these limits (a message larger than
    /// `limits.max_message` is a framing error, not a reason to buffer
    /// without end).
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

    /// The next frame, `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        Ok(self
            .next_with(|_, bytes| bytes.to_vec())?
            .map(|found| match found {
                Found::Message(m) => Frame::Message(m),
                Found::Ping => Frame::Ping,
                Found::Pong => Frame::Pong,
            }))
    }

    /// [`StreamFramer::next_frame`] with a message parsed straight out of
    /// the buffer: one copy (into the [`Message`]) instead of copying its
    /// bytes out to parse them again.
    pub fn next_parsed(&mut self) -> Result<Option<ParsedFrame>, FramingError> {
        Ok(self
            .next_with(|view, _| Message::from_view(view))?
            .map(|found| match found {
                Found::Message(m) => ParsedFrame::Message(m),
                Found::Ping => ParsedFrame::Ping,
                Found::Pong => ParsedFrame::Pong,
            }))
    }

    /// The next frame, a message handed to `take` as parsed and as bytes.
    fn next_with<T>(
        &mut self,
        take: impl FnOnce(&MessageView<'_>, &[u8]) -> T,
    ) -> Result<Option<Found<T>>, FramingError> {
        let rest = &self.buf[self.start..];
        if rest.is_empty() {
            return Ok(None);
        }
        if rest.starts_with(PING) {
            self.start += PING.len();
            return Ok(Some(Found::Ping));
        }
        if rest.starts_with(PONG) {
            // "\r\n" then anything but a second "\r\n" is a pong; a lone
            // "\r\n" is one only if we asked for it (else wait: it may be
            // half of a ping).
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
        if skip > 0 && skip < rest.len() && !rest.starts_with(b"\r\n") {
            self.start += skip;
            return self.next_with(take);
        }
        match message::parse_stream(rest, &self.limits) {
            Ok(message::Status::Complete((view, used))) => {
                let msg = take(&view, &rest[..used]);
                self.start += used;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                Ok(Some(Found::Message(msg)))
            }
            Ok(message::Status::Partial) => {
                if rest.len() > self.limits.max_message {
                    return Err(FramingError {
                        parse: ParseError::new(
                            self.limits.max_message,
                            message::ParseErrorKind::MessageTooLarge,
                        ),
                    });
                }
                Ok(None)
            }
            Err(parse) => Err(FramingError { parse }),
        }
    }
}

/// What [`StreamFramer::next_with`] found.
enum Found<T> {
    Message(T),
    Ping,
    Pong,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            f.next_frame().is_err(),
            "a message that cannot fit is refused"
        );
    }
}
