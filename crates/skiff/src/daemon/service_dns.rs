//! `NAME.skiff` in the containers' DNS: the registry's pure answers
//! (skiff_registry::dns over a live catalog of healthy instances) encoded as
//! records for skiff-net's DNS server. Names outside `.skiff` are left to the
//! next source and the upstreams. An unknown or unhealthy service answers
//! with no records (NOERROR, empty) rather than being forwarded upstream.

use skiff_net::dns::{self, Record, RecordType};
use skiff_registry::dns::{Answer, NameSource as _, QueryType, TTL_SECS};
use skiff_registry::LiveCatalog;
use std::net::{Ipv4Addr, SocketAddr};

/// The registry as a DNS name source.
pub struct ServiceNames(pub LiveCatalog);

impl dns::NameSource for ServiceNames {
    fn answer(
        &self,
        _network: &str,
        _client: Ipv4Addr,
        name: &str,
        rtype: RecordType,
    ) -> Option<Vec<Record>> {
        let qtype = match rtype {
            RecordType::A => QueryType::A,
            RecordType::AAAA => QueryType::Aaaa,
            RecordType::SRV => QueryType::Srv,
            // Other types of a `.skiff` name: known zone, no such records.
            _ => {
                return (name == skiff_registry::dns::DOMAIN || name.ends_with(".skiff"))
                    .then(Vec::new)
            }
        };
        records(name, self.0.answer(name, qtype))
    }

    fn upstreams_for(&self, _network: &str, _client: Ipv4Addr) -> Vec<SocketAddr> {
        Vec::new()
    }
}

/// Encodes one registry answer; None = not a `.skiff` name.
fn records(name: &str, answer: Answer) -> Option<Vec<Record>> {
    let ttl = TTL_SECS;
    Some(match answer {
        Answer::NotOurs => return None,
        Answer::NxDomain | Answer::NoData => Vec::new(),
        Answer::A(ips) => ips
            .into_iter()
            .filter_map(|ip| dns::a_record_ttl(name, ip, ttl))
            .collect(),
        Answer::Aaaa(ips) => ips
            .into_iter()
            .filter_map(|ip| dns::aaaa_record(name, ip, ttl))
            .collect(),
        Answer::Srv(srvs, _additional) => srvs
            .into_iter()
            .filter_map(|s| dns::srv_record(name, ttl, (s.priority, s.weight, s.port), &s.target))
            .collect(),
    })
}

/// The address records of SRV targets are answered by `INSTANCE.NAME.skiff`
/// A queries (the registry answers those too).
#[cfg(test)]
mod tests {
    use super::*;
    use skiff_registry::dns::SrvRecord;
    use std::net::IpAddr;

    #[test]
    fn encodes_each_answer_kind() {
        assert!(records("x.example", Answer::NotOurs).is_none());
        assert_eq!(records("web.skiff", Answer::NxDomain), Some(vec![]));
        let a = records("web.skiff", Answer::A(vec![Ipv4Addr::new(198, 18, 0, 2)])).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].record_type(), RecordType::A);
        assert_eq!(a[0].ttl(), TTL_SECS);
        let srv = records(
            "_80._tcp.web.skiff",
            Answer::Srv(
                vec![SrvRecord {
                    priority: 0,
                    weight: 1,
                    port: 80,
                    target: "abc-80.web.skiff".into(),
                }],
                vec![("abc-80.web.skiff".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))],
            ),
        )
        .unwrap();
        assert_eq!(srv[0].record_type(), RecordType::SRV);
    }
}
