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
        let node_dead = !state.nodes.contains_key(&a.node);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StoredAlloc;
    use skiff_types::{AllocReport, JobRecord, ServiceSpec};

    fn state(replicas: u32) -> State {
        let mut st = State::default();
        st.nodes
            .insert("n1".into(), crate::state::live_node("n1", b"{}"));
        let mut topo = Topology {
            name: "j".into(),
            ..Default::default()
        };
        let web = ServiceSpec {
            name: "web".into(),
            replicas,
            ..Default::default()
        };
        topo.services.insert("web".into(), web);
        st.jobs
            .insert("j".into(), (JobRecord { topology: topo }, 5));
        st
    }

    /// Writes `w` into `st` as the store would, with `report` for new allocs.
    fn apply(st: &mut State, w: &Writes, report: AllocStatus) {
        for (_, a, _) in &w.puts {
            st.allocs.retain(|s| s.alloc.id != a.id);
            st.allocs.push(StoredAlloc {
                alloc: a.clone(),
                revision: 9,
            });
            st.reports.entry(a.id.clone()).or_insert(AllocReport {
                status: report,
                ..Default::default()
            });
        }
        for (key, _, _) in &w.deletes {
            st.allocs
                .retain(|s| alloc_key(&s.alloc.node, s.alloc.id.as_str()) != *key);
        }
    }

    fn report(st: &mut State, id: &str, status: AllocStatus) {
        st.reports.insert(
            AllocId(id.into()),
            AllocReport {
                status,
                ..Default::default()
            },
        );
    }

    #[test]
    fn places_then_is_idempotent() {
        let mut st = state(2);
        let w = evaluate(&st, "j", 1);
        assert_eq!(w.puts.len(), 2);
        assert!(w.puts.iter().all(|(_, _, rev)| rev.is_none()));
        assert_eq!(w.job, (job_key("j"), Some(5)));
        apply(&mut st, &w, AllocStatus::Running);
        assert!(evaluate(&st, "j", 1).is_empty());
    }

    #[test]
    fn failed_is_retired_and_replaced_then_collected() {
        let mut st = state(1);
        let w = evaluate(&st, "j", 1);
        apply(&mut st, &w, AllocStatus::Running);
        report(&mut st, "j.web.0.1", AllocStatus::Failed);
        let w = evaluate(&st, "j", 1);
        let retired: Vec<_> = w
            .puts
            .iter()
            .filter(|(_, a, _)| a.desired == DesiredState::Stop)
            .map(|(_, a, rev)| (a.id.as_str(), *rev))
            .collect();
        assert_eq!(retired, vec![("j.web.0.1", Some(9))]);
        assert!(w
            .puts
            .iter()
            .any(|(_, a, rev)| a.id.as_str() == "j.web.0.2" && rev.is_none()));
        apply(&mut st, &w, AllocStatus::Running);
        // Its agent removed the container and said so: collected.
        report(&mut st, "j.web.0.1", AllocStatus::Stopped);
        let w = evaluate(&st, "j", 1);
        assert_eq!(w.deletes.len(), 1);
        assert_eq!(w.deletes[0].2, status_key("j.web.0.1"));
        assert!(w.puts.is_empty());
    }

    #[test]
    fn removed_job_retires_everything() {
        let mut st = state(2);
        let w = evaluate(&st, "j", 1);
        apply(&mut st, &w, AllocStatus::Running);
        st.jobs.clear();
        let w = evaluate(&st, "j", 1);
        assert_eq!(w.job.1, None);
        assert_eq!(w.puts.len(), 2);
        assert!(w
            .puts
            .iter()
            .all(|(_, a, _)| a.desired == DesiredState::Stop));
    }

    #[test]
    fn spec_change_replaces_one_instance_at_a_time() {
        let mut st = state(3);
        let w = evaluate(&st, "j", 1);
        apply(&mut st, &w, AllocStatus::Running);
        let (rec, _) = st.jobs.get_mut("j").unwrap();
        let web = rec.topology.services.get_mut("web").unwrap();
        web.env.insert("V".into(), "2".into());
        let w = evaluate(&st, "j", 1);
        let stops = w
            .puts
            .iter()
            .filter(|(_, a, _)| a.desired == DesiredState::Stop)
            .count();
        let places = w.puts.iter().filter(|(_, _, rev)| rev.is_none()).count();
        assert_eq!((stops, places), (1, 1));
        // The replacement is pending: nothing more moves.
        apply(&mut st, &w, AllocStatus::Pending);
        assert!(evaluate(&st, "j", 1)
            .puts
            .iter()
            .all(|(_, a, _)| a.desired != DesiredState::Stop));
    }
}
