//! The REGISTER client (RFC 3261 section 10.2) and digest authentication
//! of any request (section 22), against a scripted registrar/proxy that
//! challenges with the auth layer's `ServerAuth`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipparty_core::auth::{AuthKind, Credentials, DigestRequest, ServerAuth, ServerConfig};
use sipparty_core::message::{HeaderName, Message};
use sipparty_core::party::{
    DialogError, DialogState, Event, InviteOptions, Party, RegisterOptions, RegistrationState,
    SimParty,
};
use sipparty_core::sim::{Endpoint, Network};
use sipparty_core::{SeededRandom, Transmit, Transport};

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
            bytes: resp.to_bytes(),
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

enum Node {
    Party(SimParty),
    Registrar(Box<Registrar>),
}

impl Node {
    fn sim(&self) -> &SimParty {
        match self {
            Node::Party(p) => p,
            Node::Registrar(_) => panic!("not a party"),
        }
    }
    fn sim_mut(&mut self) -> &mut SimParty {
        match self {
            Node::Party(p) => p,
            Node::Registrar(_) => panic!("not a party"),
        }
    }
    fn registrar(&self) -> &Registrar {
        match self {
            Node::Registrar(r) => r,
            Node::Party(_) => panic!("not the registrar"),
        }
    }
}

impl Endpoint for Node {
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        let r = match self {
            Node::Party(p) => return p.handle_datagram(now, source, destination, bytes),
            Node::Registrar(r) => r,
        };
        let Ok(req) = Message::parse(bytes) else {
            return;
        };
        let Some(method) = req.method() else { return };
        match method.as_str() {
            "REGISTER" => {
                let expires = req.expires().and_then(Result::ok).unwrap_or(3600);
                let ok = Registrar::verified(&mut r.www, now, &req, HeaderName::Authorization);
                r.registers
                    .push((expires, req.header(&HeaderName::Authorization).is_some()));
                if !ok {
                    let mut resp = Message::response_to(&req, 401, Some("reg"));
                    for c in r.www.challenge(now) {
                        resp.add_header(HeaderName::WwwAuthenticate, &c);
                    }
                    return r.respond(source, resp);
                }
                if expires != 0 && expires < r.min_expires {
                    let mut resp = Message::response_to(&req, 423, Some("reg"));
                    resp.add_header(HeaderName::MinExpires, &r.min_expires.to_string());
                    return r.respond(source, resp);
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
                r.respond(source, resp);
            }
            "INVITE" => {
                r.invites.push(req.clone());
                let ok =
                    Registrar::verified(&mut r.proxy, now, &req, HeaderName::ProxyAuthorization);
                if !ok {
                    let mut resp = Message::response_to(&req, 407, Some("px"));
                    for c in r.proxy.challenge(now) {
                        resp.add_header(HeaderName::ProxyAuthenticate, &c);
                    }
                    return r.respond(source, resp);
                }
                let resp = Message::response_to(&req, 603, Some("px"));
                r.respond(source, resp);
            }
            _ => {}
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        if let Node::Party(p) = self {
            p.handle_timeout(now)
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Node::Party(p) => p.poll_transmit(),
            Node::Registrar(r) => r.out.pop_front(),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Node::Party(p) => p.poll_timeout(),
            Node::Registrar(_) => None,
        }
    }
}

fn alice() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}
fn registrar() -> SocketAddr {
    "127.0.0.1:5080".parse().unwrap()
}

fn setup(password: &str, min_expires: u32) -> Network<Node> {
    let start = Instant::now();
    let mut net = Network::new(31, start);
    let mut party = Party::no_media_simple_calls("alice@example.com").unwrap();
    party.config_mut().credentials = Some(Credentials::new("alice", password));
    net.add(alice(), Node::Party(SimParty::new(party, alice())));
    let mut r = Registrar::new(start);
    r.min_expires = min_expires;
    net.add(registrar(), Node::Registrar(Box::new(r)));
    net
}

fn registration_states(net: &Network<Node>) -> Vec<RegistrationState> {
    net.endpoint(alice())
        .sim()
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
    let id = net
        .endpoint_mut(alice())
        .sim_mut()
        .party_mut()
        .register(
            now,
            "sip:127.0.0.1:5080",
            RegisterOptions::default().expires(600),
        )
        .unwrap();
    net.run_until(now + Duration::from_secs(1));
    // 401, then the REGISTER again with credentials.
    assert_eq!(
        net.endpoint(registrar()).registrar().registers,
        vec![(600, false), (600, true)]
    );
    assert_eq!(
        registration_states(&net).last(),
        Some(&RegistrationState::Registered {
            expires: Duration::from_secs(300)
        })
    );
    // Refreshed before the granted 300 s run out, reusing the nonce.
    net.run_until(now + Duration::from_secs(299));
    let regs = &net.endpoint(registrar()).registrar().registers;
    assert!(regs.len() >= 3, "refreshed: {regs:?}");
    assert!(regs[2].1, "refresh carries credentials");
    let now = net.now();
    net.endpoint_mut(alice())
        .sim_mut()
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
    assert_eq!(
        net.endpoint(registrar())
            .registrar()
            .registers
            .last()
            .unwrap()
            .0,
        0
    );
    assert!(net.endpoint_mut(alice()).sim_mut().is_idle());
}

#[test]
fn register_423_retries_with_min_expires_rfc3261_10_2_8() {
    let mut net = setup("secret", 1800);
    let now = net.now();
    net.endpoint_mut(alice())
        .sim_mut()
        .party_mut()
        .register(
            now,
            "sip:127.0.0.1:5080",
            RegisterOptions::default().expires(60),
        )
        .unwrap();
    net.run_until(now + Duration::from_secs(1));
    let asked: Vec<u32> = net
        .endpoint(registrar())
        .registrar()
        .registers
        .iter()
        .map(|r| r.0)
        .collect();
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
    let now = net.now();
    net.endpoint_mut(alice())
        .sim_mut()
        .party_mut()
        .register(now, "sip:127.0.0.1:5080", RegisterOptions::default())
        .unwrap();
    net.run_until_idle(Duration::from_secs(120));
    assert_eq!(net.endpoint(registrar()).registrar().registers.len(), 2);
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
    let now = net.now();
    let call = net
        .endpoint_mut(alice())
        .sim_mut()
        .party_mut()
        .invite(now, "bob@127.0.0.1:5080", InviteOptions::default())
        .unwrap();
    net.run_until_idle(Duration::from_secs(120));
    let invites = &net.endpoint(registrar()).registrar().invites;
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
    let node = net.endpoint(alice()).sim();
    assert_eq!(node.state_of(call), Some(DialogState::Error));
    assert_eq!(
        node.party().last_error(call).unwrap().to_string(),
        "603 Decline"
    );
    assert!(net.endpoint_mut(alice()).sim_mut().is_idle());
}

#[test]
fn invite_without_credentials_reports_the_challenge() {
    let mut net = setup("secret", 0);
    net.endpoint_mut(alice())
        .sim_mut()
        .party_mut()
        .config_mut()
        .credentials = None;
    let now = net.now();
    let call = net
        .endpoint_mut(alice())
        .sim_mut()
        .party_mut()
        .invite(now, "bob@127.0.0.1:5080", InviteOptions::default())
        .unwrap();
    net.run_until_idle(Duration::from_secs(120));
    let err = net
        .endpoint(alice())
        .sim()
        .party()
        .last_error(call)
        .unwrap()
        .to_string();
    assert!(err.contains("407 Proxy Authentication Required"), "{err}");
    assert!(err.contains("proxy.example.com"), "{err}");
}

fn challenged_call(password: Option<&str>) -> (Network<SimParty>, sipparty_core::party::DialogId) {
    let bob: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let mut net = Network::new(41, Instant::now());
    let mut caller = Party::no_media_simple_calls("alice@example.com").unwrap();
    caller.config_mut().credentials = password.map(|p| Credentials::new("alice", p));
    let mut callee = Party::no_media_simple_calls("bob@biloxi.com").unwrap();
    callee.config_mut().server_credentials = Some(Credentials::new("alice", "secret"));
    net.add(alice(), SimParty::new(caller, alice()));
    net.add(bob, SimParty::new(callee, bob));
    let now = net.now();
    let call = net
        .endpoint_mut(alice())
        .party_mut()
        .invite(now, "bob@127.0.0.1:5070", InviteOptions::default())
        .unwrap();
    net.run_until(now + Duration::from_secs(2));
    (net, call)
}

#[test]
fn uas_challenges_and_accepts_the_right_password_rfc3261_22_2() {
    let (mut net, call) = challenged_call(Some("secret"));
    assert_eq!(
        net.endpoint(alice()).state_of(call),
        Some(DialogState::InDialog)
    );
    let statuses: Vec<String> = net
        .log()
        .iter()
        .map(|d| d.text().lines().next().unwrap_or("").to_string())
        .collect();
    assert!(statuses.iter().any(|l| l.starts_with("SIP/2.0 401")));
    let now = net.now();
    net.endpoint_mut(alice())
        .party_mut()
        .dialog(call)
        .unwrap()
        .terminate(now)
        .unwrap();
    net.run_until_idle(Duration::from_secs(120));
    assert_eq!(
        net.endpoint(alice()).state_of(call),
        Some(DialogState::Terminated)
    );
}

#[test]
fn uas_refuses_a_wrong_or_missing_password() {
    for password in [Some("guess"), None] {
        let (net, call) = challenged_call(password);
        assert_eq!(
            net.endpoint(alice()).state_of(call),
            Some(DialogState::Error)
        );
        let err = net
            .endpoint(alice())
            .party()
            .last_error(call)
            .unwrap()
            .to_string();
        assert!(err.contains("401"), "{password:?}: {err}");
        assert!(net
            .endpoint(SocketAddr::from(([127, 0, 0, 1], 5070)))
            .incoming_calls()
            .is_empty());
    }
}
