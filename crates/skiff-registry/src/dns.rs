//! DNS answers for `*.skiff` as a pure function of a [`Catalog`] snapshot.
//! The DNS server (skiff-net) owns packets and sockets; it asks a
//! [`NameSource`] and encodes what comes back.
//!
//! Names (case-insensitive, trailing dot optional):
//! - `NAME.skiff` A/AAAA: the addresses of NAME's healthy instances.
//! - `_PORT._tcp.NAME.skiff` SRV (`_udp` for UDP; PORT a number, or NAME
//!   itself for every port): one record per instance, target
//!   `INSTANCE.NAME.skiff`.
//! - `INSTANCE.NAME.skiff` A/AAAA: one instance (the SRV targets).
//!
//! An unknown service, or one with no healthy instance, is NXDOMAIN; a known
//! name without records of the asked type is NODATA.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use skiff_types::{Instance, Proto};

use crate::{Catalog, LiveCatalog};

/// The zone skiff answers for.
pub const DOMAIN: &str = "skiff";
/// TTL of every answer: short, the registry changes in milliseconds.
pub const TTL_SECS: u32 = 5;

/// The query types the registry answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryType {
    A,
    Aaaa,
    Srv,
}

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// `INSTANCE.NAME.skiff` (no trailing dot).
    pub target: String,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Not under `.skiff`: forward it upstream.
    NotOurs,
    NxDomain,
    /// The name exists but has no records of the asked type.
    NoData,
    A(Vec<Ipv4Addr>),
    Aaaa(Vec<Ipv6Addr>),
    /// SRV records plus the addresses of their targets (additional section).
    Srv(Vec<SrvRecord>, Vec<(String, IpAddr)>),
}

/// Anything that answers `.skiff` names (the DNS server's input).
pub trait NameSource: Send + Sync {
    fn answer(&self, qname: &str, qtype: QueryType) -> Answer;
}

impl NameSource for Catalog {
    fn answer(&self, qname: &str, qtype: QueryType) -> Answer {
        answer(self, qname, qtype)
    }
}

impl NameSource for LiveCatalog {
    fn answer(&self, qname: &str, qtype: QueryType) -> Answer {
        answer(&self.snapshot(), qname, qtype)
    }
}

impl<T: NameSource + ?Sized> NameSource for Arc<T> {
    fn answer(&self, qname: &str, qtype: QueryType) -> Answer {
        (**self).answer(qname, qtype)
    }
}

/// An instance id as one DNS label: lowercase, `[a-z0-9-]`, at most 63.
pub fn instance_label(id: &str) -> String {
    id.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect()
}

/// Answers `qname`/`qtype` from `catalog`.
pub fn answer(catalog: &Catalog, qname: &str, qtype: QueryType) -> Answer {
    let name = qname.trim_end_matches('.').to_ascii_lowercase();
    let Some(rest) = name
        .strip_suffix(DOMAIN)
        .and_then(|r| r.strip_suffix('.').or(r.is_empty().then_some("")))
    else {
        return Answer::NotOurs;
    };
    let labels: Vec<&str> = rest.split('.').filter(|l| !l.is_empty()).collect();
    match labels.as_slice() {
        [service] => addresses(catalog.instances(service), qtype),
        [port, proto, service] if port.starts_with('_') && proto.starts_with('_') => {
            srv(catalog, service, &port[1..], &proto[1..], qtype)
        }
        [instance, service] => {
            let found: Vec<Instance> = catalog
                .instances(service)
                .iter()
                .filter(|i| instance_label(&i.id) == *instance)
                .cloned()
                .collect();
            addresses(&found, qtype)
        }
        _ => Answer::NxDomain,
    }
}

fn addresses(instances: &[Instance], qtype: QueryType) -> Answer {
    if instances.is_empty() {
        return Answer::NxDomain;
    }
    let mut v4: Vec<Ipv4Addr> = Vec::new();
    let mut v6: Vec<Ipv6Addr> = Vec::new();
    for inst in instances {
        match inst.addr {
            IpAddr::V4(a) if !v4.contains(&a) => v4.push(a),
            IpAddr::V6(a) if !v6.contains(&a) => v6.push(a),
            _ => {}
        }
    }
    match qtype {
        QueryType::A if !v4.is_empty() => Answer::A(v4),
        QueryType::Aaaa if !v6.is_empty() => Answer::Aaaa(v6),
        _ => Answer::NoData,
    }
}

fn srv(catalog: &Catalog, service: &str, port: &str, proto: &str, qtype: QueryType) -> Answer {
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return Answer::NxDomain,
    };
    let matches: Vec<&Instance> = catalog
        .instances(service)
        .iter()
        .filter(|i| i.proto == proto)
        .filter(|i| port == service || port.parse::<u16>().ok() == Some(i.port))
        .collect();
    if matches.is_empty() {
        return Answer::NxDomain;
    }
    if qtype != QueryType::Srv {
        return Answer::NoData;
    }
    let records = matches
        .iter()
        .map(|i| SrvRecord {
            priority: 0,
            weight: 1,
            port: i.port,
            target: format!("{}.{service}.{DOMAIN}", instance_label(&i.id)),
        })
        .collect();
    let extra = matches
        .iter()
        .map(|i| {
            (
                format!("{}.{service}.{DOMAIN}", instance_label(&i.id)),
                i.addr,
            )
        })
        .collect();
    Answer::Srv(records, extra)
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
