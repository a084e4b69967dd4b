//! Session timers (RFC 4028): a call is refreshed by re-INVITE every half
//! interval by the refresher, and ended with BYE by either side when no
//! refresh arrives in time.

use std::time::{Duration, Instant};

use tracing::debug;

use super::call::Reinvite;
use super::event::DialogId;
use super::timer::CallTimer;
use super::Party;
use crate::message::{HeaderName, Message};

/// RFC 4028 section 4: the smallest interval allowed (Min-SE floor).
const MIN_SE: u64 = 90;

/// Session-Expires of a message: the interval and whether the refresher
/// is the UAC of that transaction (`refresher=uac`; absent counts as uac,
/// the UAS chooses when it answers and we always answer uac).
pub(crate) fn session_expires(msg: &Message) -> Option<(Duration, Option<bool>)> {
    let raw = msg.header(&HeaderName::SessionExpires)?;
    let mut parts = raw.split(';');
    let secs: u64 = parts.next()?.trim().parse().ok()?;
    let mut refresher = None;
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("refresher") {
                refresher = Some(v.trim().eq_ignore_ascii_case("uac"));
            }
        }
    }
    Some((Duration::from_secs(secs.max(MIN_SE)), refresher))
}

/// RFC 4028 section 8.1: a Session-Expires below our Min-SE (90 s) is
/// refused with 422 naming the minimum.
pub(crate) fn too_small(request: &Message) -> Option<Message> {
    let raw = request.header(&HeaderName::SessionExpires)?;
    let secs: u64 = raw.split(';').next()?.trim().parse().ok()?;
    if secs >= MIN_SE {
        return None;
    }
    let mut resp = Message::response_to(request, 422, None);
    resp.add_header(HeaderName::MinSe, &MIN_SE.to_string());
    Some(resp)
}

impl Party {
    /// Arm the session timer from the 2xx we received to our INVITE, or
    /// from the INVITE we answered (then `msg` is our 2xx).
    pub(crate) fn start_session_timer(
        &mut self,
        now: Instant,
        id: DialogId,
        msg: &Message,
        we_were_uac: bool,
    ) {
        self.refresh_session_timer(now, id, msg, we_were_uac);
    }

    /// A refresh (re-INVITE or UPDATE and its 2xx) passed: restart the
    /// timers (RFC 4028 section 10).
    pub(crate) fn refresh_session_timer(
        &mut self,
        now: Instant,
        id: DialogId,
        msg: &Message,
        we_were_uac: bool,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (interval, we_refresh) = match (session_expires(msg), call.session) {
            (Some((interval, refresher_is_uac)), _) => {
                let we_refresh = match refresher_is_uac {
                    Some(uac) => uac == we_were_uac,
                    None => call.uac,
                };
                (interval, we_refresh)
            }
            // A refresh without the header keeps the timer as it was.
            (None, Some(current)) => current,
            (None, None) => return,
        };
        call.session = Some((interval, we_refresh));
        if we_refresh {
            self.set_call_timer(id, CallTimer::SessionRefresh, now + interval / 2);
        } else {
            self.stop_call_timer(id, CallTimer::SessionRefresh);
        }
        // Section 10: BYE at expiry minus min(32 s, interval / 3).
        let guard = (interval / 3).min(Duration::from_secs(32));
        self.set_call_timer(id, CallTimer::SessionExpiry, now + interval - guard);
    }

    /// Our turn to refresh: a re-INVITE keeping the current direction.
    pub(crate) fn session_refresh(&mut self, now: Instant, id: DialogId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let what = if call.media.as_ref().is_some_and(|m| m.hold) {
            Reinvite::Hold
        } else {
            Reinvite::Resume
        };
        if call.media.is_none() {
            // Without media a refresh is an UPDATE without body (RFC 4028
            // section 9 allows either).
            if let Err(e) =
                self.send_in_dialog_simple(now, id, crate::message::Method::Update, None)
            {
                debug!(%id, error = %e, "session refresh failed");
            }
            return;
        }
        if let Err(e) = self.start_reinvite(now, id, what) {
            debug!(%id, error = %e, "session refresh failed");
        }
    }
}

/// Echo the peer's Session-Expires in our 2xx to its INVITE, naming the
/// UAC as refresher when it did not say (RFC 4028 section 9).
pub(crate) fn answer_session_expires(request: &Message, response: &mut Message) {
    if let Some((interval, refresher)) = session_expires(request) {
        let who = match refresher {
            Some(false) => "uas",
            _ => "uac",
        };
        response.add_header(
            HeaderName::SessionExpires,
            &format!("{};refresher={who}", interval.as_secs()),
        );
        let supports = request
            .tokens(&HeaderName::Supported)
            .any(|t| t.eq_ignore_ascii_case("timer"));
        if supports {
            response.add_header(HeaderName::Require, "timer");
        }
    }
}
