//! skiff-agent: one node's reconcile loop.
//!
//! ```text
//! /skiff/allocs/<node>/*  (what the controller placed here)
//!   + Executor::observe()  (containers labelled skiff.alloc on this node)
//!   -> skiff_sched::diff (pure) -> depends_on gate (pure, gate.rs)
//!   -> Executor actions (create/start, drain-aware stop, remove, freeze, thaw)
//!   -> /skiff/status/<alloc>  (AllocReport: status, health, addresses)
//! ```
//!
//! Owns turning allocations into containers and reporting what it sees. It
//! never decides placement and never writes allocations: an exited container
//! is reported (Complete or Failed) and the controller re-places it. The
//! runtime sits behind [`Executor`], which the daemon implements over its
//! engine, images, networks and volumes; registration of healthy instances
//! is the daemon's service agent's job (containers carry their services).

#![forbid(unsafe_code)]

pub mod container;
pub mod gate;
mod reconcile;

pub use reconcile::{pass, report_of, run, AgentConfig};

use skiff_sched::ObservedState;
use skiff_types::{AllocId, ContainerSpec, HealthStatus, NetworkSpec, VolumeSpec};
use std::future::Future;

/// A failed runtime action, with the runtime's message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// A container of this node that belongs to an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub alloc: AllocId,
    pub container: String,
    pub name: String,
    pub spec_hash: u64,
    pub state: ObservedState,
    pub health: Option<HealthStatus>,
    pub addresses: Vec<std::net::IpAddr>,
}

/// What the agent needs from the node's runtime.
pub trait Executor: Send + Sync + 'static {
    /// Every container labelled with an allocation and this node.
    fn observe(&self) -> impl Future<Output = Result<Vec<Observed>, ExecError>> + Send;
    /// Creates the network unless it exists.
    fn ensure_network(
        &self,
        name: &str,
        spec: &NetworkSpec,
        job: &str,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Creates the named volume unless it exists.
    fn ensure_volume(
        &self,
        name: &str,
        spec: &VolumeSpec,
        job: &str,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Creates the container, connects it to `networks` (name, aliases) and
    /// starts it; returns its id. Nothing is left behind on failure.
    fn start(
        &self,
        spec: ContainerSpec,
        networks: Vec<(String, Vec<String>)>,
    ) -> impl Future<Output = Result<String, ExecError>> + Send;
    /// Stops through the daemon's regular (drain-aware) stop path.
    fn stop(&self, container: &str) -> impl Future<Output = Result<(), ExecError>> + Send;
    fn remove(&self, container: &str) -> impl Future<Output = Result<(), ExecError>> + Send;
    fn freeze(&self, container: &str) -> impl Future<Output = Result<(), ExecError>> + Send;
    fn thaw(&self, container: &str) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// A channel bumped whenever what [`Executor::observe`] returns may have
    /// changed (a container started, exited or was paused; a health verdict
    /// changed), so a report follows at once rather than on the next tick.
    /// `None`: the agent relies on its tick alone.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}
