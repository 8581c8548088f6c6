//! The scheduler's input (`Snapshot`) and output (`Plan`), and `apply`, the
//! pure function that writes a plan into a snapshot the way the controller's
//! applier writes it into the store.

use skiff_types::{AllocId, AllocStatus, Allocation, DesiredState, Node};
use std::collections::HashMap;

/// A read-only view of the cluster at one store revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub nodes: Vec<Node>,
    /// Allocations of every job (other jobs' allocations still use capacity).
    pub allocs: Vec<Allocation>,
}

/// Why an allocation is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StopReason {
    /// Its node is dead or gone; the slot is placed again elsewhere.
    NodeLost,
    /// The service left the topology.
    Removed,
    /// Its index is beyond the wanted replica count.
    ScaledDown,
    /// The service's spec changed; a new generation replaces it.
    SpecChanged,
    /// Another live allocation holds the same slot.
    Duplicate,
    /// More instances on its node than `spread` allows.
    SpreadExceeded,
    /// Its `with` partner is not (or no longer) on the same node.
    PartnerMoved,
}

/// Why an instance slot could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplaceable {
    /// No alive node has the free cpu/memory within the spread limit.
    NoCapacity { service: String, index: u32 },
    /// The `with` partner's instance has no node.
    PartnerUnplaced {
        service: String,
        index: u32,
        partner: String,
    },
    /// The partner's node lacks room for this instance.
    PartnerNodeFull {
        service: String,
        index: u32,
        node: String,
    },
}

/// What to change. A plan on a snapshot where nothing needs changing has no
/// `place`, `stop`, `suspend` or `resume` entries (`is_noop`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub place: Vec<Allocation>,
    pub stop: Vec<(AllocId, StopReason)>,
    /// Lower-priority batch allocations to freeze for a higher-priority one.
    pub suspend: Vec<AllocId>,
    /// Suspended allocations whose CPU is free again.
    pub resume: Vec<AllocId>,
    /// Live allocations of the job left as they are.
    pub keep: Vec<AllocId>,
    pub unplaceable: Vec<Unplaceable>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.place.is_empty()
            && self.stop.is_empty()
            && self.suspend.is_empty()
            && self.resume.is_empty()
    }
}

/// The snapshot as it reads once the plan is written and acted on: stopped
/// allocations are gone, suspended ones frozen, resumed ones running, new ones
/// running.
pub fn apply(snapshot: &Snapshot, plan: &Plan) -> Snapshot {
    let stop: HashMap<&AllocId, ()> = plan.stop.iter().map(|(id, _)| (id, ())).collect();
    let suspend: HashMap<&AllocId, ()> = plan.suspend.iter().map(|id| (id, ())).collect();
    let resume: HashMap<&AllocId, ()> = plan.resume.iter().map(|id| (id, ())).collect();
    let mut allocs: Vec<Allocation> = snapshot
        .allocs
        .iter()
        .filter(|a| !stop.contains_key(&a.id))
        .cloned()
        .map(|mut a| {
            if suspend.contains_key(&a.id) {
                a.desired = DesiredState::Suspend;
                a.status = AllocStatus::Suspended;
            } else if resume.contains_key(&a.id) {
                a.desired = DesiredState::Run;
                a.status = AllocStatus::Running;
            }
            a
        })
        .collect();
    allocs.extend(plan.place.iter().cloned().map(|mut a| {
        a.status = AllocStatus::Running;
        a
    }));
    Snapshot {
        nodes: snapshot.nodes.clone(),
        allocs,
    }
}
