//! Locating SIP servers (RFC 3263) as a sans-IO state machine.
//!
//! Given a SIP URI, a [`Resolution`] decides which DNS questions to ask and
//! turns the answers into an ordered list of `(transport, address)`
//! [`Targets`] to try. It never touches the network: the driver asks each
//! [`Query`] of a real resolver (or a stub in tests) and hands the records
//! back with [`Resolution::handle_answer`].
//!
//! The sequence (RFC 3263 section 4):
//! - an IP literal (in `maddr` or the host) needs no lookup; the port is
//!   the URI's or the transport's default;
//! - a name with a port, or with an explicit `transport=`, skips NAPTR;
//!   with a port it goes straight to A/AAAA (section 4.2);
//! - otherwise NAPTR on the domain (section 4.1), keeping the SIP services
//!   we support, then SRV on the replacement; with no NAPTR records, SRV
//!   for `_sip._udp`, `_sip._tcp` and `_sips._tcp` in our order of
//!   preference; with no SRV records either, A/AAAA on the domain with the
//!   default port;
//! - SRV targets are ordered by priority, and by weighted random choice
//!   within a priority (RFC 2782), then each is looked up with A/AAAA.
//!
//! A request that fails with a transport error, a timeout or a 503 is sent
//! again to the next target (section 4.3): [`Targets::fail_over`].
//!
//! ```
//! use sipparty_core::transport::resolve::{
//!     Record, RecordType, ResolveConfig, ResolveStep, Resolution,
//! };
//! use sipparty_core::{SeededRandom, Transport};
//!
//! let mut rng = SeededRandom::new(1);
//! let mut r = Resolution::new("sip:bob@biloxi.example.com", &ResolveConfig::default()).unwrap();
//! let targets = loop {
//!     match r.poll() {
//!         ResolveStep::Query(q) => {
//!             // A real driver asks DNS here; this one knows a single SRV
//!             // record and one address.
//!             let answer = match (q.rtype, q.name.as_str()) {
//!                 (RecordType::Srv, "_sip._udp.biloxi.example.com") => {
//!                     vec![Record::srv(0, 0, 5062, "sip1.biloxi.example.com")]
//!                 }
//!                 (RecordType::A, "sip1.biloxi.example.com") => {
//!                     vec![Record::A("127.0.0.1".parse().unwrap())]
//!                 }
//!                 _ => vec![],
//!             };
//!             r.handle_answer(&mut rng, &answer);
//!         }
//!         ResolveStep::Done(targets) => break targets,
//!         ResolveStep::Failed(e) => panic!("{e}"),
//!         _ => unreachable!(),
//!     }
//! };
//! let first = targets.current().unwrap();
//! assert_eq!(first.transport, Transport::Udp);
//! assert_eq!(first.addr, "127.0.0.1:5062".parse().unwrap());
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tracing::{debug, trace};

use super::Transport;
use crate::message::{Scheme, Uri};
use crate::random::Random;

/// Most DNS questions one resolution asks (hostile zones cannot make it
/// loop or fan out without bound).
pub const MAX_QUERIES: usize = 32;

/// Most SRV records of one answer that are used.
pub const MAX_SRV_TARGETS: usize = 16;

/// The kind of DNS record a [`Query`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordType {
    /// Naming Authority Pointer (RFC 3403).
    Naptr,
    /// Service location (RFC 2782).
    Srv,
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::Naptr => "NAPTR",
            RecordType::Srv => "SRV",
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        })
    }
}

/// A DNS question the driver must answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// The owner name, without a trailing dot (`_sip._udp.example.com`).
    pub name: String,
    /// The record type.
    pub rtype: RecordType,
}

/// A NAPTR record (RFC 3403 section 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// Lower is tried first.
    pub order: u16,
    /// Among equal `order`, lower is tried first.
    pub preference: u16,
    /// `S` means the replacement is an SRV name (the only flag SIP uses).
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T` (RFC 3263 section 4.1).
    pub services: String,
    /// Unused by SIP (must be empty).
    pub regexp: String,
    /// The SRV name to look up next.
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among records of equal priority.
    pub weight: u16,
    /// The port of the service on `target`.
    pub port: u16,
    /// The host name (`.` means the service is decidedly not available).
    pub target: String,
}

/// A record of an answer, as the driver's resolver returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// A NAPTR record.
    Naptr(NaptrRecord),
    /// An SRV record.
    Srv(SrvRecord),
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
}

impl Record {
    /// An SRV record (shorthand for tests and stub resolvers).
    pub fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Record {
        Record::Srv(SrvRecord {
            priority,
            weight,
            port,
            target: target.to_string(),
        })
    }

    /// A NAPTR record with flag `S` and an empty regexp, as SIP uses them.
    pub fn naptr(order: u16, preference: u16, services: &str, replacement: &str) -> Record {
        Record::Naptr(NaptrRecord {
            order,
            preference,
            flags: "S".to_string(),
            services: services.to_string(),
            regexp: String::new(),
            replacement: replacement.to_string(),
        })
    }

    /// An A or AAAA record for `ip`.
    pub fn ip(ip: IpAddr) -> Record {
        match ip {
            IpAddr::V4(a) => Record::A(a),
            IpAddr::V6(a) => Record::Aaaa(a),
        }
    }
}

/// What the client supports and prefers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolveConfig {
    /// The transports the driver can use, most preferred first. SRV
    /// queries without NAPTR records go in this order (RFC 3263 section
    /// 4.1: "the client MAY use any transport protocol it desires which is
    /// supported by the server").
    pub transports: Vec<Transport>,
    /// Look up A records.
    pub ipv4: bool,
    /// Look up AAAA records.
    pub ipv6: bool,
    /// Put IPv6 addresses of a host before its IPv4 ones.
    pub prefer_ipv6: bool,
}

impl Default for ResolveConfig {
    fn default() -> Self {
        Self {
            transports: vec![Transport::Udp, Transport::Tcp, Transport::Tls],
            ipv4: true,
            ipv6: true,
            prefer_ipv6: false,
        }
    }
}

impl ResolveConfig {
    /// A configuration for these transports (most preferred first), both
    /// address families, IPv4 first.
    pub fn with_transports(transports: &[Transport]) -> Self {
        Self {
            transports: transports.to_vec(),
            ..Self::default()
        }
    }

    fn supports(&self, t: Transport) -> bool {
        self.transports.contains(&t)
    }
}

/// Why a resolution failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    /// The URI is not a SIP or SIPS URI with a host.
    InvalidUri(String),
    /// The URI asks for a transport the client does not support.
    UnsupportedTransport(String),
    /// DNS had no usable address for the host.
    NotFound(String),
    /// The answers led to more than [`MAX_QUERIES`] questions.
    TooManyQueries,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::InvalidUri(u) => write!(f, "cannot locate a server for {u:?}"),
            ResolveError::UnsupportedTransport(t) => write!(f, "unsupported transport {t:?}"),
            ResolveError::NotFound(h) => write!(f, "no address found for {h:?}"),
            ResolveError::TooManyQueries => {
                write!(f, "DNS resolution needed more than {MAX_QUERIES} queries")
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// One place to send a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The transport to use.
    pub transport: Transport,
    /// The address.
    pub addr: SocketAddr,
    /// The host name the address came from (the SRV target or the URI's
    /// host), for TLS server name checks; the IP text for literals.
    pub host: String,
}

/// Why a request to a target failed (RFC 3263 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The transport reported an error (connection refused, unreachable).
    TransportError,
    /// The transaction timed out (Timer B or F).
    Timeout,
    /// A final response with this status arrived.
    Response(u16),
}

impl Failure {
    /// Whether the request should go to the next target: a transport
    /// error, a timeout or a 503 (RFC 3263 section 4.3). Any other response
    /// came from a server that took the request and is final.
    pub fn warrants_failover(self) -> bool {
        matches!(
            self,
            Failure::TransportError | Failure::Timeout | Failure::Response(503)
        )
    }
}

/// The ordered targets of a finished resolution, with a cursor on the one
/// in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    list: Vec<Target>,
    next: usize,
}

impl Targets {
    /// Targets in this order, the first in use.
    pub fn new(list: Vec<Target>) -> Targets {
        Targets { list, next: 0 }
    }

    /// The target to send to now (None when all have failed).
    pub fn current(&self) -> Option<&Target> {
        self.list.get(self.next)
    }

    /// The request to [`Targets::current`] failed. Returns the target to
    /// try next, or None when the failure is final (any response but 503)
    /// or every target has been tried.
    pub fn fail_over(&mut self, failure: Failure) -> Option<&Target> {
        if !failure.warrants_failover() || self.next >= self.list.len() {
            return None;
        }
        self.next += 1;
        let next = self.list.get(self.next);
        if let Some(t) = next {
            debug!(transport = %t.transport, addr = %t.addr, ?failure, "failing over to next target");
        }
        next
    }

    /// All targets, in order.
    pub fn as_slice(&self) -> &[Target] {
        &self.list
    }

    /// How many targets.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// What a [`Resolution`] needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveStep {
    /// Ask DNS this and pass the records to [`Resolution::handle_answer`]
    /// (an empty slice for no records, NXDOMAIN or a failed lookup).
    Query(Query),
    /// Resolution finished: try these in order.
    Done(Targets),
    /// Resolution finished without any usable address.
    Failed(ResolveError),
}

/// A name to look up with A/AAAA, and what to do with its addresses.
#[derive(Debug, Clone)]
struct HostJob {
    host: String,
    port: u16,
    transport: Transport,
}

#[derive(Debug)]
enum Stage {
    /// Waiting for the NAPTR answer of the domain.
    Naptr,
    /// SRV lookups of the NAPTR replacements, in NAPTR order.
    NaptrSrv(VecDeque<(Transport, String)>),
    /// SRV lookups without NAPTR, in our order of preference.
    GuessSrv(VecDeque<Transport>),
    /// SRV lookup for a transport the URI named.
    ExplicitSrv(Transport),
    /// A/AAAA lookups of the hosts, in order.
    Hosts,
    /// Finished.
    Finished,
}

/// RFC 3263 server location for one URI. See the [module docs](self).
#[derive(Debug)]
pub struct Resolution {
    config: ResolveConfig,
    sips: bool,
    /// The name to resolve (maddr or host), without brackets.
    domain: String,
    stage: Stage,
    /// The question asked and not yet answered.
    pending: Option<Query>,
    /// Hosts still to look up, and the record types left for the first.
    hosts: VecDeque<HostJob>,
    host_rtypes: VecDeque<RecordType>,
    /// Answers already received, so a name is asked once.
    cache: HashMap<Query, Vec<Record>>,
    found: Vec<Target>,
    queries: usize,
    outcome: Option<ResolveStep>,
}

impl Resolution {
    /// Start locating the server for `uri` (`sip:bob@biloxi.com`,
    /// `sips:example.com;transport=tcp`, `sip:[::1]:5070`). A URI without
    /// scheme is read as `sip:`.
    pub fn new(uri: &str, config: &ResolveConfig) -> Result<Resolution, ResolveError> {
        let owned;
        let text = if has_scheme(uri) {
            uri
        } else {
            owned = format!("sip:{uri}");
            &owned
        };
        let invalid = || ResolveError::InvalidUri(uri.to_string());
        let parsed = Uri::parse(text).map_err(|_| invalid())?;
        let sips = match parsed.scheme {
            Scheme::Sip => false,
            Scheme::Sips => true,
            _ => return Err(invalid()),
        };
        let host = match parsed.maddr() {
            Some(m) => m.trim_start_matches('[').trim_end_matches(']'),
            None => parsed.host_unbracketed(),
        };
        if host.is_empty() {
            return Err(invalid());
        }
        // RFC 3263 section 4.1: an explicit transport parameter wins; a
        // SIPS URI is always TLS over a stream.
        let explicit = match parsed.transport_param() {
            Some(p) => {
                let t = Transport::from_token(p)
                    .ok_or_else(|| ResolveError::UnsupportedTransport(p.to_string()))?;
                let t = match (sips, t) {
                    (true, Transport::Udp) => return Err(invalid()),
                    (true, _) => Transport::Tls,
                    (false, t) => t,
                };
                Some(t)
            }
            None => None,
        };
        if let Some(t) = explicit {
            if !config.supports(t) {
                return Err(ResolveError::UnsupportedTransport(t.to_string()));
            }
        }
        let default_transport = if sips { Transport::Tls } else { Transport::Udp };
        let mut r = Resolution {
            config: config.clone(),
            sips,
            domain: host.to_string(),
            stage: Stage::Naptr,
            pending: None,
            hosts: VecDeque::new(),
            host_rtypes: VecDeque::new(),
            cache: HashMap::new(),
            found: Vec::new(),
            queries: 0,
            outcome: None,
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            // Section 4.1/4.2: numeric IP, no lookup at all.
            let transport = explicit.unwrap_or(default_transport);
            if !config.supports(transport) {
                return Err(ResolveError::UnsupportedTransport(transport.to_string()));
            }
            let port = parsed.port.unwrap_or_else(|| transport.default_port());
            r.stage = Stage::Finished;
            r.outcome = Some(ResolveStep::Done(Targets::new(vec![Target {
                transport,
                addr: SocketAddr::new(ip, port),
                host: host.to_string(),
            }])));
            return Ok(r);
        }
        if let Some(port) = parsed.port {
            // Section 4.2: a port means A/AAAA, no SRV.
            let transport = explicit.unwrap_or(default_transport);
            if !config.supports(transport) {
                return Err(ResolveError::UnsupportedTransport(transport.to_string()));
            }
            r.add_host(host.to_string(), port, transport);
            r.stage = Stage::Hosts;
        } else if let Some(t) = explicit {
            r.stage = Stage::ExplicitSrv(t);
        } else {
            r.stage = Stage::Naptr;
        }
        Ok(r)
    }

    /// What to do next. Returns the same [`Query`] until it is answered.
    pub fn poll(&mut self) -> ResolveStep {
        if let Some(outcome) = &self.outcome {
            return outcome.clone();
        }
        if let Some(q) = &self.pending {
            return ResolveStep::Query(q.clone());
        }
        loop {
            let Some(q) = self.next_question() else {
                // next_question always leaves an outcome when it has no
                // question.
                return self
                    .outcome
                    .clone()
                    .unwrap_or(ResolveStep::Failed(ResolveError::TooManyQueries));
            };
            if let Some(records) = self.cache.get(&q).cloned() {
                self.apply(&q, &records, None);
                continue;
            }
            if self.queries >= MAX_QUERIES {
                // Out of budget: what was found so far is still worth
                // trying.
                let found = std::mem::take(&mut self.found);
                if found.is_empty() {
                    self.finish(Err(ResolveError::TooManyQueries));
                } else {
                    self.finish(Ok(found));
                }
                continue;
            }
            self.queries += 1;
            trace!(name = %q.name, rtype = %q.rtype, "DNS query");
            self.pending = Some(q.clone());
            return ResolveStep::Query(q);
        }
    }

    /// The answer to the pending [`Query`]: its records (records of other
    /// types are ignored; an empty slice means none). `random` orders SRV
    /// records of equal priority by weight (RFC 2782).
    pub fn handle_answer(&mut self, random: &mut dyn Random, records: &[Record]) {
        let Some(q) = self.pending.take() else {
            debug!("DNS answer with no question pending, ignored");
            return;
        };
        self.cache.insert(q.clone(), records.to_vec());
        self.apply(&q, records, Some(random));
    }

    /// The question asked and not yet answered.
    pub fn pending(&self) -> Option<&Query> {
        self.pending.as_ref()
    }

    /// The next question of the current stage, or None with an outcome
    /// set.
    fn next_question(&mut self) -> Option<Query> {
        match &mut self.stage {
            Stage::Naptr => Some(Query {
                name: self.domain.clone(),
                rtype: RecordType::Naptr,
            }),
            Stage::NaptrSrv(list) => match list.front() {
                Some((_, name)) => Some(Query {
                    name: name.clone(),
                    rtype: RecordType::Srv,
                }),
                None => {
                    // No NAPTR record led anywhere: fall back to the
                    // domain itself (section 4.2).
                    self.fallback_to_domain(None);
                    self.next_question()
                }
            },
            Stage::GuessSrv(list) => match list.front() {
                Some(&t) => Some(Query {
                    name: srv_name(t, self.sips, &self.domain),
                    rtype: RecordType::Srv,
                }),
                None => {
                    self.fallback_to_domain(None);
                    self.next_question()
                }
            },
            Stage::ExplicitSrv(t) => Some(Query {
                name: srv_name(*t, self.sips, &self.domain),
                rtype: RecordType::Srv,
            }),
            Stage::Hosts => loop {
                let Some(job) = self.hosts.front() else {
                    let found = std::mem::take(&mut self.found);
                    if found.is_empty() {
                        self.finish(Err(ResolveError::NotFound(self.domain.clone())));
                    } else {
                        self.finish(Ok(found));
                    }
                    return None;
                };
                match self.host_rtypes.front() {
                    Some(&rtype) => {
                        return Some(Query {
                            name: job.host.clone(),
                            rtype,
                        })
                    }
                    None => {
                        self.hosts.pop_front();
                        self.reset_host_rtypes();
                    }
                }
            },
            Stage::Finished => None,
        }
    }

    /// Consume the records answering `q`.
    fn apply(&mut self, q: &Query, records: &[Record], random: Option<&mut dyn Random>) {
        match (&mut self.stage, q.rtype) {
            (Stage::Naptr, RecordType::Naptr) => self.on_naptr(records),
            (Stage::NaptrSrv(list), RecordType::Srv) => {
                let transport = list.front().map(|(t, _)| *t);
                list.pop_front();
                if let Some(t) = transport {
                    if self.on_srv(t, records, random) {
                        // Section 4.1: the first NAPTR record whose SRV
                        // lookup succeeds decides.
                        self.stage = Stage::Hosts;
                    }
                }
            }
            (Stage::GuessSrv(list), RecordType::Srv) => {
                let transport = list.pop_front();
                if let Some(t) = transport {
                    if self.on_srv(t, records, random) {
                        self.stage = Stage::Hosts;
                    }
                }
            }
            (Stage::ExplicitSrv(t), RecordType::Srv) => {
                let t = *t;
                if self.on_srv(t, records, random) {
                    self.stage = Stage::Hosts;
                } else {
                    self.fallback_to_domain(Some(t));
                }
            }
            (Stage::Hosts, RecordType::A | RecordType::Aaaa) => {
                self.host_rtypes.pop_front();
                let Some(job) = self.hosts.front().cloned() else {
                    return;
                };
                for rec in records {
                    let ip = match (rec, q.rtype) {
                        (Record::A(a), RecordType::A) => IpAddr::V4(*a),
                        (Record::Aaaa(a), RecordType::Aaaa) => IpAddr::V6(*a),
                        _ => continue,
                    };
                    let target = Target {
                        transport: job.transport,
                        addr: SocketAddr::new(ip, job.port),
                        host: job.host.clone(),
                    };
                    if !self
                        .found
                        .iter()
                        .any(|f| f.addr == target.addr && f.transport == target.transport)
                    {
                        self.found.push(target);
                    }
                }
            }
            _ => debug!(name = %q.name, rtype = %q.rtype, "answer does not fit the stage, ignored"),
        }
    }

    fn on_naptr(&mut self, records: &[Record]) {
        let mut usable: Vec<(&NaptrRecord, Transport)> = records
            .iter()
            .filter_map(|r| match r {
                Record::Naptr(n) => Some(n),
                _ => None,
            })
            .filter_map(|n| {
                // Only the "S" flag (SRV next) with no regexp is SIP's use
                // of NAPTR (RFC 3263 section 4.1).
                if !n.flags.eq_ignore_ascii_case("s") || !n.regexp.is_empty() {
                    return None;
                }
                let t = naptr_transport(&n.services)?;
                // A SIPS URI may only use SIPS+D2T.
                if self.sips && t != Transport::Tls {
                    return None;
                }
                self.config.supports(t).then_some((n, t))
            })
            .collect();
        usable.sort_by_key(|(n, _)| (n.order, n.preference));
        if usable.is_empty() {
            debug!(domain = %self.domain, "no usable NAPTR records, trying SRV");
            let list: VecDeque<Transport> = self
                .config
                .transports
                .iter()
                .copied()
                .filter(|t| !self.sips || *t == Transport::Tls)
                .collect();
            self.stage = Stage::GuessSrv(list);
        } else {
            let list = usable
                .into_iter()
                .map(|(n, t)| (t, n.replacement.trim_end_matches('.').to_string()))
                .collect();
            self.stage = Stage::NaptrSrv(list);
        }
    }

    /// Queue the SRV targets for A/AAAA lookups, in RFC 2782 order.
    /// Returns false when the answer has no usable record.
    fn on_srv(
        &mut self,
        transport: Transport,
        records: &[Record],
        random: Option<&mut dyn Random>,
    ) -> bool {
        let mut srvs: Vec<SrvRecord> = records
            .iter()
            .filter_map(|r| match r {
                Record::Srv(s) => Some(s.clone()),
                _ => None,
            })
            // RFC 2782: a target of "." means "not available here".
            .filter(|s| !s.target.is_empty() && s.target != ".")
            .take(MAX_SRV_TARGETS)
            .collect();
        if srvs.is_empty() {
            return false;
        }
        let ordered = match random {
            Some(rng) => order_srv(&mut srvs, rng),
            // A cached answer replayed without a generator keeps the
            // priority order, weights ignored.
            None => {
                srvs.sort_by_key(|s| s.priority);
                srvs
            }
        };
        for s in ordered {
            self.add_host(
                s.target.trim_end_matches('.').to_string(),
                s.port,
                transport,
            );
        }
        true
    }

    /// No SRV: A/AAAA on the domain with the default port (section 4.2).
    fn fallback_to_domain(&mut self, transport: Option<Transport>) {
        let default = if self.sips {
            Transport::Tls
        } else {
            Transport::Udp
        };
        let transport = transport
            .or_else(|| self.config.supports(default).then_some(default))
            .or_else(|| {
                self.config
                    .transports
                    .iter()
                    .copied()
                    .find(|t| !self.sips || *t == Transport::Tls)
            });
        match transport {
            Some(t) => {
                self.add_host(self.domain.clone(), t.default_port(), t);
                self.stage = Stage::Hosts;
            }
            None => self.finish(Err(ResolveError::UnsupportedTransport(default.to_string()))),
        }
    }

    fn add_host(&mut self, host: String, port: u16, transport: Transport) {
        if let Ok(ip) = host.parse::<IpAddr>() {
            // Some zones put addresses where names belong; take them as is.
            self.found.push(Target {
                transport,
                addr: SocketAddr::new(ip, port),
                host,
            });
            return;
        }
        let first = self.hosts.is_empty();
        self.hosts.push_back(HostJob {
            host,
            port,
            transport,
        });
        if first {
            self.reset_host_rtypes();
        }
    }

    fn reset_host_rtypes(&mut self) {
        self.host_rtypes.clear();
        if self.hosts.is_empty() {
            return;
        }
        let (v4, v6) = (self.config.ipv4, self.config.ipv6);
        let order = if self.config.prefer_ipv6 {
            [(v6, RecordType::Aaaa), (v4, RecordType::A)]
        } else {
            [(v4, RecordType::A), (v6, RecordType::Aaaa)]
        };
        self.host_rtypes
            .extend(order.iter().filter(|(on, _)| *on).map(|(_, t)| *t));
    }

    fn finish(&mut self, outcome: Result<Vec<Target>, ResolveError>) {
        self.stage = Stage::Finished;
        self.pending = None;
        self.outcome = Some(match outcome {
            Ok(list) => ResolveStep::Done(Targets::new(list)),
            Err(e) => ResolveStep::Failed(e),
        });
    }
}

fn has_scheme(uri: &str) -> bool {
    let lower = |n: usize| uri.get(..n).map(str::to_ascii_lowercase);
    lower(4).as_deref() == Some("sip:") || lower(5).as_deref() == Some("sips:")
}

/// The SRV owner name for a transport (RFC 3263 section 4.1).
fn srv_name(t: Transport, sips: bool, domain: &str) -> String {
    match (t, sips) {
        (Transport::Udp, _) => format!("_sip._udp.{domain}"),
        (Transport::Tls, _) | (_, true) => format!("_sips._tcp.{domain}"),
        _ => format!("_sip._tcp.{domain}"),
    }
}

/// The transport of a NAPTR service field (RFC 3263 section 4.1).
fn naptr_transport(services: &str) -> Option<Transport> {
    if services.eq_ignore_ascii_case("SIP+D2U") {
        Some(Transport::Udp)
    } else if services.eq_ignore_ascii_case("SIP+D2T") {
        Some(Transport::Tcp)
    } else if services.eq_ignore_ascii_case("SIPS+D2T") {
        Some(Transport::Tls)
    } else {
        None
    }
}

/// RFC 2782 ordering: by priority; within a priority repeatedly pick a
/// record at random with probability proportional to its weight, zero
/// weights placed first so they keep a small chance.
pub fn order_srv(records: &mut [SrvRecord], random: &mut dyn Random) -> Vec<SrvRecord> {
    records.sort_by_key(|s| (s.priority, s.weight != 0));
    let mut out = Vec::with_capacity(records.len());
    let mut start = 0;
    while start < records.len() {
        let priority = records[start].priority;
        let end = records[start..]
            .iter()
            .position(|s| s.priority != priority)
            .map_or(records.len(), |n| start + n);
        let mut group: Vec<SrvRecord> = records[start..end].to_vec();
        while !group.is_empty() {
            let sum: u64 = group.iter().map(|s| u64::from(s.weight)).sum();
            let pick = random.next_u64() % (sum + 1);
            let mut running = 0u64;
            let mut chosen = group.len() - 1;
            for (i, s) in group.iter().enumerate() {
                running += u64::from(s.weight);
                if running >= pick {
                    chosen = i;
                    break;
                }
            }
            out.push(group.remove(chosen));
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    /// A stub DNS: answers from a table, records every question.
    struct Stub {
        table: Vec<(Query, Vec<Record>)>,
        asked: Vec<Query>,
    }

    impl Stub {
        fn new() -> Self {
            Stub {
                table: Vec::new(),
                asked: Vec::new(),
            }
        }

        fn with(mut self, name: &str, rtype: RecordType, records: Vec<Record>) -> Self {
            self.table.push((
                Query {
                    name: name.to_string(),
                    rtype,
                },
                records,
            ));
            self
        }

        fn resolve(&mut self, uri: &str, config: &ResolveConfig, seed: u64) -> ResolveStep {
            let mut rng = SeededRandom::new(seed);
            let mut r = Resolution::new(uri, config).unwrap();
            loop {
                match r.poll() {
                    ResolveStep::Query(q) => {
                        let answer = self
                            .table
                            .iter()
                            .find(|(k, _)| *k == q)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        self.asked.push(q);
                        r.handle_answer(&mut rng, &answer);
                    }
                    other => return other,
                }
            }
        }

        fn targets(&mut self, uri: &str) -> Vec<(Transport, SocketAddr)> {
            match self.resolve(uri, &ResolveConfig::default(), 1) {
                ResolveStep::Done(t) => {
                    t.as_slice().iter().map(|t| (t.transport, t.addr)).collect()
                }
                other => panic!("resolution of {uri} did not finish: {other:?}"),
            }
        }
    }

    fn a(s: &str) -> Record {
        Record::ip(s.parse().unwrap())
    }

    fn q(name: &str, rtype: RecordType) -> Query {
        Query {
            name: name.to_string(),
            rtype,
        }
    }

    #[test]
    fn rfc3263_s4_numeric_ip_needs_no_lookup() {
        let cases: &[(&str, Transport, &str)] = &[
            ("sip:bob@127.0.0.1", Transport::Udp, "127.0.0.1:5060"),
            ("sip:bob@127.0.0.1:5070", Transport::Udp, "127.0.0.1:5070"),
            (
                "sip:bob@127.0.0.1;transport=tcp",
                Transport::Tcp,
                "127.0.0.1:5060",
            ),
            ("sips:bob@127.0.0.1", Transport::Tls, "127.0.0.1:5061"),
            ("sip:[::1]:5080", Transport::Udp, "[::1]:5080"),
            (
                "sip:bob@example.com;maddr=127.0.0.2",
                Transport::Udp,
                "127.0.0.2:5060",
            ),
            ("127.0.0.1:5090", Transport::Udp, "127.0.0.1:5090"),
        ];
        for (uri, transport, addr) in cases {
            let mut stub = Stub::new();
            let got = stub.targets(uri);
            assert_eq!(got, vec![(*transport, addr.parse().unwrap())], "{uri}");
            assert!(stub.asked.is_empty(), "{uri} asked {:?}", stub.asked);
        }
    }

    #[test]
    fn rfc3263_s4_2_name_with_port_skips_naptr_and_srv() {
        let mut stub = Stub::new()
            .with("sip.example.com", RecordType::A, vec![a("127.0.0.1")])
            .with("sip.example.com", RecordType::Aaaa, vec![a("::1")]);
        let got = stub.targets("sip:bob@sip.example.com:5070;transport=tcp");
        assert_eq!(
            got,
            vec![
                (Transport::Tcp, "127.0.0.1:5070".parse().unwrap()),
                (Transport::Tcp, "[::1]:5070".parse().unwrap())
            ]
        );
        assert_eq!(
            stub.asked,
            vec![
                q("sip.example.com", RecordType::A),
                q("sip.example.com", RecordType::Aaaa)
            ]
        );
    }

    #[test]
    fn rfc3263_s4_1_naptr_order_and_preference_pick_the_transport() {
        // TCP has the better order; the SIPS record is not supported by
        // this client; an unknown service is skipped.
        let mut stub = Stub::new()
            .with(
                "example.com",
                RecordType::Naptr,
                vec![
                    Record::naptr(20, 10, "SIP+D2U", "_sip._udp.example.com."),
                    Record::naptr(10, 20, "SIP+D2T", "_sip._tcp.example.com."),
                    Record::naptr(10, 10, "SIPS+D2T", "_sips._tcp.example.com."),
                    Record::naptr(5, 10, "E2U+sip", "whatever.example.com."),
                ],
            )
            .with(
                "_sip._tcp.example.com",
                RecordType::Srv,
                vec![Record::srv(0, 0, 5080, "tcp.example.com.")],
            )
            .with(
                "_sip._udp.example.com",
                RecordType::Srv,
                vec![Record::srv(0, 0, 5090, "udp.example.com")],
            )
            .with("tcp.example.com", RecordType::A, vec![a("127.0.0.3")]);
        let config = ResolveConfig::with_transports(&[Transport::Udp, Transport::Tcp]);
        let ResolveStep::Done(t) = stub.resolve("sip:bob@example.com", &config, 3) else {
            panic!("not resolved");
        };
        let got: Vec<_> = t.as_slice().iter().map(|t| (t.transport, t.addr)).collect();
        assert_eq!(
            got,
            vec![(Transport::Tcp, "127.0.0.3:5080".parse().unwrap())]
        );
        assert_eq!(t.current().unwrap().host, "tcp.example.com");
        assert_eq!(stub.asked[0], q("example.com", RecordType::Naptr));
        assert_eq!(stub.asked[1], q("_sip._tcp.example.com", RecordType::Srv));
        assert!(!stub
            .asked
            .contains(&q("_sip._udp.example.com", RecordType::Srv)));
    }

    #[test]
    fn rfc3263_s4_1_naptr_whose_srv_is_empty_falls_to_the_next() {
        let mut stub = Stub::new()
            .with(
                "example.com",
                RecordType::Naptr,
                vec![
                    Record::naptr(10, 10, "SIP+D2T", "_sip._tcp.example.com"),
                    Record::naptr(10, 20, "SIP+D2U", "_sip._udp.example.com"),
                ],
            )
            .with(
                "_sip._udp.example.com",
                RecordType::Srv,
                vec![Record::srv(0, 0, 5060, "udp.example.com")],
            )
            .with("udp.example.com", RecordType::A, vec![a("127.0.0.4")]);
        assert_eq!(
            stub.targets("sip:example.com"),
            vec![(Transport::Udp, "127.0.0.4:5060".parse().unwrap())]
        );
    }

    #[test]
    fn rfc3263_s4_1_sips_uri_only_uses_sips_d2t() {
        let mut stub = Stub::new()
            .with(
                "example.com",
                RecordType::Naptr,
                vec![
                    Record::naptr(1, 1, "SIP+D2U", "_sip._udp.example.com"),
                    Record::naptr(2, 1, "SIPS+D2T", "_sips._tcp.example.com"),
                ],
            )
            .with(
                "_sip._udp.example.com",
                RecordType::Srv,
                vec![Record::srv(0, 0, 5060, "udp.example.com")],
            )
            .with(
                "_sips._tcp.example.com",
                RecordType::Srv,
                vec![Record::srv(0, 0, 5061, "tls.example.com")],
            )
            .with("udp.example.com", RecordType::A, vec![a("127.0.0.5")])
            .with("tls.example.com", RecordType::A, vec![a("127.0.0.6")]);
        assert_eq!(
            stub.targets("sips:bob@example.com"),
            vec![(Transport::Tls, "127.0.0.6:5061".parse().unwrap())]
        );
    }

    #[test]
    fn rfc3263_s4_1_without_naptr_srv_in_client_preference() {
        // No NAPTR, no UDP SRV: the TCP SRV is found next.
        let mut stub = Stub::new()
            .with(
                "_sip._tcp.example.com",
                RecordType::Srv,
                vec![Record::srv(0, 0, 5062, "tcp.example.com")],
            )
            .with("tcp.example.com", RecordType::A, vec![a("127.0.0.7")]);
        assert_eq!(
            stub.targets("sip:bob@example.com"),
            vec![(Transport::Tcp, "127.0.0.7:5062".parse().unwrap())]
        );
        assert_eq!(
            &stub.asked[..3],
            &[
                q("example.com", RecordType::Naptr),
                q("_sip._udp.example.com", RecordType::Srv),
                q("_sip._tcp.example.com", RecordType::Srv),
            ]
        );
    }

    #[test]
    fn rfc3263_s4_2_no_srv_means_a_aaaa_with_default_port() {
        let mut stub = Stub::new()
            .with("example.com", RecordType::A, vec![a("127.0.0.8")])
            .with("example.com", RecordType::Aaaa, vec![a("::1")]);
        assert_eq!(
            stub.targets("sip:bob@example.com"),
            vec![
                (Transport::Udp, "127.0.0.8:5060".parse().unwrap()),
                (Transport::Udp, "[::1]:5060".parse().unwrap()),
            ]
        );
        // NAPTR, three SRV guesses, then A and AAAA.
        assert_eq!(stub.asked.len(), 6);
        assert_eq!(
            stub.asked[3],
            q("_sips._tcp.example.com", RecordType::Srv),
            "TLS is guessed last, as configured"
        );
    }

    #[test]
    fn rfc3263_s4_1_explicit_transport_does_srv_for_it_alone() {
        let mut stub = Stub::new()
            .with(
                "_sip._tcp.example.com",
                RecordType::Srv,
                vec![Record::srv(0, 0, 5070, "tcp.example.com")],
            )
            .with("tcp.example.com", RecordType::A, vec![a("127.0.0.9")]);
        assert_eq!(
            stub.targets("sip:bob@example.com;transport=tcp"),
            vec![(Transport::Tcp, "127.0.0.9:5070".parse().unwrap())]
        );
        assert_eq!(stub.asked[0], q("_sip._tcp.example.com", RecordType::Srv));
        // Without SRV, the default port of that transport.
        let mut stub = Stub::new().with("example.com", RecordType::A, vec![a("127.0.0.10")]);
        assert_eq!(
            stub.targets("sip:bob@example.com;transport=tcp"),
            vec![(Transport::Tcp, "127.0.0.10:5060".parse().unwrap())]
        );
    }

    #[test]
    fn rfc2782_priority_orders_before_weight() {
        let mut stub = Stub::new()
            .with(
                "_sip._udp.example.com",
                RecordType::Srv,
                vec![
                    Record::srv(20, 100, 5003, "c.example.com"),
                    Record::srv(10, 0, 5001, "a.example.com"),
                    Record::srv(30, 0, 5004, "."),
                    Record::srv(15, 1, 5002, "b.example.com"),
                ],
            )
            .with("a.example.com", RecordType::A, vec![a("127.0.1.1")])
            .with("b.example.com", RecordType::A, vec![a("127.0.1.2")])
            .with("c.example.com", RecordType::A, vec![a("127.0.1.3")]);
        let ports: Vec<u16> = stub
            .targets("sip:example.com")
            .iter()
            .map(|(_, a)| a.port())
            .collect();
        assert_eq!(ports, vec![5001, 5002, 5003]);
    }

    #[test]
    fn rfc2782_weights_share_the_first_pick() {
        // Weights 90/10/0 at one priority: over many seeds the first pick
        // follows the weights (a zero weight is rarely, but possibly,
        // first).
        let mut first = HashMap::new();
        let runs = 2000;
        for seed in 1..=runs {
            let mut rng = SeededRandom::new(seed);
            let mut recs = vec![
                SrvRecord {
                    priority: 1,
                    weight: 90,
                    port: 1,
                    target: "heavy".into(),
                },
                SrvRecord {
                    priority: 1,
                    weight: 10,
                    port: 2,
                    target: "light".into(),
                },
                SrvRecord {
                    priority: 1,
                    weight: 0,
                    port: 3,
                    target: "zero".into(),
                },
            ];
            let ordered = order_srv(&mut recs, &mut rng);
            assert_eq!(ordered.len(), 3, "every record is kept");
            *first.entry(ordered[0].port).or_insert(0u32) += 1;
        }
        let heavy = first.get(&1).copied().unwrap_or(0);
        let light = first.get(&2).copied().unwrap_or(0);
        let zero = first.get(&3).copied().unwrap_or(0);
        assert!((1650..=1950).contains(&heavy), "heavy first {heavy} times");
        assert!((100..=300).contains(&light), "light first {light} times");
        assert!(zero < 60, "zero weight first {zero} times");
    }

    #[test]
    fn rfc3263_s4_3_failover_on_transport_error_timeout_and_503_only() {
        let mut stub = Stub::new()
            .with(
                "_sip._udp.example.com",
                RecordType::Srv,
                vec![
                    Record::srv(1, 0, 5001, "a.example.com"),
                    Record::srv(2, 0, 5002, "b.example.com"),
                ],
            )
            .with("a.example.com", RecordType::A, vec![a("127.0.2.1")])
            .with(
                "b.example.com",
                RecordType::A,
                vec![a("127.0.2.2"), a("127.0.2.3")],
            );
        let ResolveStep::Done(mut t) =
            stub.resolve("sip:example.com", &ResolveConfig::default(), 9)
        else {
            panic!("not resolved");
        };
        assert_eq!(t.len(), 3);
        assert_eq!(t.current().unwrap().addr.port(), 5001);
        // A 486 is the server's answer: no failover, cursor unchanged.
        assert!(t.fail_over(Failure::Response(486)).is_none());
        assert_eq!(t.current().unwrap().addr, "127.0.2.1:5001".parse().unwrap());
        assert_eq!(
            t.fail_over(Failure::Response(503)).unwrap().addr,
            "127.0.2.2:5002".parse().unwrap()
        );
        assert_eq!(
            t.fail_over(Failure::TransportError).unwrap().addr,
            "127.0.2.3:5002".parse().unwrap()
        );
        assert!(t.fail_over(Failure::Timeout).is_none(), "list exhausted");
        assert!(t.current().is_none());
        assert!(t.fail_over(Failure::Timeout).is_none());
    }

    #[test]
    fn rfc3263_s4_2_address_families_follow_the_config() {
        let mut stub = Stub::new()
            .with("h.example.com", RecordType::A, vec![a("127.0.3.1")])
            .with("h.example.com", RecordType::Aaaa, vec![a("::1")]);
        let mut config = ResolveConfig {
            prefer_ipv6: true,
            ..ResolveConfig::default()
        };
        let ResolveStep::Done(t) = stub.resolve("sip:h.example.com:5000", &config, 1) else {
            panic!()
        };
        assert_eq!(t.as_slice()[0].addr, "[::1]:5000".parse().unwrap());
        config.ipv6 = false;
        let mut stub2 = Stub::new().with("h.example.com", RecordType::A, vec![a("127.0.3.1")]);
        let ResolveStep::Done(t) = stub2.resolve("sip:h.example.com:5000", &config, 1) else {
            panic!()
        };
        assert_eq!(t.len(), 1);
        assert!(!stub2.asked.iter().any(|q| q.rtype == RecordType::Aaaa));
    }

    #[test]
    fn rfc3263_nothing_found_fails_with_the_name() {
        let mut stub = Stub::new();
        let step = stub.resolve("sip:bob@nowhere.example", &ResolveConfig::default(), 1);
        assert_eq!(
            step,
            ResolveStep::Failed(ResolveError::NotFound("nowhere.example".into()))
        );
        assert!(step_text(&step).contains("nowhere.example"));
    }

    fn step_text(step: &ResolveStep) -> String {
        match step {
            ResolveStep::Failed(e) => e.to_string(),
            _ => String::new(),
        }
    }

    #[test]
    fn invalid_and_unsupported_uris_are_errors() {
        let config = ResolveConfig::with_transports(&[Transport::Udp]);
        assert!(matches!(
            Resolution::new("tel:+15551234", &config),
            Err(ResolveError::InvalidUri(_))
        ));
        assert!(matches!(
            Resolution::new("sip:bob@host;transport=sctp", &config),
            Err(ResolveError::UnsupportedTransport(_))
        ));
        assert!(matches!(
            Resolution::new("sip:bob@host;transport=tcp", &config),
            Err(ResolveError::UnsupportedTransport(_))
        ));
        assert!(matches!(
            Resolution::new("sips:bob@host;transport=udp", &config),
            Err(ResolveError::InvalidUri(_))
        ));
        assert!(Resolution::new("sip:", &config).is_err());
    }

    #[test]
    fn queries_are_bounded_and_repeated_names_asked_once() {
        // Sixteen SRV records all naming the same host: one A question.
        let srvs: Vec<Record> = (0..40)
            .map(|i| Record::srv(i, 0, 6000 + i, "same.example.com"))
            .collect();
        let mut stub = Stub::new()
            .with("_sip._udp.example.com", RecordType::Srv, srvs)
            .with("same.example.com", RecordType::A, vec![a("127.0.4.1")]);
        let got = stub.targets("sip:example.com");
        assert_eq!(got.len(), MAX_SRV_TARGETS);
        let a_questions = stub
            .asked
            .iter()
            .filter(|q| q.rtype == RecordType::A)
            .count();
        assert_eq!(a_questions, 1);
        // Distinct names beyond the budget end in TooManyQueries.
        let srvs: Vec<Record> = (0..16)
            .map(|i| Record::srv(i, 0, 6000 + i, &format!("h{i}.example.com")))
            .collect();
        let mut stub = Stub::new().with("_sip._udp.example.com", RecordType::Srv, srvs);
        let step = stub.resolve("sip:example.com", &ResolveConfig::default(), 1);
        assert_eq!(step, ResolveStep::Failed(ResolveError::TooManyQueries));
        assert!(stub.asked.len() <= MAX_QUERIES);
    }

    #[test]
    fn poll_repeats_the_pending_question_and_stray_answers_are_ignored() {
        let mut rng = SeededRandom::new(1);
        let mut r = Resolution::new("sip:example.com", &ResolveConfig::default()).unwrap();
        let first = r.poll();
        assert_eq!(first, r.poll());
        assert_eq!(
            first,
            ResolveStep::Query(q("example.com", RecordType::Naptr))
        );
        // An A record in a NAPTR answer is ignored; next comes SRV.
        r.handle_answer(&mut rng, &[a("127.0.0.1")]);
        assert_eq!(
            r.poll(),
            ResolveStep::Query(q("_sip._udp.example.com", RecordType::Srv))
        );
        let mut done = Resolution::new("sip:127.0.0.1", &ResolveConfig::default()).unwrap();
        done.handle_answer(&mut rng, &[a("127.0.0.2")]);
        let ResolveStep::Done(t) = done.poll() else {
            panic!()
        };
        assert_eq!(t.len(), 1);
    }
}
