//! Argument types shared by the subcommands, each with a parser that says
//! what is wrong and where (clap shows the message after
//! `error: invalid value '...' for '<ARG>':`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use sipparty_core::message::Uri;
use sipparty_mio::{CallPolicy, Transport};

/// A SIP URI given on the command line, checked with the message layer's
/// URI parser. `bob@example.com` is taken as `sip:bob@example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri(pub String);

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl SipUri {
    /// The host part as an IP address, when it is one (`[::1]` included).
    pub fn ip(&self) -> Option<IpAddr> {
        let uri = Uri::parse(&self.0).ok()?;
        uri.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()
    }

    /// The address a request to this URI goes to when its host is an IP
    /// (port 5060 when absent; RFC 3263 lookups are the core's business).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let port = Uri::parse(&self.0).ok()?.port.unwrap_or(5060);
        Some(SocketAddr::new(self.ip()?, port))
    }

    /// Whether the host is `localhost` or a name under it, which RFC 6761
    /// section 6.3 reserves for the loopback addresses: no lookup is needed
    /// to know the peer is on this machine.
    pub fn is_localhost(&self) -> bool {
        let Ok(uri) = Uri::parse(&self.0) else {
            return false;
        };
        let host = uri.host.trim_end_matches('.').to_ascii_lowercase();
        host == "localhost" || host.ends_with(".localhost")
    }

    /// The user part, if any.
    pub fn user(&self) -> Option<String> {
        Uri::parse(&self.0).ok()?.user.map(str::to_string)
    }

    /// The `transport` URI parameter, lower-cased.
    pub fn transport_param(&self) -> Option<String> {
        let uri = Uri::parse(&self.0).ok()?;
        uri.transport_param().map(str::to_ascii_lowercase)
    }
}

/// Parses a SIP URI; the error points at the offending byte of the
/// argument as typed.
pub fn parse_sip_uri(arg: &str) -> Result<SipUri, String> {
    let lower = arg.get(..5).unwrap_or(arg).to_ascii_lowercase();
    let has_scheme = lower.starts_with("sip:") || lower.starts_with("sips:");
    // What the user typed sits at this offset inside what we parse.
    let (text, shift) = if has_scheme || lower.starts_with("tel:") {
        (arg.to_string(), 0)
    } else {
        (format!("sip:{arg}"), 4)
    };
    match Uri::parse(&text) {
        Ok(uri) if uri.host.is_empty() => Err(pointing(arg, arg.len(), "no host in the URI")),
        Ok(_) => Ok(SipUri(text)),
        Err(e) => {
            let at = e.offset.saturating_sub(shift).min(arg.len());
            Err(pointing(
                arg,
                at,
                &format!("not a SIP URI: {} at byte {at}", e.kind),
            ))
        }
    }
}

/// `what` followed by the argument with a caret under byte `at`.
fn pointing(arg: &str, at: usize, what: &str) -> String {
    // Count characters, not bytes, so the caret lines up on the terminal.
    let column = arg.get(..at).map_or(at, |s| s.chars().count());
    format!("{what}\n    {arg}\n    {}^", " ".repeat(column))
}

/// A local address to bind: `IP:PORT`, or an IP alone (the command picks
/// the port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind {
    /// The IP address.
    pub ip: IpAddr,
    /// The port, if given.
    pub port: Option<u16>,
}

impl Bind {
    /// The socket address, with `default_port` when none was given.
    pub fn addr(self, default_port: u16) -> SocketAddr {
        SocketAddr::new(self.ip, self.port.unwrap_or(default_port))
    }
}

/// Parses `--bind`: `127.0.0.1:5060`, `[::1]:5060`, `0.0.0.0`, `::1`.
pub fn parse_bind(arg: &str) -> Result<Bind, String> {
    if let Ok(a) = arg.parse::<SocketAddr>() {
        return Ok(Bind {
            ip: a.ip(),
            port: Some(a.port()),
        });
    }
    if let Ok(ip) = arg.trim_start_matches('[').trim_end_matches(']').parse() {
        return Ok(Bind { ip, port: None });
    }
    Err(format!(
        "expected IP:PORT or an IP address (e.g. 127.0.0.1:5060, [::1]:5060, 0.0.0.0), got {arg:?}"
    ))
}

/// The default local address towards `target`: loopback for a loopback
/// peer (so Via, Contact and SDP carry an address it can reach), any
/// interface otherwise.
pub fn default_bind_towards(target: Option<IpAddr>) -> Bind {
    let ip = match target {
        Some(ip) if ip.is_loopback() => ip,
        Some(IpAddr::V6(_)) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    Bind { ip, port: None }
}

/// `--transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TransportArg {
    /// SIP over UDP (RFC 3261 section 18).
    #[default]
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS.
    Tls,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Transport {
        match t {
            TransportArg::Udp => Transport::Udp,
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::Tls => Transport::Tls,
        }
    }
}

/// `--auth USER:PASSWORD`.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep passwords out of debug logs.
        write!(f, "Auth({}:***)", self.user)
    }
}

/// Parses `USER:PASSWORD` (the password may contain `:`).
pub fn parse_auth(arg: &str) -> Result<Auth, String> {
    match arg.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(Auth {
            user: user.to_string(),
            password: password.to_string(),
        }),
        Some(_) => Err("the user name before ':' is empty (expected USER:PASSWORD)".into()),
        None => Err("expected USER:PASSWORD (a ':' between them)".into()),
    }
}

/// `--answer auto|ring:SECS|reject:CODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// Answer at once.
    Auto,
    /// Ring (180) for this long, then answer.
    Ring(Duration),
    /// Reject with this status.
    Reject(u16),
}

impl AnswerMode {
    /// The Party's policy for this mode.
    pub fn policy(self) -> CallPolicy {
        match self {
            AnswerMode::Auto => CallPolicy::AutoAnswer,
            AnswerMode::Ring(delay) => CallPolicy::RingThenAnswer { delay },
            AnswerMode::Reject(code) => CallPolicy::Reject { code },
        }
    }
}

/// Parses `--answer`.
pub fn parse_answer(arg: &str) -> Result<AnswerMode, String> {
    let lower = arg.to_ascii_lowercase();
    if lower == "auto" {
        return Ok(AnswerMode::Auto);
    }
    if let Some(secs) = lower.strip_prefix("ring:") {
        return parse_seconds(secs)
            .map(AnswerMode::Ring)
            .map_err(|e| format!("in ring:SECS, {e}"));
    }
    if let Some(code) = lower.strip_prefix("reject:") {
        return match code.parse::<u16>() {
            Ok(c) if (300..=699).contains(&c) => Ok(AnswerMode::Reject(c)),
            _ => Err(format!(
                "in reject:CODE, {code:?} is not a final failure status (300 to 699, e.g. 486, 603)"
            )),
        };
    }
    Err("expected auto, ring:SECS (e.g. ring:2) or reject:CODE (e.g. reject:486)".into())
}

/// Parses a non-negative number of seconds (`2`, `0.5`).
pub fn parse_seconds(arg: &str) -> Result<Duration, String> {
    match arg.parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{arg:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

/// Parses a tone frequency in Hz; G.711 carries 300 to 3400 Hz well and
/// nothing above 4000 Hz (half its 8 kHz sample rate).
pub fn parse_tone(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(hz) if hz.is_finite() && (20.0..4000.0).contains(&hz) => Ok(hz),
        _ => Err(format!(
            "{arg:?} is not a frequency in Hz between 20 and 3999 (G.711 samples at 8 kHz)"
        )),
    }
}

/// Parses DTMF digits: `0-9`, `*`, `#`, `A-D`.
pub fn parse_dtmf(arg: &str) -> Result<String, String> {
    if arg.is_empty() {
        return Err("no digits".into());
    }
    match arg
        .char_indices()
        .find(|(_, c)| !matches!(c.to_ascii_uppercase(), '0'..='9' | '*' | '#' | 'A'..='D'))
    {
        Some((at, c)) => Err(pointing(
            arg,
            at,
            &format!("{c:?} is not a DTMF digit (0-9, *, #, A-D)"),
        )),
        None => Ok(arg.to_ascii_uppercase()),
    }
}

/// What a party sends and where it records: `--tone`, `--play`, `--record`.
#[derive(Debug, Clone, Args, Default)]
pub struct MediaArgs {
    /// Send a sine tone of this frequency (Hz) instead of silence.
    #[arg(long, value_name = "HZ", value_parser = parse_tone, conflicts_with = "play")]
    pub tone: Option<f64>,
    /// Send the audio of this WAV file (any rate, mono or stereo; looped).
    #[arg(long, value_name = "FILE.wav")]
    pub play: Option<PathBuf>,
    /// Record the audio received to this WAV file (8 kHz mono). With
    /// several calls, the second goes to FILE-2.wav and so on.
    #[arg(long, value_name = "FILE.wav")]
    pub record: Option<PathBuf>,
}

/// How a client command (call, options, register) reaches its next hop:
/// the local address, the transport and its certificates.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Local address to bind, `IP:PORT` or an IP (default: loopback when
    /// the next hop is on loopback, else all interfaces; any free port).
    #[arg(long, value_name = "ADDR", value_parser = parse_bind)]
    pub bind: Option<Bind>,
    /// SIP transport.
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    pub transport: TransportArg,
    #[command(flatten)]
    pub tls: TlsArgs,
}

impl LinkArgs {
    /// The local address to bind towards `next_hop` (`--bind`, else
    /// [`default_bind_towards`] its IP, with `localhost` names taken as
    /// loopback). Where the request goes is not decided here: the Party
    /// locates a name itself (RFC 3263 NAPTR/SRV/A with failover, the
    /// lookups answered by the driver).
    pub fn bind_towards(&self, next_hop: &SipUri) -> SocketAddr {
        let peer = next_hop.ip().or_else(|| {
            next_hop
                .is_localhost()
                .then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        });
        self.bind
            .unwrap_or_else(|| default_bind_towards(peer))
            .addr(0)
    }
}

/// Certificates for `--transport tls`.
#[derive(Debug, Clone, Args, Default)]
pub struct TlsArgs {
    /// Our certificate chain (PEM, or one DER certificate), for accepting
    /// TLS connections.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM or DER).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A certificate to trust when connecting over TLS (PEM or DER; the
    /// peer's own or its CA's). May be repeated.
    #[arg(long, value_name = "FILE")]
    pub tls_trust: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_shorthand_gets_the_sip_scheme() {
        assert_eq!(
            parse_sip_uri("bob@127.0.0.1:5070").unwrap().0,
            "sip:bob@127.0.0.1:5070"
        );
        let u = parse_sip_uri("sip:bob@[::1]:5070;transport=TCP").unwrap();
        assert_eq!(u.ip(), Some("::1".parse().unwrap()));
        assert_eq!(u.transport_param().as_deref(), Some("tcp"));
    }

    #[test]
    fn bad_uri_error_points_at_the_offending_byte() {
        let err = parse_sip_uri("sip:bob@host:99999").unwrap_err();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        assert!(lines[0].starts_with("not a SIP URI"), "{err}");
        let caret = lines[2].find('^').unwrap();
        let arg_at = lines[1].find("sip:").unwrap();
        // The caret sits inside the bad port, past "sip:bob@host:".
        assert!(caret - arg_at >= "sip:bob@host".len(), "{err}");
    }

    #[test]
    fn bad_uri_offsets_account_for_the_added_scheme() {
        let err = parse_sip_uri("bob@ho st").unwrap_err();
        let lines: Vec<&str> = err.lines().collect();
        let caret = lines[2].find('^').unwrap() - 4;
        assert!(caret <= "bob@ho st".len(), "{err}");
        assert!(caret >= "bob@ho".len(), "caret before the space: {err}");
    }

    #[test]
    fn answer_modes() {
        assert_eq!(parse_answer("auto"), Ok(AnswerMode::Auto));
        assert_eq!(
            parse_answer("ring:1.5"),
            Ok(AnswerMode::Ring(Duration::from_millis(1500)))
        );
        assert_eq!(parse_answer("reject:486"), Ok(AnswerMode::Reject(486)));
        assert!(parse_answer("reject:200")
            .unwrap_err()
            .contains("300 to 699"));
        assert!(parse_answer("ring:-1").is_err());
        assert!(parse_answer("maybe").unwrap_err().contains("ring:SECS"));
    }

    #[test]
    fn auth_splits_at_the_first_colon() {
        let a = parse_auth("alice:pa:ss").unwrap();
        assert_eq!((a.user.as_str(), a.password.as_str()), ("alice", "pa:ss"));
        assert!(parse_auth("alice").is_err());
        assert!(parse_auth(":pw").is_err());
        assert!(!format!("{a:?}").contains("pa:ss"));
    }

    #[test]
    fn bind_forms() {
        assert_eq!(
            parse_bind("127.0.0.1:5070").unwrap().addr(1),
            "127.0.0.1:5070".parse().unwrap()
        );
        assert_eq!(
            parse_bind("::1").unwrap().addr(5060),
            "[::1]:5060".parse().unwrap()
        );
        assert!(parse_bind("localhost:5060").is_err());
    }

    #[test]
    fn dtmf_digits_are_checked() {
        assert_eq!(parse_dtmf("19#*a").unwrap(), "19#*A");
        let err = parse_dtmf("12x").unwrap_err();
        assert!(err.contains("'x'"), "{err}");
    }

    #[test]
    fn tone_range() {
        assert_eq!(parse_tone("440"), Ok(440.0));
        assert!(parse_tone("5000").is_err());
        assert!(parse_tone("abc").is_err());
    }

    #[test]
    fn rfc6761_6_3_localhost_names_bind_loopback_without_a_lookup() {
        let link = |bind: Option<Bind>| LinkArgs {
            bind,
            transport: TransportArg::Udp,
            tls: TlsArgs::default(),
        };
        for (uri, loopback) in [
            ("sip:bob@localhost:5080", true),
            ("sip:bob@LocalHost.", true),
            ("sip:bob@pbx.localhost;transport=tcp", true),
            ("sip:bob@127.0.0.1:5080", true),
            ("sip:bob@[::1]:5080", true),
            ("sip:bob@notlocalhost.example", false),
            ("sip:bob@example.com", false),
        ] {
            let u = parse_sip_uri(uri).unwrap();
            let bind = link(None).bind_towards(&u);
            assert_eq!(bind.ip().is_loopback(), loopback, "{uri}");
            assert_eq!(bind.port(), 0, "{uri}");
        }
        // --bind wins.
        let fixed = parse_bind("127.0.0.1:5999").unwrap();
        let u = parse_sip_uri("sip:bob@example.com").unwrap();
        assert_eq!(
            link(Some(fixed)).bind_towards(&u),
            "127.0.0.1:5999".parse().unwrap()
        );
    }

    #[test]
    fn default_bind_follows_the_target() {
        let lo = default_bind_towards(Some("127.0.0.1".parse().unwrap()));
        assert!(lo.ip.is_loopback());
        let any = default_bind_towards(Some("192.0.2.1".parse().unwrap()));
        assert!(any.ip.is_unspecified());
    }
}
