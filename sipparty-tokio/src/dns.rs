//! Answering the core's RFC 3263 questions
//! ([`sipparty_core::transport::resolve`]) with a real resolver.
//!
//! [`SystemResolver`] asks hickory-resolver (configured from the system's
//! `resolv.conf`) for NAPTR and SRV records and the system resolver
//! (`getaddrinfo` through [`tokio::net::lookup_host`]) for addresses when
//! hickory has none. [`StaticResolver`] answers from a table, for tests and
//! for fixed deployments: it never touches the network.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Mutex;

use sipparty_core::transport::resolve::{
    Query, Record, RecordType, Resolution, ResolveConfig, ResolveError, ResolveStep, Targets,
};
use sipparty_core::Random;
use tracing::{debug, trace};

/// A boxed future of DNS records.
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = Vec<Record>> + Send + 'a>>;

/// Something that answers DNS questions. A failed lookup answers no
/// records: RFC 3263 moves on to the next step either way.
pub trait DnsResolver: Send + Sync + fmt::Debug {
    /// The records answering `query` (of its type; others are ignored).
    fn lookup<'a>(&'a self, query: &'a Query) -> LookupFuture<'a>;
}

/// Run a [`Resolution`] of `uri` to the end with `resolver`.
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
                let records = resolver.lookup(&q).await;
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
                    debug!(error = %e, "no DNS configuration, only getaddrinfo lookups");
                    None
                }
            },
        }
    }

    #[cfg(feature = "hickory")]
    async fn hickory_lookup(&self, query: &Query) -> Vec<Record> {
        use hickory_resolver::proto::rr::{RData, RecordType as H};
        let Some(resolver) = &self.hickory else {
            return Vec::new();
        };
        let rtype = match query.rtype {
            RecordType::Naptr => H::NAPTR,
            RecordType::Srv => H::SRV,
            RecordType::A => H::A,
            RecordType::Aaaa => H::AAAA,
            _ => return Vec::new(),
        };
        // Absolute names: no search list for service records.
        let name = format!("{}.", query.name.trim_end_matches('.'));
        let lookup = match resolver.lookup(name.as_str(), rtype).await {
            Ok(l) => l,
            Err(e) => {
                trace!(name, error = %e, "lookup failed");
                return Vec::new();
            }
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        lookup
            .iter()
            .filter_map(|rdata| match rdata {
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
            })
            .collect()
    }

    async fn system_lookup(query: &Query) -> Vec<Record> {
        let want_v4 = query.rtype == RecordType::A;
        match tokio::net::lookup_host((query.name.as_str(), 0)).await {
            Ok(addrs) => {
                let mut out: Vec<Record> = Vec::new();
                for a in addrs {
                    let r = match a.ip() {
                        IpAddr::V4(v4) if want_v4 => Record::A(v4),
                        IpAddr::V6(v6) if !want_v4 => Record::Aaaa(v6),
                        _ => continue,
                    };
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
                out
            }
            Err(e) => {
                trace!(name = %query.name, error = %e, "getaddrinfo failed");
                Vec::new()
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
            {
                let records = self.hickory_lookup(query).await;
                if !records.is_empty() {
                    return records;
                }
            }
            match query.rtype {
                RecordType::A | RecordType::Aaaa => Self::system_lookup(query).await,
                _ => Vec::new(),
            }
        })
    }
}

/// A resolver answering from a fixed table, asked questions recorded. For
/// tests (never outside DNS) and for deployments with fixed addresses.
#[derive(Debug, Default)]
pub struct StaticResolver {
    table: HashMap<(String, RecordType), Vec<Record>>,
    asked: Mutex<Vec<Query>>,
}

impl StaticResolver {
    /// An empty table: every question gets no records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `rtype` questions about `name` with `records`.
    pub fn with(mut self, name: &str, rtype: RecordType, records: Vec<Record>) -> Self {
        self.table
            .entry((name.trim_end_matches('.').to_ascii_lowercase(), rtype))
            .or_default()
            .extend(records);
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
        let key = (
            query.name.trim_end_matches('.').to_ascii_lowercase(),
            query.rtype,
        );
        let records = self.table.get(&key).cloned().unwrap_or_default();
        Box::pin(std::future::ready(records))
    }
}
