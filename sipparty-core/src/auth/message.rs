//! Thin [`Message`] conveniences over the string-based client and server:
//! they read and write the right headers and leave the rest (CSeq, Via
//! branch, transactions) to the caller.

use std::time::Instant;

use super::{
    AuthError, AuthFailure, AuthKind, ClientAuth, Credentials, DigestRequest, DigestResponse,
    ServerAuth, Verified,
};
use crate::message::{HeaderName, Message};
use crate::Random;

impl AuthKind {
    /// The challenge header as a [`HeaderName`].
    pub fn challenge_header_name(self) -> HeaderName {
        match self {
            AuthKind::Www => HeaderName::WwwAuthenticate,
            AuthKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    /// The credentials header as a [`HeaderName`].
    pub fn credentials_header_name(self) -> HeaderName {
        match self {
            AuthKind::Www => HeaderName::Authorization,
            AuthKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

impl ClientAuth {
    /// Answers the 401/407 `challenge_response` to `request`: replaces
    /// the request's `Authorization` or `Proxy-Authorization` headers with
    /// credentials for every realm challenged (see
    /// [`respond_all`](Self::respond_all)). The caller then gives the
    /// request a new CSeq and Via branch and sends it (RFC 3261 section
    /// 22.2). An `Err` means the challenge is the final answer; the request
    /// is left unchanged.
    pub fn authorize(
        &mut self,
        creds: &Credentials,
        request: &mut Message,
        challenge_response: &Message,
        rng: &mut dyn Random,
    ) -> Result<(), AuthError> {
        let kind = challenge_response
            .status()
            .and_then(AuthKind::from_status)
            .ok_or(AuthError::NoChallenge)?;
        let (Some(method), Some(uri)) = (request.method(), request.request_uri()) else {
            return Err(AuthError::NotARequest);
        };
        let challenge_name = kind.challenge_header_name();
        let credentials_name = kind.credentials_header_name();
        // Per header line: the values are comma lists themselves.
        let headers = self.respond_all(
            creds,
            kind,
            challenge_response.headers(&challenge_name),
            request.headers(&credentials_name),
            &DigestRequest {
                method: method.as_str(),
                uri,
                body: request.body(),
            },
            rng,
        )?;
        request.remove_header(&credentials_name);
        for h in &headers {
            request.add_header(credentials_name.clone(), &h.value);
        }
        Ok(())
    }

    /// Adds credentials for every realm of either kind whose nonce this
    /// client holds (see [`preemptive`](Self::preemptive)), replacing any
    /// the request had for those realms. Returns how many were added.
    pub fn authorize_preemptive(
        &mut self,
        creds: &Credentials,
        request: &mut Message,
        rng: &mut dyn Random,
    ) -> usize {
        let (Some(method), Some(uri)) = (request.method(), request.request_uri()) else {
            return 0;
        };
        let method = method.as_str().to_owned();
        let uri = uri.to_owned();
        let body = request.body().to_vec();
        let digest_request = DigestRequest {
            method: &method,
            uri: &uri,
            body: &body,
        };
        let mut added = 0;
        for kind in [AuthKind::Www, AuthKind::Proxy] {
            let fresh = self.preemptive(creds, kind, &digest_request, rng);
            if fresh.is_empty() {
                continue;
            }
            let name = kind.credentials_header_name();
            // Keep credentials for realms we hold no nonce for.
            let kept: Vec<String> = request
                .headers(&name)
                .filter(|v| {
                    let realm = DigestResponse::parse(v)
                        .ok()
                        .and_then(|r| r.realm().map(str::to_owned));
                    !fresh.iter().any(|h| Some(&h.realm) == realm.as_ref())
                })
                .map(str::to_owned)
                .collect();
            request.remove_header(&name);
            for v in kept.iter().chain(fresh.iter().map(|h| &h.value)) {
                request.add_header(name.clone(), v);
            }
            added += fresh.len();
        }
        added
    }
}

impl ServerAuth {
    /// Verifies `request`'s credentials for this server's realm. A proxy
    /// looks through every `Proxy-Authorization` for the one in its realm
    /// (RFC 3261 section 22.3); the others belong to other proxies.
    /// [`AuthFailure::Missing`] if there is none: challenge.
    pub fn verify_request(
        &mut self,
        now: Instant,
        request: &Message,
        lookup: impl FnOnce(&str, &str) -> Option<String>,
    ) -> Result<Verified, AuthFailure> {
        let (Some(method), Some(uri)) = (request.method(), request.request_uri()) else {
            return Err(AuthFailure::Malformed("not a request"));
        };
        let name = self.config().kind.credentials_header_name();
        let realm = self.config().realm.clone();
        let value = request
            .headers(&name)
            .find(|v| {
                DigestResponse::parse(v)
                    .is_ok_and(|r| r.0.is_digest() && r.realm() == Some(realm.as_str()))
            })
            .ok_or(AuthFailure::Missing)?;
        let digest_request = DigestRequest {
            method: method.as_str(),
            uri,
            body: request.body(),
        };
        self.verify(now, &digest_request, value, lookup)
    }

    /// Adds this server's challenges to a 401/407 `response` the caller
    /// built (e.g. with `Message::response_to`), with `stale=true` after
    /// [`AuthFailure::Stale`].
    pub fn add_challenges(
        &mut self,
        now: Instant,
        response: &mut Message,
        failure: Option<AuthFailure>,
    ) {
        let stale = failure.is_some_and(AuthFailure::is_stale);
        let values = if stale {
            self.challenge_stale(now)
        } else {
            self.challenge(now)
        };
        let name = self.config().kind.challenge_header_name();
        for v in &values {
            response.add_header(name.clone(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededRandom;

    const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@example.com>\r\n\
        From: Bob <sip:bob@example.com>;tag=456248\r\n\
        Call-ID: 843817637684230@998sdasdh09\r\n\
        CSeq: 1826 REGISTER\r\n\
        Contact: <sip:bob@192.0.2.10>\r\n\
        Content-Length: 0\r\n\r\n";

    fn bob(user: &str, _realm: &str) -> Option<String> {
        (user == "bob").then(|| "zanzibar".to_owned())
    }

    // RFC 3665 section 2.1: REGISTER, 401, REGISTER with credentials, 200.
    #[test]
    fn rfc3665_section_2_1_register_with_messages() {
        let t0 = Instant::now();
        let mut rng = SeededRandom::new(5);
        let mut server =
            ServerAuth::new(super::super::ServerConfig::new("example.com"), &mut rng, t0);
        let mut client = ClientAuth::default();
        let creds = Credentials::new("bob", "zanzibar");
        let mut request = Message::parse(REGISTER.as_bytes()).unwrap();

        let failure = server.verify_request(t0, &request, bob).unwrap_err();
        assert_eq!(failure, AuthFailure::Missing);
        let mut challenge = Message::response_to(&request, 401, Some("tag1"));
        server.add_challenges(t0, &mut challenge, Some(failure));
        // Over the wire and back, as a UA would see it.
        let challenge = Message::parse(&challenge.to_bytes()).unwrap();
        assert_eq!(challenge.headers(&HeaderName::WwwAuthenticate).count(), 2);

        client
            .authorize(&creds, &mut request, &challenge, &mut rng)
            .unwrap();
        let request = Message::parse(&request.to_bytes()).unwrap();
        assert_eq!(request.headers(&HeaderName::Authorization).count(), 1);
        let ok = server.verify_request(t0, &request, bob).unwrap();
        assert_eq!(ok.username, "bob");
        assert_eq!(ok.algorithm, super::super::Algorithm::Sha256);

        // A second 401 to the authorized request is not answered again.
        let mut again = request.clone();
        assert_eq!(
            client.authorize(&creds, &mut again, &challenge, &mut rng),
            Err(AuthError::AlreadyTried {
                realm: "example.com".into()
            })
        );
        assert_eq!(again, request);

        // A refresh carries pre-emptive credentials with the next count.
        let mut refresh = Message::parse(REGISTER.as_bytes()).unwrap();
        assert_eq!(
            client.authorize_preemptive(&creds, &mut refresh, &mut rng),
            1
        );
        assert_eq!(server.verify_request(t0, &refresh, bob).unwrap().nc, 2);
    }

    #[test]
    fn proxy_finds_its_realm_among_several() {
        let t0 = Instant::now();
        let mut rng = SeededRandom::new(6);
        let mut config = super::super::ServerConfig::new("proxy-b");
        config.kind = AuthKind::Proxy;
        let mut server = ServerAuth::new(config, &mut rng, t0);
        let mut client = ClientAuth::default();
        let creds = Credentials::new("bob", "zanzibar");
        let mut request = Message::parse(REGISTER.as_bytes()).unwrap();
        request.add_header(
            HeaderName::ProxyAuthorization,
            "Digest username=\"bob\", realm=\"proxy-a\", nonce=\"x\", uri=\"sip:example.com\", response=\"00\"",
        );
        let mut challenge = Message::response_to(&request, 407, None);
        server.add_challenges(t0, &mut challenge, None);
        client
            .authorize(&creds, &mut request, &challenge, &mut rng)
            .unwrap();
        // proxy-a's credentials are kept, proxy-b's added.
        assert_eq!(request.headers(&HeaderName::ProxyAuthorization).count(), 2);
        assert!(server.verify_request(t0, &request, bob).is_ok());
        // Not a challenge at all.
        let ok = Message::response_to(&request, 200, None);
        assert_eq!(
            client.authorize(&creds, &mut request, &ok, &mut rng),
            Err(AuthError::NoChallenge)
        );
    }
}

#[cfg(test)]
mod rfc3665_tests {
    use super::*;
    use crate::SeededRandom;

    // RFC 3665 section 2.1, F1 and F2 (the challenge is folded over three
    // lines, has an empty opaque and stale=FALSE).
    const F1: &str = "REGISTER sips:ss2.biloxi.example.com SIP/2.0\r\n\
        Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7\r\n\
        Max-Forwards: 70\r\n\
        From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl\r\n\
        To: Bob <sips:bob@biloxi.example.com>\r\n\
        Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\n\
        CSeq: 1 REGISTER\r\n\
        Contact: <sips:bob@client.biloxi.example.com>\r\n\
        Content-Length: 0\r\n\r\n";
    const F2: &str = "SIP/2.0 401 Unauthorized\r\n\
        Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7\r\n \
        ;received=192.0.2.201\r\n\
        From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl\r\n\
        To: Bob <sips:bob@biloxi.example.com>;tag=1410948204\r\n\
        Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\n\
        CSeq: 1 REGISTER\r\n\
        WWW-Authenticate: Digest realm=\"atlanta.example.com\", qop=\"auth\",\r\n \
        nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\",\r\n \
        opaque=\"\", stale=FALSE, algorithm=MD5\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn rfc3665_section_2_1_f2_folded_challenge() {
        let mut request = Message::parse(F1.as_bytes()).unwrap();
        let challenge = Message::parse(F2.as_bytes()).unwrap();
        let mut rng = SeededRandom::new(3665);
        let mut client = ClientAuth::default();
        let creds = Credentials::new("bob", "zanzibar");
        client
            .authorize(&creds, &mut request, &challenge, &mut rng)
            .unwrap();
        let value = request.header(&HeaderName::Authorization).unwrap();
        let r = DigestResponse::parse(value).unwrap();
        assert_eq!(r.realm(), Some("atlanta.example.com"));
        assert_eq!(r.nonce(), Some("ea9c8e88df84f1cec4341ae6cbe5a359"));
        assert_eq!(r.uri(), Some("sips:ss2.biloxi.example.com"));
        // The empty opaque is echoed, the explicit algorithm too.
        assert_eq!(r.opaque(), Some(""));
        assert!(value.contains("opaque=\"\""));
        assert_eq!(r.0.param("algorithm"), Some("MD5"));
        let input = super::super::digest::DigestInput {
            algorithm: super::super::Algorithm::Md5,
            username: "bob",
            realm: "atlanta.example.com",
            password: "zanzibar",
            nonce: "ea9c8e88df84f1cec4341ae6cbe5a359",
            cnonce: r.cnonce(),
            nc: Some(1),
            qop: Some(super::super::Qop::Auth),
            method: "REGISTER",
            uri: "sips:ss2.biloxi.example.com",
            body: b"",
        };
        assert_eq!(
            r.response(),
            Some(super::super::digest::response(&input).as_str())
        );
    }
}
