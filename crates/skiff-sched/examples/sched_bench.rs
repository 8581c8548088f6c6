//! Scheduler throughput on a simulated cluster: 10,000 nodes (4 cpus, 16 GiB),
//! one topology with `spread` and `with` rules, placed from empty; then the
//! same cluster after 1% of the nodes die (re-placement), and an unchanged
//! re-run (must be a no-op). Prints placements per second.
//!
//! `cargo run --release -p skiff-sched --example sched_bench [NODES] [ROUNDS]`

use skiff_sched::{apply, schedule, Options, Snapshot};
use skiff_types::{Capacity, JobClass, Node, Placement, ServiceResources, ServiceSpec, Topology};
use std::time::Instant;

const GIB: u64 = 1 << 30;

fn svc(
    name: &str,
    replicas: u32,
    cpu: u64,
    mem: u64,
    spread: Option<u32>,
    with: Option<&str>,
) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        image: Some(format!("{name}:1")),
        replicas,
        resources: ServiceResources {
            memory: Some(mem),
            cpu_milli: Some(cpu),
            ..Default::default()
        },
        placement: Placement {
            spread,
            with: with.map(str::to_string),
        },
        ..Default::default()
    }
}

fn topology(nodes: u32) -> Topology {
    let mut crunch = svc("crunch", nodes, 500, GIB, None, None);
    crunch.class = JobClass::Batch;
    let services = vec![
        svc("web", nodes * 3, 500, GIB, Some(4), None),
        svc("web-monitor", 0, 50, GIB / 8, None, Some("web")),
        svc("api", nodes, 1000, 2 * GIB, Some(1), None),
        svc("api-sidecar", 0, 100, GIB / 4, None, Some("api")),
        crunch,
    ];
    Topology {
        name: "bench".into(),
        services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
        ..Default::default()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let snap = Snapshot {
        nodes: (0..n)
            .map(|i| Node {
                id: format!("node-{i:05}"),
                capacity: Capacity::new(4000, 16 * GIB),
                labels: Default::default(),
                alive: true,
            })
            .collect(),
        allocs: vec![],
    };
    let topo = topology(n);
    let mut best = f64::MAX;
    let mut plan = Default::default();
    for seed in 0..u64::from(rounds) {
        let t = Instant::now();
        plan = schedule(&snap, &topo, &Options { seed });
        best = best.min(t.elapsed().as_secs_f64());
    }
    let placed = plan.place.len();
    println!(
        "cold: {placed} placements on {n} nodes in {:.1} ms (best of {rounds}): {:.0} placements/s, {} unplaceable",
        best * 1e3,
        placed as f64 / best,
        plan.unplaceable.len()
    );
    let mut after = apply(&snap, &plan);
    let t = Instant::now();
    let again = schedule(&after, &topo, &Options { seed: 0 });
    println!(
        "unchanged re-run: no-op={} in {:.1} ms",
        again.is_noop(),
        t.elapsed().as_secs_f64() * 1e3
    );
    for node in after.nodes.iter_mut().step_by(100) {
        node.alive = false;
    }
    let t = Instant::now();
    let heal = schedule(&after, &topo, &Options { seed: 0 });
    let dt = t.elapsed().as_secs_f64();
    println!(
        "1% nodes lost: {} stopped, {} re-placed in {:.1} ms ({:.0} placements/s incl. full reconcile)",
        heal.stop.len(),
        heal.place.len(),
        dt * 1e3,
        heal.place.len() as f64 / dt
    );
    println!("PLACEMENTS_PER_SEC={:.0}", placed as f64 / best);
}
