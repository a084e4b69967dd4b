//! A baresip 1.0 user agent driven over its `ctrl_tcp` module.
//!
//! Facts about Debian's `baresip-core` 1.0 that this module relies on:
//! - Headless audio: `ausine` as source (only 48 kHz stereo; baresip
//!   resamples to the codec rate), `aubridge` as player (a named in-memory
//!   device). `aufile` is a source only in 1.0 and ends the call with
//!   `AUDIO_ERROR`/`CALL_CLOSED "end of file"` when the file runs out.
//! - `ctrl_tcp` speaks netstrings (`LEN:JSON,`). A command is
//!   `{"command":"dial","params":"sip:..","token":"t1"}`; the answer is
//!   `{"response":true,"ok":true,"data":"..","token":"t1"}`. Events are
//!   `{"event":true,"type":"CALL_ESTABLISHED","class":"call","param":..,
//!   "peeruri":..,"id":..,"direction":..,"accountaor":..}`.
//! - The commands come from the `menu` module: `dial`, `hangup`, `accept`,
//!   `reginfo`, `listcalls`, `callstat`; while a call is active also `hold`,
//!   `resume`, `sndcode DIGITS` (RFC 4733 telephone-event) and `audio_debug`
//!   (RTP counters: `TX: packets=N`, per remote source `rcvd=N`, and the
//!   media direction `audio dir=sendrecv`; the counters restart at each
//!   re-INVITE).
//! - Event types seen in a call: `CALL_INCOMING`, `CALL_RINGING`,
//!   `CALL_LOCAL_SDP`/`CALL_REMOTE_SDP` (param `offer`/`answer`, also on
//!   re-INVITE), `CALL_ESTABLISHED`, `CALL_RTPESTAB` (first RTP received),
//!   `CALL_RTCP`, `CALL_DTMF_START` (param = digit), `CALL_DTMF_END`,
//!   `CALL_CLOSED` (param = reason: "Connection reset by peer" after a BYE,
//!   "486 Rejected" when the callee hung up while ringing),
//!   `REGISTER_OK`/`REGISTER_FAIL`.
//! - `sip_listen` must be a fixed port, and baresip also binds SIP/TLS on the
//!   port above it; `net_interface 127.0.0.1` keeps every address it
//!   advertises (Contact, SDP) on loopback.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::audio::Wav;
use crate::error::{Error, Result};
use crate::ports;
use crate::process::{find_binary, PeerProcess, INSTALL_HINT};

/// The config template, with `{{...}}` placeholders.
const CONFIG_TEMPLATE: &str = include_str!("../peers/baresip/config");

/// The modules the generated config loads.
const MODULES: [&str; 6] = [
    "g711.so",
    "ausine.so",
    "aubridge.so",
    "account.so",
    "menu.so",
    "ctrl_tcp.so",
];

/// Finds the directory holding baresip's modules: Debian's
/// /usr/lib/baresip/modules, or a local build's.
fn module_path() -> Result<PathBuf> {
    let candidates = ["/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules"];
    let dir = candidates
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("ctrl_tcp.so").is_file())
        .ok_or_else(|| Error::PeerMissing {
            peer: "baresip",
            hint: format!("its module ctrl_tcp.so is in none of {candidates:?}: {INSTALL_HINT}"),
        })?;
    if let Some(missing) = MODULES.iter().find(|m| !dir.join(m).is_file()) {
        return Err(Error::PeerMissing {
            peer: "baresip",
            hint: format!(
                "its module {missing} is not in {}: {INSTALL_HINT}",
                dir.display()
            ),
        });
    }
    Ok(dir)
}

/// How long a started baresip may take to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// RTP/RTCP ports per instance (two per call without rtcp-mux).
const RTP_PORTS: u16 = 8;

/// How an instance answers incoming calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerMode {
    /// Answer at once (`;answermode=auto`).
    Auto,
    /// Ring until [`Baresip::answer`] (`;answermode=manual`).
    Manual,
}

/// Options for a baresip instance; build with [`Baresip::builder`].
#[derive(Clone, Debug)]
pub struct BaresipBuilder {
    user: String,
    answer: AnswerMode,
    proxy: Option<SocketAddr>,
    register: bool,
    password: Option<String>,
    tone_hz: u32,
    tcp: bool,
    record: bool,
    extra_config: Vec<String>,
}

impl BaresipBuilder {
    /// Records each call's audio with the `sndfile` module: what was
    /// decoded from the peer and what was sent, as 8 kHz 16-bit WAV files
    /// (see [`Baresip::received_audio`]).
    pub fn record(mut self) -> Self {
        self.record = true;
        self
    }

    /// Uses TCP towards the proxy: the AOR gets `;transport=tcp`, so the
    /// REGISTER and calls to its domain go over TCP.
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    /// How incoming calls are answered (default [`AnswerMode::Auto`]).
    pub fn answer_mode(mut self, mode: AnswerMode) -> Self {
        self.answer = mode;
        self
    }

    /// Puts the account in the domain of the proxy at `proxy`
    /// (`sip:USER@PROXY`), so that its challenges are answered with the
    /// password. Calls still go wherever the dialled URI points.
    pub fn proxy(mut self, proxy: SocketAddr) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Registers the account at its proxy (see [`BaresipBuilder::proxy`]);
    /// [`BaresipBuilder::start`] then waits until the registration succeeded.
    pub fn register(mut self) -> Self {
        self.register = true;
        self
    }

    /// The digest password (`;auth_pass=`), the user name being the AOR's.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// The frequency of the sine tone sent as audio (default 440 Hz).
    pub fn tone_hz(mut self, hz: u32) -> Self {
        self.tone_hz = hz;
        self
    }

    /// Appends a raw line to the generated `config` (a later key wins).
    pub fn config_line(mut self, line: &str) -> Self {
        self.extra_config.push(line.to_owned());
        self
    }

    /// Writes the config dir and starts baresip.
    ///
    /// # Errors
    /// [`Error::PeerMissing`] when baresip is not installed; otherwise an
    /// error with the end of baresip's log if it does not come up.
    pub fn start(self) -> Result<Baresip> {
        Baresip::start(self)
    }
}

/// One event reported by baresip.
#[derive(Clone, Debug)]
pub struct BaresipEvent {
    /// `type`, e.g. `CALL_ESTABLISHED`.
    pub kind: String,
    /// `param`: the peer URI, a reason, a DTMF digit, `offer`/`answer`...
    pub param: String,
    /// `peeruri`, empty for non-call events.
    pub peer_uri: String,
    /// `id`: baresip's call id (the SIP Call-ID), empty for non-call events.
    pub call_id: String,
    /// When the harness received it.
    pub at: Instant,
    /// The whole JSON object.
    pub raw: Value,
}

impl fmt::Display for BaresipEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.param)
    }
}

/// RTP counters of the current call, from `audio_debug`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RtpStats {
    /// RTP packets baresip sent (`TX: packets=`).
    pub tx_packets: u64,
    /// RTP packets baresip received, summed over remote sources (`rcvd=`).
    pub rx_packets: u64,
    /// The SDP direction of the audio stream: `sendrecv`, `sendonly`,
    /// `recvonly` or `inactive`.
    pub direction: String,
    /// The encoder, e.g. `PCMU`.
    pub codec: String,
    /// The remote RTP address baresip sends to.
    pub remote: Option<SocketAddr>,
}

impl RtpStats {
    /// Parses the text of baresip 1.0's `audio_debug` command.
    pub fn parse(text: &str) -> Option<Self> {
        let mut stats = Self::default();
        let mut seen_tx = false;
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("TX: packets=") {
                stats.tx_packets = leading_number(rest)?;
                seen_tx = true;
            } else if let Some(pos) = line.find("rcvd=") {
                stats.rx_packets += leading_number(&line[pos + 5..])?;
            } else if let Some(rest) = line.strip_prefix("audio dir=") {
                stats.direction = rest.split_whitespace().next().unwrap_or("").to_owned();
            } else if let Some(rest) = line.strip_prefix("tx:   encode:") {
                stats.codec = rest.split_whitespace().next().unwrap_or("").to_owned();
            } else if let Some(pos) = line.find("remote: ") {
                // "local: 0.0.0.0:20000, remote: 127.0.0.1:20018/127.0.0.1:20019"
                let addr = line[pos + 8..].split('/').next().unwrap_or("");
                stats.remote = addr.parse().ok();
            }
        }
        seen_tx.then_some(stats)
    }
}

fn leading_number(s: &str) -> Option<u64> {
    let digits: &str = &s[..s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len())];
    digits.parse().ok()
}

/// A running baresip with one account, controlled over `ctrl_tcp`.
///
/// Dropping it kills the process.
#[derive(Debug)]
pub struct Baresip {
    // Field order matters for Drop: the process goes first, which closes the
    // control socket and ends the reader thread.
    process: PeerProcess,
    ctrl: Ctrl,
    user: String,
    aor: String,
    sip_addr: SocketAddr,
    cursor: usize,
    snd_dir: Option<PathBuf>,
    _dir: TempDir,
}

impl Baresip {
    /// Options for an instance whose account user is `user`.
    pub fn builder(user: &str) -> BaresipBuilder {
        BaresipBuilder {
            user: user.to_owned(),
            answer: AnswerMode::Auto,
            proxy: None,
            register: false,
            password: None,
            tone_hz: 440,
            tcp: false,
            record: false,
            extra_config: Vec::new(),
        }
    }

    fn start(b: BaresipBuilder) -> Result<Self> {
        let binary = find_binary("baresip")?;
        let modules = module_path()?;
        for (what, value) in [("user", Some(&b.user)), ("password", b.password.as_ref())] {
            if let Some(v) = value {
                if v.is_empty()
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    return Err(Error::Config(format!(
                        "baresip {what} {v:?}: use [A-Za-z0-9._-]"
                    )));
                }
            }
        }
        if b.register && b.proxy.is_none() {
            return Err(Error::Config("register() needs proxy()".into()));
        }
        if !(10..=20_000).contains(&b.tone_hz) {
            return Err(Error::Config(format!(
                "tone {} Hz: ausine takes 10..=20000",
                b.tone_hz
            )));
        }

        // sip_listen PORT (UDP+TCP) and PORT+1 (TLS), then the control port.
        let sip_port = ports::reserve(3, "baresip SIP")?;
        let ctrl_port = sip_port + 2;
        let rtp_first = ports::reserve(RTP_PORTS, "baresip RTP")?;

        let dir = tempfile::Builder::new()
            .prefix(&format!("baresip-{}-", b.user))
            .tempdir()
            .map_err(|e| Error::io("creating baresip's temp dir", e))?;
        let device = format!("{}{}", b.user, sip_port);
        let mut config = CONFIG_TEMPLATE
            .replace("{{SIP_PORT}}", &sip_port.to_string())
            .replace("{{CTRL_PORT}}", &ctrl_port.to_string())
            .replace("{{RTP_FIRST}}", &rtp_first.to_string())
            .replace("{{RTP_LAST}}", &(rtp_first + RTP_PORTS - 1).to_string())
            .replace("{{TONE_HZ}}", &b.tone_hz.to_string())
            .replace("{{DEVICE}}", &device)
            .replace("{{MODULE_PATH}}", &modules.display().to_string());
        let snd_dir = dir.path().join("audio");
        if b.record {
            std::fs::create_dir(&snd_dir)
                .map_err(|e| Error::io("creating the audio dump dir", e))?;
            // An audio filter: "dump-TIMESTAMP-enc.wav" / "-dec.wav" per call.
            config.push_str(&format!(
                "module\t\t\tsndfile.so\nsnd_path\t\t{}\n",
                snd_dir.display()
            ));
        }
        for line in &b.extra_config {
            config.push_str(line);
            config.push('\n');
        }
        let domain = match b.proxy {
            Some(proxy) => proxy.to_string(),
            None => format!("127.0.0.1:{sip_port}"),
        };
        let transport = if b.tcp { ";transport=tcp" } else { "" };
        let aor = format!("sip:{}@{domain}{transport}", b.user);
        let mut account = format!(
            "<{aor}>;answermode={}",
            match b.answer {
                AnswerMode::Auto => "auto",
                AnswerMode::Manual => "manual",
            }
        );
        if let Some(pw) = &b.password {
            account.push_str(&format!(";auth_pass={pw}"));
        }
        account.push_str(if b.register {
            ";regint=60"
        } else {
            ";regint=0"
        });
        account.push('\n');
        write(dir.path(), "config", &config)?;
        write(dir.path(), "accounts", &account)?;
        write(dir.path(), "contacts", "")?;

        let mut command = Command::new(binary);
        command
            .arg("-f")
            .arg(dir.path())
            .arg("-v")
            .current_dir(dir.path());
        let name = format!("baresip {}", b.user);
        let mut process = PeerProcess::spawn(name, command, &dir.path().join("baresip.log"))?;

        let ctrl_addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, ctrl_port));
        let deadline = Instant::now() + START_TIMEOUT;
        let stream = loop {
            process.ensure_running()?;
            match TcpStream::connect_timeout(&ctrl_addr, Duration::from_millis(200)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(_) => return Err(process.timeout(format!("ctrl_tcp on {ctrl_addr}"))),
            }
        };
        let ctrl = Ctrl::new(stream)?;
        let mut baresip = Self {
            process,
            ctrl,
            user: b.user,
            aor,
            sip_addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, sip_port)),
            cursor: 0,
            snd_dir: b.record.then_some(snd_dir),
            _dir: dir,
        };
        if b.register {
            baresip.wait_registered(Duration::from_secs(5))?;
        }
        Ok(baresip)
    }

    /// The account's user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The account's address of record, e.g. `sip:alice@127.0.0.1:20004`.
    pub fn aor(&self) -> &str {
        &self.aor
    }

    /// Where baresip listens for SIP (UDP and TCP).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    /// A URI that reaches this instance directly:
    /// `sip:USER@127.0.0.1:SIPPORT`.
    pub fn direct_uri(&self) -> String {
        format!("sip:{}@{}", self.user, self.sip_addr)
    }

    /// baresip's log so far (its stdout and stderr, with `-v`).
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Sends a `ctrl_tcp` command and returns the `data` of the answer.
    ///
    /// # Errors
    /// [`Error::Peer`] if baresip answered `ok: false`; a timeout or exit
    /// error if it did not answer.
    pub fn command(&mut self, command: &str, params: Option<&str>) -> Result<String> {
        let token = self.ctrl.send(command, params)?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let answer = self
                .ctrl
                .poll(Duration::from_millis(100), |s| s.responses.remove(&token));
            if let Some(answer) = answer {
                let data = answer
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                return if answer.get("ok").and_then(Value::as_bool) == Some(true) {
                    Ok(data)
                } else {
                    Err(Error::Peer {
                        peer: self.process.name().to_owned(),
                        message: format!("command {command} {params:?} failed: {data}"),
                    })
                };
            }
            self.process.ensure_running()?;
            if Instant::now() >= deadline {
                return Err(self
                    .process
                    .timeout(format!("an answer to command {command}")));
            }
        }
    }

    /// Places a call to `uri` (`dial`).
    ///
    /// # Errors
    /// See [`Baresip::command`].
    pub fn dial(&mut self, uri: &str) -> Result<()> {
        self.command("dial", Some(uri)).map(drop)
    }

    /// Answers the ringing call (`accept`), for [`AnswerMode::Manual`].
    ///
    /// # Errors
    /// See [`Baresip::command`].
    pub fn answer(&mut self) -> Result<()> {
        self.command("accept", None).map(drop)
    }

    /// Hangs up the current call (`hangup`: CANCEL or BYE).
    ///
    /// # Errors
    /// See [`Baresip::command`].
    pub fn hangup(&mut self) -> Result<()> {
        self.command("hangup", None).map(drop)
    }

    /// Puts the current call on hold (re-INVITE with `a=sendonly`).
    ///
    /// # Errors
    /// See [`Baresip::command`].
    pub fn hold(&mut self) -> Result<()> {
        self.command("hold", None).map(drop)
    }

    /// Resumes the held call (re-INVITE with `a=sendrecv`).
    ///
    /// # Errors
    /// See [`Baresip::command`].
    pub fn resume(&mut self) -> Result<()> {
        self.command("resume", None).map(drop)
    }

    /// Sends DTMF digits as RFC 4733 telephone-events (`sndcode`).
    ///
    /// # Errors
    /// See [`Baresip::command`].
    pub fn send_dtmf(&mut self, digits: &str) -> Result<()> {
        self.command("sndcode", Some(digits)).map(drop)
    }

    /// RTP counters of the current call.
    ///
    /// # Errors
    /// [`Error::Peer`] when there is no call (baresip prints nothing).
    pub fn rtp_stats(&mut self) -> Result<RtpStats> {
        let text = self.command("audio_debug", None)?;
        RtpStats::parse(&text).ok_or_else(|| Error::Peer {
            peer: self.process.name().to_owned(),
            message: format!("no RTP statistics (no active call?): {text:?}"),
        })
    }

    /// Waits until `reginfo` shows the account registered.
    ///
    /// # Errors
    /// A timeout naming baresip, with its log.
    pub fn wait_registered(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            // "> sip:alice@127.0.0.1:5060  OK" once a 200 came back (the
            // REGISTER_OK event may fire before our control connection).
            let info = self.command("reginfo", None)?;
            // reginfo prints the AOR without its URI parameters.
            let aor = self.aor.split(';').next().unwrap_or(&self.aor);
            if info.lines().any(|l| l.contains(aor) && l.contains("OK")) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self
                    .process
                    .timeout(format!("registration of {} (reginfo: {info:?})", self.aor)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every event received so far.
    pub fn events(&self) -> Vec<BaresipEvent> {
        self.ctrl.lock().events.clone()
    }

    /// Waits for the next event of type `kind` after the last one returned
    /// by a `wait_*` call (events in between are skipped, not lost: see
    /// [`Baresip::events`]).
    ///
    /// # Errors
    /// A timeout listing the events seen, or an exit error.
    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> Result<BaresipEvent> {
        self.wait_event_where(kind, |e| e.kind == kind, timeout)
    }

    /// Like [`Baresip::wait_event`] with any predicate; `what` names it in
    /// the error.
    ///
    /// # Errors
    /// A timeout listing the events seen, or an exit error.
    pub fn wait_event_where(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&BaresipEvent) -> bool,
        timeout: Duration,
    ) -> Result<BaresipEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let cursor = self.cursor;
            let found = self.ctrl.poll(Duration::from_millis(100), |s| {
                let i = s.events[cursor..].iter().position(&mut pred)?;
                Some((cursor + i, s.events[cursor + i].clone()))
            });
            if let Some((index, event)) = found {
                self.cursor = index + 1;
                return Ok(event);
            }
            if let Some(status) = self.process.exit_status() {
                return Err(Error::PeerExited {
                    peer: self.process.name().to_owned(),
                    status,
                    log_tail: self.process.log_tail(40),
                });
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = self.events().iter().map(ToString::to_string).collect();
                return Err(self
                    .process
                    .timeout(format!("event {what}; events seen: [{}]", seen.join(", "))));
            }
        }
    }

    /// The audio baresip decoded from its peer in the latest call (needs
    /// [`BaresipBuilder::record`]). Complete once `CALL_CLOSED` was seen;
    /// during the call it holds what was written so far.
    ///
    /// # Errors
    /// [`Error::Config`] without `record()`, [`Error::Peer`] if no call was
    /// recorded.
    pub fn received_audio(&self) -> Result<Wav> {
        self.recorded("dec")
    }

    /// The audio baresip sent in the latest call (see
    /// [`Baresip::received_audio`]).
    ///
    /// # Errors
    /// As for [`Baresip::received_audio`].
    pub fn sent_audio(&self) -> Result<Wav> {
        self.recorded("enc")
    }

    fn recorded(&self, which: &str) -> Result<Wav> {
        let dir = self.snd_dir.as_ref().ok_or_else(|| {
            Error::Config("recorded audio needs Baresip::builder(..).record()".into())
        })?;
        let suffix = format!("-{which}.wav");
        let newest = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(&suffix))
            // The names carry a timestamp to the second: the largest is newest.
            .max()
            .ok_or_else(|| Error::Peer {
                peer: self.process.name().to_owned(),
                message: format!("no *{suffix} in {} (no call yet?)", dir.display()),
            })?;
        Wav::read(&newest)
    }

    /// Stops baresip with SIGTERM (it hangs up and unregisters), waiting
    /// up to `grace` before killing it.
    pub fn shutdown(mut self, grace: Duration) {
        self.process.terminate(grace);
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.process.kill();
        self.ctrl.close();
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<()> {
    std::fs::write(dir.join(name), contents)
        .map_err(|e| Error::io(format!("writing baresip {name}"), e))
}

/// What the reader thread collects.
#[derive(Debug, Default)]
struct CtrlState {
    events: Vec<BaresipEvent>,
    responses: HashMap<String, Value>,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<CtrlState>,
    changed: Condvar,
}

/// The `ctrl_tcp` connection: a writer here, a reader thread that decodes
/// netstrings into events and answers.
#[derive(Debug)]
struct Ctrl {
    stream: TcpStream,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    next_token: u64,
}

impl Ctrl {
    fn new(stream: TcpStream) -> Result<Self> {
        let read_half = stream
            .try_clone()
            .map_err(|e| Error::io("cloning the ctrl_tcp socket", e))?;
        let shared = Arc::new(Shared::default());
        let shared2 = Arc::clone(&shared);
        let reader = std::thread::Builder::new()
            .name("baresip-ctrl".into())
            .spawn(move || read_loop(read_half, &shared2))
            .map_err(|e| Error::io("starting the ctrl_tcp reader thread", e))?;
        Ok(Self {
            stream,
            shared,
            reader: Some(reader),
            next_token: 0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, CtrlState> {
        // Poisoning needs a panic in the reader thread, which only parses
        // and pushes; the data stays consistent either way.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `check` on the state until it returns `Some` or `slice` passed,
    /// sleeping on the condition variable between changes.
    fn poll<T>(
        &self,
        slice: Duration,
        mut check: impl FnMut(&mut CtrlState) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + slice;
        let mut guard = self.lock();
        loop {
            if let Some(found) = check(&mut guard) {
                return Some(found);
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return None;
            }
            if guard.closed {
                // Nothing more will arrive; don't spin while the caller
                // notices that baresip is gone.
                drop(guard);
                std::thread::sleep(wait.min(Duration::from_millis(20)));
                return None;
            }
            guard = match self.shared.changed.wait_timeout(guard, wait) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn send(&mut self, command: &str, params: Option<&str>) -> Result<String> {
        self.next_token += 1;
        let token = format!("t{}", self.next_token);
        let mut msg = serde_json::json!({ "command": command, "token": token });
        if let Some(p) = params {
            msg["params"] = Value::from(p);
        }
        let body = msg.to_string();
        let frame = format!("{}:{},", body.len(), body);
        self.stream
            .write_all(frame.as_bytes())
            .map_err(|e| Error::io(format!("sending {command} to baresip"), e))?;
        Ok(token)
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Reads netstrings until the socket closes.
fn read_loop(mut stream: TcpStream, shared: &Shared) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some((value, used)) = next_netstring(&buf) {
            buf.drain(..used);
            let Some(value) = value else { continue };
            let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            if value.get("event").and_then(Value::as_bool) == Some(true) {
                let field = |k: &str| {
                    value
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                state.events.push(BaresipEvent {
                    kind: field("type"),
                    param: field("param"),
                    peer_uri: field("peeruri"),
                    call_id: field("id"),
                    at: Instant::now(),
                    raw: value,
                });
            } else if let Some(token) = value.get("token").and_then(Value::as_str) {
                state.responses.insert(token.to_owned(), value);
            }
            shared.changed.notify_all();
        }
    }
    let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    state.closed = true;
    shared.changed.notify_all();
}

/// Decodes one netstring from the front of `buf`: `Some((json, bytes used))`,
/// with `None` JSON for a frame that is not valid JSON (skipped), or `None`
/// if more bytes are needed.
fn next_netstring(buf: &[u8]) -> Option<(Option<Value>, usize)> {
    let colon = buf.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&buf[..colon]).ok()?.parse().ok()?;
    let end = colon + 1 + len;
    if buf.len() < end + 1 {
        return None;
    }
    Some((serde_json::from_slice(&buf[colon + 1..end]).ok(), end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from baresip 1.0.0 during a call (trimmed).
    const AUDIO_DEBUG: &str = "\n--- Audio stream ---\n tx:   encode: PCMU 8000Hz/1ch ptime=20ms S16LE\n       source: ausine,440 S16LE\n audio dir=recvonly pt_enc=0\n local: 0.0.0.0:20018, remote: 127.0.0.1:20000/127.0.0.1:20001\nRTP debug:\n----- RTCP Session: -----\n  member 0x9f97b8b0: lost=0 Jitter=0.0ms RTT=0.0ms\n                 IP=127.0.0.1:20000 psent=0 rcvd=127\n  TX: packets=128, octets=20480\n";

    #[test]
    fn audio_debug_counters_are_parsed() {
        let s = RtpStats::parse(AUDIO_DEBUG).unwrap();
        assert_eq!(s.tx_packets, 128);
        assert_eq!(s.rx_packets, 127);
        assert_eq!(s.direction, "recvonly");
        assert_eq!(s.codec, "PCMU");
        assert_eq!(s.remote, Some("127.0.0.1:20000".parse().unwrap()));
    }

    #[test]
    fn audio_debug_without_a_call_is_none() {
        assert_eq!(RtpStats::parse(""), None);
    }

    #[test]
    fn netstrings_split_across_reads() {
        let frame = br#"17:{"response":true},5:{"a":"#;
        let (v, used) = next_netstring(frame).unwrap();
        assert_eq!(v.unwrap()["response"], Value::Bool(true));
        assert_eq!(used, 21);
        assert!(next_netstring(&frame[used..]).is_none());
    }
}
