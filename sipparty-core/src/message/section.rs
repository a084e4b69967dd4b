//! The header section shared by [`MessageView`](super::MessageView) and
//! [`Message`](super::Message): one [`Slot`] of offsets per header line into
//! a text buffer, and [`Headers`], the raw and typed accessors over them.

use std::fmt;

use super::error::ParseError;
use super::headers::cseq::parse_number;
use super::headers::misc::delta_with_params;
use super::headers::{
    CSeq, Contact, Event, MediaType, NameAddr, RAck, Reason, Replaces, RetryAfter, SessionExpires,
    SubscriptionState, Timestamp, Via,
};
use super::lex::{cut, trim, CommaSplit};
use super::name::{canonical, HeaderName};

/// One header line: offsets into the text it was parsed from (or appended
/// to). `name_start` is also where the line starts; `line_end` is past its
/// line terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) name_start: u32,
    pub(crate) name_end: u32,
    pub(crate) value_start: u32,
    pub(crate) value_end: u32,
    pub(crate) line_end: u32,
    /// Known header id (see `name.rs`), 0 for other names.
    pub(crate) id: u8,
}

impl Slot {
    /// A placeholder for storage not yet written.
    pub(crate) const EMPTY: Slot = Slot {
        name_start: 0,
        name_end: 0,
        value_start: 0,
        value_end: 0,
        line_end: 0,
        id: 0,
    };

    #[inline]
    pub(crate) fn name<'t>(&self, text: &'t str) -> &'t str {
        cut(text, self.name_start as usize, self.name_end as usize)
    }
    #[inline]
    pub(crate) fn value<'t>(&self, text: &'t str) -> &'t str {
        cut(text, self.value_start as usize, self.value_end as usize)
    }
    #[inline]
    pub(crate) fn line<'t>(&self, text: &'t str) -> &'t str {
        cut(text, self.name_start as usize, self.line_end as usize)
    }
    #[inline]
    pub(crate) fn is(&self, text: &str, name: &HeaderName) -> bool {
        match name {
            HeaderName::Other(n) => self.id == 0 && self.name(text).eq_ignore_ascii_case(n),
            known => self.id == known.known_id(),
        }
    }
}

/// Headers whose grammar is a comma-separated list (`#element`), which
/// [`Headers::values`] splits. Auth headers, Date, User-Agent and the like
/// contain commas that do not separate elements and are never split.
pub(crate) fn is_list(id: u8) -> bool {
    const LIST: &[HeaderName] = &[
        HeaderName::Via,
        HeaderName::Contact,
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Allow,
        HeaderName::Supported,
        HeaderName::Require,
        HeaderName::ProxyRequire,
        HeaderName::Unsupported,
        HeaderName::Accept,
        HeaderName::AcceptEncoding,
        HeaderName::AcceptLanguage,
        HeaderName::ContentEncoding,
        HeaderName::ContentLanguage,
        HeaderName::AlertInfo,
        HeaderName::CallInfo,
        HeaderName::ErrorInfo,
        HeaderName::InReplyTo,
        HeaderName::Reason,
        HeaderName::Warning,
        HeaderName::AllowEvents,
        HeaderName::Path,
        HeaderName::ServiceRoute,
        HeaderName::PAssertedIdentity,
        HeaderName::PPreferredIdentity,
        HeaderName::AcceptContact,
        HeaderName::RejectContact,
        HeaderName::RequestDisposition,
        HeaderName::Privacy,
    ];
    id != 0 && LIST.iter().any(|n| n.known_id() == id)
}

/// A header line: its name as written and its raw value (LWS around it
/// trimmed, folding inside kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderField<'s> {
    /// The name as written (`v`, `VIA`, `X-Foo`).
    pub name: &'s str,
    /// The raw value.
    pub value: &'s str,
    id: u8,
}

impl HeaderField<'_> {
    /// The name, compact forms folded.
    pub fn header_name(&self) -> HeaderName {
        HeaderName::from_id(self.id).unwrap_or_else(|| HeaderName::Other(self.name.into()))
    }

    /// The canonical spelling of the name if it is known, else as written.
    pub fn canonical_name(&self) -> &str {
        canonical(self.id).unwrap_or(self.name)
    }
}

/// The header section of a message, parsed or owned: raw values in order,
/// comma-split list elements, and typed headers decoded on demand.
#[derive(Clone, Copy)]
pub struct Headers<'s> {
    pub(crate) text: &'s str,
    pub(crate) slots: &'s [Slot],
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|h| (h.name, h.value)))
            .finish()
    }
}

/// The raw values of every line of one header name, in order.
#[derive(Clone, Debug)]
pub struct Values<'s> {
    text: &'s str,
    slots: std::slice::Iter<'s, Slot>,
    id: u8,
    other: Option<&'s str>,
}

impl<'s> Iterator for Values<'s> {
    type Item = &'s str;
    #[inline]
    fn next(&mut self) -> Option<&'s str> {
        for slot in self.slots.by_ref() {
            let hit = match self.other {
                None => slot.id == self.id,
                Some(n) => slot.id == 0 && slot.name(self.text).eq_ignore_ascii_case(n),
            };
            if hit {
                return Some(slot.value(self.text));
            }
        }
        None
    }
}

/// List elements across all lines of one header name (see
/// [`Headers::values`]).
#[derive(Clone, Debug)]
pub struct SplitValues<'s> {
    lines: Values<'s>,
    current: Option<CommaSplit<'s>>,
    split: bool,
}

impl<'s> Iterator for SplitValues<'s> {
    type Item = &'s str;
    fn next(&mut self) -> Option<&'s str> {
        loop {
            if let Some(cur) = &mut self.current {
                if let Some(v) = cur.next() {
                    return Some(v);
                }
                self.current = None;
            }
            let line = self.lines.next()?;
            if !self.split {
                return Some(line);
            }
            self.current = Some(CommaSplit::new(line));
        }
    }
}

/// Typed list elements across all lines of one header name: each line is
/// first decoded whole, and split at its commas (as [`SplitValues`] does)
/// only when that fails. A line that decodes as one element has no comma
/// that separates elements: the element grammars (Via, name-addr, `*`)
/// admit commas only inside quoted strings and angle brackets, where the
/// split does not cut either. So the result is the split's, without the
/// search for commas on the usual one-element line.
struct Elements<'s, F> {
    lines: Values<'s>,
    current: Option<CommaSplit<'s>>,
    decode: F,
}

impl<'s, T, F: Fn(&'s str) -> Result<T, ParseError>> Iterator for Elements<'s, F> {
    type Item = Result<T, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(cur) = &mut self.current {
                if let Some(v) = cur.next() {
                    return Some((self.decode)(v));
                }
                self.current = None;
            }
            let line = trim(self.lines.next()?);
            if line.is_empty() {
                continue;
            }
            match (self.decode)(line) {
                Ok(v) => return Some(Ok(v)),
                Err(_) => self.current = Some(CommaSplit::new(line)),
            }
        }
    }
}

impl<'s> Headers<'s> {
    pub(crate) fn new(text: &'s str, slots: &'s [Slot]) -> Self {
        Self { text, slots }
    }

    /// Every header line in order.
    pub fn iter(&self) -> impl Iterator<Item = HeaderField<'s>> + 's {
        let text = self.text;
        self.slots.iter().map(move |s| HeaderField {
            name: s.name(text),
            value: s.value(text),
            id: s.id,
        })
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no header lines.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn lines_by_id(&self, id: u8) -> Values<'s> {
        Values {
            text: self.text,
            slots: self.slots.iter(),
            id,
            other: None,
        }
    }

    /// The raw value of every line named `name`, in order (one entry per
    /// line, not comma-split).
    pub fn all<'n: 's>(&self, name: &'n HeaderName) -> Values<'s> {
        match name {
            HeaderName::Other(n) => Values {
                text: self.text,
                slots: self.slots.iter(),
                id: 0,
                other: Some(n),
            },
            known => self.lines_by_id(known.known_id()),
        }
    }

    /// The raw value of the first line named `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&'s str> {
        self.slots
            .iter()
            .find(|s| s.is(self.text, name))
            .map(|s| s.value(self.text))
    }

    /// Number of lines named `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.slots.iter().filter(|s| s.is(self.text, name)).count()
    }

    /// The elements of `name` across all its lines: list headers (Via,
    /// Contact, Route, Allow, Supported ...) are split at the commas their
    /// grammar allows, never inside quotes, `<...>` or comments; other
    /// headers (auth headers, Date, unknown names) yield whole values.
    pub fn values<'n: 's>(&self, name: &'n HeaderName) -> SplitValues<'s> {
        let split = is_list(name.known_id());
        SplitValues {
            lines: self.all(name),
            current: None,
            split,
        }
    }

    fn elements_by_id<T, F: Fn(&'s str) -> Result<T, ParseError>>(
        &self,
        id: u8,
        decode: F,
    ) -> Elements<'s, F> {
        Elements {
            lines: self.lines_by_id(id),
            current: None,
            decode,
        }
    }

    fn split_by_id(&self, id: u8) -> SplitValues<'s> {
        SplitValues {
            lines: self.lines_by_id(id),
            current: None,
            split: true,
        }
    }

    fn first_by_id(&self, id: u8) -> Option<&'s str> {
        // A direct scan: the typed accessors call this once per header.
        // Four lines a step (four compares, one loop test): the common
        // headers sit within the first ten lines.
        let text = self.text;
        let mut chunks = self.slots.chunks_exact(4);
        for c in &mut chunks {
            for s in c {
                if s.id == id {
                    return Some(s.value(text));
                }
            }
        }
        chunks
            .remainder()
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.value(text))
    }

    /// The topmost Via element.
    pub fn top_via(&self) -> Option<Result<Via<'s>, ParseError>> {
        // The usual case first: the first Via line is one element. This is
        // the iterator's first answer whenever that line decodes whole (see
        // `Elements`); anything else takes the iterator.
        let id = HeaderName::Via.known_id();
        let first = trim(self.first_by_id(id)?);
        if !first.is_empty() {
            if let ok @ Ok(_) = Via::parse(first) {
                return Some(ok);
            }
        }
        self.elements_by_id(id, Via::parse).next()
    }

    /// All Via elements, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'s>, ParseError>> + 's {
        self.elements_by_id(HeaderName::Via.known_id(), Via::parse)
    }

    /// From.
    pub fn from(&self) -> Option<Result<NameAddr<'s>, ParseError>> {
        self.first_by_id(HeaderName::From.known_id())
            .map(NameAddr::parse)
    }

    /// To.
    pub fn to(&self) -> Option<Result<NameAddr<'s>, ParseError>> {
        self.first_by_id(HeaderName::To.known_id())
            .map(NameAddr::parse)
    }

    /// Call-ID, trimmed.
    pub fn call_id(&self) -> Option<&'s str> {
        self.first_by_id(HeaderName::CallId.known_id()).map(trim)
    }

    /// CSeq.
    pub fn cseq(&self) -> Option<Result<CSeq, ParseError>> {
        self.first_by_id(HeaderName::CSeq.known_id())
            .map(CSeq::parse)
    }

    /// Max-Forwards.
    pub fn max_forwards(&self) -> Option<Result<u32, ParseError>> {
        self.first_by_id(HeaderName::MaxForwards.known_id())
            .map(|v| parse_number(v, "Max-Forwards"))
    }

    /// Contact elements (`*` included).
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'s>, ParseError>> + 's {
        self.elements_by_id(HeaderName::Contact.known_id(), Contact::parse)
    }

    /// Route elements, top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'s>, ParseError>> + 's {
        self.elements_by_id(HeaderName::Route.known_id(), NameAddr::parse)
    }

    /// Record-Route elements, top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'s>, ParseError>> + 's {
        self.elements_by_id(HeaderName::RecordRoute.known_id(), NameAddr::parse)
    }

    /// Content-Type.
    pub fn content_type(&self) -> Option<Result<MediaType<'s>, ParseError>> {
        self.first_by_id(HeaderName::ContentType.known_id())
            .map(MediaType::parse)
    }

    /// Content-Length as written.
    pub fn content_length(&self) -> Option<Result<u32, ParseError>> {
        self.first_by_id(HeaderName::ContentLength.known_id())
            .map(|v| parse_number(v, "Content-Length"))
    }

    /// Expires (delta-seconds, RFC 3261 section 20.19).
    pub fn expires(&self) -> Option<Result<u32, ParseError>> {
        self.first_by_id(HeaderName::Expires.known_id())
            .map(|v| parse_number(v, "Expires"))
    }

    /// Min-Expires (section 20.23).
    pub fn min_expires(&self) -> Option<Result<u32, ParseError>> {
        self.first_by_id(HeaderName::MinExpires.known_id())
            .map(|v| parse_number(v, "Min-Expires"))
    }

    /// The option tags or method names of a token-list header (Allow,
    /// Supported, Require, Proxy-Require, Unsupported, Allow-Events ...).
    pub fn tokens<'n: 's>(&self, name: &'n HeaderName) -> SplitValues<'s> {
        SplitValues {
            lines: self.all(name),
            current: None,
            split: true,
        }
    }

    /// Whether the token-list header `name` contains `token`
    /// (case-insensitive, as option tags compare).
    pub fn has_token(&self, name: &HeaderName, token: &str) -> bool {
        // Shorten the lifetime to `name`'s (Headers is covariant).
        let h: Headers<'_> = Headers::new(self.text, self.slots);
        h.tokens(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// RSeq (RFC 3262 section 7.1).
    pub fn rseq(&self) -> Option<Result<u32, ParseError>> {
        self.first_by_id(HeaderName::RSeq.known_id())
            .map(|v| parse_number(v, "RSeq"))
    }

    /// RAck (RFC 3262 section 7.2).
    pub fn rack(&self) -> Option<Result<RAck, ParseError>> {
        self.first_by_id(HeaderName::RAck.known_id())
            .map(RAck::parse)
    }

    /// Session-Expires (RFC 4028).
    pub fn session_expires(&self) -> Option<Result<SessionExpires<'s>, ParseError>> {
        self.first_by_id(HeaderName::SessionExpires.known_id())
            .map(SessionExpires::parse)
    }

    /// Min-SE (RFC 4028), in seconds.
    pub fn min_se(&self) -> Option<Result<u32, ParseError>> {
        self.first_by_id(HeaderName::MinSe.known_id())
            .map(|v| delta_with_params(v, "Min-SE"))
    }

    /// Event (RFC 6665).
    pub fn event(&self) -> Option<Result<Event<'s>, ParseError>> {
        self.first_by_id(HeaderName::Event.known_id())
            .map(Event::parse)
    }

    /// Subscription-State (RFC 6665).
    pub fn subscription_state(&self) -> Option<Result<SubscriptionState<'s>, ParseError>> {
        self.first_by_id(HeaderName::SubscriptionState.known_id())
            .map(SubscriptionState::parse)
    }

    /// Refer-To (RFC 3515).
    pub fn refer_to(&self) -> Option<Result<NameAddr<'s>, ParseError>> {
        self.first_by_id(HeaderName::ReferTo.known_id())
            .map(NameAddr::parse)
    }

    /// Referred-By (RFC 3892).
    pub fn referred_by(&self) -> Option<Result<NameAddr<'s>, ParseError>> {
        self.first_by_id(HeaderName::ReferredBy.known_id())
            .map(NameAddr::parse)
    }

    /// Replaces (RFC 3891).
    pub fn replaces(&self) -> Option<Result<Replaces<'s>, ParseError>> {
        self.first_by_id(HeaderName::Replaces.known_id())
            .map(Replaces::parse)
    }

    /// Reason elements (RFC 3326).
    pub fn reasons(&self) -> impl Iterator<Item = Result<Reason<'s>, ParseError>> + 's {
        self.split_by_id(HeaderName::Reason.known_id())
            .map(Reason::parse)
    }

    /// Retry-After (section 20.33).
    pub fn retry_after(&self) -> Option<Result<RetryAfter<'s>, ParseError>> {
        self.first_by_id(HeaderName::RetryAfter.known_id())
            .map(RetryAfter::parse)
    }

    /// Timestamp (section 20.38).
    pub fn timestamp(&self) -> Option<Result<Timestamp<'s>, ParseError>> {
        self.first_by_id(HeaderName::Timestamp.known_id())
            .map(Timestamp::parse)
    }

    /// Date (section 20.17), raw (`rfc1123-date`).
    pub fn date(&self) -> Option<&'s str> {
        self.first_by_id(HeaderName::Date.known_id())
    }

    /// User-Agent (section 20.41), raw.
    pub fn user_agent(&self) -> Option<&'s str> {
        self.first_by_id(HeaderName::UserAgent.known_id())
    }

    /// Server (section 20.35), raw.
    pub fn server(&self) -> Option<&'s str> {
        self.first_by_id(HeaderName::Server.known_id())
    }

    /// Accept media ranges (section 20.1).
    pub fn accept(&self) -> impl Iterator<Item = Result<MediaType<'s>, ParseError>> + 's {
        self.split_by_id(HeaderName::Accept.known_id())
            .map(MediaType::parse)
    }

    /// WWW-Authenticate challenges, one raw value per line (decoded by
    /// `crate::auth`).
    pub fn www_authenticate(&self) -> Values<'s> {
        self.lines_by_id(HeaderName::WwwAuthenticate.known_id())
    }

    /// Proxy-Authenticate challenges, raw.
    pub fn proxy_authenticate(&self) -> Values<'s> {
        self.lines_by_id(HeaderName::ProxyAuthenticate.known_id())
    }

    /// Authorization credentials, raw.
    pub fn authorization(&self) -> Values<'s> {
        self.lines_by_id(HeaderName::Authorization.known_id())
    }

    /// Proxy-Authorization credentials, raw.
    pub fn proxy_authorization(&self) -> Values<'s> {
        self.lines_by_id(HeaderName::ProxyAuthorization.known_id())
    }
}
