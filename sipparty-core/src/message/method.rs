//! SIP request methods (RFC 3261 section 7.1 and the extensions this stack
//! speaks: RFC 3262 PRACK, RFC 3311 UPDATE, RFC 6665 SUBSCRIBE/NOTIFY,
//! RFC 3515 REFER, RFC 3428 MESSAGE, RFC 6086 INFO, RFC 3903 PUBLISH).

use std::fmt;

/// A request method. Methods are case-sensitive (RFC 3261 section 7.1), so
/// `invite` is an extension method, not INVITE.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (RFC 3261).
    Invite,
    /// ACK (RFC 3261).
    Ack,
    /// BYE (RFC 3261).
    Bye,
    /// CANCEL (RFC 3261).
    Cancel,
    /// REGISTER (RFC 3261).
    Register,
    /// OPTIONS (RFC 3261).
    Options,
    /// INFO (RFC 6086).
    Info,
    /// MESSAGE (RFC 3428).
    Message,
    /// UPDATE (RFC 3311).
    Update,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// REFER (RFC 3515).
    Refer,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other method token, as written.
    Extension(Box<str>),
}

impl Method {
    /// The method token as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Publish => "PUBLISH",
            Method::Extension(s) => s,
        }
    }

    /// The method named by `token` (case-sensitive); unknown tokens become
    /// [`Method::Extension`]. The caller checks that `token` is a token.
    pub fn from_token(token: &str) -> Method {
        Self::known(token.as_bytes()).unwrap_or_else(|| Method::Extension(token.into()))
    }

    /// The method `token` names if it is one of the known ones (which are
    /// all tokens, so a decoder that finds one needs no class check).
    #[inline]
    pub(crate) fn known(token: &[u8]) -> Option<Method> {
        Some(match token {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            b"OPTIONS" => Method::Options,
            b"INFO" => Method::Info,
            b"MESSAGE" => Method::Message,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"REFER" => Method::Refer,
            b"PUBLISH" => Method::Publish,
            _ => return None,
        })
    }

    /// Whether the method is `s` (case-sensitive), without allocating.
    pub fn is(&self, s: &str) -> bool {
        self.as_str() == s
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_round_trip_and_case_matters() {
        for m in [
            "INVITE",
            "ACK",
            "BYE",
            "CANCEL",
            "REGISTER",
            "OPTIONS",
            "INFO",
            "MESSAGE",
            "UPDATE",
            "PRACK",
            "SUBSCRIBE",
            "NOTIFY",
            "REFER",
            "PUBLISH",
        ] {
            let method = Method::from_token(m);
            assert!(!matches!(method, Method::Extension(_)), "{m}");
            assert_eq!(method.as_str(), m);
        }
        assert_eq!(
            Method::from_token("invite"),
            Method::Extension("invite".into())
        );
        assert_eq!(Method::from_token("NEWMETHOD").to_string(), "NEWMETHOD");
    }
}
