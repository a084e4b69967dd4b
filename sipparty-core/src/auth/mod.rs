//! Digest authentication (RFC 3261 section 22, RFC 7616, RFC 8760).
//!
//! - [`header`]: parsing and writing `WWW-Authenticate`,
//!   `Proxy-Authenticate`, `Authorization` and `Proxy-Authorization` values.
//! - [`digest`]: the hash computations (MD5, SHA-256, SHA-512-256 and their
//!   `-sess` variants, qop `auth` and `auth-int`).
//! - [`ClientAuth`]: answers 401/407 challenges for every request, keeping
//!   nonce counts per realm and refusing to answer the same challenge twice,
//!   so a caller that resends on every `Ok` can never loop.
//! - [`ServerAuth`]: issues challenges with self-verifying nonces that
//!   expire, verifies credentials, and detects stale nonces and replays.
//!
//! The API is string-based (header values in, header values out) so it sits
//! beside the message layer rather than on top of it.
//!
//! ## Answering a 401 or 407 from a user agent
//!
//! 1. `kind = AuthKind::from_status(status)`.
//! 2. Collect the challenge header values **per header line**
//!    (`kind.challenge_header()`); do not comma-split them, a Digest
//!    challenge is itself a comma list and one line may hold several
//!    challenges. The parser splits them correctly.
//! 3. Collect the credentials values the challenged request carried
//!    (`kind.credentials_header()`), also per line.
//! 4. Call [`ClientAuth::respond_all`] (or [`ClientAuth::respond`] for one
//!    realm). On `Ok`, replace the request's credentials headers with the
//!    result, increment the CSeq, use a new Via branch and resend
//!    (RFC 3261 section 22.2). On `Err`, the 401/407 is the final answer.
//! 5. ACK for a non-2xx and CANCEL reuse the INVITE's credentials as they
//!    are (RFC 3261 section 22.1); do not call the client for them.
//!

//! ```
//! use std::time::{Duration, Instant};
//! use sipparty_core::auth::{
//!     AuthKind, ClientAuth, Credentials, DigestRequest, ServerAuth, ServerConfig,
//! };
//! use sipparty_core::SeededRandom;
//!
//! let start = Instant::now(); // in a driver; the core itself never reads the clock
//! let mut rng = SeededRandom::new(1);
//! let mut server = ServerAuth::new(ServerConfig::new("sip.example.com"), &mut rng, start);
//! let mut client = ClientAuth::default();
//! let creds = Credentials::new("alice", "secret");
//! let request = DigestRequest { method: "REGISTER", uri: "sip:sip.example.com", body: b"" };
//!
//! // The registrar answers the first REGISTER with 401 and these challenges.
//! let challenges = server.challenge(start);
//! // The client computes the Authorization header for the resent REGISTER.
//! let answer = client
//!     .respond(&creds, AuthKind::Www, challenges.iter().map(String::as_str),
//!              std::iter::empty(), &request, &mut rng)
//!     .unwrap();
//! assert_eq!(answer.name(), "Authorization");
//!
//! // The registrar verifies it.
//! let now = start + Duration::from_secs(1);
//! let verified = server
//!     .verify(now, &request, &answer.value, |user, _realm| {
//!         (user == "alice").then(|| "secret".to_owned())
//!     })
//!     .unwrap();
//! assert_eq!(verified.username, "alice");
//!
//! // The same challenge again (say the 401 was retransmitted) is not
//! // answered twice: the caller gets an error instead of a loop.
//! assert!(client
//!     .respond(&creds, AuthKind::Www, challenges.iter().map(String::as_str),
//!              std::iter::once(answer.value.as_str()), &request, &mut rng)
//!     .is_err());
//! ```

use std::fmt;

mod client;
pub mod digest;
pub mod header;
mod message;
mod server;

pub use client::{ClientAuth, ClientConfig};
pub use digest::{Algorithm, Qop};
pub use header::{AuthItem, AuthParam, Challenge, DigestResponse, HeaderError};
pub use server::{AuthFailure, ServerAuth, ServerConfig, Verified};

/// A user's credentials for digest authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (RFC 3261: usually the user part of the AOR, but the
    /// provider decides).
    pub username: String,
    /// The password.
    pub password: String,
    /// The realm these credentials are for; `None` answers any realm.
    pub realm: Option<String>,
}

impl Credentials {
    /// Credentials for any realm.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
            realm: None,
        }
    }

    /// Restricts the credentials to one realm (RFC 3261 section 22.1: the
    /// realm tells the user which username and password to use).
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Whether these credentials may answer a challenge for `realm`.
    pub fn matches_realm(&self, realm: &str) -> bool {
        self.realm.as_deref().map_or(true, |r| r == realm)
    }
}

impl fmt::Debug for Credentials {
    // Never print the password into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("realm", &self.realm)
            .finish()
    }
}

/// Which pair of headers an exchange uses: a UAS or registrar challenges
/// with 401 and `WWW-Authenticate`, answered in `Authorization`; a proxy
/// with 407 and `Proxy-Authenticate`, answered in `Proxy-Authorization`
/// (RFC 3261 sections 22.2 and 22.3).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// 401, `WWW-Authenticate` / `Authorization`.
    Www,
    /// 407, `Proxy-Authenticate` / `Proxy-Authorization`.
    Proxy,
}

impl AuthKind {
    /// The kind a response status asks for: 401 or 407.
    pub fn from_status(status: u16) -> Option<AuthKind> {
        match status {
            401 => Some(AuthKind::Www),
            407 => Some(AuthKind::Proxy),
            _ => None,
        }
    }

    /// The status code of a challenge of this kind.
    pub fn status(self) -> u16 {
        match self {
            AuthKind::Www => 401,
            AuthKind::Proxy => 407,
        }
    }

    /// The challenge header name.
    pub fn challenge_header(self) -> &'static str {
        match self {
            AuthKind::Www => "WWW-Authenticate",
            AuthKind::Proxy => "Proxy-Authenticate",
        }
    }

    /// The credentials header name.
    pub fn credentials_header(self) -> &'static str {
        match self {
            AuthKind::Www => "Authorization",
            AuthKind::Proxy => "Proxy-Authorization",
        }
    }
}

/// A credentials header to put on the resent request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthHeader {
    /// `Authorization` or `Proxy-Authorization`.
    pub kind: AuthKind,
    /// The realm answered. A request carries one credentials header per
    /// realm: replace the one with this realm, keep the others.
    pub realm: String,
    /// The header value (`Digest username="...", ...`).
    pub value: String,
}

impl AuthHeader {
    /// The header name to set.
    pub fn name(&self) -> &'static str {
        self.kind.credentials_header()
    }
}

/// What the digest covers of the request being authorized.
#[derive(Clone, Copy, Debug)]
pub struct DigestRequest<'a> {
    /// The method (`INVITE`, `REGISTER`, ...). For ACK and CANCEL, RFC 3261
    /// section 22.1 says to reuse the INVITE's credentials as they are.
    pub method: &'a str,
    /// The Request-URI, exactly as written in the request line.
    pub uri: &'a str,
    /// The body (only hashed for qop `auth-int`).
    pub body: &'a [u8],
}

/// Why a challenge could not be answered. The caller reports the 401/407
/// to the application as the final outcome of the request.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The response carried no challenge header (or is not a 401/407).
    NoChallenge,
    /// The message to authorize is not a request.
    NotARequest,
    /// No challenge could be parsed; the first error.
    Malformed(HeaderError),
    /// No Digest challenge with an algorithm and qop this crate supports.
    Unsupported,
    /// No credentials for the realm challenged.
    NoCredentials {
        /// The realm asked for.
        realm: String,
    },
    /// The request already carried credentials for this realm and the
    /// server refused them without `stale=true`: wrong user or password
    /// (RFC 3261 section 22.2: do not retry with the same credentials).
    Rejected {
        /// The realm that refused.
        realm: String,
    },
    /// This exact challenge (same realm and nonce, not stale) was answered
    /// already; answering again would loop.
    AlreadyTried {
        /// The realm.
        realm: String,
    },
    /// The server kept answering `stale=true` with new nonces.
    TooManyStale {
        /// The realm.
        realm: String,
    },
    /// The `rspauth` of an `Authentication-Info` is wrong: the response did
    /// not come from a server that knows the password (RFC 7616
    /// section 3.5).
    BadRspauth {
        /// The realm.
        realm: String,
    },
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::NoChallenge => f.write_str("no authentication challenge in the response"),
            AuthError::NotARequest => f.write_str("only requests carry credentials"),
            AuthError::Malformed(e) => write!(f, "unreadable challenge: {e}"),
            AuthError::Unsupported => {
                f.write_str("no Digest challenge with a supported algorithm and qop")
            }
            AuthError::NoCredentials { realm } => write!(f, "no credentials for realm {realm:?}"),
            AuthError::Rejected { realm } => {
                write!(f, "credentials rejected for realm {realm:?}")
            }
            AuthError::AlreadyTried { realm } => {
                write!(
                    f,
                    "challenge for realm {realm:?} already answered; not retrying"
                )
            }
            AuthError::TooManyStale { realm } => {
                write!(f, "realm {realm:?} keeps reporting stale nonces")
            }
            AuthError::BadRspauth { realm } => {
                write!(f, "server of realm {realm:?} failed mutual authentication")
            }
        }
    }
}

impl std::error::Error for AuthError {}
