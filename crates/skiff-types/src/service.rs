//! Services as the registry publishes them: what a container declares
//! (`ServiceDecl`, `HealthCheck`), one healthy instance (`Instance`) and the
//! typed update stream every watcher consumes (`ServiceUpdate`).
//!
//! The registry (skiff-registry) writes instances under
//! `/skiff/services/<service>/<instance id>`; load balancers, the ambassador,
//! DNS and the CLI read them only through `ServiceUpdate`s, which always begin
//! with a `Reset` carrying the full set at a store revision.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Transport of a service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// `--service NAME:PORT[/proto] [--tag T]`: a container offers `port` as `name`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceDecl {
    pub name: String,
    pub port: u16,
    pub proto: Proto,
    pub tags: Vec<String>,
}

/// How an instance proves it is healthy (Docker's HEALTHCHECK semantics plus
/// HTTP and TCP probes run by the daemon from the host side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum HealthProbe {
    /// Run inside the container (`--health-cmd`); exit 0 = healthy.
    Cmd { argv: Vec<String> },
    /// `GET path` on the service port answers 2xx/3xx.
    Http { path: String, port: u16 },
    /// A TCP connect to the port succeeds.
    Tcp { port: u16 },
}

/// A health check and its timing (milliseconds; Docker's defaults: 30 s
/// interval, 30 s timeout, 3 retries, 0 start period, 5 s start interval).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub probe: HealthProbe,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub retries: u32,
    pub start_period_ms: u64,
    /// Time between probes while the start period lasts and no probe has
    /// passed yet (Docker Engine 25's `StartInterval`, Compose's
    /// `start_interval`); records from before the field read Docker's 5 s.
    #[serde(default = "default_start_interval_ms")]
    pub start_interval_ms: u64,
}

/// Whether `name` can name a registry service: one DNS label, 1-63 of
/// `[a-z0-9-]`, not starting or ending with `-` (so `NAME.skiff` resolves as
/// written).
pub fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Docker's default start interval (5 s).
pub const DEFAULT_START_INTERVAL_MS: u64 = 5_000;

fn default_start_interval_ms() -> u64 {
    DEFAULT_START_INTERVAL_MS
}

impl HealthCheck {
    /// Docker's defaults around `probe`: 30 s interval, 30 s timeout,
    /// 3 retries, no start period, 5 s start interval.
    pub fn with_defaults(probe: HealthProbe) -> Self {
        Self {
            probe,
            interval_ms: 30_000,
            timeout_ms: 30_000,
            retries: 3,
            start_period_ms: 0,
            start_interval_ms: DEFAULT_START_INTERVAL_MS,
        }
    }
}

/// Where a container stands with its health check (Docker's `State.Health.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No verdict yet (within the start period, or before the first success).
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HealthStatus::Starting => "health: starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        })
    }
}

/// One probe run as `inspect` shows it (Docker's `State.Health.Log[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthLogEntry {
    /// Nanoseconds since the epoch.
    pub start: u64,
    pub end: u64,
    /// 0 = success; -1 = the probe timed out or could not run.
    pub exit_code: i32,
    /// The first 4 KiB of the probe's output, or why it failed.
    pub output: String,
}

/// A container's health as `inspect` shows it (Docker's `State.Health`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthState {
    pub status: HealthStatus,
    pub failing_streak: u32,
    /// The last few probe runs, oldest first.
    pub log: Vec<HealthLogEntry>,
}

/// One healthy instance of a service, as stored under
/// `/skiff/services/<service>/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Unique per instance (the container id, or `<alloc>` for topologies).
    pub id: String,
    pub service: String,
    /// The node (host) that runs it.
    pub node: String,
    /// Address other containers and proxies connect to.
    pub addr: std::net::IpAddr,
    pub port: u16,
    pub proto: Proto,
    pub tags: Vec<String>,
    pub meta: BTreeMap<String, String>,
}

impl Instance {
    pub fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.addr, self.port)
    }
}

/// `GET /v1/services/{name}`: one service's healthy instances at a revision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceInfo {
    pub name: String,
    pub revision: u64,
    pub instances: Vec<Instance>,
}

/// `GET /v1/services`: every service with at least one healthy instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceList {
    pub revision: u64,
    pub services: Vec<ServiceInfo>,
}

/// What a watcher of one service receives. The first message of every stream
/// is a `Reset`; after it, each `Add`/`Remove` is delivered exactly once, in
/// revision order. A later `Reset` (after a compaction or reconnect) replaces
/// the watcher's whole view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum ServiceUpdate {
    Reset {
        revision: u64,
        instances: Vec<Instance>,
    },
    Add {
        revision: u64,
        instance: Instance,
    },
    Remove {
        revision: u64,
        id: String,
    },
}

impl ServiceUpdate {
    pub fn revision(&self) -> u64 {
        match self {
            ServiceUpdate::Reset { revision, .. }
            | ServiceUpdate::Add { revision, .. }
            | ServiceUpdate::Remove { revision, .. } => *revision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_json_is_tagged_and_round_trips() {
        let u = ServiceUpdate::Remove {
            revision: 7,
            id: "abc".into(),
        };
        let text = serde_json::to_string(&u).unwrap();
        assert_eq!(text, r#"{"type":"remove","revision":7,"id":"abc"}"#);
        let back: ServiceUpdate = serde_json::from_str(&text).unwrap();
        assert_eq!(back, u);
        assert_eq!(back.revision(), 7);
    }
}
