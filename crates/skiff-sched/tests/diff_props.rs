//! The agent's diff converges: carrying out its actions on a simulated node
//! and diffing again gives nothing to do, whatever the node held before.

use proptest::prelude::*;
use skiff_sched::{diff, Action, ObservedContainer, ObservedState};
use skiff_types::{AllocId, AllocStatus, Allocation, Capacity, DesiredState, JobClass};

fn alloc(i: u8, desired: DesiredState, hash: u64) -> Allocation {
    Allocation {
        id: AllocId(format!("j.s.{i}.1")),
        job: "j".into(),
        service: "s".into(),
        index: u32::from(i),
        generation: 1,
        node: "n".into(),
        resources: Capacity::default(),
        class: JobClass::Batch,
        priority: 0,
        spec_hash: hash,
        desired,
        status: AllocStatus::Pending,
    }
}

fn state() -> impl Strategy<Value = ObservedState> {
    prop_oneof![
        Just(ObservedState::Created),
        Just(ObservedState::Running),
        Just(ObservedState::Paused),
        (-1i32..3).prop_map(|code| ObservedState::Exited { code }),
    ]
}

fn desired_state() -> impl Strategy<Value = DesiredState> {
    prop_oneof![
        Just(DesiredState::Run),
        Just(DesiredState::Suspend),
        Just(DesiredState::Stop)
    ]
}

/// What the agent's runtime does for each action.
fn carry_out(
    actions: &[Action],
    desired: &mut [Allocation],
    observed: &mut Vec<ObservedContainer>,
) {
    for a in actions {
        match a {
            Action::Stop(id) => {
                let c = observed
                    .iter_mut()
                    .find(|c| &c.alloc == id)
                    .expect("stop of a missing container");
                c.state = ObservedState::Exited { code: 137 };
            }
            Action::Remove(id) => {
                let before = observed.len();
                observed.retain(|c| &c.alloc != id);
                assert_eq!(before, observed.len() + 1, "remove of a missing container");
            }
            Action::Start(alloc) => {
                assert!(
                    !observed.iter().any(|c| c.alloc == alloc.id),
                    "start over a live container"
                );
                observed.push(ObservedContainer {
                    alloc: alloc.id.clone(),
                    spec_hash: alloc.spec_hash,
                    state: ObservedState::Running,
                });
            }
            Action::Thaw(id) | Action::Freeze(id) => {
                let c = observed
                    .iter_mut()
                    .find(|c| &c.alloc == id)
                    .expect("missing container");
                c.state = if matches!(a, Action::Thaw(_)) {
                    ObservedState::Running
                } else {
                    ObservedState::Paused
                };
            }
            Action::Report(id, status) => {
                if let Some(d) = desired.iter_mut().find(|d| &d.id == id) {
                    d.status = *status;
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn diff_converges_in_one_round(
        want in proptest::collection::btree_map(0u8..12, (desired_state(), 0u64..3), 0..10),
        have in proptest::collection::btree_map(0u8..16, (state(), 0u64..3), 0..12),
    ) {
        let mut desired: Vec<Allocation> = want.iter().map(|(i, (d, h))| alloc(*i, *d, *h)).collect();
        let mut observed: Vec<ObservedContainer> = have
            .iter()
            .map(|(i, (s, h))| ObservedContainer { alloc: AllocId(format!("j.s.{i}.1")), spec_hash: *h, state: *s })
            .collect();
        let actions = diff(&desired, &observed);
        carry_out(&actions, &mut desired, &mut observed);
        let again = diff(&desired, &observed);
        prop_assert!(again.is_empty(), "second round: {:?}", again);
        for d in &desired {
            let c = observed.iter().find(|c| c.alloc == d.id);
            let up = c.is_some_and(|c| matches!(c.state, ObservedState::Running | ObservedState::Exited { .. }));
            match d.desired {
                DesiredState::Stop => prop_assert!(c.is_none()),
                DesiredState::Run => prop_assert!(up, "{} not running", d.id),
                DesiredState::Suspend => prop_assert!(c.is_none_or(|c| c.state != ObservedState::Running)),
            }
        }
        for c in &observed {
            prop_assert!(desired.iter().any(|d| d.id == c.alloc && d.desired != DesiredState::Stop), "stray container {}", c.alloc);
        }
    }
}
