//! The containers' own names as a [`NameSource`]: on a network, a running
//! container answers to its name, its `--network-alias`es and its short id.
//! A container asking sees the names of every network it is connected to;
//! the answer is the address on the first of them (the asked-on network first)
//! where the name lives, since that is the one it can reach.

use crate::dns::{a_record, NameSource};
use crate::state::NetState;
use hickory_proto::rr::{Record, RecordType};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

pub struct ContainerNames(pub Arc<Mutex<NetState>>);

impl NameSource for ContainerNames {
    fn answer(
        &self,
        network: &str,
        client: Ipv4Addr,
        name: &str,
        rtype: RecordType,
    ) -> Option<Vec<Record>> {
        let state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // The asker sees every network it is connected to (the asked-on one first).
        let mut scope = vec![network.to_string()];
        if let Some(c) = state.containers.values().find(|c| {
            c.endpoints
                .iter()
                .any(|e| e.network == network && e.ip == client)
        }) {
            scope.extend(
                c.endpoints
                    .iter()
                    .filter(|e| e.network != network)
                    .map(|e| e.network.clone()),
            );
        }
        let ips: Vec<Ipv4Addr> = scope
            .iter()
            .flat_map(|net| {
                state
                    .containers
                    .iter()
                    .flat_map(|(id, c)| c.endpoints.iter().map(move |e| (id, e)))
                    .filter(move |(id, e)| {
                        e.network == *net
                            && !e.veth.is_empty()
                            && (e.name.eq_ignore_ascii_case(name)
                                || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
                                || (name.len() == 12 && id.starts_with(name)))
                    })
                    .map(|(_, e)| e.ip)
            })
            .take(1)
            .collect();
        if ips.is_empty() {
            return None;
        }
        if rtype != RecordType::A {
            return Some(Vec::new());
        }
        Some(
            ips.into_iter()
                .filter_map(|ip| a_record(name, ip))
                .collect(),
        )
    }

    fn upstreams_for(&self, network: &str, client: Ipv4Addr) -> Vec<SocketAddr> {
        let state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state
            .containers
            .values()
            .filter(|c| {
                c.endpoints
                    .iter()
                    .any(|e| e.network == network && e.ip == client)
            })
            .flat_map(|c| c.dns.iter())
            .filter_map(|s| {
                s.parse::<SocketAddr>().ok().or_else(|| {
                    s.parse::<std::net::IpAddr>()
                        .ok()
                        .map(|ip| SocketAddr::new(ip, 53))
                })
            })
            .collect()
    }
}
