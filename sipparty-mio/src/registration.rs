//! Registration handles.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sipparty_core::party::{PartyKey, RegistrationId, RegistrationState};

use crate::endpoint::Endpoint;
use crate::Error;

#[derive(Debug)]
struct RegInner {
    state: RegistrationState,
    /// Bumped on every change, so a waiter sees transient states.
    history: Vec<RegistrationState>,
    stopped: bool,
}

/// The state of one registration shared between the event loop and the
/// handles.
#[derive(Debug)]
pub(crate) struct RegShared {
    inner: Mutex<RegInner>,
    changed: Condvar,
}

impl RegShared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(RegShared {
            inner: Mutex::new(RegInner {
                state: RegistrationState::Registering,
                history: vec![RegistrationState::Registering],
                stopped: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, RegInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set(&self, state: RegistrationState) {
        let mut i = self.lock();
        i.state = state.clone();
        // Refreshes repeat states for ever: keep the list short.
        if i.history.len() >= 16 {
            i.history.remove(0);
        }
        i.history.push(state);
        drop(i);
        self.changed.notify_all();
    }

    pub(crate) fn stopped(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// A handle on a registration (a binding at a registrar, refreshed by the
/// Party). `Clone + Send + Sync`.
#[derive(Debug, Clone)]
pub struct Registration {
    pub(crate) shared: Arc<RegShared>,
    pub(crate) endpoint: Endpoint,
    pub(crate) key: PartyKey,
    pub(crate) id: RegistrationId,
}

impl Registration {
    /// The registration's id within its Party.
    pub fn id(&self) -> RegistrationId {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> RegistrationState {
        self.shared.lock().state.clone()
    }

    /// Block until `predicate` holds for a state entered from now on (or
    /// the current one), and return that state; returns the current state
    /// if the endpoint stops first.
    pub fn wait_for_state_condition(
        &self,
        predicate: impl FnMut(&RegistrationState) -> bool,
    ) -> RegistrationState {
        self.wait(predicate, None).1
    }

    /// As [`Registration::wait_for_state_condition`], giving up after
    /// `timeout`. Returns whether the predicate held.
    pub fn wait_for_state_condition_timeout(
        &self,
        predicate: impl FnMut(&RegistrationState) -> bool,
        timeout: Duration,
    ) -> bool {
        self.wait(predicate, Some(Instant::now() + timeout)).0
    }

    fn wait(
        &self,
        mut pred: impl FnMut(&RegistrationState) -> bool,
        deadline: Option<Instant>,
    ) -> (bool, RegistrationState) {
        let mut i = self.shared.lock();
        let mut seen = i.history.len().saturating_sub(1);
        loop {
            if let Some(s) = i.history[seen.min(i.history.len())..]
                .iter()
                .find(|s| pred(s))
            {
                return (true, s.clone());
            }
            seen = i.history.len();
            if i.stopped {
                return (false, i.state.clone());
            }
            i = match deadline {
                None => self
                    .shared
                    .changed
                    .wait(i)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return (false, i.state.clone());
                    }
                    self.shared
                        .changed
                        .wait_timeout(i, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            // The history may have been trimmed while we slept.
            seen = seen.min(i.history.len().saturating_sub(1));
        }
    }

    /// Remove the binding (REGISTER with Expires: 0). Wait for
    /// `Unregistered` to see it done.
    pub fn unregister(&self) -> Result<(), Error> {
        let (key, id) = (self.key, self.id);
        self.endpoint.call(move |core, now| {
            let party = core
                .endpoint
                .party_mut(key)
                .ok_or(sipparty_core::party::Error::Unknown)?;
            match party.registration(id) {
                Some(r) => r.unregister(now),
                None => Err(sipparty_core::party::Error::Unknown),
            }
        })??;
        Ok(())
    }
}
