//! Jobs in the store and what the agents report about them: the key layout
//! of the controller/agent flow (see docs DESIGN "one-way flow") and the
//! records under it, plus the API's view of a job for `skiff status`.
//!
//! ```text
//! /skiff/jobs/<job>              JSON JobRecord    written by the API (up, scale, down)
//! /skiff/allocs/<node>/<alloc>   JSON Allocation   written by the controller only
//! /skiff/status/<alloc>          JSON AllocReport  written by the node's agent only
//! ```
//!
//! Only plain values and key helpers live here; the store I/O is in
//! skiff-control and skiff-agent.

use crate::alloc::{AllocStatus, Allocation};
use crate::service::HealthStatus;
use crate::topology::Topology;
use serde::{Deserialize, Serialize};

pub const JOBS: &str = "/skiff/jobs/";
pub const ALLOCS: &str = "/skiff/allocs/";
pub const STATUS: &str = "/skiff/status/";

/// `/skiff/jobs/<job>`.
pub fn job_key(job: &str) -> String {
    format!("{JOBS}{job}")
}

/// `/skiff/allocs/<node>/`: every allocation placed on one node.
pub fn node_allocs_prefix(node: &str) -> String {
    format!("{ALLOCS}{node}/")
}

/// `/skiff/allocs/<node>/<alloc>`.
pub fn alloc_key(node: &str, alloc: &str) -> String {
    format!("{ALLOCS}{node}/{alloc}")
}

/// `/skiff/status/<alloc>`.
pub fn status_key(alloc: &str) -> String {
    format!("{STATUS}{alloc}")
}

/// Labels every container the agent creates carries.
pub mod labels {
    pub const JOB: &str = "skiff.job";
    pub const SERVICE: &str = "skiff.service";
    pub const ALLOC: &str = "skiff.alloc";
    /// `service` or `batch` (the CPU-pressure freezer selects batch).
    pub const CLASS: &str = crate::labels::CLASS;
    pub const PRIORITY: &str = crate::labels::PRIORITY;
    /// The allocation's `spec_hash`, so a changed spec is seen as stale.
    pub const SPEC: &str = "skiff.spec";
    pub const NODE: &str = "skiff.node";
    /// The instance slot (1-based, as Compose numbers containers).
    pub const INSTANCE: &str = "skiff.instance";
}

/// The desired state of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub topology: Topology,
}

/// What an agent last observed of one allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocReport {
    pub status: AllocStatus,
    /// The container's id, once created.
    pub container: Option<String>,
    /// The container's name.
    pub name: Option<String>,
    /// Health verdict, when the service has a check.
    pub health: Option<HealthStatus>,
    pub addresses: Vec<std::net::IpAddr>,
    pub exit_code: Option<i32>,
    /// Why a start failed, if it did.
    pub error: Option<String>,
}

impl AllocReport {
    /// Running and, where a health check exists, healthy.
    pub fn ready(&self) -> bool {
        self.status == AllocStatus::Running
            && self.health.is_none_or(|h| h == HealthStatus::Healthy)
    }
}

/// One instance in `GET /v1/jobs/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceView {
    pub alloc: Allocation,
    pub report: AllocReport,
}

/// One job as `skiff status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub topology: Topology,
    /// Every allocation of the job, on every node.
    pub instances: Vec<InstanceView>,
    /// Instance slots the scheduler finds no node for, once the controller
    /// has nothing left to write (so these stay pending until capacity or
    /// the cluster changes). Absent from older daemons' answers.
    #[serde(default)]
    pub pending: Vec<PendingInstance>,
}

/// An instance slot that no node can take now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInstance {
    pub service: String,
    /// The slot, 0-based (as in allocation ids).
    pub index: u32,
    /// The scheduler's reason, e.g. `no node has 400m cpu free`.
    pub reason: String,
    /// No node is alive at all (a daemon still starting): worth waiting for.
    #[serde(default)]
    pub no_nodes: bool,
}

impl JobView {
    /// Every service has its wanted replicas running the current spec, ready
    /// (healthy where checked) or, for batch work, complete.
    pub fn converged(&self) -> bool {
        self.topology.services.values().all(|s| {
            let want = s.wanted_replicas(&self.topology) as usize;
            let hash = s.fingerprint();
            let ok = self
                .instances
                .iter()
                .filter(|i| i.alloc.service == s.name && i.alloc.spec_hash == hash)
                .filter(|i| i.alloc.desired != crate::alloc::DesiredState::Stop)
                .filter(|i| i.report.ready() || i.report.status == AllocStatus::Complete)
                .count();
            ok >= want
        })
    }
}

/// `POST /v1/jobs/NAME/scale`: new replica counts by service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScaleRequest {
    pub replicas: std::collections::BTreeMap<String, u32>,
}
