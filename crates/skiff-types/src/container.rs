//! A container as the user asks for it (`ContainerSpec`), as the runtime
//! reports it (`ContainerState`, `ContainerInfo`), and the smaller messages
//! around it (exec requests, stats samples, log streams).

use crate::{
    ContainerId, ContainerStatus, HealthCheck, HealthState, Resources, RestartPolicy, ServiceDecl,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `--network`: `bridge` (the daemon's default bridge, the default), `none` (own namespace,
/// loopback only), `host` (the host's namespace), or the name of a user-defined network.
/// Serialised as the plain string the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum NetworkMode {
    None,
    Host,
    #[default]
    Bridge,
    Named(String),
}

impl NetworkMode {
    /// Whether the container gets an interface on a skiff network (bridge or named).
    pub fn is_bridged(&self) -> bool {
        matches!(self, NetworkMode::Bridge | NetworkMode::Named(_))
    }
}

impl From<String> for NetworkMode {
    fn from(s: String) -> Self {
        match s.as_str() {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "bridge" | "default" | "" => NetworkMode::Bridge,
            _ => NetworkMode::Named(s),
        }
    }
}

impl From<NetworkMode> for String {
    fn from(m: NetworkMode) -> String {
        m.to_string()
    }
}

impl std::fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::Named(n) => f.write_str(n),
        }
    }
}

impl std::str::FromStr for NetworkMode {
    type Err = String;
    /// Any name parses (whether a named network exists is the daemon's question).
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("--network needs a value (none, host, bridge or a network name)".into());
        }
        Ok(NetworkMode::from(s.to_string()))
    }
}

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode", content = "profile")]
pub enum SeccompOption {
    #[default]
    Default,
    Unconfined,
    /// The text of a Docker-format JSON profile (read by the CLI).
    Profile(String),
}

/// What `skiff run` / `create` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    pub name: Option<String>,
    /// A root filesystem directory (`--rootfs DIR`), used read-only under an overlay.
    /// Empty when the container runs an image.
    pub rootfs: String,
    /// `skiff run IMAGE`: the image reference as the user gave it (the daemon resolves it).
    pub image: Option<String>,
    /// The resolved image id (`sha256:<hex>`), filled in by the daemon.
    pub image_id: Option<String>,
    /// The image's read-only layer directories, bottom first, filled in by the daemon;
    /// when non-empty they are the overlay's lower dirs instead of `rootfs`.
    pub rootfs_layers: Vec<String>,
    /// Ports the image exposes (`80/tcp`), recorded for networking to publish.
    pub exposed_ports: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    /// `uid[:gid]` (numeric, or names resolved in the rootfs's /etc/passwd and /etc/group).
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub resources: Resources,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub seccomp: SeccompOption,
    pub read_only: bool,
    pub restart: RestartPolicy,
    pub network: NetworkMode,
    /// `--network-alias`: more names this container answers to on its network's DNS.
    pub network_aliases: Vec<String>,
    /// `-p [IP:]HOST:CONTAINER[/tcp|udp]`, as typed (parsed and checked by the daemon).
    pub publish: Vec<String>,
    /// `-P`: publish every port the image exposes on a free host port.
    pub publish_all: bool,
    /// `--dns`: upstream resolvers for this container (its DNS server forwards to these).
    pub dns: Vec<String>,
    /// `--add-host NAME:IP`: extra /etc/hosts lines.
    pub add_hosts: Vec<String>,
    /// `--rm`: remove the container (state, logs) once it exits.
    pub auto_remove: bool,
    /// `--userns=auto`: run in a user namespace mapped to an unprivileged range.
    pub userns_auto: bool,
    pub labels: BTreeMap<String, String>,
    /// Seconds `stop` waits after the stop signal before SIGKILL (default 10).
    pub stop_timeout: Option<u32>,
    /// `--stop-signal`: what `stop` sends first (`SIGINT`, `TERM`, `2`); the daemon
    /// fills in the image's STOPSIGNAL when none is given; `None`: SIGTERM.
    pub stop_signal: Option<String>,
    /// Volumes, binds and tmpfs mounts (`-v`, `--mount`, `--tmpfs`).
    pub mounts: Vec<crate::MountSpec>,
    /// `--service NAME:PORT[/proto]`: what the registry publishes while healthy.
    pub services: Vec<ServiceDecl>,
    /// `--health-*`, else the image's HEALTHCHECK: the check that gates registration
    /// (None: none).
    pub health: Option<HealthCheck>,
    /// `--no-healthcheck`: ignore the image's HEALTHCHECK.
    pub no_healthcheck: bool,
    /// `--uses SERVICE[:LOCALPORT]`: local forwarders to services (ambassadors).
    pub uses: Vec<crate::UsesSpec>,
}

impl ContainerSpec {
    /// The argv the container runs: entrypoint then cmd, as Docker composes them.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.entrypoint.clone().unwrap_or_default();
        argv.extend(self.cmd.iter().cloned());
        argv
    }
}

/// The runtime's view of one container's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: ContainerStatus,
    /// Host pid of the container's init while it runs, else 0.
    pub pid: i32,
    pub exit_code: i32,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Why the last start failed, if it did.
    pub error: String,
    /// Nanoseconds since the epoch; 0 = never.
    pub started_at: u64,
    pub finished_at: u64,
    /// The user asked it to stop (`stop`/`kill`): restart policies hold off.
    pub stopped_by_user: bool,
    /// The health check's verdict while it runs (filled in by the daemon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthState>,
    /// Who froze it, while `status` is `paused` (absent in records of older daemons: the user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<PauseReason>,
}

/// Why a container is paused: the user's `skiff pause`, or the daemon's batch
/// freezer yielding the CPU to services. Only the freezer's own pauses are
/// ever thawed by the freezer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PauseReason {
    User,
    CpuPressure,
}

impl PauseReason {
    /// As `ps` shows it: "Paused" or "Paused: cpu pressure".
    pub fn label(self) -> &'static str {
        match self {
            PauseReason::User => "Paused",
            PauseReason::CpuPressure => "Paused: cpu pressure",
        }
    }
}

impl ContainerState {
    pub fn created() -> Self {
        ContainerState {
            status: ContainerStatus::Created,
            pid: 0,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: 0,
            finished_at: 0,
            stopped_by_user: false,
            health: None,
            paused_by: None,
        }
    }
}

/// `skiff inspect`: everything the daemon knows about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: ContainerId,
    pub name: String,
    /// Nanoseconds since the epoch.
    pub created: u64,
    pub config: ContainerSpec,
    pub state: ContainerState,
    pub restart_count: u32,
    pub log_path: String,
    pub cgroup: String,
    /// The container's addresses on its networks (bridge or user networks), first the
    /// primary one; empty for `none` and `host`.
    #[serde(default)]
    pub addresses: Vec<std::net::IpAddr>,
}

/// One row of `skiff ps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSummary {
    pub id: ContainerId,
    pub name: String,
    pub command: String,
    pub created: u64,
    pub status: ContainerStatus,
    /// "Up 5 seconds", "Exited (0) 3 seconds ago": computed by the daemon at list time.
    pub status_text: String,
    pub exit_code: i32,
    pub pid: i32,
}

/// `skiff exec` (the container side of it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
}

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One `skiff stats` sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSample {
    pub id: ContainerId,
    pub name: String,
    /// Nanoseconds since the epoch when sampled.
    pub read_at: u64,
    pub cpu_usage_ns: u64,
    pub memory_usage: u64,
    pub memory_limit: Option<u64>,
    pub pids: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_joins_entrypoint_and_cmd() {
        let spec = ContainerSpec {
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: vec!["echo hi".into()],
            ..Default::default()
        };
        assert_eq!(spec.argv(), ["/bin/sh", "-c", "echo hi"]);
    }

    #[test]
    fn spec_json_round_trips_with_defaults() {
        let spec: ContainerSpec =
            serde_json::from_str(r#"{"rootfs":"/r","cmd":["true"]}"#).unwrap();
        assert_eq!(spec.network, NetworkMode::Bridge);
        let named: ContainerSpec = serde_json::from_str(r#"{"network":"backend"}"#).unwrap();
        assert_eq!(named.network, NetworkMode::Named("backend".into()));
        assert_eq!(serde_json::to_value(&named.network).unwrap(), "backend");
        assert_eq!(spec.restart, RestartPolicy::No);
        let back: ContainerSpec =
            serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
        let state = serde_json::to_value(ContainerState::created()).unwrap();
        assert!(state.get("OOMKilled").is_some());
    }
}
