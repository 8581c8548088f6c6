//! Property tests on random multi-host clusters: whatever happened before
//! (earlier topologies, dead nodes, other jobs' batch work), a plan never
//! over-commits a node, never breaks `spread`, keeps every `with` follower on
//! its partner's node (and places it whenever it needs nothing), puts nothing
//! on a dead node, is deterministic for a seed, and is idempotent.

mod common;

use common::*;
use proptest::prelude::*;
use skiff_sched::{schedule, Options, Snapshot, Unplaceable};
use skiff_types::Topology;

#[derive(Debug, Clone)]
struct Case {
    nodes: Vec<(u64, u64)>,
    history: Vec<Topology>,
    batch: Topology,
    dead: Vec<usize>,
    now: Topology,
    seed: u64,
}

fn service_strategy(name: &'static str) -> impl Strategy<Value = skiff_types::ServiceSpec> {
    (
        0u32..8,
        prop_oneof![Just(0u64), 100u64..2000],
        prop_oneof![Just(0u64), (1u64..4).prop_map(|g| g * GIB / 2)],
        proptest::option::of(1u32..3),
        -2i32..3,
        any::<bool>(),
    )
        .prop_map(move |(replicas, cpu, mem, spr, prio, image)| {
            let mut s = svc(name, replicas, cpu, mem);
            s.placement.spread = spr;
            s.priority = prio;
            if image {
                s.image = Some("busybox:2".into());
            }
            s
        })
}

fn topo_strategy() -> impl Strategy<Value = Topology> {
    (
        service_strategy("web"),
        service_strategy("api"),
        service_strategy("mon"),
        (0u64..300, any::<bool>()),
    )
        .prop_map(|(web, api, mon, (side_cpu, side_spread))| {
            let mut side = with(svc("side", 0, side_cpu, 0), "web");
            if side_spread {
                side.placement.spread = Some(1);
            }
            topo("app", vec![web, api, with(mon, "api"), side])
        })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec((1u64..9, 1u64..9), 1..12),
        proptest::collection::vec(topo_strategy(), 0..3),
        (0u32..10, 100u64..1500, -1i32..2),
        proptest::collection::vec(0usize..12, 0..3),
        topo_strategy(),
        any::<u64>(),
    )
        .prop_map(|(nodes, history, (br, bc, bp), dead, now, seed)| Case {
            nodes: nodes
                .into_iter()
                .map(|(c, m)| (c * 500, m * GIB / 2))
                .collect(),
            history,
            batch: topo("jobs", vec![batch(svc("crunch", br, bc, GIB / 4), bp)]),
            dead,
            now,
            seed,
        })
}

/// The cluster as it stands when `now` is scheduled.
fn prepare(c: &Case) -> Snapshot {
    let mut snap = Snapshot {
        nodes: c
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (cpu, mem))| node(&format!("n{i}"), *cpu, *mem))
            .collect(),
        allocs: vec![],
    };
    snap = run(&snap, &c.batch, c.seed).1;
    for t in &c.history {
        snap = run(&snap, t, c.seed).1;
    }
    for &d in &c.dead {
        if let Some(n) = snap.nodes.get_mut(d) {
            n.alive = false;
        }
    }
    snap
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn plans_are_safe_idempotent_and_deterministic(c in case_strategy()) {
        let snap = prepare(&c);
        let opts = Options { seed: c.seed };
        let plan = schedule(&snap, &c.now, &opts);
        prop_assert_eq!(&plan, &schedule(&snap, &c.now, &opts), "deterministic");
        let after = skiff_sched::apply(&snap, &plan);

        assert_no_overcommit(&after);
        for a in &plan.place {
            let n = after.nodes.iter().find(|n| n.id == a.node).unwrap();
            prop_assert!(n.alive, "placed on dead node {}", a.node);
        }
        for s in c.now.services.values() {
            if let Some(max) = s.placement.spread {
                for (node, count) in per_node(&after, "app", &s.name) {
                    prop_assert!(count <= max, "{} has {} of {} on {}", s.name, count, max, node);
                }
            }
        }
        for (follower, partner) in [("side", "web"), ("mon", "api")] {
            let f = slots(&after, "app", follower);
            let p = slots(&after, "app", partner);
            for (index, node) in &f {
                prop_assert_eq!(p.get(index), Some(node), "{}.{} away from its partner", follower, index);
            }
            let side_free = follower == "side"
                && c.now.services["side"].resources.cpu_milli.is_none()
                && c.now.services["side"].placement.spread.is_none();
            for index in p.keys() {
                if f.contains_key(index) {
                    continue;
                }
                prop_assert!(!side_free, "side needs nothing, yet {} lacks one", index);
                let explained = plan.unplaceable.iter().any(|u| matches!(u,
                    Unplaceable::PartnerNodeFull { service, index: i, .. }
                    | Unplaceable::PartnerUnplaced { service, index: i, .. }
                        if service == follower && i == index));
                prop_assert!(explained, "{}.{} missing without a reason", follower, index);
            }
        }
        let again = schedule(&after, &c.now, &opts);
        prop_assert!(again.is_noop(), "not idempotent: {:?}", again);
    }

    #[test]
    fn survivors_on_live_nodes_stay_put(c in case_strategy()) {
        let snap = prepare(&c);
        let Some(prev) = c.history.last() else { return Ok(()) };
        // Re-running the last topology only moves what sat on a dead node.
        let plan = schedule(&snap, prev, &Options { seed: c.seed });
        for (id, why) in &plan.stop {
            let a = snap.allocs.iter().find(|a| &a.id == id).unwrap();
            let node_dead = snap.nodes.iter().any(|n| n.id == a.node && !n.alive);
            prop_assert!(
                node_dead || *why == skiff_sched::StopReason::PartnerMoved,
                "{} stopped without cause: {:?}", id, why
            );
        }
    }
}
