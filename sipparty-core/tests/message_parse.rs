//! The borrowed parser: datagram and stream framing (RFC 3261 section
//! 18.3), keep-alives, folding, limits and error reports, plus property
//! tests for round trips and stream splitting.

use proptest::prelude::*;
use sipparty_core::message::{
    keepalive_len, parse_datagram, parse_stream, HeaderName, Limits, Message, Method,
    ParseErrorKind, StartLine, Status,
};

const INVITE: &[u8] = include_bytes!("../../samples/invite.sip");

fn options(cseq: u32, body: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c{cseq}\r\nCSeq: {cseq} OPTIONS\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// RFC 3261 section 18.3: without Content-Length a datagram's body is the
/// rest of the datagram.
#[test]
fn rfc3261_18_3_datagram_body_without_content_length() {
    let raw = b"MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\nhello\r\nworld";
    let v = parse_datagram(raw, &Limits::default()).unwrap();
    assert_eq!(v.body(), b"hello\r\nworld");
    assert_eq!(v.content_length(), None);
    // The owned copy round-trips without inventing a Content-Length.
    assert_eq!(Message::from_view(&v).to_bytes(), raw);
}

/// RFC 3261 section 7.5: CRLFs before the start line are ignored; bare LF
/// line ends are tolerated.
#[test]
fn rfc3261_7_5_leading_crlf_and_bare_lf() {
    let mut raw = b"\r\n\r\n".to_vec();
    raw.extend_from_slice(INVITE);
    let v = parse_datagram(&raw, &Limits::default()).unwrap();
    assert_eq!(v.offset(), 4);
    assert_eq!(v.method(), Some("INVITE"));
    let lf =
        b"SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCall-ID: a\nContent-Length: 2\n\nok";
    let v = parse_datagram(lf, &Limits::default()).unwrap();
    assert_eq!(v.headers().call_id(), Some("a"));
    assert_eq!(v.body(), b"ok");
    assert_eq!(Message::from_view(&v).to_bytes(), lf);
}

/// RFC 3261 section 7.3.1: a header value may continue on lines that
/// start with white space; the typed decoders treat the fold as LWS.
#[test]
fn rfc3261_7_3_1_header_folding() {
    let raw = b"INVITE sip:a@b SIP/2.0\r\nSubject: I know you're there,\r\n\tpick up the phone\r\n   and talk to me!\r\nCSeq: 1\r\n INVITE\r\nl: 0\r\n\r\n";
    let v = parse_datagram(raw, &Limits::default()).unwrap();
    assert_eq!(
        v.headers().get(&HeaderName::Subject),
        Some("I know you're there,\r\n\tpick up the phone\r\n   and talk to me!")
    );
    assert_eq!(v.headers().cseq().unwrap().unwrap().method, Method::Invite);
}

#[test]
fn stream_partial_until_complete_and_keepalives_skipped() {
    let one = options(1, "abc");
    for cut in 0..one.len() {
        assert!(
            matches!(
                parse_stream(&one[..cut], &Limits::default()),
                Ok(Status::Partial)
            ),
            "prefix of {cut} bytes"
        );
    }
    let mut two = b"\r\n\r\n".to_vec();
    two.extend_from_slice(&one);
    two.extend_from_slice(b"\r\n\r\n\r\n");
    two.extend_from_slice(&options(2, ""));
    let Status::Complete((v, used)) = parse_stream(&two, &Limits::default()).unwrap() else {
        panic!("complete");
    };
    assert_eq!(used, 4 + one.len());
    assert_eq!(v.body(), b"abc");
    let Status::Complete((v, used2)) = parse_stream(&two[used..], &Limits::default()).unwrap()
    else {
        panic!("complete");
    };
    assert_eq!(v.headers().cseq().unwrap().unwrap().seq, 2);
    assert_eq!(used + used2, two.len());
    assert_eq!(keepalive_len(b"\r\n\r\nINVITE"), 4);
    assert!(matches!(
        parse_stream(b"\r\n\r\n", &Limits::default()),
        Ok(Status::Partial)
    ));
}

/// RFC 3261 section 18.3: Content-Length is mandatory on streams.
#[test]
fn rfc3261_18_3_stream_requires_content_length() {
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";
    let err = parse_stream(raw, &Limits::default()).unwrap_err();
    assert_eq!(
        (err.kind, err.status()),
        (ParseErrorKind::MissingContentLength, 400)
    );
    assert!(parse_datagram(raw, &Limits::default()).is_ok());
}

#[test]
fn limits_are_errors_with_the_right_status() {
    let small = Limits {
        max_message: 200,
        ..Limits::default()
    };
    let err = parse_datagram(INVITE, &small).unwrap_err();
    assert_eq!(
        (err.kind, err.status()),
        (ParseErrorKind::MessageTooLarge, 413)
    );
    let err = parse_stream(INVITE, &small).unwrap_err();
    assert_eq!(err.status(), 413);
    // Content-Length beyond the cap on a stream: 413 before the body comes.
    let big = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1000000\r\n\r\n";
    assert_eq!(
        parse_stream(big, &Limits::default()).unwrap_err().status(),
        413
    );

    let few = Limits {
        max_headers: 5,
        ..Limits::default()
    };
    assert_eq!(
        parse_datagram(INVITE, &few).unwrap_err().kind,
        ParseErrorKind::TooManyHeaders
    );
    let short = Limits {
        max_header_line: 40,
        ..Limits::default()
    };
    let err = parse_datagram(INVITE, &short).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::HeaderLineTooLong);
    assert_eq!(err.offset, 43, "the Via line");

    let long_uri = format!(
        "INVITE sip:{}@example.com SIP/2.0\r\nl: 0\r\n\r\n",
        "a".repeat(1100)
    );
    let err = parse_datagram(long_uri.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!((err.kind, err.status()), (ParseErrorKind::UriTooLong, 414));

    let params = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h{}\r\nl: 0\r\n\r\n",
        ";p".repeat(100)
    );
    let m = Message::parse(params.as_bytes()).unwrap();
    assert_eq!(
        m.top_via().unwrap().unwrap_err().kind,
        ParseErrorKind::TooManyParams
    );
}

/// RFC 3261 section 7.3: any number of header lines. The view keeps the
/// first 24 in place and moves to the heap past that; every count around
/// the switch gives the same lines in order, and `max_headers` still
/// counts every line.
#[test]
fn rfc3261_7_3_many_header_lines_keep_their_order() {
    for extra in [0, 17, 18, 19, 20, 40, 250] {
        let mut raw = String::from(
            "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             CSeq: 1 OPTIONS\r\nCall-ID: x@h\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:bob@example.com>\r\n",
        );
        for k in 0..extra {
            raw.push_str(&format!("X-Line-{k}:  value {k} \r\n"));
        }
        raw.push_str("Content-Length: 0\r\n\r\n");
        let view = parse_datagram(raw.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(view.header_count(), extra + 6, "{extra} extra lines");
        let fields: Vec<_> = view.headers().iter().collect();
        assert_eq!(fields.len(), extra + 6);
        assert_eq!(fields[0].name, "Via");
        for k in 0..extra {
            assert_eq!(fields[5 + k].name, format!("X-Line-{k}"));
            assert_eq!(fields[5 + k].value, format!("value {k}"));
        }
        assert_eq!(fields[extra + 5].value, "0");
        assert_eq!(view.content_length(), Some(0));
        assert_eq!(view.headers().call_id(), Some("x@h"));
        let (streamed, used) = match parse_stream(raw.as_bytes(), &Limits::default()).unwrap() {
            Status::Complete(done) => done,
            Status::Partial => panic!("{extra} extra lines: partial"),
        };
        assert_eq!(used, raw.len());
        assert_eq!(streamed.header_count(), extra + 6);

        let cap = Limits {
            max_headers: extra + 5,
            ..Limits::default()
        };
        let err = parse_datagram(raw.as_bytes(), &cap).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::TooManyHeaders, "{extra}");
        assert_eq!(
            err.offset,
            raw.find("Content-Length").unwrap(),
            "the first line past the cap"
        );
    }
}

#[test]
fn errors_say_where_and_what() {
    let raw = b"INVITE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n";
    let err = parse_datagram(raw, &Limits::default()).unwrap_err();
    assert_eq!(err.offset, 28);
    assert_eq!(err.kind, ParseErrorKind::Expected("\":\""));
    assert_eq!(err.to_string(), "expected \":\" at byte 28");
    let raw = b"INVITE sip:a@b SIP/2.0\r\n: x\r\n\r\n";
    assert_eq!(
        parse_datagram(raw, &Limits::default()).unwrap_err().kind,
        ParseErrorKind::Expected("header name")
    );
    let raw = b"SIP/2.0 099 Low\r\n\r\n";
    assert_eq!(
        parse_datagram(raw, &Limits::default()).unwrap_err().offset,
        8
    );
    let raw = b"INVITE sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n";
    assert_eq!(
        parse_datagram(raw, &Limits::default()).unwrap_err().kind,
        ParseErrorKind::InvalidUtf8
    );
    assert!(parse_datagram(b"", &Limits::default()).is_err());
    assert!(parse_datagram(b"INVITE sip:a@b SIP/2.0\r\nX: y\r\n", &Limits::default()).is_err());
}

#[test]
fn view_exposes_start_line_and_raw_headers_in_order() {
    let v = parse_datagram(INVITE, &Limits::default()).unwrap();
    assert!(matches!(
        v.start_line(),
        StartLine::Request {
            method: "INVITE",
            uri: "sip:bob@biloxi.example.com",
            version: "SIP/2.0"
        }
    ));
    let names: Vec<_> = v.headers().iter().map(|h| h.name).collect();
    assert_eq!(names[..3], ["Via", "Max-Forwards", "From"]);
    assert_eq!(v.header_count(), 12);
    assert_eq!(
        v.headers().iter().nth(1).unwrap().header_name(),
        HeaderName::MaxForwards
    );
}

// ---- property tests ----

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,11}"
}

fn header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("Subject".to_string()),
        Just("s".to_string()),
        Just("User-Agent".to_string()),
        Just("X-Thing".to_string()),
        Just("Allow".to_string()),
        Just("Supported".to_string()),
        token().prop_map(|t| format!("X-{t}")),
    ];
    // Values: printable ASCII and some UTF-8, no leading/trailing space.
    let value = "[!-~]([ -~\u{e9}\u{4e2d}]{0,30}[!-~])?";
    (name, value)
}

prop_compose! {
    fn message()(
        method in prop_oneof![Just("INVITE"), Just("OPTIONS"), Just("BYE"), Just("NEWMETHOD")],
        user in "[a-zA-Z0-9][a-zA-Z0-9._~-]{0,11}",
        host in "[a-z]{1,10}\\.example\\.com",
        branch in "[a-zA-Z0-9]{1,16}",
        cseq in 1u32..100_000,
        headers in proptest::collection::vec(header(), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        response in any::<bool>(),
        code in 100u16..700,
    ) -> Vec<u8> {
        let mut s = if response {
            format!("SIP/2.0 {code} Reason\r\n")
        } else {
            format!("{method} sip:{user}@{host} SIP/2.0\r\n")
        };
        s.push_str(&format!("Via: SIP/2.0/UDP {host};branch=z9hG4bK{branch}\r\n"));
        s.push_str(&format!("CSeq: {cseq} {method}\r\n"));
        for (n, v) in headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut m = s.into_bytes();
        m.extend_from_slice(&body);
        m
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Parsed, not modified: serializes back byte for byte; and a message
    /// rebuilt through the builder parses back equal.
    #[test]
    fn round_trip(raw in message()) {
        let m = Message::parse(&raw).unwrap();
        prop_assert_eq!(m.to_bytes(), raw.clone());
        let mut rebuilt = match m.method() {
            Some(method) => Message::request(method.clone(), m.request_uri().unwrap()),
            None => Message::response(m.status().unwrap(), m.reason().unwrap()),
        };
        for h in m.header_section().iter() {
            if h.header_name() != HeaderName::ContentLength {
                rebuilt.add_header(h.header_name(), h.value);
            }
        }
        rebuilt.set_body(None, m.body());
        let back = Message::parse(&rebuilt.to_bytes()).unwrap();
        prop_assert_eq!(&back, &rebuilt);
        prop_assert_eq!(back.body(), m.body());
        prop_assert_eq!(back.cseq(), m.cseq());
    }

    /// A stream of messages cut into two chunks at any offset yields the
    /// same messages as the whole stream.
    #[test]
    fn stream_split_anywhere(msgs in proptest::collection::vec(message(), 1..4), cut_seed in any::<usize>()) {
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(b"\r\n");
            stream.extend_from_slice(m);
        }
        let cut = cut_seed % (stream.len() + 1);
        let got = feed(&[&stream[..cut], &stream[cut..]]);
        prop_assert_eq!(got, msgs);
    }
}

/// Feed chunks to a reader the way a TCP driver would; collect messages.
fn feed(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Status::Complete((v, used)) = parse_stream(&buf, &Limits::default()).unwrap() {
            out.push(Message::from_view(&v).to_bytes());
            buf.drain(..used);
        }
    }
    out
}

#[test]
fn stream_split_at_every_offset() {
    let msgs = [options(1, "first body"), options(2, ""), INVITE.to_vec()];
    let mut stream = Vec::new();
    for m in &msgs {
        stream.extend_from_slice(m);
        stream.extend_from_slice(b"\r\n\r\n");
    }
    for cut in 0..=stream.len() {
        assert_eq!(
            feed(&[&stream[..cut], &stream[cut..]]),
            msgs,
            "cut at {cut}"
        );
    }
    // Byte by byte.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(feed(&bytes), msgs);
}
