//! From an allocation to the container that runs it (pure): the
//! `ContainerSpec` with skiff's labels, and the job-scoped names of networks
//! and volumes, prefixed with the job as Compose prefixes with the project
//! (`<job>_default`, `<job>_<volume>`).

use skiff_types::job::labels;
use skiff_types::{
    Allocation, ContainerSpec, JobClass, MountKind, MountSpec, MountType, NetworkMode, Proto,
    ServiceDecl, ServiceSpec, Topology, UsesSpec,
};

/// The network every service without `networks` joins.
pub const DEFAULT_NETWORK: &str = "default";

/// `<job>_<network>`.
pub fn network_name(job: &str, net: &str) -> String {
    format!("{job}_{net}")
}

/// `<job>_<volume>` for a named volume the topology declares or mounts.
pub fn volume_name(job: &str, vol: &str) -> String {
    format!("{job}_{vol}")
}

/// The networks a service joins (topology names, not prefixed).
pub fn service_networks(svc: &ServiceSpec) -> Vec<String> {
    if svc.networks.is_empty() {
        vec![DEFAULT_NETWORK.to_string()]
    } else {
        svc.networks.clone()
    }
}

/// The image a service runs (a `build` without `image` is tagged `<job>-<service>`).
pub fn image_of(job: &str, svc: &ServiceSpec) -> String {
    svc.image
        .clone()
        .unwrap_or_else(|| format!("{job}-{}", svc.name))
}

/// `<job>-<service>-<n>`, n counting from 1 as Compose does.
pub fn container_name(a: &Allocation) -> String {
    format!("{}-{}-{}", a.job, a.service, a.index + 1)
}

/// The container for `a` (an instance of `svc` in `topo`) on `node`, and the
/// further networks (after the first, which is its `network`) to connect
/// before it starts, each with its aliases.
pub fn container_spec(
    topo: &Topology,
    svc: &ServiceSpec,
    a: &Allocation,
    node: &str,
) -> (ContainerSpec, Vec<(String, Vec<String>)>) {
    let job = &topo.name;
    let nets: Vec<String> = service_networks(svc)
        .iter()
        .map(|n| network_name(job, n))
        .collect();
    let aliases = vec![svc.name.clone()];
    let mut spec = ContainerSpec {
        name: Some(container_name(a)),
        image: Some(image_of(job, svc)),
        entrypoint: svc.entrypoint.clone(),
        cmd: svc.command.clone().unwrap_or_default(),
        env: svc.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        restart: svc.restart,
        network: NetworkMode::Named(nets[0].clone()),
        network_aliases: aliases.clone(),
        health: svc.healthcheck.clone(),
        no_healthcheck: svc.no_healthcheck,
        labels: svc.labels.clone(),
        // Every stop of this container (down, scale-down, replacement) sends
        // this signal (None: the image's STOPSIGNAL, else SIGTERM) and waits
        // the grace period, in whole seconds as the runtime counts them
        // (rounded up, so a 500ms grace still gives the signal a chance).
        stop_signal: svc.stop_signal.clone(),
        stop_timeout: svc
            .stop_grace_ms
            .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)),
        // `uses = ["db"]`: 127.0.0.1:<db's port> in the container forwards to db.
        uses: svc
            .uses
            .iter()
            .map(|u| UsesSpec {
                service: u.clone(),
                local_port: None,
            })
            .collect(),
        ..Default::default()
    };
    spec.resources.memory = svc.resources.memory;
    spec.resources.nano_cpus = svc.resources.cpu_milli.map(|m| m * 1_000_000);
    for p in &svc.ports {
        let host = p.host.map(|h| h.to_string()).unwrap_or_default();
        let ip = p.host_ip.map(|ip| format!("{ip}:")).unwrap_or_default();
        spec.publish
            .push(format!("{ip}{host}:{}/{}", p.container, p.proto));
    }
    spec.exposed_ports = svc.expose.iter().map(|p| format!("{p}/tcp")).collect();
    spec.mounts = svc
        .volumes
        .iter()
        .map(|m| mount(job, m))
        .chain(svc.files.iter().map(|f| MountSpec {
            kind: MountType::Bind,
            source: f.source.clone(),
            target: f.target.clone(),
            read_only: true,
            ..Default::default()
        }))
        .collect();
    if skiff_types::is_service_name(&svc.name) {
        let mut ports: Vec<(u16, Proto)> = svc
            .ports
            .iter()
            .map(|p| (p.container, p.proto))
            .chain(svc.expose.iter().map(|p| (*p, Proto::Tcp)))
            // An `lb` section forwards to this port: it must be registered.
            .chain(svc.lb.iter().map(|lb| (lb.port, Proto::Tcp)))
            .collect();
        ports.sort_by_key(|(p, proto)| (*p, *proto as u8));
        ports.dedup();
        spec.services = ports
            .into_iter()
            .map(|(port, proto)| ServiceDecl {
                name: svc.name.clone(),
                port,
                proto,
                tags: vec![format!("job={job}")],
            })
            .collect();
    }
    let class = match a.class {
        JobClass::Service => "service",
        JobClass::Batch => "batch",
    };
    for (k, v) in [
        (labels::JOB, job.clone()),
        (labels::SERVICE, svc.name.clone()),
        (labels::ALLOC, a.id.to_string()),
        (labels::CLASS, class.to_string()),
        (labels::PRIORITY, a.priority.to_string()),
        (labels::SPEC, a.spec_hash.to_string()),
        (labels::NODE, node.to_string()),
        (labels::INSTANCE, (a.index + 1).to_string()),
    ] {
        spec.labels.insert(k.to_string(), v);
    }
    let extra = nets[1..]
        .iter()
        .map(|n| (n.clone(), aliases.clone()))
        .collect();
    (spec, extra)
}

fn mount(job: &str, m: &skiff_types::ServiceMount) -> MountSpec {
    let (kind, source) = match m.kind {
        MountKind::Volume if m.source.is_empty() => (MountType::Volume, String::new()),
        MountKind::Volume => (MountType::Volume, volume_name(job, &m.source)),
        MountKind::Bind => (MountType::Bind, m.source.clone()),
        MountKind::Tmpfs => (MountType::Tmpfs, String::new()),
    };
    MountSpec {
        kind,
        source,
        target: m.target.clone(),
        read_only: m.read_only,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::{AllocId, AllocStatus, Capacity, DesiredState, PortSpec, ServiceMount};

    fn alloc() -> Allocation {
        Allocation {
            id: AllocId::new("shop", "web", 1, 3),
            job: "shop".into(),
            service: "web".into(),
            index: 1,
            generation: 3,
            node: "n1".into(),
            resources: Capacity::default(),
            class: JobClass::Batch,
            priority: 7,
            spec_hash: 42,
            desired: DesiredState::Run,
            status: AllocStatus::Pending,
        }
    }

    #[test]
    fn labels_names_networks_and_services() {
        let svc = ServiceSpec {
            name: "web".into(),
            image: Some("busybox".into()),
            networks: vec!["front".into(), "back".into()],
            ports: vec![PortSpec {
                host_ip: None,
                host: Some(8080),
                container: 80,
                proto: Proto::Tcp,
            }],
            expose: vec![80, 9000],
            volumes: vec![ServiceMount {
                kind: MountKind::Volume,
                source: "data".into(),
                target: "/data".into(),
                read_only: false,
            }],
            stop_signal: Some("SIGINT".into()),
            stop_grace_ms: Some(1500),
            no_healthcheck: true,
            ..Default::default()
        };
        let topo = Topology {
            name: "shop".into(),
            ..Default::default()
        };
        let (spec, extra) = container_spec(&topo, &svc, &alloc(), "n1");
        assert_eq!(spec.name.as_deref(), Some("shop-web-2"));
        assert_eq!(spec.network, NetworkMode::Named("shop_front".into()));
        assert_eq!(
            extra,
            vec![("shop_back".to_string(), vec!["web".to_string()])]
        );
        assert_eq!(spec.publish, vec!["8080:80/tcp".to_string()]);
        assert_eq!(spec.mounts[0].source, "shop_data");
        let ports: Vec<u16> = spec.services.iter().map(|d| d.port).collect();
        assert_eq!(ports, vec![80, 9000]);
        assert_eq!(spec.labels[labels::CLASS], "batch");
        assert_eq!(spec.labels[labels::PRIORITY], "7");
        assert_eq!(spec.labels[labels::ALLOC], "shop.web.1.3");
        assert_eq!(spec.labels[labels::SPEC], "42");
        assert_eq!(spec.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(spec.stop_timeout, Some(2), "1.5 s rounds up");
        assert!(spec.no_healthcheck, "not even the image's");
    }

    #[test]
    fn underscore_services_are_not_registered() {
        let svc = ServiceSpec {
            name: "my_db".into(),
            expose: vec![5432],
            ..Default::default()
        };
        let topo = Topology {
            name: "j".into(),
            ..Default::default()
        };
        let (spec, _) = container_spec(&topo, &svc, &alloc(), "n1");
        assert!(spec.services.is_empty());
        assert_eq!(spec.image.as_deref(), Some("j-my_db"));
        assert_eq!((spec.stop_signal, spec.stop_timeout), (None, None));
    }
}
