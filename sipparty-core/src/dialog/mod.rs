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

use std::fmt;

use crate::message::{HeaderName, Message, Method, NameAddr};

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

/// The state of one dialog (RFC 3261 section 12.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// The Call-ID.
    pub call_id: Box<str>,
    /// Our tag.
    pub local_tag: Box<str>,
    /// The peer's tag (empty for RFC 2543 peers that send none).
    pub remote_tag: Box<str>,
    /// Our From (or To) header value, with our tag, as sent.
    pub local_header: Box<str>,
    /// The peer's header value, with its tag, as received.
    pub remote_header: Box<str>,
    /// The last CSeq number we used (0: none yet).
    pub local_seq: u32,
    /// The last CSeq number the peer used, if any.
    pub remote_seq: Option<u32>,
    /// Where in-dialog requests go (the peer's Contact URI).
    pub remote_target: Box<str>,
    /// The route set: name-addr values, in the order requests visit them.
    pub route_set: Vec<Box<str>>,
    /// Whether the dialog was created over TLS with a `sips:` URI.
    pub secure: bool,
    /// Early or confirmed.
    pub phase: Phase,
}

impl Dialog {
    /// The UAC side: a dialog created by `response` (1xx with a To tag, or
    /// 2xx) to our `request` (RFC 3261 section 12.1.2).
    pub fn from_uac_response(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        let call_id = response
            .call_id()
            .ok_or(DialogError::BadHeader("Call-ID"))?;
        let local_tag = request
            .from_tag()
            .flatten()
            .ok_or(DialogError::BadHeader("From"))?
            .into();
        let remote_tag = response
            .to_tag()
            .ok_or(DialogError::BadHeader("To"))?
            .unwrap_or("")
            .into();
        let local_seq = request
            .cseq()
            .and_then(Result::ok)
            .ok_or(DialogError::BadHeader("CSeq"))?
            .seq;
        // Record-Route in reverse order (section 12.1.2).
        let mut route_set: Vec<Box<str>> = response
            .header_values(&HeaderName::RecordRoute)
            .map(Box::from)
            .collect();
        route_set.reverse();
        // A 2xx without Contact breaks the dialog (section 13.2.2.4 needs
        // it for the ACK); an early dialog may lack one and learn it later.
        let remote_target = contact_uri(response)
            .or_else(|| request.request_uri().map(Box::from))
            .ok_or(DialogError::BadHeader("Contact"))?;
        let secure = request
            .request_uri()
            .is_some_and(|u| u.len() >= 5 && u[..5].eq_ignore_ascii_case("sips:"));
        let phase = if response.status().is_some_and(|s| (200..300).contains(&s)) {
            Phase::Confirmed
        } else {
            Phase::Early
        };
        Ok(Dialog {
            call_id: call_id.into(),
            local_tag,
            remote_tag,
            local_header: request
                .header(&HeaderName::From)
                .ok_or(DialogError::BadHeader("From"))?
                .into(),
            remote_header: response
                .header(&HeaderName::To)
                .ok_or(DialogError::BadHeader("To"))?
                .into(),
            local_seq,
            remote_seq: None,
            remote_target,
            route_set,
            secure,
            phase,
        })
    }

    /// The UAS side: a dialog created by our response with To tag
    /// `local_tag` to `request` (RFC 3261 section 12.1.1).
    pub fn from_uas_request(request: &Message, local_tag: &str) -> Result<Dialog, DialogError> {
        let call_id = request.call_id().ok_or(DialogError::BadHeader("Call-ID"))?;
        let remote_tag: Box<str> = request
            .from_tag()
            .ok_or(DialogError::BadHeader("From"))?
            .unwrap_or("")
            .into();
        let cseq = request
            .cseq()
            .and_then(Result::ok)
            .ok_or(DialogError::BadHeader("CSeq"))?;
        let to_raw = request
            .header(&HeaderName::To)
            .ok_or(DialogError::BadHeader("To"))?;
        let remote_target = contact_uri(request).ok_or(DialogError::BadHeader("Contact"))?;
        let route_set = request
            .header_values(&HeaderName::RecordRoute)
            .map(Box::from)
            .collect();
        let secure = request
            .request_uri()
            .is_some_and(|u| u.len() >= 5 && u[..5].eq_ignore_ascii_case("sips:"));
        let local_header = if request.to_tag().flatten().is_some() {
            to_raw.into()
        } else {
            let mut h = String::with_capacity(to_raw.len() + 5 + local_tag.len());
            h.push_str(to_raw);
            h.push_str(";tag=");
            h.push_str(local_tag);
            h.into_boxed_str()
        };
        Ok(Dialog {
            call_id: call_id.into(),
            local_tag: local_tag.into(),
            remote_tag,
            local_header,
            remote_header: request
                .header(&HeaderName::From)
                .ok_or(DialogError::BadHeader("From"))?
                .into(),
            local_seq: 0,
            remote_seq: Some(cseq.seq),
            remote_target,
            route_set,
            secure,
            phase: Phase::Early,
        })
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
            None => {
                // Section 12.2.1.1: one higher than the last, starting
                // anywhere below 2^31 when empty; 1 is as good as any.
                self.local_seq = self.local_seq.wrapping_add(1).max(1);
                self.local_seq
            }
        };
        let strict_first = self.route_set.first().and_then(|r| {
            NameAddr::parse(r)
                .ok()
                .map(|na| (!na.uri().lr(), na.uri().raw.to_string()))
        });
        let mut msg;
        match strict_first {
            Some((true, first_uri)) => {
                // Strict router (RFC 2543): it goes in the Request-URI and
                // the remote target becomes the last Route entry.
                msg = Message::request(method.clone(), &first_uri);
                for r in &self.route_set[1..] {
                    msg.add_header(HeaderName::Route, r);
                }
                msg.add_header(HeaderName::Route, &format!("<{}>", self.remote_target));
            }
            _ => {
                msg = Message::request(method.clone(), &self.remote_target);
                for r in &self.route_set {
                    msg.add_header(HeaderName::Route, r);
                }
            }
        }
        msg.add_header(HeaderName::From, &self.local_header);
        msg.add_header(HeaderName::To, &self.remote_header);
        msg.add_header(HeaderName::CallId, &self.call_id);
        let mut digits = crate::text::Digits::default();
        let seq = crate::text::decimal(seq, &mut digits);
        msg.add_header_parts(HeaderName::CSeq, &[seq, " ", method.as_str()]);
        msg
    }

    /// The URI the next hop is taken from: the first Route entry when the
    /// route set is not empty, else the remote target (RFC 3261 section
    /// 8.1.2 applied to a request built by [`Dialog::create_request`]).
    pub fn next_hop(&self) -> &str {
        match self.route_set.first() {
            Some(r) => strip_name_addr(r),
            None => &self.remote_target,
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
        if let Some(t) = contact_uri(msg) {
            self.remote_target = t;
        }
    }

    /// The confirming 2xx of an early dialog: it becomes confirmed, takes
    /// the route set and remote target of the 2xx (RFC 3261 section
    /// 12.1.2 and 13.2.2.4).
    pub fn confirm_with(&mut self, response: &Message) {
        self.phase = Phase::Confirmed;
        let mut rs: Vec<Box<str>> = response
            .header_values(&HeaderName::RecordRoute)
            .map(Box::from)
            .collect();
        rs.reverse();
        self.route_set = rs;
        if let Some(h) = response.header(&HeaderName::To) {
            self.remote_header = h.into();
        }
        self.refresh_remote_target(response);
    }

    /// Whether `request` belongs to this dialog (Call-ID, To tag = our tag,
    /// From tag = theirs).
    pub fn matches_request(&self, request: &Message) -> bool {
        request.call_id() == Some(&*self.call_id)
            && request.to_tag().flatten() == Some(&*self.local_tag)
            && request.from_tag().flatten().unwrap_or("") == &*self.remote_tag
    }

    /// Approximate heap bytes held by this dialog (for the memory figures).
    pub fn heap_size(&self) -> usize {
        self.call_id.len()
            + self.local_tag.len()
            + self.remote_tag.len()
            + self.local_header.len()
            + self.remote_header.len()
            + self.remote_target.len()
            + self.route_set.iter().map(|r| r.len() + 16).sum::<usize>()
    }
}

/// The URI of the first Contact, if any.
pub(crate) fn contact_uri(msg: &Message) -> Option<Box<str>> {
    use crate::message::Contact;
    msg.contacts().find_map(|c| match c {
        Ok(Contact::Address(na)) => Some(Box::from(na.uri().raw)),
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
