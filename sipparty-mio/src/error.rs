//! The error type of the blocking API.

use std::fmt;
use std::io;

/// Why a command of the blocking API failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A socket could not be bound or configured.
    Io(io::Error),
    /// The core Party refused the command (bad URI, wrong dialog state...).
    Party(sipparty_core::party::Error),
    /// The endpoint's event-loop thread has stopped (it panicked or the
    /// process is shutting down); no command can reach it.
    Shutdown,
    /// A blocking command was called from the event-loop thread itself,
    /// where it could never be answered.
    WouldDeadlock,
    /// A blocking command gave up waiting.
    Timeout,
    /// The party is attached to an endpoint that has no socket for the
    /// transport the command needs.
    NoTransport(sipparty_core::Transport),
    /// The party already listens on another endpoint (a party lives on one
    /// endpoint for its whole life).
    AlreadyListening,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "socket error: {e}"),
            Error::Party(e) => e.fmt(f),
            Error::Shutdown => f.write_str("the endpoint's event loop has stopped"),
            Error::WouldDeadlock => {
                f.write_str("blocking command called from the event-loop thread")
            }
            Error::Timeout => f.write_str("timed out"),
            Error::NoTransport(t) => write!(f, "no {t} socket on this endpoint"),
            Error::AlreadyListening => f.write_str("the party already listens on another endpoint"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Party(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<sipparty_core::party::Error> for Error {
    fn from(e: sipparty_core::party::Error) -> Self {
        Error::Party(e)
    }
}
