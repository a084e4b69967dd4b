//! The server side: challenges with self-verifying nonces that expire,
//! verification of credentials, stale and replay detection (RFC 3261
//! section 22.4, RFC 7616 sections 3.3, 3.4 and 5.4).
//!
//! A nonce is `hex(timestamp_ms || counter || mac)` where `mac` is the
//! first 16 bytes of HMAC-SHA-256 over the first two fields under a secret
//! drawn from [`crate::Random`] at construction. Any instance can check a
//! nonce and its age without remembering it. Only nonces that were used
//! successfully enter a bounded table, which holds the nonce counts seen
//! so that a replayed request is refused (RFC 7616 section 5.4).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use tracing::debug;

use super::digest::{self, constant_time_eq, hmac_sha256, Algorithm, DigestInput, Qop};
use super::header::{write_quoted, DigestResponse};
use super::{AuthKind, DigestRequest};
use crate::Random;

/// Server policy.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The realm challenged (RFC 3261 section 22.1: typically the domain).
    pub realm: String,
    /// 401/`WWW-Authenticate` (UAS, registrar) or 407/`Proxy-Authenticate`.
    pub kind: AuthKind,
    /// Algorithms offered, one challenge each, most preferred first
    /// (RFC 8760 section 2.3). Credentials with others are refused. Must
    /// not be empty.
    pub algorithms: Vec<Algorithm>,
    /// The qop options offered; a qop is always required in answers, so
    /// nonce counts can be checked. Must not be empty.
    pub qop: Vec<Qop>,
    /// How long a nonce stays valid after it was issued.
    pub nonce_lifetime: Duration,
    /// Require the `uri` parameter to equal the Request-URI (RFC 7616
    /// section 3.4.6). Turn off behind proxies that rewrite it.
    pub check_uri: bool,
    /// How many used nonces the replay table holds. When it is full the
    /// oldest is dropped and every nonce at least that old is then treated
    /// as stale, so the bound never opens a replay window.
    pub max_tracked_nonces: usize,
}

impl ServerConfig {
    /// A 401 challenger for `realm` offering SHA-256 then MD5 with qop
    /// `auth`, nonces valid for 5 minutes.
    pub fn new(realm: impl Into<String>) -> Self {
        ServerConfig {
            realm: realm.into(),
            kind: AuthKind::Www,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            qop: vec![Qop::Auth],
            nonce_lifetime: Duration::from_secs(300),
            check_uri: true,
            max_tracked_nonces: 4096,
        }
    }
}

/// A request whose credentials checked out.
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    /// The authenticated user name.
    pub username: String,
    /// The realm.
    pub realm: String,
    /// The algorithm the client used.
    pub algorithm: Algorithm,
    /// The qop the client used.
    pub qop: Qop,
    /// The nonce count of this request.
    pub nc: u32,
    /// What `rspauth` needs (RFC 7616 section 3.5): `H(A1)` after the
    /// `-sess` step, which is password-equivalent and so never printed.
    ha1: String,
    nonce: String,
    cnonce: String,
    uri: String,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("algorithm", &self.algorithm)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .finish_non_exhaustive()
    }
}

/// Why credentials were refused. Answer [`AuthFailure::Stale`] with
/// [`ServerAuth::challenge_stale`] and everything else with
/// [`ServerAuth::challenge`] (or 403 once the application gives up).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// The request carries no credentials for this realm: challenge it.
    Missing,
    /// The value is not Digest credentials, or a required parameter is
    /// missing or malformed; says which.
    Malformed(&'static str),
    /// Credentials for another realm.
    RealmMismatch,
    /// An algorithm or qop that was not offered, or `userhash`.
    Unsupported,
    /// The `uri` parameter is not the Request-URI.
    UriMismatch,
    /// No such user.
    UnknownUser,
    /// The response does not match: wrong password (or tampering).
    BadResponse,
    /// The response is right but the nonce expired or is not one of ours
    /// (e.g. from before a restart): challenge again with `stale=true` so
    /// the client retries without asking the user (RFC 7616 section 3.3).
    Stale,
    /// A nonce count already used with this nonce: a replayed request.
    Replay,
}

impl AuthFailure {
    /// Whether the new challenge should carry `stale=true`.
    pub fn is_stale(self) -> bool {
        self == AuthFailure::Stale
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::Missing => f.write_str("no credentials for this realm"),
            AuthFailure::Malformed(what) => write!(f, "malformed credentials: {what}"),
            AuthFailure::RealmMismatch => f.write_str("credentials for another realm"),
            AuthFailure::Unsupported => f.write_str("algorithm or qop not offered"),
            AuthFailure::UriMismatch => f.write_str("digest uri is not the Request-URI"),
            AuthFailure::UnknownUser => f.write_str("unknown user"),
            AuthFailure::BadResponse => f.write_str("wrong digest response"),
            AuthFailure::Stale => f.write_str("stale nonce"),
            AuthFailure::Replay => f.write_str("nonce count reused (replay)"),
        }
    }
}

impl std::error::Error for AuthFailure {}

const TS_LEN: usize = 8;
const SALT_LEN: usize = 8;
const MAC_LEN: usize = 16;
const NONCE_BYTES: usize = TS_LEN + SALT_LEN + MAC_LEN;

/// Nonce counts seen with one nonce: the highest, and a window of the 64
/// below it, since requests sent close together over UDP can arrive out
/// of order (the IPsec anti-replay window, RFC 4303 section 3.4.3).
#[derive(Clone, Copy, Debug)]
struct NcWindow {
    issued_ms: u64,
    highest: u32,
    seen: u64,
}

impl NcWindow {
    /// Records `nc`; false if it was seen or is too old to tell.
    fn accept(&mut self, nc: u32) -> bool {
        if nc > self.highest {
            let shift = nc - self.highest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = nc;
            return true;
        }
        let back = self.highest - nc;
        if back >= 64 || self.seen & (1 << back) != 0 {
            return false;
        }
        self.seen |= 1 << back;
        true
    }
}

/// Digest server: issues challenges and verifies credentials.
pub struct ServerAuth {
    config: ServerConfig,
    secret: [u8; 32],
    epoch: Instant,
    counter: u64,
    used: HashMap<[u8; NONCE_BYTES], NcWindow>,
    /// Nonces issued at or before this (ms since epoch) count as stale,
    /// because their replay state may have been evicted.
    stale_floor_ms: Option<u64>,
}

impl fmt::Debug for ServerAuth {
    // Keep the secret out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAuth")
            .field("config", &self.config)
            .field("used", &self.used.len())
            .finish_non_exhaustive()
    }
}

impl ServerAuth {
    /// A server with a fresh nonce secret from `rng`. `epoch` is any
    /// instant not after the first `now` passed in; nonce ages are
    /// measured from it.
    pub fn new(config: ServerConfig, rng: &mut dyn Random, epoch: Instant) -> Self {
        let mut secret = [0u8; 32];
        for chunk in secret.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
        }
        ServerAuth {
            config,
            secret,
            epoch,
            counter: rng.next_u64(),
            used: HashMap::new(),
            stale_floor_ms: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Challenge header values for a 401/407 (one per algorithm, most
    /// preferred first), all sharing one fresh nonce. Header name:
    /// `self.config().kind.challenge_header()`.
    pub fn challenge(&mut self, now: Instant) -> Vec<String> {
        self.challenges(now, false)
    }

    /// The same with `stale=true`, after [`AuthFailure::Stale`].
    pub fn challenge_stale(&mut self, now: Instant) -> Vec<String> {
        self.challenges(now, true)
    }

    /// The challenge to send after `failure`.
    pub fn challenge_after(&mut self, now: Instant, failure: AuthFailure) -> Vec<String> {
        self.challenges(now, failure.is_stale())
    }

    fn challenges(&mut self, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.new_nonce(now);
        let mut qop = String::new();
        for (i, q) in self.config.qop.iter().enumerate() {
            if i > 0 {
                qop.push(',');
            }
            qop.push_str(q.as_str());
        }
        self.config
            .algorithms
            .iter()
            .map(|alg| {
                let mut v = String::with_capacity(160);
                v.push_str("Digest realm=");
                write_quoted(&mut v, &self.config.realm);
                v.push_str(", nonce=\"");
                v.push_str(&nonce);
                v.push_str("\", algorithm=");
                v.push_str(alg.as_str());
                if !qop.is_empty() {
                    v.push_str(", qop=\"");
                    v.push_str(&qop);
                    v.push('"');
                }
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    fn ms_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn new_nonce(&mut self, now: Instant) -> String {
        self.counter = self.counter.wrapping_add(1);
        let mut raw = [0u8; NONCE_BYTES];
        raw[..TS_LEN].copy_from_slice(&self.ms_since_epoch(now).to_be_bytes());
        raw[TS_LEN..TS_LEN + SALT_LEN].copy_from_slice(&self.counter.to_be_bytes());
        let mac = hmac_sha256(&self.secret, &[&raw[..TS_LEN + SALT_LEN]]);
        raw[TS_LEN + SALT_LEN..].copy_from_slice(&mac[..MAC_LEN]);
        digest::to_hex(&raw)
    }

    /// Decodes and authenticates a nonce; its issue time if it is ours.
    fn open_nonce(&self, nonce: &str) -> Option<([u8; NONCE_BYTES], u64)> {
        let mut raw = [0u8; NONCE_BYTES];
        if !digest::from_hex(nonce, &mut raw) {
            return None;
        }
        let mac = hmac_sha256(&self.secret, &[&raw[..TS_LEN + SALT_LEN]]);
        if !constant_time_eq(&mac[..MAC_LEN], &raw[TS_LEN + SALT_LEN..]) {
            return None;
        }
        let mut ts = [0u8; TS_LEN];
        ts.copy_from_slice(&raw[..TS_LEN]);
        Some((raw, u64::from_be_bytes(ts)))
    }

    /// Verifies an `Authorization` / `Proxy-Authorization` value against
    /// the request it came with. `lookup(username, realm)` returns the
    /// user's password.
    ///
    /// The response is checked before the nonce's age, so `Stale` is only
    /// ever said to a client that knows the password (RFC 2617 section
    /// 3.2.1).
    pub fn verify(
        &mut self,
        now: Instant,
        request: &DigestRequest<'_>,
        authorization: &str,
        lookup: impl FnOnce(&str, &str) -> Option<String>,
    ) -> Result<Verified, AuthFailure> {
        self.verify_ha1(now, request, authorization, |user, realm, algorithm| {
            lookup(user, realm).map(|password| digest::ha1_base(algorithm, user, realm, &password))
        })
    }

    /// [`verify`](Self::verify) for a user database that stores
    /// `H(username ":" realm ":" password)` instead of passwords (as
    /// registrars commonly do): `lookup(username, realm, algorithm)`
    /// returns that hash, lowercase hex, for the algorithm the client used.
    pub fn verify_ha1(
        &mut self,
        now: Instant,
        request: &DigestRequest<'_>,
        authorization: &str,
        lookup: impl FnOnce(&str, &str, Algorithm) -> Option<String>,
    ) -> Result<Verified, AuthFailure> {
        let creds = DigestResponse::parse(authorization)
            .map_err(|_| AuthFailure::Malformed("credentials syntax"))?;
        if !creds.0.is_digest() {
            return Err(AuthFailure::Malformed("scheme is not Digest"));
        }
        let realm = creds.realm().ok_or(AuthFailure::Malformed("realm"))?;
        if realm != self.config.realm {
            return Err(AuthFailure::RealmMismatch);
        }
        let algorithm = creds.algorithm().map_err(|_| AuthFailure::Unsupported)?;
        if !self.config.algorithms.contains(&algorithm) || creds.userhash() {
            return Err(AuthFailure::Unsupported);
        }
        let qop = match creds.qop() {
            Some(Ok(q)) if self.config.qop.contains(&q) => q,
            Some(_) => return Err(AuthFailure::Unsupported),
            // We always offer a qop; a legacy answer without one has no
            // nonce count to protect against replays.
            None => return Err(AuthFailure::Malformed("qop")),
        };
        let nc = match creds.nc() {
            Some(Ok(nc)) if nc > 0 => nc,
            _ => return Err(AuthFailure::Malformed("nc")),
        };
        let cnonce = creds.cnonce().ok_or(AuthFailure::Malformed("cnonce"))?;
        let nonce = creds.nonce().ok_or(AuthFailure::Malformed("nonce"))?;
        let uri = creds.uri().ok_or(AuthFailure::Malformed("uri"))?;
        if self.config.check_uri && uri != request.uri {
            return Err(AuthFailure::UriMismatch);
        }
        let username = creds.username().ok_or(AuthFailure::Malformed("username"))?;
        let given = creds.response().ok_or(AuthFailure::Malformed("response"))?;
        let base = lookup(username, realm, algorithm).ok_or(AuthFailure::UnknownUser)?;
        let ha1 = digest::session_ha1(algorithm, base.to_ascii_lowercase(), nonce, Some(cnonce));

        let input = DigestInput {
            algorithm,
            username,
            realm,
            password: "",
            nonce,
            cnonce: Some(cnonce),
            nc: Some(nc),
            qop: Some(qop),
            method: request.method,
            uri,
            body: request.body,
        };
        let expected = digest::response_with_ha1(&input, &ha1);
        if !constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
            debug!(username, "digest response mismatch");
            return Err(AuthFailure::BadResponse);
        }

        let now_ms = self.ms_since_epoch(now);
        let lifetime_ms = u64::try_from(self.config.nonce_lifetime.as_millis()).unwrap_or(u64::MAX);
        let Some((key, issued_ms)) = self.open_nonce(nonce) else {
            debug!(username, "nonce not ours; answering stale");
            return Err(AuthFailure::Stale);
        };
        let expired = now_ms.saturating_sub(issued_ms) >= lifetime_ms
            || self.stale_floor_ms.is_some_and(|f| issued_ms <= f);
        if expired {
            debug!(username, "nonce expired");
            return Err(AuthFailure::Stale);
        }

        if !self.used.contains_key(&key) {
            self.make_room(now_ms, lifetime_ms);
        }
        let window = self.used.entry(key).or_insert(NcWindow {
            issued_ms,
            highest: 0,
            seen: 0,
        });
        if !window.accept(nc) {
            debug!(username, nc, "replayed nonce count");
            return Err(AuthFailure::Replay);
        }
        Ok(Verified {
            username: username.to_owned(),
            realm: realm.to_owned(),
            algorithm,
            qop,
            nc,
            ha1,
            nonce: nonce.to_owned(),
            cnonce: cnonce.to_owned(),
            uri: uri.to_owned(),
        })
    }

    /// An `Authentication-Info` value for the response to a verified
    /// request (RFC 3261 section 20.6, RFC 7616 section 3.5): `rspauth`
    /// proves to the client that the server knows its password too, and
    /// with `next_nonce` the client's following request can use a fresh
    /// nonce without another challenge. `response_body` is the body of the
    /// response being sent (hashed only for `auth-int`).
    pub fn authentication_info(
        &mut self,
        now: Instant,
        verified: &Verified,
        response_body: &[u8],
        next_nonce: bool,
    ) -> String {
        let input = DigestInput {
            algorithm: verified.algorithm,
            username: &verified.username,
            realm: &verified.realm,
            password: "",
            nonce: &verified.nonce,
            cnonce: Some(&verified.cnonce),
            nc: Some(verified.nc),
            qop: Some(verified.qop),
            // A2 = ":" digest-uri for rspauth.
            method: "",
            uri: &verified.uri,
            body: response_body,
        };
        let rspauth = digest::response_with_ha1(&input, &verified.ha1);
        let mut v = String::with_capacity(160);
        v.push_str("qop=");
        v.push_str(verified.qop.as_str());
        v.push_str(", rspauth=\"");
        v.push_str(&rspauth);
        v.push_str("\", cnonce=");
        write_quoted(&mut v, &verified.cnonce);
        v.push_str(", nc=");
        v.push_str(&digest::format_nc(verified.nc));
        if next_nonce {
            v.push_str(", nextnonce=\"");
            v.push_str(&self.new_nonce(now));
            v.push('"');
        }
        v
    }

    /// Drops expired entries; if still full, drops the oldest and raises
    /// the stale floor to its issue time.
    fn make_room(&mut self, now_ms: u64, lifetime_ms: u64) {
        let cap = self.config.max_tracked_nonces.max(1);
        if self.used.len() < cap {
            return;
        }
        self.used
            .retain(|_, w| now_ms.saturating_sub(w.issued_ms) < lifetime_ms);
        while self.used.len() >= cap {
            let Some((&key, w)) = self.used.iter().min_by_key(|(_, w)| w.issued_ms) else {
                break;
            };
            let floor = w.issued_ms;
            self.used.remove(&key);
            self.stale_floor_ms = Some(self.stale_floor_ms.map_or(floor, |f| f.max(floor)));
        }
    }

    /// How many nonces are in the replay table (for tests and metrics).
    pub fn tracked_nonces(&self) -> usize {
        self.used.len()
    }
}
