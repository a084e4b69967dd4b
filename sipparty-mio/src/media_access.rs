//! Access to a call's RTP stream from application threads: set what it
//! plays and where received audio goes, read its statistics. (Added for the
//! command line's `--tone`, `--play` and `--record`.)

use sipparty_core::media::MediaSession;

use crate::{Dialog, Error};

impl Dialog {
    /// Run `f` on the call's RTP stream inside the event loop and return
    /// its result; `Ok(None)` while the call has no stream (not negotiated
    /// yet, ended, or a codec the Party does not run itself).
    ///
    /// `f` runs on the event-loop thread: keep it short and never block
    /// in it.
    pub fn with_media<R, F>(&self, f: F) -> Result<Option<R>, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut MediaSession) -> R + Send + 'static,
    {
        let (key, id) = (self.key, self.id);
        self.endpoint.call(move |core, _now| {
            let mut dialog = core.endpoint.party_mut(key)?.dialog(id)?;
            dialog.media().map(f)
        })
    }
}
