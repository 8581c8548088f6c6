//! A topology: the typed, validated form of a `skiff.toml` or a set of
//! Compose files. skiff-spec produces it (and is the only room that parses
//! files); the scheduler, the controller and the agent consume it.
//!
//! Everything here is already resolved: environment overlays applied, `.env`
//! interpolation done, `env_file`s read into `env`, sizes in bytes, cpus in
//! milli-CPUs, durations in milliseconds. A `Topology` that exists is valid:
//! references (`depends_on`, `with`, `uses`) name services in it and contain no
//! cycles.

use crate::restart::RestartPolicy;
use crate::service::{HealthCheck, Proto};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole topology (one job): services plus the named volumes and networks
/// they share.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Topology {
    /// The job name (the project name in Compose terms).
    pub name: String,
    pub services: BTreeMap<String, ServiceSpec>,
    pub volumes: BTreeMap<String, VolumeSpec>,
    pub networks: BTreeMap<String, NetworkSpec>,
}

/// One service: what to run, how many, where, and how it is wired.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    /// The image to run; with `build` set it is the tag the build produces.
    pub image: Option<String>,
    pub build: Option<BuildSpec>,
    /// Replaces the image's CMD.
    pub command: Option<Vec<String>>,
    /// Replaces the image's ENTRYPOINT.
    pub entrypoint: Option<Vec<String>>,
    /// Final environment (`env_file` contents overridden by `env`).
    pub env: BTreeMap<String, String>,
    pub replicas: u32,
    pub resources: ServiceResources,
    pub ports: Vec<PortSpec>,
    /// Ports offered to other services only (Compose `expose`).
    pub expose: Vec<u16>,
    pub volumes: Vec<ServiceMount>,
    pub networks: Vec<String>,
    pub healthcheck: Option<HealthCheck>,
    /// No health check at all, not even the image's HEALTHCHECK (Compose
    /// `disable: true` / `test: ["NONE"]`).
    #[serde(default)]
    pub no_healthcheck: bool,
    pub depends_on: BTreeMap<String, DependsCondition>,
    pub restart: RestartPolicy,
    /// Services this one reaches through a local ambassador.
    pub uses: Vec<String>,
    pub lb: Option<LbSpec>,
    pub class: JobClass,
    /// Higher wins; see skiff-sched for the preemption rule.
    pub priority: i32,
    pub placement: Placement,
    pub labels: BTreeMap<String, String>,
    /// Compose `configs`/`secrets` and skiff `files`: host files mounted read-only.
    pub files: Vec<FileMount>,
    pub profiles: Vec<String>,
    /// The signal every stop sends first (`SIGINT`, `TERM`, `15`); `None`: the
    /// image's STOPSIGNAL, else SIGTERM.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// How long a stop waits after that signal before SIGKILL (ms); `None`: 10 s.
    #[serde(default)]
    pub stop_grace_ms: Option<u64>,
}

/// How to build the image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildSpec {
    pub context: String,
    /// The Dockerfile/Containerfile, relative to the context; `None` = default.
    pub file: Option<String>,
    pub args: BTreeMap<String, String>,
}

/// What a service may use on its node (limits, applied to its containers)
/// and what it reserves there (what the scheduler charges the node).
///
/// As in Kubernetes (requests default to limits) and Compose
/// (`deploy.resources.reservations` beside `limits`), a dimension without a
/// reservation reserves its limit; one with neither reserves nothing.
/// skiff.toml's `resources = { cpus, memory }` sets the limits, so it is
/// also the charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceResources {
    pub memory: Option<u64>,
    /// Thousandths of a CPU (`cpus = 0.5` = 500).
    pub cpu_milli: Option<u64>,
    /// Compose `reservations.memory` / `mem_reservation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_memory: Option<u64>,
    /// Compose `reservations.cpus`, in milli-CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_cpu_milli: Option<u64>,
}

impl ServiceResources {
    /// What one instance charges its node: the reservation, else the limit,
    /// else nothing.
    pub fn charge(&self) -> crate::alloc::Capacity {
        crate::alloc::Capacity::new(
            self.reserve_cpu_milli.or(self.cpu_milli).unwrap_or(0),
            self.reserve_memory.or(self.memory).unwrap_or(0),
        )
    }
}

/// A published port: `host_ip:host:container/proto`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub host_ip: Option<std::net::IpAddr>,
    /// `None` = an ephemeral host port.
    pub host: Option<u16>,
    pub container: u16,
    pub proto: Proto,
}

/// A mount into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMount {
    pub kind: MountKind,
    /// Volume name, host path (bind) or empty (anonymous volume, tmpfs).
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
}

/// A host file mounted read-only (configs and secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMount {
    /// As written: relative to the topology's directory until the CLI makes
    /// it absolute (as it does a bind mount's source).
    pub source: String,
    pub target: String,
}

/// When a dependency counts as ready (Compose's `condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependsCondition {
    /// `service_started`: the dependency's containers are running.
    #[default]
    Started,
    /// `service_healthy`: its health check passes.
    Healthy,
    /// `service_completed_successfully`: it ran and exited 0.
    Completed,
}

/// A service exposed on a host port through skiff's proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LbSpec {
    pub listen: std::net::SocketAddr,
    pub mode: LbMode,
    /// The service port the proxy forwards to.
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LbMode {
    #[default]
    Http,
    Tcp,
}

/// Long-running service or run-to-completion batch work. Batch yields to
/// service: it may be suspended (frozen) to make CPU room.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum JobClass {
    #[default]
    Service,
    Batch,
}

/// Where instances may go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Placement {
    /// At most this many instances of the service on one node.
    pub spread: Option<u32>,
    /// One instance beside each instance of this service, on the same node;
    /// the replica count follows that service's.
    pub with: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub driver: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

impl ServiceSpec {
    /// A stable 64-bit fingerprint of everything that, when changed, means the
    /// running instances must be replaced. The replica count is left out:
    /// scaling adds or removes instances but does not roll the others.
    pub fn fingerprint(&self) -> u64 {
        let mut copy = self.clone();
        copy.replicas = 0;
        // BTreeMaps and Vecs serialise in a fixed order, so the bytes are stable.
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        fnv1a(&bytes)
    }

    /// The replica count the scheduler should place: a `with` service has one
    /// instance per instance of its partner.
    pub fn wanted_replicas(&self, topo: &Topology) -> u32 {
        match &self.placement.with {
            Some(partner) => topo
                .services
                .get(partner)
                .map(|p| p.wanted_replicas_depth(topo, 0))
                .unwrap_or(0),
            None => self.replicas,
        }
    }

    fn wanted_replicas_depth(&self, topo: &Topology, depth: usize) -> u32 {
        match (&self.placement.with, depth < topo.services.len()) {
            (Some(p), true) => topo
                .services
                .get(p)
                .map(|s| s.wanted_replicas_depth(topo, depth + 1))
                .unwrap_or(0),
            (Some(_), false) => 0,
            (None, _) => self.replicas,
        }
    }
}

/// FNV-1a, 64 bit: small, stable across releases and platforms.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, replicas: u32, with: Option<&str>) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            replicas,
            placement: Placement {
                spread: None,
                with: with.map(str::to_string),
            },
            ..Default::default()
        }
    }

    #[test]
    fn fingerprint_ignores_replicas_only() {
        let a = svc("web", 1, None);
        let mut b = svc("web", 5, None);
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.image = Some("nginx".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn with_follows_partner_replicas() {
        let mut t = Topology::default();
        t.services.insert("web".into(), svc("web", 3, None));
        t.services.insert("mon".into(), svc("mon", 1, Some("web")));
        t.services.insert("log".into(), svc("log", 1, Some("mon")));
        assert_eq!(t.services["mon"].wanted_replicas(&t), 3);
        assert_eq!(t.services["log"].wanted_replicas(&t), 3);
        // A cycle (which skiff-spec refuses) still terminates.
        t.services.insert("a".into(), svc("a", 1, Some("b")));
        t.services.insert("b".into(), svc("b", 1, Some("a")));
        assert_eq!(t.services["a"].wanted_replicas(&t), 0);
    }
}
