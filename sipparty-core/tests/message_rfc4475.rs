//! RFC 4475 (SIP torture tests): one test per case, each message written
//! for this suite after the case's description in the RFC (not copied).
//! Valid messages must parse with the right values; invalid ones must be
//! rejected, by the parser or by the UAS checks (`validate`), with the
//! status the RFC expects.

use sipparty_core::message::{
    parse_datagram, HeaderName, Limits, Message, Method, Multipart, ParseErrorKind, Scheme,
};

/// Build a message from lines joined with CRLF, with a body.
fn msg(lines: &[&str], body: &str) -> Vec<u8> {
    let mut m = lines.join("\r\n").into_bytes();
    m.extend_from_slice(b"\r\n\r\n");
    m.extend_from_slice(body.as_bytes());
    m
}

/// Parse and run the UAS checks: the message, or the status to answer.
fn verdict(raw: &[u8]) -> Result<Message, u16> {
    let view = parse_datagram(raw, &Limits::default()).map_err(|e| e.status())?;
    view.validate().map_err(|e| e.status())?;
    Ok(Message::from_view(&view))
}

fn sdp() -> &'static str {
    "v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
}

/// 3.1.1.1 A short tortuous INVITE: unusual whitespace, folding, case,
/// compact forms, an unknown header with list-like junk, and comma-split
/// Via elements with LWS everywhere the grammar allows it.
#[test]
fn rfc4475_3_1_1_1_short_tortuous_invite() {
    let body = sdp();
    let raw = msg(
        &[
            "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0",
            "TO :",
            " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>",
            "  ;",
            "  tag ",
            "  = 98asjd8",
            "MaX-fOrWaRdS: 0068",
            "Call-ID: wsinv.ndaksdj@192.0.2.1",
            &format!("Content-Length   : {}", body.len()),
            "cseq: 0009",
            "  INVITE",
            "Via  : SIP  /   2.0",
            " /UDP",
            "    192.0.2.2;branch=390skdjuw",
            "s :",
            "NewFangledHeader:   newfangled value",
            " continued newfangled value",
            "UnknownHeaderWithUnusualValue: ;;,,;;,;",
            "Content-Type: application/sdp",
            "Route:",
            " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>",
            "v:  SIP  / 2.0  / TCP     spindle.example.com   ;",
            "  branch  =   z9hG4bK9ikj8  ,",
            " SIP  /    2.0   / UDP  192.168.255.111   ; branch=",
            " z9hG4bK30239",
            "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =",
            "      newvalue ;",
            "  secondparam ; q = 0.33",
        ],
        body,
    );
    let m = verdict(&raw).expect("valid");
    assert_eq!(m.method(), Some(&Method::Invite));
    let to = m.to_header().unwrap().unwrap();
    assert_eq!(to.uri().user, Some("vivekg"));
    assert_eq!(to.tag(), Some("1918181833n"));
    let from = m.from_header().unwrap().unwrap();
    assert_eq!(from.display_name(), Some("J Rosenberg \\\\\\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards(), Some(Ok(68)));
    assert_eq!(m.cseq().unwrap().unwrap().seq, 9);
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].host, "192.0.2.2");
    assert!(vias[0].is_sip_2_0());
    assert_eq!(vias[1].transport, "TCP");
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].host, "192.168.255.111");
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(m.header(&HeaderName::Subject), Some(""));
    assert_eq!(
        m.header(&HeaderName::Other("newfangledheader".into())),
        Some("newfangled value\r\n continued newfangled value")
    );
    let route = m.routes().next().unwrap().unwrap();
    assert!(route.uri().lr());
    assert!(route.uri().params.contains("unknown-no-value"));
    let contact = m.contacts().next().unwrap().unwrap();
    assert_eq!(contact.q(), Some(0.33));
    assert_eq!(
        contact.address().unwrap().params().value("newparam"),
        Some("newvalue")
    );
    assert_eq!(m.body(), body.as_bytes());
    assert_eq!(m.to_bytes(), raw, "lossless");
}

/// 3.1.1.2 Wide range of valid characters: an extension method made of
/// every token character, a user part and password using every character
/// the grammar admits, escaped control characters in a quoted display
/// name, a token display name of odd characters, a Call-ID using `word`
/// characters, and an extension header name of token characters.
#[test]
fn rfc4475_3_1_1_2_wide_range_of_valid_characters() {
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    let raw = msg(
        &[
            &format!("{method} sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0"),
            "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
            "To: \"BEL:\\\u{7} NUL:\\\u{0} DEL:\\\u{7f}\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>",
            "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\";tag=_token~1'+`*%!-.",
            "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
            &format!("CSeq: 139122385 {method}"),
            "Max-Forwards: 255",
            "extensionHeader-!.%*+_`'~: \u{feff}\u{5927}\u{505c}\u{96fb}",
            "Content-Length: 0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    assert_eq!(m.method(), Some(&Method::Extension(method.into())));
    let ruri = sipparty_core::message::Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(
        ruri.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(ruri.host, "example.com");
    let from = m.from_header().unwrap().unwrap();
    assert_eq!(from.display_name(), Some("token1~` token2'+_ token3*%!.-"));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert!(m
        .to_header()
        .unwrap()
        .unwrap()
        .display_name()
        .unwrap()
        .contains("NUL:\\\u{0}"));
    assert_eq!(
        m.call_id(),
        Some("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
    );
    assert!(m
        .header(&HeaderName::Other("EXTENSIONHEADER-!.%*+_`'~".into()))
        .unwrap()
        .ends_with('\u{96fb}'));
}

/// 3.1.1.3 Valid use of the % escaping mechanism: escapes in the
/// Request-URI user part (even an escaped `@`), in To and From users, and
/// in URI parameter names and values of a Contact.
#[test]
fn rfc4475_3_1_1_3_valid_percent_escaping() {
    let raw = msg(
        &[
            "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0",
            "To: sip:%75se%72@example.com",
            "From: <sip:I%20have%20spaces@example.net>;tag=938",
            "Max-Forwards: 87",
            "i: esc01.239409asdfakjkn23onasd0-3234",
            "CSeq: 234234 INVITE",
            "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw",
            "C: application/sdp",
            "Contact:",
            "  <sip:cal%6Cer@192.168.0.2:5060;%6C%72;n%61me=v%61lue%25%34%31>",
            "Content-Length: 0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    let ruri = sipparty_core::message::Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(ruri.user, Some("sips%3Auser%40example.com"));
    assert_eq!(ruri.host, "example.net");
    let to = m.to_header().unwrap().unwrap();
    assert!(to
        .uri()
        .equivalent(&sipparty_core::message::Uri::parse("sip:user@example.com").unwrap()));
    let c = m.contacts().next().unwrap().unwrap();
    let uri = c.address().unwrap().uri();
    assert!(uri.params.contains("%6C%72"));
    assert_eq!(uri.params.value("n%61me"), Some("v%61lue%25%34%31"));
    assert_eq!(uri.port, Some(5060));
}

/// 3.1.1.4 Escaped nulls in URIs: `%00` in user parts is legal and must
/// not truncate anything.
#[test]
fn rfc4475_3_1_1_4_escaped_nulls_in_uris() {
    let raw = msg(
        &[
            "REGISTER sip:example.com SIP/2.0",
            "To: sip:null-%00-null@example.com",
            "From: sip:null-%00-null@example.com;tag=839923423",
            "Max-Forwards: 70",
            "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd",
            "CSeq: 14398234 REGISTER",
            "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw",
            "Contact: <sip:%00@host5.example.com>",
            "Contact: <sip:%00%00@host5.example.com>",
            "L:0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    assert_eq!(
        m.to_header().unwrap().unwrap().uri().user,
        Some("null-%00-null")
    );
    let users: Vec<_> = m
        .contacts()
        .map(|c| c.unwrap().address().unwrap().uri().user.unwrap())
        .collect();
    assert_eq!(users, ["%00", "%00%00"]);
}

/// 3.1.1.5 Use of % when it is not an escape: `%` is a token character,
/// so a method spelled with `%47` is an extension method (not REGISTER),
/// and `%Z` in a quoted display name is just text.
#[test]
fn rfc4475_3_1_1_5_percent_not_an_escape() {
    let raw = msg(
        &[
            "RE%47IST%45R sip:registrar.example.com SIP/2.0",
            "To: \"%Z%45\" <sip:resource@example.com>",
            "From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23",
            "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
            "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234",
            "CSeq: 29344 RE%47IST%45R",
            "Max-Forwards: 70",
            "Contact: <sip:alias1@host1.example.com>",
            "C%6Fntact: <sip:alias2@host2.example.com>",
            "Contact: <sip:alias3@host3.example.com>",
            "l: 0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    assert_eq!(m.method(), Some(&Method::Extension("RE%47IST%45R".into())));
    assert_eq!(m.to_header().unwrap().unwrap().display_name(), Some("%Z%45"));
    assert_eq!(
        m.top_via().unwrap().unwrap().branch(),
        Some("z9hG4bK209%fzsnel234")
    );
    // `C%6Fntact` is an unknown header, not Contact.
    assert_eq!(m.contacts().count(), 2);
    assert!(m.header(&HeaderName::Other("C%6Fntact".into())).is_some());
}

/// 3.1.1.6 No LWS between a token display name and `<`.
#[test]
fn rfc4475_3_1_1_6_no_lws_between_display_name_and_laquot() {
    let raw = msg(
        &[
            "OPTIONS sip:user@example.com SIP/2.0",
            "To: sip:user@example.com",
            "From: caller<sip:caller@example.com>;tag=323",
            "Max-Forwards: 70",
            "Call-ID: lwsdisp.1234abcd@funky.example.com",
            "CSeq: 60 OPTIONS",
            "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw",
            "l: 0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    let from = m.from_header().unwrap().unwrap();
    assert_eq!(from.display_name(), Some("caller"));
    assert_eq!(from.uri().user, Some("caller"));
}

/// 3.1.1.7 Long values in header fields: a very long display name, tag,
/// Call-ID, unknown header value, many Via elements and a long branch
/// must not be truncated.
#[test]
fn rfc4475_3_1_1_7_long_values_in_header_fields() {
    let long = "very".repeat(100);
    let tag = "12982424".repeat(40);
    let vias: Vec<String> = (0..30)
        .map(|i| format!("Via: SIP/2.0/TCP sip{i}.example.com;branch=z9hG4bK{long}{i}"))
        .collect();
    let mut lines: Vec<String> = vec![
        "INVITE sip:user@example.com SIP/2.0".into(),
        format!("To: \"I have a user name of {long} long length\" <sip:{long}@example.com>"),
        format!("From: sip:amazinglylongcallername@example.net;tag={tag}"),
        format!("Call-ID: longreq.{long}"),
        "CSeq: 3882340 INVITE".into(),
        format!("Unknown-{long}-Long-Name: unknown-{long}-value; unknown-{long}-parameter-name = unknown-{long}-parameter-value"),
        "Max-Forwards: 70".into(),
    ];
    lines.extend(vias);
    lines.push("Content-Length: 0".into());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let raw = msg(&refs, "");
    assert!(raw.len() > 10_000, "long message: {}", raw.len());
    let m = verdict(&raw).expect("valid");
    assert_eq!(m.from_header().unwrap().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(m.vias().count(), 30);
    assert!(m
        .vias()
        .last()
        .unwrap()
        .unwrap()
        .branch()
        .unwrap()
        .ends_with(&format!("{long}29")));
    assert_eq!(
        m.to_header().unwrap().unwrap().uri().user.map(str::len),
        Some(400)
    );
    assert_eq!(m.call_id().map(str::len), Some(408));
}

/// 3.1.1.8 Extra trailing octets in a UDP datagram: a REGISTER with
/// Content-Length 0 followed by the text of another request; the rest is
/// ignored.
#[test]
fn rfc4475_3_1_1_8_extra_trailing_octets_in_datagram() {
    let first = msg(
        &[
            "REGISTER sip:example.com SIP/2.0",
            "To: sip:j.user@example.com",
            "From: sip:j.user@example.com;tag=43251j3j324",
            "Max-Forwards: 8",
            "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412",
            "Contact: sip:j.user@host.example.com",
            "CSeq: 8 REGISTER",
            "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492",
            "Content-Length: 0",
        ],
        "",
    );
    let mut raw = first.clone();
    raw.extend_from_slice(&msg(
        &[
            "INVITE sip:joe@example.com SIP/2.0",
            "t: sip:joe@example.com",
            "Content-Length: 0",
        ],
        "",
    ));
    let m = verdict(&raw).expect("valid");
    assert_eq!(m.method(), Some(&Method::Register));
    assert!(m.body().is_empty());
    assert_eq!(m.to_bytes(), first);
}

/// 3.1.1.9 Semicolon-separated parameters in the user part: the user
/// part `user;par=u%40example.net` contains a semicolon and is not a URI
/// parameter list.
#[test]
fn rfc4475_3_1_1_9_semicolons_in_uri_user_part() {
    let raw = msg(
        &[
            "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0",
            "To: sip:j_user@example.com",
            "From: sip:caller@example.org;tag=33242",
            "Max-Forwards: 3",
            "Call-ID: semiuri.0ha0isndaksdj",
            "CSeq: 8 OPTIONS",
            "Accept: application/sdp, application/pkcs7-mime,",
            "        multipart/mixed, multipart/signed,",
            "        message/sip, message/sipfrag",
            "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw",
            "l: 0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    let ruri = sipparty_core::message::Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(ruri.user, Some("user;par=u%40example.net"));
    assert!(ruri.params.is_empty());
    let accept: Vec<_> = m.accept().map(|a| a.unwrap().subtype).collect();
    assert_eq!(
        accept,
        ["sdp", "pkcs7-mime", "mixed", "signed", "sip", "sipfrag"]
    );
}

/// 3.1.1.10 Varied and unknown transport types in Via.
#[test]
fn rfc4475_3_1_1_10_varied_and_unknown_transports() {
    let raw = msg(
        &[
            "OPTIONS sip:user@example.com SIP/2.0",
            "To: sip:user@example.com",
            "From: <sip:caller@example.com>;tag=323",
            "Max-Forwards: 70",
            "Call-ID:  transports.kijh4akdnaqjkwendsasfdj",
            "Accept: application/sdp",
            "CSeq: 60 OPTIONS",
            "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw",
            "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf",
            "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj",
            "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en",
            "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee",
            "l: 0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert!(m.vias().nth(3).unwrap().unwrap().transport_kind().is_none());
}

/// 3.1.1.11 Multipart MIME message: SDP and a binary part, split into
/// parts with the binary octets untouched.
#[test]
fn rfc4475_3_1_1_11_multipart_mime_message() {
    let mut body = b"--boundary1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n--boundary1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n".to_vec();
    let binary: Vec<u8> = (0u8..=255).collect();
    body.extend_from_slice(&binary);
    body.extend_from_slice(b"\r\n--boundary1--\r\n");
    let mut raw = msg(
        &[
            "MESSAGE sip:kumiko@example.org SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport",
            "Max-Forwards: 70",
            "Route: <sip:127.0.0.1:5080>",
            "Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=",
            "Contact: <sip:fluffy@127.0.0.1:5070>",
            "To: <sip:kumiko@example.org>",
            "From: <sip:fluffy@example.com>;tag=2fb0dcc9",
            "Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..",
            "CSeq: 1 MESSAGE",
            "Content-Transfer-Encoding: binary",
            "Content-Type: multipart/mixed;boundary=boundary1",
            &format!("Content-Length: {}", body.len()),
        ],
        "",
    );
    raw.extend_from_slice(&body);
    let m = verdict(&raw).expect("valid");
    let parts: Vec<_> = m
        .body_parts()
        .unwrap()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].content_type().unwrap().unwrap().is_sdp());
    assert_eq!(parts[1].body, &binary[..]);
    assert_eq!(m.to_bytes(), raw);
    let ct = m.content_type().unwrap().unwrap();
    assert_eq!(
        Multipart::from_content_type(&ct, m.body()).unwrap().count(),
        2
    );
}

/// 3.1.1.12 Unusual reason phrase: UTF-8 and punctuation in the reason.
#[test]
fn rfc4475_3_1_1_12_unusual_reason_phrase() {
    let reason = "= 2**3 * 5**2 \u{43d}\u{43e} \u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{43d}\u{43e}\u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{442}\u{44c} - \u{43f}\u{440}\u{43e}\u{441}\u{442}\u{43e}\u{435}";
    let raw = msg(
        &[
            &format!("SIP/2.0 200 {reason}"),
            "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923",
            "Call-ID: unreason.1234ksdfak3j2erwedfsASdf",
            "CSeq: 35 INVITE",
            "From: sip:user@example.com;tag=11141343",
            "To: sip:user@example.edu;tag=2229",
            "Content-Length: 0",
            "Contact: <sip:user@host198.example.com>",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    assert_eq!(m.status(), Some(200));
    assert_eq!(m.reason(), Some(reason));
}

/// 3.1.1.13 Empty reason phrase (the SP after the code is still there).
#[test]
fn rfc4475_3_1_1_13_empty_reason_phrase() {
    let raw = msg(
        &[
            "SIP/2.0 100 ",
            "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe",
            "Call-ID: noreason.asndj203insdf99223ndf",
            "CSeq: 35 INVITE",
            "From: <sip:user@example.com>;tag=39ansfi3",
            "To: <sip:user@example.edu>;tag=902jndnke3",
            "Content-Length: 0",
        ],
        "",
    );
    let m = verdict(&raw).expect("valid");
    assert_eq!((m.status(), m.reason()), (Some(100), Some("")));
}

fn base_invite(extra: &[&str], body: &str) -> Vec<u8> {
    let cl = format!("Content-Length: {}", body.len());
    let mut lines = vec![
        "INVITE sip:user@example.com SIP/2.0",
        "To: sip:user@example.com",
        "From: sip:caller@example.net;tag=134161461246",
        "Max-Forwards: 7",
        "Call-ID: torture.01234567@example.net",
        "CSeq: 8 INVITE",
        "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234",
        "Content-Type: application/sdp",
    ];
    lines.extend_from_slice(extra);
    lines.push(&cl);
    msg(&lines, body)
}

/// 3.1.2.1 Extraneous header field separators: empty parameters and
/// empty list elements in Via must be rejected.
#[test]
fn rfc4475_3_1_2_1_extraneous_header_field_separators() {
    let raw = msg(
        &[
            "INVITE sip:user@example.com SIP/2.0",
            "To: sip:j.user@example.com",
            "From: sip:caller@example.net;tag=134161461246",
            "Max-Forwards: 7",
            "Call-ID: badinv01.0ha0isndaksdjasdf3234nas",
            "CSeq: 8 INVITE",
            "Via: SIP/2.0/UDP 192.0.2.15;;,;,,",
            "Content-Length: 0",
        ],
        "",
    );
    assert_eq!(verdict(&raw).unwrap_err(), 400);
}

/// 3.1.2.2 Content-Length larger than the datagram.
#[test]
fn rfc4475_3_1_2_2_content_length_larger_than_message() {
    let mut raw = base_invite(&[], sdp());
    let text = String::from_utf8(raw.clone()).unwrap();
    raw = text
        .replace(
            &format!("Content-Length: {}", sdp().len()),
            "Content-Length: 9999",
        )
        .into_bytes();
    let err = parse_datagram(&raw, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::BodyTruncated);
    assert_eq!(err.status(), 400);
}

/// 3.1.2.3 Negative Content-Length.
#[test]
fn rfc4475_3_1_2_3_negative_content_length() {
    let raw = String::from_utf8(base_invite(&[], sdp())).unwrap();
    let raw = raw.replace(
        &format!("Content-Length: {}", sdp().len()),
        "Content-Length: -999",
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.4 Request scalar fields with overlarge values: CSeq number,
/// Max-Forwards, Expires and Content-Length beyond their ranges.
#[test]
fn rfc4475_3_1_2_4_request_scalar_fields_overlarge() {
    let ok = base_invite(&[], "");
    assert!(verdict(&ok).is_ok());
    let text = String::from_utf8(ok).unwrap();
    for (from, to) in [
        ("CSeq: 8 INVITE", "CSeq: 36893488147419103232 INVITE"),
        ("Max-Forwards: 7", "Max-Forwards: 300"),
        (
            "Content-Type: application/sdp",
            "Expires: 10000000000000000000",
        ),
        ("Content-Length: 0", "Content-Length: 18446744073709551618"),
    ] {
        let bad = text.replace(from, to);
        assert_eq!(verdict(bad.as_bytes()).unwrap_err(), 400, "{to}");
    }
}

/// 3.1.2.5 Response scalar fields with overlarge values: a 3-digit code
/// is fine but a Warning code of four digits and a huge Retry-After are
/// not.
#[test]
fn rfc4475_3_1_2_5_response_scalar_fields_overlarge() {
    let base = [
        "SIP/2.0 503 Service Unavailable",
        "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129",
        "To: <sip:user@example.com>",
        "From: <sip:other@example.net>;tag=2easdjfejw",
        "CSeq: 9292394834772304023312 OPTIONS",
        "Call-ID: scalar1g.0ha0isnda977644900765@192.0.2.15",
        "Retry-After: 949302838503028349304023988",
        "Warning: 1812 overture \"In Progress\"",
        "Content-Length: 0",
    ];
    assert_eq!(verdict(&msg(&base, "")).unwrap_err(), 400);
    // Each fault alone is enough.
    let mut fixed = base;
    fixed[4] = "CSeq: 1 OPTIONS";
    assert_eq!(verdict(&msg(&fixed, "")).unwrap_err(), 400);
    fixed[6] = "Retry-After: 60";
    assert_eq!(verdict(&msg(&fixed, "")).unwrap_err(), 400);
    fixed[7] = "Warning: 399 overture \"In Progress\"";
    assert!(verdict(&msg(&fixed, "")).is_ok());
}

/// 3.1.2.6 Unterminated quoted string in a display name.
#[test]
fn rfc4475_3_1_2_6_unterminated_quoted_string() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "To: sip:user@example.com",
        "To: \"Mr. J. User <sip:j.user@example.com>",
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.7 `<>` enclosing the Request-URI.
#[test]
fn rfc4475_3_1_2_7_angle_brackets_around_request_uri() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "INVITE sip:user@example.com SIP/2.0",
        "INVITE <sip:user@example.com> SIP/2.0",
    );
    let err = parse_datagram(raw.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(err.offset, 7, "points at the Request-URI");
}

/// 3.1.2.8 Malformed Request-URI with embedded LWS.
#[test]
fn rfc4475_3_1_2_8_embedded_lws_in_request_uri() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "INVITE sip:user@example.com SIP/2.0",
        "INVITE sip:user@example.com; lr SIP/2.0",
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.9 Multiple SP separating Request-Line elements.
#[test]
fn rfc4475_3_1_2_9_multiple_sp_in_request_line() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "INVITE sip:user@example.com SIP/2.0",
        "INVITE  sip:user@example.com  SIP/2.0",
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.10 SP characters at the end of the Request-Line.
#[test]
fn rfc4475_3_1_2_10_trailing_sp_in_request_line() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "INVITE sip:user@example.com SIP/2.0",
        "INVITE sip:user@example.com SIP/2.0 ",
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.11 Escaped headers in the Request-URI (not allowed there).
#[test]
fn rfc4475_3_1_2_11_escaped_headers_in_request_uri() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "INVITE sip:user@example.com SIP/2.0",
        "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0",
    );
    assert!(
        parse_datagram(raw.as_bytes(), &Limits::default()).is_ok(),
        "syntax is fine"
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.12 Invalid time zone in the Date header.
#[test]
fn rfc4475_3_1_2_12_invalid_time_zone_in_date() {
    let good = base_invite(&["Date: Fri, 01 Jan 2010 16:00:00 GMT"], "");
    assert_eq!(
        verdict(&good).unwrap().date(),
        Some("Fri, 01 Jan 2010 16:00:00 GMT")
    );
    let bad = base_invite(&["Date: Fri, 01 Jan 2010 16:00:00 EST"], "");
    assert_eq!(verdict(&bad).unwrap_err(), 400);
}

/// 3.1.2.13 A Contact URI with headers and no angle brackets.
#[test]
fn rfc4475_3_1_2_13_name_addr_without_brackets() {
    let raw = base_invite(
        &["Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E"],
        "",
    );
    assert_eq!(verdict(&raw).unwrap_err(), 400);
}

/// 3.1.2.14 Spaces within an addr-spec inside angle brackets.
#[test]
fn rfc4475_3_1_2_14_spaces_within_addr_spec() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "To: sip:user@example.com",
        "To: \"Watson, Thomas\" < sip:t.watson@example.org >",
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.15 Non-token characters in an unquoted display name.
#[test]
fn rfc4475_3_1_2_15_non_token_display_name() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "From: sip:caller@example.net;tag=134161461246",
        "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
    );
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 400);
}

/// 3.1.2.16 Unknown protocol version: 505.
#[test]
fn rfc4475_3_1_2_16_unknown_protocol_version() {
    let raw = String::from_utf8(base_invite(&[], ""))
        .unwrap()
        .replace(
            "INVITE sip:user@example.com SIP/2.0",
            "OPTIONS sip:t.watson@example.org SIP/7.0",
        )
        .replace("CSeq: 8 INVITE", "CSeq: 8 OPTIONS");
    let view = parse_datagram(raw.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(view.version(), "SIP/7.0");
    let err = view.validate().unwrap_err();
    assert_eq!(
        (err.kind, err.status()),
        (ParseErrorKind::UnsupportedVersion, 505)
    );
}

/// 3.1.2.17 Start line and CSeq method mismatch.
#[test]
fn rfc4475_3_1_2_17_start_line_and_cseq_method_mismatch() {
    let raw = String::from_utf8(base_invite(&[], ""))
        .unwrap()
        .replace("CSeq: 8 INVITE", "CSeq: 8 OPTIONS");
    let err = parse_datagram(raw.as_bytes(), &Limits::default())
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(
        (err.kind, err.status()),
        (ParseErrorKind::CSeqMethodMismatch, 400)
    );
}

/// 3.1.2.18 Unknown method with a CSeq method mismatch.
#[test]
fn rfc4475_3_1_2_18_unknown_method_with_cseq_mismatch() {
    let raw = String::from_utf8(base_invite(&[], "")).unwrap().replace(
        "INVITE sip:user@example.com SIP/2.0",
        "NEWMETHOD sip:user@example.com SIP/2.0",
    );
    let m = parse_datagram(raw.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(m.method(), Some("NEWMETHOD"));
    assert_eq!(
        m.validate().unwrap_err().kind,
        ParseErrorKind::CSeqMethodMismatch
    );
}

/// 3.1.2.19 Overlarge response code.
#[test]
fn rfc4475_3_1_2_19_overlarge_response_code() {
    let raw = msg(
        &[
            "SIP/2.0 4294967301 better not break the receiver",
            "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe",
            "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3",
            "CSeq: 3923239 OPTIONS",
            "From: <sip:user@example.edu>;tag=39ansfi3",
            "To: <sip:user@example.com>;tag=902jndnke3",
            "Content-Length: 0",
        ],
        "",
    );
    let err = parse_datagram(&raw, &Limits::default()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(err.kind, ParseErrorKind::Expected("SP"));
}

/// 3.2.1 Missing transaction identifier: a branch that is only the magic
/// cookie is syntactically valid.
#[test]
fn rfc4475_3_2_1_missing_transaction_identifier() {
    let raw = String::from_utf8(base_invite(&[], ""))
        .unwrap()
        .replace("branch=z9hG4bKkdjuw380234", "branch=z9hG4bK");
    let m = verdict(raw.as_bytes()).unwrap();
    assert_eq!(m.top_via().unwrap().unwrap().branch(), Some("z9hG4bK"));
}

/// 3.3.1 Missing required header fields: 400.
#[test]
fn rfc4475_3_3_1_missing_required_header_fields() {
    let raw = msg(
        &[
            "INVITE sip:user@example.com SIP/2.0",
            "CSeq: 193942 INVITE",
            "Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf",
            "Content-Type: application/sdp",
            "l: 0",
        ],
        "",
    );
    let err = parse_datagram(&raw, &Limits::default())
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(matches!(err.kind, ParseErrorKind::MissingHeader(_)));
    assert_eq!(err.status(), 400);
}

/// 3.3.2 Request-URI with an unknown scheme: 416.
#[test]
fn rfc4475_3_3_2_request_uri_unknown_scheme() {
    let raw = String::from_utf8(base_invite(&[], ""))
        .unwrap()
        .replace(
            "INVITE sip:user@example.com SIP/2.0",
            "OPTIONS nobody:user@example.com SIP/2.0",
        )
        .replace("CSeq: 8 INVITE", "CSeq: 8 OPTIONS");
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 416);
}

/// 3.3.3 Request-URI with a known but atypical scheme: 416.
#[test]
fn rfc4475_3_3_3_request_uri_atypical_scheme() {
    let raw = String::from_utf8(base_invite(&[], ""))
        .unwrap()
        .replace(
            "INVITE sip:user@example.com SIP/2.0",
            "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0",
        )
        .replace("CSeq: 8 INVITE", "CSeq: 8 OPTIONS");
    assert_eq!(verdict(raw.as_bytes()).unwrap_err(), 416);
}

/// 3.3.4 Unknown URI schemes in header fields are accepted.
#[test]
fn rfc4475_3_3_4_unknown_uri_schemes_in_header_fields() {
    let raw = msg(
        &[
            "OPTIONS sip:user@example.com SIP/2.0",
            "To: isbn:2983792873",
            "From: <http://www.example.com>;tag=3234233",
            "Call-ID: unksm2.daksdj@hyphenated-host.example.com",
            "CSeq: 234902 OPTIONS",
            "Max-Forwards: 70",
            "Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw",
            "Contact: <name:John_Smith>",
            "l: 0",
        ],
        "",
    );
    let m = verdict(&raw).unwrap();
    assert_eq!(m.to_header().unwrap().unwrap().uri().scheme, Scheme::Other);
    assert_eq!(
        m.from_header().unwrap().unwrap().uri().raw,
        "http://www.example.com"
    );
    assert_eq!(
        m.contacts()
            .next()
            .unwrap()
            .unwrap()
            .address()
            .unwrap()
            .uri()
            .scheme_str(),
        "name"
    );
}

/// 3.3.5 Proxy-Require and Require with unknown option tags: the parser
/// accepts them; the tags are available for the 420 decision.
#[test]
fn rfc4475_3_3_5_require_and_proxy_require() {
    let raw = base_invite(
        &[
            "Require: nothingSupportedHere",
            "Proxy-Require: noProxiesSupportThis, nothingSupportedHere",
        ],
        "",
    );
    let m = verdict(&raw).unwrap();
    assert_eq!(
        m.tokens(&HeaderName::Require).collect::<Vec<_>>(),
        ["nothingSupportedHere"]
    );
    assert_eq!(m.tokens(&HeaderName::ProxyRequire).count(), 2);
}

/// 3.3.6 Unknown Content-Type: parses; the media type is available for
/// the 415 decision.
#[test]
fn rfc4475_3_3_6_unknown_content_type() {
    let raw = String::from_utf8(base_invite(&[], "<audio> <pcmu port=\"443\"/> </audio>"))
        .unwrap()
        .replace("application/sdp", "application/unknownformat");
    let m = verdict(raw.as_bytes()).unwrap();
    assert!(m
        .content_type()
        .unwrap()
        .unwrap()
        .is("application", "unknownformat"));
}

/// 3.3.7 REGISTER with an unknown authorization scheme: the raw value is
/// kept whole (commas not split) for the auth layer.
#[test]
fn rfc4475_3_3_7_unknown_authorization_scheme() {
    let raw = msg(
        &[
            "REGISTER sip:example.com SIP/2.0",
            "To: sip:j.doe@example.com",
            "From: sip:j.doe@example.com;tag=87321hj23128",
            "Max-Forwards: 8",
            "Call-ID: regaut01.0ha0isndaksdj",
            "CSeq: 9338 REGISTER",
            "Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw",
            "Authorization: NoOneKnowsThisScheme opaque-data=here, other=\"a,b\"",
            "Content-Length:0",
        ],
        "",
    );
    let m = verdict(&raw).unwrap();
    let auth: Vec<_> = m.header_values(&HeaderName::Authorization).collect();
    assert_eq!(
        auth,
        ["NoOneKnowsThisScheme opaque-data=here, other=\"a,b\""]
    );
    assert_eq!(m.authorization().count(), 1);
}

/// 3.3.8 Multiple values in single-value required fields: 400.
#[test]
fn rfc4475_3_3_8_multiple_values_in_single_value_fields() {
    for dup in [
        "CSeq: 9 INVITE",
        "Call-ID: other@example.net",
        "To: sip:other@example.com",
        "Max-Forwards: 6",
    ] {
        let raw = base_invite(&[dup], "");
        let err = parse_datagram(&raw, &Limits::default())
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(
            matches!(err.kind, ParseErrorKind::RepeatedHeader(_)),
            "{dup}"
        );
    }
}

/// 3.3.9 Multiple Content-Length values: 400.
#[test]
fn rfc4475_3_3_9_multiple_content_length_values() {
    let raw = base_invite(&["Content-Length: 53"], "");
    let err = parse_datagram(&raw, &Limits::default()).unwrap_err();
    assert_eq!(
        (err.kind, err.status()),
        (ParseErrorKind::ConflictingContentLength, 400)
    );
}

/// 3.3.10 200 OK with a broadcast Via received parameter: valid.
#[test]
fn rfc4475_3_3_10_broadcast_via_received() {
    let raw = msg(
        &[
            "SIP/2.0 200 OK",
            "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923;received=255.255.255.255",
            "Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf",
            "CSeq: 35 INVITE",
            "From: sip:user@example.com;tag=11141343",
            "To: sip:user@example.edu;tag=2229",
            "Content-Length: 0",
        ],
        "",
    );
    assert_eq!(
        verdict(&raw)
            .unwrap()
            .top_via()
            .unwrap()
            .unwrap()
            .received(),
        Some("255.255.255.255")
    );
}

/// 3.3.11 Max-Forwards of zero: valid (the UAS answers OPTIONS itself).
#[test]
fn rfc4475_3_3_11_max_forwards_zero() {
    let raw = String::from_utf8(base_invite(&[], ""))
        .unwrap()
        .replace("Max-Forwards: 7", "Max-Forwards: 0");
    assert_eq!(verdict(raw.as_bytes()).unwrap().max_forwards(), Some(Ok(0)));
}

/// 3.3.12 REGISTER with a contact header parameter (no brackets: the
/// parameter belongs to the header, not the URI).
#[test]
fn rfc4475_3_3_12_contact_header_parameter() {
    let raw = base_invite(
        &["Contact: sip:+19725552222@gw1.example.net;unknownparam"],
        "",
    );
    let m = verdict(&raw).unwrap();
    let c = m.contacts().next().unwrap().unwrap();
    let a = c.address().unwrap();
    assert!(a.params().contains("unknownparam"));
    assert!(a.uri().params.is_empty());
}

/// 3.3.13 REGISTER with a URI parameter (inside brackets: the parameter
/// belongs to the URI).
#[test]
fn rfc4475_3_3_13_contact_uri_parameter() {
    let raw = base_invite(
        &["Contact: <sip:+19725552222@gw1.example.net;unknownparam>"],
        "",
    );
    let m = verdict(&raw).unwrap();
    let c = m.contacts().next().unwrap().unwrap();
    let a = c.address().unwrap();
    assert!(a.params().is_empty());
    assert!(a.uri().params.contains("unknownparam"));
}

/// 3.3.14 REGISTER with an escaped URI header in a bracketed Contact:
/// valid.
#[test]
fn rfc4475_3_3_14_escaped_uri_header_in_contact() {
    let raw = base_invite(
        &["Contact: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>"],
        "",
    );
    let m = verdict(&raw).unwrap();
    let c = m.contacts().next().unwrap().unwrap();
    assert_eq!(
        c.address().unwrap().uri().headers,
        Some("Route=%3Csip:sip.example.com%3E")
    );
}

/// 3.3.15 Accept header that excludes SDP: parses; the ranges are there.
#[test]
fn rfc4475_3_3_15_accept_excludes_sdp() {
    let raw = base_invite(&["Accept: text/nobodyknowsthis"], "");
    let m = verdict(&raw).unwrap();
    let accept: Vec<_> = m.accept().map(Result::unwrap).collect();
    assert_eq!(accept.len(), 1);
    assert!(!accept[0].is_sdp());
}

/// 3.4.1 INVITE with RFC 2543 syntax: no magic cookie, no tags, still
/// parses.
#[test]
fn rfc4475_3_4_1_rfc2543_syntax() {
    let raw = msg(
        &[
            "INVITE sip:UserB@example.com SIP/2.0",
            "Via: SIP/2.0/UDP iftgw.example.com",
            "From: <sip:+13035551111@ift.client.example.net;user=phone>",
            "Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>",
            "To: sip:+16505552222@ss1.example.net;user=phone",
            "Call-ID: inv2543.1717@ift.client.example.com",
            "CSeq: 56 INVITE",
            "Max-Forwards: 70",
            "Content-Type: application/sdp",
            "Content-Length: 0",
        ],
        "",
    );
    let m = verdict(&raw).unwrap();
    let via = m.top_via().unwrap().unwrap();
    assert_eq!(via.branch(), None);
    assert!(!via.is_rfc3261_branch());
    assert_eq!(m.from_header().unwrap().unwrap().tag(), None);
    assert_eq!(
        m.record_routes().next().unwrap().unwrap().uri().maddr(),
        Some("ss1.example.com")
    );
}
