//! The borrowed, zero-copy view of a session description (httparse's way).
//!
//! [`parse`] checks the RFC 8866 s.9 grammar in one pass over the bytes and
//! records where each line and each media section is. Structural lines
//! (o=, c=, m=, b=, t=, r=, z=) are validated on the way, so errors carry
//! their line number; attributes are only decoded when asked for. For a
//! description of up to 32 lines and 4 media sections nothing is allocated.

use super::attributes::{Attribute, Direction, Fmtp, Rtcp, RtpMap, TypedAttribute};
use super::error::{SdpError, SdpErrorKind, SdpLimits};
use super::fields::{
    check_repeat_or_zone, swar, Bandwidth, Connection, ConnectionAt, MediaLine, MediaLineAt,
    Origin, OriginAt, Timing,
};

/// How a line ended in the input, kept so an unmodified description is
/// written back byte for byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\r\n`, as RFC 8866 requires.
    #[default]
    CrLf,
    /// A bare `\n` (lenient mode).
    Lf,
    /// Nothing: the last line of an input without a final line end (lenient mode).
    None,
}

impl LineEnding {
    /// The bytes of the line ending.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CrLf => "\r\n",
            Self::Lf => "\n",
            Self::None => "",
        }
    }
}

/// One line: its type letter, the raw value after `=`, and how it ended.
/// Blank lines (lenient mode only) have type `0` and an empty value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The type letter (`b'v'`, `b'o'`, ... `b'a'`), or 0 for a blank line.
    pub kind: u8,
    /// The value after `=`, exactly as written (trailing blanks included).
    pub value: &'a str,
    /// The line ending.
    pub ending: LineEnding,
}

/// Where one line sits in the input: `start` is its type letter (or, for
/// a blank line, where it starts), `end` is where its value ends (the line
/// ending follows). Eight bytes instead of a 24-byte [`Line`]: the type
/// letter and the ending are read back from the input, which keeps the
/// inline table (and every move of the parsed description) small.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The value, if the line is of type `kind` (not 0).
    #[inline]
    fn value_of(self, raw: &str, kind: u8) -> Option<&str> {
        let (start, end) = (self.start as usize, self.end as usize);
        if end > start && raw.as_bytes().get(start) == Some(&kind) {
            // As in `line`: both ends are char boundaries.
            raw.get(start + 2..end)
        } else {
            None
        }
    }

    /// The line as the public API shows it.
    #[inline]
    fn line<'a>(self, raw: &'a str) -> Line<'a> {
        let (start, end) = (self.start as usize, self.end as usize);
        let b = raw.as_bytes();
        let ending = match b.get(end) {
            Some(b'\r') => LineEnding::CrLf,
            Some(_) => LineEnding::Lf,
            None => LineEnding::None,
        };
        if end == start {
            return Line {
                kind: 0,
                value: "",
                ending,
            };
        }
        Line {
            kind: b.get(start).copied().unwrap_or_default(),
            // The type letter and '=' are ASCII and a line ending or the
            // end of the input follows the value: char boundaries.
            value: raw.get(start + 2..end).unwrap_or_default(),
            ending,
        }
    }
}

/// The lines of a [`SessionDescription`] or of one of its sections, in
/// order (see [`SessionDescription::lines`]).
#[derive(Clone, Debug)]
pub struct Lines<'s, 'a> {
    raw: &'a str,
    spans: std::slice::Iter<'s, Span>,
}

impl<'a> Iterator for Lines<'_, 'a> {
    type Item = Line<'a>;

    #[inline]
    fn next(&mut self) -> Option<Line<'a>> {
        self.spans.next().map(|s| s.line(self.raw))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<Line<'a>> {
        self.spans.nth(n).map(|s| s.line(self.raw))
    }

    #[inline]
    fn last(mut self) -> Option<Line<'a>> {
        self.next_back()
    }
}

impl DoubleEndedIterator for Lines<'_, '_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.spans.next_back().map(|s| s.line(self.raw))
    }
}

impl ExactSizeIterator for Lines<'_, '_> {}

impl std::iter::FusedIterator for Lines<'_, '_> {}

/// How many lines a [`SessionDescription`] holds without allocating.
const INLINE_LINES: usize = 32;
/// How many media sections it holds without allocating.
const INLINE_MEDIA: usize = 4;

/// A table kept inline up to `N` entries, then all on the heap (the line
/// and media tables). A push is a bounds check and a store (a `SmallVec`
/// also asks whether it has spilled, on each of the ~16 pushes of a parse).
#[derive(Clone, Debug)]
struct Table<T, const N: usize> {
    len: usize,
    inline: [T; N],
    /// Every entry once there are more than `N`.
    heap: Vec<T>,
}

impl<T: Copy, const N: usize> Table<T, N> {
    /// An empty table; `fill` only occupies the unused inline slots.
    fn new(fill: T) -> Self {
        Table {
            len: 0,
            inline: [fill; N],
            heap: Vec::new(),
        }
    }

    #[inline(always)]
    fn push(&mut self, value: T) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = value,
            None => self.spill(value),
        }
        self.len += 1;
    }

    #[cold]
    fn spill(&mut self, value: T) {
        if self.heap.is_empty() {
            self.heap.reserve(2 * N);
            self.heap.extend_from_slice(&self.inline);
        }
        self.heap.push(value);
    }

    /// Up to `max` free inline slots (none once the table has spilled),
    /// to be filled in order and taken with [`Table::grow`].
    #[inline(always)]
    fn free_inline(&mut self, max: usize) -> &mut [T] {
        let end = self.len.saturating_add(max).min(N);
        self.inline.get_mut(self.len..end).unwrap_or_default()
    }

    /// Takes the first `k` slots of [`Table::free_inline`].
    #[inline(always)]
    fn grow(&mut self, k: usize) {
        debug_assert!(
            k == 0 || (self.heap.is_empty() && self.len + k <= N),
            "Table::grow: more than free_inline gave"
        );
        self.len += k;
    }

    #[inline]
    fn last_mut(&mut self) -> Option<&mut T> {
        let len = self.len;
        match self.inline.get_mut(..len) {
            Some(s) => s.last_mut(),
            None => self.heap.last_mut(),
        }
    }
}

impl<T, const N: usize> std::ops::Deref for Table<T, N> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self.inline.get(..self.len) {
            Some(s) => s,
            None => &self.heap,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct MediaSlot {
    /// Index of the m= line in `lines`.
    start: u32,
    /// Index in `lines` of the section's first c= line, 0 if it has none
    /// (line 0 is always v=).
    connection_line: u32,
    line: MediaLineAt,
}

/// A parsed session description borrowing the input.
#[derive(Clone, Debug)]
pub struct SessionDescription<'a> {
    raw: &'a str,
    lines: Table<Span, INLINE_LINES>,
    media: Table<MediaSlot, INLINE_MEDIA>,
    origin: OriginAt,
    /// The first session-level c= and t= lines, decoded while parsing
    /// (every c= and t= line of a parsed description is well formed).
    connection: Option<ConnectionAt>,
    timing: Option<Timing>,
}

/// Parses a session description with the given limits (strict by default;
/// see [`SdpLimits::lenient`]).
///
/// ```
/// use sipparty_core::sdp::{parse, SdpLimits, Direction};
/// let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
///             m=audio 49170 RTP/AVP 0\r\na=sendonly\r\n";
/// let sdp = parse(text.as_bytes(), &SdpLimits::default()).unwrap();
/// let audio = sdp.media().next().unwrap();
/// assert_eq!(audio.port(), 49170);
/// assert_eq!(audio.direction(), Some(Direction::SendOnly));
/// assert_eq!(sdp.as_str(), text); // nothing was copied
/// ```
///
/// Inputs over 4 GiB are refused as [`SdpErrorKind::TooLarge`] whatever
/// the limits say (line positions are kept as `u32`).
pub fn parse<'a>(input: &'a [u8], limits: &SdpLimits) -> Result<SessionDescription<'a>, SdpError> {
    if input.len() > limits.max_size || u32::try_from(input.len()).is_err() {
        return Err(SdpError::new(0, SdpErrorKind::TooLarge));
    }
    if input.is_empty() {
        return Err(SdpError::new(0, SdpErrorKind::Empty));
    }
    let raw = match std::str::from_utf8(input) {
        Ok(s) => s,
        Err(e) => {
            let line = input[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(SdpError::new(line as u32, SdpErrorKind::InvalidUtf8));
        }
    };
    let mut d = SessionDescription {
        raw,
        lines: Table::new(Span { start: 0, end: 0 }),
        media: Table::new(MediaSlot {
            start: 0,
            connection_line: 0,
            line: MediaLineAt::default(),
        }),
        origin: OriginAt::default(),
        connection: None,
        timing: None,
    };
    Parser::new(limits).run(&mut d)?;
    Ok(d)
}

/// Where in the grammar the parser is (RFC 8866 s.9), for ordering checks.
fn session_rank(kind: u8) -> Option<(u8, bool)> {
    // (rank, may repeat)
    Some(match kind {
        b'v' => (0, false),
        b'o' => (1, false),
        b's' => (2, false),
        b'i' => (3, false),
        b'u' => (4, false),
        b'e' => (5, true),
        b'p' => (6, true),
        b'c' => (7, false),
        b'b' => (8, true),
        b't' | b'r' => (9, true),
        b'z' => (10, false),
        b'k' => (11, false),
        b'a' => (SESSION_A_RANK, true),
        _ => return None,
    })
}

/// a= is last in both sections and may repeat, so an a= line never breaks
/// the order; it only moves the rank to the end.
const SESSION_A_RANK: u8 = 12;
const MEDIA_A_RANK: u8 = 5;

fn media_rank(kind: u8) -> Option<(u8, bool)> {
    Some(match kind {
        b'm' => (0, false),
        b'i' => (1, false),
        // Several c= lines are allowed in a media section (multicast layers).
        b'c' => (2, true),
        b'b' => (3, true),
        b'k' => (4, false),
        b'a' => (MEDIA_A_RANK, true),
        _ => return None,
    })
}

/// Structural lines are space-separated fields: strict mode wants exactly one
/// SP between fields and none at either end.
fn strict_fields_ok(value: &str) -> bool {
    let b = value.as_bytes();
    let mut prev_space = true; // no leading space
    for &c in b {
        if c == b'\t' || (c == b' ' && prev_space) {
            return false;
        }
        prev_space = c == b' ';
    }
    !prev_space
}

/// The first NUL, LF or CR among the bytes of `c` marked in `m` (high
/// bits, as [`swar::below`] gives them: none missing, some false).
#[inline(always)]
fn line_end_in(c: &[u8; 8], mut m: u64) -> Option<usize> {
    while m != 0 {
        let k = (m.trailing_zeros() / 8) as usize;
        if matches!(c[k], 0 | b'\n' | b'\r') {
            return Some(k);
        }
        m &= m - 1;
    }
    None
}

/// The index of the first NUL, LF or CR at or after `i`, or the length:
/// one word-at-a-time scan finds both the line end and any NUL or stray CR.
#[inline(always)]
fn line_end(b: &[u8], mut i: usize) -> usize {
    // Two words a step while there are sixteen bytes left (structural
    // lines are 20 to 60 bytes long): half the loop overhead.
    while let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<16>()) {
        let (lo, hi) = c.split_at(8);
        let (Ok(lo), Ok(hi)) = (<&[u8; 8]>::try_from(lo), <&[u8; 8]>::try_from(hi)) else {
            break;
        };
        let m_lo = swar::below(u64::from_le_bytes(*lo), 0x0E);
        let m_hi = swar::below(u64::from_le_bytes(*hi), 0x0E);
        if m_lo | m_hi != 0 {
            if let Some(k) = line_end_in(lo, m_lo) {
                return i + k;
            }
            if let Some(k) = line_end_in(hi, m_hi) {
                return i + 8 + k;
            }
        }
        i += 16;
    }
    // Whole words while there are eight bytes left: no masking needed.
    while let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        // Bytes below 0x0E: the three we look for, and TAB, VT, FF and a few
        // other controls that are simply part of the line.
        if let Some(k) = line_end_in(c, swar::below(u64::from_le_bytes(*c), 0x0E)) {
            return i + k;
        }
        i += 8;
    }
    b.iter()
        .skip(i)
        .position(|&c| matches!(c, 0 | b'\n' | b'\r'))
        .map_or(b.len(), |k| i + k)
}

/// Scans an `a=` line whose value starts at `start`: the index of the
/// first NUL, LF or CR (or the length), and whether the value starts with
/// a valid att-field, a non-empty token (no blanks) up to the first `:` or
/// the line end (RFC 8866 s.9). Both come out of the same words.
#[inline(always)]
fn attribute_line(b: &[u8], start: usize) -> (usize, bool) {
    // Nearly every att-field ends at a ':' (or at the line end, for a
    // flag): the first byte that can end a name (':', SP or a control
    // byte, all below 0x21 but ':') decides it. The lowest mark of each
    // `swar` test is exact, so the lowest mark of their union is a true
    // one.
    let mut i = start;
    while let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*c);
        let first = swar::below(w, 0x21) | swar::eq(w, b':');
        if first == 0 {
            i += 8;
            continue;
        }
        let bit = first & first.wrapping_neg();
        let k = (bit.trailing_zeros() / 8) as usize;
        let name_ok = i + k > start;
        return match c[k] {
            b':' => {
                // The line end, from the same word on: the control bytes
                // above the colon (`below` never misses one), then the
                // next words.
                let ctl = swar::below(w, 0x0E) & !(bit | (bit - 1));
                match line_end_in(c, ctl) {
                    Some(end) => (i + end, name_ok),
                    None => (line_end(b, i + 8), name_ok),
                }
            }
            0 | b'\n' | b'\r' => (i + k, name_ok),
            // A blank before any ':', or another control byte.
            _ => attribute_line_words(b, start),
        };
    }
    // A flag whose name fills the last whole words of the input, such as
    // the 8-byte direction attributes on the last line.
    if b.get(i..) == Some(b"\r\n") {
        return (i, i > start);
    }
    attribute_line_tail(b, start, i)
}

/// The end of [`attribute_line`] in the last few bytes of the input (the
/// last line of nearly every description), read as one word: the missing
/// bytes read as zero, above the real ones, `live` masks them, and
/// borrows only run upwards.
#[inline(never)]
fn attribute_line_tail(b: &[u8], start: usize, i: usize) -> (usize, bool) {
    if i >= b.len() {
        // No line end: the input ends inside the flag's name (lenient mode).
        return (b.len(), b.len() > start);
    }
    let (w, valid) = swar::word_at(b, i);
    let live = swar::valid_mask(valid);
    let c = w.to_le_bytes();
    let ctl = swar::below(w, 0x0E) & live;
    let colon = swar::eq(w, b':') & live;
    let first = ctl | colon | (swar::eq(w, b' ') & live);
    if first == 0 {
        return (b.len(), b.len() > start);
    }
    let bit = first & first.wrapping_neg();
    let k = (bit.trailing_zeros() / 8) as usize;
    let name_ok = i + k > start;
    if colon & bit != 0 {
        let end = line_end_in(&c, ctl & !(bit | (bit - 1)));
        return (end.map_or(b.len(), |e| i + e), name_ok);
    }
    if ctl & bit != 0 && matches!(c[k], 0 | b'\n' | b'\r') {
        return (i + k, name_ok);
    }
    attribute_line_words(b, start)
}

/// The general scan of [`attribute_line`], a word at a time.
#[inline(never)]
fn attribute_line_words(b: &[u8], start: usize) -> (usize, bool) {
    let mut i = start;
    // None until the att-field has ended.
    let mut name_ok = None;
    while let Some(c) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*c);
        // The line end in this word, if any (see `line_end`).
        let end = line_end_in(c, swar::below(w, 0x0E));
        if name_ok.is_none() {
            let live = swar::valid_mask(end.unwrap_or(8));
            let colon = swar::eq(w, b':') & live;
            let blank = (swar::eq(w, b' ') | swar::eq(w, b'\t')) & live;
            if colon | blank != 0 {
                // The lowest mark of each is exact (see `swar::eq`).
                let k = colon.trailing_zeros();
                name_ok = Some(k < blank.trailing_zeros() && (i > start || k > 7));
            }
        }
        if let Some(k) = end {
            let at = i + k;
            return (at, name_ok.unwrap_or(at > start));
        }
        i += 8;
    }
    // The last few bytes of the input.
    let at = line_end(b, i);
    let ok = name_ok.unwrap_or_else(|| attribute_name_ok(&b[start..at]));
    (at, ok)
}

/// Whether an `a=` value starts with a valid att-field (the slow path of
/// [`attribute_line`], for the end of the input).
fn attribute_name_ok(v: &[u8]) -> bool {
    match v.iter().position(|&c| matches!(c, b':' | b' ' | b'\t')) {
        Some(k) => v[k] == b':' && k > 0,
        None => !v.is_empty(),
    }
}

/// Where the line whose value ends at `at` ends, and where the next one
/// starts: after CRLF; in lenient mode also after a bare LF or at the end
/// of the input. A NUL or a CR without LF at `at` is an invalid character.
#[inline(always)]
fn line_next(b: &[u8], at: usize, strict: bool) -> Result<usize, SdpErrorKind> {
    if b.get(at..at + 2) == Some(b"\r\n") {
        return Ok(at + 2);
    }
    match b.get(at) {
        None if !strict => Ok(at),
        Some(b'\n') if !strict => Ok(at + 1),
        None => Err(SdpErrorKind::MissingLineEnding),
        Some(b'\n') => Err(SdpErrorKind::BareLineFeed),
        Some(_) => Err(SdpErrorKind::InvalidCharacter),
    }
}

/// A run of well-formed a= lines from `pos` (which starts one), each
/// ending in CRLF, stored in `slots` while there are free ones: how many
/// were stored and where the line after them starts. It stops before the
/// first line that needs a closer look (another ending, a bad att-field),
/// which the caller's general loop then judges.
#[inline(never)]
fn attribute_run(bytes: &[u8], mut pos: usize, slots: &mut [Span]) -> (usize, usize) {
    let mut k = 0;
    for slot in slots {
        let (at, name_ok) = attribute_line(bytes, pos + 2);
        // CRLF and another a= line, nearly always: one compare.
        let more = bytes.get(at..at + 4) == Some(b"\r\na=");
        if !name_ok || (!more && bytes.get(at..at + 2) != Some(b"\r\n")) {
            break;
        }
        // `parse` refused inputs longer than u32::MAX.
        *slot = Span {
            start: pos as u32,
            end: at as u32,
        };
        k += 1;
        pos = at + 2;
        if !more {
            break;
        }
    }
    (k, pos)
}

struct Parser<'l> {
    limits: &'l SdpLimits,
    strict: bool,
    seen_o: bool,
    seen_s: bool,
    seen_t: bool,
    session_c: bool,
    media_c: bool,
    rank: u8,
    /// The rank of a= in the current section.
    a_rank: u8,
    attributes: usize,
}

impl<'l> Parser<'l> {
    fn new(limits: &'l SdpLimits) -> Self {
        Self {
            limits,
            strict: !limits.lenient,
            seen_o: false,
            seen_s: false,
            seen_t: false,
            session_c: false,
            media_c: false,
            rank: 0,
            a_rank: SESSION_A_RANK,
            attributes: 0,
        }
    }

    fn run<'a>(mut self, d: &mut SessionDescription<'a>) -> Result<(), SdpError> {
        let raw = d.raw;
        let bytes = raw.as_bytes();
        let strict = self.strict;
        let max_lines = self.limits.max_lines;
        let max_attributes = self.limits.max_attributes;
        let mut pos = 0;
        // The number of lines so far (`d.lines.len()`).
        let mut n = 0usize;
        // The first line is all but always exactly this, which passes every
        // check of the general path below.
        if max_lines > 0 && bytes.starts_with(b"v=0\r\n") {
            d.lines.push(Span { start: 0, end: 3 });
            pos = self.header(d, 5);
            n = d.lines.len();
        }
        while pos < bytes.len() {
            let err = |n: usize, kind| SdpError::new(n as u32 + 1, kind);
            if n >= max_lines {
                return Err(err(n, SdpErrorKind::TooManyLines));
            }
            if n > 0 && bytes.get(pos..pos + 2) == Some(b"a=") {
                // Most lines are attributes, in runs. The well-formed ones
                // that fit in the limits and the inline table go straight
                // into free slots of the table, without any check that
                // cannot fail for them.
                let cap = (max_lines - n).min(max_attributes.saturating_sub(self.attributes));
                let (k, next) = attribute_run(bytes, pos, d.lines.free_inline(cap));
                if k > 0 {
                    d.lines.grow(k);
                    n += k;
                    self.attributes += k;
                    pos = next;
                    // a= may repeat and is last in its section.
                    self.rank = self.a_rank;
                    continue;
                }
                // The general loop: one scan per line finds its end and
                // checks the att-field, and the limits are checked.
                let mut attributes = self.attributes;
                loop {
                    let (at, name_ok) = attribute_line(bytes, pos + 2);
                    // CRLF and another a= line, nearly always: one compare.
                    let more = bytes.get(at..at + 4) == Some(b"\r\na=");
                    let next = if more {
                        at + 2
                    } else {
                        line_next(bytes, at, strict).map_err(|k| err(n, k))?
                    };
                    attributes += 1;
                    if attributes > max_attributes {
                        return Err(err(n, SdpErrorKind::TooManyAttributes));
                    }
                    if !name_ok {
                        return Err(err(n, SdpErrorKind::InvalidField(b'a')));
                    }
                    // `parse` refused inputs longer than u32::MAX.
                    d.lines.push(Span {
                        start: pos as u32,
                        end: at as u32,
                    });
                    n += 1;
                    pos = next;
                    if !more && bytes.get(pos..pos + 2) != Some(b"a=") {
                        break;
                    }
                    if n >= max_lines {
                        return Err(err(n, SdpErrorKind::TooManyLines));
                    }
                }
                self.attributes = attributes;
                // a= may repeat and is last in its section.
                self.rank = self.a_rank;
                continue;
            }
            // One scan per line finds its end and any NUL or stray CR.
            let at = line_end(bytes, pos);
            let next = line_next(bytes, at, strict).map_err(|k| err(n, k))?;
            let line_start = pos;
            pos = next;
            let span = Span {
                start: line_start as u32,
                end: at as u32,
            };
            if at == line_start && !strict && n > 0 {
                // Blank lines (typically an extra CRLF at the end) are kept
                // for the round trip and otherwise ignored.
                d.lines.push(span);
                n += 1;
                continue;
            }
            let kind = bytes[line_start];
            if at - line_start < 2 || !kind.is_ascii_lowercase() || bytes[line_start + 1] != b'=' {
                return Err(err(n, SdpErrorKind::MalformedLine));
            }
            self.line(d, kind, line_start, at)
                .map_err(|e| e.at(n as u32 + 1))?;
            d.lines.push(span);
            n += 1;
        }
        self.finish_media(d)?;
        if !self.seen_o {
            return Err(SdpError::new(0, SdpErrorKind::MissingLine(b'o')));
        }
        if strict {
            if !self.seen_s {
                return Err(SdpError::new(0, SdpErrorKind::MissingLine(b's')));
            }
            if !self.seen_t {
                return Err(SdpError::new(0, SdpErrorKind::MissingLine(b't')));
            }
        }
        Ok(())
    }

    /// The session header as nearly every peer writes it, after `v=0`:
    /// `o=`, `s=`, an optional `c=`, `t=` and the first `m=`, in this
    /// order, canonical and ending in CRLF. Each is checked and recorded
    /// exactly as the general loop would (in this order and shape, every
    /// check it makes passes), without its dispatch. Stops at the first
    /// line that is anything else, for the general loop to judge; returns
    /// where.
    #[inline(never)]
    fn header(&mut self, d: &mut SessionDescription<'_>, mut pos: usize) -> usize {
        let raw = d.raw;
        let bytes = raw.as_bytes();
        let max_lines = self.limits.max_lines;
        // The line at `pos` if it has type `kind`, no NUL or stray CR and
        // a CRLF ending, and the table has room: where its value ends.
        let plain = |d: &SessionDescription<'_>, pos: usize, kind: u8| {
            if d.lines.len() >= max_lines || bytes.get(pos..pos + 2) != Some(&[kind, b'=']) {
                return None;
            }
            let at = line_end(bytes, pos);
            (bytes.get(at..at + 2) == Some(b"\r\n")).then_some(at)
        };
        let span = |pos: usize, at: usize| Span {
            start: pos as u32,
            end: at as u32,
        };
        // o= (RFC 8866 s.5.2).
        let Some(at) = plain(d, pos, b'o') else {
            return pos;
        };
        let Some(origin) = bytes
            .get(..at)
            .and_then(|l| OriginAt::canonical(l, pos + 2))
        else {
            return pos;
        };
        d.origin = origin;
        self.seen_o = true;
        self.rank = 1;
        d.lines.push(span(pos, at));
        pos = at + 2;
        // s=: anything but empty in strict mode (RFC 8866 s.5.3).
        let Some(at) = plain(d, pos, b's') else {
            return pos;
        };
        if self.strict && at == pos + 2 {
            return pos;
        }
        self.seen_s = true;
        self.rank = 2;
        d.lines.push(span(pos, at));
        pos = at + 2;
        // c=, if at session level.
        if let Some(at) = plain(d, pos, b'c') {
            let Some(c) = ConnectionAt::canonical(raw, pos + 2, at) else {
                return pos;
            };
            d.connection = Some(c);
            self.session_c = true;
            self.rank = 7;
            d.lines.push(span(pos, at));
            pos = at + 2;
        }
        // t=
        let Some(at) = plain(d, pos, b't') else {
            return pos;
        };
        let Some(t) = bytes.get(pos + 2..at).and_then(Timing::canonical) else {
            return pos;
        };
        d.timing = Some(t);
        self.seen_t = true;
        self.rank = 9;
        d.lines.push(span(pos, at));
        pos = at + 2;
        // The first m= line, if it comes next (RFC 8866 s.5.14).
        let Some(at) = plain(d, pos, b'm') else {
            return pos;
        };
        let Some(m) = bytes
            .get(..at)
            .and_then(|l| MediaLineAt::canonical(l, pos + 2))
        else {
            return pos;
        };
        let max_formats = self.limits.max_formats;
        if self.limits.max_media == 0
            || (m.formats_len() >= max_formats.saturating_mul(2)
                && m.get(raw).formats().nth(max_formats).is_some())
        {
            return pos;
        }
        d.media.push(MediaSlot {
            start: d.lines.len() as u32,
            connection_line: 0,
            line: m,
        });
        self.rank = 0;
        self.a_rank = MEDIA_A_RANK;
        self.attributes = 0;
        self.media_c = false;
        d.lines.push(span(pos, at));
        at + 2
    }

    /// Checks the c= rule for the media section that just ended.
    fn finish_media(&self, d: &SessionDescription<'_>) -> Result<(), SdpError> {
        if let Some(m) = d.media.last() {
            if self.strict && !self.session_c && !self.media_c {
                return Err(SdpError::new(m.start + 1, SdpErrorKind::MissingConnection));
            }
        }
        Ok(())
    }

    /// Strict mode: the fields of a structural line whose value was not
    /// canonical must still be separated by single SPs, with none at the end.
    #[inline(always)]
    fn blanks(&self, kind: u8, value: &str) -> Result<(), SdpError> {
        if self.strict && !strict_fields_ok(value) {
            let trailing = value.ends_with([' ', '\t']);
            return Err(SdpError::new(
                0,
                if trailing {
                    SdpErrorKind::TrailingWhitespace
                } else {
                    SdpErrorKind::InvalidField(kind)
                },
            ));
        }
        Ok(())
    }

    /// Grammar order (RFC 8866 s.9), enforced in strict mode only.
    #[inline(always)]
    fn order(&mut self, kind: u8, in_media: bool) -> Result<(), SdpError> {
        let rank = if in_media {
            media_rank(kind)
        } else {
            session_rank(kind)
        };
        match rank {
            Some((r, repeat)) => {
                let out_of_order = r < self.rank || (r == self.rank && !repeat);
                if self.strict && out_of_order {
                    return Err(SdpError::new(0, SdpErrorKind::UnexpectedLine(kind)));
                }
                if r > self.rank {
                    self.rank = r;
                }
            }
            // v= again, or a session-only line in a media section.
            None if matches!(
                kind,
                b'v' | b'o' | b's' | b'u' | b'e' | b'p' | b't' | b'r' | b'z'
            ) && (self.strict || kind == b'v' || kind == b'o') =>
            {
                return Err(SdpError::new(0, SdpErrorKind::UnexpectedLine(kind)));
            }
            // Unknown type letters are kept as they are (RFC 8866 s.5 asks
            // parsers to ignore them; we keep them for the round trip).
            None => {}
        }
        Ok(())
    }

    /// Checks one line other than a= (the first line too) and records what
    /// the view keeps of it. Structural lines: a canonical value (single
    /// spaces, the norm) is decoded in one pass and is strict-clean;
    /// anything else takes the general path, which in strict mode first
    /// says what is wrong with the blanks.
    fn line<'a>(
        &mut self,
        d: &mut SessionDescription<'a>,
        kind: u8,
        line_start: usize,
        at: usize,
    ) -> Result<(), SdpError> {
        let e = |k| SdpError::new(0, k);
        let raw = d.raw;
        // The line up to the end of its value (the canonical decoders
        // take positions in it, so nothing is cut on their path).
        let line = raw.as_bytes().get(..at).unwrap_or_default();
        // The type letter and '=' are ASCII, and a line ending or the end
        // of the input follows: char boundaries. Only cut when needed.
        let value = || raw.get(line_start + 2..at).unwrap_or_default();
        if d.lines.is_empty() {
            // v=0 must come first, in both modes: it is how SDP is recognised.
            let v = if self.strict { value() } else { value().trim() };
            return if kind == b'v' && v == "0" {
                Ok(())
            } else {
                Err(e(SdpErrorKind::BadVersion))
            };
        }
        let in_media = !d.media.is_empty();
        match kind {
            b'o' => {
                let origin = OriginAt::canonical(line, line_start + 2);
                if origin.is_none() {
                    self.blanks(kind, value())?;
                }
                self.order(kind, in_media)?;
                if self.seen_o {
                    return Err(e(SdpErrorKind::UnexpectedLine(b'o')));
                }
                self.seen_o = true;
                d.origin = match origin {
                    Some(o) => o,
                    None => OriginAt::general(raw, value())?,
                };
            }
            b'm' => {
                let media_line = MediaLineAt::canonical(line, line_start + 2);
                if media_line.is_none() {
                    self.blanks(kind, value())?;
                }
                self.finish_media(d)?;
                if d.media.len() >= self.limits.max_media {
                    return Err(e(SdpErrorKind::TooManyMedia));
                }
                if !self.seen_o {
                    return Err(e(SdpErrorKind::MissingLine(b'o')));
                }
                let m = match media_line {
                    Some(l) => l,
                    None => MediaLineAt::of(raw, &MediaLine::parse_general(value())?),
                };
                // Each format takes at least two bytes with its separator, so
                // short lines need no count.
                if m.formats_len() >= self.limits.max_formats.saturating_mul(2)
                    && m.get(raw).formats().nth(self.limits.max_formats).is_some()
                {
                    return Err(e(SdpErrorKind::TooManyFormats));
                }
                d.media.push(MediaSlot {
                    start: d.lines.len() as u32,
                    connection_line: 0,
                    line: m,
                });
                self.rank = 0;
                self.a_rank = MEDIA_A_RANK;
                self.attributes = 0;
                self.media_c = false;
            }
            b'c' => {
                let connection = ConnectionAt::canonical(raw, line_start + 2, at);
                if connection.is_none() {
                    self.blanks(kind, value())?;
                }
                self.order(kind, in_media)?;
                let c = match connection {
                    Some(c) => c,
                    None => ConnectionAt::of(raw, &Connection::parse_general(value())?),
                };
                if in_media {
                    self.media_c = true;
                    if let Some(m) = d.media.last_mut() {
                        if m.connection_line == 0 {
                            m.connection_line = d.lines.len() as u32;
                        }
                    }
                } else {
                    self.session_c = true;
                    if d.connection.is_none() {
                        d.connection = Some(c);
                    }
                }
            }
            b't' => {
                let timing = Timing::canonical(line.get(line_start + 2..).unwrap_or_default());
                if timing.is_none() {
                    self.blanks(kind, value())?;
                }
                self.order(kind, in_media)?;
                let t = match timing {
                    Some(t) => t,
                    None => Timing::parse_general(value())?,
                };
                if !in_media && d.timing.is_none() {
                    d.timing = Some(t);
                }
                self.seen_t = true;
            }
            b'b' => {
                self.blanks(kind, value())?;
                self.order(kind, in_media)?;
                Bandwidth::parse(value())?;
            }
            b'r' | b'z' => {
                self.blanks(kind, value())?;
                self.order(kind, in_media)?;
                if kind == b'r' && !self.seen_t {
                    return Err(e(SdpErrorKind::UnexpectedLine(b'r')));
                }
                check_repeat_or_zone(value(), kind)?;
            }
            _ => {
                self.order(kind, in_media)?;
                if kind == b's' {
                    if self.strict && at == line_start + 2 {
                        // RFC 8866 s.5.3: s= must not be empty (use "s= " or "s=-").
                        return Err(e(SdpErrorKind::InvalidField(b's')));
                    }
                    self.seen_s = true;
                }
                // a= only gets here as the first line, which failed above.
            }
        }
        Ok(())
    }
}

impl<'a> SessionDescription<'a> {
    /// The whole description as it was given.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Every line, in order.
    pub fn lines(&self) -> Lines<'_, 'a> {
        self.lines_of(&self.lines)
    }

    fn lines_of<'s>(&self, spans: &'s [Span]) -> Lines<'s, 'a> {
        Lines {
            raw: self.raw,
            spans: spans.iter(),
        }
    }

    fn session_spans(&self) -> &[Span] {
        let end = self
            .media
            .first()
            .map_or(self.lines.len(), |m| m.start as usize);
        self.lines.get(..end).unwrap_or_default()
    }

    /// The session-level lines (before the first m=).
    pub fn session_lines(&self) -> Lines<'_, 'a> {
        self.lines_of(self.session_spans())
    }

    /// The o= line.
    pub fn origin(&self) -> Origin<'a> {
        self.origin.get(self.raw)
    }

    fn session_value(&self, kind: u8) -> Option<&'a str> {
        let raw = self.raw;
        self.session_spans()
            .iter()
            .find_map(|s| s.value_of(raw, kind))
    }

    /// The s= value (absent only from lenient parses).
    pub fn session_name(&self) -> Option<&'a str> {
        self.session_value(b's')
    }

    /// The session-level c= line.
    pub fn connection(&self) -> Option<Connection<'a>> {
        self.connection.map(|c| c.get(self.raw))
    }

    /// The first t= line.
    pub fn timing(&self) -> Option<Timing> {
        self.timing
    }

    /// The session-level b= lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'a>> + '_ {
        let raw = self.raw;
        self.session_spans()
            .iter()
            .filter_map(move |s| Bandwidth::parse(s.value_of(raw, b'b')?).ok())
    }

    /// The session-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + '_ {
        attributes_of(self.raw, self.session_spans(), 1)
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(self.attributes())
    }

    /// The number of media sections.
    pub fn media_count(&self) -> usize {
        self.media.len()
    }

    /// The media sections, in order.
    pub fn media(&self) -> impl Iterator<Item = MediaView<'_, 'a>> + '_ {
        (0..self.media.len()).map(move |i| self.media_view(i))
    }

    /// The media section at `index`.
    pub fn media_at(&self, index: usize) -> Option<MediaView<'_, 'a>> {
        (index < self.media.len()).then(|| self.media_view(index))
    }

    fn media_view(&self, i: usize) -> MediaView<'_, 'a> {
        let slot = &self.media[i];
        let end = self
            .media
            .get(i + 1)
            .map_or(self.lines.len(), |n| n.start as usize);
        MediaView {
            spans: self.lines.get(slot.start as usize..end).unwrap_or_default(),
            first_line: slot.start + 1,
            connection_line: slot.connection_line,
            media_line: slot.line.get(self.raw),
            session: self,
        }
    }

    /// Writes the description from its lines; byte for byte the input.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // The lines and their endings cover the input, in order.
        out.extend_from_slice(self.raw.as_bytes());
    }
}

/// The attributes among `spans` (lines of `raw`), numbered from `first_line`.
fn attributes_of<'s, 'a>(raw: &'a str, spans: &'s [Span], first_line: u32) -> Attributes<'s, 'a> {
    Attributes {
        raw,
        spans: spans.iter(),
        line: first_line,
    }
}

/// The a= lines of a section, decoded into name and value. A plain loop
/// (not an adapter chain), so it inlines where the attributes are read:
/// negotiation walks them once per offered section.
struct Attributes<'s, 'a> {
    raw: &'a str,
    spans: std::slice::Iter<'s, Span>,
    /// The line number of the next span.
    line: u32,
}

impl<'a> Iterator for Attributes<'_, 'a> {
    type Item = Attribute<'a>;

    #[inline]
    fn next(&mut self) -> Option<Attribute<'a>> {
        for s in self.spans.by_ref() {
            let line = self.line;
            self.line += 1;
            if let Some(v) = s.value_of(self.raw, b'a') {
                return Some(Attribute::from_line(v, line));
            }
        }
        None
    }
}

pub(crate) fn direction_of<'a>(
    mut attrs: impl Iterator<Item = Attribute<'a>>,
) -> Option<Direction> {
    attrs.find_map(|a| {
        if a.value.is_none() {
            Direction::from_name(a.name)
        } else {
            None
        }
    })
}

/// Typed lookups shared by the borrowed and the owned media sections.
macro_rules! media_accessors {
    ($l:lifetime) => {
        /// The attribute named `name` (first one, case-insensitive).
        pub fn attribute(&self, name: &str) -> Option<Attribute<$l>> {
            self.attributes().find(|a| a.is(name))
        }

        /// Whether a flag attribute such as `rtcp-mux` is present.
        pub fn has_attribute(&self, name: &str) -> bool {
            self.attribute(name).is_some()
        }

        /// The rtpmap for payload type `pt`; malformed rtpmaps are skipped.
        pub fn rtpmap(&self, pt: u8) -> Option<RtpMap<$l>> {
            self.attributes()
                .filter(|a| a.is("rtpmap"))
                .filter_map(|a| a.value.and_then(|v| RtpMap::parse(v).ok()))
                .find(|r| r.payload_type == pt)
        }

        /// The fmtp for format `fmt` (a payload type for RTP).
        pub fn fmtp(&self, fmt: &str) -> Option<Fmtp<$l>> {
            self.attributes()
                .filter(|a| a.is("fmtp"))
                .filter_map(|a| a.value.and_then(|v| Fmtp::parse(v).ok()))
                .find(|f| f.format == fmt)
        }

        /// The media-level direction attribute, if any.
        pub fn direction(&self) -> Option<Direction> {
            direction_of(self.attributes())
        }

        /// `a=ptime`, if present and well formed.
        pub fn ptime(&self) -> Option<u32> {
            self.typed_attribute("ptime").and_then(|t| match t {
                TypedAttribute::Ptime(p) => Some(p),
                _ => None,
            })
        }

        /// `a=maxptime`, if present and well formed.
        pub fn maxptime(&self) -> Option<u32> {
            self.typed_attribute("maxptime").and_then(|t| match t {
                TypedAttribute::MaxPtime(p) => Some(p),
                _ => None,
            })
        }

        /// `a=rtcp`, if present and well formed.
        pub fn rtcp(&self) -> Option<Rtcp<$l>> {
            self.typed_attribute("rtcp").and_then(|t| match t {
                TypedAttribute::Rtcp(r) => Some(r),
                _ => None,
            })
        }

        /// `a=mid`, if present.
        pub fn mid(&self) -> Option<&$l str> {
            self.attribute("mid").and_then(|a| a.value).map(str::trim)
        }

        /// The first well-formed attribute named `name`, decoded.
        pub fn typed_attribute(&self, name: &str) -> Option<TypedAttribute<$l>> {
            self.attributes()
                .filter(|a| a.is(name))
                .find_map(|a| a.typed().ok())
        }

        /// Every attribute decoded; malformed known attributes are errors
        /// with their line number.
        pub fn typed_attributes(
            &self,
        ) -> impl Iterator<Item = Result<TypedAttribute<$l>, SdpError>> + '_ {
            self.attributes().map(|a| a.typed())
        }
    };
}
pub(crate) use media_accessors;

/// One media section of a [`SessionDescription`].
#[derive(Clone, Copy, Debug)]
pub struct MediaView<'s, 'a> {
    spans: &'s [Span],
    first_line: u32,
    connection_line: u32,
    media_line: MediaLine<'a>,
    session: &'s SessionDescription<'a>,
}

impl<'s, 'a> MediaView<'s, 'a> {
    /// The decoded m= line.
    pub fn media_line(&self) -> MediaLine<'a> {
        self.media_line
    }

    /// The media type (`audio`, `video`...).
    pub fn media(&self) -> &'a str {
        self.media_line.media
    }

    /// The port (0: rejected or disabled).
    pub fn port(&self) -> u16 {
        self.media_line.port
    }

    /// The transport protocol.
    pub fn proto(&self) -> &'a str {
        self.media_line.proto
    }

    /// The formats.
    pub fn formats(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.media_line.formats()
    }

    /// The lines of this section, starting with m=.
    pub fn lines(&self) -> Lines<'s, 'a> {
        self.session.lines_of(self.spans)
    }

    /// The 1-based line number of the m= line.
    pub fn line_number(&self) -> u32 {
        self.first_line
    }

    /// The media-level c= line, falling back to the session-level one.
    pub fn connection(&self) -> Option<Connection<'a>> {
        match self.connection_line {
            0 => self.session.connection(),
            // Every c= line of a parsed description is well formed.
            i => self
                .session
                .lines
                .get(i as usize)
                .and_then(|s| Connection::parse(s.value_of(self.session.raw, b'c')?).ok()),
        }
    }

    /// The media-level b= lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'a>> + 's {
        let raw = self.session.raw;
        self.spans
            .iter()
            .filter_map(move |s| Bandwidth::parse(s.value_of(raw, b'b')?).ok())
    }

    /// The media-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + 's {
        attributes_of(self.session.raw, self.spans, self.first_line)
    }

    /// The direction: media-level, else session-level, else sendrecv
    /// (RFC 8866 s.6.7).
    pub fn effective_direction(&self) -> Direction {
        self.direction()
            .or_else(|| self.session.direction())
            .unwrap_or_default()
    }

    media_accessors!('a);
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";

    fn strict(s: &str) -> Result<SessionDescription<'_>, SdpError> {
        parse(s.as_bytes(), &SdpLimits::default())
    }

    fn lenient(s: &str) -> Result<SessionDescription<'_>, SdpError> {
        parse(s.as_bytes(), &SdpLimits::lenient())
    }

    #[test]
    fn errors_carry_line_numbers() {
        let cases = [
            ("v=1\r\n", 1, SdpErrorKind::BadVersion),
            (
                "v=0\r\no=- x 1 IN IP4 h\r\n",
                2,
                SdpErrorKind::InvalidNumber,
            ),
            (
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 65536 RTP/AVP 0\r\n",
                5,
                SdpErrorKind::InvalidNumber,
            ),
            (
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nc=IN IP4 h\r\n",
                5,
                SdpErrorKind::UnexpectedLine(b'c'),
            ),
            (
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n",
                5,
                SdpErrorKind::MissingConnection,
            ),
            (
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=- \r\nt=0 0 \r\n",
                4,
                SdpErrorKind::TrailingWhitespace,
            ),
            ("v=0\no=- 1 1 IN IP4 h\n", 1, SdpErrorKind::BareLineFeed),
            ("v=0\r\nbogus\r\n", 2, SdpErrorKind::MalformedLine),
            (
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\na=x\0\r\n",
                5,
                SdpErrorKind::InvalidCharacter,
            ),
        ];
        for (text, line, kind) in cases {
            let e = strict(text).unwrap_err();
            assert_eq!((e.line, e.kind), (line, kind), "{text:?}");
        }
        assert_eq!(
            strict(&S[..S.len() - 2]).unwrap_err().kind,
            SdpErrorKind::MissingLineEnding
        );
        let no_s = "v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4 h\r\nt=0 0\r\n";
        assert_eq!(
            strict(no_s).unwrap_err().kind,
            SdpErrorKind::MissingLine(b's')
        );
        assert!(lenient(no_s).is_ok());
    }

    #[test]
    fn lenient_mode_round_trips_sloppy_input() {
        let sloppy =
            "v=0\no=- 1 1 IN IP4 h \nc=IN IP4 192.0.2.9\nm=audio 4000 RTP/AVP 0 \na=sendrecv\n\n";
        let d = lenient(sloppy).unwrap();
        let mut out = Vec::new();
        d.write_to(&mut out);
        assert_eq!(out, sloppy.as_bytes());
        assert_eq!(d.media_at(0).unwrap().formats().collect::<Vec<_>>(), ["0"]);
        assert!(strict(sloppy).is_err());
        // The same, without a final newline.
        let d = lenient("v=0\r\no=- 1 1 IN IP4 h\r\nm=audio 1 RTP/AVP 8").unwrap();
        assert_eq!(d.lines().next_back().unwrap().ending, LineEnding::None);
    }

    #[test]
    fn more_lines_than_the_inline_table_keep_their_order() {
        let mut text = S.to_string();
        for i in 0..40 {
            text.push_str(&format!("a=x-{i}:{i}\r\n"));
        }
        let d = strict(&text).unwrap();
        assert_eq!(d.lines().len(), 6 + 40);
        let values: Vec<_> = d.lines().skip(6).map(|l| l.value).collect();
        assert_eq!(values[0], "x-0:0");
        assert_eq!(values[39], "x-39:39");
        let audio = d.media_at(0).unwrap();
        assert_eq!(audio.attributes().count(), 40);
        assert_eq!(audio.attribute("x-33").unwrap().line, 6 + 34);
        let mut out = Vec::new();
        d.write_to(&mut out);
        assert_eq!(out, text.as_bytes());
    }

    #[test]
    fn more_media_sections_than_the_inline_table() {
        let mut text = S.to_string();
        for i in 1..6 {
            text.push_str(&format!(
                "m=audio {} RTP/AVP 0\r\nc=IN IP4 192.0.2.{i}\r\na=sendonly\r\n",
                4000 + 2 * i
            ));
        }
        let d = strict(&text).unwrap();
        assert_eq!(d.media_count(), 6);
        let ports: Vec<_> = d.media().map(|m| m.port()).collect();
        assert_eq!(ports, [49170, 4002, 4004, 4006, 4008, 4010]);
        let last = d.media_at(5).unwrap();
        assert_eq!(last.line_number(), 6 + 4 * 3 + 1);
        assert_eq!(last.connection().unwrap().address, "192.0.2.5");
        assert_eq!(last.direction(), Some(Direction::SendOnly));
        assert_eq!(
            d.media_at(0).unwrap().connection().unwrap().address,
            "192.0.2.1"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let l = SdpLimits {
            max_size: 10,
            ..SdpLimits::default()
        };
        assert_eq!(
            parse(S.as_bytes(), &l).unwrap_err().kind,
            SdpErrorKind::TooLarge
        );
        let l = SdpLimits {
            max_media: 0,
            ..SdpLimits::default()
        };
        assert_eq!(
            parse(S.as_bytes(), &l).unwrap_err().kind,
            SdpErrorKind::TooManyMedia
        );
        let l = SdpLimits {
            max_formats: 1,
            ..SdpLimits::default()
        };
        let two = S.replace("RTP/AVP 0", "RTP/AVP 0 8");
        assert_eq!(
            parse(two.as_bytes(), &l).unwrap_err().kind,
            SdpErrorKind::TooManyFormats
        );
        let l = SdpLimits {
            max_lines: 3,
            ..SdpLimits::default()
        };
        assert_eq!(
            parse(S.as_bytes(), &l).unwrap_err().kind,
            SdpErrorKind::TooManyLines
        );
        let l = SdpLimits {
            max_attributes: 1,
            ..SdpLimits::default()
        };
        let attrs = format!("{S}a=sendrecv\r\na=ptime:20\r\n");
        assert_eq!(
            parse(attrs.as_bytes(), &l).unwrap_err().kind,
            SdpErrorKind::TooManyAttributes
        );
    }

    #[test]
    fn header_fast_path_records_what_the_general_loop_does() {
        // `v= 0` (lenient) sends every line through the general loop; `v=0`
        // takes the header path for o=, s=, c=, t= and m=.
        let text = format!("{S}a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n");
        let fast = lenient(&text).unwrap();
        let slow_text = text.replacen("v=0", "v= 0", 1);
        let slow = lenient(&slow_text).unwrap();
        assert_eq!(fast.origin(), slow.origin());
        assert_eq!(fast.origin().session_id, 1);
        assert_eq!(fast.connection(), slow.connection());
        assert_eq!(fast.timing(), slow.timing());
        assert_eq!(fast.session_name(), slow.session_name());
        let (f, s) = (fast.media_at(0).unwrap(), slow.media_at(0).unwrap());
        assert_eq!(f.media_line(), s.media_line());
        assert_eq!(f.line_number(), s.line_number());
        assert_eq!(f.rtpmap(0), s.rtpmap(0));
        assert_eq!(f.direction(), Some(Direction::SendRecv));
        assert!(fast.lines().skip(1).eq(slow.lines().skip(1)));
        // A header line the fast path does not take (i= between s= and
        // c=) leaves the rest to the general loop, with the same result.
        let with_i = text.replacen("s=-\r\n", "s=-\r\ni=x\r\n", 1);
        let d = strict(&with_i).unwrap();
        assert_eq!(d.connection(), fast.connection());
        assert_eq!(d.media_at(0).unwrap().line_number(), f.line_number() + 1);
        // Strict order checks still apply after the header: a second t=
        // after m= is a session line in a media section.
        let late_t = format!("{S}t=0 0\r\n");
        let e = strict(&late_t).unwrap_err();
        assert_eq!((e.line, e.kind), (7, SdpErrorKind::UnexpectedLine(b't')));
    }

    #[test]
    fn connection_forms_rfc8866_s5_7() {
        let c = Connection::parse("IN IP4 233.252.0.1/127/3").unwrap();
        assert_eq!((c.ttl, c.count), (Some(127), Some(3)));
        let c = Connection::parse("IN IP6 ff00::db8:0:101/3").unwrap();
        assert_eq!((c.ttl, c.count), (None, Some(3)));
        assert!(c.ip().is_some());
        let c = Connection::parse("IN IP4 host.atlanta.example.com").unwrap();
        assert_eq!(c.ip(), None);
        assert!(Connection::parse("IN IP4 233.252.0.1/300").is_err());
        assert!(Connection::parse("IN IP4").is_err());
    }
}
