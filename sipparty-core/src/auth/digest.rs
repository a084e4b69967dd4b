//! The digest computations: `H`, `KD`, A1, A2 and the `response` value of
//! RFC 7616 section 3.4 (as adopted for SIP by RFC 3261 section 22.4 and
//! RFC 8760), plus the keyed hash the server uses to mint stateless nonces.
//!
//! Everything here is a pure function over strings and bytes; the client
//! and server state machines live in `client.rs` and `server.rs`.

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

/// A digest hash algorithm (RFC 7616 section 3.3, RFC 8760 section 2.2).
///
/// The `-sess` variants compute A1 once per nonce and client nonce
/// (RFC 7616 section 3.4.2).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when a challenge names no algorithm.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (SHA-512/256 of FIPS 180-4).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm this crate implements, strongest first: the order a
    /// server lists its challenges in (RFC 8760 section 2.3).
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// Decodes the `algorithm` parameter, case-insensitively (RFC 7616
    /// section 3.3: "algorithm" values are tokens compared without case).
    pub fn from_token(token: &str) -> Option<Algorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(token))
    }

    /// The canonical token, as registered with IANA.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether this is a `-sess` variant.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Relative strength, higher is stronger; used to rank challenges when
    /// the caller asks for the strongest rather than the topmost.
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 3,
        }
    }

    /// `H(parts[0] || parts[1] || ...)` as lowercase hex.
    pub fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex_of::<Md5>(parts),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex_of::<Sha256>(parts),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => hex_of::<Sha512_256>(parts),
        }
    }

    /// Length in hex characters of this algorithm's hash output.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 32,
            _ => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The quality of protection (RFC 7616 section 3.3).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authenticates the method and Request-URI.
    Auth,
    /// `auth-int`: also authenticates the message body.
    AuthInt,
}

impl Qop {
    /// Decodes one qop token, case-insensitively.
    pub fn from_token(token: &str) -> Option<Qop> {
        if token.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if token.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }

    /// The token as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the `response` value depends on.
///
/// `username` is the real user name (not the `userhash` form); `cnonce`,
/// `nc` and `qop` are `None` together for the RFC 2069 compatibility mode
/// (a challenge without `qop`, RFC 3261 section 22.4 and RFC 7616 section
/// 3.4.1's legacy note).
#[derive(Clone, Copy, Debug)]
pub struct DigestInput<'a> {
    /// The hash algorithm.
    pub algorithm: Algorithm,
    /// The user name, unquoted.
    pub username: &'a str,
    /// The realm, unquoted.
    pub realm: &'a str,
    /// The password.
    pub password: &'a str,
    /// The server nonce.
    pub nonce: &'a str,
    /// The client nonce (required with a qop and with `-sess` algorithms).
    pub cnonce: Option<&'a str>,
    /// The nonce count.
    pub nc: Option<u32>,
    /// The quality of protection chosen.
    pub qop: Option<Qop>,
    /// The request method (`INVITE`, `REGISTER`...).
    pub method: &'a str,
    /// The `uri` parameter: the Request-URI as sent.
    pub uri: &'a str,
    /// The message body (hashed for `auth-int`; empty if there is none).
    pub body: &'a [u8],
}

/// `H(A1)` of RFC 7616 section 3.4.2, before any `-sess` step:
/// `H(username ":" realm ":" password)`. This is what a server may store
/// instead of the password.
pub fn ha1_base(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&[
        username.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ])
}

/// `H(A1)` including the `-sess` step: for session algorithms,
/// `H(H(user:realm:pass) ":" nonce ":" cnonce)` (RFC 7616 section 3.4.2).
pub fn ha1(input: &DigestInput<'_>) -> String {
    let base = ha1_base(input.algorithm, input.username, input.realm, input.password);
    session_ha1(input.algorithm, base, input.nonce, input.cnonce)
}

/// Applies the `-sess` step to a stored `H(user:realm:pass)`; other
/// algorithms return it unchanged.
pub fn session_ha1(
    algorithm: Algorithm,
    base: String,
    nonce: &str,
    cnonce: Option<&str>,
) -> String {
    if !algorithm.is_session() {
        return base;
    }
    algorithm.hash_hex(&[
        base.as_bytes(),
        b":",
        nonce.as_bytes(),
        b":",
        cnonce.unwrap_or("").as_bytes(),
    ])
}

/// `H(A2)` of RFC 7616 section 3.4.3: `H(method ":" uri)`, or with
/// `auth-int` `H(method ":" uri ":" H(body))`.
pub fn ha2(input: &DigestInput<'_>) -> String {
    let alg = input.algorithm;
    match input.qop {
        Some(Qop::AuthInt) => {
            let body = alg.hash_hex(&[input.body]);
            alg.hash_hex(&[
                input.method.as_bytes(),
                b":",
                input.uri.as_bytes(),
                b":",
                body.as_bytes(),
            ])
        }
        _ => alg.hash_hex(&[input.method.as_bytes(), b":", input.uri.as_bytes()]),
    }
}

/// The `response` value (RFC 7616 section 3.4.1), lowercase hex.
pub fn response(input: &DigestInput<'_>) -> String {
    response_with_ha1(input, &ha1(input))
}

/// The `response` value from a precomputed `H(A1)` (already through
/// [`session_ha1`] for `-sess` algorithms).
pub fn response_with_ha1(input: &DigestInput<'_>, ha1: &str) -> String {
    let ha2 = ha2(input);
    let alg = input.algorithm;
    match input.qop {
        Some(qop) => {
            let nc = format_nc(input.nc.unwrap_or(1));
            alg.hash_hex(&[
                ha1.as_bytes(),
                b":",
                input.nonce.as_bytes(),
                b":",
                nc.as_bytes(),
                b":",
                input.cnonce.unwrap_or("").as_bytes(),
                b":",
                qop.as_str().as_bytes(),
                b":",
                ha2.as_bytes(),
            ])
        }
        // RFC 2069 compatibility: KD(H(A1), nonce ":" H(A2)).
        None => alg.hash_hex(&[
            ha1.as_bytes(),
            b":",
            input.nonce.as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
    }
}

/// The hashed user name of RFC 7616 section 3.4.4:
/// `H(username ":" realm)`.
pub fn userhash(algorithm: Algorithm, username: &str, realm: &str) -> String {
    algorithm.hash_hex(&[username.as_bytes(), b":", realm.as_bytes()])
}

/// The nonce count as sent: exactly 8 lowercase hex digits
/// (RFC 7616 section 3.4: `nc-value = 8LHEX`).
pub fn format_nc(nc: u32) -> String {
    format!("{nc:08x}")
}

/// Parses an `nc` value: 8 hex digits (either case accepted).
pub fn parse_nc(value: &str) -> Option<u32> {
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(value, 16).ok()
}

/// Compares two strings in time that depends only on their lengths, so a
/// server does not leak how much of a forged `response` was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA-256 (RFC 2104) over `parts`, used to sign server nonces.
pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner = Sha256::new_with_prefix(ipad);
    for p in parts {
        inner.update(p);
    }
    let inner = inner.finalize();
    Sha256::new_with_prefix(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex_of<D: Digest>(parts: &[&[u8]]) -> String {
    let mut h = D::new();
    for p in parts {
        h.update(p);
    }
    to_hex(&h.finalize())
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes lowercase or uppercase hex into `out`; false on any bad digit or
/// length mismatch.
pub(crate) fn from_hex(s: &str, out: &mut [u8]) -> bool {
    let s = s.as_bytes();
    if s.len() != out.len() * 2 {
        return false;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc7616_input(algorithm: Algorithm) -> DigestInput<'static> {
        DigestInput {
            algorithm,
            username: "Mufasa",
            realm: "http-auth@example.org",
            // RFC 7616 erratum 4495: lowercase "of" in this example.
            password: "Circle of Life",
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"),
            nc: Some(1),
            qop: Some(Qop::Auth),
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        }
    }

    #[test]
    fn rfc2617_section_3_5_mufasa() {
        let input = DigestInput {
            algorithm: Algorithm::Md5,
            username: "Mufasa",
            realm: "testrealm@host.com",
            password: "Circle Of Life",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            cnonce: Some("0a4f113b"),
            nc: Some(1),
            qop: Some(Qop::Auth),
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        };
        assert_eq!(response(&input), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_section_3_9_1_md5() {
        assert_eq!(
            response(&rfc7616_input(Algorithm::Md5)),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256() {
        assert_eq!(
            response(&rfc7616_input(Algorithm::Sha256)),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    // Reference values computed independently with Python's hashlib
    // (`hashlib.new("sha512_256")`, cross-checked with
    // `openssl dgst -sha512-256` on "abc"):
    //   a1 = H("Mufasa:http-auth@example.org:Circle of Life")
    //   a2 = H("GET:/dir/index.html")
    //   H(f"{a1}:{nonce}:00000001:{cnonce}:auth:{a2}")
    #[test]
    fn rfc8760_sha512_256_against_hashlib() {
        assert_eq!(
            Algorithm::Sha512_256.hash_hex(&[b"abc"]),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
        assert_eq!(
            response(&rfc7616_input(Algorithm::Sha512_256)),
            "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0"
        );
    }

    // Session algorithms with auth-int over a body, nc=2; values from
    // hashlib: a1 = H(H("alice:sip.example.com:s3cr3t") + ":abc123:xyz"),
    // a2 = H("INVITE:sip:bob@example.com:" + H(body)).
    #[test]
    fn rfc7616_section_3_4_sess_auth_int_against_hashlib() {
        let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n";
        let expected = [
            (Algorithm::Md5Sess, "5506969912ba4cc7bf377e621905baf8"),
            (
                Algorithm::Sha256Sess,
                "1321f999cf887065e8b5a30244feeb5056704c5b8798a1df10d1077355ce72be",
            ),
            (
                Algorithm::Sha512_256Sess,
                "afa1d3df7c12a7e8f56bebdea946c678d5d73332972d193c9ae2b573b7468eeb",
            ),
        ];
        for (algorithm, want) in expected {
            let input = DigestInput {
                algorithm,
                username: "alice",
                realm: "sip.example.com",
                password: "s3cr3t",
                nonce: "abc123",
                cnonce: Some("xyz"),
                nc: Some(2),
                qop: Some(Qop::AuthInt),
                method: "INVITE",
                uri: "sip:bob@example.com",
                body,
            };
            assert_eq!(response(&input), want, "{algorithm}");
            // Changing one body byte must change the response.
            let mut other = *body;
            other[0] = b'w';
            let tampered = DigestInput {
                body: &other,
                ..input
            };
            assert_ne!(response(&tampered), want);
        }
    }

    #[test]
    fn rfc2069_compatibility_without_qop() {
        let input = DigestInput {
            algorithm: Algorithm::Md5,
            username: "Mufasa",
            realm: "testrealm@host.com",
            password: "Circle Of Life",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            cnonce: None,
            nc: None,
            qop: None,
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        };
        assert_eq!(response(&input), "670fd8c2df070c60b045671b8b24ff02");
    }

    #[test]
    fn rfc7616_section_3_9_2_userhash() {
        assert_eq!(
            userhash(
                Algorithm::Sha512_256,
                "J\u{e4}s\u{f8}n Doe",
                "api@example.org"
            ),
            "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
        );
    }

    #[test]
    fn algorithm_tokens_are_case_insensitive() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_token(a.as_str()), Some(a));
            assert_eq!(Algorithm::from_token(&a.as_str().to_lowercase()), Some(a));
            assert_eq!(a.hash_hex(&[b"x"]).len(), a.hex_len());
        }
        assert_eq!(Algorithm::from_token("SHA-1"), None);
        assert_eq!(Qop::from_token("AUTH-INT"), Some(Qop::AuthInt));
    }

    #[test]
    fn nc_is_eight_hex_digits() {
        assert_eq!(format_nc(1), "00000001");
        assert_eq!(format_nc(0xabc), "00000abc");
        assert_eq!(parse_nc("0000000A"), Some(10));
        assert_eq!(parse_nc("1"), None);
        assert_eq!(parse_nc("+0000001"), None);
    }

    // Our HMAC takes a 32-byte key, so check it against Python
    // hmac.new(bytes(range(32)), b"what do ya want for nothing?", "sha256").
    #[test]
    fn hmac_sha256_against_python() {
        let mut key = [0u8; 32];
        for (i, k) in key.iter_mut().enumerate() {
            *k = i as u8;
        }
        assert_eq!(
            to_hex(&hmac_sha256(&key, &[b"what do ya ", b"want for nothing?"])),
            "099805f4ac310786968565c098db515cc50862b420ae31e20238312344bed36a"
        );
    }

    #[test]
    fn hex_round_trip() {
        let mut out = [0u8; 3];
        assert!(from_hex("00fFa1", &mut out));
        assert_eq!(out, [0, 0xff, 0xa1]);
        assert!(!from_hex("0g0000", &mut out));
        assert!(!from_hex("00", &mut out));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
