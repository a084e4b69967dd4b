//! Server transport rules that apply with or without a transaction: the
//! `received`/`rport` stamp on an arriving request (RFC 3261 section
//! 18.2.1, RFC 3581 section 4) and where a response goes (section 18.2.2,
//! RFC 3581 section 4).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;

use tracing::warn;

use crate::message::{HeaderName, Message, Via};
use crate::text::{decimal, Digits};
use crate::transport::Transport;

/// Where a response to a request from `source` over `transport` is sent,
/// reading the response's (or the request's) top Via (RFC 3261 section
/// 18.2.2 with RFC 3581):
///
/// - reliable transports answer on the connection the request came on, so
///   `source`;
/// - over UDP a `maddr` IP wins (port from sent-by, default 5060);
/// - otherwise the `received` IP (or `source`'s IP), at the `rport` port if
///   it has a value, else the sent-by port, else 5060.
///
/// A core without a resolver cannot follow a `maddr` that is a host name;
/// such a response goes to `source` as the section 18.2.2 fallback does.
pub fn response_destination(
    message: &Message,
    source: SocketAddr,
    transport: Transport,
) -> SocketAddr {
    if transport.is_reliable() {
        return source;
    }
    match message.top_via() {
        Some(Ok(via)) => destination_from_via(&TopVia::new(via), source, transport),
        _ => source,
    }
}

/// A decoded top Via with the parameters the transaction layer reads,
/// found in one pass over the parameter list (each `Via` accessor would
/// scan it again).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopVia<'a> {
    pub(crate) via: Via<'a>,
    pub(crate) branch: Option<&'a str>,
    pub(crate) rport: Option<Option<u16>>,
    /// The first `rport` has no value (RFC 3581: fill it in).
    pub(crate) rport_bare: bool,
    pub(crate) maddr: Option<&'a str>,
    pub(crate) received: Option<&'a str>,
    /// Some `received` parameter is present (with a value or not).
    pub(crate) any_received: bool,
    /// How many `rport` parameters have no value, and the name of the
    /// first (where the stamp writes the port).
    pub(crate) bare_rports: u8,
    pub(crate) bare_rport: Option<&'a str>,
}

impl<'a> TopVia<'a> {
    pub(crate) fn new(via: Via<'a>) -> Self {
        // First occurrence wins, as with `Params::get`.
        let (mut branch, mut rport, mut maddr, mut received) = (None, None, None, None);
        let (mut any_received, mut bare_rports, mut bare_rport) = (false, 0u8, None);
        for (name, value) in via.params().iter() {
            let slot = if name.eq_ignore_ascii_case("branch") {
                &mut branch
            } else if name.eq_ignore_ascii_case("rport") {
                if value.is_none() {
                    bare_rports = bare_rports.saturating_add(1);
                    bare_rport = bare_rport.or(Some(name));
                }
                &mut rport
            } else if name.eq_ignore_ascii_case("maddr") {
                &mut maddr
            } else if name.eq_ignore_ascii_case("received") {
                any_received = true;
                &mut received
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        Self {
            via,
            branch: branch.flatten(),
            rport: rport.map(|v: Option<&str>| v.and_then(|p| p.parse().ok())),
            rport_bare: rport == Some(None),
            maddr: maddr.flatten(),
            received: received.flatten(),
            any_received,
            bare_rports,
            bare_rport,
        }
    }

    /// This Via as the stamp (section 18.2.1: [`needs_stamp`], then
    /// [`write_stamped_top`] and [`replace_top_via`]) leaves it for a
    /// request from `source`,
    /// as far as the layer reads it: `received` is `source`'s IP (so it
    /// reads as absent, which means the same to
    /// [`destination_from_via`]) and a bare `rport` holds `source`'s port.
    pub(crate) fn stamped(mut self, source: SocketAddr) -> Self {
        self.received = None;
        if self.rport_bare {
            self.rport = Some(Some(source.port()));
            self.rport_bare = false;
        }
        self
    }
}

/// [`response_destination`] with the top Via already decoded.
pub(crate) fn destination_from_via(
    via: &TopVia<'_>,
    source: SocketAddr,
    transport: Transport,
) -> SocketAddr {
    if transport.is_reliable() {
        return source;
    }
    let port = via.via.port.unwrap_or(transport.default_port());
    if let Some(ip) = via.maddr.and_then(parse_ip) {
        return SocketAddr::new(ip, port);
    }
    let ip = via.received.and_then(parse_ip).unwrap_or(source.ip());
    let port = match via.rport {
        Some(Some(rport)) => rport,
        _ => port,
    };
    SocketAddr::new(ip, port)
}

/// The port a response goes to when the connection its request came on
/// is gone (RFC 3261 section 18.2.2): a new connection to the `received`
/// IP, which is the source's (the stamp of section 18.2.1 makes it so), at
/// the sent-by port, else the transport's default port. `None` over UDP,
/// or when that is `source` itself (nothing else to try). Kept as a port
/// alone, so a transaction pays two bytes for it.
pub(crate) fn reliable_fallback(
    via: &TopVia<'_>,
    source: SocketAddr,
    transport: Transport,
) -> Option<NonZeroU16> {
    if !transport.is_reliable() {
        return None;
    }
    let port = via.via.port.unwrap_or(transport.default_port());
    if port == source.port() {
        return None;
    }
    NonZeroU16::new(port)
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// [`write_stamped_line`] for the decoded top Via `top`: in the common
/// case (no `received` yet, at most one bare `rport`) the first value is
/// copied as written with the port put after `rport` and `received`
/// appended to it, which spares rebuilding it parameter by parameter.
/// The result differs from the rebuilt line only where the sender's
/// spacing did (RFC 3261 section 7.3.1 allows it around `;`).
pub(crate) fn write_stamped_top(
    request: &Message,
    top: &TopVia<'_>,
    source: SocketAddr,
    value: &mut String,
) {
    if top.any_received || top.bare_rports > 1 || !write_stamped_copy(request, top, source, value) {
        write_stamped_line(request, &top.via, source, value);
    }
}

/// The copying path of [`write_stamped_top`]; false (and `value` left
/// for the general path) when the Via's text is not where expected.
fn write_stamped_copy(
    request: &Message,
    top: &TopVia<'_>,
    source: SocketAddr,
    value: &mut String,
) -> bool {
    let Some(line) = request.headers(&HeaderName::Via).next() else {
        return false;
    };
    // Offsets in `line` of the end of the first value's parameters and of
    // the end of the bare `rport`, from the decoded slices (which borrow
    // from the same text).
    let offset = |sub: &str| {
        let at = (sub.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
        (at + sub.len() <= line.len()).then_some(at + sub.len())
    };
    // The parameters end the first value (an empty list may not borrow
    // from the line; the port or host ends it then).
    let params = top.via.params().as_str();
    let end = if params.is_empty() {
        None
    } else {
        offset(params)
    };
    let Some(end) = end else {
        return false;
    };
    let rport = match top.bare_rport {
        Some(name) => match offset(name) {
            Some(at) if at <= end => Some(at),
            _ => return false,
        },
        None => None,
    };
    let mut digits = Digits::default();
    value.clear();
    value.reserve(line.len() + 32);
    match rport {
        Some(at) => {
            value.push_str(&line[..at]);
            value.push('=');
            value.push_str(decimal(source.port(), &mut digits));
            value.push_str(&line[at..end]);
        }
        None => value.push_str(&line[..end]),
    }
    push_received(value, source.ip());
    value.push_str(&line[end..]);
    true
}

/// The first Via line of `request` with its first value (`via`) stamped
/// for `source`: protocol, transport, sent-by, then the parameters with
/// `rport` filled in and `received` (re)set; further values that share
/// the line are kept.
///
/// Written into `value` (cleared first), so the layer can reuse one buffer
/// for every request.
pub(crate) fn write_stamped_line(
    request: &Message,
    via: &Via<'_>,
    source: SocketAddr,
    value: &mut String,
) {
    let rest = match request.headers(&HeaderName::Via).next() {
        Some(line) => first_comma(line).map_or("", |i| &line[i..]),
        None => "",
    };
    value.clear();
    value.reserve(via.params().as_str().len() + via.host.len() + 64 + rest.len());
    let mut digits = Digits::default();
    value.push_str(via.protocol);
    value.push('/');
    value.push_str(via.transport);
    value.push(' ');
    value.push_str(via.host);
    if let Some(port) = via.port {
        value.push(':');
        value.push_str(decimal(port, &mut digits));
    }
    for (name, v) in via.params().iter() {
        if name.eq_ignore_ascii_case("received") {
            continue;
        }
        value.push(';');
        value.push_str(name);
        if name.eq_ignore_ascii_case("rport") && v.is_none() {
            value.push('=');
            value.push_str(decimal(source.port(), &mut digits));
        } else if let Some(v) = v {
            value.push('=');
            value.push_str(v);
        }
    }
    push_received(value, source.ip());
    value.push_str(rest);
}

/// `;received=` and `ip` (RFC 3261 section 18.2.1): the bare address, an
/// IPv6 one without brackets as `IpAddr`'s Display writes it.
fn push_received(value: &mut String, ip: IpAddr) {
    value.push_str(";received=");
    match ip {
        IpAddr::V4(v4) => {
            // Every request is stamped (our own Via asks for `rport`):
            // the dotted quad is written into a buffer and appended once.
            let mut buf = [0u8; 15];
            let mut n = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    buf[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    buf[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + octet % 10;
                n += 1;
            }
            // Digits and dots only, so always UTF-8.
            value.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
        }
        IpAddr::V6(v6) => {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(*value, "{v6}");
        }
    }
}

/// Whether a request from `source` needs its top Via stamped (section
/// 18.2.1: `received` when sent-by is not `source`'s IP; RFC 3581: a bare
/// `rport` filled with `source`'s port).
pub(crate) fn needs_stamp(via: &TopVia<'_>, source: SocketAddr) -> bool {
    via.rport == Some(None) || parse_ip(via.via.host) != Some(source.ip())
}

/// Replace the first Via line with `line` (see [`write_stamped_line`]).
pub(crate) fn replace_top_via(request: &mut Message, line: &str) {
    if !request.replace_top_via_same_branch(line) {
        warn!("top Via vanished while stamping it");
    }
}

/// Index of the first comma outside a quoted string.
pub(crate) fn first_comma(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    // Usually there is no quote before the first comma (or no comma at
    // all): found with one vector scan instead of a byte-by-byte walk.
    let start = match memchr::memchr2(b',', b'"', bytes) {
        None => return None,
        Some(i) if bytes[i] == b',' => return Some(i),
        Some(i) => i,
    };
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// A To tag derived from `seed` (the branch), for responses the layer
/// makes itself (503, 481, the 200 to a CANCEL) when no TU tag is known.
/// Section 8.2.6.2 wants a tag; deriving it keeps retransmitted requests
/// answered with the same one, and needs no randomness source.
pub(crate) fn derived_tag(seed: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The 100 Trying the layer sends for a new INVITE (RFC 3261 section
/// 17.2.1), serialized straight to bytes: the request's Via, From, To
/// (never tagged: a 100 creates no dialog), Call-ID and CSeq, and the
/// Timestamp echo of section 8.2.6.1.
pub(crate) fn trying_bytes(request: &Message) -> Vec<u8> {
    let ts = request.header(&HeaderName::Timestamp);
    Message::response_bytes(request, 100, ts.map(|v| (&HeaderName::Timestamp, v)))
}

/// A final or provisional (above 100) response the layer makes on its
/// own: `Message::response_to` with `tag`, or one derived from the branch
/// and Call-ID, unless the request's To already has a tag.
pub(crate) fn make_response(request: &Message, status: u16, tag: Option<&str>) -> Message {
    let derived;
    let tag = match tag {
        _ if request.to_tag().flatten().is_some() => None,
        Some(t) => Some(t),
        None => {
            let seed = request.top_branch().unwrap_or("");
            derived = derived_tag(&format!("{seed}{}", request.call_id().unwrap_or("")));
            Some(derived.as_str())
        }
    };
    Message::response_to(request, status, tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(via: &str) -> Message {
        let text = format!(
            "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n\
             To: <sip:b@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).expect("test message parses")
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The request as the transaction layer hands it to the TU, stamped
    /// by the production chain (`needs_stamp`, `write_stamped_top`,
    /// `replace_top_via` in `TransactionLayer::handle_request`), and where
    /// the layer sends the TU's 200 to it.
    fn through_layer(r: Message, source: SocketAddr) -> (Message, SocketAddr) {
        use super::super::{TransactionConfig, TransactionEvent, TransactionLayer};
        let now = std::time::Instant::now();
        let mut layer = TransactionLayer::new(TransactionConfig::default());
        layer.handle_message(now, r, source, Transport::Udp);
        let Some(TransactionEvent::Request { id, request, .. }) = layer.poll_event() else {
            panic!("the layer passed no request on");
        };
        let ok = Message::response_to(&request, 200, Some("x"));
        layer.send_response(now, id, ok).unwrap();
        let sent = layer.poll_transmit().expect("the 200 was sent");
        (request, sent.destination)
    }

    /// The top Via line, as the TU sees it.
    fn top_line(m: &Message) -> String {
        m.headers(&HeaderName::Via).next().unwrap().to_owned()
    }

    #[test]
    fn rfc3261_18_2_1_received_added_when_sent_by_differs() {
        let r = request("SIP/2.0/UDP client.example:5070;branch=z9hG4bK1");
        let (r, dest) = through_layer(r, addr("127.0.0.2:5070"));
        let via = r.top_via().unwrap().unwrap();
        assert_eq!(via.received(), Some("127.0.0.2"));
        assert_eq!(via.branch(), Some("z9hG4bK1"));
        assert_eq!(
            r.top_branch(),
            Some("z9hG4bK1"),
            "the cached branch follows"
        );
        assert_eq!(dest, addr("127.0.0.2:5070"));
        assert_eq!(
            response_destination(&r, addr("127.0.0.2:5070"), Transport::Udp),
            dest
        );

        let same = request("SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK1");
        let before = top_line(&same);
        let (same, dest) = through_layer(same, addr("127.0.0.2:5070"));
        assert_eq!(top_line(&same), before, "sent-by is the source: untouched");
        assert_eq!(same.top_via().unwrap().unwrap().received(), None);
        assert_eq!(dest, addr("127.0.0.2:5070"));
    }

    #[test]
    fn rfc3581_4_rport_filled_and_used() {
        let r = request("SIP/2.0/UDP 127.0.0.2:5070;rport;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.9");
        let (r, dest) = through_layer(r, addr("127.0.0.3:40000"));
        let via = r.top_via().unwrap().unwrap();
        assert_eq!(via.rport(), Some(Some(40000)));
        assert_eq!(via.received(), Some("127.0.0.3"));
        assert_eq!(
            r.vias().count(),
            2,
            "the second Via value on the line survives"
        );
        // The response goes to the source address and port (RFC 3581
        // section 4), also as read back from the stamped Via.
        assert_eq!(dest, addr("127.0.0.3:40000"));
        let resp = Message::response_to(&r, 200, Some("x"));
        assert_eq!(
            response_destination(&resp, addr("127.0.0.3:40000"), Transport::Udp),
            dest
        );
    }

    /// RFC 3261 section 18.2.1 / RFC 3581 section 4: the copying stamp
    /// writes exactly what rebuilding the Via writes when the sender wrote
    /// it plainly, and otherwise a Via that decodes to the same values.
    #[test]
    fn rfc3261_18_2_1_copied_stamp_equals_rebuilt() {
        let source = addr("127.0.0.3:40000");
        for (via, plain) in [
            ("SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK1;rport", true),
            ("SIP/2.0/UDP 127.0.0.2:5070;RPORT;branch=z9hG4bK1", true),
            ("SIP/2.0/UDP host.example;branch=z9hG4bK1;rport=7;x", true),
            ("SIP/2.0/TCP [::1]:5070;branch=z9hG4bK1;rport", true),
            (
                "SIP/2.0/UDP h.example;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.9",
                true,
            ),
            (
                "SIP/2.0/UDP h.example;branch=z9hG4bK1 , SIP/2.0/UDP 127.0.0.9",
                false,
            ),
            ("SIP/2.0/UDP h.example ; branch=z9hG4bK1 ;rport", false),
            ("SIP/2.0/UDP h.example:05060;rport;branch=z9hG4bK1", false),
            (
                "SIP/2.0/UDP h.example;x=\"a;rport\";branch=z9hG4bK1;rport",
                false,
            ),
            (
                "SIP/2.0/UDP h.example;received=127.0.0.8;branch=z9hG4bK1",
                true,
            ),
            ("SIP/2.0/UDP h.example;rport;rport;branch=z9hG4bK1", true),
            ("SIP/2.0/UDP h.example", true),
        ] {
            let r = request(via);
            let top = TopVia::new(r.top_via().unwrap().unwrap());
            let mut copied = String::new();
            write_stamped_top(&r, &top, source, &mut copied);
            let mut rebuilt = String::new();
            write_stamped_line(&r, &top.via, source, &mut rebuilt);
            if plain {
                assert_eq!(copied, rebuilt, "{via}");
            }
            let decode = |line: &str| {
                let mut m = request(via);
                m.set_header(HeaderName::Via, line);
                let vias: Vec<String> = m.vias().map(|v| format!("{:?}", v.unwrap())).collect();
                let top = TopVia::new(m.top_via().unwrap().unwrap());
                (
                    vias.len(),
                    top.branch.map(str::to_owned),
                    top.rport,
                    top.received.map(str::to_owned),
                )
            };
            assert_eq!(decode(&copied), decode(&rebuilt), "{via}: {copied}");
        }
    }

    #[test]
    fn rfc3581_4_stamped_view_matches_the_stamped_via() {
        // What the layer reads from `TopVia::stamped` must be what it
        // would read after stamping and decoding the Via again.
        for via in [
            "SIP/2.0/UDP 127.0.0.2:5070;rport;branch=z9hG4bK1",
            "SIP/2.0/UDP 127.0.0.2:5070;rport=7;branch=z9hG4bK1",
            "SIP/2.0/UDP 127.0.0.2:5070;rport=x;branch=z9hG4bK1",
            "SIP/2.0/UDP host.example;received=127.0.0.8;branch=z9hG4bK1;rport",
            "SIP/2.0/UDP host.example:7000;maddr=127.0.0.7;branch=z9hG4bK1",
            "SIP/2.0/UDP host.example;branch=z9hG4bK1;rport;rport=9",
            "SIP/2.0/TCP [::1]:5070;rport;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.9",
        ] {
            for source in [addr("127.0.0.3:40000"), addr("[::1]:40001")] {
                let original = request(via);
                let top = TopVia::new(original.top_via().unwrap().unwrap());
                let (branch, host, port) = (
                    top.branch.map(str::to_owned),
                    top.via.host.to_owned(),
                    top.via.port,
                );
                let changed = needs_stamp(&top, source);
                let seen = if changed { top.stamped(source) } else { top };
                let dest = destination_from_via(&seen, source, Transport::Udp);
                let (r, sent_to) = through_layer(request(via), source);
                assert_eq!(top_line(&r) != top_line(&original), changed, "{via}");
                // Where the layer sent the 200 (from the stamped view) is
                // where the stamped Via says.
                assert_eq!(sent_to, dest, "{via} from {source}");
                let after = TopVia::new(r.top_via().unwrap().unwrap());
                assert_eq!(
                    destination_from_via(&after, source, Transport::Udp),
                    dest,
                    "{via} from {source}"
                );
                assert_eq!(after.branch.map(str::to_owned), branch);
                assert_eq!((after.via.host, after.via.port), (host.as_str(), port));
                assert_eq!(r.vias().count(), request(via).vias().count());
            }
        }
    }

    /// RFC 3261 section 18.2.1: `received` holds the source address as
    /// `IpAddr` writes it, for every width of octet.
    #[test]
    fn rfc3261_18_2_1_received_is_the_source_address() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.99.100.255",
            "127.0.0.1",
            "192.0.2.19",
            "255.255.255.255",
            "2001:db8::1",
            "::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut value = String::from("x");
            push_received(&mut value, ip);
            assert_eq!(value, format!("x;received={ip}"));
        }
    }

    #[test]
    fn rfc3261_18_2_2_maddr_and_reliable_transports() {
        let r = request("SIP/2.0/UDP 127.0.0.2:5070;maddr=127.0.0.7;branch=z9hG4bK1");
        assert_eq!(
            response_destination(&r, addr("127.0.0.2:5070"), Transport::Udp),
            addr("127.0.0.7:5070")
        );
        let plain = request("SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK1");
        assert_eq!(
            response_destination(&plain, addr("127.0.0.2:6000"), Transport::Udp),
            addr("127.0.0.2:5060"),
            "no rport: the sent-by port (default 5060), not the source port"
        );
        assert_eq!(
            response_destination(&plain, addr("127.0.0.2:6000"), Transport::Tcp),
            addr("127.0.0.2:6000"),
            "reliable: back on the connection"
        );
    }

    #[test]
    fn rfc3261_8_2_6_layer_made_responses_carry_a_stable_tag() {
        let r = request("SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK1");
        let a = make_response(&r, 503, None);
        let b = make_response(&r, 503, None);
        let tag_a = a.to_header().unwrap().unwrap().tag().map(str::to_owned);
        assert!(tag_a.is_some());
        assert_eq!(tag_a.as_deref(), b.to_header().unwrap().unwrap().tag());
        let trying = Message::parse(&trying_bytes(&r)).unwrap();
        assert_eq!(trying.status(), Some(100));
        assert_eq!(trying.to_header().unwrap().unwrap().tag(), None);
        assert_eq!(first_comma("a;x=\"1,2\", b"), Some(9));
        assert_eq!(first_comma("a;x=\"q\\\",\";y, b"), Some(12));
        assert_eq!(first_comma("a;x=1, b"), Some(5));
        assert_eq!(first_comma("a;x=\"1,2\""), None);
        assert_eq!(first_comma("a;x=1"), None);
    }
}
