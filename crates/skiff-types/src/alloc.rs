//! Nodes and allocations: what the controller stores under
//! `/skiff/nodes/<node>` and `/skiff/allocs/<node>/<alloc>`, and what the
//! scheduler reads in a snapshot.
//!
//! An allocation is one instance of one service of one job, bound to a node.
//! Its `desired` state is written by the controller (from a plan); its
//! `status` is what the agent last observed. Revisions come from the store.

use crate::topology::JobClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A store revision (etcd's mod revision, or the embedded store's counter).
pub type Revision = u64;

/// What a node offers: milli-CPUs and bytes of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct Capacity {
    pub cpu_milli: u64,
    pub memory: u64,
}

impl Capacity {
    pub fn new(cpu_milli: u64, memory: u64) -> Self {
        Capacity { cpu_milli, memory }
    }

    pub fn fits(&self, need: &Capacity) -> bool {
        need.cpu_milli <= self.cpu_milli && need.memory <= self.memory
    }

    pub fn saturating_sub(&self, o: &Capacity) -> Capacity {
        Capacity::new(
            self.cpu_milli.saturating_sub(o.cpu_milli),
            self.memory.saturating_sub(o.memory),
        )
    }

    pub fn add(&self, o: &Capacity) -> Capacity {
        Capacity::new(
            self.cpu_milli.saturating_add(o.cpu_milli),
            self.memory.saturating_add(o.memory),
        )
    }
}

/// One host in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub capacity: Capacity,
    pub labels: BTreeMap<String, String>,
    /// False once the node's lease is gone.
    pub alive: bool,
}

/// `<job>.<service>.<index>.<generation>`: unique across replacements of the
/// same instance slot, so a replacement never reuses a stopped alloc's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AllocId(pub String);

impl AllocId {
    pub fn new(job: &str, service: &str, index: u32, generation: u32) -> Self {
        AllocId(format!("{job}.{service}.{index}.{generation}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AllocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the controller wants for an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    #[default]
    Run,
    /// Frozen to give its CPU to higher-priority work (batch only).
    Suspend,
    Stop,
}

/// What the agent last saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllocStatus {
    /// Placed, not yet started.
    #[default]
    Pending,
    Running,
    /// Frozen.
    Suspended,
    /// Exited 0 (batch work done; it is not placed again).
    Complete,
    /// Exited non-zero and will not be restarted in place.
    Failed,
    /// Stopped on purpose.
    Stopped,
}

impl AllocStatus {
    /// Whether the allocation still occupies its node.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            AllocStatus::Pending | AllocStatus::Running | AllocStatus::Suspended
        )
    }
}

/// One instance of one service, bound to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub id: AllocId,
    pub job: String,
    pub service: String,
    /// The instance slot, 0..replicas.
    pub index: u32,
    /// Bumped each time the slot is re-placed.
    pub generation: u32,
    pub node: String,
    pub resources: Capacity,
    pub class: JobClass,
    pub priority: i32,
    /// `ServiceSpec::fingerprint` of the spec this instance runs.
    pub spec_hash: u64,
    pub desired: DesiredState,
    pub status: AllocStatus,
}

impl Allocation {
    /// What the allocation charges its node: a suspended (frozen) instance
    /// keeps its memory but gives up its CPU.
    pub fn charge(&self) -> Capacity {
        if !self.status.is_live() || self.desired == DesiredState::Stop {
            return Capacity::default();
        }
        if self.desired == DesiredState::Suspend || self.status == AllocStatus::Suspended {
            Capacity::new(0, self.resources.memory)
        } else {
            self.resources
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspended_allocs_keep_memory_only() {
        let mut a = Allocation {
            id: AllocId::new("j", "batch", 0, 1),
            job: "j".into(),
            service: "batch".into(),
            index: 0,
            generation: 1,
            node: "n1".into(),
            resources: Capacity::new(500, 1 << 20),
            class: JobClass::Batch,
            priority: 0,
            spec_hash: 0,
            desired: DesiredState::Run,
            status: AllocStatus::Running,
        };
        assert_eq!(a.id.as_str(), "j.batch.0.1");
        assert_eq!(a.charge(), Capacity::new(500, 1 << 20));
        a.desired = DesiredState::Suspend;
        assert_eq!(a.charge(), Capacity::new(0, 1 << 20));
        a.status = AllocStatus::Complete;
        assert_eq!(a.charge(), Capacity::default());
        assert!(Capacity::new(2, 2).fits(&Capacity::new(2, 1)));
        assert!(!Capacity::new(2, 2).fits(&Capacity::new(3, 1)));
    }
}
