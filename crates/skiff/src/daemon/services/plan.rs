//! Pure decisions of the service agent: which instances a container should
//! have registered right now, where they are reached, and the writes that
//! bring the registry from what it holds to that.

use skiff_types::{ContainerInfo, ContainerStatus, HealthStatus, Instance, NetworkMode};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// THE address other containers and proxies reach a container's services
/// at: its primary network address (bridge or a user network); 127.0.0.1 for
/// `--network host`; none for `--network none` (nothing can reach it).
pub fn instance_addr(info: &ContainerInfo) -> Option<IpAddr> {
    match info.config.network {
        NetworkMode::Host => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        NetworkMode::None => None,
        NetworkMode::Bridge | NetworkMode::Named(_) => info.addresses.first().copied(),
    }
}

/// `<container id>-<port>`: unique per container and port.
pub fn instance_id(info: &ContainerInfo, port: u16) -> String {
    format!("{}-{port}", info.id)
}

/// A container's instances if it should be registered now: running, with
/// an address, and healthy (or without a health check).
pub fn desired_instances(
    info: &ContainerInfo,
    health: Option<HealthStatus>,
    node: &str,
) -> Vec<Instance> {
    let serving = info.state.status == ContainerStatus::Running
        && match (&info.config.health, health) {
            (None, _) => true,
            (Some(_), Some(HealthStatus::Healthy)) => true,
            (Some(_), _) => false,
        };
    let Some(addr) = instance_addr(info).filter(|_| serving) else {
        return Vec::new();
    };
    let name = info.name.trim_start_matches('/').to_owned();
    info.config
        .services
        .iter()
        .map(|decl| Instance {
            id: instance_id(info, decl.port),
            service: decl.name.clone(),
            node: node.to_owned(),
            addr,
            port: decl.port,
            proto: decl.proto,
            tags: decl.tags.clone(),
            meta: BTreeMap::from([
                ("container".to_owned(), info.id.to_string()),
                ("name".to_owned(), name.clone()),
            ]),
        })
        .collect()
}

/// `(service, id)`: an instance's identity in the registry.
pub type InstanceKey = (String, String);

pub fn key(i: &Instance) -> InstanceKey {
    (i.service.clone(), i.id.clone())
}

/// The writes that turn `actual` into `desired`: puts of new or changed
/// instances, deletes of the rest.
pub fn diff(
    desired: &BTreeMap<InstanceKey, Instance>,
    actual: &BTreeMap<InstanceKey, Instance>,
) -> (Vec<Instance>, Vec<InstanceKey>) {
    let puts = desired
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(_, v)| v.clone())
        .collect();
    let keep: BTreeSet<&InstanceKey> = desired.keys().collect();
    let deletes = actual
        .keys()
        .filter(|k| !keep.contains(k))
        .cloned()
        .collect();
    (puts, deletes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::{
        ContainerId, ContainerSpec, ContainerState, HealthCheck, HealthProbe, ServiceDecl,
    };

    fn info(network: NetworkMode, health: bool, status: ContainerStatus) -> ContainerInfo {
        let mut state = ContainerState::created();
        state.status = status;
        ContainerInfo {
            id: ContainerId::from_bytes([7; 32]),
            name: "/web1".into(),
            created: 0,
            config: ContainerSpec {
                network,
                services: vec![
                    ServiceDecl {
                        name: "web".into(),
                        port: 80,
                        tags: vec!["v1".into()],
                        ..Default::default()
                    },
                    ServiceDecl {
                        name: "admin".into(),
                        port: 9000,
                        ..Default::default()
                    },
                ],
                health: health.then(|| HealthCheck::with_defaults(HealthProbe::Tcp { port: 80 })),
                ..Default::default()
            },
            state,
            restart_count: 0,
            log_path: String::new(),
            cgroup: String::new(),
            addresses: vec!["198.18.0.7".parse().unwrap()],
        }
    }

    #[test]
    fn registered_only_while_running_and_healthy() {
        use ContainerStatus::*;
        use HealthStatus::*;
        let h = NetworkMode::Host;
        assert_eq!(
            desired_instances(&info(h.clone(), false, Running), None, "n").len(),
            2
        );
        assert!(desired_instances(&info(h.clone(), true, Running), None, "n").is_empty());
        assert!(desired_instances(&info(h.clone(), true, Running), Some(Starting), "n").is_empty());
        assert!(
            desired_instances(&info(h.clone(), true, Running), Some(Unhealthy), "n").is_empty()
        );
        assert_eq!(
            desired_instances(&info(h.clone(), true, Running), Some(Healthy), "n").len(),
            2
        );
        for s in [Paused, Exited, Restarting, Created, Dead] {
            assert!(desired_instances(&info(h.clone(), false, s), None, "n").is_empty());
        }
        assert!(
            desired_instances(&info(NetworkMode::None, false, Running), None, "n").is_empty(),
            "no routable address, nothing to publish"
        );
    }

    #[test]
    fn instances_carry_identity_address_and_tags() {
        let i = &desired_instances(
            &info(NetworkMode::Host, false, ContainerStatus::Running),
            None,
            "n1",
        )[0];
        assert_eq!(i.id, format!("{}-80", ContainerId::from_bytes([7; 32])));
        assert_eq!(
            (i.service.as_str(), i.port, i.node.as_str()),
            ("web", 80, "n1")
        );
        assert_eq!(i.addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(i.tags, ["v1"]);
        assert_eq!(i.meta["name"], "web1");
    }

    #[test]
    fn diff_puts_new_and_changed_and_deletes_the_rest() {
        let mk = |id: &str, port: u16| {
            let mut i = desired_instances(
                &info(NetworkMode::Host, false, ContainerStatus::Running),
                None,
                "n",
            )[0]
            .clone();
            i.id = id.into();
            i.port = port;
            (key(&i), i)
        };
        let desired: BTreeMap<_, _> = [mk("a", 1), mk("b", 2)].into();
        let actual: BTreeMap<_, _> = [mk("b", 3), mk("c", 1)].into();
        let (puts, deletes) = diff(&desired, &actual);
        let ids: Vec<&str> = puts.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(deletes, [("web".to_string(), "c".to_string())]);
        let (puts, deletes) = diff(&desired, &desired);
        assert!(puts.is_empty() && deletes.is_empty(), "idempotent");
    }
}
