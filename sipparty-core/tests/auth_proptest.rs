//! Property tests: no input from the wire makes the digest client or
//! server panic, and the client never answers one challenge twice.

use std::time::Instant;

use proptest::prelude::*;
use sipparty_core::auth::{
    AuthKind, ClientAuth, Credentials, DigestRequest, ServerAuth, ServerConfig,
};
use sipparty_core::SeededRandom;

const REQUEST: DigestRequest<'static> = DigestRequest {
    method: "INVITE",
    uri: "sip:bob@example.com",
    body: b"v=0\r\n",
};

/// Header values built from the pieces challenges are made of, so the
/// generator reaches deep parser states, not just early syntax errors.
fn auth_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Digest ".to_owned()),
        Just("realm=\"r\"".to_owned()),
        Just("nonce=\"n\"".to_owned()),
        Just("qop=\"auth,auth-int\"".to_owned()),
        Just("algorithm=SHA-512-256-sess".to_owned()),
        Just("algorithm=bogus".to_owned()),
        Just("stale=true".to_owned()),
        Just("userhash=true".to_owned()),
        Just(", ".to_owned()),
        Just("\\".to_owned()),
        Just("\"".to_owned()),
        "[a-z=\" ,\\\\é\t]{0,6}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn client_never_panics_and_never_answers_twice(
        values in proptest::collection::vec(auth_value(), 0..3),
        seed in any::<u64>(),
    ) {
        let mut client = ClientAuth::default();
        let mut rng = SeededRandom::new(seed);
        let creds = Credentials::new("alice", "pw");
        let first = client.respond(
            &creds, AuthKind::Www, values.iter().map(String::as_str),
            std::iter::empty(), &REQUEST, &mut rng);
        if let Ok(h) = first {
            // The same challenges to the request that carried the answer
            // must not be answered again.
            let again = client.respond(
                &creds, AuthKind::Www, values.iter().map(String::as_str),
                std::iter::once(h.value.as_str()), &REQUEST, &mut rng);
            prop_assert!(again.is_err());
        }
    }

    #[test]
    fn server_never_panics(value in auth_value(), seed in any::<u64>()) {
        let t0 = Instant::now();
        let mut rng = SeededRandom::new(seed);
        let mut server = ServerAuth::new(ServerConfig::new("r"), &mut rng, t0);
        let result = server.verify(t0, &REQUEST, &value, |_, _| Some("pw".to_owned()));
        // Nothing made up can pass: the nonce is not one of ours.
        prop_assert!(result.is_err());
    }
}
