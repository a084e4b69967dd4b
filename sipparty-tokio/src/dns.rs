//! Answering the core's RFC 3263 questions
//! ([`Event::ResolveRequest`](sipparty_core::party::Event::ResolveRequest))
//! with a real resolver. The core decides what to ask, caches the answers
//! by TTL and fails over between targets; the driver only looks names up.
//!
//! [`SystemResolver`] asks hickory-resolver (configured from the system's
//! `resolv.conf`) for NAPTR, SRV and address records, and the system
//! resolver (`getaddrinfo` through [`tokio::net::lookup_host`]) for
//! addresses when hickory has none. [`StaticResolver`] answers from a
//! table, for tests and for fixed deployments: it never touches the
//! network.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use sipparty_core::transport::locate::{
    address_records, merge_address_answers, system_can_answer, DnsRecord, DnsTable, SYSTEM_TTL,
};
use sipparty_core::transport::resolve::{
    Query, Record, RecordType, Resolution, ResolveConfig, ResolveError, ResolveStep, Targets,
};
use sipparty_core::Random;
use tracing::trace;

/// How long [`StaticResolver`] records live unless told otherwise.
pub(crate) const STATIC_TTL: Duration = Duration::from_secs(300);

/// A boxed future of DNS records with their TTLs. `Ok(vec![])` means the
/// name or type does not exist; `Err` a failed lookup.
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<DnsRecord>>> + Send + 'a>>;

/// Something that answers DNS questions. Either way RFC 3263 moves on to
/// its next step; only "no records" is cached by the core.
pub trait DnsResolver: Send + Sync + fmt::Debug {
    /// The records answering `query` (of its type; others are ignored).
    fn lookup<'a>(&'a self, query: &'a Query) -> LookupFuture<'a>;
}

/// Run a [`Resolution`] of `uri` to the end with `resolver`, without the
/// Party (the Party does this itself through resolution requests; this is
/// for tools that want the target list).
pub async fn resolve(
    resolver: &dyn DnsResolver,
    uri: &str,
    config: &ResolveConfig,
    random: &mut dyn Random,
) -> Result<Targets, ResolveError> {
    let mut resolution = Resolution::new(uri, config)?;
    loop {
        match resolution.poll() {
            ResolveStep::Query(q) => {
                let records: Vec<Record> = match resolver.lookup(&q).await {
                    Ok(list) => list.into_iter().map(|r| r.record).collect(),
                    Err(e) => {
                        trace!(name = %q.name, error = %e, "lookup failed");
                        Vec::new()
                    }
                };
                trace!(name = %q.name, rtype = %q.rtype, answers = records.len(), "DNS answer");
                resolution.handle_answer(random, &records);
            }
            ResolveStep::Done(targets) => return Ok(targets),
            ResolveStep::Failed(e) => return Err(e),
            // A step this driver does not know: nothing more it can do.
            _ => return Err(ResolveError::NotFound(uri.to_string())),
        }
    }
}

/// The system's resolver: hickory-resolver for NAPTR and SRV (feature
/// `hickory`, when `resolv.conf` can be read), and `getaddrinfo` for A and
/// AAAA when hickory has no answer.
pub struct SystemResolver {
    #[cfg(feature = "hickory")]
    hickory: Option<hickory_resolver::TokioResolver>,
}

impl fmt::Debug for SystemResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SystemResolver");
        #[cfg(feature = "hickory")]
        d.field("hickory", &self.hickory.is_some());
        d.finish()
    }
}

impl SystemResolver {
    /// A resolver from the system configuration. Without a usable
    /// `resolv.conf` only A/AAAA lookups through `getaddrinfo` work.
    pub fn new() -> SystemResolver {
        SystemResolver {
            #[cfg(feature = "hickory")]
            hickory: match hickory_resolver::TokioResolver::builder_tokio() {
                Ok(mut b) => {
                    // SIP has its own retransmissions; a slow DNS server
                    // should not hold a call for the default 5 s x 2.
                    b.options_mut().timeout = std::time::Duration::from_secs(2);
                    b.options_mut().attempts = 1;
                    Some(b.build())
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no DNS configuration, only getaddrinfo lookups");
                    None
                }
            },
        }
    }

    #[cfg(feature = "hickory")]
    async fn hickory_lookup(&self, query: &Query) -> io::Result<Vec<DnsRecord>> {
        use hickory_resolver::proto::rr::{RData, RecordType as H};
        let Some(resolver) = &self.hickory else {
            return Err(io::Error::other("no DNS configuration"));
        };
        let rtype = match query.rtype {
            RecordType::Naptr => H::NAPTR,
            RecordType::Srv => H::SRV,
            RecordType::A => H::A,
            RecordType::Aaaa => H::AAAA,
            _ => return Ok(Vec::new()),
        };
        // Absolute names: no search list for service records.
        let name = format!("{}.", query.name.trim_end_matches('.'));
        let lookup = match resolver.lookup(name.as_str(), rtype).await {
            Ok(l) => l,
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
                trace!(name, "no records");
                return Ok(Vec::new());
            }
            Err(e) => {
                trace!(name, error = %e, "lookup failed");
                return Err(io::Error::other(e.to_string()));
            }
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(lookup
            .record_iter()
            .filter_map(|r| {
                let ttl = Duration::from_secs(u64::from(r.ttl()));
                let record = match r.data() {
                    RData::NAPTR(n) => Some(Record::Naptr(
                        sipparty_core::transport::resolve::NaptrRecord {
                            order: n.order(),
                            preference: n.preference(),
                            flags: text(n.flags()),
                            services: text(n.services()),
                            regexp: text(n.regexp()),
                            replacement: n.replacement().to_utf8(),
                        },
                    )),
                    RData::SRV(s) => Some(Record::srv(
                        s.priority(),
                        s.weight(),
                        s.port(),
                        &s.target().to_utf8(),
                    )),
                    RData::A(a) => Some(Record::A(a.0)),
                    RData::AAAA(a) => Some(Record::Aaaa(a.0)),
                    _ => None,
                }?;
                Some(DnsRecord::new(record, ttl))
            })
            .collect())
    }

    async fn system_lookup(query: &Query) -> io::Result<Vec<DnsRecord>> {
        match tokio::net::lookup_host((query.name.as_str(), 0)).await {
            Ok(addrs) => Ok(address_records(
                query.rtype,
                addrs.map(|a| a.ip()),
                SYSTEM_TTL,
            )),
            Err(e) => {
                trace!(name = %query.name, error = %e, "getaddrinfo failed");
                Err(e)
            }
        }
    }
}

impl Default for SystemResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl DnsResolver for SystemResolver {
    fn lookup<'a>(&'a self, query: &'a Query) -> LookupFuture<'a> {
        Box::pin(async move {
            #[cfg(feature = "hickory")]
            let dns = self.hickory_lookup(query).await;
            // Without DNS: no NAPTR/SRV records (as from getaddrinfo, RFC
            // 3263 falls back to A/AAAA), and addresses by getaddrinfo alone.
            #[cfg(not(feature = "hickory"))]
            let dns: io::Result<Vec<DnsRecord>> = match system_can_answer(query.rtype) {
                true => Err(io::Error::other("no DNS (feature hickory)")),
                false => Ok(Vec::new()),
            };
            if !system_can_answer(query.rtype) || dns.as_ref().is_ok_and(|r| !r.is_empty()) {
                return dns;
            }
            // Names in /etc/hosts (localhost...) are known to getaddrinfo
            // only; the core's rule says which answer stands (a name DNS
            // denies and getaddrinfo cannot find is "no records").
            merge_address_answers(dns, Self::system_lookup(query).await)
        })
    }
}

/// A resolver answering from a fixed table (the core's
/// [`DnsTable`], which the simulator's `SimDns` uses too), asked questions
/// recorded. For tests (never outside DNS) and for deployments with fixed
/// addresses.
#[derive(Debug, Default)]
pub struct StaticResolver {
    table: DnsTable,
    asked: Mutex<Vec<Query>>,
}

impl StaticResolver {
    /// An empty table: every question gets no records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `rtype` questions about `name` with `records`, each valid
    /// for five minutes ([`StaticResolver::with_ttl`] chooses).
    pub fn with(self, name: &str, rtype: RecordType, records: Vec<Record>) -> Self {
        self.with_ttl(name, rtype, records, STATIC_TTL)
    }

    /// Answer `rtype` questions about `name` with `records` valid for
    /// `ttl`.
    pub fn with_ttl(
        mut self,
        name: &str,
        rtype: RecordType,
        records: Vec<Record>,
        ttl: Duration,
    ) -> Self {
        self.table.insert(
            name,
            rtype,
            records.into_iter().map(|r| DnsRecord::new(r, ttl)),
        );
        self
    }

    /// Lookups of `name` fail (as on a server failure).
    pub fn failing(mut self, name: &str) -> Self {
        self.table.fail(name);
        self
    }

    /// The questions asked so far, in order.
    pub fn asked(&self) -> Vec<Query> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl DnsResolver for StaticResolver {
    fn lookup<'a>(&'a self, query: &'a Query) -> LookupFuture<'a> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(query.clone());
        }
        let answer = self
            .table
            .answer(query)
            .ok_or_else(|| io::Error::other("lookup failed (stub)"));
        Box::pin(std::future::ready(answer))
    }
}
