//! Child processes of the harness: found on PATH, logged to a file, killed
//! with their whole process group on drop.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

use crate::error::{Error, Result};

/// What to tell a test author when a peer is missing.
pub const INSTALL_HINT: &str =
    "run scripts/install-deps (installs baresip-core and kamailio from Debian's packages)";

/// Finds `name` on PATH, then in the sbin directories (kamailio lives in
/// /usr/sbin, which is not on every user's PATH).
///
/// # Errors
/// [`Error::PeerMissing`] naming the binary.
pub fn find_binary(name: &'static str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = [
        "/usr/sbin",
        "/sbin",
        "/usr/local/sbin",
        "/usr/bin",
        "/usr/local/bin",
    ];
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| Error::PeerMissing {
            peer: name,
            hint: INSTALL_HINT.to_owned(),
        })
}

/// A running peer process.
///
/// It runs in a process group of its own, with stdin closed and stdout and
/// stderr appended to one log file. Dropping it kills the whole group with
/// SIGKILL (Kamailio forks worker children; killing only the main process
/// would leave them behind) and reaps the main process, so a failing test
/// leaves no orphans.
#[derive(Debug)]
pub struct PeerProcess {
    name: String,
    child: Child,
    log_path: PathBuf,
    exited: Option<ExitStatus>,
}

impl PeerProcess {
    /// Spawns `command` with its output going to `log_path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the log cannot be created or the spawn fails.
    pub fn spawn(name: impl Into<String>, mut command: Command, log_path: &Path) -> Result<Self> {
        let name = name.into();
        let log = File::create(log_path)
            .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| Error::io("duplicating the log file handle", e))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0);
        let child = command
            .spawn()
            .map_err(|e| Error::io(format!("starting {name} ({command:?})"), e))?;
        Ok(Self {
            name,
            child,
            log_path: log_path.to_owned(),
            exited: None,
        })
    }

    /// The peer's name, as used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The OS process id of the main process.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Where its stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far (lossy UTF-8; empty if unreadable).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// The last `lines` lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// Returns `Some(status)` once the main process has exited.
    pub fn status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
            }
        }
        self.exited
    }

    /// The exit status as text, once the main process has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        self.status().map(|s| s.to_string())
    }

    /// Waits for the main process to exit.
    ///
    /// # Errors
    /// [`Error::Io`] if waiting fails.
    pub fn wait_status(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        let status = self
            .child
            .wait()
            .map_err(|e| Error::io(format!("waiting for {}", self.name), e))?;
        self.exited = Some(status);
        Ok(status)
    }

    /// An error if the main process has exited.
    ///
    /// # Errors
    /// [`Error::PeerExited`] with the end of the log.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.exit_status() {
            None => Ok(()),
            Some(status) => Err(Error::PeerExited {
                peer: self.name.clone(),
                status,
                log_tail: self.log_tail(40),
            }),
        }
    }

    /// Builds a timeout error naming this peer and what was awaited.
    pub fn timeout(&self, waited_for: impl Into<String>) -> Error {
        Error::Timeout {
            peer: self.name.clone(),
            waited_for: waited_for.into(),
            log_tail: self.log_tail(40),
        }
    }

    /// Asks the group to stop with SIGTERM, waits up to `grace`, then kills.
    /// Returns true if the main process exited by itself within `grace`.
    pub fn terminate(&mut self, grace: Duration) -> bool {
        if self.exit_status().is_some() {
            self.kill();
            return true;
        }
        self.signal(Signal::TERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                // Workers may still be shutting down; make sure they go.
                self.kill();
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    /// Kills the process group with SIGKILL and reaps the main process.
    pub fn kill(&mut self) {
        self.signal(Signal::KILL);
        if self.exited.is_none() {
            if let Ok(status) = self.child.wait() {
                self.exited = Some(status);
            }
        }
    }

    fn signal(&self, signal: Signal) {
        // The group id is the child's pid (`process_group(0)` at spawn). ESRCH
        // (the group is already gone) is the expected outcome after an exit.
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process_group(pid, signal);
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a file as lossy UTF-8; empty when it cannot be read.
pub(crate) fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Follows a growing log file, returning complete new lines.
#[derive(Debug)]
pub(crate) struct LogFollower {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl LogFollower {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            offset: 0,
            partial: String::new(),
        }
    }

    /// Complete lines appended since the last call.
    pub(crate) fn new_lines(&mut self) -> Vec<String> {
        let Ok(mut f) = File::open(&self.path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        let Ok(n) = f.read_to_end(&mut bytes) else {
            return Vec::new();
        };
        self.offset += n as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_owned).collect();
        // The last piece has no newline yet (or is empty): keep it for later.
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_peer_is_named_with_the_install_hint() {
        let err = find_binary("sipparty-test-no-such-peer").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("sipparty-test-no-such-peer not found: run scripts/install-deps"),
            "{text}"
        );
        // Debug is what `cargo test` prints for a returned error.
        assert_eq!(format!("{err:?}"), text);
    }

    #[test]
    fn dropping_a_peer_kills_its_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        // A parent that forks a child and waits, as Kamailio does.
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & echo $!; wait"]);
        let log = dir.path().join("log");
        let peer = PeerProcess::spawn("sh", command, &log).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let child_pid = loop {
            if let Ok(pid) = read_lossy(&log).trim().parse::<i32>() {
                break pid;
            }
            assert!(
                Instant::now() < deadline,
                "the shell did not start its child"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let alive = |pid: i32| Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid);
        assert!(alive(child_pid));
        drop(peer);
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(child_pid) {
            assert!(
                Instant::now() < deadline,
                "grandchild {child_pid} survived the drop"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn is_zombie(pid: i32) -> bool {
        // /proc/PID/stat: "pid (comm) S ..."; the state follows the last ')'.
        let stat = read_lossy(Path::new(&format!("/proc/{pid}/stat")));
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    }
}
