//! The `sipparty` binary end to end, on loopback only: the demo, a call
//! between two sipparty processes (with audio checked both ways), a
//! rejected call, OPTIONS, and argument errors.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sipparty_core::media::Wav;

const BIN: &str = env!("CARGO_BIN_EXE_sipparty");

fn sipparty(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("the sipparty binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `NAME: sent=N received=M` of the summary line of `name`.
fn counts(output: &str, name: &str) -> Option<(u64, u64)> {
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name}: sent=")))?;
    let num = |key: &str| -> Option<u64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((num("sent=")?, num("received=")?))
}

/// The share of the recording's energy at `hz` (Goertzel; ~1 for a pure
/// tone at that frequency).
fn tone_fraction(wav: &Wav, hz: f64) -> f64 {
    let samples = wav.to_mono(8000);
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in &samples {
        let s0 = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    let energy: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    power / (energy * samples.len() as f64 / 2.0)
}

/// A running `sipparty listen`, its output read line by line.
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    addr: SocketAddr,
}

impl Listener {
    /// Starts `sipparty listen --bind 127.0.0.1:0 ARGS` and waits for the
    /// address it prints.
    fn start(args: &[&str], dir: &Path) -> Listener {
        let mut child = Command::new(BIN)
            .args(["listen", "--bind", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipparty listen starts");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut l = Listener {
            child,
            lines,
            seen: Vec::new(),
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        let line = l.wait_line("listening on ");
        let addr = line
            .split_whitespace()
            .nth(4)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        l.addr = addr;
        l
    }

    fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needle:?} in:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits for it to exit; returns its status code and whole output.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("listen did not exit:\n{}", self.seen.join("\n"));
            }
            thread::sleep(Duration::from_millis(20));
        };
        // The reader threads end at EOF.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        (status.code(), self.seen.join("\n"))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn demo_exits_0_with_ladder_and_audio_both_ways() {
    let out = sipparty(&["demo"], &scratch("demo"));
    let all = text(&out);
    assert!(out.status.success(), "demo failed:\n{all}");
    // The ladder shows the whole call, in order.
    let mut at = 0;
    for label in [
        " INVITE ",
        " 180 Ringing ",
        " 200 OK ",
        " ACK ",
        " BYE ",
        " 200 OK ",
    ] {
        let found = all[at..]
            .find(label)
            .unwrap_or_else(|| panic!("{label:?} missing or out of order:\n{all}"));
        at += found + label.len();
    }
    assert!(all.contains("codec: PCMU/8000"), "{all}");
    // Bob rings for a second before answering.
    assert!(all.contains("call setup time: 1"), "{all}");
    for side in ["alice", "bob"] {
        let (sent, received) =
            counts(&all, side).unwrap_or_else(|| panic!("no counts for {side}:\n{all}"));
        // Two seconds of 20 ms packets is 100; allow for timing slack.
        assert!(
            sent >= 50 && received >= 50,
            "{side}: {sent}/{received}:\n{all}"
        );
    }
}

#[test]
fn call_to_listen_carries_each_tone_and_ends_cleanly() {
    let dir = scratch("call-listen");
    let mut listen = Listener::start(
        &[
            "--calls",
            "1",
            "--tone",
            "660",
            "--record",
            "heard-by-listen.wav",
        ],
        &dir,
    );
    let target = format!("sip:bob@{}", listen.addr);
    let out = sipparty(
        &[
            "call",
            &target,
            "--duration",
            "1",
            "--tone",
            "440",
            "--record",
            "heard-by-call.wav",
            "--dtmf",
            "4#",
        ],
        &dir,
    );
    let call = text(&out);
    assert!(out.status.success(), "call failed:\n{call}");
    let (sent, received) = counts(&call, "sipparty").expect("summary");
    assert!(sent >= 25 && received >= 25, "{call}");
    listen.wait_line("call 1: DTMF received 4");
    listen.wait_line("call 1: DTMF received #");
    listen.wait_line("call 1: ended");
    let (code, heard) = listen.finish();
    assert_eq!(code, Some(0), "listen --calls 1 should exit 0:\n{heard}");
    assert!(
        counts(&heard, "call 1").is_some_and(|(s, r)| s >= 25 && r >= 25),
        "{heard}"
    );

    for (file, hz, other) in [
        ("heard-by-call.wav", 660.0, 440.0),
        ("heard-by-listen.wav", 440.0, 660.0),
    ] {
        let wav = Wav::parse(&std::fs::read(dir.join(file)).expect(file)).expect(file);
        assert!(wav.frames() > 4000, "{file}: {} frames", wav.frames());
        let (at, not_at) = (tone_fraction(&wav, hz), tone_fraction(&wav, other));
        assert!(
            at > 0.5 && not_at < 0.05,
            "{file}: {at} at {hz} Hz, {not_at} at {other} Hz"
        );
    }
}

#[test]
fn rejected_call_exits_1_with_the_status() {
    let dir = scratch("reject");
    let listen = Listener::start(&["--calls", "1", "--answer", "reject:486"], &dir);
    let out = sipparty(
        &[
            "call",
            &format!("sip:bob@{}", listen.addr),
            "--duration",
            "1",
        ],
        &dir,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("error: 486 Busy Here"), "{all}");
    // The ladder shows the rejection and the ACK for it.
    assert!(
        all.contains(" 486 Busy Here ") && all.contains(" ACK "),
        "{all}"
    );
    let (code, heard) = listen.finish();
    assert_eq!(
        code,
        Some(0),
        "rejecting on purpose is not a failure:\n{heard}"
    );
}

#[test]
fn options_prints_status_and_allow() {
    let dir = scratch("options");
    let listen = Listener::start(&[], &dir);
    let out = sipparty(&["options", &format!("sip:{}", listen.addr)], &dir);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.lines().any(|l| l.starts_with("200 ")), "{all}");
    let allow = all
        .lines()
        .find(|l| l.starts_with("Allow: "))
        .unwrap_or_else(|| panic!("no Allow line:\n{all}"));
    assert!(allow.contains("INVITE") && allow.contains("BYE"), "{allow}");
    assert!(all.lines().any(|l| l.starts_with("Supported: ")), "{all}");
}

#[test]
fn rfc3263_a_name_is_located_by_the_party_over_udp_and_tcp() {
    let dir = scratch("options-name");
    // `localhost` is no IP literal: the Party asks the driver's resolver
    // (A/AAAA by getaddrinfo, which reads the hosts file) and sends to what
    // RFC 3263 selects; the CLI pins no destination.
    for extra in [&[][..], &["--transport", "tcp"][..]] {
        let listen = Listener::start(extra, &dir);
        let port = listen.addr.port();
        let target = format!("sip:localhost:{port}");
        let out = sipparty(&[&["options", &target][..], extra].concat(), &dir);
        let all = text(&out);
        assert!(out.status.success(), "{extra:?}: {all}");
        assert!(all.lines().any(|l| l.starts_with("200 ")), "{all}");
        let sent_over = if extra.is_empty() {
            " OPTIONS -"
        } else {
            " OPTIONS (TCP) "
        };
        assert!(all.contains(sent_over), "{extra:?}: {all}");
    }
}

#[test]
fn unparseable_uri_says_where() {
    let out = sipparty(&["call", "sip:bob@host:99999"], &scratch("bad-uri"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a SIP URI"), "{err}");
    let arg_line = err
        .lines()
        .find(|l| l.trim() == "sip:bob@host:99999")
        .expect("echo");
    let caret_line = err.lines().find(|l| l.trim() == "^").expect("caret");
    let col = caret_line.find('^').unwrap() - arg_line.find("sip:").unwrap();
    assert!(col >= "sip:bob@host".len(), "caret at {col}:\n{err}");
}

#[test]
fn bad_arguments_get_helpful_errors() {
    let dir = scratch("bad-args");
    for (args, expect) in [
        (&["listen", "--answer", "maybe"][..], "ring:SECS"),
        (&["listen", "--answer", "reject:200"][..], "300 to 699"),
        (
            &["call", "sip:b@127.0.0.1", "--tone", "5000"][..],
            "between 20 and 3999",
        ),
        (
            &["call", "sip:b@127.0.0.1", "--auth", "nocolon"][..],
            "USER:PASSWORD",
        ),
        (
            &["call", "sip:b@127.0.0.1", "--dtmf", "12x"][..],
            "not a DTMF digit",
        ),
        (
            &["call", "sip:b@127.0.0.1", "--bind", "here"][..],
            "IP:PORT",
        ),
        (
            &[
                "call",
                "sip:b@127.0.0.1",
                "--tone",
                "440",
                "--play",
                "a.wav",
            ][..],
            "cannot be used with",
        ),
        (&["register", "sip:127.0.0.1"][..], "--aor"),
    ] {
        let out = sipparty(args, &dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(expect),
            "{args:?} should mention {expect:?}:\n{err}"
        );
    }
    // A --play file that is not a WAV is refused before any call.
    std::fs::write(dir.join("not.wav"), b"hello").unwrap();
    let out = sipparty(&["call", "sip:b@127.0.0.1:9", "--play", "not.wav"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not.wav is not a usable WAV file"), "{err}");
}

#[test]
fn help_shows_examples() {
    for args in [&["--help"][..], &["call", "--help"], &["listen", "--help"]] {
        let out = sipparty(args, &scratch("help"));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && help.contains("Examples:"),
            "{args:?}:\n{help}"
        );
    }
}

#[test]
fn tls_call_to_listen_with_a_certificate_in_pem_files() {
    let dir = scratch("tls");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let listen = Listener::start(
        &[
            "--transport",
            "tls",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
            "--calls",
            "1",
        ],
        &dir,
    );
    // A name located by the Party over TLS: the certificate is checked
    // against the address it resolved to.
    let named = format!("sip:localhost:{}", listen.addr.port());
    let out = sipparty(
        &[
            "options",
            &named,
            "--transport",
            "tls",
            "--tls-trust",
            "cert.pem",
        ],
        &dir,
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains(" OPTIONS (TLS) "), "{all}");
    let target = format!("sip:bob@{}", listen.addr);
    // Without anything to trust, the call is refused up front.
    let out = sipparty(&["call", &target, "--transport", "tls"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--tls-trust"), "{}", text(&out));

    let out = sipparty(
        &[
            "call",
            &target,
            "--transport",
            "tls",
            "--tls-trust",
            "cert.pem",
            "--duration",
            "0.5",
        ],
        &dir,
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains(" INVITE (TLS) "), "{all}");
    assert!(
        counts(&all, "sipparty").is_some_and(|(s, r)| s > 0 && r > 0),
        "{all}"
    );
    let (code, heard) = listen.finish();
    assert_eq!(code, Some(0), "{heard}");
}

#[test]
fn play_sends_a_wav_file_resampled_and_listen_numbers_recordings() {
    let dir = scratch("play");
    // Two seconds of 1000 Hz at 16 kHz stereo: the party must downmix and
    // resample it to 8 kHz mono for G.711.
    let rate = 16_000u32;
    let samples: Vec<i16> = (0..rate * 2)
        .flat_map(|n| {
            let v = (f64::from(n) * 2.0 * std::f64::consts::PI * 1000.0 / f64::from(rate)).sin();
            let s = (v * 8000.0) as i16;
            [s, s]
        })
        .collect();
    let wav = Wav {
        sample_rate: rate,
        channels: 2,
        samples,
    };
    std::fs::write(dir.join("tone.wav"), wav.to_bytes()).unwrap();
    let mut listen = Listener::start(&["--calls", "2", "--record", "in.wav"], &dir);
    let target = format!("sip:bob@{}", listen.addr);
    for _ in 0..2 {
        let out = sipparty(
            &["call", &target, "--duration", "0.6", "--play", "tone.wav"],
            &dir,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    listen.wait_line("call 2: ended");
    let (code, heard) = listen.finish();
    assert_eq!(code, Some(0), "{heard}");
    for file in ["in.wav", "in-2.wav"] {
        let wav = Wav::parse(&std::fs::read(dir.join(file)).expect(file)).expect(file);
        let at = tone_fraction(&wav, 1000.0);
        assert!(at > 0.5, "{file}: {at} of the energy at 1000 Hz");
    }
}
