//! Builders shared by the scheduler's integration tests.
#![allow(dead_code)]

use skiff_sched::{apply, schedule, Options, Plan, Snapshot};
use skiff_types::{
    AllocStatus, Allocation, Capacity, JobClass, Node, Placement, ServiceResources, ServiceSpec,
    Topology,
};
use std::collections::{BTreeMap, HashMap};

pub const GIB: u64 = 1 << 30;

pub fn node(id: &str, cpu_milli: u64, mem: u64) -> Node {
    Node {
        id: id.into(),
        capacity: Capacity::new(cpu_milli, mem),
        labels: BTreeMap::new(),
        alive: true,
    }
}

pub fn svc(name: &str, replicas: u32, cpu: u64, mem: u64) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        image: Some("busybox".into()),
        replicas,
        resources: ServiceResources {
            memory: (mem > 0).then_some(mem),
            cpu_milli: (cpu > 0).then_some(cpu),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn with(mut s: ServiceSpec, partner: &str) -> ServiceSpec {
    s.placement = Placement {
        spread: s.placement.spread,
        with: Some(partner.into()),
    };
    s
}

pub fn spread(mut s: ServiceSpec, n: u32) -> ServiceSpec {
    s.placement.spread = Some(n);
    s
}

pub fn batch(mut s: ServiceSpec, priority: i32) -> ServiceSpec {
    s.class = JobClass::Batch;
    s.priority = priority;
    s
}

pub fn topo(name: &str, services: Vec<ServiceSpec>) -> Topology {
    Topology {
        name: name.into(),
        services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
        ..Default::default()
    }
}

/// Schedules and applies: the cluster after the plan is acted on.
pub fn run(snap: &Snapshot, t: &Topology, seed: u64) -> (Plan, Snapshot) {
    let plan = schedule(snap, t, &Options { seed });
    let next = apply(snap, &plan);
    (plan, next)
}

pub fn live(snap: &Snapshot) -> impl Iterator<Item = &Allocation> {
    snap.allocs.iter().filter(|a| a.status.is_live())
}

/// Panics if any alive node carries more than it has.
pub fn assert_no_overcommit(snap: &Snapshot) {
    let mut used: HashMap<&str, Capacity> = HashMap::new();
    for a in live(snap) {
        let u = used.entry(a.node.as_str()).or_default();
        *u = u.add(&a.charge());
    }
    for n in &snap.nodes {
        let u = used.get(n.id.as_str()).copied().unwrap_or_default();
        assert!(
            n.capacity.fits(&u),
            "node {} over-committed: {u:?} > {:?}",
            n.id,
            n.capacity
        );
    }
}

/// Live instances of `job`'s `service` per node.
pub fn per_node(snap: &Snapshot, job: &str, service: &str) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    for a in live(snap).filter(|a| a.job == job && a.service == service) {
        *m.entry(a.node.clone()).or_insert(0) += 1;
    }
    m
}

/// (index -> node) of the live instances of a service.
pub fn slots(snap: &Snapshot, job: &str, service: &str) -> BTreeMap<u32, String> {
    live(snap)
        .filter(|a| a.job == job && a.service == service && a.status != AllocStatus::Complete)
        .map(|a| (a.index, a.node.clone()))
        .collect()
}
