//! `sipparty parse [--stream] [--json] FILE...`: parse each file as one
//! datagram (or as a stream of messages), run the semantic checks a UAS
//! makes, and print one line per file. Exit status 1 if any file failed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sipparty_core::message::{
    parse_datagram, parse_stream, Limits, MessageView, ParseError, StartLine, Status,
};

/// Arguments of `sipparty parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Treat each file as a byte stream (TCP framing: Content-Length
    /// mandatory, several messages, CRLF keep-alives between them).
    #[arg(long)]
    pub stream: bool,
    /// Print the decoded structure as one JSON object per file.
    #[arg(long)]
    pub json: bool,
    /// The files to parse.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Why a file failed.
enum Failure {
    Io(std::io::Error),
    Parse(ParseError),
    Truncated,
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::Io(e) => format!("cannot read: {e}"),
            Failure::Parse(e) => format!("{e} (would answer {})", e.status()),
            Failure::Truncated => "stream ends inside a message (would answer 400)".into(),
        }
    }
}

/// A short description of the message: `INVITE request`, `180 response`.
fn kind(view: &MessageView<'_>) -> String {
    match view.start_line() {
        StartLine::Request { method, .. } => format!("{method} request"),
        StartLine::Response { code, .. } => format!("{code} response"),
        _ => "message".into(),
    }
}

/// Parse one file: all messages in it, each syntax- and semantics-checked.
fn parse_file<'a>(
    bytes: &'a [u8],
    stream: bool,
    limits: &Limits,
) -> Result<Vec<MessageView<'a>>, Failure> {
    let check = |v: MessageView<'a>| v.validate().map(|()| v).map_err(Failure::Parse);
    if !stream {
        let view = parse_datagram(bytes, limits).map_err(Failure::Parse)?;
        return Ok(vec![check(view)?]);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &bytes[pos..];
        if rest.iter().all(|&b| b == b'\r' || b == b'\n') {
            if out.is_empty() {
                return Err(Failure::Truncated);
            }
            return Ok(out);
        }
        match parse_stream(rest, limits) {
            Ok(Status::Complete((view, used))) => {
                out.push(check(view).map_err(|f| match f {
                    Failure::Parse(e) => Failure::Parse(e.shifted(pos)),
                    other => other,
                })?);
                pos += used;
            }
            Ok(Status::Partial) => return Err(Failure::Truncated),
            Err(e) => return Err(Failure::Parse(e.shifted(pos))),
        }
    }
}

/// Run the subcommand.
pub fn run(args: &ParseArgs) -> ExitCode {
    let limits = Limits::default();
    let mut all_ok = true;
    for file in &args.files {
        let name = file.display().to_string();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                all_ok = false;
                report_failure(&name, &Failure::Io(e), args.json);
                continue;
            }
        };
        match parse_file(&bytes, args.stream, &limits) {
            Ok(views) => {
                if args.json {
                    println!("{}", json_file(&name, &views));
                } else {
                    let kinds: Vec<_> = views.iter().map(kind).collect();
                    println!("{name}: ok {}", kinds.join(", "));
                }
            }
            Err(f) => {
                all_ok = false;
                report_failure(&name, &f, args.json);
            }
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report_failure(name: &str, f: &Failure, json: bool) {
    if json {
        let mut o = JsonObject::new();
        o.str("file", name);
        o.raw("ok", "false");
        o.str("error", &f.reason());
        if let Failure::Parse(e) = f {
            o.raw("offset", &e.offset.to_string());
            o.raw("status", &e.status().to_string());
        }
        println!("{}", o.finish());
    } else {
        println!("{name}: error: {}", f.reason());
    }
}

/// A minimal JSON writer (strings escaped per RFC 8259 section 7).
struct JsonObject {
    out: String,
    first: bool,
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

impl JsonObject {
    fn new() -> Self {
        Self {
            out: String::from("{"),
            first: true,
        }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(&escape(k));
        self.out.push(':');
    }
    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push_str(v);
    }
    fn str(&mut self, k: &str, v: &str) {
        self.raw(k, &escape(v));
    }
    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str(k, v),
            None => self.raw(k, "null"),
        }
    }
    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

fn json_array(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    format!("[{}]", v.join(","))
}

fn json_error(e: &ParseError) -> String {
    let mut o = JsonObject::new();
    o.str("error", &e.to_string());
    o.finish()
}

fn json_params(p: &sipparty_core::message::Params<'_>) -> String {
    let mut o = JsonObject::new();
    for (k, v) in p.iter() {
        match v {
            Some(v) => o.str(k, v),
            None => o.raw(k, "true"),
        }
    }
    o.finish()
}

fn json_name_addr(a: &sipparty_core::message::NameAddr<'_>) -> String {
    let mut o = JsonObject::new();
    let uri = a.uri();
    o.opt_str("display_name", a.display_name());
    o.str("uri", uri.raw);
    o.opt_str("user", uri.user);
    o.str("host", uri.host);
    o.raw("port", &uri.port.map_or("null".into(), |p| p.to_string()));
    o.raw("params", &json_params(&a.params()));
    o.finish()
}

fn json_message(v: &MessageView<'_>) -> String {
    let mut o = JsonObject::new();
    match v.start_line() {
        StartLine::Request {
            method,
            uri,
            version,
        } => {
            o.str("kind", "request");
            o.str("method", method);
            o.str("request_uri", uri);
            o.str("version", version);
        }
        StartLine::Response {
            version,
            code,
            reason,
        } => {
            o.str("kind", "response");
            o.raw("status", &code.to_string());
            o.str("reason", reason);
            o.str("version", version);
        }
        _ => {}
    }
    let h = v.headers();
    o.raw(
        "headers",
        &json_array(h.iter().map(|f| {
            let mut x = JsonObject::new();
            x.str("name", f.canonical_name());
            x.str("value", f.value);
            x.finish()
        })),
    );
    o.raw(
        "via",
        &json_array(h.vias().map(|via| match via {
            Ok(via) => {
                let mut x = JsonObject::new();
                x.str("protocol", via.protocol);
                x.str("transport", via.transport);
                x.str("host", via.host);
                x.raw("port", &via.port.map_or("null".into(), |p| p.to_string()));
                x.opt_str("branch", via.branch());
                x.raw("params", &json_params(&via.params()));
                x.finish()
            }
            Err(e) => json_error(&e),
        })),
    );
    for (key, value) in [("from", h.from()), ("to", h.to())] {
        if let Some(a) = value {
            o.raw(
                key,
                &a.map_or_else(|e| json_error(&e), |a| json_name_addr(&a)),
            );
        }
    }
    o.opt_str("call_id", h.call_id());
    if let Some(c) = h.cseq() {
        let s = match c {
            Ok(c) => format!(
                "{{\"seq\":{},\"method\":{}}}",
                c.seq,
                escape(c.method.as_str())
            ),
            Err(e) => json_error(&e),
        };
        o.raw("cseq", &s);
    }
    o.raw(
        "contacts",
        &json_array(h.contacts().map(|c| match c {
            Ok(c) => match c.address() {
                Some(a) => json_name_addr(a),
                None => "\"*\"".into(),
            },
            Err(e) => json_error(&e),
        })),
    );
    if let Some(ct) = h.content_type() {
        o.raw(
            "content_type",
            &ct.map_or_else(
                |e| json_error(&e),
                |m| escape(&format!("{}/{}", m.type_, m.subtype)),
            ),
        );
    }
    o.raw("body_length", &v.body().len().to_string());
    o.raw(
        "body",
        &std::str::from_utf8(v.body()).map_or("null".into(), escape),
    );
    o.finish()
}

fn json_file(name: &str, views: &[MessageView<'_>]) -> String {
    let mut o = JsonObject::new();
    o.str("file", name);
    o.raw("ok", "true");
    o.raw("messages", &json_array(views.iter().map(json_message)));
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = include_bytes!("../../samples/invite.sip");

    #[test]
    fn datagram_and_stream_files() {
        let limits = Limits::default();
        let views = parse_file(INVITE, false, &limits).ok().unwrap();
        assert_eq!(kind(&views[0]), "INVITE request");
        let mut two = INVITE.to_vec();
        two.extend_from_slice(b"\r\n\r\n");
        two.extend_from_slice(b"SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
        let views = parse_file(&two, true, &limits).ok().unwrap();
        let kinds: Vec<_> = views.iter().map(kind).collect();
        assert_eq!(kinds, ["INVITE request", "100 response"]);
        assert!(matches!(
            parse_file(&two[..two.len() - 3], true, &limits),
            Err(Failure::Truncated)
        ));
    }

    #[test]
    fn failures_name_the_status() {
        let limits = Limits::default();
        let bad = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        let Err(f) = parse_file(bad, false, &limits) else {
            panic!("missing headers must fail");
        };
        assert_eq!(
            f.reason(),
            "missing mandatory header Via at byte 0 (would answer 400)"
        );
        let Err(f) = parse_file(b"INVITE sip:a@b SIP/2.0\r\n", false, &limits) else {
            panic!("truncated");
        };
        assert!(f.reason().ends_with("(would answer 400)"));
    }

    #[test]
    fn json_is_escaped_and_structured() {
        assert_eq!(escape("a\"b\\c\r\n\u{1}"), "\"a\\\"b\\\\c\\r\\n\\u0001\"");
        let views = parse_file(INVITE, false, &Limits::default()).ok().unwrap();
        let j = json_file("f.sip", &views);
        assert!(j.starts_with("{\"file\":\"f.sip\",\"ok\":true,\"messages\":[{\"kind\":\"request\",\"method\":\"INVITE\""));
        assert!(j.contains("\"cseq\":{\"seq\":1,\"method\":\"INVITE\"}"));
        assert!(j.contains("\"branch\":\"z9hG4bK74bf9\""));
        assert!(j.contains("\"body_length\":149"));
    }
}
