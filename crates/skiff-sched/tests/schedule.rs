//! Scheduler behaviour, case by case.

mod common;

use common::*;
use skiff_sched::{schedule, service_order, Options, Snapshot, StopReason, Unplaceable};
use skiff_types::{AllocStatus, Capacity, DesiredState};

fn cluster(n: usize) -> Snapshot {
    Snapshot {
        nodes: (0..n)
            .map(|i| node(&format!("n{i}"), 4000, 8 * GIB))
            .collect(),
        allocs: vec![],
    }
}

#[test]
fn places_all_replicas_within_capacity_and_spread() {
    let t = topo("app", vec![spread(svc("web", 6, 1000, GIB), 2)]);
    let (plan, after) = run(&cluster(3), &t, 1);
    assert_eq!(plan.place.len(), 6);
    assert!(plan.unplaceable.is_empty());
    assert_no_overcommit(&after);
    assert!(per_node(&after, "app", "web").values().all(|&c| c == 2));
    let ids: Vec<_> = plan
        .place
        .iter()
        .map(|a| a.id.as_str().to_string())
        .collect();
    assert!(ids.contains(&"app.web.0.1".to_string()));
}

#[test]
fn refuses_to_overcommit_and_says_why() {
    let t = topo("app", vec![svc("big", 3, 3000, GIB)]);
    let (plan, after) = run(&cluster(2), &t, 1);
    assert_eq!(plan.place.len(), 2);
    assert_eq!(
        plan.unplaceable,
        vec![Unplaceable::NoCapacity {
            service: "big".into(),
            index: 2,
            need: Capacity::new(3000, GIB),
            most_free: Capacity::new(1000, 7 * GIB),
        }]
    );
    assert_eq!(
        plan.unplaceable[0].to_string(),
        "big instance 2: no node has 3000m cpu free (at most 1000m)"
    );
    assert_no_overcommit(&after);
}

#[test]
fn reservations_are_charged_not_limits() {
    // Limits of 3000m each, but a reservation of 1000m: four fit on a 4000m node.
    let mut s = svc("web", 4, 3000, GIB);
    s.resources.reserve_cpu_milli = Some(1000);
    s.resources.reserve_memory = Some(GIB / 4);
    let (plan, after) = run(&cluster(1), &topo("app", vec![s.clone()]), 1);
    assert_eq!(plan.place.len(), 4);
    assert!(plan.unplaceable.is_empty());
    assert!(plan
        .place
        .iter()
        .all(|a| a.resources == Capacity::new(1000, GIB / 4)));
    assert_no_overcommit(&after);
    s.replicas = 5;
    let (plan, _) = run(&after, &topo("app", vec![s]), 1);
    assert!(plan.place.is_empty());
    assert_eq!(
        plan.unplaceable[0].reason(),
        "no node has 1000m cpu free (at most 0m)"
    );
}

#[test]
fn reasons_name_spread_and_missing_nodes() {
    let t = topo("app", vec![spread(svc("web", 3, 100, 0), 1)]);
    let (plan, _) = run(&cluster(2), &t, 1);
    assert_eq!(plan.place.len(), 2);
    assert_eq!(
        plan.unplaceable[0].reason(),
        "every node with room already runs 1 of web (spread = 1)"
    );
    let (plan, _) = run(&cluster(0), &t, 1);
    assert_eq!(
        plan.unplaceable,
        (0..3)
            .map(|index| Unplaceable::NoNodes {
                service: "web".into(),
                index
            })
            .collect::<Vec<_>>()
    );
    let big = topo("app", vec![svc("big", 1, 100, 9 * GIB)]);
    let (plan, _) = run(&cluster(1), &big, 1);
    assert_eq!(
        plan.unplaceable[0].reason(),
        "no node has 9GiB memory free (at most 8GiB)"
    );
}

#[test]
fn with_puts_one_beside_each_partner_instance() {
    let t = topo(
        "app",
        vec![
            spread(svc("web", 4, 500, GIB), 1),
            with(svc("mon", 0, 100, 64 << 20), "web"),
        ],
    );
    assert_eq!(service_order(&t), vec!["web", "mon"]);
    let (_, after) = run(&cluster(5), &t, 9);
    let web = slots(&after, "app", "web");
    let mon = slots(&after, "app", "mon");
    assert_eq!(web.len(), 4);
    assert_eq!(web, mon);
}

#[test]
fn unchanged_snapshot_gives_empty_plan_and_keeps_everything() {
    let t = topo(
        "app",
        vec![svc("web", 5, 700, GIB), with(svc("side", 0, 0, 0), "web")],
    );
    let (first, after) = run(&cluster(4), &t, 3);
    let (second, again) = run(&after, &t, 3);
    assert!(second.is_noop(), "{second:?}");
    assert_eq!(second.keep.len(), first.place.len());
    assert_eq!(after, again);
}

#[test]
fn dead_node_allocs_are_replaced_elsewhere_and_followers_follow() {
    let t = topo(
        "app",
        vec![
            spread(svc("web", 3, 500, GIB), 1),
            with(svc("mon", 0, 0, 0), "web"),
        ],
    );
    let (_, mut after) = run(&cluster(4), &t, 5);
    let victim = after.allocs[0].node.clone();
    after
        .nodes
        .iter_mut()
        .find(|n| n.id == victim)
        .unwrap()
        .alive = false;
    let (plan, healed) = run(&after, &t, 5);
    let lost: Vec<_> = plan
        .stop
        .iter()
        .filter(|s| s.1 == StopReason::NodeLost)
        .collect();
    assert_eq!(lost.len(), 2, "web and mon on the dead node stop: {plan:?}");
    assert_eq!(plan.place.len(), 2);
    assert!(plan
        .place
        .iter()
        .all(|a| a.node != victim && a.generation == 2));
    let web = slots(&healed, "app", "web");
    assert_eq!(web, slots(&healed, "app", "mon"));
    assert!(!web.values().any(|n| *n == victim));
    // The untouched instances did not move.
    assert_eq!(plan.keep.len(), 4);
}

#[test]
fn spec_change_replaces_in_place_and_scaling_does_not_roll() {
    let mut web = svc("web", 3, 500, GIB);
    let (_, after) = run(&cluster(3), &topo("app", vec![web.clone()]), 2);
    let before = slots(&after, "app", "web");

    web.replicas = 2;
    let (plan, _) = run(&after, &topo("app", vec![web.clone()]), 2);
    assert_eq!(plan.stop.len(), 1);
    assert_eq!(plan.stop[0].1, StopReason::ScaledDown);
    assert!(plan.place.is_empty());

    web.replicas = 3;
    web.image = Some("busybox:new".into());
    let (plan, rolled) = run(&after, &topo("app", vec![web]), 2);
    assert_eq!(plan.stop.len(), 3);
    assert!(plan.stop.iter().all(|s| s.1 == StopReason::SpecChanged));
    assert_eq!(
        slots(&rolled, "app", "web"),
        before,
        "replacements stay put"
    );
}

#[test]
fn higher_priority_suspends_lower_priority_batch_then_it_resumes() {
    let snap = Snapshot {
        nodes: vec![node("n0", 2000, 8 * GIB)],
        allocs: vec![],
    };
    let jobs = topo("jobs", vec![batch(svc("crunch", 2, 1000, GIB), 1)]);
    let (_, busy) = run(&snap, &jobs, 1);
    let mut api = svc("api", 1, 1500, GIB);
    api.priority = 10;
    let app = topo("app", vec![api.clone()]);
    let (plan, after) = run(&busy, &app, 1);
    assert_eq!(plan.place.len(), 1);
    assert_eq!(plan.suspend.len(), 2, "1500 needs both 1000s: {plan:?}");
    assert_no_overcommit(&after);
    assert!(run(&after, &app, 1).0.is_noop());
    assert!(run(&after, &jobs, 1).0.is_noop(), "no room to resume yet");

    // The api goes away: the batch job resumes on its next evaluation.
    let (_, gone) = run(&after, &topo("app", vec![]), 1);
    let (plan, resumed) = run(&gone, &jobs, 1);
    assert_eq!(plan.resume.len(), 2);
    assert!(live(&resumed).all(|a| a.desired == DesiredState::Run));
    assert_no_overcommit(&resumed);
}

#[test]
fn preemption_takes_only_what_it_needs_and_never_memory() {
    let snap = Snapshot {
        nodes: vec![node("n0", 3000, 4 * GIB)],
        allocs: vec![],
    };
    let jobs = topo(
        "jobs",
        vec![
            batch(svc("low", 1, 1000, GIB), 1),
            batch(svc("lower", 1, 1500, GIB), 0),
        ],
    );
    let (_, busy) = run(&snap, &jobs, 1);
    let mut api = svc("api", 1, 1000, GIB);
    api.priority = 5;
    let (plan, _) = run(&busy, &topo("app", vec![api.clone()]), 1);
    assert_eq!(plan.suspend.len(), 1);
    assert!(plan.suspend[0].as_str().starts_with("jobs.lower."));
    // Memory cannot be freed by freezing: a memory-bound service stays out.
    api.resources.memory = Some(3 * GIB);
    let (plan, _) = run(&busy, &topo("app", vec![api]), 1);
    assert!(plan.suspend.is_empty() && plan.place.is_empty());
    assert_eq!(plan.unplaceable.len(), 1);
}

#[test]
fn completed_batch_is_not_rerun_and_failed_is_replaced() {
    let t = topo("j", vec![batch(svc("once", 2, 100, 0), 0)]);
    let (_, mut after) = run(&cluster(2), &t, 1);
    after.allocs[0].status = AllocStatus::Complete;
    after.allocs[1].status = AllocStatus::Failed;
    let (plan, _) = run(&after, &t, 1);
    assert_eq!(plan.place.len(), 1);
    assert_eq!(plan.place[0].index, after.allocs[1].index);
    assert_eq!(plan.place[0].generation, 2);
}

#[test]
fn same_seed_same_plan_and_seeds_differ() {
    let t = topo("app", vec![svc("web", 5, 0, 0)]);
    let snap = cluster(50);
    let a = schedule(&snap, &t, &Options { seed: 1 });
    assert_eq!(a, schedule(&snap, &t, &Options { seed: 1 }));
    let nodes = |p: &skiff_sched::Plan| p.place.iter().map(|a| a.node.clone()).collect::<Vec<_>>();
    let differs = (2..20).any(|s| nodes(&schedule(&snap, &t, &Options { seed: s })) != nodes(&a));
    assert!(differs);
}

#[test]
fn allocations_told_to_stop_neither_fill_slots_nor_use_capacity() {
    let t = topo("app", vec![svc("web", 1, 4000, GIB)]);
    let (_, mut after) = run(&cluster(1), &t, 1);
    after.allocs[0].desired = DesiredState::Stop;
    let (plan, _) = run(&after, &t, 1);
    assert!(plan.stop.is_empty() && plan.keep.is_empty(), "{plan:?}");
    assert_eq!(plan.place.len(), 1);
    assert_eq!(plan.place[0].generation, 2);
}
