//! `schedule`: one job's topology against a cluster snapshot, to a plan.
//!
//! Two passes, so that a placement never depends on the order in which
//! capacity is given back:
//!
//! 1. **Keep or stop** every live allocation of the job. An allocation stops
//!    only with a cause: its node is dead (`NodeLost`), its service is gone
//!    (`Removed`), its index is past the replica count (`ScaledDown`), its spec
//!    changed (`SpecChanged`), its slot is held twice (`Duplicate`), its node
//!    holds more than `spread` of the service (`SpreadExceeded`), or its `with`
//!    partner's instance is not kept on the same node (`PartnerMoved`).
//!    Anything else is kept where it runs (stable placement).
//! 2. **Place** each empty slot, services by descending priority (partners
//!    before their `with` followers). A `with` follower goes on its partner
//!    instance's node or nowhere; a replaced instance tries its old node
//!    first; otherwise the worst-fit node from the index that respects
//!    `spread`. Suspended allocations of the job resume when their CPU is free.
//!
//! **Preemption rule.** When no node fits an instance, the scheduler may
//! suspend (freeze) running `class = batch` allocations of strictly lower
//! priority, from any job, on one node: lowest priority first, then the
//! largest CPU user, and then it drops any victim not needed. Freezing keeps
//! memory, so suspension only makes CPU room: memory must already fit. No
//! batch work is ever stopped to make room. Nodes are tried in seeded order.
//!
//! The result is deterministic for a (snapshot, topology, seed), and a plan
//! applied to its snapshot schedules to a no-op plan (idempotence): kept
//! allocations pass pass 1 again, placements only ever consumed capacity, and
//! each suspension victim is necessary, so none can resume.

use crate::cluster::Cluster;
use crate::fxhash::{FxMap as HashMap, FxSet as HashSet};
use crate::plan::{Plan, Snapshot, StopReason, Unplaceable};
use skiff_types::{
    AllocId, AllocStatus, Allocation, Capacity, DesiredState, ServiceSpec, Topology,
};
use std::collections::BTreeMap;

/// The caller's source of randomness: the seed orders equally good nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub seed: u64,
}

/// What one instance of a service needs from its node: its reservation
/// (see `ServiceResources::charge`; limits when no reservation is given).
pub fn need_of(spec: &ServiceSpec) -> Capacity {
    spec.resources.charge()
}

/// Services in placement order: by descending priority then name, each
/// `with` follower after its partner.
pub fn service_order(topo: &Topology) -> Vec<&str> {
    let mut roots: Vec<&ServiceSpec> = topo.services.values().collect();
    roots.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)));
    let mut order: Vec<&str> = Vec::with_capacity(roots.len());
    let mut done: HashSet<&str> = HashSet::default();
    // Repeatedly take the first service whose partner is done; a cycle
    // (refused by skiff-spec) or a dangling partner is appended at the end.
    while order.len() < roots.len() {
        let next = roots.iter().find(|s| {
            !done.contains(s.name.as_str())
                && s.placement
                    .with
                    .as_deref()
                    .is_none_or(|p| done.contains(p) || !topo.services.contains_key(p))
        });
        let Some(s) = next.or_else(|| roots.iter().find(|s| !done.contains(s.name.as_str())))
        else {
            break;
        };
        done.insert(s.name.as_str());
        order.push(s.name.as_str());
    }
    order
}

struct Run<'a> {
    snap: &'a Snapshot,
    topo: &'a Topology,
    cluster: Cluster<'a>,
    plan: Plan,
    /// (service, index) -> node of its kept or placed instance.
    slot_node: HashMap<(&'a str, u32), u32>,
    /// Per service: instances per node.
    per_node: HashMap<&'a str, HashMap<u32, u32>>,
    /// Snapshot alloc indexes stopped or suspended by this plan.
    touched: HashSet<usize>,
    /// Slots whose replacement should try the old node first.
    prefer: HashMap<(&'a str, u32), u32>,
    /// Highest generation seen per slot, live or not.
    generation: HashMap<(&'a str, u32), u32>,
    /// Suspended allocations of the job that were kept.
    suspended: Vec<usize>,
    /// Slots that found no node yet, in placement order.
    failed: Vec<(&'a ServiceSpec, u32, Unplaceable)>,
}

/// Schedules `topo` (one job, named `topo.name`) onto `snap`.
pub fn schedule(snap: &Snapshot, topo: &Topology, opts: &Options) -> Plan {
    let mut run = Run {
        snap,
        topo,
        cluster: Cluster::new(&snap.nodes, &snap.allocs, opts.seed),
        plan: Plan::default(),
        slot_node: HashMap::default(),
        per_node: HashMap::default(),
        touched: HashSet::default(),
        prefer: HashMap::default(),
        generation: HashMap::default(),
        suspended: Vec::new(),
        failed: Vec::new(),
    };
    let order = service_order(topo);
    let mut mine: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in snap.allocs.iter().enumerate() {
        if a.job != topo.name {
            continue;
        }
        let g = run
            .generation
            .entry((a.service.as_str(), a.index))
            .or_insert(0);
        *g = (*g).max(a.generation);
        // An allocation already told to stop is on its way out: it neither
        // fills its slot nor is stopped again.
        if a.status.is_live() && a.desired != DesiredState::Stop {
            mine.entry(a.service.as_str()).or_default().push(i);
        }
    }
    for (svc, idxs) in &mine {
        if !topo.services.contains_key(*svc) {
            for &i in idxs {
                run.stop(i, StopReason::Removed);
            }
        }
    }
    for svc in &order {
        let idxs = mine.get(svc).cloned().unwrap_or_default();
        run.keep_or_stop(&topo.services[*svc], idxs);
    }
    for svc in &order {
        run.place_service(&topo.services[*svc]);
    }
    run.retry_failed();
    run.plan
}

impl<'a> Run<'a> {
    fn stop(&mut self, i: usize, why: StopReason) {
        let a = &self.snap.allocs[i];
        if let Some(n) = self.cluster.node(&a.node) {
            self.cluster.release(n, &a.charge(), true);
        }
        self.touched.insert(i);
        self.plan.stop.push((a.id.clone(), why));
    }

    fn count(&self, svc: &str, n: u32) -> u32 {
        self.per_node
            .get(svc)
            .and_then(|m| m.get(&n))
            .copied()
            .unwrap_or(0)
    }

    fn occupy(&mut self, svc: &'a str, index: u32, n: u32) {
        self.slot_node.insert((svc, index), n);
        *self.per_node.entry(svc).or_default().entry(n).or_insert(0) += 1;
    }

    /// Pass 1 for one service.
    fn keep_or_stop(&mut self, spec: &'a ServiceSpec, mut idxs: Vec<usize>) {
        let snap = self.snap;
        let wanted = spec.wanted_replicas(self.topo);
        let hash = spec.fingerprint();
        idxs.sort_by(|&x, &y| {
            let (a, b) = (&snap.allocs[x], &snap.allocs[y]);
            (a.index, std::cmp::Reverse(a.generation), &a.id).cmp(&(
                b.index,
                std::cmp::Reverse(b.generation),
                &b.id,
            ))
        });
        for i in idxs {
            let a = &snap.allocs[i];
            let Some(n) = self.cluster.node(&a.node) else {
                self.stop(i, StopReason::NodeLost);
                continue;
            };
            let slot = (spec.name.as_str(), a.index);
            let why = if a.index >= wanted {
                Some(StopReason::ScaledDown)
            } else if self.slot_node.contains_key(&slot) {
                Some(StopReason::Duplicate)
            } else if a.spec_hash != hash {
                self.prefer.insert(slot, n);
                Some(StopReason::SpecChanged)
            } else if spec
                .placement
                .with
                .as_deref()
                .is_some_and(|p| self.slot_node.get(&(p, a.index)) != Some(&n))
            {
                Some(StopReason::PartnerMoved)
            } else if spec
                .placement
                .spread
                .is_some_and(|max| self.count(&spec.name, n) >= max)
            {
                Some(StopReason::SpreadExceeded)
            } else {
                None
            };
            match why {
                Some(w) => self.stop(i, w),
                None => {
                    self.occupy(&spec.name, a.index, n);
                    self.plan.keep.push(a.id.clone());
                    if a.desired == DesiredState::Suspend || a.status == AllocStatus::Suspended {
                        self.suspended.push(i);
                    }
                }
            }
        }
    }

    /// Pass 2 for one service: resume what fits again, then fill empty slots.
    fn place_service(&mut self, spec: &'a ServiceSpec) {
        let snap = self.snap;
        let hash = spec.fingerprint();
        let need = need_of(spec);
        for i in std::mem::take(&mut self.suspended) {
            let a = &snap.allocs[i];
            if a.service != spec.name {
                self.suspended.push(i);
                continue;
            }
            if let Some(n) = self.cluster.node(&a.node) {
                let cpu = Capacity::new(a.resources.cpu_milli, 0);
                if self.cluster.fits(n, &cpu) {
                    self.cluster.charge(n, &cpu, false);
                    self.plan.resume.push(a.id.clone());
                }
            }
        }
        // Batch work that ran to completion under this spec is not run again.
        let done: HashSet<u32> = snap
            .allocs
            .iter()
            .filter(|a| {
                a.job == self.topo.name
                    && a.service == spec.name
                    && a.status == AllocStatus::Complete
                    && a.spec_hash == hash
            })
            .map(|a| a.index)
            .collect();
        for index in 0..spec.wanted_replicas(self.topo) {
            let slot = (spec.name.as_str(), index);
            if self.slot_node.contains_key(&slot) || done.contains(&index) {
                continue;
            }
            match self.choose(spec, index, &need) {
                Ok(n) => self.place(spec, index, n, need, hash),
                Err(why) => self.failed.push((spec, index, why)),
            }
        }
    }

    /// Suspension is the only thing that frees capacity during pass 2, and
    /// it may free more than its preemptor took: slots that failed before
    /// it get another try (until a round suspends nothing), so that a re-run
    /// on the applied plan finds nothing more to place.
    fn retry_failed(&mut self) {
        let mut suspended = 0;
        while self.plan.suspend.len() != suspended && !self.failed.is_empty() {
            suspended = self.plan.suspend.len();
            for (spec, index, _) in std::mem::take(&mut self.failed) {
                let need = need_of(spec);
                match self.choose(spec, index, &need) {
                    Ok(n) => self.place(spec, index, n, need, spec.fingerprint()),
                    Err(why) => self.failed.push((spec, index, why)),
                }
            }
        }
        let failed = std::mem::take(&mut self.failed);
        self.plan.unplaceable = failed.into_iter().map(|(_, _, why)| why).collect();
    }

    fn spread_ok(&self, spec: &ServiceSpec, n: u32) -> bool {
        spec.placement
            .spread
            .is_none_or(|max| self.count(&spec.name, n) < max)
    }

    /// Picks the node for one slot, suspending batch work if that is allowed
    /// and needed.
    fn choose(
        &mut self,
        spec: &'a ServiceSpec,
        index: u32,
        need: &Capacity,
    ) -> Result<u32, Unplaceable> {
        if let Some(partner) = spec.placement.with.as_deref() {
            let Some(&n) = self.slot_node.get(&(partner, index)) else {
                return Err(Unplaceable::PartnerUnplaced {
                    service: spec.name.clone(),
                    index,
                    partner: partner.to_string(),
                });
            };
            if self.spread_ok(spec, n)
                && (self.cluster.fits(n, need) || self.preempt(n, need, spec.priority))
            {
                return Ok(n);
            }
            return Err(Unplaceable::PartnerNodeFull {
                service: spec.name.clone(),
                index,
                node: self.cluster.nodes[n as usize].id.clone(),
            });
        }
        if let Some(&n) = self.prefer.get(&(spec.name.as_str(), index)) {
            if self.spread_ok(spec, n) && self.cluster.fits(n, need) {
                return Ok(n);
            }
        }
        if let Some(n) = self.cluster.find(need, |n| self.spread_ok(spec, n)) {
            return Ok(n);
        }
        let can_preempt = self
            .cluster
            .min_batch_priority
            .is_some_and(|p| p < spec.priority);
        let nodes = if can_preempt {
            self.cluster.batch_nodes()
        } else {
            Vec::new()
        };
        for n in nodes {
            if self.spread_ok(spec, n) && self.preempt(n, need, spec.priority) {
                return Ok(n);
            }
        }
        Err(self.why_not(spec, index, need))
    }

    /// Names what is missing for a slot no node took.
    fn why_not(&self, spec: &ServiceSpec, index: u32, need: &Capacity) -> Unplaceable {
        let (service, most_free) = (spec.name.clone(), self.cluster.most_free());
        match (most_free, spec.placement.spread) {
            (None, _) => Unplaceable::NoNodes { service, index },
            (Some(_), Some(spread)) if self.cluster.find(need, |_| true).is_some() => {
                Unplaceable::SpreadLimit {
                    service,
                    index,
                    spread,
                }
            }
            (Some(most_free), _) => Unplaceable::NoCapacity {
                service,
                index,
                need: *need,
                most_free,
            },
        }
    }

    /// Suspends the fewest needed lower-priority batch allocations on node
    /// `n` so that `need` fits; false (and nothing changed) if it cannot.
    fn preempt(&mut self, n: u32, need: &Capacity, priority: i32) -> bool {
        let free = self.cluster.free(n);
        if free.memory < need.memory {
            return false;
        }
        let snap = self.snap;
        let mut cands: Vec<usize> = self.cluster.batch[n as usize]
            .iter()
            .copied()
            .filter(|i| !self.touched.contains(i) && snap.allocs[*i].priority < priority)
            .collect();
        cands.sort_by(|&x, &y| {
            let (a, b) = (&snap.allocs[x], &snap.allocs[y]);
            (a.priority, std::cmp::Reverse(a.resources.cpu_milli), &a.id).cmp(&(
                b.priority,
                std::cmp::Reverse(b.resources.cpu_milli),
                &b.id,
            ))
        });
        let mut got = free.cpu_milli;
        let mut victims = Vec::new();
        for i in cands {
            if got >= need.cpu_milli {
                break;
            }
            got += snap.allocs[i].resources.cpu_milli;
            victims.push(i);
        }
        if got < need.cpu_milli {
            return false;
        }
        // Drop victims that are not needed, last chosen first.
        for k in (0..victims.len()).rev() {
            let cpu = snap.allocs[victims[k]].resources.cpu_milli;
            if got - cpu >= need.cpu_milli {
                got -= cpu;
                victims.remove(k);
            }
        }
        for i in victims {
            let a = &snap.allocs[i];
            self.cluster
                .release(n, &Capacity::new(a.resources.cpu_milli, 0), false);
            self.touched.insert(i);
            self.plan.suspend.push(a.id.clone());
        }
        true
    }

    fn place(&mut self, spec: &'a ServiceSpec, index: u32, n: u32, need: Capacity, hash: u64) {
        self.cluster.charge(n, &need, true);
        self.occupy(&spec.name, index, n);
        let gen = self
            .generation
            .entry((spec.name.as_str(), index))
            .or_insert(0);
        *gen += 1;
        let job = &self.topo.name;
        self.plan.place.push(Allocation {
            id: AllocId::new(job, &spec.name, index, *gen),
            job: job.clone(),
            service: spec.name.clone(),
            index,
            generation: *gen,
            node: self.cluster.nodes[n as usize].id.clone(),
            resources: need,
            class: spec.class,
            priority: spec.priority,
            spec_hash: hash,
            desired: DesiredState::Run,
            status: AllocStatus::Pending,
        });
    }
}
