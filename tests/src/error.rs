//! The harness error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result alias for the harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a peer could not be started or driven.
///
/// `Debug` prints the same text as `Display`, so a test that returns
/// `harness::Result<()>` fails with a readable message (the standard test
/// runner prints the error with `{:?}`).
#[non_exhaustive]
pub enum Error {
    /// A peer's binary is not installed.
    PeerMissing {
        /// The binary's name (`baresip`, `kamailio`, `sipparty`).
        peer: &'static str,
        /// How to get it.
        hint: String,
    },
    /// An I/O error while preparing or talking to a peer.
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A peer exited while the harness still needed it.
    PeerExited {
        /// Which peer.
        peer: String,
        /// Its exit status.
        status: String,
        /// The end of its log.
        log_tail: String,
    },
    /// Something did not happen in time.
    Timeout {
        /// Which peer.
        peer: String,
        /// What the harness waited for.
        waited_for: String,
        /// The end of the peer's log.
        log_tail: String,
    },
    /// A peer answered a command with an error, or said something unexpected.
    Peer {
        /// Which peer.
        peer: String,
        /// What went wrong.
        message: String,
    },
    /// The test asked for something the harness cannot express.
    Config(String),
    /// No free loopback ports were found.
    NoFreePorts(String),
    /// The log file of a peer could not be read.
    Log(PathBuf, io::Error),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerMissing { peer, hint } => write!(f, "{peer} not found: {hint}"),
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::PeerExited {
                peer,
                status,
                log_tail,
            } => write!(
                f,
                "{peer} exited unexpectedly ({status}); end of its log:\n{log_tail}"
            ),
            Self::Timeout {
                peer,
                waited_for,
                log_tail,
            } => write!(
                f,
                "timed out waiting for {peer}: {waited_for}; end of its log:\n{log_tail}"
            ),
            Self::Peer { peer, message } => write!(f, "{peer}: {message}"),
            Self::Config(message) => write!(f, "bad harness configuration: {message}"),
            Self::NoFreePorts(what) => write!(f, "no free loopback ports for {what}"),
            Self::Log(path, e) => write!(f, "cannot read log {}: {e}", path.display()),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Log(_, e) => Some(e),
            _ => None,
        }
    }
}
