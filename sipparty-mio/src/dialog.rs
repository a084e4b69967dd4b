//! Dialog handles: what an application thread holds to watch and command
//! one call. The event loop updates the shared state; any number of
//! threads may wait on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sipparty_core::party::{DialogError, DialogId, DialogState, MediaInfo, PartyKey};

use crate::endpoint::Endpoint;
use crate::Error;

/// How many state transitions a dialog remembers for waiters (a call has
/// fewer than ten; the cap only bounds a misbehaving peer).
const HISTORY: usize = 32;

/// Packet counters of a call's media sockets, kept by the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaStats {
    /// RTP and RTCP packets sent.
    pub packets_sent: u64,
    /// RTP and RTCP packets received.
    pub packets_received: u64,
    /// Bytes sent (UDP payload).
    pub bytes_sent: u64,
    /// Bytes received (UDP payload).
    pub bytes_received: u64,
}

#[derive(Debug)]
pub(crate) struct DialogInner {
    pub(crate) state: DialogState,
    /// Every state entered, oldest first (bounded by [`HISTORY`]).
    pub(crate) history: Vec<DialogState>,
    pub(crate) last_error: Option<DialogError>,
    pub(crate) media: Option<MediaInfo>,
    pub(crate) dtmf: Vec<char>,
    pub(crate) last_progress: Option<(u16, String)>,
    /// Threads blocked in a wait: the event loop skips the wake-up system
    /// call when there are none (most state changes nobody waits for).
    pub(crate) waiters: usize,
}

/// The state of one dialog shared between the event loop and the handles.
#[derive(Debug)]
pub(crate) struct DialogShared {
    pub(crate) inner: Mutex<DialogInner>,
    pub(crate) changed: Condvar,
    pub(crate) outgoing: bool,
    pub(crate) packets_sent: AtomicU64,
    pub(crate) packets_received: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
}

impl DialogShared {
    pub(crate) fn new(outgoing: bool) -> Arc<Self> {
        Arc::new(DialogShared {
            inner: Mutex::new(DialogInner {
                state: DialogState::InitiatingDialog,
                history: vec![DialogState::InitiatingDialog],
                last_error: None,
                media: None,
                dtmf: Vec::new(),
                last_progress: None,
                waiters: 0,
            }),
            changed: Condvar::new(),
            outgoing,
            packets_sent: AtomicU64::new(0),
            packets_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, DialogInner> {
        // A waiter's predicate that panicked poisons nothing we rely on:
        // the data is plain values, always left consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a new state (and the reason, for `Error`) and wake waiters.
    pub(crate) fn set_state(&self, state: DialogState, error: Option<DialogError>) {
        let mut inner = self.lock();
        if error.is_some() {
            inner.last_error = error;
        }
        if inner.state != state || state == DialogState::InitiatingDialog {
            inner.state = state;
            if inner.history.len() < HISTORY || state.is_final() {
                inner.history.push(state);
            }
        }
        let wake = inner.waiters > 0;
        drop(inner);
        if wake {
            self.changed.notify_all();
        }
    }

    /// Change something other than the state and wake waiters.
    pub(crate) fn update(&self, f: impl FnOnce(&mut DialogInner)) {
        let mut inner = self.lock();
        f(&mut inner);
        let wake = inner.waiters > 0;
        drop(inner);
        if wake {
            self.changed.notify_all();
        }
    }

    pub(crate) fn count_sent(&self, bytes: usize) {
        self.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_received(&self, bytes: usize) {
        self.packets_received.fetch_add(1, Ordering::Relaxed);
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Wait until `pred` holds for a state the dialog is in or passed
    /// through since the call, or the dialog ended, or `deadline`.
    fn wait(
        &self,
        mut pred: impl FnMut(DialogState) -> bool,
        deadline: Option<Instant>,
    ) -> (bool, DialogState) {
        let mut inner = self.lock();
        // Start at the current state: earlier ones are history.
        let mut seen = inner.history.len().saturating_sub(1);
        loop {
            for &s in &inner.history[seen..] {
                if pred(s) {
                    return (true, s);
                }
            }
            seen = inner.history.len();
            if inner.state.is_final() {
                return (false, inner.state);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return (false, inner.state);
            }
            inner.waiters += 1;
            inner = match left {
                None => self.changed.wait(inner).unwrap_or_else(|p| p.into_inner()),
                Some(left) => {
                    self.changed
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            inner.waiters -= 1;
        }
    }
}

/// A handle on one call (an INVITE dialog), outgoing or incoming.
///
/// Cheap to clone, `Send + Sync`: any thread may watch or command the call.
/// The state is updated by the endpoint's event loop as messages arrive.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub(crate) shared: Arc<DialogShared>,
    pub(crate) endpoint: Endpoint,
    pub(crate) key: PartyKey,
    pub(crate) id: DialogId,
}

impl Dialog {
    /// The dialog's id within its Party.
    pub fn id(&self) -> DialogId {
        self.id
    }

    /// Whether we placed this call.
    pub fn is_outgoing(&self) -> bool {
        self.shared.outgoing
    }

    /// The current state.
    pub fn state(&self) -> DialogState {
        self.shared.lock().state
    }

    /// Block until `predicate` holds for the dialog's state, and return that
    /// state.
    ///
    /// The predicate sees every state the dialog enters from now on, even
    /// one it leaves again before this thread wakes up. If the dialog ends
    /// (`Terminated` or `Error`) without the predicate holding, the final
    /// state is returned: it can never change again.
    pub fn wait_for_state_condition(
        &self,
        predicate: impl FnMut(DialogState) -> bool,
    ) -> DialogState {
        self.shared.wait(predicate, None).1
    }

    /// As [`Dialog::wait_for_state_condition`], giving up after `timeout`.
    /// Returns whether the predicate held.
    pub fn wait_for_state_condition_timeout(
        &self,
        predicate: impl FnMut(DialogState) -> bool,
        timeout: Duration,
    ) -> bool {
        self.shared
            .wait(predicate, Some(Instant::now() + timeout))
            .0
    }

    /// Why the call failed (set with the `Error` state), if it did.
    pub fn last_error(&self) -> Option<DialogError> {
        self.shared.lock().last_error.clone()
    }

    /// The last provisional response of an outgoing call (180 Ringing...).
    pub fn last_progress(&self) -> Option<(u16, String)> {
        self.shared.lock().last_progress.clone()
    }

    /// The negotiated audio stream, once offer and answer agreed.
    pub fn media(&self) -> Option<MediaInfo> {
        self.shared.lock().media.clone()
    }

    /// DTMF digits received so far.
    pub fn dtmf_received(&self) -> Vec<char> {
        self.shared.lock().dtmf.clone()
    }

    /// Packets sent and received on the call's media sockets.
    pub fn media_stats(&self) -> MediaStats {
        MediaStats {
            packets_sent: self.shared.packets_sent.load(Ordering::Relaxed),
            packets_received: self.shared.packets_received.load(Ordering::Relaxed),
            bytes_sent: self.shared.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.shared.bytes_received.load(Ordering::Relaxed),
        }
    }

    /// End the call: CANCEL before an answer, BYE after, or decline an
    /// incoming call not yet answered. Returns once the request is sent;
    /// wait for `Terminated` to see it complete.
    pub fn terminate(&self) -> Result<(), Error> {
        self.command("terminate", |d, now| d.terminate(now))
    }

    /// Put the call on hold (re-INVITE with a sendonly offer).
    pub fn hold(&self) -> Result<(), Error> {
        self.command("hold", |d, now| d.hold(now))
    }

    /// Take the call off hold.
    pub fn resume(&self) -> Result<(), Error> {
        self.command("resume", |d, now| d.resume(now))
    }

    /// Send DTMF digits (`0-9*#A-D`).
    pub fn send_dtmf(&self, digits: &str) -> Result<(), Error> {
        let digits = digits.to_string();
        self.command("send DTMF on", move |d, now| d.send_dtmf(now, &digits))
    }

    /// Send an INFO request (RFC 6086) in the dialog.
    pub fn send_info(&self, content_type: &str, body: &[u8]) -> Result<(), Error> {
        let (ct, body) = (content_type.to_string(), body.to_vec());
        self.command("send INFO on", move |d, now| d.send_info(now, &ct, &body))
    }

    /// Send a MESSAGE (RFC 3428) in the dialog.
    pub fn send_message(&self, content_type: &str, body: &[u8]) -> Result<(), Error> {
        let (ct, body) = (content_type.to_string(), body.to_vec());
        self.command("send MESSAGE on", move |d, now| {
            d.send_message(now, &ct, &body)
        })
    }

    /// Run `f` on the call's media session in the event loop (once media
    /// started): set its source (tone, WAV file) or sink (recorder), send
    /// RFC 4733 DTMF, read RTP statistics. `Ok(None)` if the call has no
    /// running media session (not started yet, ended, or no media).
    ///
    /// ```no_run
    /// # fn f(dialog: &sipparty_mio::Dialog) -> Result<(), sipparty_mio::Error> {
    /// let jitter = dialog.with_media(|m| m.stats())?;
    /// # Ok(()) }
    /// ```
    pub fn with_media<R, F>(&self, f: F) -> Result<Option<R>, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut sipparty_core::media::MediaSession) -> R + Send + 'static,
    {
        let (key, id) = (self.key, self.id);
        self.endpoint.call(move |core, _| {
            let party = core.endpoint.party_mut(key)?;
            let mut d = party.dialog(id)?;
            d.media().map(f)
        })
    }

    /// Run `f` on the live core dialog in the event loop and wait for its
    /// answer. A dialog the core has forgotten (it ended) is reported in
    /// the core's words: "cannot terminate a dialog that is terminated".
    fn command<F>(&self, action: &'static str, f: F) -> Result<(), Error>
    where
        F: FnOnce(sipparty_core::party::DialogHandle<'_>, Instant) -> Result<(), CoreError>
            + Send
            + 'static,
    {
        let (key, id) = (self.key, self.id);
        let shared = self.shared.clone();
        self.endpoint.call(move |core, now| {
            let party = core.endpoint.party_mut(key).ok_or(CoreError::Unknown)?;
            match party.dialog(id) {
                Some(d) => f(d, now),
                None => Err(CoreError::InvalidState {
                    state: shared.lock().state,
                    action,
                }),
            }
        })??;
        Ok(())
    }
}

type CoreError = sipparty_core::party::Error;
