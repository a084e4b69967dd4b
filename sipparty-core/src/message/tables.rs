//! Byte classes of the RFC 3261 section 25 grammar, as `const` 256-entry
//! tables. Each table sits beside the ABNF rule it encodes.

/// Build a class from ranges of ASCII letters/digits and a list of extra bytes.
const fn class(alnum: bool, extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    if alnum {
        let mut c = b'0';
        while c <= b'9' {
            t[c as usize] = true;
            c += 1;
        }
        let mut c = b'a';
        while c <= b'z' {
            t[c as usize] = true;
            t[(c - 32) as usize] = true;
            c += 1;
        }
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// ```text
/// token = 1*(alphanum / "-" / "." / "!" / "%" / "*"
///          / "_" / "+" / "`" / "'" / "~" )
/// ```
pub(crate) const TOKEN: [bool; 256] = class(true, b"-.!%*_+`'~");

/// ```text
/// word = 1*(alphanum / "-" / "." / "!" / "%" / "*" /
///        "_" / "+" / "`" / "'" / "~" /
///        "(" / ")" / "<" / ">" /
///        ":" / "\" / DQUOTE /
///        "/" / "[" / "]" / "?" /
///        "{" / "}" )
/// ```
/// (Call-ID = word [ "@" word ])
pub(crate) const WORD: [bool; 256] = class(true, b"-.!%*_+`'~()<>:\\\"/[]?{}");

/// ```text
/// unreserved  = alphanum / mark
/// mark        = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
/// user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
/// user        = 1*( unreserved / escaped / user-unreserved )
/// ```
/// (`%` admitted for `escaped`, checked separately.)
pub(crate) const USER: [bool; 256] = class(true, b"-_.!~*'()&=+$,;?/%");

/// [`USER`] without `%`: a run of these that ends at `@` is a user part
/// with no escapes to check (the URI parser's fast path).
pub(crate) const USER_PLAIN: [bool; 256] = class(true, b"-_.!~*'()&=+$,;?/");

/// ```text
/// password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
/// ```
pub(crate) const PASSWORD: [bool; 256] = class(true, b"-_.!~*'()&=+$,%");

/// ```text
/// hostname    = *( domainlabel "." ) toplabel [ "." ]
/// domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
/// IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
/// ```
/// (label structure is not enforced; real traffic has underscores too.)
pub(crate) const HOST: [bool; 256] = class(true, b"-._");

/// ```text
/// param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
/// paramchar        = param-unreserved / unreserved / escaped
/// ```
/// without the `%` of `escaped`: the scan notes escapes separately so they
/// are checked only when present.
pub(crate) const URI_PARAM_PLAIN: [bool; 256] = class(true, b"[]/:&+$-_.!~*'()");

/// ```text
/// hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
/// hname / hvalue = *( hnv-unreserved / unreserved / escaped )
/// ```
/// plus `=` and `&` which separate the headers.
pub(crate) const URI_HEADERS: [bool; 256] = class(true, b"[]/?:+$-_.!~*'()%=&");

/// Header parameter values (`gen-value = token / host / quoted-string`):
/// token characters plus what hosts and IPv6 references contain.
pub(crate) const GEN_VALUE: [bool; 256] = class(true, b"-.!%*_+`'~:[]/@");

/// Characters of an absolute URI of another scheme (RFC 3986 `uric`, no
/// whitespace, no angle brackets or quotes).
pub(crate) const ABS_URI: [bool; 256] = class(true, b"-_.!~*'()%;/?:@&=+$,[]#");

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
pub(crate) const SCHEME: [bool; 256] = class(true, b"+-.");

/// Linear white space inside a header value: SP, HTAB, and the CR LF of a
/// folded line (`LWS = [*WSP CRLF] 1*WSP`).
pub(crate) const LWS: [bool; 256] = class(false, b" \t\r\n");

/// Whether every byte of `s` is a token character (and `s` is non-empty).
#[inline]
pub(crate) fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| TOKEN[b as usize])
}
