//! Multipart bodies (RFC 2046 section 5.1), split into parts without
//! copying. SIP carries them for SDP plus ISUP, location objects (RFC 6442)
//! or resource lists (RFC 5366).
//!
//! ```text
//! multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF
//!                   body-part *encapsulation
//!                   close-delimiter transport-padding [CRLF epilogue]
//! encapsulation  := delimiter transport-padding CRLF body-part
//! delimiter      := CRLF dash-boundary
//! ```

use memchr::memmem;

use super::error::ParseError;
use super::headers::MediaType;
use super::lex::trim;
use super::name::HeaderName;

/// One body part: its header block and its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's header lines as written (may be empty).
    pub header_block: &'a str,
    /// The part's content.
    pub body: &'a [u8],
}

impl<'a> Part<'a> {
    /// The part's header lines as `(name, value)`, folded lines joined.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let block = self.header_block;
        let mut rest = block;
        std::iter::from_fn(move || loop {
            if rest.is_empty() {
                return None;
            }
            // A header line ends at a line end not followed by SP/HTAB.
            let b = rest.as_bytes();
            let mut end = b.len();
            let mut i = 0;
            while let Some(nl) = memchr::memchr(b'\n', &b[i..]) {
                let next = i + nl + 1;
                if next < b.len() && (b[next] == b' ' || b[next] == b'\t') {
                    i = next;
                    continue;
                }
                end = next;
                break;
            }
            let line = &rest[..end];
            rest = &rest[end..];
            if let Some(colon) = line.find(':') {
                return Some((trim(&line[..colon]), trim(&line[colon + 1..])));
            }
        })
    }

    /// The first value of header `name` (case-insensitive, compact forms
    /// folded).
    pub fn header(&self, name: &HeaderName) -> Option<&'a str> {
        self.headers()
            .find(|(n, _)| name.matches(n))
            .map(|(_, v)| v)
    }

    /// The part's Content-Type (RFC 2046: `text/plain` when absent).
    pub fn content_type(&self) -> Option<Result<MediaType<'a>, ParseError>> {
        self.header(&HeaderName::ContentType).map(MediaType::parse)
    }
}

/// Iterator over the parts of a multipart body.
#[derive(Clone, Debug)]
pub struct Multipart<'a> {
    body: &'a [u8],
    boundary: &'a [u8],
    /// Start of the next part's content, or `None` when done.
    pos: Option<usize>,
}

/// Position of the next delimiter line (`--boundary` at the start of a
/// line) at or after `from`: returns (line start, end of `--boundary`).
fn find_delimiter(body: &[u8], boundary: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(p) = memmem::find(&body[at..], boundary) {
        let p = at + p;
        let dashes = p >= 2 && &body[p - 2..p] == b"--";
        let line_start = dashes && (p - 2 == 0 || body[p - 3] == b'\n');
        if line_start {
            return Some((p - 2, p + boundary.len()));
        }
        at = p + 1;
    }
    None
}

/// After `--boundary`: skip transport padding and the line end. Returns
/// (is close delimiter, position after the line).
fn after_delimiter(body: &[u8], mut i: usize) -> (bool, usize) {
    let close = body.get(i..i + 2) == Some(b"--");
    if close {
        i += 2;
    }
    while i < body.len() && (body[i] == b' ' || body[i] == b'\t') {
        i += 1;
    }
    if body.get(i) == Some(&b'\r') {
        i += 1;
    }
    if body.get(i) == Some(&b'\n') {
        i += 1;
    }
    (close, i)
}

impl<'a> Multipart<'a> {
    /// Split `body` with the `boundary` parameter of its Content-Type.
    /// Fails if the body has no opening delimiter.
    pub fn new(body: &'a [u8], boundary: &'a str) -> Result<Multipart<'a>, ParseError> {
        let boundary = boundary.as_bytes();
        if boundary.is_empty() || boundary.len() > 70 {
            return Err(ParseError::expected(0, "boundary of 1 to 70 characters"));
        }
        let (_, end) = find_delimiter(body, boundary, 0)
            .ok_or(ParseError::expected(0, "multipart dash-boundary"))?;
        let (close, next) = after_delimiter(body, end);
        Ok(Multipart {
            body,
            boundary,
            pos: (!close).then_some(next),
        })
    }

    /// Split a body whose Content-Type is `content_type` (must be
    /// `multipart/*` with a `boundary`).
    pub fn from_content_type(
        content_type: &MediaType<'a>,
        body: &'a [u8],
    ) -> Result<Multipart<'a>, ParseError> {
        if !content_type.is_multipart() {
            return Err(ParseError::expected(0, "multipart media type"));
        }
        let boundary = content_type
            .param("boundary")
            .ok_or(ParseError::expected(0, "boundary parameter"))?;
        Multipart::new(body, boundary)
    }
}

impl<'a> Iterator for Multipart<'a> {
    type Item = Result<Part<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos.take()?;
        let Some((line, end)) = find_delimiter(self.body, self.boundary, start) else {
            return Some(Err(ParseError::expected(
                self.body.len(),
                "multipart close-delimiter",
            )));
        };
        // The CRLF before the delimiter belongs to the delimiter.
        let mut content_end = line;
        if content_end > start && self.body[content_end - 1] == b'\n' {
            content_end -= 1;
            if content_end > start && self.body[content_end - 1] == b'\r' {
                content_end -= 1;
            }
        }
        let (close, next) = after_delimiter(self.body, end);
        if !close {
            self.pos = Some(next);
        }
        let content = &self.body[start..content_end.max(start)];
        // Header block: up to the first empty line; none if the part starts
        // with one.
        let (head, body) = if content.starts_with(b"\r\n") {
            (&content[..0], &content[2..])
        } else if content.starts_with(b"\n") {
            (&content[..0], &content[1..])
        } else if let Some(p) = memmem::find(content, b"\r\n\r\n") {
            (&content[..p + 2], &content[p + 4..])
        } else if let Some(p) = memmem::find(content, b"\n\n") {
            (&content[..p + 1], &content[p + 2..])
        } else {
            (content, &content[content.len()..])
        };
        Some(match std::str::from_utf8(head) {
            Ok(header_block) => Ok(Part { header_block, body }),
            Err(e) => Err(ParseError::new(
                start + e.valid_up_to(),
                super::ParseErrorKind::InvalidUtf8,
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5621 section 3.1 style: SDP plus a resource list.
    #[test]
    fn rfc2046_5_1_1_parts_with_preamble_and_epilogue() {
        let body = b"preamble\r\n--boundary1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--boundary1 \r\nContent-Type: application/resource-lists+xml\r\nContent-Disposition: recipient-list\r\n\r\n<list/>\r\n--boundary1--\r\nepilogue";
        let ct = MediaType::parse("multipart/mixed;boundary=boundary1").unwrap();
        let parts: Vec<_> = Multipart::from_content_type(&ct, body)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].content_type().unwrap().unwrap().is_sdp());
        assert_eq!(parts[0].body, b"v=0\r\n");
        assert_eq!(parts[1].body, b"<list/>");
        assert_eq!(
            parts[1].header(&HeaderName::ContentDisposition),
            Some("recipient-list")
        );
    }

    #[test]
    fn parts_without_headers_binary_and_errors() {
        let body = b"--b\r\n\r\n\x00\xff\r\n--b--";
        let parts: Vec<_> = Multipart::new(body, "b")
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].header_block, "");
        assert_eq!(parts[0].body, b"\x00\xff");
        // The boundary string inside content that is not at a line start
        // does not split.
        let body = b"--b\r\n\r\nx--b y\r\n--b--\r\n";
        let parts: Vec<_> = Multipart::new(body, "b")
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parts[0].body, b"x--b y");
        assert!(Multipart::new(b"no delimiter", "b").is_err());
        let unterminated: Vec<_> = Multipart::new(b"--b\r\n\r\nx", "b").unwrap().collect();
        assert!(unterminated[0].is_err());
        let ct = MediaType::parse("application/sdp").unwrap();
        assert!(Multipart::from_content_type(&ct, b"").is_err());
    }
}
