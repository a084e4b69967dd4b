//! The REGISTER client (RFC 3261 section 10.2): bind, refresh before the
//! granted expiry, unregister, and 423 Interval Too Brief.

use std::time::{Duration, Instant};

use tracing::debug;

use super::event::{DialogError, Event, RegistrationId, RegistrationState};
use super::timer::TimerOwner;
use super::{config, Error, NextHop, Owner, Party, RegisterOptions, TxKind};
use crate::message::{Contact, HeaderName, Message, Method};
use crate::transaction::TransactionId;
use crate::transport::Transport;

/// One binding kept alive with a registrar.
#[derive(Debug)]
pub(crate) struct Registration {
    registrar: String,
    aor: String,
    contacts: Vec<String>,
    route: Option<String>,
    /// Where REGISTERs go; a name is located again for each refresh
    /// (through the DNS cache, so its TTL is honoured).
    hop: NextHop,
    transport: Transport,
    /// One Call-ID and From tag for all REGISTERs of a binding (section
    /// 10.2: the registrar orders them by CSeq).
    call_id: String,
    from_tag: String,
    pub(crate) cseq: u32,
    expires: u32,
    pub(crate) tx: Option<TransactionId>,
    pub(crate) timer: Option<Instant>,
    unregistering: bool,
    state: RegistrationState,
}

impl Party {
    pub(crate) fn start_registration(
        &mut self,
        now: Instant,
        registrar: &str,
        options: RegisterOptions,
    ) -> Result<RegistrationId, Error> {
        let registrar = config::normalize_uri(registrar)?;
        let (hop, route) =
            self.route_for(&registrar, options.proxy.as_deref(), options.destination)?;
        let transport = hop.transport();
        // Checked first: no address for the transport, no registration.
        let call_id = self.new_call_id(transport)?;
        let aor = match &options.aor {
            Some(a) => config::normalize_uri(a)?,
            None => self.config.aor.clone(),
        };
        let contacts = if options.contacts.is_empty() {
            vec![self.contact(transport)?.into_owned()]
        } else {
            options
                .contacts
                .iter()
                .map(|c| config::normalize_uri(c).map(|u| format!("<{u}>")))
                .collect::<Result<_, _>>()?
        };
        let id = RegistrationId(self.new_id());
        let reg = Registration {
            registrar,
            aor,
            contacts,
            route,
            hop,
            transport,
            call_id,
            from_tag: self.new_tag(),
            cseq: 0,
            expires: options.expires.unwrap_or(self.config.register_expires),
            tx: None,
            timer: None,
            unregistering: false,
            state: RegistrationState::Registering,
        };
        self.registrations.insert(id, reg);
        self.events.push_back(Event::Registration {
            id,
            state: RegistrationState::Registering,
        });
        if let Err(e) = self.send_register(now, id) {
            self.registrations.remove(&id);
            return Err(e);
        }
        Ok(id)
    }

    fn send_register(&mut self, now: Instant, id: RegistrationId) -> Result<(), Error> {
        let reg = self.registrations.get(&id).ok_or(Error::Unknown)?;
        let transport = reg.transport;
        let mut req = Message::request(Method::Register, &reg.registrar);
        self.push_via(&mut req, transport)?;
        let from = self.our_from();
        let reg = self.registrations.get_mut(&id).ok_or(Error::Unknown)?;
        reg.cseq += 1;
        let expires = if reg.unregistering { 0 } else { reg.expires };
        // From and To carry the AOR being registered (section 10.2).
        let from_value = if reg.aor == self.config.aor {
            from
        } else {
            format!("<{}>", reg.aor)
        };
        req.add_header(
            HeaderName::From,
            &format!("{from_value};tag={}", reg.from_tag),
        );
        req.add_header(HeaderName::To, &format!("<{}>", reg.aor));
        req.add_header(HeaderName::CallId, &reg.call_id);
        req.add_header(HeaderName::CSeq, &format!("{} REGISTER", reg.cseq));
        for c in &reg.contacts {
            req.add_header(HeaderName::Contact, c);
        }
        req.add_header(HeaderName::Expires, &expires.to_string());
        if let Some(r) = &reg.route {
            req.add_header(HeaderName::Route, r);
        }
        let hop = reg.hop.clone();
        self.common_request_headers(&mut req);
        // Refreshes reuse the registrar's nonce with the next nonce count
        // (RFC 3261 section 22.3), saving the 401 round trip.
        if let Some(creds) = self.config.credentials.clone() {
            use crate::auth::{AuthKind, DigestRequest};
            let uri = req.request_uri().unwrap_or("").to_string();
            for kind in [AuthKind::Www, AuthKind::Proxy] {
                let dr = DigestRequest {
                    method: "REGISTER",
                    uri: &uri,
                    body: b"",
                };
                for h in self.auth.preemptive(&creds, kind, &dr, &mut *self.rng) {
                    req.add_header(HeaderName::from_bytes(h.name().as_bytes()), &h.value);
                }
            }
        }
        let tx = self.send_routed(now, req, &hop, Owner::Registration(id), TxKind::Register)?;
        if let Some(reg) = self.registrations.get_mut(&id) {
            reg.tx = Some(tx);
        }
        Ok(())
    }

    pub(crate) fn on_register_response(
        &mut self,
        now: Instant,
        id: RegistrationId,
        _tx: TransactionId,
        response: Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        if status < 200 {
            return;
        }
        let Some(reg) = self.registrations.get_mut(&id) else {
            return;
        };
        reg.tx = None;
        match status {
            200..=299 if reg.unregistering => {
                self.registrations.remove(&id);
                self.events.push_back(Event::Registration {
                    id,
                    state: RegistrationState::Unregistered,
                });
            }
            200..=299 => {
                let granted = granted_expires(&response, &reg.contacts).unwrap_or(reg.expires);
                if granted == 0 {
                    // The registrar removed our binding.
                    self.registrations.remove(&id);
                    self.events.push_back(Event::Registration {
                        id,
                        state: RegistrationState::Unregistered,
                    });
                    return;
                }
                let expires = Duration::from_secs(u64::from(granted));
                // Refresh ahead of expiry: half way for short bindings, 30 s
                // early for long ones.
                let margin = (expires / 2).min(Duration::from_secs(30));
                let at = now + expires - margin;
                reg.timer = Some(at);
                reg.state = RegistrationState::Registered { expires };
                self.timers.push(at, TimerOwner::Registration(id));
                debug!(%id, granted, "registered");
                self.events.push_back(Event::Registration {
                    id,
                    state: RegistrationState::Registered { expires },
                });
            }
            423 => {
                // Section 10.2.8: ask again with at least Min-Expires.
                let min = response
                    .header(&HeaderName::MinExpires)
                    .and_then(|v| v.trim().parse::<u32>().ok());
                match min {
                    Some(m) if m > reg.expires => {
                        reg.expires = m;
                        if let Err(e) = self.send_register(now, id) {
                            debug!(%id, error = %e, "cannot resend REGISTER");
                            self.registration_failed(
                                id,
                                DialogError::Rejected {
                                    code: 423,
                                    reason: "Interval Too Brief".into(),
                                },
                            );
                        }
                    }
                    _ => self.registration_failed(
                        id,
                        DialogError::Rejected {
                            code: 423,
                            reason: "Interval Too Brief".into(),
                        },
                    ),
                }
            }
            401 | 407 => {
                let realm = response
                    .header(&HeaderName::WwwAuthenticate)
                    .or_else(|| response.header(&HeaderName::ProxyAuthenticate))
                    .and_then(|h| h.split("realm=\"").nth(1))
                    .and_then(|r| r.split('"').next())
                    .map(str::to_string);
                self.registration_failed(
                    id,
                    DialogError::AuthenticationFailed {
                        code: status,
                        realm,
                    },
                );
            }
            _ => {
                let reason = response.reason().unwrap_or("").to_string();
                self.registration_failed(
                    id,
                    DialogError::Rejected {
                        code: status,
                        reason,
                    },
                );
            }
        }
    }

    pub(crate) fn on_register_failure(
        &mut self,
        _now: Instant,
        id: RegistrationId,
        error: DialogError,
    ) {
        self.registration_failed(id, error);
    }

    fn registration_failed(&mut self, id: RegistrationId, error: DialogError) {
        if self.registrations.remove(&id).is_some() {
            debug!(%id, error = %error, "registration failed");
            self.events.push_back(Event::Registration {
                id,
                state: RegistrationState::Failed(error),
            });
        }
    }

    pub(crate) fn on_registration_timer(&mut self, now: Instant, id: RegistrationId) {
        if let Err(e) = self.send_register(now, id) {
            debug!(%id, error = %e, "cannot refresh registration");
            self.registration_failed(id, DialogError::TransportError);
        }
    }

    /// Remove the binding (Expires: 0).
    pub(crate) fn unregister(&mut self, now: Instant, id: RegistrationId) -> Result<(), Error> {
        let reg = self.registrations.get_mut(&id).ok_or(Error::Unknown)?;
        if reg.unregistering {
            return Ok(());
        }
        reg.unregistering = true;
        reg.timer = None;
        reg.state = RegistrationState::Unregistering;
        self.events.push_back(Event::Registration {
            id,
            state: RegistrationState::Unregistering,
        });
        self.send_register(now, id)
    }

    /// A digest retry replaced the REGISTER transaction.
    pub(crate) fn registration_retargeted(
        &mut self,
        id: RegistrationId,
        tx: TransactionId,
        cseq: u32,
    ) {
        if let Some(r) = self.registrations.get_mut(&id) {
            r.tx = Some(tx);
            r.cseq = cseq;
        }
    }

    pub(crate) fn registration_state(&self, id: RegistrationId) -> Option<&RegistrationState> {
        self.registrations.get(&id).map(|r| &r.state)
    }
}

/// The lifetime the registrar granted our binding: the `expires` parameter
/// of our Contact in the 2xx, else its Expires header (section 10.2.4).
fn granted_expires(response: &Message, ours: &[String]) -> Option<u32> {
    let mine: Vec<&str> = ours
        .iter()
        .map(|c| crate::dialog::strip_name_addr(c))
        .collect();
    for c in response.contacts().flatten() {
        if let Contact::Address(na) = c {
            if mine.iter().any(|m| uri_eq(m, na.uri().raw)) {
                if let Some(Some(e)) = na.params().get("expires") {
                    if let Ok(v) = e.trim().parse() {
                        return Some(v);
                    }
                }
            }
        }
    }
    response.expires().and_then(Result::ok)
}

/// Loose URI comparison for finding our Contact in a registrar's list:
/// case-insensitive, ignoring parameters the registrar may reorder.
fn uri_eq(a: &str, b: &str) -> bool {
    let base = |s: &str| s.split(';').next().unwrap_or(s).to_ascii_lowercase();
    base(a) == base(b)
}
