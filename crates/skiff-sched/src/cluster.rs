//! The scheduler's working view of the nodes: free capacity per node kept in
//! an ordered index, so finding a node with room is a walk from the top of a
//! B-tree rather than a scan of every node.
//!
//! Nodes are ordered by (free cpu, free memory, fewest allocations, a seeded
//! tie-break). Choosing the first node from the top that fits is "worst fit":
//! load spreads over the cluster, and zero-resource services still go round
//! the nodes because the allocation count is part of the key. The tie-break
//! comes from the caller's seed, so one seed always yields one plan.

use crate::fxhash::FxMap as HashMap;
use skiff_types::{Allocation, Capacity, JobClass, Node};
use std::cmp::Reverse;
use std::collections::BTreeSet;

type Key = (u64, u64, Reverse<u32>, u64, u32);

pub(crate) struct Cluster<'a> {
    pub nodes: &'a [Node],
    pos: HashMap<&'a str, u32>,
    /// Charged per node; free = capacity - used (exact even if a snapshot
    /// arrives over-committed).
    used: Vec<Capacity>,
    count: Vec<u32>,
    tie: Vec<u64>,
    set: BTreeSet<Key>,
    /// Per node: indexes (into the snapshot's allocs) of running batch work.
    pub batch: Vec<Vec<usize>>,
    /// The lowest priority of any running batch allocation: a service at or
    /// below it can never preempt, so it skips the scan.
    pub min_batch_priority: Option<i32>,
}

/// splitmix64: a tiny, well-mixed, seedable generator.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<'a> Cluster<'a> {
    pub fn new(nodes: &'a [Node], allocs: &[Allocation], seed: u64) -> Self {
        let mut c = Cluster {
            nodes,
            pos: HashMap::with_capacity_and_hasher(nodes.len(), Default::default()),
            used: vec![Capacity::default(); nodes.len()],
            count: vec![0; nodes.len()],
            tie: (0..nodes.len() as u64)
                .map(|i| mix(seed ^ mix(i)))
                .collect(),
            set: BTreeSet::new(),
            batch: vec![Vec::new(); nodes.len()],
            min_batch_priority: None,
        };
        for (i, n) in nodes.iter().enumerate() {
            // A duplicate node id keeps its first entry.
            if n.alive && !c.pos.contains_key(n.id.as_str()) {
                c.pos.insert(n.id.as_str(), i as u32);
            }
        }
        for (ai, a) in allocs.iter().enumerate() {
            let Some(n) = c.node(&a.node) else { continue };
            if !a.status.is_live() {
                continue;
            }
            let n = n as usize;
            c.used[n] = c.used[n].add(&a.charge());
            c.count[n] += 1;
            if a.class == JobClass::Batch && a.charge().cpu_milli > 0 {
                c.batch[n].push(ai);
                c.min_batch_priority = Some(
                    c.min_batch_priority
                        .map_or(a.priority, |p| p.min(a.priority)),
                );
            }
        }
        for n in c.pos.values().copied().collect::<Vec<_>>() {
            let k = c.key(n);
            c.set.insert(k);
        }
        c
    }

    /// The index of an alive node.
    pub fn node(&self, id: &str) -> Option<u32> {
        self.pos.get(id).copied()
    }

    fn key(&self, n: u32) -> Key {
        let i = n as usize;
        let free = self.free(n);
        (
            free.cpu_milli,
            free.memory,
            Reverse(self.count[i]),
            self.tie[i],
            n,
        )
    }

    fn update(&mut self, n: u32, f: impl FnOnce(&mut Self)) {
        let old = self.key(n);
        self.set.remove(&old);
        f(self);
        let new = self.key(n);
        self.set.insert(new);
    }

    pub fn free(&self, n: u32) -> Capacity {
        let i = n as usize;
        self.nodes[i].capacity.saturating_sub(&self.used[i])
    }

    pub fn fits(&self, n: u32, need: &Capacity) -> bool {
        self.free(n).fits(need)
    }

    /// Takes `cap` (and one allocation slot) from node `n`.
    pub fn charge(&mut self, n: u32, cap: &Capacity, new_alloc: bool) {
        self.update(n, |c| {
            let i = n as usize;
            c.used[i] = c.used[i].add(cap);
            c.count[i] += u32::from(new_alloc);
        });
    }

    /// Gives `cap` (and, if `gone`, the allocation slot) back to node `n`.
    pub fn release(&mut self, n: u32, cap: &Capacity, gone: bool) {
        self.update(n, |c| {
            let i = n as usize;
            c.used[i] = c.used[i].saturating_sub(cap);
            c.count[i] = c.count[i].saturating_sub(u32::from(gone));
        });
    }

    /// The first node from the top of the index with room for `need` that
    /// `accept` takes. Stops as soon as free cpu drops below the need.
    pub fn find(&self, need: &Capacity, mut accept: impl FnMut(u32) -> bool) -> Option<u32> {
        for &(cpu, mem, _, _, n) in self.set.iter().rev() {
            if cpu < need.cpu_milli {
                return None;
            }
            if mem >= need.memory && accept(n) {
                return Some(n);
            }
        }
        None
    }

    /// The most free cpu and the most free memory on any one alive node
    /// (`None`: no node is alive).
    pub fn most_free(&self) -> Option<Capacity> {
        let mut it = self.set.iter();
        let &(cpu, mem, ..) = it.next()?;
        Some(it.fold(Capacity::new(cpu, mem), |m, &(c, mm, ..)| {
            Capacity::new(m.cpu_milli.max(c), m.memory.max(mm))
        }))
    }

    /// Alive nodes running batch work, in the seeded order: the only nodes
    /// where preemption can make room.
    pub fn batch_nodes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .pos
            .values()
            .copied()
            .filter(|&n| !self.batch[n as usize].is_empty())
            .collect();
        v.sort_by_key(|&n| (self.tie[n as usize], n));
        v
    }
}
