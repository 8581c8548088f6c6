//! The scheduler's input (`Snapshot`) and output (`Plan`), and `apply`, the
//! pure function that writes a plan into a snapshot the way the controller's
//! applier writes it into the store.

use skiff_types::node::{format_cpu_milli, format_memory};
use skiff_types::{AllocId, AllocStatus, Allocation, Capacity, DesiredState, Node};
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
    /// No node is alive.
    NoNodes { service: String, index: u32 },
    /// No alive node has the free cpu/memory. `most_free` is the most of
    /// each that any one alive node has free (they may be on two nodes).
    NoCapacity {
        service: String,
        index: u32,
        need: Capacity,
        most_free: Capacity,
    },
    /// Some node has room, but each such node already runs `spread` of the
    /// service.
    SpreadLimit {
        service: String,
        index: u32,
        spread: u32,
    },
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

impl Unplaceable {
    /// The slot that found no node: (service, index).
    pub fn slot(&self) -> (&str, u32) {
        match self {
            Unplaceable::NoNodes { service, index }
            | Unplaceable::NoCapacity { service, index, .. }
            | Unplaceable::SpreadLimit { service, index, .. }
            | Unplaceable::PartnerUnplaced { service, index, .. }
            | Unplaceable::PartnerNodeFull { service, index, .. } => (service, *index),
        }
    }

    /// Why, in words (without the slot): `no node has 400m cpu free (at most 200m)`.
    pub fn reason(&self) -> String {
        match self {
            Unplaceable::NoNodes { .. } => "no node is alive".to_string(),
            Unplaceable::NoCapacity {
                need, most_free, ..
            } => no_capacity(need, most_free),
            Unplaceable::SpreadLimit {
                service, spread, ..
            } => format!(
                "every node with room already runs {spread} of {service} (spread = {spread})"
            ),
            Unplaceable::PartnerUnplaced { partner, index, .. } => {
                format!("its `with` partner {partner} has no instance {index} placed")
            }
            Unplaceable::PartnerNodeFull { node, .. } => {
                format!("its `with` partner's node {node} has no room for it")
            }
        }
    }
}

fn no_capacity(need: &Capacity, free: &Capacity) -> String {
    let cpu = format_cpu_milli(need.cpu_milli);
    let mem = format_memory(need.memory);
    let cpu_short = need.cpu_milli > free.cpu_milli;
    let mem_short = need.memory > free.memory;
    let most_cpu = format_cpu_milli(free.cpu_milli);
    let most_mem = format_memory(free.memory);
    match (cpu_short, mem_short) {
        (true, true) => format!(
            "no node has {cpu} cpu and {mem} memory free (at most {most_cpu} and {most_mem})"
        ),
        (true, false) => format!("no node has {cpu} cpu free (at most {most_cpu})"),
        (false, true) => format!("no node has {mem} memory free (at most {most_mem})"),
        (false, false) => format!("no node has both {cpu} cpu and {mem} memory free"),
    }
}

impl std::fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (service, index) = self.slot();
        write!(f, "{service} instance {index}: {}", self.reason())
    }
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
