//! Answering the core's RFC 3263 questions
//! ([`Event::ResolveRequest`](sipparty_core::party::Event::ResolveRequest))
//! with the system resolver. `getaddrinfo` (through
//! [`std::net::ToSocketAddrs`]) knows addresses only, so NAPTR and SRV are
//! answered "no records" at once and the core falls back to A/AAAA (RFC
//! 3263 section 4.2). An address lookup blocks, so it runs on a short-lived
//! helper thread that sends the answer back and wakes the event loop.
//! Turning what `getaddrinfo` found into records is the core's
//! ([`address_records`]).

use std::io;
use std::net::ToSocketAddrs;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use mio::Waker;
use sipparty_core::transport::locate::{
    address_records, system_can_answer, DnsRecord, LookupId, SYSTEM_TTL,
};
use sipparty_core::transport::resolve::{Query, RecordType};
use tracing::{debug, trace};

/// A lookup's outcome on its way back to the loop.
pub(crate) type DnsAnswer = (LookupId, io::Result<Vec<DnsRecord>>);

/// The event loop's side of the system resolver.
#[derive(Debug)]
pub(crate) struct SystemDns {
    tx: Sender<DnsAnswer>,
    rx: Receiver<DnsAnswer>,
    waker: Arc<Waker>,
}

impl SystemDns {
    pub(crate) fn new(waker: Arc<Waker>) -> SystemDns {
        let (tx, rx) = channel();
        SystemDns { tx, rx, waker }
    }

    /// Start answering `query`. Returns the answer when it is known at
    /// once (NAPTR, SRV: none); otherwise it arrives through
    /// [`SystemDns::try_recv`] after a wake-up.
    pub(crate) fn lookup(&self, id: LookupId, query: Query) -> Option<Vec<DnsRecord>> {
        if !system_can_answer(query.rtype) {
            trace!(%id, name = %query.name, rtype = %query.rtype, "no NAPTR/SRV with getaddrinfo");
            return Some(Vec::new());
        }
        let (tx, waker) = (self.tx.clone(), self.waker.clone());
        let spawned = thread::Builder::new()
            .name("sipparty-dns".into())
            .spawn(move || {
                let result = addresses(&query.name, query.rtype);
                // The loop is gone when this fails: nobody to tell.
                if tx.send((id, result)).is_ok() {
                    let _ = waker.wake();
                }
            });
        match spawned {
            Ok(_) => None,
            Err(e) => {
                // No thread: the core treats the name as unknown for now.
                debug!(%id, error = %e, "cannot start a DNS thread");
                Some(Vec::new())
            }
        }
    }

    /// An answer that came back, if any.
    pub(crate) fn try_recv(&self) -> Option<DnsAnswer> {
        self.rx.try_recv().ok()
    }
}

/// `name`'s addresses of one family (A or AAAA), by `getaddrinfo`.
fn addresses(name: &str, rtype: RecordType) -> io::Result<Vec<DnsRecord>> {
    let found = (name, 0u16).to_socket_addrs()?;
    Ok(address_records(rtype, found.map(|a| a.ip()), SYSTEM_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipparty_core::transport::resolve::Record;

    #[test]
    fn localhost_resolves_without_dns() {
        // /etc/hosts, not the network.
        let v4 = addresses("localhost", RecordType::A).unwrap();
        assert!(v4
            .iter()
            .any(|r| r.record == Record::A("127.0.0.1".parse().unwrap())));
        assert!(v4.iter().all(|r| matches!(r.record, Record::A(_))));
    }
}
