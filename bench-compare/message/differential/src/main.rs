//! Differential check: the message parser of this tree (`new`) against a
//! reference revision (`old`, extracted by `./setup.sh`, default main's
//! 7cbc175; this pass used `./setup.sh 10e97fd`) on seed messages and header values, random byte edits of them
//! and every truncation. Every observable result (start line, header
//! slots, body, typed decodes of every header, parameter lookups, errors
//! with offset and kind) is rendered with `Debug` and compared as text.
//!
//! `cargo run --release [ROUNDS]` (default 2000 mutations per seed).

use std::fmt::Write;

/// A decoded header's part: a field of the reference revision, an
/// accessor method of this tree (`NameAddr` and `Via::params` became
/// methods when the decoded values became byte ranges).
macro_rules! part {
    (fields, $e:expr, $f:ident) => {
        $e.$f
    };
    (methods, $e:expr, $f:ident) => {
        $e.$f()
    };
}

/// Render everything a caller can observe, for crate `$c` (`$api`: how
/// its `NameAddr` parts are read, see `part!`).
macro_rules! observers {
    ($m:ident, $c:ident, $api:ident) => {
        mod $m {
            use std::fmt::Write;
            use $c::message::*;

            const NAMES: &[&str] = &[
                "branch", "tag", "received", "rport", "maddr", "ttl", "transport", "lr",
                "user", "method", "expires", "q", "x", "TAG", "Branch", "",
            ];

            fn params(o: &mut String, p: &Params<'_>) {
                let _ = write!(o, "P[{:?} {:?} {}", p.as_str(), p, p.is_empty());
                for n in NAMES {
                    let _ = write!(o, " {:?}/{:?}/{}", p.get(n), p.value(n), p.contains(n));
                }
                for (n, _) in p.iter() {
                    let _ = write!(o, " {:?}", p.get(n));
                }
                o.push(']');
            }

            pub fn uri(o: &mut String, s: &str) {
                match Uri::parse(s) {
                    Ok(u) => uri_fields(o, &u),
                    Err(e) => {
                        let _ = write!(o, "UE{e:?}");
                    }
                }
                let _ = write!(o, "|{:?}", Uri::parse_with(s, 2).map(|u| u.raw));
            }

            fn uri_fields(o: &mut String, u: &Uri<'_>) {
                let _ = write!(
                    o,
                    "U[{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
                    u.raw,
                    u.scheme,
                    u.user,
                    u.password,
                    u.host,
                    u.port,
                    u.headers,
                    u.scheme_str(),
                    u.transport_param(),
                    u.maddr(),
                    u.user_param(),
                    u.host_unbracketed(),
                    u.lr()
                );
                params(o, &u.params);
                o.push(']');
            }

            fn name_addr(o: &mut String, a: &NameAddr<'_>) {
                let _ = write!(
                    o,
                    "A[{:?} {} {:?}",
                    part!($api, a, display_name),
                    part!($api, a, bracketed),
                    a.tag()
                );
                uri_fields(o, &part!($api, a, uri));
                params(o, &part!($api, a, params));
                o.push(']');
            }

            pub fn via(o: &mut String, s: &str) {
                match Via::parse(s) {
                    Ok(v) => {
                        let _ = write!(
                            o,
                            "V[{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {}",
                            v.protocol,
                            v.transport,
                            v.host,
                            v.port,
                            v.branch(),
                            v.received(),
                            v.rport(),
                            v.maddr(),
                            v.ttl(),
                            v.is_rfc3261_branch(),
                            v.is_sip_2_0()
                        );
                        params(o, &part!($api, v, params));
                        o.push(']');
                    }
                    Err(e) => {
                        let _ = write!(o, "VE{e:?}");
                    }
                }
            }

            pub fn addr(o: &mut String, s: &str) {
                match NameAddr::parse(s) {
                    Ok(a) => name_addr(o, &a),
                    Err(e) => {
                        let _ = write!(o, "AE{e:?}");
                    }
                }
                match Contact::parse(s) {
                    Ok(c) => {
                        let _ = write!(o, "C[{:?} {:?} {:?}]", c.address().is_some(), c.expires(), c.q());
                    }
                    Err(e) => {
                        let _ = write!(o, "CE{e:?}");
                    }
                }
            }

            pub fn value(o: &mut String, s: &str) {
                via(o, s);
                addr(o, s);
                uri(o, s);
                let _ = write!(o, "{:?}{:?}{:?}", CSeq::parse(s), RAck::parse(s), MediaType::parse(s));
                let _ = write!(o, "{:?}", CommaSplit::new(s).collect::<Vec<_>>());
                for v in CommaSplit::new(s) {
                    via(o, v);
                    addr(o, v);
                }
            }

            pub fn message(o: &mut String, buf: &[u8]) {
                let limits = Limits::default();
                let small = Limits {
                    max_message: 300,
                    max_headers: 5,
                    max_header_line: 60,
                    max_uri: 20,
                    max_params: 2,
                    ..Limits::default()
                };
                for lim in [&limits, &small] {
                    match parse_stream(buf, lim) {
                        Ok(Status::Complete((v, n))) => {
                            let _ = write!(o, "S{n}:");
                            view(o, &v, lim == &limits);
                        }
                        other => {
                            let _ = write!(o, "S{:?}", other.map(|s| matches!(s, Status::Partial)));
                        }
                    }
                    match parse_datagram(buf, lim) {
                        Ok(v) => view(o, &v, lim == &limits),
                        Err(e) => {
                            let _ = write!(o, "DE{e:?} {} {}", e.status(), e);
                        }
                    }
                }
                let _ = write!(o, "K{}", keepalive_len(buf));
                match Message::parse(buf) {
                    Ok(m) => {
                        let _ = write!(o, "M{:?}", m.to_bytes());
                    }
                    Err(e) => {
                        let _ = write!(o, "ME{e:?}");
                    }
                }
            }

            fn view(o: &mut String, v: &MessageView<'_>, deep: bool) {
                let _ = write!(
                    o,
                    "V{:?} {:?} {} {:?} {:?} {:?} {:?}",
                    v.start_line(),
                    v.head(),
                    v.offset(),
                    v.body(),
                    v.content_length(),
                    v.header_count(),
                    v.validate()
                );
                if !deep {
                    return;
                }
                let h = v.headers();
                for f in h.iter() {
                    let _ = write!(o, "H{:?}{:?}{:?}", f, f.header_name(), f.canonical_name());
                    value(o, f.value);
                }
                let _ = write!(o, "{:?}", h.top_via());
                let _ = write!(o, "{:?}", h.vias().collect::<Vec<_>>());
                let _ = write!(o, "{:?}{:?}{:?}{:?}", h.from(), h.to(), h.call_id(), h.cseq());
                let _ = write!(o, "{:?}", h.contacts().collect::<Vec<_>>());
                let _ = write!(o, "{:?}", h.routes().collect::<Vec<_>>());
                let _ = write!(o, "{:?}", h.record_routes().collect::<Vec<_>>());
                let _ = write!(o, "{:?}{:?}{:?}", h.max_forwards(), h.content_type(), h.content_length());
                let _ = write!(o, "{:?}{:?}{:?}", h.expires(), h.rseq(), h.rack());
                if let Some(Ok(t)) = h.top_via() {
                    let _ = write!(o, "{:?}{:?}", t.branch(), t.rport());
                }
                if let Some(Ok(f)) = h.from() {
                    let _ = write!(o, "{:?}{:?}", f.tag(), part!($api, f, uri).host);
                }
                if let Some(Ok(f)) = h.to() {
                    let _ = write!(o, "{:?}{:?}", f.tag(), part!($api, f, uri).host);
                }
                if let Some(u) = v.request_uri() {
                    uri(o, u);
                }
            }
        }
    };
}

observers!(obs_new, new, methods);
observers!(obs_old, old, methods);

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPECIAL: &[u8] = b"\r\n \t:;,<>\"\\@%[]?=/()*0aZ.-_~!+'`&$#{}|^\xff\xc3\xa9\x00\x7f";

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        if m.is_empty() {
            m.push(SPECIAL[rng.below(SPECIAL.len())]);
            continue;
        }
        let at = rng.below(m.len());
        let sp = SPECIAL[rng.below(SPECIAL.len())];
        match rng.below(7) {
            0 | 1 => m[at] = sp,
            2 => {
                m.remove(at);
            }
            3 => m.insert(at, sp),
            4 => m[at] = rng.next() as u8,
            5 => {
                // Duplicate a short run (repeated params, folds).
                let len = 1 + rng.below(12);
                let end = (at + len).min(m.len());
                let chunk = m[at..end].to_vec();
                let to = rng.below(m.len());
                m.splice(to..to, chunk);
            }
            _ => {
                if rng.below(4) == 0 {
                    m.truncate(at);
                } else {
                    m[at] = m[at].to_ascii_uppercase();
                }
            }
        }
    }
    m
}

fn seeds(root: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut msgs = Vec::new();
    let mut values = Vec::new();
    for dir in ["fuzz/seeds/message_datagram", "fuzz/seeds/message_stream", "samples"] {
        if let Ok(rd) = std::fs::read_dir(format!("{root}/{dir}")) {
            for e in rd.flatten() {
                msgs.push(std::fs::read(e.path()).unwrap());
            }
        }
    }
    for dir in ["fuzz/seeds/headers", "fuzz/seeds/uri"] {
        if let Ok(rd) = std::fs::read_dir(format!("{root}/{dir}")) {
            for e in rd.flatten() {
                let mut v = std::fs::read(e.path()).unwrap();
                if dir.ends_with("headers") && !v.is_empty() {
                    v.remove(0);
                }
                values.push(v);
            }
        }
    }
    msgs.push(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/TCP [::1]:5060;rport\r\nTo: \"B\" <sip:b@h>;tag=2\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\nContact: *\r\nRecord-Route: <sip:p;lr>, <sip:q;lr>\r\nContent-Type: multipart/mixed;boundary=b\r\nContent-Length: 20\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n".to_vec());
    msgs.push(b"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\nTO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\nfrom   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag \r\n  = 98asjd8\r\nMaX-fOrWaRdS: 0068\r\nCall-ID: wsinv.ndaksdj@192.0.2.1\r\nContent-Length   : 0\r\ncseq: 0009\r\n  INVITE\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\ns :\r\nNewFangledHeader:   newfangled value\r\n continued newfangled value\r\nUnknownHeaderWithUnusualValue: ;;,,;;,;\r\nContent-Type: application/sdp\r\nRoute:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\nv:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\nm:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33\r\n\r\n".to_vec());
    msgs.push(b"REGISTER sips:ss2.biloxi.example.com:5061;transport=tls SIP/2.0\r\nv: SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKnashds7;rport;received=[2001:db8::1]\r\nf: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl\r\nt: <sips:bob:pw%41@biloxi.example.com?x=y>\r\ni: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\nCSeq: 1 REGISTER\r\nm: <sips:bob@client.biloxi.example.com>;expires=3600;q=0.5, \"x,y\" <tel:+1-555;phone-context=a>, urn:service:sos\r\nl: 0\r\n\r\n".to_vec());
    for v in [
        &b"SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101"[..],
        b"\"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl",
        b"<sip:alice@pc33.atlanta.example.com;transport=udp>",
        b"sip:+12125551212@server.phone2net.com;tag=887s",
        b"Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8",
        b"SIP / 2.0 / UDP first.example.com: 4000;ttl=16\r\n ;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1",
        b"SIP/2.0/TCP [2001:db8::1]:5062;rport;branch=z9hG4bKx;x=\"a;b\" ; Branch = y",
        b"sip:alice:secretword@atlanta.com;transport=tcp;lr;maddr=1.2.3.4?h=v&a=%41",
        b"sip:alice;day=tuesday@atlanta.com",
        b"sip:%61lice@atlanta.com;transport=TCP",
        b"1 INVITE",
        b"application/sdp;charset=utf-8",
        b"<sip:a@b;lr>;tag=x;tag=y;expires=60;q=0.7, *",
    ] {
        values.push(v.to_vec());
    }
    (msgs, values)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../..");
    let (msgs, values) = seeds(root);
    let mut rng = Rng(0x5157_0a11_2026_1130);
    let mut checked = 0usize;
    let mut bad = 0usize;
    let mut parsed = 0usize;
    let mut check = |kind: &str, input: &[u8]| {
        let (mut a, mut b) = (String::new(), String::new());
        if kind == "msg" {
            let limits = new::message::Limits::default();
            parsed += usize::from(new::message::parse_datagram(input, &limits).is_ok());
            obs_new::message(&mut a, input);
            obs_old::message(&mut b, input);
        } else {
            let s = String::from_utf8_lossy(input);
            obs_new::value(&mut a, &s);
            obs_old::value(&mut b, &s);
        }
        checked += 1;
        if a != b {
            bad += 1;
            if bad <= 5 {
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let mut msg = String::new();
                let _ = write!(
                    msg,
                    "MISMATCH {kind} input {:?}\n new ...{}\n old ...{}",
                    String::from_utf8_lossy(input),
                    &a[at.saturating_sub(200)..(at + 200).min(a.len())],
                    &b[at.saturating_sub(200)..(at + 200).min(b.len())],
                );
                eprintln!("{msg}");
            }
        }
    };
    for m in &msgs {
        check("msg", m);
        for cut in 0..m.len() {
            check("msg", &m[..cut]);
        }
        for _ in 0..rounds * 4 {
            check("msg", &mutate(&mut rng, m));
        }
    }
    for v in &values {
        for cut in 0..=v.len() {
            check("value", &v[..cut]);
            check("value", &v[cut..]);
        }
        for _ in 0..rounds * 8 {
            check("value", &mutate(&mut rng, v));
        }
    }
    println!("{checked} inputs checked ({parsed} messages parsed as datagrams), {bad} mismatches");
    if bad != 0 {
        std::process::exit(1);
    }
}
