//! Fuzz entry points for digest authentication.
//!
//! [`header`] splits the input at `\n` into fields and uses them as what a
//! peer controls: challenge values a client answers, credentials a server
//! verifies, `Authentication-Info` values, and the user name, password
//! and Request-URI of a full challenge/answer/verify round trip, which
//! must succeed whenever the fields are plain printable text.

use std::time::{Duration, Instant};

use crate::auth::header::{parse_items, parse_params};
use crate::auth::{
    AuthFailure, AuthKind, Challenge, ClientAuth, ClientConfig, Credentials, DigestRequest,
    DigestResponse, ServerAuth, ServerConfig,
};
use crate::SeededRandom;

/// Decodes every accessor of a parsed challenge list and response, and
/// checks that what parsed prints to something that parses again.
fn touch(value: &str) {
    if let Ok(items) = parse_items(value) {
        for item in &items {
            let printed = item.to_string();
            assert!(
                parse_items(&printed).is_ok(),
                "a printed item parses: {printed:?}"
            );
            let _ = (item.is_digest(), item.param("realm"));
        }
    }
    let _ = parse_params(value);
    if let Ok(list) = Challenge::parse_list(value) {
        for c in &list {
            let _ = (c.realm(), c.nonce(), c.opaque(), c.algorithm());
            let _ = (c.has_algorithm(), c.stale(), c.userhash());
            if let Some(q) = c.qop_options() {
                let _ = q.count();
            }
        }
    }
    if let Ok(r) = DigestResponse::parse(value) {
        let _ = (r.username(), r.realm(), r.nonce(), r.uri(), r.response());
        let _ = (r.cnonce(), r.opaque(), r.nc(), r.qop(), r.algorithm());
        let _ = r.userhash();
    }
}

/// Plain printable text without quotes or backslashes, which any client
/// must be able to put in a quoted-string and any server must read back.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 200
        && s.bytes()
            .all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
}

/// Runs the header parsers, a client and a server on fields of `data`.
pub fn header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\n');
    let challenge = fields.next().unwrap_or("");
    let authorization = fields.next().unwrap_or("");
    let info = fields.next().unwrap_or("");
    let username = fields.next().unwrap_or("alice");
    let password = fields.next().unwrap_or("secret");
    let uri = fields.next().unwrap_or("sip:bob@127.0.0.1");
    let step = u64::from(data.first().copied().unwrap_or(0));

    for v in [challenge, authorization, info] {
        touch(v);
    }

    let epoch = Instant::now();
    let mut now = epoch;
    let mut rng = SeededRandom::new(7);
    let mut config = ServerConfig::new("example.com");
    config.max_tracked_nonces = 2;
    config.nonce_lifetime = Duration::from_secs(30);
    let mut server = ServerAuth::new(config, &mut rng, epoch);
    let mut client = ClientAuth::new(ClientConfig::default());
    let creds = Credentials::new(username, password);
    let request = DigestRequest {
        method: "INVITE",
        uri,
        body: info.as_bytes(),
    };

    // Credentials straight from the wire.
    let _ = server.verify(now, &request, authorization, |_, _| {
        Some(password.to_owned())
    });
    // A challenge straight from the wire, answered and then verified.
    if let Ok(h) = client.respond(
        &creds,
        AuthKind::Www,
        [challenge],
        [authorization],
        &request,
        &mut rng,
    ) {
        let _ = server.verify(now, &request, &h.value, |_, _| Some(password.to_owned()));
        let _ = client.handle_authentication_info(&creds, AuthKind::Www, &h.value, info, b"");
    }

    // The full round trip, several times with clock steps from the input.
    let usable = plain(username) && plain(password) && plain(uri);
    for round in 0..4u64 {
        now += Duration::from_millis(step * round * 97);
        let challenges = server.challenge(now);
        let sent: [&str; 0] = [];
        let answer = client.respond(
            &creds,
            AuthKind::Www,
            challenges.iter().map(String::as_str),
            sent,
            &request,
            &mut rng,
        );
        let Ok(answer) = answer else {
            assert!(!usable, "client refused our own challenge: {answer:?}");
            continue;
        };
        let verified = server.verify(now, &request, &answer.value, |u, _| {
            (u == username).then(|| password.to_owned())
        });
        if usable {
            // With a replay table of two, a nonce issued in the same
            // millisecond as an evicted one counts as stale, by design.
            let verified = match verified {
                Ok(v) => v,
                Err(AuthFailure::Stale) => continue,
                Err(e) => panic!("a correct answer fails to verify: {e}"),
            };
            let info_value = server.authentication_info(now, &verified, b"", round % 2 == 0);
            client
                .handle_authentication_info(&creds, AuthKind::Www, &answer.value, &info_value, b"")
                .expect("our own rspauth checks out");
            // The same credentials again are refused.
            let again = server.verify(now, &request, &answer.value, |_, _| {
                Some(password.to_owned())
            });
            assert!(
                matches!(again, Err(AuthFailure::Replay | AuthFailure::Stale)),
                "a replay was accepted: {again:?}"
            );
        }
        assert!(server.tracked_nonces() <= 2, "replay table beyond its cap");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_wire_values() {
        header(b"Digest realm=\"x\", nonce=\"abc\", qop=\"auth\"\nDigest username=\"a\", realm=\"example.com\", nonce=\"00\", uri=\"sip:b\", response=\"0\", nc=00000001, cnonce=\"c\", qop=auth\nqop=auth, rspauth=\"00\"\nalice\nsecret\nsip:bob@127.0.0.1");
        header(b"");
        header(b"\n\n\n\n\n");
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            header(&data);
        }
    }
}
