//! Running the `sipparty` binary as a peer.
//!
//! `env!("CARGO_BIN_EXE_sipparty")` only exists inside the `sipparty-cli`
//! package, so the binary is found this way:
//! 1. `SIPPARTY_BIN`, when set, is the path of the binary to test (CI or a
//!    release build: `SIPPARTY_BIN=target/release/sipparty`);
//! 2. otherwise the harness runs `cargo build -p sipparty-cli --bin sipparty`
//!    once per test process (a no-op when `cargo test --workspace` already
//!    built it) and uses `target/debug/sipparty` of this workspace
//!    (`CARGO_TARGET_DIR` is honoured).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::{Error, Result};
use crate::process::{LogFollower, PeerProcess};

/// The environment variable naming the binary under test.
pub const SIPPARTY_BIN_ENV: &str = "SIPPARTY_BIN";

/// The path of the `sipparty` binary (see the module docs).
///
/// # Errors
/// [`Error::PeerMissing`] when `SIPPARTY_BIN` points nowhere or the build
/// failed.
pub fn sipparty_bin() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(path) = std::env::var_os(SIPPARTY_BIN_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::PeerMissing {
                peer: "sipparty",
                hint: format!("{SIPPARTY_BIN_ENV}={} is not a file", path.display()),
            })
        };
    }
    BUILT
        .get_or_init(build_sipparty)
        .clone()
        .map_err(|hint| Error::PeerMissing {
            peer: "sipparty",
            hint,
        })
}

fn build_sipparty() -> Result<PathBuf, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .ok_or("no workspace dir")?;
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "sipparty-cli",
            "--bin",
            "sipparty",
        ])
        .current_dir(&workspace)
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}; set {SIPPARTY_BIN_ENV}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build -p sipparty-cli` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_relative() {
                workspace.join(t)
            } else {
                t
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    let bin = target.join("debug").join("sipparty");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "built, but {} is missing; set {SIPPARTY_BIN_ENV}",
            bin.display()
        ))
    }
}

/// Runs `sipparty ARGS` to completion with a timeout (killed past it).
///
/// # Errors
/// The binary is missing, or the run took longer than `timeout`.
pub fn run(args: &[&str], timeout: Duration) -> Result<Output> {
    let mut party = Sipparty::spawn(args)?;
    party.wait(timeout)
}

/// A running `sipparty` process (e.g. `sipparty listen`), its stdout and
/// stderr captured to files. Dropping it kills it.
#[derive(Debug)]
pub struct Sipparty {
    process: PeerProcess,
    stdout: LogFollower,
    dir: TempDir,
    lines: Vec<String>,
    cursor: usize,
}

impl Sipparty {
    /// Starts `sipparty ARGS` with `RUST_LOG` unset (so that only the CLI's
    /// own output is in stdout) and a temp dir as working dir.
    ///
    /// # Errors
    /// The binary is missing or cannot be started.
    pub fn spawn(args: &[&str]) -> Result<Self> {
        let bin = sipparty_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("sipparty-")
            .tempdir()
            .map_err(|e| Error::io("creating sipparty's temp dir", e))?;
        let mut command = Command::new(bin);
        command
            .args(args)
            .current_dir(dir.path())
            .env_remove("RUST_LOG");
        let log = dir.path().join("output.log");
        let name = format!("sipparty {}", args.join(" "));
        let process = PeerProcess::spawn(name, command, &log)?;
        Ok(Self {
            stdout: LogFollower::new(&log),
            process,
            dir,
            lines: Vec::new(),
            cursor: 0,
        })
    }

    /// The temp dir it runs in (for `--record FILE.wav` and the like).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything it printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.process.log()
    }

    /// Waits for the next printed line containing `needle`.
    ///
    /// # Errors
    /// A timeout or exit error with the output so far.
    pub fn wait_line(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            self.lines.extend(self.stdout.new_lines());
            if let Some(i) = self.lines[self.cursor..]
                .iter()
                .position(|l| l.contains(needle))
            {
                let index = self.cursor + i;
                self.cursor = index + 1;
                return Ok(self.lines[index].clone());
            }
            // Look at the output once more after an exit: the line may be
            // the last thing it printed.
            if self.process.exit_status().is_some() {
                self.lines.extend(self.stdout.new_lines());
                if self.lines[self.cursor..].iter().any(|l| l.contains(needle)) {
                    continue;
                }
                self.process.ensure_running()?;
            }
            if Instant::now() >= deadline {
                return Err(self
                    .process
                    .timeout(format!("a line containing {needle:?}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for it to exit by itself; kills it after `timeout`.
    ///
    /// # Errors
    /// A timeout error with its output.
    pub fn wait(&mut self, timeout: Duration) -> Result<Output> {
        let deadline = Instant::now() + timeout;
        while self.process.exit_status().is_none() {
            if Instant::now() >= deadline {
                let err = self.process.timeout(format!("exit within {timeout:?}"));
                self.process.kill();
                return Err(err);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Stdout and stderr share one file: both are in `stdout` here.
        let status = self.process.wait_status()?;
        Ok(Output {
            status,
            stdout: self.output().into_bytes(),
            stderr: Vec::new(),
        })
    }

    /// An error (with its output) if it has exited.
    ///
    /// # Errors
    /// [`Error::PeerExited`].
    pub fn ensure_running(&mut self) -> Result<()> {
        self.process.ensure_running()
    }

    /// Stops it with SIGTERM (what Ctrl-C would do, roughly), then kills.
    pub fn interrupt(&mut self, grace: Duration) -> bool {
        self.process.terminate(grace)
    }
}

/// Finds `sent=N` and `received=N` (or `recv=N`) in CLI output; the
/// assumed summary format is documented in tests/tests/interop_sipparty.rs.
pub fn packet_counts(output: &str) -> Option<(u64, u64)> {
    let find = |keys: &[&str]| {
        output
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .find_map(|token| {
                let (k, v) = token.split_once('=')?;
                keys.contains(&k).then(|| v.parse::<u64>().ok()).flatten()
            })
    };
    Some((
        find(&["sent", "rtp_sent", "tx"])?,
        find(&["received", "recv", "rtp_received", "rx"])?,
    ))
}
