//! Kamailio 5.6 as registrar and record-routing proxy.
//!
//! Facts about Debian's `kamailio` 5.6 package that this module relies on:
//! - Everything needed is in the main package's module dir
//!   (/usr/lib/x86_64-linux-gnu/kamailio/modules): `tm`, `sl`, `rr`, `pv`,
//!   `maxfwd`, `usrloc` (with `db_mode` 0: in memory), `registrar`,
//!   `textops`, `siputils`, `xlog`, and `auth`, whose
//!   `pv_www_authenticate`/`pv_proxy_authenticate` check a digest against a
//!   password held in a variable: static credentials with no database
//!   module and no extra package.
//! - `kamailio -f CFG -DD -E` stays in the foreground (it still forks
//!   workers; the harness kills the whole process group), logging to stderr.
//!   `-Y DIR` moves the runtime dir (default /run/kamailio) into the temp
//!   dir, `-m`/`-M` keep the shared and private memory small.
//! - `disable_tcp=yes` and `children=1` keep it to a handful of processes.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::{Error, Result};
use crate::ports;
use crate::process::{find_binary, LogFollower, PeerProcess};

/// The config template, with `{{...}}` placeholders.
const CONFIG_TEMPLATE: &str = include_str!("../peers/kamailio/kamailio.cfg");

/// How long a started Kamailio may take to answer OPTIONS.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The digest realm Kamailio challenges with when auth is on.
pub const REALM: &str = "sipparty";

/// Options for a Kamailio instance; build with [`Kamailio::builder`].
#[derive(Clone, Debug, Default)]
pub struct KamailioBuilder {
    credentials: Vec<(String, String)>,
    auth: bool,
    tcp: bool,
}

impl KamailioBuilder {
    /// Turns digest authentication on: REGISTER is challenged with 401,
    /// other initial requests (INVITE, OPTIONS to a user...) with 407.
    pub fn digest_auth(mut self) -> Self {
        self.auth = true;
        self
    }

    /// Adds a user that may authenticate (implies [`Self::digest_auth`]).
    pub fn user(mut self, user: &str, password: &str) -> Self {
        self.auth = true;
        self.credentials
            .push((user.to_owned(), password.to_owned()));
        self
    }

    /// Also listens on TCP, on the same port as UDP.
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    /// Writes the config and starts Kamailio, waiting until it answers.
    ///
    /// # Errors
    /// [`Error::PeerMissing`] when kamailio is not installed; otherwise an
    /// error with the end of Kamailio's log if it does not come up.
    pub fn start(self) -> Result<Kamailio> {
        Kamailio::start(self)
    }
}

/// One routing decision Kamailio logged (a `SIPPARTY-TRACE` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyTrace {
    /// Which branch of the script: `initial` (an initial request relayed
    /// after a location lookup), `loose` (an in-dialog request that followed
    /// the route set), `stray` (an in-dialog request that did not), `register`,
    /// `register-failed`, `challenge`, `notfound`, `cancel`, `ack-non2xx`.
    pub route: String,
    /// The request method.
    pub method: String,
    /// The transport it came over: `udp` or `tcp` (`$pr`).
    pub transport: String,
    /// Where the request came from (`$si:$sp`).
    pub source: Option<SocketAddr>,
    /// The Request-URI as received.
    pub ruri: String,
    /// For `initial`: the Request-URI after the location lookup (the
    /// registered Contact); empty otherwise.
    pub target: String,
}

impl ProxyTrace {
    /// Parses a log line; `None` if it is not a trace line.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = &line[line.find("SIPPARTY-TRACE ")? + "SIPPARTY-TRACE ".len()..];
        let mut trace = Self {
            route: String::new(),
            method: String::new(),
            transport: String::new(),
            source: None,
            ruri: String::new(),
            target: String::new(),
        };
        for pair in rest.split_whitespace() {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            match key {
                "route" => trace.route = value.to_owned(),
                "method" => trace.method = value.to_owned(),
                "proto" => trace.transport = value.to_owned(),
                "src" => trace.source = value.parse().ok(),
                "ruri" => trace.ruri = value.to_owned(),
                "target" => trace.target = value.to_owned(),
                _ => {}
            }
        }
        (!trace.route.is_empty()).then_some(trace)
    }
}

/// A running Kamailio. Dropping it stops all its processes.
#[derive(Debug)]
pub struct Kamailio {
    process: PeerProcess,
    addr: SocketAddr,
    follower: LogFollower,
    traces: Vec<ProxyTrace>,
    cursor: usize,
    auth: bool,
    _dir: TempDir,
}

impl Kamailio {
    /// Options for an instance (no auth by default).
    pub fn builder() -> KamailioBuilder {
        KamailioBuilder::default()
    }

    fn start(b: KamailioBuilder) -> Result<Self> {
        let binary = find_binary("kamailio")?;
        for (user, password) in &b.credentials {
            for v in [user, password] {
                if v.is_empty()
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    return Err(Error::Config(format!(
                        "kamailio credential {v:?}: use [A-Za-z0-9._-]"
                    )));
                }
            }
        }
        let port = ports::free_port("kamailio")?;
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let config = render_config(port, b.tcp, b.auth, &b.credentials);
        let dir = tempfile::Builder::new()
            .prefix("kamailio-")
            .tempdir()
            .map_err(|e| Error::io("creating Kamailio's temp dir", e))?;
        let cfg_path = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg_path, config).map_err(|e| Error::io("writing kamailio.cfg", e))?;

        let mut command = Command::new(binary);
        command
            .arg("-f")
            .arg(&cfg_path)
            .args(["-DD", "-E", "-m", "32", "-M", "4"])
            .arg("-Y")
            .arg(dir.path())
            .arg("-w")
            .arg(dir.path())
            .current_dir(dir.path());
        let log_path = dir.path().join("kamailio.log");
        let mut process = PeerProcess::spawn("kamailio", command, &log_path)?;
        wait_ready(&mut process, addr)?;
        Ok(Self {
            process,
            addr,
            follower: LogFollower::new(&log_path),
            traces: Vec::new(),
            cursor: 0,
            auth: b.auth,
            _dir: dir,
        })
    }

    /// Where Kamailio listens (UDP, and TCP if asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URI with loose routing, for a route set or outbound proxy:
    /// `sip:127.0.0.1:PORT;lr`.
    pub fn uri(&self) -> String {
        format!("sip:{};lr", self.addr)
    }

    /// An address of record in Kamailio's domain: `sip:USER@127.0.0.1:PORT`.
    pub fn aor(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.addr)
    }

    /// Whether digest authentication is on.
    pub fn digest_auth(&self) -> bool {
        self.auth
    }

    /// Kamailio's log so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Every routing decision logged so far.
    pub fn traces(&mut self) -> &[ProxyTrace] {
        self.refresh();
        &self.traces
    }

    fn refresh(&mut self) {
        for line in self.follower.new_lines() {
            if let Some(t) = ProxyTrace::parse(&line) {
                self.traces.push(t);
            }
        }
    }

    /// Waits for the next trace (after the last one a `wait_*` returned)
    /// with this route and method.
    ///
    /// # Errors
    /// A timeout listing the traces seen, or an exit error.
    pub fn wait_trace(
        &mut self,
        route: &str,
        method: &str,
        timeout: Duration,
    ) -> Result<ProxyTrace> {
        let deadline = Instant::now() + timeout;
        loop {
            self.refresh();
            if let Some(i) = self.traces[self.cursor..]
                .iter()
                .position(|t| t.route == route && t.method == method)
            {
                let index = self.cursor + i;
                self.cursor = index + 1;
                return Ok(self.traces[index].clone());
            }
            self.process.ensure_running()?;
            if Instant::now() >= deadline {
                let seen: Vec<String> = self
                    .traces
                    .iter()
                    .map(|t| format!("{} {}", t.route, t.method))
                    .collect();
                return Err(self.process.timeout(format!(
                    "trace route={route} method={method}; traces seen: [{}]",
                    seen.join(", ")
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGTERM lets the main process stop and reap its workers (a group
        // SIGKILL would leave them as zombies for init); the kill after it
        // covers a Kamailio that does not stop in time.
        self.process.terminate(Duration::from_secs(2));
    }
}

/// Fills the template: port, and the auth block with its credentials route.
fn render_config(port: u16, tcp: bool, auth: bool, credentials: &[(String, String)]) -> String {
    let (auth_block, creds_route) = if auth {
        let block = format!(
            r#"    # Digest authentication (RFC 3261 s22): 401 for REGISTER, 407 otherwise.
    if (is_method("REGISTER")) {{
        route(CREDENTIALS);
        if (!pv_www_authenticate("{REALM}", "$var(password)", "0")) {{
            xlog("L_NOTICE", "SIPPARTY-TRACE route=challenge method=$rm proto=$pr src=$si:$sp ruri=$ou\n");
            www_challenge("{REALM}", "0");
            exit;
        }}
        consume_credentials();
    }} else if (!is_method("ACK")) {{
        route(CREDENTIALS);
        if (!pv_proxy_authenticate("{REALM}", "$var(password)", "0")) {{
            xlog("L_NOTICE", "SIPPARTY-TRACE route=challenge method=$rm proto=$pr src=$si:$sp ruri=$ou\n");
            proxy_challenge("{REALM}", "0");
            exit;
        }}
        consume_credentials();
    }}"#
        );
        let mut route = String::from(
            "# The password of the user named in the credentials ($au); none for others.\nroute[CREDENTIALS] {\n    $var(password) = \"\";\n",
        );
        for (user, password) in credentials {
            // Both were checked to be [A-Za-z0-9._-]: nothing to escape.
            let _ = writeln!(
                route,
                "    if ($au == \"{user}\") {{ $var(password) = \"{password}\"; }}"
            );
        }
        route.push_str("}\n");
        (block, route)
    } else {
        (
            "    # Digest authentication is off.".to_owned(),
            String::new(),
        )
    };
    CONFIG_TEMPLATE
        .replace(
            "{{TCP_LISTEN}}",
            &if tcp {
                format!("listen=tcp:127.0.0.1:{port}")
            } else {
                String::new()
            },
        )
        .replace("{{DISABLE_TCP}}", if tcp { "no" } else { "yes" })
        .replace("{{SIP_PORT}}", &port.to_string())
        .replace("{{AUTH_BLOCK}}", &auth_block)
        .replace("{{CREDENTIALS_ROUTE}}", &creds_route)
}

/// Waits until Kamailio answers OPTIONS with 200 (the config answers
/// OPTIONS without a user part itself).
fn wait_ready(process: &mut PeerProcess, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        process.ensure_running()?;
        if let Some(status) = crate::probe::options(addr, Duration::from_millis(100))? {
            if status.starts_with("SIP/2.0 200") {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(process.timeout(format!("a 200 to OPTIONS on {addr}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_are_parsed() {
        let line = " 1(12574) NOTICE: <script>: SIPPARTY-TRACE route=loose method=BYE proto=udp src=127.0.0.1:5075 ruri=sip:bob-0x55@127.0.0.1:5071";
        let t = ProxyTrace::parse(line).unwrap();
        assert_eq!(t.route, "loose");
        assert_eq!(t.method, "BYE");
        assert_eq!(t.transport, "udp");
        assert_eq!(t.source, Some("127.0.0.1:5075".parse().unwrap()));
        assert_eq!(t.ruri, "sip:bob-0x55@127.0.0.1:5071");
        assert_eq!(ProxyTrace::parse("INFO: <core> listening"), None);
    }

    #[test]
    fn config_has_no_placeholders_left() {
        for auth in [false, true] {
            let cfg = render_config(5090, auth, auth, &[("alice".into(), "pw".into())]);
            assert!(!cfg.contains("{{"), "unfilled placeholder in:\n{cfg}");
            assert!(cfg.contains("listen=udp:127.0.0.1:5090"));
            assert_eq!(cfg.contains("listen=tcp:127.0.0.1:5090"), auth);
            assert_eq!(cfg.contains("pv_www_authenticate"), auth);
            assert_eq!(cfg.contains(r#"$var(password) = "pw""#), auth);
        }
    }
}
