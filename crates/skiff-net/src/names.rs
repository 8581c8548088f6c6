//! The containers' own names as a [`NameSource`]: on a network, a running
//! container answers to its name, its `--network-alias`es and its short id.
//! A container asking sees the names of every network it is connected to;
//! the answer is the addresses on the first of them (the asked-on network
//! first) where the name lives, since those are the ones it can reach. An
//! alias several containers share (a Compose service's replicas) answers
//! with every one of them, as Docker's DNS does.

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
        let on = |net: &String| -> Vec<Ipv4Addr> {
            state
                .containers
                .iter()
                .flat_map(|(id, c)| c.endpoints.iter().map(move |e| (id, e)))
                .filter(|(id, e)| {
                    e.network == *net
                        && !e.veth.is_empty()
                        && (e.name.eq_ignore_ascii_case(name)
                            || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
                            || (name.len() == 12 && id.starts_with(name)))
                })
                .map(|(_, e)| e.ip)
                .collect()
        };
        let ips = scope
            .iter()
            .map(on)
            .find(|ips| !ips.is_empty())
            .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ContainerNet, EndpointRec};

    fn ep(net: &str, ip: [u8; 4], name: &str, alias: &str) -> EndpointRec {
        EndpointRec {
            network: net.into(),
            ip: ip.into(),
            name: name.into(),
            aliases: vec![alias.into()],
            veth: "v".into(),
        }
    }

    fn ips(src: &ContainerNames, net: &str, client: [u8; 4], name: &str) -> Vec<String> {
        src.answer(net, client.into(), name, RecordType::A)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.data().as_a().map(|a| a.0.to_string()))
            .collect()
    }

    #[test]
    fn replicas_share_an_alias_and_unshared_networks_hide_names() {
        let mut st = NetState::default();
        let mut add = |id: &str, eps: Vec<EndpointRec>| {
            st.containers.insert(
                id.into(),
                ContainerNet {
                    endpoints: eps,
                    ..Default::default()
                },
            );
        };
        add(
            "a1",
            vec![
                ep("front", [198, 18, 2, 2], "shop-api-1", "api"),
                ep("back", [198, 18, 1, 3], "shop-api-1", "api"),
            ],
        );
        add(
            "a2",
            vec![
                ep("front", [198, 18, 2, 3], "shop-api-2", "api"),
                ep("back", [198, 18, 1, 4], "shop-api-2", "api"),
            ],
        );
        add(
            "w1",
            vec![ep("front", [198, 18, 2, 4], "shop-web-1", "web")],
        );
        add("d1", vec![ep("back", [198, 18, 1, 2], "shop-db-1", "db")]);
        let src = ContainerNames(Arc::new(Mutex::new(st)));
        // web (front only) sees both api replicas on front, and no db.
        assert_eq!(
            ips(&src, "front", [198, 18, 2, 4], "api"),
            ["198.18.2.2", "198.18.2.3"]
        );
        assert!(src
            .answer("front", [198, 18, 2, 4].into(), "db", RecordType::A)
            .is_none());
        // api (both) asking on front finds db on back, and one name is one address.
        assert_eq!(ips(&src, "front", [198, 18, 2, 2], "db"), ["198.18.1.2"]);
        assert_eq!(
            ips(&src, "back", [198, 18, 1, 2], "shop-api-2"),
            ["198.18.1.4"]
        );
    }
}
