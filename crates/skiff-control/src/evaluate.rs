//! `evaluate`: one job's writes from one read of the store. Pure: the same
//! `State` always gives the same `Writes`, and the controller only does the
//! I/O around it.
//!
//! Beyond the scheduler's plan (`place`, `stop`, `suspend`, `resume`, with
//! rolling updates limited by `rollout`):
//! - a *failed* allocation (its container exited non-zero) is retired
//!   (desired `stop`) so its agent removes the container; the scheduler has
//!   already placed its slot again, as a failed allocation no longer fills it;
//! - when the job's record is gone (`skiff down`), every allocation is retired;
//! - an allocation whose agent reported it `stopped`, or whose node is dead,
//!   is deleted together with its report (garbage collection).

use crate::rollout;
use crate::state::State;
use skiff_sched::{schedule, Options};
use skiff_store::Revision;
use skiff_types::job::{alloc_key, job_key, status_key};
use skiff_types::{AllocId, AllocStatus, Allocation, DesiredState, Topology};
use std::collections::{BTreeMap, HashSet};

/// Writes for one job, each guarded by what was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    /// The job key's revision the plan was made against (`None`: absent).
    pub job: (String, Option<Revision>),
    /// (key, allocation, expected revision; `None` = must be absent).
    pub puts: Vec<(String, Allocation, Option<Revision>)>,
    /// Allocation keys to delete (with their revision) and their status keys.
    pub deletes: Vec<(String, Revision, String)>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

/// The writes that move `job` toward its record in `state`.
pub fn evaluate(state: &State, job: &str, seed: u64) -> Writes {
    let record = state.jobs.get(job);
    let topo = match record {
        Some((r, _)) => r.topology.clone(),
        None => Topology {
            name: job.to_string(),
            ..Default::default()
        },
    };
    let snap = state.snapshot();
    let ready: HashSet<AllocId> = state
        .reports
        .iter()
        .filter(|(_, r)| r.ready())
        .map(|(id, _)| id.clone())
        .collect();
    let mut plan = schedule(&snap, &topo, &Options { seed });
    rollout::limit(&mut plan, &snap, &topo, &ready);

    let mut desired: BTreeMap<AllocId, DesiredState> = BTreeMap::new();
    for (id, _) in &plan.stop {
        desired.insert(id.clone(), DesiredState::Stop);
    }
    for id in &plan.suspend {
        desired.insert(id.clone(), DesiredState::Suspend);
    }
    for id in &plan.resume {
        desired.insert(id.clone(), DesiredState::Run);
    }
    let mut w = Writes {
        job: (job_key(job), record.map(|(_, rev)| *rev)),
        ..Default::default()
    };
    for (stored, seen) in state.allocs.iter().zip(&snap.allocs) {
        let a = &stored.alloc;
        if a.job != job {
            continue;
        }
        let node_dead = !state.nodes.contains(&a.node);
        let retired = a.desired == DesiredState::Stop;
        if retired && (seen.status == AllocStatus::Stopped || node_dead) {
            let key = alloc_key(&a.node, a.id.as_str());
            w.deletes
                .push((key, stored.revision, status_key(a.id.as_str())));
            continue;
        }
        let want = match desired.get(&a.id) {
            Some(d) => *d,
            None if record.is_none() || seen.status == AllocStatus::Failed => DesiredState::Stop,
            None => a.desired,
        };
        if want != a.desired {
            let mut next = a.clone();
            next.desired = want;
            let key = alloc_key(&a.node, a.id.as_str());
            w.puts.push((key, next, Some(stored.revision)));
        }
    }
    for a in plan.place {
        let key = alloc_key(&a.node, a.id.as_str());
        w.puts.push((key, a, None));
    }
    w
}
