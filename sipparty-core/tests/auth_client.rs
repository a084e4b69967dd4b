//! Digest client behaviour: what `ClientAuth` sends, and that it never
//! answers the same challenge twice (RFC 3261 section 22, RFC 7616,
//! RFC 8760).

use sipparty_core::auth::digest::{self, DigestInput};
use sipparty_core::auth::{
    Algorithm, AuthError, AuthKind, ClientAuth, ClientConfig, Credentials, DigestRequest,
    DigestResponse, Qop,
};
use sipparty_core::SeededRandom;

mod support;
use support::digest::{none, REGISTER};

/// Recomputes the response from the header's own parameters and the
/// password, independently of the client's code path.
fn check_response<'a>(
    value: &'a str,
    password: &str,
    request: &DigestRequest<'_>,
) -> DigestResponse<'a> {
    let r = DigestResponse::parse(value).expect("client output parses");
    let input = DigestInput {
        algorithm: r.algorithm().expect("known algorithm"),
        username: r.username().unwrap(),
        realm: r.realm().unwrap(),
        password,
        nonce: r.nonce().unwrap(),
        cnonce: r.cnonce(),
        nc: r.nc().map(|n| n.unwrap()),
        qop: r.qop().map(|q| q.unwrap()),
        method: request.method,
        uri: r.uri().unwrap(),
        body: request.body,
    };
    assert_eq!(r.uri(), Some(request.uri));
    assert_eq!(r.response(), Some(digest::response(&input).as_str()));
    r
}

#[test]
fn rfc2617_section_3_5_challenge_answered() {
    let challenge = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
                     nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                     opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    let mut client = ClientAuth::default();
    let mut rng = SeededRandom::new(3);
    let creds = Credentials::new("Mufasa", "Circle Of Life");
    let request = DigestRequest {
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
    };
    let h = client
        .respond(
            &creds,
            AuthKind::Www,
            [challenge],
            none(),
            &request,
            &mut rng,
        )
        .unwrap();
    assert_eq!(h.name(), "Authorization");
    assert_eq!(h.realm, "testrealm@host.com");
    let r = check_response(&h.value, "Circle Of Life", &request);
    assert_eq!(r.username(), Some("Mufasa"));
    assert_eq!(r.nonce(), Some("dcd98b7102dd2f0e8b11d0f600bfb0c093"));
    assert_eq!(r.opaque(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
    // qop offered both; auth is preferred by default.
    assert_eq!(r.qop(), Some(Ok(Qop::Auth)));
    assert_eq!(r.nc(), Some(Ok(1)));
    assert_eq!(r.cnonce().map(str::len), Some(16));
    // The challenge named no algorithm, so none is echoed.
    assert_eq!(r.0.param("algorithm"), None);
}

#[test]
fn rfc7616_section_3_9_1_topmost_supported_challenge_is_used() {
    // RFC 7616 section 3.9.1 sends SHA-256 first, then MD5.
    let sha = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
               algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
               opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let md5 = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
               algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
               opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let creds = Credentials::new("Mufasa", "Circle of Life");
    let request = DigestRequest {
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
    };
    let mut rng = SeededRandom::new(1);
    let h = ClientAuth::default()
        .respond(
            &creds,
            AuthKind::Www,
            [sha, md5],
            none(),
            &request,
            &mut rng,
        )
        .unwrap();
    let r = check_response(&h.value, "Circle of Life", &request);
    assert_eq!(r.algorithm(), Ok(Algorithm::Sha256));
    assert_eq!(r.0.param("algorithm"), Some("SHA-256"));

    // Reversed order: MD5 is topmost and is used (RFC 8760 section 2.4).
    let h = ClientAuth::default()
        .respond(
            &creds,
            AuthKind::Www,
            [md5, sha],
            none(),
            &request,
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        check_response(&h.value, "Circle of Life", &request).algorithm(),
        Ok(Algorithm::Md5)
    );
}

#[test]
fn rfc8760_unknown_algorithms_skipped_and_md5_can_be_refused() {
    let list = "Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-1, qop=\"auth\", \
                Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-512-256, qop=\"auth\", \
                Digest realm=\"r\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(2);
    let h = ClientAuth::default()
        .respond(&creds, AuthKind::Www, [list], none(), &REGISTER, &mut rng)
        .unwrap();
    let r = check_response(&h.value, "pw", &REGISTER);
    assert_eq!(r.algorithm(), Ok(Algorithm::Sha512_256));

    let mut strict = ClientAuth::new(ClientConfig {
        allow_md5: false,
        ..ClientConfig::default()
    });
    let only_md5 = "Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"";
    assert_eq!(
        strict.respond(
            &creds,
            AuthKind::Www,
            [only_md5],
            none(),
            &REGISTER,
            &mut rng
        ),
        Err(AuthError::Unsupported)
    );
}

#[test]
fn session_algorithms_keep_their_cnonce() {
    let c = "Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-256-sess, qop=\"auth\"";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(9);
    let mut client = ClientAuth::default();
    let first = client
        .respond(&creds, AuthKind::Www, [c], none(), &REGISTER, &mut rng)
        .unwrap();
    let second = client.preemptive(&creds, AuthKind::Www, &REGISTER, &mut rng);
    let a = check_response(&first.value, "pw", &REGISTER);
    let b = check_response(&second[0].value, "pw", &REGISTER);
    assert_eq!(a.algorithm(), Ok(Algorithm::Sha256Sess));
    assert_eq!(a.cnonce(), b.cnonce());
    assert_eq!((a.nc(), b.nc()), (Some(Ok(1)), Some(Ok(2))));
}

#[test]
fn rfc7616_section_3_4_nonce_count_increments_and_resets() {
    let c1 = "Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(4);
    let mut client = ClientAuth::default();
    let h = client
        .respond(&creds, AuthKind::Www, [c1], none(), &REGISTER, &mut rng)
        .unwrap();
    let mut cnonces = vec![check_response(&h.value, "pw", &REGISTER)
        .cnonce()
        .unwrap()
        .to_owned()];
    for expected in 2..=4u32 {
        let hs = client.preemptive(&creds, AuthKind::Www, &REGISTER, &mut rng);
        assert_eq!(hs.len(), 1);
        let r = check_response(&hs[0].value, "pw", &REGISTER);
        assert_eq!(r.nc(), Some(Ok(expected)));
        assert_eq!(r.nonce(), Some("n1"));
        cnonces.push(r.cnonce().unwrap().to_owned());
    }
    assert_eq!(client.nonce_count(AuthKind::Www, "r"), Some(4));
    // A fresh cnonce per request with non-session algorithms.
    cnonces.sort_unstable();
    cnonces.dedup();
    assert_eq!(cnonces.len(), 4);
    // No proxy credentials were cached.
    assert!(client
        .preemptive(&creds, AuthKind::Proxy, &REGISTER, &mut rng)
        .is_empty());

    // A new nonce for the realm (a new request challenged afresh) restarts
    // the count at 1.
    let c2 = "Digest realm=\"r\", nonce=\"n2\", qop=\"auth\"";
    let h = client
        .respond(&creds, AuthKind::Www, [c2], none(), &REGISTER, &mut rng)
        .unwrap();
    assert_eq!(check_response(&h.value, "pw", &REGISTER).nc(), Some(Ok(1)));
}

#[test]
fn rfc7616_section_3_4_3_auth_int_covers_the_body() {
    let c = "Digest realm=\"r\", nonce=\"n1\", qop=\"auth-int\", algorithm=SHA-256";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(5);
    let invite = DigestRequest {
        method: "INVITE",
        uri: "sip:bob@example.com",
        body: b"v=0\r\n",
    };
    let h = ClientAuth::default()
        .respond(&creds, AuthKind::Proxy, [c], none(), &invite, &mut rng)
        .unwrap();
    assert_eq!(h.name(), "Proxy-Authorization");
    let r = check_response(&h.value, "pw", &invite);
    assert_eq!(r.qop(), Some(Ok(Qop::AuthInt)));
    // Same parameters with qop=auth would give a different response.
    let as_auth = DigestInput {
        algorithm: Algorithm::Sha256,
        username: "alice",
        realm: "r",
        password: "pw",
        nonce: "n1",
        cnonce: r.cnonce(),
        nc: Some(1),
        qop: Some(Qop::Auth),
        method: "INVITE",
        uri: "sip:bob@example.com",
        body: b"v=0\r\n",
    };
    assert_ne!(r.response(), Some(digest::response(&as_auth).as_str()));

    // With both offered, auth-int is chosen only when configured.
    let both = "Digest realm=\"r\", nonce=\"n1\", qop=\"auth,auth-int\"";
    let mut client = ClientAuth::new(ClientConfig {
        prefer_auth_int: true,
        ..ClientConfig::default()
    });
    let h = client
        .respond(&creds, AuthKind::Www, [both], none(), &invite, &mut rng)
        .unwrap();
    assert_eq!(
        check_response(&h.value, "pw", &invite).qop(),
        Some(Ok(Qop::AuthInt))
    );
}

#[test]
fn rfc3261_section_22_4_legacy_challenge_without_qop() {
    let c = "Digest realm=\"r\", nonce=\"n1\"";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(6);
    let h = ClientAuth::default()
        .respond(&creds, AuthKind::Www, [c], none(), &REGISTER, &mut rng)
        .unwrap();
    let r = check_response(&h.value, "pw", &REGISTER);
    assert_eq!((r.qop(), r.nc(), r.cnonce()), (None, None, None));
}

#[test]
fn rfc7616_section_3_4_4_userhash() {
    let c = "Digest realm=\"api@example.org\", nonce=\"n\", qop=\"auth\", \
             algorithm=SHA-512-256, userhash=true";
    let creds = Credentials::new("J\u{e4}s\u{f8}n Doe", "Secret, or not?");
    let mut rng = SeededRandom::new(7);
    let h = ClientAuth::default()
        .respond(&creds, AuthKind::Www, [c], none(), &REGISTER, &mut rng)
        .unwrap();
    let r = DigestResponse::parse(&h.value).unwrap();
    assert!(r.userhash());
    // The hashed name of RFC 7616 section 3.9.2.
    assert_eq!(
        r.username(),
        Some("793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b")
    );
    // The response is still computed over the real user name.
    let input = DigestInput {
        algorithm: Algorithm::Sha512_256,
        username: "J\u{e4}s\u{f8}n Doe",
        realm: "api@example.org",
        password: "Secret, or not?",
        nonce: "n",
        cnonce: r.cnonce(),
        nc: Some(1),
        qop: Some(Qop::Auth),
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };
    assert_eq!(r.response(), Some(digest::response(&input).as_str()));
}

#[test]
fn rfc3261_section_22_1_realm_matching() {
    let list = "Digest realm=\"proxy-a\", nonce=\"a1\", qop=\"auth\", \
                Digest realm=\"proxy-b\", nonce=\"b1\", qop=\"auth\"";
    let mut rng = SeededRandom::new(8);
    let mut client = ClientAuth::default();
    let for_b = Credentials::new("bob", "pw").with_realm("proxy-b");
    let h = client
        .respond(&for_b, AuthKind::Proxy, [list], none(), &REGISTER, &mut rng)
        .unwrap();
    assert_eq!(h.realm, "proxy-b");
    assert_eq!(
        check_response(&h.value, "pw", &REGISTER).nonce(),
        Some("b1")
    );

    let for_c = Credentials::new("carol", "pw").with_realm("proxy-c");
    assert_eq!(
        client.respond(&for_c, AuthKind::Proxy, [list], none(), &REGISTER, &mut rng),
        Err(AuthError::NoCredentials {
            realm: "proxy-a".into()
        })
    );
    // Unrestricted credentials answer the topmost realm.
    let any = Credentials::new("dave", "pw");
    let h = client
        .respond(&any, AuthKind::Proxy, [list], none(), &REGISTER, &mut rng)
        .unwrap();
    assert_eq!(h.realm, "proxy-a");
}

#[test]
fn challenges_that_cannot_be_answered() {
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(10);
    let mut client = ClientAuth::default();
    let mut try_with = |values: &[&str]| {
        client.respond(
            &creds,
            AuthKind::Www,
            values.iter().copied(),
            none(),
            &REGISTER,
            &mut rng,
        )
    };
    assert_eq!(try_with(&[]), Err(AuthError::NoChallenge));
    assert!(matches!(
        try_with(&["Digest realm=\"unterminated"]),
        Err(AuthError::Malformed(_))
    ));
    assert_eq!(
        try_with(&["Basic realm=\"r\""]),
        Err(AuthError::Unsupported)
    );
    // Missing nonce, unknown qop only.
    assert_eq!(
        try_with(&["Digest realm=\"r\""]),
        Err(AuthError::Unsupported)
    );
    assert_eq!(
        try_with(&["Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\""]),
        Err(AuthError::Unsupported)
    );
    // One unreadable header does not hide a good one.
    assert!(try_with(&["Digest realm=\"x", "Digest realm=\"r\", nonce=\"n\""]).is_ok());
}

#[test]
fn rfc3261_section_22_2_no_loop_on_repeated_challenge() {
    let c = "Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(11);
    let mut client = ClientAuth::default();
    let first = client
        .respond(&creds, AuthKind::Www, [c], none(), &REGISTER, &mut rng)
        .unwrap();
    // The retried request drew the same challenge: refused.
    let sent = [first.value.as_str()];
    assert_eq!(
        client.respond(&creds, AuthKind::Www, [c], sent, &REGISTER, &mut rng),
        Err(AuthError::AlreadyTried { realm: "r".into() })
    );
    // A fresh nonce without stale=true to a request that carried our
    // credentials: they were wrong.
    let c2 = "Digest realm=\"r\", nonce=\"n2\", qop=\"auth\"";
    assert_eq!(
        client.respond(&creds, AuthKind::Www, [c2], sent, &REGISTER, &mut rng),
        Err(AuthError::Rejected { realm: "r".into() })
    );
}

#[test]
fn rfc7616_section_3_3_stale_retry_is_answered_but_bounded() {
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(12);
    let mut client = ClientAuth::default();
    let c1 = "Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"";
    let mut sent = client
        .respond(&creds, AuthKind::Www, [c1], none(), &REGISTER, &mut rng)
        .unwrap()
        .value;
    for round in 2..=3 {
        let stale = format!("Digest realm=\"r\", nonce=\"n{round}\", qop=\"auth\", stale=TRUE");
        let h = client
            .respond(
                &creds,
                AuthKind::Www,
                [stale.as_str()],
                [sent.as_str()],
                &REGISTER,
                &mut rng,
            )
            .unwrap();
        let r = check_response(&h.value, "pw", &REGISTER);
        assert_eq!(r.nonce(), Some(format!("n{round}").as_str()));
        assert_eq!(r.nc(), Some(Ok(1)));
        sent = h.value;
    }
    // The default allows two stale retries in a row; a third is refused.
    let stale = "Digest realm=\"r\", nonce=\"n4\", qop=\"auth\", stale=true";
    assert_eq!(
        client.respond(
            &creds,
            AuthKind::Www,
            [stale],
            [sent.as_str()],
            &REGISTER,
            &mut rng
        ),
        Err(AuthError::TooManyStale { realm: "r".into() })
    );
    // stale=true with the very nonce we used is nonsense: refused.
    let same = "Digest realm=\"r\", nonce=\"n3\", qop=\"auth\", stale=true";
    assert_eq!(
        client.respond(
            &creds,
            AuthKind::Www,
            [same],
            [sent.as_str()],
            &REGISTER,
            &mut rng
        ),
        Err(AuthError::AlreadyTried { realm: "r".into() })
    );
    // A new request challenged afresh starts a new chain.
    let fresh = "Digest realm=\"r\", nonce=\"n5\", qop=\"auth\"";
    assert!(client
        .respond(&creds, AuthKind::Www, [fresh], none(), &REGISTER, &mut rng)
        .is_ok());
}

#[test]
fn realm_table_is_bounded() {
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(13);
    let mut client = ClientAuth::new(ClientConfig {
        max_realms: 3,
        ..ClientConfig::default()
    });
    for i in 0..10 {
        let c = format!("Digest realm=\"r{i}\", nonce=\"n\", qop=\"auth\"");
        client
            .respond(
                &creds,
                AuthKind::Proxy,
                [c.as_str()],
                none(),
                &REGISTER,
                &mut rng,
            )
            .unwrap();
    }
    let kept = client.preemptive(&creds, AuthKind::Proxy, &REGISTER, &mut rng);
    let mut realms: Vec<_> = kept.iter().map(|h| h.realm.as_str()).collect();
    realms.sort_unstable();
    assert_eq!(realms, ["r7", "r8", "r9"]);
    client.clear();
    assert!(client
        .preemptive(&creds, AuthKind::Proxy, &REGISTER, &mut rng)
        .is_empty());
}

#[test]
fn credentials_debug_hides_the_password() {
    let creds = Credentials::new("alice", "hunter2").with_realm("r");
    let shown = format!("{creds:?}");
    assert!(shown.contains("alice"));
    assert!(!shown.contains("hunter2"));
}

#[test]
fn quoted_values_are_escaped_in_the_answer() {
    let c = r#"Digest realm="a \"quoted\" realm", nonce="n\\1", qop="auth""#;
    let creds = Credentials::new("o\"brien", "pw");
    let mut rng = SeededRandom::new(14);
    let h = ClientAuth::default()
        .respond(&creds, AuthKind::Www, [c], none(), &REGISTER, &mut rng)
        .unwrap();
    let r = check_response(&h.value, "pw", &REGISTER);
    assert_eq!(r.realm(), Some("a \"quoted\" realm"));
    assert_eq!(r.nonce(), Some("n\\1"));
    assert_eq!(r.username(), Some("o\"brien"));
}

#[test]
fn rfc3261_section_22_3_several_proxy_realms() {
    let a = "Digest realm=\"proxy-a\", nonce=\"a1\", qop=\"auth\"";
    let b = "Digest realm=\"proxy-b\", nonce=\"b1\", qop=\"auth\", algorithm=SHA-256";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(15);
    let mut client = ClientAuth::default();
    // A forking proxy aggregated both realms' challenges into one 407.
    let first = client
        .respond_all(&creds, AuthKind::Proxy, [a, b], none(), &REGISTER, &mut rng)
        .unwrap();
    let realms: Vec<_> = first.iter().map(|h| h.realm.as_str()).collect();
    assert_eq!(realms, ["proxy-a", "proxy-b"]);
    for h in &first {
        assert_eq!(h.name(), "Proxy-Authorization");
        assert_eq!(check_response(&h.value, "pw", &REGISTER).nc(), Some(Ok(1)));
    }

    // proxy-a accepted; proxy-b's nonce went stale. The resent request
    // must carry both, proxy-a's with the next nonce count.
    let b2 = "Digest realm=\"proxy-b\", nonce=\"b2\", qop=\"auth\", stale=true";
    let sent: Vec<&str> = first.iter().map(|h| h.value.as_str()).collect();
    let second = client
        .respond_all(&creds, AuthKind::Proxy, [b2], sent, &REGISTER, &mut rng)
        .unwrap();
    assert_eq!(second.len(), 2);
    let b_new = check_response(&second[0].value, "pw", &REGISTER);
    assert_eq!(
        (b_new.realm(), b_new.nonce(), b_new.nc()),
        (Some("proxy-b"), Some("b2"), Some(Ok(1)))
    );
    let a_again = check_response(&second[1].value, "pw", &REGISTER);
    assert_eq!(
        (a_again.realm(), a_again.nonce(), a_again.nc()),
        (Some("proxy-a"), Some("a1"), Some(Ok(2)))
    );

    // Credentials we know nothing about are passed through unchanged.
    let foreign =
        "Digest username=\"x\", realm=\"proxy-z\", nonce=\"z\", uri=\"sip:x\", response=\"0\"";
    let third = client
        .respond_all(
            &Credentials::new("alice", "pw").with_realm("proxy-a"),
            AuthKind::Proxy,
            ["Digest realm=\"proxy-a\", nonce=\"a2\", qop=\"auth\""],
            [foreign],
            &REGISTER,
            &mut rng,
        )
        .unwrap();
    assert_eq!(third.len(), 2);
    assert_eq!(third[0].realm, "proxy-a");
    assert_eq!(third[1].value, foreign);
    assert_eq!(third[1].realm, "proxy-z");

    // A refusal in any realm fails the whole answer.
    let sent: Vec<&str> = second.iter().map(|h| h.value.as_str()).collect();
    let a3 = "Digest realm=\"proxy-a\", nonce=\"a3\", qop=\"auth\"";
    assert_eq!(
        client.respond_all(&creds, AuthKind::Proxy, [a3, b2], sent, &REGISTER, &mut rng),
        Err(AuthError::Rejected {
            realm: "proxy-a".into()
        })
    );
}

#[test]
fn nonce_reused_for_a_new_request_continues_the_count() {
    // Servers whose nonce depends only on the current second (Kamailio)
    // challenge a second request with the nonce the first one used.
    let c = "Digest realm=\"r\", nonce=\"same-second\", qop=\"auth\"";
    let creds = Credentials::new("alice", "pw");
    let mut rng = SeededRandom::new(16);
    let mut client = ClientAuth::default();
    let mut counts = Vec::new();
    for _ in 0..3 {
        let h = client
            .respond(&creds, AuthKind::Www, [c], none(), &REGISTER, &mut rng)
            .unwrap();
        counts.push(
            check_response(&h.value, "pw", &REGISTER)
                .nc()
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(counts, [1, 2, 3]);
    // A caller that never says what it sent still cannot loop forever.
    let mut answered = 3;
    while client
        .respond(&creds, AuthKind::Www, [c], none(), &REGISTER, &mut rng)
        .is_ok()
    {
        answered += 1;
        assert!(answered < 100, "unbounded");
    }
    assert_eq!(answered, 9);
}
