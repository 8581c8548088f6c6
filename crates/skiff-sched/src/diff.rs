//! `diff`: what one node's agent must do so that its containers match the
//! allocations the controller placed on it.
//!
//! Rules, per allocation id (containers carry their allocation id as a label):
//!
//! | desired \ observed | none  | running          | paused  | created | exited             |
//! |--------------------|-------|------------------|---------|---------|--------------------|
//! | run                | Start | -                | Thaw    | Start*  | Report             |
//! | suspend            | -     | Freeze           | -       | -       | Report             |
//! | stop / absent      | -     | Stop + Remove    | Stop + Remove | Remove | Remove        |
//!
//! `Start*` removes the stale created container first. A container whose spec
//! fingerprint differs from its allocation's is stopped, removed and started
//! again. An exited container is reported (Complete for exit 0, Failed
//! otherwise) and left for the controller, which re-places failed slots; the
//! runtime's restart policy has already had its turn by then.
//!
//! Actions come out ordered: stops, removes, thaws, freezes, starts, reports,
//! each by allocation id, so capacity is freed before it is used again.

use skiff_types::{AllocId, AllocStatus, Allocation, DesiredState};
use std::collections::BTreeMap;

/// A container the agent found on its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    pub alloc: AllocId,
    pub spec_hash: u64,
    pub state: ObservedState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedState {
    Created,
    Running,
    Paused,
    Exited { code: i32 },
}

/// One step for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Stop(AllocId),
    Remove(AllocId),
    Thaw(AllocId),
    Freeze(AllocId),
    /// Create and start a container for the allocation.
    Start(Allocation),
    /// Write the allocation's observed status back to the store.
    Report(AllocId, AllocStatus),
}

impl Action {
    fn rank(&self) -> (u8, &AllocId) {
        match self {
            Action::Stop(id) => (0, id),
            Action::Remove(id) => (1, id),
            Action::Thaw(id) => (2, id),
            Action::Freeze(id) => (3, id),
            Action::Start(a) => (4, &a.id),
            Action::Report(id, _) => (5, id),
        }
    }
}

/// The actions that bring `observed` to `desired` (allocations of one node).
pub fn diff(desired: &[Allocation], observed: &[ObservedContainer]) -> Vec<Action> {
    let want: BTreeMap<&AllocId, &Allocation> = desired
        .iter()
        .filter(|a| a.desired != DesiredState::Stop)
        .map(|a| (&a.id, a))
        .collect();
    let have: BTreeMap<&AllocId, &ObservedContainer> =
        observed.iter().map(|c| (&c.alloc, c)).collect();
    let mut out = Vec::new();
    for (id, c) in &have {
        let stale = want.get(id).is_none_or(|a| a.spec_hash != c.spec_hash);
        if stale {
            remove(&mut out, c);
        }
    }
    for (id, a) in &want {
        let c = have.get(id).filter(|c| c.spec_hash == a.spec_hash);
        match (a.desired, c.map(|c| c.state)) {
            (DesiredState::Run, None) => out.push(Action::Start((*a).clone())),
            (DesiredState::Run, Some(ObservedState::Created)) => {
                out.push(Action::Remove((*id).clone()));
                out.push(Action::Start((*a).clone()));
            }
            (DesiredState::Run, Some(ObservedState::Paused)) => {
                out.push(Action::Thaw((*id).clone()))
            }
            (DesiredState::Suspend, Some(ObservedState::Running)) => {
                out.push(Action::Freeze((*id).clone()))
            }
            (_, Some(ObservedState::Exited { code })) => {
                let status = if code == 0 {
                    AllocStatus::Complete
                } else {
                    AllocStatus::Failed
                };
                if a.status != status {
                    out.push(Action::Report((*id).clone(), status));
                }
            }
            _ => {}
        }
    }
    out.sort_by(|x, y| x.rank().cmp(&y.rank()));
    out
}

fn remove(out: &mut Vec<Action>, c: &ObservedContainer) {
    if matches!(c.state, ObservedState::Running | ObservedState::Paused) {
        out.push(Action::Stop(c.alloc.clone()));
    }
    out.push(Action::Remove(c.alloc.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::{Capacity, JobClass};

    fn alloc(id: &str, desired: DesiredState, hash: u64) -> Allocation {
        Allocation {
            id: AllocId(id.into()),
            job: "j".into(),
            service: "s".into(),
            index: 0,
            generation: 1,
            node: "n".into(),
            resources: Capacity::default(),
            class: JobClass::Service,
            priority: 0,
            spec_hash: hash,
            desired,
            status: AllocStatus::Pending,
        }
    }

    fn seen(id: &str, state: ObservedState, hash: u64) -> ObservedContainer {
        ObservedContainer {
            alloc: AllocId(id.into()),
            spec_hash: hash,
            state,
        }
    }

    fn id(s: &str) -> AllocId {
        AllocId(s.into())
    }

    #[test]
    fn converges_each_case() {
        use DesiredState::*;
        use ObservedState::*;
        let desired = vec![
            alloc("a", Run, 1),
            alloc("b", Run, 1),
            alloc("c", Suspend, 1),
            alloc("d", Run, 2),
            alloc("e", Stop, 1),
            alloc("f", Run, 1),
            alloc("g", Run, 1),
        ];
        let observed = vec![
            seen("b", Paused, 1),
            seen("c", Running, 1),
            seen("d", Running, 1),
            seen("e", Running, 1),
            seen("f", Exited { code: 3 }, 1),
            seen("g", Running, 1),
            seen("zombie", Exited { code: 0 }, 1),
        ];
        let got = diff(&desired, &observed);
        assert_eq!(
            got,
            vec![
                Action::Stop(id("d")),
                Action::Stop(id("e")),
                Action::Remove(id("d")),
                Action::Remove(id("e")),
                Action::Remove(id("zombie")),
                Action::Thaw(id("b")),
                Action::Freeze(id("c")),
                Action::Start(desired[0].clone()),
                Action::Start(desired[3].clone()),
                Action::Report(id("f"), AllocStatus::Failed),
            ]
        );
    }

    #[test]
    fn converged_node_needs_nothing() {
        let a = alloc("a", DesiredState::Run, 7);
        let c = seen("a", ObservedState::Running, 7);
        assert!(diff(&[a], &[c]).is_empty());
        let mut done = alloc("b", DesiredState::Run, 7);
        done.status = AllocStatus::Complete;
        let c = seen("b", ObservedState::Exited { code: 0 }, 7);
        assert!(diff(&[done], &[c]).is_empty());
    }
}
