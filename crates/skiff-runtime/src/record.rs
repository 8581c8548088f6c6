//! A container's durable record (`containers/<id>/container.json`): its spec,
//! lifecycle state and restart count. Written atomically on every change, so a
//! daemon killed at any point restarts from a consistent record.

use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use skiff_types::{ContainerId, ContainerSpec, ContainerState};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: ContainerId,
    pub name: String,
    pub created: u64,
    pub spec: ContainerSpec,
    pub state: ContainerState,
    pub restart_count: u32,
    /// The memory cgroup's OOM-kill count when the current run started.
    #[serde(default)]
    pub oom_baseline: u64,
}

/// Where a container's files live under the daemon's root.
#[derive(Debug, Clone)]
pub struct ContainerDir(pub PathBuf);

impl ContainerDir {
    pub fn new(root: &Path, id: &str) -> Self {
        ContainerDir(root.join("containers").join(id))
    }
    pub fn record(&self) -> PathBuf {
        self.0.join("container.json")
    }
    pub fn log(&self) -> PathBuf {
        self.0.join("container.log")
    }
    pub fn upper(&self) -> PathBuf {
        self.0.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.0.join("work")
    }
    pub fn merged(&self) -> PathBuf {
        self.0.join("merged")
    }
}

impl ContainerRecord {
    pub fn save(&self, root: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        write_atomic(&ContainerDir::new(root, self.id.as_str()).record(), &bytes)
    }
}

/// Loads every container record under `root`; unreadable ones are reported, not fatal.
pub fn load_all(root: &Path) -> (Vec<ContainerRecord>, Vec<String>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("containers")) else {
        return (records, problems);
    };
    for entry in entries.flatten() {
        let path = entry.path().join("container.json");
        match std::fs::read(&path).map(|b| serde_json::from_slice::<ContainerRecord>(&b)) {
            Ok(Ok(r)) => records.push(r),
            Ok(Err(e)) => problems.push(format!("{}: {e}", path.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A create that died before its first save: nothing to adopt.
                let _ = std::fs::remove_dir_all(entry.path());
            }
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    (records, problems)
}
