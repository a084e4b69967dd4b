//! Dialogs (RFC 3261 section 12): the peer-to-peer relationship an INVITE
//! creates, identified by Call-ID, local tag and remote tag, holding the
//! route set, remote target and sequence numbers that in-dialog requests
//! are built from.
//!
//! A [`Dialog`] is a plain value with no timers and no I/O. The Party
//! creates one from the request and response that establish it
//! ([`Dialog::from_uac_response`], [`Dialog::from_uas_request`]), builds
//! in-dialog requests with [`Dialog::create_request`] and checks incoming
//! ones with [`Dialog::check_remote_cseq`].
//!
//! Header values are kept as received (From, To, Record-Route), so a
//! dialog never re-serializes what the peer wrote: RFC 3261 section 12.2.1.1
//! says the From and To of in-dialog requests are the ones of the dialog,
//! and peers compare them textually more often than they should.

use std::cell::OnceCell;
use std::fmt;
use std::net::SocketAddr;

use smallvec::SmallVec;

use crate::message::{HeaderName, Message, Method, NameAddr};
use crate::text::{has_line_break, push_decimal, trim_value};

/// Whether a dialog is early (created by a provisional response) or
/// confirmed (by a 2xx), RFC 3261 section 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Created by a 1xx with a To tag.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// Why a dialog could not be created or a request was refused. Each maps
/// to the status code a UAS answers (400 or 500).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed (answer 400).
    BadHeader(&'static str),
    /// The CSeq of an in-dialog request is lower than the last one
    /// (RFC 3261 section 12.2.2: answer 500).
    OutOfOrder {
        /// The last remote CSeq number seen.
        last: u32,
        /// The one received.
        received: u32,
    },
}

impl DialogError {
    /// The status code a UAS answers this with.
    pub fn status(&self) -> u16 {
        match self {
            DialogError::BadHeader(_) => 400,
            DialogError::OutOfOrder { .. } => 500,
        }
    }
}

impl fmt::Display for DialogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialogError::BadHeader(h) => write!(f, "missing or malformed {h} header"),
            DialogError::OutOfOrder { last, received } => {
                write!(f, "CSeq {received} is not above the last one, {last}")
            }
        }
    }
}

impl std::error::Error for DialogError {}

/// Where each fixed piece lies in [`Dialog`]'s text.
const CALL_ID: usize = 0;
const LOCAL_TAG: usize = 1;
const REMOTE_TAG: usize = 2;
const LOCAL_HEADER: usize = 3;
const REMOTE_HEADER: usize = 4;
const REMOTE_TARGET: usize = 5;
/// How many fixed pieces there are; route-set entries follow them.
const FIXED: usize = 6;

/// The state of one dialog (RFC 3261 section 12.1).
///
/// Its strings (Call-ID, tags, From and To values, remote target, route
/// set) live one after another in a single allocation: a Party holds one
/// dialog per call, builds it once and changes its strings rarely (a 2xx
/// confirming an early dialog, a target refresh), so seven allocations
/// per dialog bought nothing.
#[derive(Clone)]
pub struct Dialog {
    /// The pieces, in the order of the constants above, then the route
    /// set.
    text: Box<str>,
    /// The end offset in `text` of each piece (each starts where the
    /// previous one ends). Two route entries fit without an allocation.
    ends: SmallVec<[u32; FIXED + 2]>,
    /// The last CSeq number we used (0: none yet).
    pub local_seq: u32,
    /// The last CSeq number the peer used, if any.
    pub remote_seq: Option<u32>,
    /// Whether the dialog was created over TLS with a `sips:` URI.
    pub secure: bool,
    /// Early or confirmed.
    pub phase: Phase,
    /// The next hop's address when its URI names an IP literal, worked out
    /// on first use (every in-dialog request and ACK needs it); forgotten
    /// when the route set or remote target changes.
    hop: OnceCell<Option<SocketAddr>>,
}

impl PartialEq for Dialog {
    /// Equal state; whether the next hop was worked out yet does not count.
    fn eq(&self, other: &Dialog) -> bool {
        self.text == other.text
            && self.ends == other.ends
            && self.local_seq == other.local_seq
            && self.remote_seq == other.remote_seq
            && self.secure == other.secure
            && self.phase == other.phase
    }
}

impl Eq for Dialog {}

impl fmt::Debug for Dialog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialog")
            .field("call_id", &self.call_id())
            .field("local_tag", &self.local_tag())
            .field("remote_tag", &self.remote_tag())
            .field("local_header", &self.local_header())
            .field("remote_header", &self.remote_header())
            .field("local_seq", &self.local_seq)
            .field("remote_seq", &self.remote_seq)
            .field("remote_target", &self.remote_target())
            .field("route_set", &self.route_set().collect::<Vec<_>>())
            .field("secure", &self.secure)
            .field("phase", &self.phase)
            .finish()
    }
}

/// Append the header line `name: value` to `out`, `value` trimmed and
/// with any CR or LF made a space (a folded line as received, RFC 3261
/// section 7.3.1, is written unfolded; nothing can inject a header), as
/// `Message::add_header` writes it.
pub(crate) fn write_line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    push_clean(out, trim_value(value));
    out.extend_from_slice(b"\r\n");
}

/// Append `value` with CR and LF made spaces.
fn push_clean(out: &mut Vec<u8>, value: &str) {
    let start = out.len();
    out.extend_from_slice(value.as_bytes());
    if has_line_break(value.as_bytes()) {
        for b in &mut out[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
    }
}

/// `pieces` then `routes` written into one buffer, with their end offsets;
/// `;tag=` and `add_tag` are appended to the local header when given (a
/// UAS adds its tag to the request's To).
fn pack<'a>(
    pieces: [&'a str; FIXED],
    add_tag: Option<&str>,
    routes: impl Iterator<Item = &'a str> + Clone,
) -> (Box<str>, SmallVec<[u32; FIXED + 2]>) {
    let len = pieces.iter().map(|p| p.len()).sum::<usize>()
        + add_tag.map_or(0, |t| t.len() + 5)
        + routes.clone().map(str::len).sum::<usize>();
    let mut text = String::with_capacity(len);
    // Header values are bounded by the message size limit, far below
    // 4 GiB, so every offset fits in a u32.
    let mut fixed = [0u32; FIXED];
    for (i, (p, end)) in pieces.into_iter().zip(&mut fixed).enumerate() {
        text.push_str(p);
        if i == LOCAL_HEADER {
            if let Some(tag) = add_tag {
                text.push_str(";tag=");
                text.push_str(tag);
            }
        }
        *end = text.len() as u32;
    }
    let mut ends = SmallVec::from_slice(&fixed);
    for r in routes {
        text.push_str(r);
        ends.push(text.len() as u32);
    }
    (text.into_boxed_str(), ends)
}

impl Dialog {
    fn new<'a>(
        pieces: [&'a str; FIXED],
        add_tag: Option<&str>,
        routes: impl Iterator<Item = &'a str> + Clone,
        local_seq: u32,
        remote_seq: Option<u32>,
        secure: bool,
        phase: Phase,
    ) -> Dialog {
        let (text, ends) = pack(pieces, add_tag, routes);
        Dialog {
            text,
            ends,
            local_seq,
            remote_seq,
            secure,
            phase,
            hop: OnceCell::new(),
        }
    }

    /// Piece `i` (a fixed piece, or route entry `i - FIXED`).
    fn piece(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        self.piece(CALL_ID)
    }

    /// Our tag.
    pub fn local_tag(&self) -> &str {
        self.piece(LOCAL_TAG)
    }

    /// The peer's tag (empty for RFC 2543 peers that send none).
    pub fn remote_tag(&self) -> &str {
        self.piece(REMOTE_TAG)
    }

    /// Our From (or To) header value, with our tag, as sent.
    pub fn local_header(&self) -> &str {
        self.piece(LOCAL_HEADER)
    }

    /// The peer's header value, with its tag, as received.
    pub fn remote_header(&self) -> &str {
        self.piece(REMOTE_HEADER)
    }

    /// Where in-dialog requests go (the peer's Contact URI).
    pub fn remote_target(&self) -> &str {
        self.piece(REMOTE_TARGET)
    }

    /// The route set: name-addr values, in the order requests visit them.
    pub fn route_set(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (FIXED..self.ends.len()).map(|i| self.piece(i))
    }

    /// Replace the remote header, remote target and route set (each
    /// `None` is kept), in one new buffer.
    fn rebuild(
        &mut self,
        remote_header: Option<&str>,
        remote_target: Option<&str>,
        routes: Option<&[&str]>,
    ) {
        let (text, ends) = {
            let old_routes: SmallVec<[&str; 4]>;
            let routes = match routes {
                Some(r) => r,
                None => {
                    old_routes = self.route_set().collect();
                    &old_routes
                }
            };
            pack(
                [
                    self.call_id(),
                    self.local_tag(),
                    self.remote_tag(),
                    self.local_header(),
                    remote_header.unwrap_or(self.remote_header()),
                    remote_target.unwrap_or(self.remote_target()),
                ],
                None,
                routes.iter().copied(),
            )
        };
        self.text = text;
        self.ends = ends;
        self.hop = OnceCell::new();
    }

    /// Replace the route set (name-addr values, in the order requests
    /// visit them).
    pub fn set_route_set<'a>(&mut self, routes: impl IntoIterator<Item = &'a str>) {
        let routes: SmallVec<[&str; 4]> = routes.into_iter().collect();
        self.rebuild(None, None, Some(&routes));
    }

    /// Replace the remote target (the URI in-dialog requests go to).
    pub fn set_remote_target(&mut self, uri: &str) {
        self.rebuild(None, Some(uri), None);
    }

    /// The next hop's address when its URI ([`Dialog::next_hop`]) names an
    /// IP literal, as `resolve` finds it: worked out once, then remembered
    /// until the route set or remote target changes.
    pub(crate) fn next_hop_addr(
        &self,
        resolve: impl FnOnce(&str) -> Option<SocketAddr>,
    ) -> Option<SocketAddr> {
        *self.hop.get_or_init(|| resolve(self.next_hop()))
    }

    /// The UAC side: a dialog created by `response` (1xx with a To tag, or
    /// 2xx) to our `request` (RFC 3261 section 12.1.2).
    pub fn from_uac_response(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        let local_tag = request
            .from_tag()
            .flatten()
            .ok_or(DialogError::BadHeader("From"))?;
        Dialog::from_uac_response_as(request, local_tag, response)
    }

    /// [`Dialog::from_uac_response`] for a caller that knows the From tag
    /// of `request` (it wrote it): the From header is not decoded again.
    pub(crate) fn from_uac_response_as(
        request: &Message,
        local_tag: &str,
        response: &Message,
    ) -> Result<Dialog, DialogError> {
        debug_assert_eq!(request.from_tag().flatten(), Some(local_tag));
        let call_id = response
            .call_id()
            .ok_or(DialogError::BadHeader("Call-ID"))?;
        let remote_tag = response
            .to_tag()
            .ok_or(DialogError::BadHeader("To"))?
            .unwrap_or("");
        let local_seq = request
            .cseq()
            .and_then(Result::ok)
            .ok_or(DialogError::BadHeader("CSeq"))?
            .seq;
        // A 2xx without Contact breaks the dialog (section 13.2.2.4 needs
        // it for the ACK); an early dialog may lack one and learn it later.
        let remote_target = contact_uri(response)
            .or_else(|| request.request_uri())
            .ok_or(DialogError::BadHeader("Contact"))?;
        let secure = request
            .request_uri()
            .is_some_and(|u| u.len() >= 5 && u[..5].eq_ignore_ascii_case("sips:"));
        let phase = if response.status().is_some_and(|s| (200..300).contains(&s)) {
            Phase::Confirmed
        } else {
            Phase::Early
        };
        let local_header = request
            .header(&HeaderName::From)
            .ok_or(DialogError::BadHeader("From"))?;
        let remote_header = response
            .header(&HeaderName::To)
            .ok_or(DialogError::BadHeader("To"))?;
        // Record-Route in reverse order (section 12.1.2).
        let mut routes: SmallVec<[&str; 4]> =
            response.header_values(&HeaderName::RecordRoute).collect();
        routes.reverse();
        Ok(Dialog::new(
            [
                call_id,
                local_tag,
                remote_tag,
                local_header,
                remote_header,
                remote_target,
            ],
            None,
            routes.iter().copied(),
            local_seq,
            None,
            secure,
            phase,
        ))
    }

    /// The UAS side: a dialog created by our response with To tag
    /// `local_tag` to `request` (RFC 3261 section 12.1.1).
    pub fn from_uas_request(request: &Message, local_tag: &str) -> Result<Dialog, DialogError> {
        let call_id = request.call_id().ok_or(DialogError::BadHeader("Call-ID"))?;
        let remote_tag = request
            .from_tag()
            .ok_or(DialogError::BadHeader("From"))?
            .unwrap_or("");
        let cseq = request
            .cseq()
            .and_then(Result::ok)
            .ok_or(DialogError::BadHeader("CSeq"))?;
        let to_raw = request
            .header(&HeaderName::To)
            .ok_or(DialogError::BadHeader("To"))?;
        let remote_header = request
            .header(&HeaderName::From)
            .ok_or(DialogError::BadHeader("From"))?;
        let remote_target = contact_uri(request).ok_or(DialogError::BadHeader("Contact"))?;
        let secure = request
            .request_uri()
            .is_some_and(|u| u.len() >= 5 && u[..5].eq_ignore_ascii_case("sips:"));
        let routes = request.header_values(&HeaderName::RecordRoute);
        // Our To is the request's, with our tag added unless it has one.
        let add_tag = request.to_tag().flatten().is_none().then_some(local_tag);
        Ok(Dialog::new(
            [
                call_id,
                local_tag,
                remote_tag,
                to_raw,
                remote_header,
                remote_target,
            ],
            add_tag,
            routes,
            0,
            Some(cseq.seq),
            secure,
            Phase::Early,
        ))
    }

    /// Build a request within the dialog (RFC 3261 section 12.2.1.1):
    /// Request-URI and Route from the remote target and route set (loose
    /// or strict routing), From/To/Call-ID of the dialog, and the next
    /// local CSeq (ACK and CANCEL reuse `cseq` given by the caller instead;
    /// pass it in `reuse_cseq`). The caller adds Via, Contact, Max-Forwards
    /// and the body.
    pub fn create_request(&mut self, method: Method, reuse_cseq: Option<u32>) -> Message {
        let seq = match reuse_cseq {
            Some(s) => s,
            None => self.next_local_seq(),
        };
        let strict_first = self.strict_first_route();
        let mut msg;
        match strict_first {
            Some(first_uri) => {
                // Strict router (RFC 2543): it goes in the Request-URI and
                // the remote target becomes the last Route entry.
                msg = Message::request(method.clone(), first_uri);
                for r in self.route_set().skip(1) {
                    msg.add_header(HeaderName::Route, r);
                }
                msg.add_header_parts(HeaderName::Route, &["<", self.remote_target(), ">"]);
            }
            None => {
                msg = Message::request(method.clone(), self.remote_target());
                for r in self.route_set() {
                    msg.add_header(HeaderName::Route, r);
                }
            }
        }
        msg.add_header(HeaderName::From, self.local_header());
        msg.add_header(HeaderName::To, self.remote_header());
        msg.add_header(HeaderName::CallId, self.call_id());
        let mut digits = crate::text::Digits::default();
        let seq = crate::text::decimal(seq, &mut digits);
        msg.add_header_parts(HeaderName::CSeq, &[seq, " ", method.as_str()]);
        msg
    }

    /// Take the CSeq number of the next request we send in the dialog:
    /// one higher than the last (section 12.2.1.1: starting anywhere below
    /// 2^31 when empty; 1 is as good as any).
    pub fn next_local_seq(&mut self) -> u32 {
        self.local_seq = self.local_seq.wrapping_add(1).max(1);
        self.local_seq
    }

    /// The URI of the first route entry when it is a strict router (no
    /// `lr`, RFC 2543): it then goes in the Request-URI (section 12.2.1.1).
    fn strict_first_route(&self) -> Option<&str> {
        self.route_set().next().and_then(|r| {
            NameAddr::parse(r).ok().and_then(|na| {
                let uri = na.uri();
                (!uri.lr()).then_some(uri.raw)
            })
        })
    }

    /// Write the request [`Dialog::create_request`] builds for `method`
    /// with CSeq number `seq`, with a Via of the concatenated `via` parts
    /// as its first header (written as given: the caller's own text, not
    /// cleaned or trimmed), straight
    /// into `out`: the request line, then the Via, Route, From, To,
    /// Call-ID and CSeq lines, each ending in CRLF. The caller adds any
    /// other header line, Content-Length, the empty line and the body.
    /// For a request sent once as it is (the ACK of a 2xx, section
    /// 13.2.2.4), which needs no owned message; the local CSeq is not
    /// changed.
    pub fn write_request(&self, method: &Method, seq: u32, via: &[&str], out: &mut Vec<u8>) {
        let strict_first = self.strict_first_route();
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        push_clean(
            out,
            trim_value(strict_first.unwrap_or(self.remote_target())),
        );
        out.extend_from_slice(b" SIP/2.0\r\n");
        out.extend_from_slice(b"Via: ");
        for part in via {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        match strict_first {
            Some(_) => {
                for r in self.route_set().skip(1) {
                    write_line(out, "Route", r);
                }
                out.extend_from_slice(b"Route: <");
                push_clean(out, self.remote_target());
                out.extend_from_slice(b">\r\n");
            }
            None => {
                for r in self.route_set() {
                    write_line(out, "Route", r);
                }
            }
        }
        write_line(out, "From", self.local_header());
        write_line(out, "To", self.remote_header());
        write_line(out, "Call-ID", self.call_id());
        out.extend_from_slice(b"CSeq: ");
        push_decimal(out, u64::from(seq));
        out.push(b' ');
        out.extend_from_slice(method.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// The URI the next hop is taken from: the first Route entry when the
    /// route set is not empty, else the remote target (RFC 3261 section
    /// 8.1.2 applied to a request built by [`Dialog::create_request`]).
    pub fn next_hop(&self) -> &str {
        match self.route_set().next() {
            Some(r) => strip_name_addr(r),
            None => self.remote_target(),
        }
    }

    /// Check the CSeq of an in-dialog request and remember it (RFC 3261
    /// section 12.2.2). ACK and CANCEL carry the CSeq of the request they
    /// refer to and are not checked.
    pub fn check_remote_cseq(&mut self, request: &Message) -> Result<(), DialogError> {
        let cseq = request
            .cseq()
            .and_then(Result::ok)
            .ok_or(DialogError::BadHeader("CSeq"))?;
        if matches!(cseq.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if let Some(last) = self.remote_seq {
            if cseq.seq <= last {
                return Err(DialogError::OutOfOrder {
                    last,
                    received: cseq.seq,
                });
            }
        }
        self.remote_seq = Some(cseq.seq);
        Ok(())
    }

    /// Take the Contact of a target refresh request or its 2xx as the new
    /// remote target (RFC 3261 section 12.2.1.2 and 12.2.2).
    pub fn refresh_remote_target(&mut self, msg: &Message) {
        if let Some(t) = self.new_target(msg) {
            if t != self.remote_target() {
                self.set_remote_target(t);
            }
        }
    }

    /// The confirming 2xx of an early dialog: it becomes confirmed, takes
    /// the route set and remote target of the 2xx (RFC 3261 section
    /// 12.1.2 and 13.2.2.4).
    pub fn confirm_with(&mut self, response: &Message) {
        self.phase = Phase::Confirmed;
        let mut routes: SmallVec<[&str; 4]> =
            response.header_values(&HeaderName::RecordRoute).collect();
        routes.reverse();
        let header = response.header(&HeaderName::To);
        let target = self.new_target(response);
        // Usually nothing changed from the early dialog's 1xx.
        if header.is_some_and(|h| h != self.remote_header())
            || target.is_some_and(|t| t != self.remote_target())
            || !routes.iter().copied().eq(self.route_set())
        {
            self.rebuild(header, target, Some(&routes));
        }
    }

    /// Whether `request` belongs to this dialog (Call-ID, To tag = our tag,
    /// From tag = theirs).
    pub fn matches_request(&self, request: &Message) -> bool {
        let from_matches = match request.header(&HeaderName::From) {
            // The From as the dialog holds it, byte for byte, has its tag:
            // no need to decode it (peers copy it verbatim).
            Some(raw) if raw == self.remote_header() => true,
            _ => request.from_tag().flatten().unwrap_or("") == self.remote_tag(),
        };
        request.call_id() == Some(self.call_id())
            && request.to_tag().flatten() == Some(self.local_tag())
            && from_matches
    }

    /// Approximate heap bytes held by this dialog (for the memory figures).
    pub fn heap_size(&self) -> usize {
        self.text.len()
            + if self.ends.spilled() {
                self.ends.capacity() * 4
            } else {
                0
            }
    }
}

impl Dialog {
    /// The URI of `msg`'s first Contact, if any. A Contact written as
    /// exactly `<` remote target `>` (the peer repeating itself, as a 2xx
    /// after a 1xx does) names the target the dialog holds, which was
    /// decoded when it was learnt: it is not decoded again.
    fn new_target<'m>(&self, msg: &'m Message) -> Option<&'m str> {
        if let Some(raw) = msg.header(&HeaderName::Contact) {
            let same = raw
                .strip_prefix('<')
                .and_then(|r| r.strip_suffix('>'))
                .is_some_and(|uri| uri == self.remote_target());
            if same {
                let uri = &raw[1..raw.len() - 1];
                return Some(uri);
            }
        }
        contact_uri(msg)
    }
}

/// The URI of the first Contact, if any.
pub(crate) fn contact_uri(msg: &Message) -> Option<&str> {
    use crate::message::Contact;
    msg.contacts().find_map(|c| match c {
        Ok(Contact::Address(na)) => Some(na.uri().raw),
        _ => None,
    })
}

/// `<sip:p1.example.com;lr>` or `"x" <sip:..>;p` gives `sip:p1.example.com;lr`;
/// a bare URI is returned as is.
pub(crate) fn strip_name_addr(value: &str) -> &str {
    match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.trim(),
    }
}

#[cfg(test)]
mod tests;
