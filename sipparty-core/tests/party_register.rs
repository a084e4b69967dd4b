//! The REGISTER client (RFC 3261 section 10.2) and digest authentication
//! of any request (section 22), against a scripted registrar/proxy that
//! challenges with the auth layer's `ServerAuth`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::auth::{AuthKind, Credentials, DigestRequest, ServerAuth, ServerConfig};
use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{
    DialogError, DialogId, DialogState, Event, Party, RegisterOptions, RegistrationId,
    RegistrationState, SimParty,
};
use sipparty_core::sim::{Endpoint, Network};
use sipparty_core::{SeededRandom, Transmit, Transport};

mod support;
use support::{alice_addr as alice, bob_addr, two_parties, Calls, BOB};

/// A registrar and challenging proxy: REGISTER needs `alice`/`secret`
/// (401), INVITE needs them too (407) and is then answered 603.
struct Registrar {
    www: ServerAuth,
    proxy: ServerAuth,
    out: VecDeque<Transmit>,
    min_expires: u32,
    /// REGISTERs received: (Expires asked, had credentials).
    registers: Vec<(u32, bool)>,
    invites: Vec<Message>,
}

impl Registrar {
    fn new(start: Instant) -> Self {
        let mut rng = SeededRandom::new(9);
        let mut proxy_config = ServerConfig::new("proxy.example.com");
        proxy_config.kind = AuthKind::Proxy;
        Registrar {
            www: ServerAuth::new(ServerConfig::new("example.com"), &mut rng, start),
            proxy: ServerAuth::new(proxy_config, &mut rng, start),
            out: VecDeque::new(),
            min_expires: 0,
            registers: Vec::new(),
            invites: Vec::new(),
        }
    }

    fn respond(&mut self, source: SocketAddr, resp: Message) {
        self.out.push_back(Transmit {
            transport: Transport::Udp,
            destination: source,
            bytes: resp.to_bytes().into(),
        });
    }

    fn verified(auth: &mut ServerAuth, now: Instant, req: &Message, header: HeaderName) -> bool {
        let Some(value) = req.header(&header) else {
            return false;
        };
        let method = req.method().unwrap().as_str().to_string();
        let request = DigestRequest {
            method: &method,
            uri: req.request_uri().unwrap(),
            body: req.body(),
        };
        auth.verify(now, &request, value, |user, _| {
            (user == "alice").then(|| "secret".to_string())
        })
        .is_ok()
    }
}

impl Endpoint for Registrar {
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        _destination: SocketAddr,
        bytes: &[u8],
    ) {
        let Ok(req) = Message::parse(bytes) else {
            return;
        };
        let Some(method) = req.method() else { return };
        match method.as_str() {
            "REGISTER" => {
                let expires = req.expires().and_then(Result::ok).unwrap_or(3600);
                let ok = Registrar::verified(&mut self.www, now, &req, HeaderName::Authorization);
                self.registers
                    .push((expires, req.header(&HeaderName::Authorization).is_some()));
                if !ok {
                    let mut resp = Message::response_to(&req, 401, Some("reg"));
                    for c in self.www.challenge(now) {
                        resp.add_header(HeaderName::WwwAuthenticate, &c);
                    }
                    return self.respond(source, resp);
                }
                if expires != 0 && expires < self.min_expires {
                    let mut resp = Message::response_to(&req, 423, Some("reg"));
                    resp.add_header(HeaderName::MinExpires, &self.min_expires.to_string());
                    return self.respond(source, resp);
                }
                let mut resp = Message::response_to(&req, 200, Some("reg"));
                if expires > 0 {
                    // Grant half of what was asked: the client must use
                    // the granted value.
                    let contact = req.header(&HeaderName::Contact).unwrap().to_string();
                    resp.add_header(
                        HeaderName::Contact,
                        &format!("{contact};expires={}", expires / 2),
                    );
                }
                self.respond(source, resp);
            }
            "INVITE" => {
                self.invites.push(req.clone());
                let ok =
                    Registrar::verified(&mut self.proxy, now, &req, HeaderName::ProxyAuthorization);
                if !ok {
                    let mut resp = Message::response_to(&req, 407, Some("px"));
                    for c in self.proxy.challenge(now) {
                        resp.add_header(HeaderName::ProxyAuthenticate, &c);
                    }
                    return self.respond(source, resp);
                }
                let resp = Message::response_to(&req, 603, Some("px"));
                self.respond(source, resp);
            }
            _ => {}
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
}

type Node = support::Node<Registrar>;

fn registrar() -> SocketAddr {
    "127.0.0.1:5080".parse().unwrap()
}

fn setup(password: &str, min_expires: u32) -> Network<Node> {
    let start = Instant::now();
    let mut net = Network::new(31, start);
    let mut party = Party::no_media_simple_calls("alice@example.com").unwrap();
    party.config_mut().credentials = Some(Credentials::new("alice", password));
    net.add(alice(), Node::party(party, alice()));
    let mut r = Registrar::new(start);
    r.min_expires = min_expires;
    net.add(registrar(), Node::scripted(r));
    net
}

/// Alice registers at the registrar now, with `options`.
fn register(net: &mut Network<Node>, options: RegisterOptions) -> RegistrationId {
    let now = net.now();
    net.node_mut(alice())
        .party_mut()
        .register(now, "sip:127.0.0.1:5080", options)
        .unwrap()
}

/// The REGISTERs the registrar got: (Expires asked, had credentials).
fn registers(net: &Network<Node>) -> &[(u32, bool)] {
    &net.endpoint(registrar()).peer().registers
}

fn registration_states(net: &Network<Node>) -> Vec<RegistrationState> {
    net.node(alice())
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Registration { state, .. } => Some(state.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn register_with_digest_refresh_at_granted_expiry_and_unregister_rfc3261_10_2() {
    let mut net = setup("secret", 0);
    let now = net.now();
    let id = register(&mut net, RegisterOptions::default().expires(600));
    net.run_until(now + Duration::from_secs(1));
    // 401, then the REGISTER again with credentials.
    assert_eq!(registers(&net), [(600, false), (600, true)]);
    assert_eq!(
        registration_states(&net).last(),
        Some(&RegistrationState::Registered {
            expires: Duration::from_secs(300)
        })
    );
    // Refreshed before the granted 300 s run out, reusing the nonce.
    net.run_until(now + Duration::from_secs(299));
    let regs = registers(&net);
    assert!(regs.len() >= 3, "refreshed: {regs:?}");
    assert!(regs[2].1, "refresh carries credentials");
    let now = net.now();
    net.node_mut(alice())
        .party_mut()
        .registration(id)
        .unwrap()
        .unregister(now)
        .unwrap();
    net.run_until_idle(Duration::from_secs(120));
    assert_eq!(
        registration_states(&net).last(),
        Some(&RegistrationState::Unregistered)
    );
    assert_eq!(registers(&net).last().unwrap().0, 0);
    assert!(net.node_mut(alice()).is_idle());
}

#[test]
fn register_423_retries_with_min_expires_rfc3261_10_2_8() {
    let mut net = setup("secret", 1800);
    register(&mut net, RegisterOptions::default().expires(60));
    net.run_for(Duration::from_secs(1));
    let asked: Vec<u32> = registers(&net).iter().map(|r| r.0).collect();
    assert_eq!(asked, vec![60, 60, 1800]);
    assert_eq!(
        registration_states(&net).last(),
        Some(&RegistrationState::Registered {
            expires: Duration::from_secs(900)
        })
    );
}

#[test]
fn wrong_password_fails_once_without_looping() {
    let mut net = setup("wrong", 0);
    register(&mut net, RegisterOptions::default());
    net.run_until_idle(Duration::from_secs(120));
    assert_eq!(registers(&net).len(), 2);
    match registration_states(&net).last() {
        Some(RegistrationState::Failed(DialogError::AuthenticationFailed {
            code: 401, ..
        })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn invite_answers_a_proxy_challenge_rfc3665_3_3() {
    let mut net = setup("secret", 0);
    let call = net.call(alice(), "bob@127.0.0.1:5080");
    net.run_until_idle(Duration::from_secs(120));
    let invites = &net.endpoint(registrar()).peer().invites;
    assert_eq!(invites.len(), 2);
    assert!(invites[0].header(&HeaderName::ProxyAuthorization).is_none());
    assert!(invites[1].header(&HeaderName::ProxyAuthorization).is_some());
    // Same dialog identifiers, CSeq one higher, new branch (section 22.2).
    assert_eq!(invites[0].call_id(), invites[1].call_id());
    assert_eq!(
        invites[1].cseq().unwrap().unwrap().seq,
        invites[0].cseq().unwrap().unwrap().seq + 1
    );
    assert_ne!(
        invites[0].top_via().unwrap().unwrap().branch(),
        invites[1].top_via().unwrap().unwrap().branch()
    );
    assert_eq!(net.state(alice(), call), Some(DialogState::Error));
    assert_eq!(
        net.error_text(alice(), call).as_deref(),
        Some("603 Decline")
    );
    assert!(net.node_mut(alice()).is_idle());
}

#[test]
fn invite_without_credentials_reports_the_challenge() {
    let mut net = setup("secret", 0);
    net.node_mut(alice()).party_mut().config_mut().credentials = None;
    let call = net.call(alice(), "bob@127.0.0.1:5080");
    net.run_until_idle(Duration::from_secs(120));
    let err = net.error_text(alice(), call).unwrap();
    assert!(err.contains("407 Proxy Authentication Required"), "{err}");
    assert!(err.contains("proxy.example.com"), "{err}");
}

/// Alice calls a Bob who challenges (he knows `alice`/`secret`), with
/// `password` if any; two seconds later.
fn challenged_call(password: Option<&str>) -> (Network<SimParty>, DialogId) {
    let mut caller = Party::no_media_simple_calls("alice@example.com").unwrap();
    caller.config_mut().credentials = password.map(|p| Credentials::new("alice", p));
    let mut callee = Party::no_media_simple_calls("bob@biloxi.com").unwrap();
    callee.config_mut().server_credentials = Some(Credentials::new("alice", "secret"));
    let mut net = two_parties(41, caller, callee);
    let call = net.call(alice(), BOB);
    net.run_for(Duration::from_secs(2));
    (net, call)
}

#[test]
fn uas_challenges_and_accepts_the_right_password_rfc3261_22_2() {
    let (mut net, call) = challenged_call(Some("secret"));
    assert_eq!(net.state(alice(), call), Some(DialogState::InDialog));
    let statuses: Vec<String> = net
        .log()
        .iter()
        .map(|d| d.text().lines().next().unwrap_or("").to_string())
        .collect();
    assert!(statuses.iter().any(|l| l.starts_with("SIP/2.0 401")));
    net.hang_up(alice(), call);
    net.run_until_idle(Duration::from_secs(120));
    assert_eq!(net.state(alice(), call), Some(DialogState::Terminated));
}

#[test]
fn uas_refuses_a_wrong_or_missing_password() {
    for password in [Some("guess"), None] {
        let (net, call) = challenged_call(password);
        assert_eq!(net.state(alice(), call), Some(DialogState::Error));
        let err = net.error_text(alice(), call).unwrap();
        assert!(err.contains("401"), "{password:?}: {err}");
        assert!(net.node(bob_addr()).incoming_calls().is_empty());
    }
}
