//! Transaction matching keys (RFC 3261 sections 17.1.3 and 17.2.3).

use std::hash::{BuildHasher, Hasher};

use smallvec::SmallVec;

use super::stateless::TopVia;
use crate::message::{HeaderName, Message, Method, Via};
use crate::text::{decimal, Digits};

/// The RFC 3261 branch prefix: a branch that starts with it was built by
/// an RFC 3261 element and is unique per transaction (section 8.1.1.7).
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";

/// Which matching rule a [`Key`] follows. Client and server keys live in
/// one map; the kind keeps them apart (a UA talking to itself through a
/// loop must not match its own request with its own client transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Section 17.1.3: the top Via branch and the CSeq method of the
    /// response. `text` is the branch.
    Client,
    /// Section 17.2.3: the top Via branch, its sent-by (host lower-cased,
    /// port defaulted) and the method, where ACK stands for INVITE. `text`
    /// is `branch NUL host:port`.
    Server,
    /// Section 17.2.3's RFC 2543 fallback for a branch without the magic
    /// cookie: Request-URI, From tag, Call-ID, CSeq number and the whole top
    /// Via, joined by LF, with ACK standing for INVITE. (The To tag is left
    /// out: it is the one field in which an ACK legitimately differs from
    /// its INVITE.)
    Rfc2543,
}

/// Key text: inline up to this many bytes (a generated branch and an IPv4
/// sent-by fit), so building a key usually allocates nothing.
type Text = SmallVec<[u8; 48]>;

/// What a transaction is found by: the matching rule, the method and the
/// fields the rule compares, as one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) kind: Kind,
    pub(crate) method: Method,
    text: Text,
}

/// A [`Key`] borrowed, possibly from a message being matched, so a lookup
/// needs no allocation. It hashes as the `Key` it borrows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyRef<'a> {
    kind: Kind,
    method: &'a Method,
    text: &'a [u8],
}

impl<'a> KeyRef<'a> {
    /// The key of a client transaction or a response to it.
    pub(crate) fn client(branch: &'a str, method: &'a Method) -> Self {
        KeyRef {
            kind: Kind::Client,
            method,
            text: branch.as_bytes(),
        }
    }

    /// The keyed hash of this key under `state`: one word for the rule and
    /// method, then the text in one write, so SipHash runs over as few
    /// bytes, in as few calls, as the key has.
    pub(crate) fn hash_with(&self, state: &impl BuildHasher) -> u64 {
        let mut h = state.build_hasher();
        h.write_u64((self.kind as u64) << 8 | u64::from(method_code(self.method)));
        h.write(self.text);
        h.finish()
    }
}

/// A small number per standard method (extensions share one; equal keys
/// still hash alike, and the full key is compared on lookup).
fn method_code(method: &Method) -> u8 {
    match method {
        Method::Invite => 1,
        Method::Ack => 2,
        Method::Bye => 3,
        Method::Cancel => 4,
        Method::Register => 5,
        Method::Options => 6,
        Method::Info => 7,
        Method::Message => 8,
        Method::Update => 9,
        Method::Prack => 10,
        Method::Subscribe => 11,
        Method::Notify => 12,
        Method::Refer => 13,
        Method::Publish => 14,
        _ => 0,
    }
}

/// The method a request is matched under: ACK finds its INVITE.
fn match_method(method: &Method) -> Method {
    match method {
        Method::Ack => Method::Invite,
        m => m.clone(),
    }
}

impl Key {
    /// The borrowed form, for hashing and comparing.
    pub(crate) fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            kind: self.kind,
            method: &self.method,
            text: &self.text,
        }
    }

    /// A client transaction's key from its branch and method.
    pub(crate) fn new_client(branch: &str, method: Method) -> Key {
        Key {
            kind: Kind::Client,
            method,
            text: Text::from_slice(branch.as_bytes()),
        }
    }

    /// The key of a client transaction or of a response to one; `None` if
    /// the top Via has no branch or the CSeq is missing.
    pub(crate) fn client(msg: &Message) -> Option<Key> {
        let via = msg.top_via()?.ok()?;
        Self::client_from_via(&via, msg)
    }

    /// [`Key::client`] with the top Via already decoded.
    pub(crate) fn client_from_via(via: &Via<'_>, msg: &Message) -> Option<Key> {
        let branch = via.branch()?;
        let method = msg.cseq()?.ok()?.method;
        Some(Key::new_client(branch, method))
    }

    /// The key of a request arriving at a server, under `method` (pass the
    /// request's own method, or INVITE to find what a CANCEL cancels).
    #[cfg(test)]
    pub(crate) fn server(request: &Message, method: &Method) -> Option<Key> {
        let via = request.top_via()?.ok()?;
        Self::server_from_via(&super::stateless::TopVia::new(via), request, method)
    }

    /// [`Key::server`] with the top Via already decoded.
    pub(crate) fn server_from_via(
        top: &TopVia<'_>,
        request: &Message,
        method: &Method,
    ) -> Option<Key> {
        let method = match_method(method);
        let via = &top.via;
        match top.branch {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => {
                let port = via.port.unwrap_or_else(|| default_port(via.transport));
                let mut digits = Digits::default();
                let digits = decimal(port, &mut digits);
                let mut text = Text::new();
                text.reserve(branch.len() + 1 + via.host.len() + 1 + digits.len());
                text.extend_from_slice(branch.as_bytes());
                text.push(0);
                text.extend(via.host.bytes().map(|b| b.to_ascii_lowercase()));
                text.push(b':');
                text.extend_from_slice(digits.as_bytes());
                Some(Key {
                    kind: Kind::Server,
                    method,
                    text,
                })
            }
            _ => {
                let from_tag = request.from_tag().flatten().unwrap_or_default();
                let seq = request.cseq()?.ok()?.seq;
                let mut digits = Digits::default();
                let fields = [
                    request.request_uri()?,
                    from_tag,
                    request.call_id()?,
                    decimal(seq, &mut digits),
                    request.header_values(&HeaderName::Via).next()?,
                ];
                let mut text = Text::new();
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        text.push(b'\n');
                    }
                    text.extend_from_slice(f.as_bytes());
                }
                Some(Key {
                    kind: Kind::Rfc2543,
                    method,
                    text,
                })
            }
        }
    }
}

fn default_port(transport: &str) -> u16 {
    if transport.eq_ignore_ascii_case("tls") {
        5061
    } else {
        5060
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Message {
        Message::parse(text.replace('\n', "\r\n").as_bytes()).expect("test message parses")
    }

    const INVITE: &str = "INVITE sip:bob@127.0.0.1 SIP/2.0\n\
        Via: SIP/2.0/UDP Host.Example:5060;branch=z9hG4bK776\n\
        From: <sip:alice@127.0.0.1>;tag=1928\n\
        To: <sip:bob@127.0.0.1>\n\
        Call-ID: a84b4c76e66710\n\
        CSeq: 314159 INVITE\n\
        Max-Forwards: 70\n\
        Content-Length: 0\n\n";

    #[test]
    fn rfc3261_17_2_3_ack_and_cancel_match_their_invite() {
        let invite = msg(INVITE);
        let ack = msg(&INVITE
            .replace("INVITE sip", "ACK sip")
            .replace("314159 INVITE", "314159 ACK")
            .replace("To: <sip:bob@127.0.0.1>", "To: <sip:bob@127.0.0.1>;tag=x")
            .replace("Host.Example:5060", "host.example"));
        let cancel = msg(&INVITE
            .replace("INVITE sip", "CANCEL sip")
            .replace("314159 INVITE", "314159 CANCEL"));
        let k = Key::server(&invite, &Method::Invite).unwrap();
        assert_eq!(
            Key::server(&ack, &Method::Ack).unwrap(),
            k,
            "sent-by compared case-insensitively, port defaulted"
        );
        assert_ne!(Key::server(&cancel, &Method::Cancel).unwrap(), k);
        assert_eq!(Key::server(&cancel, &Method::Invite).unwrap(), k);
        let other_sender = msg(&INVITE.replace("Host.Example:5060", "host.example:5070"));
        assert_ne!(Key::server(&other_sender, &Method::Invite).unwrap(), k);
    }

    #[test]
    fn rfc3261_17_2_3_rfc2543_fallback() {
        let old = INVITE.replace(";branch=z9hG4bK776", ";branch=1234");
        let invite = msg(&old);
        let k = Key::server(&invite, &Method::Invite).unwrap();
        assert_eq!(k.kind, Kind::Rfc2543);
        let ack = msg(&old
            .replace("INVITE sip", "ACK sip")
            .replace("314159 INVITE", "314159 ACK")
            .replace("To: <sip:bob@127.0.0.1>", "To: <sip:bob@127.0.0.1>;tag=x"));
        assert_eq!(Key::server(&ack, &Method::Ack).unwrap(), k);
        let next = msg(&old.replace("314159 INVITE", "314160 INVITE"));
        assert_ne!(Key::server(&next, &Method::Invite).unwrap(), k);
        let no_branch = msg(&INVITE.replace(";branch=z9hG4bK776", ""));
        assert_eq!(
            Key::server(&no_branch, &Method::Invite).map(|k| k.kind),
            Some(Kind::Rfc2543)
        );
    }

    #[test]
    fn rfc3261_17_1_3_response_key_is_branch_and_cseq_method() {
        let invite = msg(INVITE);
        let ok = Message::response_to(&invite, 200, Some("t"));
        assert_eq!(Key::client(&ok), Key::client(&invite));
        assert_eq!(
            Key::client(&ok),
            Some(Key::new_client("z9hG4bK776", Method::Invite))
        );
    }
}
