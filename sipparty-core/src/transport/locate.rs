//! RFC 3263 server location for many requests at once, with a DNS cache
//! that honours record TTLs, still without any I/O.
//!
//! A [`Locator`] runs one [`Resolution`] per request that waits for a
//! next hop, keyed by whatever the owner uses to find the request again
//! (the Party uses a transaction id). It turns the resolutions' questions
//! into numbered [`Lookup`]s for the driver, asks each distinct question
//! once however many requests wait for it, answers from its cache while
//! a record's TTL lasts (time comes from the `now` of each call), and
//! gives up on a question the driver leaves unanswered for
//! [`LocatorConfig::lookup_timeout`] (as if it had failed: RFC 3263 moves
//! on to the next step).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sipparty_core::transport::locate::{Answer, DnsRecord, Locator, LocatorConfig};
//! use sipparty_core::transport::resolve::{Record, RecordType, ResolveConfig};
//! use sipparty_core::SeededRandom;
//!
//! let mut rng = SeededRandom::new(1);
//! let mut locator = Locator::new(LocatorConfig::default());
//! let now = Instant::now();
//! let config = ResolveConfig::default();
//! locator.resolve(now, 7u32, "sip:bob@pbx.example.com:5070", &config, &mut rng).unwrap();
//! // A name with a port: A, then AAAA (RFC 3263 section 4.2).
//! while let Some(lookup) = locator.poll_lookup() {
//!     let records = match lookup.query.rtype {
//!         RecordType::A => vec![DnsRecord::new(
//!             Record::A("127.0.0.1".parse().unwrap()),
//!             Duration::from_secs(60),
//!         )],
//!         _ => vec![],
//!     };
//!     locator.handle_answer(now, lookup.id, Answer::Records(&records), &mut rng);
//! }
//! let (key, targets) = locator.poll_done().unwrap();
//! assert_eq!(key, 7);
//! assert_eq!(targets.unwrap().current().unwrap().addr, "127.0.0.1:5070".parse().unwrap());
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{debug, trace};

use super::resolve::{
    Query, Record, RecordType, Resolution, ResolveConfig, ResolveError, ResolveStep, Targets,
};
use crate::random::Random;

/// Identifies one DNS question the driver was asked
/// ([`Locator::poll_lookup`]); the driver hands it back with the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub(crate) u64);

impl LookupId {
    /// The number behind the id (for logs and for drivers that keep their
    /// own tables).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// An id from its number, for layers that renumber lookups (an
    /// endpoint of many parties) and for tests.
    pub fn from_u64(n: u64) -> LookupId {
        LookupId(n)
    }
}

impl fmt::Display for LookupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lookup#{}", self.0)
    }
}

/// A DNS question to answer: [`Locator::handle_answer`] with `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Which lookup.
    pub id: LookupId,
    /// The question.
    pub query: Query,
}

/// A record of an answer with its time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// The record.
    pub record: Record,
    /// How long it may be cached (the record's TTL).
    pub ttl: Duration,
}

impl DnsRecord {
    /// A record valid for `ttl`.
    pub fn new(record: Record, ttl: Duration) -> DnsRecord {
        DnsRecord { record, ttl }
    }
}

/// The driver's answer to a [`Lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer<'a> {
    /// The records found; empty for a name or type that does not exist
    /// (NXDOMAIN, NODATA), which is cached for
    /// [`LocatorConfig::negative_ttl`].
    Records(&'a [DnsRecord]),
    /// The lookup failed (server failure, timeout, no resolver): treated
    /// as no records, and not cached.
    Failed,
}

impl<'a> Answer<'a> {
    /// The answer for the outcome of a driver's lookup: its records (an
    /// empty list says the name or type does not exist), or
    /// [`Answer::Failed`] for an error, which the locator does not cache.
    pub fn from_lookup<E>(result: &'a Result<Vec<DnsRecord>, E>) -> Answer<'a> {
        match result {
            Ok(records) => Answer::Records(records),
            Err(_) => Answer::Failed,
        }
    }
}

/// How long addresses from the system resolver (`getaddrinfo`), which
/// gives no TTL, are cached: long enough that a call's requests share one
/// lookup, short enough that a changed hosts file or DNS entry is seen
/// within a minute.
pub const SYSTEM_TTL: Duration = Duration::from_secs(30);

/// Whether the system resolver (`getaddrinfo`) can answer a question of
/// this type: it knows addresses only, so NAPTR and SRV get "no records"
/// and RFC 3263 falls back to A/AAAA (section 4.2).
pub fn system_can_answer(rtype: RecordType) -> bool {
    matches!(rtype, RecordType::A | RecordType::Aaaa)
}

/// The answer to an A or AAAA question made of the addresses the system
/// resolver found for the name (`getaddrinfo` gives both families, often
/// each address several times, once per socket type): those of the asked
/// family, each once, in the resolver's order, each valid for `ttl`. Any
/// other question gets no records.
pub fn address_records(
    rtype: RecordType,
    addresses: impl IntoIterator<Item = IpAddr>,
    ttl: Duration,
) -> Vec<DnsRecord> {
    let mut out: Vec<DnsRecord> = Vec::new();
    for ip in addresses {
        let record = match (rtype, ip) {
            (RecordType::A, IpAddr::V4(v4)) => Record::A(v4),
            (RecordType::Aaaa, IpAddr::V6(v6)) => Record::Aaaa(v6),
            _ => continue,
        };
        if !out.iter().any(|d| d.record == record) {
            out.push(DnsRecord::new(record, ttl));
        }
    }
    out
}

/// One answer to an A or AAAA question asked of both DNS (which has TTLs)
/// and the system resolver (which also knows the hosts file): DNS's
/// records when it has some, else the system's. When the system lookup
/// fails but DNS said the name has no such records (NXDOMAIN, NODATA), the
/// answer is "no records", which the locator caches for
/// [`LocatorConfig::negative_ttl`], rather than a failure, which it does
/// not cache (`getaddrinfo` cannot tell a missing name from a failed
/// lookup; DNS can). A driver without DNS passes its absence as an error.
pub fn merge_address_answers<E>(
    dns: Result<Vec<DnsRecord>, E>,
    system: Result<Vec<DnsRecord>, E>,
) -> Result<Vec<DnsRecord>, E> {
    match (dns, system) {
        (Ok(records), _) if !records.is_empty() => Ok(records),
        (Ok(none), Err(_)) => Ok(none),
        (_, system) => system,
    }
}

/// A fixed DNS table: the answers of a stub resolver for tests, the
/// simulator (`party::SimDns`) and deployments with fixed addresses (the
/// tokio driver's `StaticResolver`), kept in one place. Names compare
/// without regard to case (RFC 4343) or a trailing dot (an absolute name,
/// RFC 1034 section 3.1).
///
/// ```
/// use std::time::Duration;
/// use sipparty_core::transport::locate::{DnsRecord, DnsTable};
/// use sipparty_core::transport::resolve::{Query, Record, RecordType};
///
/// let mut table = DnsTable::new();
/// let a = DnsRecord::new(Record::A("127.0.0.1".parse().unwrap()), Duration::from_secs(60));
/// table.insert("PBX.example.com.", RecordType::A, [a.clone()]);
/// table.fail("broken.example.com");
/// let ask = |name: &str| Query { name: name.into(), rtype: RecordType::A };
/// assert_eq!(table.answer(&ask("pbx.example.com")), Some(vec![a]));
/// assert_eq!(table.answer(&ask("other.example.com")), Some(vec![]));
/// assert_eq!(table.answer(&ask("broken.example.com")), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct DnsTable {
    records: HashMap<(String, RecordType), Vec<DnsRecord>>,
    failing: Vec<String>,
}

impl DnsTable {
    /// An empty table: every question finds no records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `rtype` questions about `name` with `records` too (after
    /// any given before).
    pub fn insert(
        &mut self,
        name: &str,
        rtype: RecordType,
        records: impl IntoIterator<Item = DnsRecord>,
    ) {
        self.records
            .entry((table_name(name), rtype))
            .or_default()
            .extend(records);
    }

    /// Lookups of `name` fail (as on a server failure), whatever the
    /// table holds for it.
    pub fn fail(&mut self, name: &str) {
        self.failing.push(table_name(name));
    }

    /// The answer to `query`: the table's records (an empty list when it
    /// has none: the name or type does not exist), or `None` when lookups
    /// of the name fail. As a lookup result, see [`Answer::from_lookup`].
    pub fn answer(&self, query: &Query) -> Option<Vec<DnsRecord>> {
        let name = table_name(&query.name);
        if self.failing.contains(&name) {
            return None;
        }
        Some(
            self.records
                .get(&(name, query.rtype))
                .cloned()
                .unwrap_or_default(),
        )
    }
}

/// A name as the table keys it: lower case, without a trailing dot.
fn table_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Limits of a [`Locator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocatorConfig {
    /// A question unanswered this long counts as failed.
    pub lookup_timeout: Duration,
    /// How long "no such records" is remembered (RFC 2308 negative
    /// caching; the driver does not pass the SOA minimum).
    pub negative_ttl: Duration,
    /// Longest a record is cached, whatever its TTL says.
    pub max_ttl: Duration,
    /// Most cached answers; expired ones go first when it is full.
    pub max_cache_entries: usize,
}

impl Default for LocatorConfig {
    fn default() -> Self {
        LocatorConfig {
            lookup_timeout: Duration::from_secs(10),
            negative_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(86_400),
            max_cache_entries: 1024,
        }
    }
}

#[derive(Debug)]
struct Cached {
    records: Vec<Record>,
    expires: Instant,
}

#[derive(Debug)]
struct InFlight<K> {
    query: Query,
    deadline: Instant,
    waiters: Vec<K>,
}

/// Many RFC 3263 resolutions sharing one DNS cache. See the [module
/// docs](self).
#[derive(Debug)]
pub struct Locator<K> {
    config: LocatorConfig,
    cache: HashMap<Query, Cached>,
    jobs: HashMap<K, Resolution>,
    in_flight: HashMap<LookupId, InFlight<K>>,
    by_query: HashMap<Query, LookupId>,
    lookups: VecDeque<Lookup>,
    done: VecDeque<(K, Result<Targets, ResolveError>)>,
    next_id: u64,
}

impl<K: Copy + Eq + Hash + fmt::Debug> Locator<K> {
    /// An empty locator.
    pub fn new(config: LocatorConfig) -> Self {
        Locator {
            config,
            cache: HashMap::new(),
            jobs: HashMap::new(),
            in_flight: HashMap::new(),
            by_query: HashMap::new(),
            lookups: VecDeque::new(),
            done: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Start locating `uri` for `key` (a key still resolving is replaced).
    /// Fails at once when the URI cannot be resolved at all (not SIP, an
    /// unsupported transport); otherwise the outcome comes from
    /// [`Locator::poll_done`], right away when the cache knows enough.
    pub fn resolve(
        &mut self,
        now: Instant,
        key: K,
        uri: &str,
        config: &ResolveConfig,
        random: &mut dyn Random,
    ) -> Result<(), ResolveError> {
        let resolution = Resolution::new(uri, config)?;
        self.cancel(key);
        self.advance(now, key, resolution, random);
        Ok(())
    }

    /// Stop locating for `key`; its outcome will not be reported. A
    /// question already asked stays open so its answer is still cached.
    pub fn cancel(&mut self, key: K) {
        if self.jobs.remove(&key).is_some() {
            for f in self.in_flight.values_mut() {
                f.waiters.retain(|k| *k != key);
            }
        }
        self.done.retain(|(k, _)| *k != key);
    }

    /// The next question for the driver.
    pub fn poll_lookup(&mut self) -> Option<Lookup> {
        self.lookups.pop_front()
    }

    /// A finished resolution: the targets in order, or why there are none.
    pub fn poll_done(&mut self) -> Option<(K, Result<Targets, ResolveError>)> {
        self.done.pop_front()
    }

    /// The driver's answer to lookup `id`. Unknown ids (answered twice,
    /// or after the timeout) are ignored.
    pub fn handle_answer(
        &mut self,
        now: Instant,
        id: LookupId,
        answer: Answer<'_>,
        random: &mut dyn Random,
    ) {
        let Some(flight) = self.in_flight.remove(&id) else {
            trace!(%id, "answer to no open lookup, ignored");
            return;
        };
        self.by_query.remove(&flight.query);
        self.lookups.retain(|l| l.id != id);
        let records: Vec<Record> = match answer {
            Answer::Records(list) => {
                let records: Vec<Record> = list.iter().map(|r| r.record.clone()).collect();
                let ttl = match list.iter().map(|r| r.ttl).min() {
                    Some(ttl) => ttl.min(self.config.max_ttl),
                    None => self.config.negative_ttl,
                };
                if !ttl.is_zero() {
                    self.store(now, flight.query.clone(), records.clone(), now + ttl);
                }
                records
            }
            Answer::Failed => {
                debug!(name = %flight.query.name, rtype = %flight.query.rtype, "DNS lookup failed");
                Vec::new()
            }
        };
        trace!(%id, name = %flight.query.name, rtype = %flight.query.rtype, records = records.len(), "DNS answer");
        for key in flight.waiters {
            if let Some(mut r) = self.jobs.remove(&key) {
                if r.pending() == Some(&flight.query) {
                    r.handle_answer(random, &records);
                }
                self.advance(now, key, r, random);
            }
        }
    }

    /// When the oldest open question times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.values().map(|f| f.deadline).min()
    }

    /// Fail the questions whose time is up.
    pub fn handle_timeout(&mut self, now: Instant, random: &mut dyn Random) {
        let due: Vec<LookupId> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            debug!(%id, "DNS lookup timed out");
            self.handle_answer(now, id, Answer::Failed, random);
        }
    }

    /// Whether nothing is resolving and nothing is waiting to be polled
    /// (the cache may hold entries).
    pub fn is_idle(&self) -> bool {
        self.jobs.is_empty()
            && self.in_flight.is_empty()
            && self.lookups.is_empty()
            && self.done.is_empty()
    }

    /// Resolve `uri` from the cache alone: the targets if every question
    /// on the way has a fresh answer, else None (nothing is asked).
    pub fn resolve_cached(
        &self,
        now: Instant,
        uri: &str,
        config: &ResolveConfig,
        random: &mut dyn Random,
    ) -> Option<Targets> {
        let mut r = Resolution::new(uri, config).ok()?;
        loop {
            match r.poll() {
                ResolveStep::Query(q) => {
                    let c = self.cache.get(&q).filter(|c| c.expires > now)?;
                    r.handle_answer(random, &c.records);
                }
                ResolveStep::Done(t) => return Some(t),
                _ => return None,
            }
        }
    }

    /// Run `r` as far as the cache allows, then park it on a lookup or
    /// report its outcome.
    fn advance(&mut self, now: Instant, key: K, mut r: Resolution, random: &mut dyn Random) {
        loop {
            match r.poll() {
                ResolveStep::Query(q) => {
                    if let Some(c) = self.cache.get(&q) {
                        if c.expires > now {
                            trace!(name = %q.name, rtype = %q.rtype, "DNS answer from cache");
                            r.handle_answer(random, &c.records);
                            continue;
                        }
                    }
                    let id = match self.by_query.get(&q) {
                        Some(id) => *id,
                        None => {
                            let id = LookupId(self.next_id);
                            self.next_id += 1;
                            self.by_query.insert(q.clone(), id);
                            self.lookups.push_back(Lookup {
                                id,
                                query: q.clone(),
                            });
                            self.in_flight.insert(
                                id,
                                InFlight {
                                    query: q,
                                    deadline: now + self.config.lookup_timeout,
                                    waiters: Vec::new(),
                                },
                            );
                            id
                        }
                    };
                    if let Some(f) = self.in_flight.get_mut(&id) {
                        f.waiters.push(key);
                    }
                    self.jobs.insert(key, r);
                    return;
                }
                ResolveStep::Done(targets) => {
                    self.done.push_back((key, Ok(targets)));
                    return;
                }
                ResolveStep::Failed(e) => {
                    self.done.push_back((key, Err(e)));
                    return;
                }
            }
        }
    }

    fn store(&mut self, now: Instant, query: Query, records: Vec<Record>, expires: Instant) {
        if self.cache.len() >= self.config.max_cache_entries && !self.cache.contains_key(&query) {
            self.cache.retain(|_, c| c.expires > now);
            if self.cache.len() >= self.config.max_cache_entries {
                // Still full of live entries: the one closest to expiry
                // gives way.
                if let Some(victim) = self
                    .cache
                    .iter()
                    .min_by_key(|(_, c)| c.expires)
                    .map(|(q, _)| q.clone())
                {
                    self.cache.remove(&victim);
                }
            }
        }
        if self.config.max_cache_entries > 0 {
            self.cache.insert(query, Cached { records, expires });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;
    use crate::transport::resolve::RecordType;
    use crate::transport::Transport;

    fn a(ip: &str, secs: u64) -> DnsRecord {
        DnsRecord::new(Record::ip(ip.parse().unwrap()), Duration::from_secs(secs))
    }

    /// Answer every open question from `table` (empty when absent) and
    /// return the questions asked.
    fn answer_all(
        l: &mut Locator<u32>,
        now: Instant,
        table: &[(&str, RecordType, Vec<DnsRecord>)],
        rng: &mut SeededRandom,
    ) -> Vec<Query> {
        let mut asked = Vec::new();
        while let Some(lk) = l.poll_lookup() {
            let recs = table
                .iter()
                .find(|(n, t, _)| *n == lk.query.name && *t == lk.query.rtype)
                .map(|(_, _, r)| r.clone())
                .unwrap_or_default();
            asked.push(lk.query.clone());
            l.handle_answer(now, lk.id, Answer::Records(&recs), rng);
        }
        asked
    }

    fn config_v4() -> ResolveConfig {
        ResolveConfig {
            ipv6: false,
            ..ResolveConfig::default()
        }
    }

    #[test]
    fn rfc3263_answers_are_cached_for_their_ttl() {
        let mut rng = SeededRandom::new(1);
        let mut l = Locator::new(LocatorConfig::default());
        let t0 = Instant::now();
        let table = [("h.example.com", RecordType::A, vec![a("127.0.0.1", 60)])];
        l.resolve(t0, 1, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        let asked = answer_all(&mut l, t0, &table, &mut rng);
        assert_eq!(asked.len(), 1);
        assert!(matches!(l.poll_done(), Some((1, Ok(_)))));
        // Within the TTL: no question, done at once.
        let t1 = t0 + Duration::from_secs(59);
        l.resolve(t1, 2, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        assert!(l.poll_lookup().is_none());
        let (k, r) = l.poll_done().unwrap();
        assert_eq!(k, 2);
        assert_eq!(
            r.unwrap().current().unwrap().addr,
            "127.0.0.1:5070".parse().unwrap()
        );
        assert!(l
            .resolve_cached(t1, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .is_some());
        // Expired: asked again.
        let t2 = t0 + Duration::from_secs(61);
        assert!(l
            .resolve_cached(t2, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .is_none());
        l.resolve(t2, 3, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        assert_eq!(answer_all(&mut l, t2, &table, &mut rng).len(), 1);
        assert!(l.is_idle() || l.poll_done().is_some());
    }

    #[test]
    fn system_addresses_become_records_of_the_asked_family_once_each() {
        let ips: Vec<IpAddr> = ["127.0.0.1", "::1", "127.0.0.1", "127.0.0.2", "::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let ttl = Duration::from_secs(30);
        let v4 = address_records(RecordType::A, ips.clone(), ttl);
        assert_eq!(v4, vec![a("127.0.0.1", 30), a("127.0.0.2", 30)]);
        let v6 = address_records(RecordType::Aaaa, ips.clone(), ttl);
        assert_eq!(v6, vec![a("::1", 30)]);
        // getaddrinfo has no service records.
        assert!(address_records(RecordType::Srv, ips.clone(), ttl).is_empty());
        assert!(address_records(RecordType::Naptr, ips, ttl).is_empty());
        assert!(system_can_answer(RecordType::A) && system_can_answer(RecordType::Aaaa));
        assert!(!system_can_answer(RecordType::Srv) && !system_can_answer(RecordType::Naptr));
    }

    #[test]
    fn lookup_outcomes_become_answers_and_only_failures_are_not_cached() {
        let found: Result<Vec<DnsRecord>, &str> = Ok(vec![a("127.0.0.1", 60)]);
        let none: Result<Vec<DnsRecord>, &str> = Ok(vec![]);
        let failed: Result<Vec<DnsRecord>, &str> = Err("SERVFAIL");
        assert_eq!(
            Answer::from_lookup(&found),
            Answer::Records(&[a("127.0.0.1", 60)])
        );
        assert_eq!(Answer::from_lookup(&none), Answer::Records(&[]));
        assert_eq!(Answer::from_lookup(&failed), Answer::Failed);

        // Through a locator: the empty answer is remembered, the failure
        // is asked again.
        let mut rng = SeededRandom::new(1);
        let mut l = Locator::new(LocatorConfig::default());
        let now = Instant::now();
        for (name, outcome, asked_again) in [
            ("gone.example.com", &none, false),
            ("flaky.example.com", &failed, true),
        ] {
            let uri = format!("sip:{name}:5060");
            for key in [1, 2] {
                l.resolve(now, key, &uri, &config_v4(), &mut rng).unwrap();
                match l.poll_lookup() {
                    Some(lk) => {
                        assert!(key == 1 || asked_again, "{name} asked twice");
                        l.handle_answer(now, lk.id, Answer::from_lookup(outcome), &mut rng);
                    }
                    None => assert!(key == 2 && !asked_again, "{name} not asked"),
                }
                assert!(matches!(l.poll_done(), Some((k, Err(_))) if k == key));
            }
        }
    }

    #[test]
    fn dns_and_system_address_answers_merge() {
        type R = Result<Vec<DnsRecord>, &'static str>;
        let dns_has: R = Ok(vec![a("127.0.0.2", 300)]);
        let sys_has: R = Ok(vec![a("127.0.0.1", 30)]);
        let empty: R = Ok(vec![]);
        let failed: R = Err("failed");
        let cases: [(&str, R, R, R); 6] = [
            (
                "DNS records win (they have TTLs)",
                dns_has.clone(),
                sys_has.clone(),
                dns_has.clone(),
            ),
            (
                "the hosts file knows what DNS does not",
                empty.clone(),
                sys_has.clone(),
                sys_has.clone(),
            ),
            (
                "no DNS configured: the system decides",
                failed.clone(),
                sys_has.clone(),
                sys_has.clone(),
            ),
            // The negative answer: cached, so the name is not asked again
            // for every request.
            (
                "DNS says no such name, getaddrinfo fails",
                empty.clone(),
                failed.clone(),
                empty.clone(),
            ),
            ("both fail", failed.clone(), failed.clone(), failed.clone()),
            (
                "both find nothing",
                empty.clone(),
                empty.clone(),
                empty.clone(),
            ),
        ];
        for (case, dns, system, expected) in cases {
            assert_eq!(merge_address_answers(dns, system), expected, "{case}");
        }
    }

    #[test]
    fn same_question_of_two_requests_is_asked_once() {
        let mut rng = SeededRandom::new(1);
        let mut l = Locator::new(LocatorConfig::default());
        let now = Instant::now();
        l.resolve(now, 1, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        l.resolve(now, 2, "sip:h.example.com:5080", &config_v4(), &mut rng)
            .unwrap();
        let first = l.poll_lookup().unwrap();
        assert!(l.poll_lookup().is_none(), "one question for both");
        l.handle_answer(
            now,
            first.id,
            Answer::Records(&[a("127.0.0.1", 30)]),
            &mut rng,
        );
        let mut ports: Vec<(u32, u16)> = std::iter::from_fn(|| l.poll_done())
            .map(|(k, r)| (k, r.unwrap().current().unwrap().addr.port()))
            .collect();
        ports.sort();
        assert_eq!(ports, vec![(1, 5070), (2, 5080)]);
        assert!(l.is_idle());
    }

    #[test]
    fn unanswered_lookup_times_out_and_resolution_moves_on() {
        let mut rng = SeededRandom::new(1);
        let mut l = Locator::new(LocatorConfig::default());
        let now = Instant::now();
        l.resolve(now, 1, "sip:example.com", &config_v4(), &mut rng)
            .unwrap();
        let naptr = l.poll_lookup().unwrap();
        assert_eq!(naptr.query.rtype, RecordType::Naptr);
        let deadline = l.poll_timeout().unwrap();
        assert_eq!(deadline, now + Duration::from_secs(10));
        l.handle_timeout(deadline, &mut rng);
        // RFC 3263 section 4.1: no NAPTR, so SRV next.
        let next = l.poll_lookup().unwrap();
        assert_eq!(next.query.rtype, RecordType::Srv);
        // A late answer to the timed-out question changes nothing.
        l.handle_answer(deadline, naptr.id, Answer::Records(&[]), &mut rng);
        assert!(l.poll_lookup().is_none());
    }

    #[test]
    fn failed_lookups_are_not_cached_but_empty_answers_are() {
        let mut rng = SeededRandom::new(1);
        let mut l = Locator::new(LocatorConfig::default());
        let now = Instant::now();
        l.resolve(now, 1, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        let q = l.poll_lookup().unwrap();
        l.handle_answer(now, q.id, Answer::Failed, &mut rng);
        let (_, r) = l.poll_done().unwrap();
        assert_eq!(r, Err(ResolveError::NotFound("h.example.com".into())));
        // Failure not cached: asked again.
        l.resolve(now, 2, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        let q = l.poll_lookup().unwrap();
        l.handle_answer(now, q.id, Answer::Records(&[]), &mut rng);
        assert!(l.poll_done().unwrap().1.is_err());
        // NXDOMAIN cached for the negative TTL.
        l.resolve(now, 3, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        assert!(l.poll_lookup().is_none());
        assert!(l.poll_done().unwrap().1.is_err());
        let later = now + Duration::from_secs(31);
        l.resolve(later, 4, "sip:h.example.com:5070", &config_v4(), &mut rng)
            .unwrap();
        assert!(l.poll_lookup().is_some());
    }

    #[test]
    fn cancelled_resolution_reports_nothing_and_cache_is_bounded() {
        let mut rng = SeededRandom::new(1);
        let mut l = Locator::new(LocatorConfig {
            max_cache_entries: 2,
            ..LocatorConfig::default()
        });
        let now = Instant::now();
        l.resolve(now, 1, "sip:x.example.com:1", &config_v4(), &mut rng)
            .unwrap();
        l.cancel(1);
        let q = l.poll_lookup().unwrap();
        l.handle_answer(now, q.id, Answer::Records(&[a("127.0.0.1", 60)]), &mut rng);
        assert!(l.poll_done().is_none());
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            let uri = format!("sip:{name}.example.com:1");
            l.resolve(now, 10 + i as u32, &uri, &config_v4(), &mut rng)
                .unwrap();
            answer_all(
                &mut l,
                now,
                &[(
                    &format!("{name}.example.com"),
                    RecordType::A,
                    vec![a("127.0.0.2", 60)],
                )],
                &mut rng,
            );
        }
        assert!(l.cache.len() <= 2);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn record() -> impl Strategy<Value = DnsRecord> {
            let name = prop::sample::select(vec![
                "example.com",
                "a.example.com.",
                "_sip._udp.example.com",
                "_sips._tcp.example.com",
                ".",
                "",
                "127.0.0.1",
            ]);
            let rec = prop_oneof![
                (
                    any::<u16>(),
                    any::<u16>(),
                    prop::sample::select(vec!["SIP+D2U", "SIP+D2T", "SIPS+D2T", "x"]),
                    name.clone()
                )
                    .prop_map(|(o, p, s, r)| Record::naptr(o, p, s, r)),
                (any::<u16>(), any::<u16>(), any::<u16>(), name)
                    .prop_map(|(p, w, port, t)| Record::srv(p, w, port, t)),
                any::<[u8; 4]>().prop_map(|b| Record::A(b.into())),
                any::<[u8; 16]>().prop_map(|b| Record::Aaaa(b.into())),
            ];
            (rec, 0u64..100_000).prop_map(|(r, s)| DnsRecord::new(r, Duration::from_secs(s)))
        }

        proptest! {
            /// Any answers, failures and timeouts in any order: no panic,
            /// bounded questions, and every resolution ends.
            #[test]
            fn resolutions_end_whatever_dns_says(
                uris in prop::collection::vec(prop::sample::select(vec![
                    "sip:example.com", "sips:example.com", "sip:a.example.com:5070",
                    "sip:example.com;transport=tcp", "sip:127.0.0.1", "sip:[::1]:5080",
                ]), 1..4),
                answers in prop::collection::vec((0u8..4, prop::collection::vec(record(), 0..6)), 0..80),
            ) {
                let mut rng = SeededRandom::new(7);
                let mut l = Locator::new(LocatorConfig::default());
                let mut now = Instant::now();
                for (i, uri) in uris.iter().enumerate() {
                    l.resolve(now, i as u32, uri, &ResolveConfig::default(), &mut rng).unwrap();
                }
                let mut done = 0;
                let mut asked = 0;
                let mut steps = answers.into_iter();
                loop {
                    while l.poll_done().is_some() {
                        done += 1;
                    }
                    let Some(lk) = l.poll_lookup() else {
                        match l.poll_timeout() {
                            Some(t) => {
                                now = t;
                                l.handle_timeout(now, &mut rng);
                                continue;
                            }
                            None => break,
                        }
                    };
                    asked += 1;
                    prop_assert!(asked <= crate::transport::resolve::MAX_QUERIES * uris.len());
                    let (kind, records) = steps.next().unwrap_or((0, Vec::new()));
                    match kind {
                        0 | 1 => l.handle_answer(now, lk.id, Answer::Records(&records), &mut rng),
                        2 => l.handle_answer(now, lk.id, Answer::Failed, &mut rng),
                        _ => {
                            // Left unanswered until it times out.
                            now += Duration::from_secs(11);
                            l.handle_timeout(now, &mut rng);
                        }
                    }
                }
                prop_assert_eq!(done, uris.len());
                prop_assert!(l.is_idle());
            }
        }
    }

    #[test]
    fn rfc3263_srv_and_naptr_answers_feed_the_resolution() {
        let mut rng = SeededRandom::new(1);
        let mut l = Locator::new(LocatorConfig::default());
        let now = Instant::now();
        l.resolve(
            now,
            1,
            "sip:example.com",
            &ResolveConfig::with_transports(&[Transport::Udp, Transport::Tcp]),
            &mut rng,
        )
        .unwrap();
        let table = [
            (
                "example.com",
                RecordType::Naptr,
                vec![DnsRecord::new(
                    Record::naptr(10, 10, "SIP+D2T", "_sip._tcp.example.com"),
                    Duration::from_secs(300),
                )],
            ),
            (
                "_sip._tcp.example.com",
                RecordType::Srv,
                vec![DnsRecord::new(
                    Record::srv(0, 0, 5080, "pbx.example.com"),
                    Duration::from_secs(300),
                )],
            ),
            ("pbx.example.com", RecordType::A, vec![a("127.0.0.9", 300)]),
        ];
        answer_all(&mut l, now, &table, &mut rng);
        let (_, r) = l.poll_done().unwrap();
        let t = r.unwrap();
        let first = t.current().unwrap();
        assert_eq!(first.transport, Transport::Tcp);
        assert_eq!(first.addr, "127.0.0.9:5080".parse().unwrap());
    }
}
