//! The owned message: one text buffer with the start line and header lines
//! exactly as parsed (new or replaced lines are appended to it), header
//! slots pointing into it, and the body. A message nobody modified writes
//! back byte for byte; a modified one keeps every untouched line as it was.

use std::cell::{Cell, OnceCell};
use std::fmt;

use super::error::ParseError;
use super::headers::{
    CSeq, Contact, Event, MediaType, NameAddr, RAck, Reason, Replaces, RetryAfter, SessionExpires,
    SubscriptionState, Timestamp, Via,
};
use super::method::Method;
use super::name::HeaderName;
use super::parse::{parse_datagram, Limits, MessageView, StartLine};
use super::reason::reason_phrase;
use super::section::{Headers, Slot, SplitValues, Values};
use crate::text::{decimal, has_line_break, push_decimal, trim_value, Digits};

/// Forward typed accessors to [`Headers`].
macro_rules! delegate {
    ($( $(#[$doc:meta])* fn $name:ident() -> $ret:ty; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> $ret {
                self.header_section().$name()
            }
        )*
    };
}

const CONTENT_LENGTH: u8 = HeaderName::ContentLength.known_id();
const VIA: u8 = HeaderName::Via.known_id();
const FROM: u8 = HeaderName::From.known_id();
const TO: u8 = HeaderName::To.known_id();
const CSEQ: u8 = HeaderName::CSeq.known_id();
const CALL_ID: u8 = HeaderName::CallId.known_id();

/// Spare text capacity of a parsed message: a rewritten top Via line.
const STAMP_ROOM: usize = 96;

/// A From or To tag, or the top Via's branch, decoded once (the
/// transaction, dialog and party layers each ask for it): not yet looked
/// at, header absent or malformed, or well-formed with the parameter's
/// span in `text` if it has one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TagCache {
    #[default]
    Unknown,
    Invalid,
    Valid(Option<(u32, u32)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Start {
    Request { method: Method, uri: (u32, u32) },
    Response { code: u16, reason: (u32, u32) },
}

/// An owned SIP message: parsed from bytes or built, then modified and
/// serialized. Cloning copies three buffers; serializing copies the
/// untouched text as it is.
///
/// ```
/// use sipparty_core::message::{HeaderName, Message, Method};
/// let mut m = Message::request(Method::Options, "sip:bob@example.com");
/// m.add_header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc");
/// m.add_header(HeaderName::CSeq, "1 OPTIONS");
/// let bytes = m.to_bytes();
/// assert!(bytes.ends_with(b"Content-Length: 0\r\n\r\n"));
/// let back = Message::parse(&bytes).unwrap();
/// assert_eq!(back.cseq().unwrap().unwrap().seq, 1);
/// assert_eq!(back.top_via().unwrap().unwrap().branch(), Some("z9hG4bKabc"));
/// ```
#[derive(Clone)]
pub struct Message {
    /// Start line, header lines (as parsed, then any appended ones).
    text: String,
    start: Start,
    /// The start line in `text`, line end included.
    start_line: (u32, u32),
    /// The version in `text`.
    version: (u32, u32),
    slots: Vec<Slot>,
    body: Vec<u8>,
    /// The empty line after the headers was a bare LF.
    blank_lf: bool,
    /// Write a Content-Length even when no such header line exists (built
    /// messages, changed bodies).
    auto_length: bool,
    /// From and To tags, decoded on first use; reset by header edits.
    from_tag: Cell<TagCache>,
    to_tag: Cell<TagCache>,
    /// The top Via's branch, decoded on first use or told by the layer
    /// that wrote or decoded the Via; reset by Via edits.
    top_branch: Cell<TagCache>,
    /// CSeq, decoded on first use (every layer reads it); reset by CSeq
    /// edits.
    cseq: OnceCell<Option<Result<CSeq, ParseError>>>,
}

fn span(s: usize, e: usize) -> (u32, u32) {
    (s as u32, e as u32)
}

/// Offset of `sub` in `whole` (`sub` must be a slice of `whole`).
fn offset_in(whole: &str, sub: &str) -> u32 {
    (sub.as_ptr() as usize - whole.as_ptr() as usize) as u32
}

/// Values written by the application must not smuggle a line break into
/// the message (header injection): CR and LF become spaces.
fn push_clean(text: &mut String, value: &str) {
    if has_line_break(value.as_bytes()) {
        text.extend(
            value
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
        );
    } else {
        text.push_str(value);
    }
}

/// What `cache` (of the line `slot` of another message) says about that
/// line copied to offset `base`.
fn shift_cache(cache: TagCache, slot: &Slot, base: u32) -> TagCache {
    match cache {
        TagCache::Valid(Some((s, e))) if s >= slot.name_start && e <= slot.line_end => {
            TagCache::Valid(Some((
                s - slot.name_start + base,
                e - slot.name_start + base,
            )))
        }
        TagCache::Valid(Some(_)) => TagCache::Unknown,
        other => other,
    }
}

/// The first offset of `needle` in `hay`: a plain scan, as both are a
/// few dozen bytes (a `memmem` finder costs more to set up than this).
fn find_sub(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut at = 0;
    while let Some(i) = memchr::memchr(first, hay.get(at..)?) {
        let s = at + i;
        if hay.get(s..s + needle.len()) == Some(needle) {
            return Some(s);
        }
        at = s + 1;
    }
    None
}

/// Whether `s` is a non-empty RFC 3261 `token` (section 25.1).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        })
}

/// Whether `value` contains `tag` in any case.
fn contains_tag_word(value: &str) -> bool {
    value
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"tag"))
}

impl Message {
    /// Parse one datagram with the default [`Limits`].
    pub fn parse(datagram: &[u8]) -> Result<Message, ParseError> {
        Self::parse_with(datagram, &Limits::default())
    }

    /// Parse one datagram with `limits`.
    pub fn parse_with(datagram: &[u8], limits: &Limits) -> Result<Message, ParseError> {
        parse_datagram(datagram, limits).map(|v| Message::from_view(&v))
    }

    /// An owned copy of a parsed view.
    pub fn from_view(view: &MessageView<'_>) -> Message {
        let head = view.head();
        // Room for the `received`/`rport` a server stamps on the top Via
        // (RFC 3261 section 18.2.1), so that edit does not reallocate.
        let mut text = String::with_capacity(head.len() + STAMP_ROOM);
        text.push_str(head);
        let start = match view.start_line() {
            StartLine::Request { method, uri, .. } => Start::Request {
                method: Method::from_token(method),
                uri: {
                    let s = offset_in(head, uri);
                    (s, s + uri.len() as u32)
                },
            },
            StartLine::Response { code, reason, .. } => Start::Response {
                code,
                reason: {
                    let s = offset_in(head, reason);
                    (s, s + reason.len() as u32)
                },
            },
        };
        let version = view.version();
        let v = offset_in(head, version);
        Message {
            text,
            start,
            start_line: span(0, view.start_len()),
            version: (v, v + version.len() as u32),
            slots: view.slots().to_vec(),
            body: view.body().to_vec(),
            blank_lf: !head.ends_with("\r\n"),
            auto_length: view.content_length().is_some(),
            from_tag: Cell::default(),
            to_tag: Cell::default(),
            top_branch: Cell::default(),
            cseq: OnceCell::new(),
        }
    }

    fn with_capacity(text: usize, headers: usize) -> Message {
        Message {
            text: String::with_capacity(text),
            start: Start::Response {
                code: 0,
                reason: (0, 0),
            },
            start_line: (0, 0),
            version: (0, 0),
            slots: Vec::with_capacity(headers),
            body: Vec::new(),
            blank_lf: false,
            auto_length: true,
            from_tag: Cell::default(),
            to_tag: Cell::default(),
            top_branch: Cell::default(),
            cseq: OnceCell::new(),
        }
    }

    /// A request with no headers: `METHOD request_uri SIP/2.0`.
    pub fn request(method: Method, request_uri: &str) -> Message {
        // An INVITE's usual headers fit without growing the text.
        let mut m = Message::with_capacity(512, 12);
        m.set_request_line(method, request_uri, "SIP/2.0");
        m
    }

    fn set_request_line(&mut self, method: Method, uri: &str, version: &str) {
        let t = &mut self.text;
        let s = t.len();
        t.push_str(method.as_str());
        t.push(' ');
        let u = t.len();
        push_clean(t, uri.trim());
        let ue = t.len();
        t.push(' ');
        let v = t.len();
        t.push_str(version);
        let ve = t.len();
        t.push_str("\r\n");
        self.start_line = span(s, t.len());
        self.version = span(v, ve);
        self.start = Start::Request {
            method,
            uri: span(u, ue),
        };
    }

    /// A response with no headers: `SIP/2.0 code reason`.
    pub fn response(code: u16, reason: &str) -> Message {
        let mut m = Message::with_capacity(256, 8);
        m.set_status_line(code, reason);
        m
    }

    fn set_status_line(&mut self, code: u16, reason: &str) {
        let mut buf = Digits::default();
        let t = &mut self.text;
        let s = t.len();
        t.push_str("SIP/2.0 ");
        t.push_str(decimal(code, &mut buf));
        t.push(' ');
        let r = t.len();
        push_clean(t, reason);
        let re = t.len();
        t.push_str("\r\n");
        self.start_line = span(s, t.len());
        self.version = span(s, s + 7);
        self.start = Start::Response {
            code,
            reason: span(r, re),
        };
    }

    /// A response to `request` (RFC 3261 section 8.2.6): copies every Via
    /// (in order), From, To, Call-ID and CSeq lines as written, and adds
    /// `;tag=to_tag` to To when given and To has no tag yet. The reason
    /// phrase is the standard one ([`reason_phrase`]). Record-Route (for
    /// dialog-creating responses) is the caller's to copy.
    pub fn response_to(request: &Message, code: u16, to_tag: Option<&str>) -> Message {
        let mut m = Message::with_capacity(request.text.len().min(1024), 8);
        m.set_status_line(code, reason_phrase(code));
        let src = &request.text;
        // What the request decoded of its first Via, From and To lines
        // holds for their copies: carried over, not decoded again.
        let (mut via_seen, mut from_seen, mut to_seen) = (false, false, false);
        for slot in &request.slots {
            match slot.id {
                TO => {
                    let first = !to_seen;
                    to_seen = true;
                    let cached = if first {
                        request.to_tag.get()
                    } else {
                        TagCache::Unknown
                    };
                    let value = slot.value(src);
                    // A value without the letters `tag` has no tag
                    // parameter; only other values need decoding.
                    let needs_tag = to_tag.is_some()
                        && match cached {
                            TagCache::Valid(tag) => tag.is_none(),
                            TagCache::Invalid => true,
                            TagCache::Unknown => {
                                !contains_tag_word(value)
                                    || !NameAddr::parse(value).is_ok_and(|a| a.tag().is_some())
                            }
                        };
                    match to_tag {
                        Some(tag) if needs_tag => {
                            let t = &mut m.text;
                            let ns = t.len();
                            t.push_str(slot.name(src));
                            let ne = t.len();
                            t.push_str(": ");
                            let vs = t.len();
                            t.push_str(value);
                            t.push_str(";tag=");
                            let ts = t.len();
                            push_clean(t, tag);
                            let ve = t.len();
                            t.push_str("\r\n");
                            m.slots.push(Slot {
                                name_start: ns as u32,
                                name_end: ne as u32,
                                value_start: vs as u32,
                                value_end: ve as u32,
                                line_end: t.len() as u32,
                                id: TO,
                            });
                            // A well-formed tagless To with `;tag=token`
                            // appended decodes to exactly that tag.
                            let plain_end = value
                                .as_bytes()
                                .last()
                                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'>');
                            if cached == TagCache::Valid(None) && plain_end && is_token(tag) {
                                m.to_tag.set(TagCache::Valid(Some(span(ts, ve))));
                            }
                        }
                        _ => {
                            let base = m.text.len() as u32;
                            m.copy_line(src, slot);
                            if first {
                                m.to_tag.set(shift_cache(cached, slot, base));
                            }
                        }
                    }
                }
                FROM | VIA => {
                    let base = m.text.len() as u32;
                    m.copy_line(src, slot);
                    let (seen, from, to) = if slot.id == FROM {
                        (&mut from_seen, &request.from_tag, &m.from_tag)
                    } else {
                        (&mut via_seen, &request.top_branch, &m.top_branch)
                    };
                    if !*seen {
                        *seen = true;
                        to.set(shift_cache(from.get(), slot, base));
                    }
                }
                CALL_ID | CSEQ => m.copy_line(src, slot),
                _ => {}
            }
        }
        m
    }

    /// The bytes [`Message::response_to`]`(request, code, None)` would
    /// serialize to, with `extra` (a header and its value) after the
    /// copied lines, written straight into one buffer: for the responses
    /// the transaction layer sends and forgets (100 Trying), where the
    /// owned message would be built only to be serialized.
    pub(crate) fn response_bytes(
        request: &Message,
        code: u16,
        extra: Option<(&HeaderName, &str)>,
    ) -> Vec<u8> {
        let mut out = String::with_capacity(request.text.len().min(1024) + 64);
        let mut digits = Digits::default();
        out.push_str("SIP/2.0 ");
        out.push_str(decimal(code, &mut digits));
        out.push(' ');
        push_clean(&mut out, reason_phrase(code));
        out.push_str("\r\n");
        let src = &request.text;
        for slot in &request.slots {
            if matches!(slot.id, VIA | FROM | TO | CALL_ID | CSEQ) {
                out.push_str(slot.line(src));
            }
        }
        if let Some((name, value)) = extra {
            out.push_str(name.as_str());
            out.push_str(": ");
            let value = trim_value(value);
            push_clean(&mut out, value);
            out.push_str("\r\n");
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out.into_bytes()
    }

    /// Append a header line of another message's text, as written.
    fn copy_line(&mut self, src: &str, slot: &Slot) {
        let base = self.text.len() as u32;
        self.text.push_str(slot.line(src));
        let shift = |o: u32| o - slot.name_start + base;
        self.slots.push(Slot {
            name_start: base,
            name_end: shift(slot.name_end),
            value_start: shift(slot.value_start),
            value_end: shift(slot.value_end),
            line_end: shift(slot.line_end),
            id: slot.id,
        });
    }

    fn new_line(&mut self, name: &HeaderName, value: &str) -> Slot {
        self.new_line_parts(name, &[value])
    }

    /// A new header line whose value is `parts` concatenated (the whole
    /// value trimmed, as [`Message::add_header`] trims one value).
    fn new_line_parts(&mut self, name: &HeaderName, parts: &[&str]) -> Slot {
        self.headers_changed(name.known_id());
        let name_str = name.as_str();
        let t = &mut self.text;
        t.reserve(name_str.len() + 4 + parts.iter().map(|p| p.len()).sum::<usize>());
        let ns = t.len();
        t.push_str(name_str);
        let ne = t.len();
        t.push_str(": ");
        let vs = t.len();
        for p in parts {
            t.push_str(p);
        }
        // The joined value checked once for CR and LF (header injection)
        // and trimmed as one; both fix-ups are rare.
        if has_line_break(&t.as_bytes()[vs..]) {
            let joined = t.split_off(vs);
            push_clean(t, &joined);
        }
        let joined = &t[vs..];
        let trimmed = trim_value(joined);
        if trimmed.len() != joined.len() {
            let trimmed = trimmed.to_owned();
            t.truncate(vs);
            t.push_str(&trimmed);
        }
        let ve = t.len();
        t.push_str("\r\n");
        Slot {
            name_start: ns as u32,
            name_end: ne as u32,
            value_start: vs as u32,
            value_end: ve as u32,
            line_end: t.len() as u32,
            id: name.known_id(),
        }
    }

    /// Forget what was decoded from the lines of header `id` (a line
    /// of an unknown name, id 0, is never read by the typed accessors).
    fn headers_changed(&mut self, id: u8) {
        match id {
            FROM => self.from_tag.set(TagCache::Unknown),
            TO => self.to_tag.set(TagCache::Unknown),
            VIA => self.top_branch.set(TagCache::Unknown),
            CSEQ => self.cseq = OnceCell::new(),
            _ => {}
        }
    }

    /// The span of `sub` if it lies within `text`.
    fn span_of(&self, sub: &str) -> Option<(u32, u32)> {
        let start = (sub.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize)?;
        (start + sub.len() <= self.text.len()).then(|| span(start, start + sub.len()))
    }

    /// The `branch` parameter of the top Via: `None` when there is no Via,
    /// it is malformed, or it has no branch. Decoded once per message
    /// (the transaction layer and the TU both need it).
    pub fn top_branch(&self) -> Option<&str> {
        match self.top_branch.get() {
            TagCache::Valid(Some((s, e))) => return Some(&self.text[s as usize..e as usize]),
            TagCache::Valid(None) | TagCache::Invalid => return None,
            TagCache::Unknown => {}
        }
        let (state, branch) = match self.top_via() {
            Some(Ok(via)) => match via.branch() {
                Some(b) => match self.span_of(b) {
                    Some(sp) => (TagCache::Valid(Some(sp)), Some(b)),
                    // Not borrowed from `text`: not cached.
                    None => return Some(b),
                },
                None => (TagCache::Valid(None), None),
            },
            _ => (TagCache::Invalid, None),
        };
        self.top_branch.set(state);
        branch
    }

    /// Record that the top Via's branch is `branch`, which the caller
    /// wrote or decoded itself, so [`Message::top_branch`] need not decode
    /// the Via. The value is looked up in the top Via line (the cached
    /// span then reads as exactly `branch`); if it is not found nothing is
    /// recorded.
    pub(crate) fn set_top_branch(&self, branch: &str) {
        let Some(slot) = self.slots.iter().find(|s| s.id == VIA) else {
            return;
        };
        // Usually `branch` was decoded from this very line.
        let found = match self.span_of(branch) {
            Some((s, e)) if s >= slot.value_start && e <= slot.value_end => Some((s, e)),
            _ => {
                let value = slot.value(&self.text);
                find_sub(value.as_bytes(), branch.as_bytes()).map(|at| {
                    let s = slot.value_start as usize + at;
                    span(s, s + branch.len())
                })
            }
        };
        if let Some(sp) = found {
            self.top_branch.set(TagCache::Valid(Some(sp)));
        }
    }

    /// Replace the top Via line with `line`, which differs from it only in
    /// parameters other than `branch` (the `received`/`rport` stamp of RFC
    /// 3261 section 18.2.1), keeping the decoded branch. Returns false
    /// (and changes nothing) if there is no Via line.
    pub(crate) fn replace_top_via_same_branch(&mut self, line: &str) -> bool {
        let kept = self.top_branch.get();
        if !self.replace_first_header(&HeaderName::Via, line) {
            return false;
        }
        if let TagCache::Valid(Some((s, e))) = kept {
            // The old line's bytes stay in `text` (lines are only
            // appended), so the branch is looked up in the new line.
            self.set_top_branch(&self.text[s as usize..e as usize]);
        }
        true
    }

    /// The tag of the first line of `id` (From or To), decoded once.
    fn cached_tag(&self, cache: &Cell<TagCache>, id: u8) -> Option<Option<&str>> {
        let text = self.text.as_str();
        match cache.get() {
            TagCache::Valid(Some((s, e))) => return Some(Some(&text[s as usize..e as usize])),
            TagCache::Valid(None) => return Some(None),
            TagCache::Invalid => return None,
            TagCache::Unknown => {}
        }
        let value = self
            .slots
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.value(text));
        let decoded = value.map(NameAddr::parse);
        let (state, tag) = match decoded {
            Some(Ok(na)) => {
                let tag = na.tag();
                // `tag` borrows from `text`; anything else is not cached.
                let span = tag.and_then(|t| self.span_of(t));
                match (tag, span) {
                    (Some(_), None) => return Some(tag),
                    _ => (TagCache::Valid(span), Some(tag)),
                }
            }
            _ => (TagCache::Invalid, None),
        };
        cache.set(state);
        tag
    }

    /// The From tag: `None` if From is absent or malformed, `Some(None)`
    /// if it has no tag. Decoded once per message.
    pub fn from_tag(&self) -> Option<Option<&str>> {
        self.cached_tag(&self.from_tag, FROM)
    }

    /// The To tag, as [`Message::from_tag`].
    pub fn to_tag(&self) -> Option<Option<&str>> {
        self.cached_tag(&self.to_tag, TO)
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI of a request, as written.
    pub fn request_uri(&self) -> Option<&str> {
        match self.start {
            Start::Request { uri, .. } => Some(&self.text[uri.0 as usize..uri.1 as usize]),
            Start::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            Start::Response { code, .. } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            Start::Response { reason, .. } => {
                Some(&self.text[reason.0 as usize..reason.1 as usize])
            }
            Start::Request { .. } => None,
        }
    }

    /// The SIP version as written (`SIP/2.0`).
    pub fn version(&self) -> &str {
        &self.text[self.version.0 as usize..self.version.1 as usize]
    }

    /// Replace the Request-URI (no effect on a response).
    pub fn set_request_uri(&mut self, uri: &str) {
        if let Start::Request { method, .. } = &self.start {
            let method = method.clone();
            let version = self.version().to_owned();
            self.set_request_line(method, uri, &version);
        }
    }

    /// Replace the status code and reason phrase (no effect on a request).
    pub fn set_status(&mut self, code: u16, reason: &str) {
        if !self.is_request() {
            self.set_status_line(code, reason);
        }
    }

    /// The header section: raw values and every typed header accessor
    /// (RSeq, RAck, Session-Expires, Event, Refer-To, Reason ...).
    pub fn header_section(&self) -> Headers<'_> {
        Headers::new(&self.text, &self.slots)
    }

    /// The raw value of the first line named `name`.
    pub fn header(&self, name: &HeaderName) -> Option<&str> {
        self.header_section().get(name)
    }

    /// The raw value of every line named `name`, in order (not
    /// comma-split).
    pub fn headers<'s>(&'s self, name: &'s HeaderName) -> Values<'s> {
        self.header_section().all(name)
    }

    /// Comma-separated elements across all lines of `name`, honouring
    /// quotes, `<>` and comments; headers whose grammar is not a list
    /// (auth headers, Date ...) yield whole values.
    pub fn header_values<'s>(&'s self, name: &'s HeaderName) -> SplitValues<'s> {
        self.header_section().values(name)
    }

    /// Append a header line at the end. CR and LF in `value` become spaces.
    pub fn add_header(&mut self, name: HeaderName, value: &str) {
        let slot = self.new_line(&name, value);
        self.slots.push(slot);
    }

    /// Append a header line whose value is `parts` joined, without
    /// building the value first (tags, branches, CSeq numbers).
    pub(crate) fn add_header_parts(&mut self, name: HeaderName, parts: &[&str]) {
        let slot = self.new_line_parts(&name, parts);
        self.slots.push(slot);
    }

    /// Replace the first line named `name` with one holding `value`, put
    /// where [`Message::remove_first_header`] then
    /// [`Message::push_front_header`] would put it. Returns false (and
    /// changes nothing) if there is no such line.
    pub(crate) fn replace_first_header(&mut self, name: &HeaderName, value: &str) -> bool {
        let Some(i) = self.slots.iter().position(|s| s.is(&self.text, name)) else {
            return false;
        };
        let slot = self.new_line(name, value);
        self.slots.remove(i);
        let at = self
            .slots
            .iter()
            .position(|s| s.is(&self.text, name))
            .unwrap_or(0);
        self.slots.insert(at, slot);
        true
    }

    /// Insert a header line before the first line of the same name, or at
    /// the top if there is none (a proxy's Via, a pre-loaded Route).
    pub fn push_front_header(&mut self, name: HeaderName, value: &str) {
        self.push_front_header_parts(name, &[value]);
    }

    /// [`Message::push_front_header`] with the value given in `parts`
    /// (joined), so a Via need not be built in a buffer of its own.
    pub(crate) fn push_front_header_parts(&mut self, name: HeaderName, parts: &[&str]) {
        let slot = self.new_line_parts(&name, parts);
        let at = self
            .slots
            .iter()
            .position(|s| s.is(&self.text, &name))
            .unwrap_or(0);
        self.slots.insert(at, slot);
    }

    /// Replace every line named `name` with one line holding `value`, at
    /// the position of the first (or at the end if there was none).
    pub fn set_header(&mut self, name: HeaderName, value: &str) {
        let slot = self.new_line(&name, value);
        match self.slots.iter().position(|s| s.is(&self.text, &name)) {
            Some(first) => {
                self.slots[first] = slot;
                let text = &self.text;
                let mut i = 0;
                self.slots.retain(|s| {
                    let keep = i <= first || !s.is(text, &name);
                    i += 1;
                    keep
                });
            }
            None => self.slots.push(slot),
        }
    }

    /// Remove every line named `name`; returns how many there were.
    pub fn remove_header(&mut self, name: &HeaderName) -> usize {
        self.headers_changed(name.known_id());
        let before = self.slots.len();
        let text = &self.text;
        self.slots.retain(|s| !s.is(text, name));
        before - self.slots.len()
    }

    /// Remove the first line named `name` (e.g. a proxy popping its Via
    /// when the whole line is one element); returns whether there was one.
    pub fn remove_first_header(&mut self, name: &HeaderName) -> bool {
        self.headers_changed(name.known_id());
        match self.slots.iter().position(|s| s.is(&self.text, name)) {
            Some(i) => {
                self.slots.remove(i);
                true
            }
            None => false,
        }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The parts of a `multipart/*` body (RFC 2046), or `None` if the body
    /// is not multipart.
    pub fn body_parts(&self) -> Option<Result<super::Multipart<'_>, ParseError>> {
        let ct = self.content_type()?;
        match ct {
            Ok(ct) if ct.is_multipart() => {
                Some(super::Multipart::from_content_type(&ct, &self.body))
            }
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Replace the body. `Some(content_type)` sets Content-Type; `None`
    /// with an empty body removes it; `None` with a body keeps the present
    /// Content-Type. Content-Length is computed when writing.
    pub fn set_body(&mut self, content_type: Option<&str>, body: &[u8]) {
        match content_type {
            Some(ct) => self.set_header(HeaderName::ContentType, ct),
            None if body.is_empty() => {
                self.remove_header(&HeaderName::ContentType);
            }
            None => {}
        }
        self.body.clear();
        self.body.extend_from_slice(body);
        self.auto_length = true;
    }

    /// Serialize into `out` (appending). Content-Length is written from the
    /// body's length; an existing Content-Length line that already says so
    /// is kept as written.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let text = self.text.as_bytes();
        out.reserve(self.text.len() + self.body.len() + 24);
        out.extend_from_slice(&text[self.start_line.0 as usize..self.start_line.1 as usize]);
        let mut length_written = false;
        for slot in &self.slots {
            if slot.id == CONTENT_LENGTH {
                if length_written {
                    continue;
                }
                length_written = true;
                let v = slot.value(&self.text);
                if v.parse::<usize>().ok() != Some(self.body.len()) {
                    out.extend_from_slice(slot.name(&self.text).as_bytes());
                    out.extend_from_slice(b": ");
                    push_decimal(out, self.body.len() as u64);
                    out.extend_from_slice(b"\r\n");
                    continue;
                }
            }
            out.extend_from_slice(slot.line(&self.text).as_bytes());
        }
        if !length_written && self.auto_length {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, self.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(if self.blank_lf { b"\n" } else { b"\r\n" });
        out.extend_from_slice(&self.body);
    }

    /// Serialize into a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + self.body.len() + 24);
        self.write_to(&mut out);
        out
    }

    /// Serialize, consuming the message: the same bytes as
    /// [`Message::to_bytes`], written into the message's own text buffer
    /// when its lines already lie there in order (a built message that was
    /// only appended to), which saves a copy and an allocation.
    pub fn into_bytes(self) -> Vec<u8> {
        if !self.is_laid_out() {
            return self.to_bytes();
        }
        let mut out = self.text.into_bytes();
        out.reserve(self.body.len() + 24);
        if self.auto_length {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(&mut out, self.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(if self.blank_lf { b"\n" } else { b"\r\n" });
        out.extend_from_slice(&self.body);
        out
    }

    /// Whether `text` is exactly the start line then every slot's line, in
    /// order, with no Content-Length line: then [`Message::write_to`]
    /// would copy `text` whole and append the computed length.
    fn is_laid_out(&self) -> bool {
        if self.start_line.0 != 0 {
            return false;
        }
        let mut at = self.start_line.1;
        for slot in &self.slots {
            if slot.name_start != at || slot.id == CONTENT_LENGTH {
                return false;
            }
            at = slot.line_end;
        }
        at as usize == self.text.len()
    }

    /// The semantic checks a UAS makes before processing a request (RFC
    /// 3261 section 8.2): version 2.0 (else 505), Request-URI scheme
    /// `sip`/`sips`/`tel` (else 416), the mandatory headers present and
    /// well-formed, single-valued headers not repeated, and the CSeq method
    /// equal to the request method (else 400). See [`ParseError::status`].
    pub fn validate(&self) -> Result<(), ParseError> {
        let info = super::validate::StartInfo {
            method: self.method().map(Method::as_str),
            request_uri: self.request_uri(),
            version: self.version(),
        };
        super::validate::validate(&info, &self.header_section(), 0)
    }

    /// The topmost Via element.
    pub fn top_via(&self) -> Option<Result<Via<'_>, ParseError>> {
        self.header_section().top_via()
    }

    /// Every Via element, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> {
        self.header_section().vias()
    }

    /// From.
    pub fn from_header(&self) -> Option<Result<NameAddr<'_>, ParseError>> {
        self.header_section().from()
    }

    /// To.
    pub fn to_header(&self) -> Option<Result<NameAddr<'_>, ParseError>> {
        self.header_section().to()
    }

    /// Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.header_section().call_id()
    }

    /// CSeq.
    pub fn cseq(&self) -> Option<Result<CSeq, ParseError>> {
        self.cseq
            .get_or_init(|| self.header_section().cseq())
            .clone()
    }

    /// Max-Forwards.
    pub fn max_forwards(&self) -> Option<Result<u32, ParseError>> {
        self.header_section().max_forwards()
    }

    /// Contact elements.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, ParseError>> {
        self.header_section().contacts()
    }

    /// Route elements, top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> {
        self.header_section().routes()
    }

    /// Record-Route elements, top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> {
        self.header_section().record_routes()
    }

    /// Content-Type.
    pub fn content_type(&self) -> Option<Result<MediaType<'_>, ParseError>> {
        self.header_section().content_type()
    }

    /// Expires.
    pub fn expires(&self) -> Option<Result<u32, ParseError>> {
        self.header_section().expires()
    }

    /// Tokens of a token-list header (Allow, Supported, Require ...).
    pub fn tokens<'s>(&'s self, name: &'s HeaderName) -> SplitValues<'s> {
        self.header_section().tokens(name)
    }

    delegate! {
        /// RSeq (RFC 3262).
        fn rseq() -> Option<Result<u32, ParseError>>;
        /// RAck (RFC 3262).
        fn rack() -> Option<Result<RAck, ParseError>>;
        /// Session-Expires (RFC 4028).
        fn session_expires() -> Option<Result<SessionExpires<'_>, ParseError>>;
        /// Min-SE (RFC 4028).
        fn min_se() -> Option<Result<u32, ParseError>>;
        /// Event (RFC 6665).
        fn event() -> Option<Result<Event<'_>, ParseError>>;
        /// Subscription-State (RFC 6665).
        fn subscription_state() -> Option<Result<SubscriptionState<'_>, ParseError>>;
        /// Refer-To (RFC 3515).
        fn refer_to() -> Option<Result<NameAddr<'_>, ParseError>>;
        /// Referred-By (RFC 3892).
        fn referred_by() -> Option<Result<NameAddr<'_>, ParseError>>;
        /// Replaces (RFC 3891).
        fn replaces() -> Option<Result<Replaces<'_>, ParseError>>;
        /// Retry-After.
        fn retry_after() -> Option<Result<RetryAfter<'_>, ParseError>>;
        /// Timestamp.
        fn timestamp() -> Option<Result<Timestamp<'_>, ParseError>>;
        /// Date, raw.
        fn date() -> Option<&str>;
        /// User-Agent, raw.
        fn user_agent() -> Option<&str>;
        /// Server, raw.
        fn server() -> Option<&str>;
        /// Min-Expires.
        fn min_expires() -> Option<Result<u32, ParseError>>;
        /// WWW-Authenticate, raw values (decoded by `crate::auth`).
        fn www_authenticate() -> Values<'_>;
        /// Proxy-Authenticate, raw values.
        fn proxy_authenticate() -> Values<'_>;
        /// Authorization, raw values.
        fn authorization() -> Values<'_>;
        /// Proxy-Authorization, raw values.
        fn proxy_authorization() -> Values<'_>;
    }

    /// Reason elements (RFC 3326).
    pub fn reasons(&self) -> impl Iterator<Item = Result<Reason<'_>, ParseError>> {
        self.header_section().reasons()
    }

    /// Accept media ranges.
    pub fn accept(&self) -> impl Iterator<Item = Result<MediaType<'_>, ParseError>> {
        self.header_section().accept()
    }
}

impl PartialEq for Message {
    /// Two messages are equal when they serialize to the same bytes.
    fn eq(&self, other: &Message) -> bool {
        self.start == other.start && self.body == other.body && self.to_bytes() == other.to_bytes()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = &self.text[self.start_line.0 as usize..self.start_line.1 as usize];
        f.debug_struct("Message")
            .field("start_line", &start.trim_end())
            .field("headers", &self.header_section())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl fmt::Display for Message {
    /// The serialized message, with a non-UTF-8 body shown lossily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@biloxi.com>\r\n\
        From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Content-Length: 4\r\n\
        \r\n\
        v=0\n";

    /// RFC 3261 section 8.2.6: the directly written response is byte for
    /// byte the serialized `response_to`, with the extra header where
    /// `add_header` puts it.
    #[test]
    fn rfc3261_8_2_6_response_bytes_equal_response_to() {
        let parsed = Message::parse(INVITE.as_bytes()).unwrap();
        let mut built = Message::request(Method::Invite, "sip:bob@192.0.2.4");
        built.add_header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx");
        built.add_header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKy");
        built.add_header(HeaderName::From, "<sip:a@192.0.2.1>;tag=1");
        built.add_header(HeaderName::To, "<sip:b@192.0.2.4>");
        built.add_header(HeaderName::Subject, "not copied");
        built.add_header(HeaderName::CallId, "c@192.0.2.1");
        built.add_header(HeaderName::CSeq, "7 INVITE");
        for request in [parsed, built] {
            for code in [100, 180, 487, 799] {
                let expected = Message::response_to(&request, code, None).into_bytes();
                assert_eq!(Message::response_bytes(&request, code, None), expected);
                let mut with = Message::response_to(&request, code, None);
                with.add_header(HeaderName::Timestamp, " 54.2 \r\n");
                assert_eq!(
                    Message::response_bytes(
                        &request,
                        code,
                        Some((&HeaderName::Timestamp, " 54.2 \r\n"))
                    ),
                    with.into_bytes()
                );
            }
        }
    }

    /// The decoded CSeq, From/To tags and top branch are kept per message
    /// and follow every edit of their header (RFC 3261 section 8.1.3.5: a
    /// resent request gets a new CSeq and branch).
    #[test]
    fn rfc3261_8_1_3_5_cached_headers_follow_edits() {
        let mut m = Message::parse(INVITE.as_bytes()).unwrap();
        assert_eq!(m.cseq().unwrap().unwrap().seq, 314159);
        assert_eq!(m.top_branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.from_tag(), Some(Some("1928301774")));
        m.set_header(HeaderName::CSeq, "314160 INVITE");
        assert_eq!(m.cseq().unwrap().unwrap().seq, 314160);
        m.remove_header(&HeaderName::CSeq);
        assert!(m.cseq().is_none());
        m.add_header(HeaderName::CSeq, "9 INVITE");
        assert_eq!(m.cseq().unwrap().unwrap().seq, 9);
        m.remove_first_header(&HeaderName::Via);
        assert_eq!(m.top_branch(), None);
        m.push_front_header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bKnew");
        assert_eq!(m.top_branch(), Some("z9hG4bKnew"));
        m.set_header(HeaderName::From, "<sip:a@b>;tag=other");
        assert_eq!(m.from_tag(), Some(Some("other")));
        // Unrelated edits keep what was decoded.
        m.add_header(HeaderName::Subject, "x");
        assert_eq!(m.top_branch(), Some("z9hG4bKnew"));
        let r = Message::response_to(&m, 180, Some("t"));
        assert_eq!(r.top_branch(), Some("z9hG4bKnew"));
        assert_eq!(r.from_tag(), Some(Some("other")));
        assert_eq!(r.to_tag(), Some(Some("t")));
    }

    /// Header injection guard (RFC 3261 section 7.3.1: a header line
    /// ends at CRLF): the word-at-a-time test finds CR and LF wherever they
    /// are and nothing else.
    #[test]
    fn rfc3261_7_3_1_line_breaks_found_at_every_offset() {
        for len in 0..80 {
            let plain: Vec<u8> = (0..len).map(|i| b' ' + (i % 90) as u8).collect();
            assert!(!has_line_break(&plain), "{len}");
            let mut tabs = plain.clone();
            tabs.iter_mut().step_by(3).for_each(|b| *b = b'\t');
            assert!(!has_line_break(&tabs), "tabs, {len}");
            for at in 0..len {
                for brk in [b'\r', b'\n'] {
                    let mut v = plain.clone();
                    v[at] = brk;
                    assert!(has_line_break(&v), "{len} {at}");
                }
                let mut v = plain.clone();
                v[at] = 0x0B;
                assert!(!has_line_break(&v), "vertical tab is no line break");
            }
        }
        let mut m = Message::request(Method::Options, "sip:a@b");
        m.add_header(HeaderName::Subject, "one\r\nVia: injected");
        assert_eq!(m.headers(&HeaderName::Via).count(), 0);
        assert_eq!(m.header(&HeaderName::Subject), Some("one  Via: injected"));
    }

    /// `into_bytes` must write exactly what `to_bytes` writes, whether it
    /// reuses the text buffer (built, append-only) or not (parsed, edited).
    #[test]
    fn into_bytes_equals_to_bytes() {
        let mut built = Message::request(Method::Bye, "sip:bob@192.0.2.4");
        built.add_header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx");
        built.add_header_parts(HeaderName::CSeq, &["2", " ", "BYE"]);
        assert!(built.is_laid_out());
        let mut with_body = built.clone();
        with_body.set_body(Some("text/plain"), b"hello");
        let mut edited = built.clone();
        edited.set_header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKy");
        let mut front = built.clone();
        front.push_front_header(HeaderName::Route, "<sip:p.example.com;lr>");
        assert!(!front.is_laid_out(), "inserted line is out of text order");
        let parsed = Message::parse(INVITE.as_bytes()).unwrap();
        let response = Message::response_to(&parsed, 180, Some("t1"));
        for m in [built, with_body, edited, front, parsed, response] {
            let expected = m.to_bytes();
            assert_eq!(
                String::from_utf8(m.into_bytes()).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
        let parsed = Message::parse(INVITE.as_bytes()).unwrap();
        assert_eq!(parsed.into_bytes(), INVITE.as_bytes(), "lossless");
    }
}
