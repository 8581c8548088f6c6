//! One read of everything the controller decides on: jobs, allocations (with
//! the revision each was read at), the agents' reports and the live nodes.

use crate::ControlError;
use skiff_sched::Snapshot;
use skiff_store::{KeyValue, Revision, Store};
use skiff_types::job::{ALLOCS, JOBS, STATUS};
use skiff_types::{AllocId, AllocReport, Allocation, Capacity, JobRecord, Node, NodeRecord};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The registry's node keys (`/skiff/nodes/<node>`, under each node's lease).
pub const NODES: &str = "/skiff/nodes/";

/// What a node offers when it has not said: enough that only the spread and
/// `with` rules limit placement. Node records written before daemons
/// published their capacity (and records that do not parse) get this, so an
/// upgrade never makes running work unplaceable.
pub const UNMEASURED: Capacity = Capacity {
    cpu_milli: 1 << 40,
    memory: 1 << 60,
};

/// A stored allocation and the mod revision it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlloc {
    pub alloc: Allocation,
    pub revision: Revision,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// job -> (record, mod revision).
    pub jobs: BTreeMap<String, (JobRecord, Revision)>,
    pub allocs: Vec<StoredAlloc>,
    pub reports: HashMap<AllocId, AllocReport>,
    /// Status keys whose allocation is gone (left by a race; collected).
    pub orphan_reports: Vec<String>,
    /// Nodes whose lease is alive, with what they offer.
    pub nodes: BTreeMap<String, Node>,
}

fn decode<T: serde::de::DeserializeOwned>(kv: &KeyValue) -> Result<T, ControlError> {
    serde_json::from_slice(&kv.value).map_err(|e| ControlError::Record {
        key: kv.key.clone(),
        msg: e.to_string(),
    })
}

impl State {
    /// Reads the state from the store (a record that does not parse is
    /// skipped with a message rather than stopping every job).
    pub async fn read(store: &dyn Store) -> Result<State, ControlError> {
        let mut st = State::default();
        for kv in store.range(JOBS).await?.0 {
            match decode::<JobRecord>(&kv) {
                Ok(rec) => {
                    let name = kv.key[JOBS.len()..].to_string();
                    st.jobs.insert(name, (rec, kv.mod_revision));
                }
                Err(e) => eprintln!("skiff controller: {e}"),
            }
        }
        for kv in store.range(ALLOCS).await?.0 {
            match decode::<Allocation>(&kv) {
                Ok(alloc) => st.allocs.push(StoredAlloc {
                    alloc,
                    revision: kv.mod_revision,
                }),
                Err(e) => eprintln!("skiff controller: {e}"),
            }
        }
        let ids: BTreeSet<&str> = st.allocs.iter().map(|a| a.alloc.id.as_str()).collect();
        let mut reports = HashMap::new();
        let mut orphans = Vec::new();
        for kv in store.range(STATUS).await?.0 {
            let id = &kv.key[STATUS.len()..];
            if !ids.contains(id) {
                orphans.push(kv.key.clone());
                continue;
            }
            if let Ok(r) = decode::<AllocReport>(&kv) {
                reports.insert(AllocId(id.to_string()), r);
            }
        }
        st.reports = reports;
        st.orphan_reports = orphans;
        for kv in store.range(NODES).await?.0 {
            let id = &kv.key[NODES.len()..];
            st.nodes.insert(id.to_string(), live_node(id, &kv.value));
        }
        Ok(st)
    }

    /// Every job with a record or with allocations left.
    pub fn job_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.jobs.keys().cloned().collect();
        names.extend(self.allocs.iter().map(|a| a.alloc.job.clone()));
        names
    }

    /// The scheduler's view: allocations carry their agent's last report as
    /// status; nodes are the live ones plus, as dead, any node still holding
    /// allocations.
    pub fn snapshot(&self) -> Snapshot {
        let allocs: Vec<Allocation> = self
            .allocs
            .iter()
            .map(|s| {
                let mut a = s.alloc.clone();
                if let Some(r) = self.reports.get(&a.id) {
                    a.status = r.status;
                }
                a
            })
            .collect();
        let mut nodes: Vec<Node> = self.nodes.values().cloned().collect();
        let dead: BTreeSet<&str> = allocs
            .iter()
            .map(|a| a.node.as_str())
            .filter(|n| !self.nodes.contains_key(*n))
            .collect();
        nodes.extend(dead.into_iter().map(|n| Node {
            id: n.to_string(),
            capacity: Capacity::default(),
            labels: BTreeMap::new(),
            alive: false,
        }));
        Snapshot { nodes, allocs }
    }
}

/// A live node from its record: the capacity and labels it published, or
/// [`UNMEASURED`] when it published none (an older daemon) or the record
/// does not parse.
pub fn live_node(id: &str, record: &[u8]) -> Node {
    let rec = serde_json::from_slice::<NodeRecord>(record).ok();
    let (capacity, labels) = match rec {
        Some(r) => (r.capacity.unwrap_or(UNMEASURED), r.labels),
        None => (UNMEASURED, BTreeMap::new()),
    };
    Node {
        id: id.to_string(),
        capacity,
        labels,
        alive: true,
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
