//! Rolling updates: the scheduler replaces every instance of a changed
//! service at once (`StopReason::SpecChanged` + a new generation per slot);
//! the controller lets through one replacement per service at a time, and
//! only once every instance already running the new spec is ready (running
//! and, where checked, healthy). The held-back slots keep their old instance
//! until a later evaluation; the scheduler proposes them again each time, so
//! the rollout advances by itself as replacements become ready.

use skiff_sched::{Plan, Snapshot, StopReason};
use skiff_types::{AllocId, DesiredState, Topology};
use std::collections::{BTreeMap, HashSet};

/// Limits `plan` to one spec-change replacement per service.
pub fn limit(plan: &mut Plan, snap: &Snapshot, topo: &Topology, ready: &HashSet<AllocId>) {
    let by_id: BTreeMap<&AllocId, (&str, u32)> = snap
        .allocs
        .iter()
        .map(|a| (&a.id, (a.service.as_str(), a.index)))
        .collect();
    let mut allowed: HashSet<&str> = HashSet::new();
    let mut held: HashSet<(String, u32)> = HashSet::new();
    for (id, reason) in &plan.stop {
        if *reason != StopReason::SpecChanged {
            continue;
        }
        let Some(&(svc, index)) = by_id.get(id) else {
            continue;
        };
        if !allowed.contains(svc) && !in_flight(snap, topo, svc, ready) {
            allowed.insert(svc);
            continue;
        }
        held.insert((svc.to_string(), index));
    }
    if held.is_empty() {
        return;
    }
    let slot = |id: &AllocId| by_id.get(id).map(|&(s, i)| (s.to_string(), i));
    plan.stop.retain(|(id, reason)| {
        *reason != StopReason::SpecChanged || slot(id).is_none_or(|s| !held.contains(&s))
    });
    plan.place
        .retain(|a| !held.contains(&(a.service.clone(), a.index)));
}

/// Whether a replacement of `svc` is still on its way up: an instance on the
/// new spec that is not ready yet.
fn in_flight(snap: &Snapshot, topo: &Topology, svc: &str, ready: &HashSet<AllocId>) -> bool {
    let Some(spec) = topo.services.get(svc) else {
        return false;
    };
    let hash = spec.fingerprint();
    snap.allocs.iter().any(|a| {
        a.job == topo.name
            && a.service == svc
            && a.spec_hash == hash
            && a.desired == DesiredState::Run
            && a.status.is_live()
            && !ready.contains(&a.id)
    })
}
