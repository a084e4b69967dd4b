//! Digest server behaviour, and client and server together: challenge,
//! verify, stale nonces, replays, and the retry loop a Party runs.

use std::time::{Duration, Instant};

use sipparty_core::auth::{
    Algorithm, AuthError, AuthFailure, AuthKind, ClientAuth, Credentials, DigestRequest, Qop,
    ServerAuth, ServerConfig,
};
use sipparty_core::SeededRandom;

mod support;
use support::digest::{none, REGISTER};

fn alice(user: &str, _realm: &str) -> Option<String> {
    (user == "alice").then(|| "wonderland".to_owned())
}

fn setup(config: ServerConfig) -> (ServerAuth, ClientAuth, SeededRandom, Instant) {
    let start = Instant::now();
    let mut rng = SeededRandom::new(42);
    let server = ServerAuth::new(config, &mut rng, start);
    (server, ClientAuth::default(), rng, start)
}

/// The registrar's configuration before a test changes it.
fn example_com() -> ServerConfig {
    ServerConfig::new("example.com")
}

/// The Authorization a client with no earlier state sends for `password`
/// in answer to `challenges`.
fn fresh_answer(challenges: &[String], password: &str, rng: &mut SeededRandom) -> String {
    answer(
        &mut ClientAuth::default(),
        challenges,
        password,
        &REGISTER,
        rng,
    )
}

fn answer(
    client: &mut ClientAuth,
    challenges: &[String],
    password: &str,
    request: &DigestRequest<'_>,
    rng: &mut SeededRandom,
) -> String {
    client
        .respond(
            &Credentials::new("alice", password),
            AuthKind::Www,
            challenges.iter().map(String::as_str),
            none(),
            request,
            rng,
        )
        .unwrap()
        .value
}

#[test]
fn rfc8760_round_trip_every_algorithm() {
    for algorithm in Algorithm::ALL {
        let mut config = example_com();
        config.algorithms = vec![algorithm];
        config.qop = vec![Qop::Auth, Qop::AuthInt];
        let (mut server, mut client, mut rng, t0) = setup(config);
        let challenges = server.challenge(t0);
        assert_eq!(challenges.len(), 1);
        assert!(challenges[0].contains(&format!("algorithm={algorithm}")));
        let value = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
        let ok = server.verify(t0, &REGISTER, &value, alice).unwrap();
        assert_eq!(ok.username, "alice");
        assert_eq!(ok.realm, "example.com");
        assert_eq!(ok.algorithm, algorithm);
        assert_eq!((ok.qop, ok.nc), (Qop::Auth, 1));
    }
}

#[test]
fn rfc8760_section_2_3_challenges_in_preference_order_share_a_nonce() {
    let mut config = example_com();
    config.algorithms = vec![Algorithm::Sha512_256, Algorithm::Sha256, Algorithm::Md5];
    let (mut server, mut client, mut rng, t0) = setup(config);
    let challenges = server.challenge(t0);
    assert_eq!(challenges.len(), 3);
    let nonce_of = |c: &str| c.split("nonce=\"").nth(1).unwrap()[..64].to_owned();
    assert_eq!(nonce_of(&challenges[0]), nonce_of(&challenges[2]));
    // Each challenge gets a fresh nonce.
    assert_ne!(nonce_of(&server.challenge(t0)[0]), nonce_of(&challenges[0]));
    let value = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
    let ok = server.verify(t0, &REGISTER, &value, alice).unwrap();
    assert_eq!(ok.algorithm, Algorithm::Sha512_256);
}

#[test]
fn wrong_password_and_unknown_user_rejected() {
    let (mut server, mut client, mut rng, t0) = setup(example_com());
    let challenges = server.challenge(t0);
    let value = answer(&mut client, &challenges, "guess", &REGISTER, &mut rng);
    assert_eq!(
        server.verify(t0, &REGISTER, &value, alice),
        Err(AuthFailure::BadResponse)
    );
    assert_eq!(
        server.verify(t0, &REGISTER, &value, |_, _| None),
        Err(AuthFailure::UnknownUser)
    );
    // Failed attempts leave no state behind.
    assert_eq!(server.tracked_nonces(), 0);
}

#[test]
fn rfc7616_section_3_3_expired_nonce_is_stale() {
    let (mut server, mut client, mut rng, t0) = setup(example_com());
    let challenges = server.challenge(t0);
    let value = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
    let late = t0 + Duration::from_secs(301);
    assert_eq!(
        server.verify(late, &REGISTER, &value, alice),
        Err(AuthFailure::Stale)
    );
    // Stale is only said to a client that knows the password.
    let wrong = fresh_answer(&challenges, "guess", &mut rng);
    assert_eq!(
        server.verify(late, &REGISTER, &wrong, alice),
        Err(AuthFailure::BadResponse)
    );
    // Just inside the lifetime it is fine.
    let fresh = server.challenge(late);
    let value = answer(&mut client, &fresh, "wonderland", &REGISTER, &mut rng);
    assert!(server
        .verify(late + Duration::from_secs(299), &REGISTER, &value, alice)
        .is_ok());
    let again = server.challenge_after(late, AuthFailure::Stale);
    assert!(again.iter().all(|c| c.ends_with("stale=true")));
    assert!(server
        .challenge_after(late, AuthFailure::BadResponse)
        .iter()
        .all(|c| !c.contains("stale")));
}

#[test]
fn rfc7616_section_5_4_replay_detected_by_nonce_count() {
    let (mut server, mut client, mut rng, t0) = setup(example_com());
    let challenges = server.challenge(t0);
    let creds = Credentials::new("alice", "wonderland");
    let nc1 = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
    let nc2 = client
        .preemptive(&creds, AuthKind::Www, &REGISTER, &mut rng)
        .remove(0)
        .value;
    let nc3 = client
        .preemptive(&creds, AuthKind::Www, &REGISTER, &mut rng)
        .remove(0)
        .value;

    // In the order they arrive: (which, what the server says). Requests
    // may arrive out of order over UDP: a lower unused count is still
    // accepted once.
    let arrivals = [
        ("nc=3", &nc3, Ok(3)),
        ("nc=1", &nc1, Ok(1)),
        ("nc=1 again", &nc1, Err(AuthFailure::Replay)),
        ("nc=3 again", &nc3, Err(AuthFailure::Replay)),
        ("nc=2", &nc2, Ok(2)),
    ];
    for (which, value, expected) in arrivals {
        assert_eq!(
            server.verify(t0, &REGISTER, value, alice).map(|v| v.nc),
            expected,
            "{which}"
        );
    }
    assert_eq!(server.tracked_nonces(), 1);
}

#[test]
fn forged_or_foreign_nonces() {
    let (mut server, mut client, mut rng, t0) = setup(example_com());
    // A nonce from another server instance (or before a restart): the
    // client knows the password, so it is told to retry (stale).
    let mut other_rng = SeededRandom::new(7);
    let mut other = ServerAuth::new(ServerConfig::new("example.com"), &mut other_rng, t0);
    let value = answer(
        &mut client,
        &other.challenge(t0),
        "wonderland",
        &REGISTER,
        &mut rng,
    );
    assert_eq!(
        server.verify(t0, &REGISTER, &value, alice),
        Err(AuthFailure::Stale)
    );

    // A client-made-up nonce with a correct response: likewise stale, and
    // never accepted.
    let made_up = [String::from(
        "Digest realm=\"example.com\", nonce=\"00ff\", qop=\"auth\"",
    )];
    let value = fresh_answer(&made_up, "wonderland", &mut rng);
    assert_eq!(
        server.verify(t0, &REGISTER, &value, alice),
        Err(AuthFailure::Stale)
    );
    assert_eq!(server.tracked_nonces(), 0);
}

#[test]
fn rfc7616_section_3_4_6_uri_realm_algorithm_and_qop_checks() {
    let mut config = example_com();
    config.algorithms = vec![Algorithm::Sha256];
    let (mut server, mut client, mut rng, t0) = setup(config);
    let challenges = server.challenge(t0);
    let value = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
    let other_uri = DigestRequest {
        uri: "sip:other.example.com",
        ..REGISTER
    };
    assert_eq!(
        server.verify(t0, &other_uri, &value, alice),
        Err(AuthFailure::UriMismatch)
    );
    // Answers to challenges the server did not send: (what changed, the
    // challenge answered, the failure).
    let edited = [
        (
            "MD5 where we offered SHA-256",
            challenges[0].replace("SHA-256", "MD5"),
            AuthFailure::Unsupported,
        ),
        (
            "another realm",
            challenges[0].replace("example.com", "elsewhere"),
            AuthFailure::RealmMismatch,
        ),
        // An RFC 2069 answer (no qop) cannot be checked for replays: refused.
        (
            "no qop (RFC 2069)",
            challenges[0].replace(", qop=\"auth\"", ""),
            AuthFailure::Malformed("qop"),
        ),
    ];
    for (case, challenge, failure) in edited {
        let v = fresh_answer(&[challenge], "wonderland", &mut rng);
        assert_eq!(
            server.verify(t0, &REGISTER, &v, alice),
            Err(failure),
            "{case}"
        );
    }
    for junk in [
        "",
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "Digest realm=\"unterminated",
    ] {
        assert!(matches!(
            server.verify(t0, &REGISTER, junk, alice),
            Err(AuthFailure::Malformed(_))
        ));
    }
}

#[test]
fn rfc7616_section_3_4_3_auth_int_body_is_checked() {
    let mut config = example_com();
    config.qop = vec![Qop::AuthInt];
    config.kind = AuthKind::Proxy;
    let (mut server, mut client, mut rng, t0) = setup(config);
    let challenges = server.challenge(t0);
    let invite = DigestRequest {
        method: "INVITE",
        uri: "sip:bob@example.com",
        body: b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n",
    };
    let value = client
        .respond(
            &Credentials::new("alice", "wonderland"),
            AuthKind::Proxy,
            challenges.iter().map(String::as_str),
            none(),
            &invite,
            &mut rng,
        )
        .unwrap();
    assert_eq!(value.name(), "Proxy-Authorization");
    let tampered = DigestRequest {
        body: b"v=0\r\no=- 1 1 IN IP4 192.0.2.66\r\n",
        ..invite
    };
    assert_eq!(
        server.verify(t0, &tampered, &value.value, alice),
        Err(AuthFailure::BadResponse)
    );
    assert_eq!(
        server
            .verify(t0, &invite, &value.value, alice)
            .map(|v| v.qop),
        Ok(Qop::AuthInt)
    );
}

#[test]
fn replay_table_is_bounded_without_opening_a_replay_window() {
    let mut config = example_com();
    config.max_tracked_nonces = 2;
    let (mut server, _, mut rng, t0) = setup(config);
    let mut used = Vec::new();
    for i in 0..4u64 {
        let now = t0 + Duration::from_millis(10 * i);
        let challenges = server.challenge(now);
        let mut client = ClientAuth::default();
        let value = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
        assert!(server.verify(now, &REGISTER, &value, alice).is_ok());
        used.push(value);
        assert!(server.tracked_nonces() <= 2);
    }
    // The evicted nonces' state is gone, so they are stale now rather than
    // replayable; the tracked ones are replays.
    let now = t0 + Duration::from_millis(50);
    for (i, failure) in [
        (0, AuthFailure::Stale),
        (1, AuthFailure::Stale),
        (3, AuthFailure::Replay),
    ] {
        assert_eq!(
            server.verify(now, &REGISTER, &used[i], alice),
            Err(failure),
            "answer {i}"
        );
    }
}

/// What a Party does with a 401: answer it and resend while `respond`
/// returns `Ok`. The server here is a registrar that answers every failure
/// with a new challenge. Returns the number of requests sent and the
/// outcome.
fn register_loop(
    server: &mut ServerAuth,
    password: &str,
    mut clock: impl FnMut(usize) -> Instant,
) -> (usize, Result<(), AuthError>) {
    let mut client = ClientAuth::default();
    let mut rng = SeededRandom::new(99);
    let creds = Credentials::new("alice", password);
    let mut authorization: Option<String> = None;
    for sent in 1..=10 {
        let now = clock(sent);
        let challenges = match &authorization {
            None => server.challenge(now),
            Some(value) => match server.verify(now, &REGISTER, value, alice) {
                Ok(_) => return (sent, Ok(())),
                Err(failure) => server.challenge_after(now, failure),
            },
        };
        let header = client.respond(
            &creds,
            AuthKind::Www,
            challenges.iter().map(String::as_str),
            authorization.as_deref(),
            &REGISTER,
            &mut rng,
        );
        match header {
            Ok(h) => authorization = Some(h.value),
            Err(e) => return (sent, Err(e)),
        }
    }
    panic!("the client looped");
}

#[test]
fn rfc3665_section_2_1_registration_with_authentication() {
    let (mut server, _, _, t0) = setup(example_com());
    assert_eq!(
        register_loop(&mut server, "wonderland", |_| t0),
        (2, Ok(()))
    );
}

#[test]
fn wrong_password_fails_after_one_retry_even_with_fresh_nonces() {
    let (mut server, _, _, t0) = setup(example_com());
    assert_eq!(
        register_loop(&mut server, "guess", |_| t0),
        (
            2,
            Err(AuthError::Rejected {
                realm: "example.com".into()
            })
        )
    );
}

#[test]
fn stale_nonce_is_retried_once_then_succeeds() {
    let (mut server, _, _, t0) = setup(example_com());
    // The second request arrives after the first nonce expired.
    let clock = |sent: usize| match sent {
        1 => t0,
        _ => t0 + Duration::from_secs(400),
    };
    assert_eq!(register_loop(&mut server, "wonderland", clock), (3, Ok(())));
}

#[test]
fn a_server_that_is_always_stale_does_not_make_the_client_loop() {
    let (mut server, _, _, t0) = setup(example_com());
    // Every request arrives after the nonce it answers has expired.
    let clock = |sent: usize| t0 + Duration::from_secs(400 * sent as u64);
    let (sent, outcome) = register_loop(&mut server, "wonderland", clock);
    assert_eq!(
        outcome,
        Err(AuthError::TooManyStale {
            realm: "example.com".into()
        })
    );
    assert_eq!(sent, 4);
}

#[test]
fn stored_ha1_instead_of_password() {
    use sipparty_core::auth::digest::ha1_base;
    let mut config = example_com();
    config.algorithms = vec![Algorithm::Sha256Sess, Algorithm::Md5];
    let (mut server, mut client, mut rng, t0) = setup(config);
    let challenges = server.challenge(t0);
    let value = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
    // The database holds only H(user:realm:password), per algorithm.
    let db = |user: &str, realm: &str, alg: Algorithm| {
        (user == "alice").then(|| ha1_base(alg, user, realm, "wonderland").to_uppercase())
    };
    let ok = server.verify_ha1(t0, &REGISTER, &value, db).unwrap();
    assert_eq!(ok.algorithm, Algorithm::Sha256Sess);
    let value = fresh_answer(&challenges, "guess", &mut rng);
    assert_eq!(
        server.verify_ha1(t0, &REGISTER, &value, db),
        Err(AuthFailure::BadResponse)
    );
}

#[test]
fn rfc7616_section_3_5_authentication_info_rspauth_and_nextnonce() {
    for qop in [Qop::Auth, Qop::AuthInt] {
        let mut config = example_com();
        config.algorithms = vec![Algorithm::Sha512_256Sess];
        config.qop = vec![qop];
        let (mut server, mut client, mut rng, t0) = setup(config);
        let creds = Credentials::new("alice", "wonderland");
        let challenges = server.challenge(t0);
        let sent = answer(&mut client, &challenges, "wonderland", &REGISTER, &mut rng);
        let verified = server.verify(t0, &REGISTER, &sent, alice).unwrap();
        assert!(!format!("{verified:?}").contains("ha1"));

        let body = b"response body";
        let info = server.authentication_info(t0, &verified, body, true);
        assert!(info.contains("rspauth=") && info.contains("nextnonce="));
        // A server that does not know the password cannot forge rspauth,
        // and a different response body breaks it for auth-int.
        let impostor = Credentials::new("alice", "other");
        assert_eq!(
            client.handle_authentication_info(&impostor, AuthKind::Www, &sent, &info, body),
            Err(AuthError::BadRspauth {
                realm: "example.com".into()
            })
        );
        if qop == Qop::AuthInt {
            assert!(client
                .handle_authentication_info(&creds, AuthKind::Www, &sent, &info, b"other")
                .is_err());
        }
        client
            .handle_authentication_info(&creds, AuthKind::Www, &sent, &info, body)
            .unwrap();

        // The next request uses the new nonce from count 1, without a
        // challenge, and the server accepts it.
        let next = client.preemptive(&creds, AuthKind::Www, &REGISTER, &mut rng);
        assert_eq!(next.len(), 1);
        let v = server.verify(t0, &REGISTER, &next[0].value, alice).unwrap();
        assert_eq!(v.nc, 1);
        let next_nonce = info
            .split("nextnonce=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        assert!(next[0].value.contains(next_nonce));
    }
}
