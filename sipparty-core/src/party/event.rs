//! What goes into a Party ([`Input`]) and what comes out of it ([`Output`],
//! [`Event`]), and the small value types the application sees.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::transport::locate::{Answer, LookupId};
use crate::transport::resolve::Query;
use crate::transport::{Transmit, Transport};

/// Something that happened outside the Party: bytes arrived or time passed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Input<'a> {
    /// A datagram arrived. `destination` is the local address it arrived on:
    /// the SIP socket, or one of the media addresses the Party asked the
    /// driver to open ([`Event::MediaSocketOpen`]). A driver that frames
    /// its stream connections itself (with
    /// [`StreamFramer`](crate::transport::stream::StreamFramer), which does
    /// not parse) feeds each whole message this way too, with the stream's
    /// transport: it is parsed once, here.
    Datagram {
        /// When it arrived.
        now: Instant,
        /// Over which transport (UDP for media).
        transport: Transport,
        /// Where it came from.
        source: SocketAddr,
        /// The local address it arrived on.
        destination: SocketAddr,
        /// The payload.
        bytes: &'a [u8],
    },
    /// Bytes arrived on a stream connection (TCP, TLS) from `source`. The
    /// Party frames them into messages itself (Content-Length, RFC 3261
    /// section 18.3) and keeps a partial message until the rest arrives.
    StreamData {
        /// When they arrived.
        now: Instant,
        /// TCP or TLS.
        transport: Transport,
        /// The remote end of the connection.
        source: SocketAddr,
        /// The local end of the connection.
        destination: SocketAddr,
        /// The bytes read.
        bytes: &'a [u8],
    },
    /// A stream connection (TCP, TLS) closed, by either end, normally or
    /// not: the Party forgets the connection's framing state (a partial
    /// message). A connection that failed is reported with
    /// [`Input::TransportError`] instead (which forgets it too).
    StreamClosed {
        /// When it closed.
        now: Instant,
        /// TCP or TLS.
        transport: Transport,
        /// The remote end of the connection.
        source: SocketAddr,
    },
    /// The driver could not send to `destination` (ICMP unreachable,
    /// connection refused or reset). Transactions towards it fail with
    /// "transport error" (RFC 3261 section 8.1.3.1: 503 semantics).
    TransportError {
        /// When it was noticed.
        now: Instant,
        /// Over which transport.
        transport: Transport,
        /// The unreachable peer.
        destination: SocketAddr,
    },
    /// The deadline last returned in [`Output::Timeout`] has passed (or
    /// any other wake-up: early calls are harmless).
    Timeout(Instant),
    /// The answer to an [`Event::ResolveRequest`]: the records with their
    /// TTLs, or that the lookup failed (RFC 3263 then moves on).
    Resolved {
        /// When the answer came.
        now: Instant,
        /// The request's id.
        id: LookupId,
        /// The records, or the failure.
        answer: Answer<'a>,
    },
}

impl Input<'_> {
    /// The time carried by this input.
    pub fn now(&self) -> Instant {
        match *self {
            Input::Datagram { now, .. }
            | Input::StreamData { now, .. }
            | Input::StreamClosed { now, .. }
            | Input::TransportError { now, .. }
            | Input::Resolved { now, .. }
            | Input::Timeout(now) => now,
        }
    }
}

/// What the driver must do next. Drain with `poll_output()` until it
/// returns [`Output::Timeout`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Send these SIP bytes.
    Transmit(Transmit),
    /// Send this media packet (RTP or RTCP) from the given local address
    /// (one the Party asked to open with [`Event::MediaSocketOpen`]).
    MediaTransmit(MediaTransmit),
    /// Something the application may want to know.
    Event(Event),
    /// Nothing more to do until this instant (or the next input). Call
    /// `handle_input(Input::Timeout(now))` when it passes. With nothing
    /// scheduled this is an hour after the last input.
    Timeout(Instant),
    /// Nothing to do and no time seen yet (before the first input or
    /// command): wait for input or a command.
    Idle,
}

/// An RTP or RTCP packet to send from a local media socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTransmit {
    /// The local address (socket) to send from.
    pub source: SocketAddr,
    /// Where to send.
    pub destination: SocketAddr,
    /// The packet.
    pub bytes: Vec<u8>,
}

/// Identifies a dialog (an INVITE session, early or confirmed) within one
/// Party. Opaque and cheap to copy; never reused by the same Party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId(pub(crate) u64);

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dialog#{}", self.0)
    }
}

/// Identifies a registration (one registrar and address of record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(pub(crate) u64);

impl fmt::Display for RegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registration#{}", self.0)
    }
}

/// Identifies a request sent outside any dialog (OPTIONS, MESSAGE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request#{}", self.0)
    }
}

/// The state of a dialog as the application sees it, named as in the
/// original library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DialogState {
    /// The INVITE is sent (or received) and no dialog exists yet.
    InitiatingDialog,
    /// A provisional response with a To tag created an early dialog
    /// (ringing, early media).
    Early,
    /// The call is established (2xx sent or received and ACKed).
    InDialog,
    /// A BYE or CANCEL is in progress.
    TerminatingDialog,
    /// The call ended normally.
    Terminated,
    /// The call failed or ended abnormally; see `last_error`.
    Error,
}

impl DialogState {
    /// Whether the dialog is over (`Terminated` or `Error`).
    pub fn is_final(self) -> bool {
        matches!(self, DialogState::Terminated | DialogState::Error)
    }
}

impl fmt::Display for DialogState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DialogState::InitiatingDialog => "initiating",
            DialogState::Early => "early",
            DialogState::InDialog => "in dialog",
            DialogState::TerminatingDialog => "terminating",
            DialogState::Terminated => "terminated",
            DialogState::Error => "error",
        })
    }
}

/// Why a dialog ended in [`DialogState::Error`], or why a request failed.
/// `Display` says it in words and in SIP terms ("486 Busy Here").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialogError {
    /// The peer answered with a final non-2xx response.
    Rejected {
        /// The status code (e.g. 486).
        code: u16,
        /// The reason phrase as received.
        reason: String,
    },
    /// No final response arrived in time (Timer B or F, RFC 3261 section
    /// 17.1: treated as 408 Request Timeout).
    Timeout,
    /// The request could not be delivered (RFC 3261 section 8.1.3.1:
    /// treated as 503 Service Unavailable).
    TransportError,
    /// The session descriptions could not be agreed on (488 Not
    /// Acceptable Here); the text says why.
    NotAcceptable(String),
    /// We sent a 2xx to an INVITE and the ACK never came (RFC 3261 section
    /// 13.3.1.4); the call was ended with a BYE.
    NoAck,
    /// The request was challenged again after we answered the challenge
    /// (wrong credentials), or no credentials match the realm.
    AuthenticationFailed {
        /// 401 or 407.
        code: u16,
        /// The realm that challenged us, when known.
        realm: Option<String>,
    },
    /// The session timer expired without a refresh (RFC 4028 section 10).
    SessionExpired,
    /// The remote party sent a malformed or inconsistent message.
    Protocol(String),
    /// The application did not decide on an incoming call in time.
    Unanswered,
    /// A reliable provisional response we sent was never acknowledged by
    /// a PRACK within 64*T1 (RFC 3262 section 3); the INVITE was rejected
    /// with 500.
    NoPrack,
    /// The next hop's name could not be located (RFC 3263: no NAPTR, SRV
    /// or address record led anywhere); the text names the host.
    Unresolvable(String),
}

impl fmt::Display for DialogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialogError::Rejected { code, reason } => write!(f, "{code} {reason}"),
            DialogError::Timeout => f.write_str("timeout (408 Request Timeout: no response)"),
            DialogError::TransportError => {
                f.write_str("transport error (503 Service Unavailable: could not send)")
            }
            DialogError::NotAcceptable(why) => write!(f, "488 Not Acceptable Here: {why}"),
            DialogError::NoAck => f.write_str("no ACK received for the 2xx (call ended with BYE)"),
            DialogError::AuthenticationFailed { code, realm } => {
                let what = if *code == 407 {
                    "407 Proxy Authentication Required"
                } else {
                    "401 Unauthorized"
                };
                match realm {
                    Some(r) => write!(f, "authentication failed: {what} (realm \"{r}\")"),
                    None => write!(f, "authentication failed: {what}"),
                }
            }
            DialogError::SessionExpired => {
                f.write_str("session timer expired (RFC 4028): call ended with BYE")
            }
            DialogError::Protocol(why) => write!(f, "protocol error: {why}"),
            DialogError::Unanswered => f.write_str("480 Temporarily Unavailable: not answered"),
            DialogError::NoPrack => {
                f.write_str("no PRACK for a reliable provisional response (RFC 3262): 500 sent")
            }
            DialogError::Unresolvable(why) => {
                write!(f, "cannot locate the server (RFC 3263): {why}")
            }
        }
    }
}

impl std::error::Error for DialogError {}

/// The state of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationState {
    /// A REGISTER is in flight.
    Registering,
    /// The registrar accepted the binding for this long (the granted
    /// expires); the Party refreshes it before then.
    Registered {
        /// Granted lifetime of the binding.
        expires: Duration,
    },
    /// An unregister (Expires: 0) is in flight.
    Unregistering,
    /// The binding is removed.
    Unregistered,
    /// The registration failed.
    Failed(DialogError),
}

/// Something the application may want to know.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A dialog changed state. Emitted for every transition, the first
    /// being `InitiatingDialog` (for outgoing calls, when `invite` returns).
    DialogStateChanged {
        /// Which dialog.
        id: DialogId,
        /// Its new state.
        state: DialogState,
    },
    /// A call arrived. Depending on the [`CallPolicy`](super::CallPolicy)
    /// the Party answers it itself, or waits for the application to call
    /// `party.incoming(id)` and `accept`/`reject`.
    IncomingCall {
        /// The new dialog.
        id: DialogId,
        /// The From header (caller), as received.
        from: String,
        /// The To header (callee), as received.
        to: String,
        /// Where the INVITE came from.
        source: SocketAddr,
        /// Whether the INVITE carried an SDP offer.
        has_offer: bool,
        /// Whether the application must decide (policy `AskApplication`).
        needs_decision: bool,
    },
    /// A provisional response arrived for an outgoing call (180, 183...).
    Progress {
        /// Which dialog.
        id: DialogId,
        /// The status code.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// An outgoing call's INVITE created an early dialog (a provisional
    /// response with a new To tag, RFC 3261 section 12.1.2). Reported for
    /// every early dialog: the first one is the call itself (`dialog ==
    /// call`); when a proxy forks the INVITE, each further callee that
    /// answers provisionally gets its own `dialog` id, whose states come
    /// as [`Event::DialogStateChanged`] (`Early`, then `Terminated` once
    /// the call is answered or fails). Whichever dialog answers with a 2xx
    /// becomes the call's (`call` turns `InDialog`); the other early
    /// dialogs end, and a later 2xx from them is ACKed and ended with BYE.
    EarlyDialog {
        /// The call (the id `Party::invite` returned).
        call: DialogId,
        /// The early dialog: `call` for the first, a new id for each fork.
        dialog: DialogId,
        /// The To tag of the callee that created it.
        remote_tag: String,
        /// The status of the provisional response that created it.
        code: u16,
    },
    /// The call's media now follows early dialog `dialog` (the call itself
    /// or a fork of it, see [`Event::EarlyDialog`]). A forked INVITE's
    /// offer may be answered in the 18x of several early dialogs, each its
    /// own offer/answer exchange (RFC 3261 section 13.2.2.4, RFC 3264);
    /// the media session plays the one that answered last (RFC 3960
    /// leaves the choice to the caller), reported here after its
    /// `MediaStarted`/`MediaUpdated`. The 2xx that wins fixes the session
    /// with the winner's answer.
    EarlyMedia {
        /// The call (the id `Party::invite` returned).
        call: DialogId,
        /// The early dialog whose answer the media follows.
        dialog: DialogId,
    },
    /// The driver must open a UDP socket bound to `rtp` (and `rtcp`, the
    /// next port) before the peer sends to it, and feed what arrives there
    /// through `Input::Datagram`.
    MediaSocketOpen {
        /// Which dialog the addresses belong to.
        dialog: DialogId,
        /// The local RTP address (even port).
        rtp: SocketAddr,
        /// The local RTCP address (RTP port + 1, RFC 3550 section 11).
        rtcp: SocketAddr,
    },
    /// The driver may close the sockets opened for this dialog.
    MediaSocketClose {
        /// Which dialog.
        dialog: DialogId,
        /// The local RTP address.
        rtp: SocketAddr,
        /// The local RTCP address.
        rtcp: SocketAddr,
    },
    /// Offer and answer agreed: media flows with these parameters.
    MediaStarted {
        /// Which dialog.
        dialog: DialogId,
        /// The agreed audio stream.
        stream: MediaInfo,
    },
    /// A re-INVITE or UPDATE changed the media (hold, resume, new address).
    MediaUpdated {
        /// Which dialog.
        dialog: DialogId,
        /// The new parameters.
        stream: MediaInfo,
    },
    /// Media stopped (call ended).
    MediaStopped {
        /// Which dialog.
        dialog: DialogId,
    },
    /// A registration changed state.
    Registration {
        /// Which registration.
        id: RegistrationId,
        /// Its new state.
        state: RegistrationState,
    },
    /// A MESSAGE request (RFC 3428) arrived, in or out of a dialog. The
    /// Party has answered it 200.
    MessageReceived {
        /// The dialog it arrived in, if any.
        dialog: Option<DialogId>,
        /// The From header as received.
        from: String,
        /// The Content-Type, if any.
        content_type: Option<String>,
        /// The body.
        body: Vec<u8>,
    },
    /// An INFO request (RFC 6086) arrived in a dialog; answered 200.
    InfoReceived {
        /// The dialog it arrived in.
        dialog: DialogId,
        /// The Content-Type, if any.
        content_type: Option<String>,
        /// The body.
        body: Vec<u8>,
    },
    /// A DTMF digit arrived (RFC 4733 telephone-event, or INFO
    /// application/dtmf-relay).
    Dtmf {
        /// The dialog it arrived in.
        dialog: DialogId,
        /// The digit: `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
        /// How long it lasted.
        duration: Duration,
    },
    /// The driver must look up `query` in the DNS and answer with
    /// [`Input::Resolved`] (RFC 3263: a request's next hop is a host
    /// name). A driver without DNS answers NAPTR and SRV with no records,
    /// and the Party falls back to A/AAAA. Unanswered lookups time out
    /// ([`PartyConfig::dns`](super::PartyConfig::dns)).
    ResolveRequest {
        /// Echo it in the answer.
        id: LookupId,
        /// The question.
        query: Query,
    },
    /// A request sent with `party.options()` or `party.message()` got its
    /// final response.
    RequestCompleted {
        /// Which request.
        id: RequestId,
        /// The final response, as the drivers hand it to the application.
        outcome: RequestCompleted,
    },
}

/// The final response to a request sent outside a dialog (OPTIONS,
/// MESSAGE): what [`Event::RequestCompleted`] carries, and what both
/// drivers return from their `options` and `message` calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCompleted {
    /// The final status code (408 on timeout, 503 on transport error).
    pub code: u16,
    /// The reason phrase.
    pub reason: String,
    /// The methods of the Allow header (OPTIONS responses).
    pub allow: Vec<String>,
    /// The option tags of the Supported header.
    pub supported: Vec<String>,
    /// The media types of the Accept header.
    pub accept: Vec<String>,
}

impl RequestCompleted {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// The negotiated audio stream of a dialog, as the driver and the media
/// code need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// The local RTP address (the socket the driver opened).
    pub local_rtp: SocketAddr,
    /// Where to send RTP, if the peer gave an address (None on hold with
    /// a zero address, or a rejected stream).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP.
    pub remote_rtcp: Option<SocketAddr>,
    /// The codec's encoding name (`PCMU`, `PCMA`...).
    pub codec: String,
    /// The codec's RTP payload type.
    pub payload_type: u8,
    /// The codec's clock rate in Hz.
    pub clock_rate: u32,
    /// The payload type of telephone-event (RFC 4733), if agreed.
    pub telephone_event_pt: Option<u8>,
    /// Packetization time in milliseconds.
    pub ptime: u32,
    /// Whether we may send.
    pub send: bool,
    /// Whether we should expect to receive.
    pub recv: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialog_errors_say_what_happened_in_sip_terms() {
        let busy = DialogError::Rejected {
            code: 486,
            reason: "Busy Here".into(),
        };
        assert_eq!(busy.to_string(), "486 Busy Here");
        assert!(DialogError::Timeout.to_string().contains("timeout"));
        assert!(DialogError::Timeout.to_string().contains("408"));
        assert!(DialogError::TransportError
            .to_string()
            .contains("transport error"));
        assert!(DialogError::NotAcceptable("no common codec".into())
            .to_string()
            .starts_with("488 Not Acceptable Here"));
    }
}
