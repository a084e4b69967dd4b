//! The client side: answering 401 and 407 challenges (RFC 3261 section
//! 22.2 and 22.3, RFC 7616 section 3.4, RFC 8760 section 2.4).

use tracing::{debug, warn};

use super::digest::{self, Algorithm, DigestInput, Qop};
use super::header::{
    find_param, parse_params, write_quoted, Challenge, DigestResponse, HeaderError,
};
use super::{AuthError, AuthHeader, AuthKind, Credentials, DigestRequest};
use crate::Random;

/// Client policy.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Choose `auth-int` when a challenge offers both `auth` and `auth-int`.
    /// Off by default: `auth` is what every server accepts, and a proxy
    /// that rewrites the body (SDP of a B2BUA) breaks `auth-int`.
    pub prefer_auth_int: bool,
    /// Accept MD5 and MD5-sess challenges. On by default since most
    /// deployed servers still offer only MD5 (RFC 8760 keeps it for
    /// backward compatibility).
    pub allow_md5: bool,
    /// How many `stale=true` retries in a row are answered for one realm
    /// before giving up.
    pub max_stale_retries: u8,
    /// How many realms' nonce state is kept; the least recently used is
    /// forgotten beyond that, so hostile peers cannot grow it.
    pub max_realms: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            prefer_auth_int: false,
            allow_md5: true,
            max_stale_retries: 2,
            max_realms: 16,
        }
    }
}

/// What the client remembers of one realm's current nonce.
#[derive(Clone, Debug)]
struct Session {
    kind: AuthKind,
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// Echo `algorithm=` only if the challenge named one (some old servers
    /// choke on parameters they did not send).
    algorithm_explicit: bool,
    /// The qop options offered (None: RFC 2069 mode).
    qop_offered: Option<(bool /* auth */, bool /* auth-int */)>,
    userhash: bool,
    /// Last nonce count sent with this nonce.
    nc: u32,
    /// Client nonce fixed for the nonce's lifetime with `-sess` algorithms,
    /// whose session key depends on it (RFC 7616 section 3.4.2).
    sess_cnonce: Option<String>,
    stale_retries: u8,
    /// Times this nonce was answered again for requests that carried no
    /// credentials for the realm.
    reuses: u8,
    last_used: u64,
}

/// See [`ClientAuth::respond`]: how often one nonce is answered again for
/// requests that carried no credentials.
const MAX_REUSES_WITHOUT_CREDENTIALS: u8 = 8;

/// Per-party digest client state: the current nonce, nonce count and
/// client nonce of each realm that challenged us.
///
/// [`ClientAuth::respond`] never answers the same challenge twice and
/// refuses a challenge to a request that already carried credentials for
/// that realm unless the server said `stale=true`; so a caller that resends
/// whenever it gets `Ok` terminates.
#[derive(Debug, Default)]
pub struct ClientAuth {
    config: ClientConfig,
    sessions: Vec<Session>,
    tick: u64,
}

impl ClientAuth {
    /// A client with the given policy.
    pub fn new(config: ClientConfig) -> Self {
        ClientAuth {
            config,
            sessions: Vec::new(),
            tick: 0,
        }
    }

    /// Answers a 401 or 407.
    ///
    /// - `challenges`: every value of the response's `WWW-Authenticate`
    ///   (for [`AuthKind::Www`]) or `Proxy-Authenticate` headers, in order;
    ///   one value may hold several challenges.
    /// - `sent`: the `Authorization` / `Proxy-Authorization` values the
    ///   challenged request carried (empty if none). This is how a refusal
    ///   of our credentials is told apart from a first challenge, and what
    ///   makes the retry loop finite: a challenge to a request that carried
    ///   credentials for the realm is answered only with `stale=true` and a
    ///   new nonce, at most `max_stale_retries` times in a row; the same
    ///   nonce again is [`AuthError::AlreadyTried`].
    /// - `request`: method, Request-URI and body of the request to resend.
    ///
    /// The challenge answered is the topmost usable one whose realm the
    /// credentials match (RFC 8760 section 2.4: servers list their
    /// preferred algorithm first). The caller replaces the request's
    /// credentials header for [`AuthHeader::realm`] with the result, bumps
    /// the CSeq and resends.
    pub fn respond<'v>(
        &mut self,
        creds: &Credentials,
        kind: AuthKind,
        challenges: impl IntoIterator<Item = &'v str>,
        sent: impl IntoIterator<Item = &'v str>,
        request: &DigestRequest<'_>,
        rng: &mut dyn Random,
    ) -> Result<AuthHeader, AuthError> {
        let values: Vec<&str> = challenges.into_iter().collect();
        let sent: Vec<&str> = sent.into_iter().collect();
        let chosen = self.select(creds, &values)?;
        // select() returns at least one challenge.
        let first = chosen.first().ok_or(AuthError::Unsupported)?;
        self.answer(creds, kind, first, &sent, request, rng)
    }

    /// Like [`respond`](Self::respond), but answers every challenged realm
    /// the credentials match (a forking proxy may aggregate challenges of
    /// several realms, RFC 3261 section 22.3), and returns the complete set
    /// of credentials headers of `kind` for the resent request: the new
    /// answers, plus each credentials value of `sent` for a realm not
    /// challenged this time, refreshed with the next nonce count (a strict
    /// server would take the old count for a replay) or, if this client
    /// does not know that realm's nonce, kept as it was. The caller
    /// replaces all of the request's `kind` credentials headers with these.
    pub fn respond_all<'v>(
        &mut self,
        creds: &Credentials,
        kind: AuthKind,
        challenges: impl IntoIterator<Item = &'v str>,
        sent: impl IntoIterator<Item = &'v str>,
        request: &DigestRequest<'_>,
        rng: &mut dyn Random,
    ) -> Result<Vec<AuthHeader>, AuthError> {
        let values: Vec<&str> = challenges.into_iter().collect();
        let sent: Vec<&str> = sent.into_iter().collect();
        let chosen = self.select(creds, &values)?;
        let mut out = Vec::with_capacity(chosen.len() + sent.len());
        for c in &chosen {
            out.push(self.answer(creds, kind, c, &sent, request, rng)?);
        }
        for v in &sent {
            let parsed = DigestResponse::parse(v).ok();
            let realm = parsed.as_ref().and_then(|r| r.realm()).unwrap_or_default();
            if out.iter().any(|h| h.realm == realm) {
                continue;
            }
            let session = self.position(kind, realm).filter(|&i| {
                creds.matches_realm(realm)
                    && parsed.as_ref().and_then(|r| r.nonce()) == Some(&self.sessions[i].nonce)
            });
            let header = match session {
                Some(i) => {
                    self.tick += 1;
                    self.sessions[i].last_used = self.tick;
                    let prefer = self.config.prefer_auth_int;
                    compute(prefer, &mut self.sessions[i], creds, request, rng)
                }
                None => AuthHeader {
                    kind,
                    realm: realm.to_owned(),
                    value: (*v).to_owned(),
                },
            };
            out.push(header);
        }
        Ok(out)
    }

    /// Answers one challenge, after the checks that keep a caller from
    /// looping.
    fn answer(
        &mut self,
        creds: &Credentials,
        kind: AuthKind,
        challenge: &Challenge<'_>,
        sent: &[&str],
        request: &DigestRequest<'_>,
        rng: &mut dyn Random,
    ) -> Result<AuthHeader, AuthError> {
        // select() only returns challenges with realm and nonce.
        let realm = challenge.realm().unwrap_or_default().to_owned();
        let nonce = challenge.nonce().unwrap_or_default();
        let stale = challenge.stale();

        let previous_nonce = sent
            .iter()
            .filter_map(|v| DigestResponse::parse(v).ok())
            .find(|r| r.0.is_digest() && r.realm() == Some(realm.as_str()))
            .map(|r| r.nonce().unwrap_or_default().to_owned());

        let existing = self.position(kind, &realm);
        if let Some(prev) = &previous_nonce {
            // The request carried our credentials for this realm.
            if prev == nonce {
                warn!(%realm, "challenged again with the nonce we answered");
                return Err(AuthError::AlreadyTried { realm });
            }
            // RFC 3261 section 22.2: refused credentials are not retried;
            // only stale=true says they were right (RFC 7616 section 3.3).
            if !stale {
                warn!(%realm, "credentials rejected");
                return Err(AuthError::Rejected { realm });
            }
            let retries = existing.map_or(0, |i| self.sessions[i].stale_retries);
            if retries >= self.config.max_stale_retries {
                warn!(%realm, retries, "too many stale nonces");
                return Err(AuthError::TooManyStale { realm });
            }
        } else if let Some(i) = existing {
            // A request without our credentials drew a nonce we already
            // use: servers whose nonce is a function of the current second
            // (Kamailio) do this for requests sent close together. It is
            // answered with the next nonce count. A caller that wrongly
            // passes no `sent` could loop on it, so the reuse is bounded.
            let s = &self.sessions[i];
            if s.nonce == nonce && s.reuses >= MAX_REUSES_WITHOUT_CREDENTIALS {
                warn!(%realm, "same challenge again and again; not answering");
                return Err(AuthError::AlreadyTried { realm });
            }
        }

        let stale_retries = match (previous_nonce.is_some(), existing) {
            (true, Some(i)) => self.sessions[i].stale_retries + 1,
            (true, None) => 1,
            (false, _) => 0,
        };
        let prefer_auth_int = self.config.prefer_auth_int;
        let session = self.adopt(kind, &realm, challenge, stale_retries);
        debug!(%realm, nonce, stale, algorithm = %session.algorithm, "answering challenge");
        Ok(compute(prefer_auth_int, session, creds, request, rng))
    }

    /// Credentials for a new request to the same server, reusing each
    /// known nonce of `kind` with the next nonce count (RFC 3261 section
    /// 22.3 allows this pre-emptive use; RFC 7616 section 3.4 requires the
    /// count to grow). Saves a round trip on REGISTER refreshes. Only
    /// realms the credentials match are answered.
    pub fn preemptive(
        &mut self,
        creds: &Credentials,
        kind: AuthKind,
        request: &DigestRequest<'_>,
        rng: &mut dyn Random,
    ) -> Vec<AuthHeader> {
        let prefer_auth_int = self.config.prefer_auth_int;
        self.tick += 1;
        let tick = self.tick;
        self.sessions
            .iter_mut()
            .filter(|s| s.kind == kind && creds.matches_realm(&s.realm))
            .map(|s| {
                s.last_used = tick;
                compute(prefer_auth_int, s, creds, request, rng)
            })
            .collect()
    }

    /// Processes the `Authentication-Info` of a response (RFC 3261
    /// section 20.6, RFC 7616 section 3.5) to a request that carried the
    /// credentials value `sent`. Checks `rspauth` if present, which proves
    /// the server knows the password, and adopts `nextnonce` for the
    /// realm's next request (see [`preemptive`](Self::preemptive)).
    /// `response_body` is the body of that response (hashed only for
    /// `auth-int`).
    pub fn handle_authentication_info(
        &mut self,
        creds: &Credentials,
        kind: AuthKind,
        sent: &str,
        info: &str,
        response_body: &[u8],
    ) -> Result<(), AuthError> {
        let sent = DigestResponse::parse(sent).map_err(AuthError::Malformed)?;
        let params = parse_params(info).map_err(AuthError::Malformed)?;
        let realm = sent.realm().unwrap_or_default();
        let bad = || AuthError::BadRspauth {
            realm: realm.to_owned(),
        };
        if let Some(rspauth) = find_param(&params, "rspauth") {
            let algorithm = sent.algorithm().map_err(|_| bad())?;
            let qop = match sent.qop() {
                Some(Ok(q)) => q,
                _ => return Err(bad()),
            };
            let nc = match sent.nc() {
                Some(Ok(nc)) => nc,
                _ => return Err(bad()),
            };
            // The server must echo the cnonce and nc it answers.
            if find_param(&params, "cnonce").is_some_and(|c| Some(c) != sent.cnonce())
                || find_param(&params, "nc").is_some_and(|v| digest::parse_nc(v) != Some(nc))
            {
                return Err(bad());
            }
            let input = DigestInput {
                algorithm,
                username: &creds.username,
                realm,
                password: &creds.password,
                nonce: sent.nonce().unwrap_or_default(),
                cnonce: sent.cnonce(),
                nc: Some(nc),
                qop: Some(qop),
                // A2 = ":" digest-uri for rspauth.
                method: "",
                uri: sent.uri().unwrap_or_default(),
                body: response_body,
            };
            let expected = digest::response(&input);
            if !digest::constant_time_eq(
                expected.as_bytes(),
                rspauth.to_ascii_lowercase().as_bytes(),
            ) {
                warn!(%realm, "rspauth mismatch");
                return Err(bad());
            }
        }
        if let Some(next) = find_param(&params, "nextnonce") {
            if let Some(i) = self.position(kind, realm) {
                let s = &mut self.sessions[i];
                s.nonce = next.to_owned();
                s.nc = 0;
                s.sess_cnonce = None;
                s.stale_retries = 0;
                s.reuses = 0;
            }
        }
        Ok(())
    }

    /// Forgets every nonce (e.g. after the user changed the password).
    pub fn clear(&mut self) {
        self.sessions.clear();
    }

    /// The nonce count last sent for `realm`, if it has challenged us.
    pub fn nonce_count(&self, kind: AuthKind, realm: &str) -> Option<u32> {
        self.position(kind, realm).map(|i| self.sessions[i].nc)
    }

    fn position(&self, kind: AuthKind, realm: &str) -> Option<usize> {
        self.sessions
            .iter()
            .position(|s| s.kind == kind && s.realm == realm)
    }

    /// Picks the challenges to answer: for each realm the credentials
    /// match, the topmost usable challenge (RFC 8760 section 2.4), in order
    /// of appearance. Never empty on `Ok`.
    fn select<'v>(
        &self,
        creds: &Credentials,
        values: &[&'v str],
    ) -> Result<Vec<Challenge<'v>>, AuthError> {
        let mut first_error: Option<HeaderError> = None;
        let mut any = false;
        let mut unmatched_realm: Option<String> = None;
        let mut chosen: Vec<Challenge<'v>> = Vec::new();
        for v in values {
            let list = match Challenge::parse_list(v) {
                Ok(list) => list,
                Err(e) => {
                    debug!(error = %e, value = v, "skipping unreadable challenge");
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            for c in list {
                any = true;
                if !self.usable(&c) {
                    continue;
                }
                let realm = c.realm().unwrap_or_default();
                if !creds.matches_realm(realm) {
                    unmatched_realm.get_or_insert_with(|| realm.to_owned());
                } else if !chosen.iter().any(|k| k.realm() == Some(realm)) {
                    chosen.push(c);
                }
            }
        }
        if !chosen.is_empty() {
            return Ok(chosen);
        }
        Err(match (unmatched_realm, first_error, any) {
            (Some(realm), _, _) => AuthError::NoCredentials { realm },
            (None, _, true) => AuthError::Unsupported,
            (None, Some(e), false) => AuthError::Malformed(e),
            (None, None, false) => AuthError::NoChallenge,
        })
    }

    fn usable(&self, c: &Challenge<'_>) -> bool {
        if !c.0.is_digest() || c.realm().is_none() || c.nonce().is_none() {
            return false;
        }
        let Ok(alg) = c.algorithm() else {
            return false;
        };
        if !self.config.allow_md5 && matches!(alg, Algorithm::Md5 | Algorithm::Md5Sess) {
            return false;
        }
        // A qop list with neither known option cannot be answered; no qop
        // at all is RFC 2069 mode, which RFC 3261 section 22.4 still allows.
        match c.qop_options() {
            Some(mut q) => q.next().is_some(),
            None => true,
        }
    }

    /// Makes `challenge` the realm's current nonce (or keeps the session if
    /// the nonce is unchanged), evicting the least recently used realm if
    /// the table is full.
    fn adopt(
        &mut self,
        kind: AuthKind,
        realm: &str,
        challenge: &Challenge<'_>,
        stale_retries: u8,
    ) -> &mut Session {
        self.tick += 1;
        let qop_offered = challenge.qop_options().map(|opts| {
            opts.fold((false, false), |(a, i), q| match q {
                Qop::Auth => (true, i),
                Qop::AuthInt => (a, true),
            })
        });
        let mut fresh = Session {
            kind,
            realm: realm.to_owned(),
            nonce: challenge.nonce().unwrap_or_default().to_owned(),
            opaque: challenge.opaque().map(str::to_owned),
            // usable() checked the algorithm is known.
            algorithm: challenge.algorithm().unwrap_or(Algorithm::Md5),
            algorithm_explicit: challenge.has_algorithm(),
            qop_offered,
            userhash: challenge.userhash(),
            nc: 0,
            sess_cnonce: None,
            stale_retries,
            reuses: 0,
            last_used: self.tick,
        };
        let index = match self.position(kind, realm) {
            Some(i) => {
                let old = &self.sessions[i];
                if old.nonce == fresh.nonce {
                    // Same nonce: the count must keep growing (RFC 7616
                    // section 3.4), and -sess keeps its session key.
                    fresh.nc = old.nc;
                    fresh.sess_cnonce = old.sess_cnonce.clone();
                    fresh.reuses = old.reuses.saturating_add(1);
                }
                self.sessions[i] = fresh;
                i
            }
            None => {
                if self.sessions.len() >= self.config.max_realms.max(1) {
                    let oldest = self
                        .sessions
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.last_used)
                        .map_or(0, |(i, _)| i);
                    self.sessions.swap_remove(oldest);
                }
                self.sessions.push(fresh);
                self.sessions.len() - 1
            }
        };
        &mut self.sessions[index]
    }
}

fn new_cnonce(rng: &mut dyn Random) -> String {
    let mut buf = [0u8; 16];
    rng.fill_token(&mut buf);
    // fill_token writes only ASCII alphanumerics.
    String::from_utf8_lossy(&buf).into_owned()
}

/// Builds the credentials value for the next use of `s`'s nonce.
fn compute(
    prefer_auth_int: bool,
    s: &mut Session,
    creds: &Credentials,
    request: &DigestRequest<'_>,
    rng: &mut dyn Random,
) -> AuthHeader {
    let qop = s.qop_offered.map(|(auth, auth_int)| {
        if auth_int && (prefer_auth_int || !auth) {
            Qop::AuthInt
        } else {
            Qop::Auth
        }
    });
    // RFC 2069 mode has neither nc nor cnonce, unless -sess needs one.
    let cnonce = if s.algorithm.is_session() {
        Some(s.sess_cnonce.get_or_insert_with(|| new_cnonce(rng)).clone())
    } else if qop.is_some() {
        Some(new_cnonce(rng))
    } else {
        None
    };
    let nc = qop.map(|_| {
        s.nc = s.nc.saturating_add(1);
        s.nc
    });
    let input = DigestInput {
        algorithm: s.algorithm,
        username: &creds.username,
        realm: &s.realm,
        password: &creds.password,
        nonce: &s.nonce,
        cnonce: cnonce.as_deref(),
        nc,
        qop,
        method: request.method,
        uri: request.uri,
        body: request.body,
    };
    let response = digest::response(&input);

    let mut v = String::with_capacity(256);
    v.push_str("Digest username=");
    if s.userhash {
        write_quoted(
            &mut v,
            &digest::userhash(s.algorithm, &creds.username, &s.realm),
        );
    } else {
        write_quoted(&mut v, &creds.username);
    }
    v.push_str(", realm=");
    write_quoted(&mut v, &s.realm);
    v.push_str(", nonce=");
    write_quoted(&mut v, &s.nonce);
    v.push_str(", uri=");
    write_quoted(&mut v, request.uri);
    v.push_str(", response=\"");
    v.push_str(&response);
    v.push('"');
    if s.algorithm_explicit || s.algorithm != Algorithm::Md5 {
        v.push_str(", algorithm=");
        v.push_str(s.algorithm.as_str());
    }
    if let Some(c) = &cnonce {
        v.push_str(", cnonce=");
        write_quoted(&mut v, c);
    }
    if let Some(o) = &s.opaque {
        v.push_str(", opaque=");
        write_quoted(&mut v, o);
    }
    if let (Some(q), Some(nc)) = (qop, nc) {
        v.push_str(", qop=");
        v.push_str(q.as_str());
        v.push_str(", nc=");
        v.push_str(&digest::format_nc(nc));
    }
    if s.userhash {
        v.push_str(", userhash=true");
    }
    AuthHeader {
        kind: s.kind,
        realm: s.realm.clone(),
        value: v,
    }
}
