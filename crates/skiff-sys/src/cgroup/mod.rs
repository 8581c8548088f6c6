//! Control groups, v1 and v2, behind one interface.
//!
//! Owns: discovering where each controller is mounted ([`CgroupLayout`]), creating a group at
//! the same relative path in every hierarchy skiff uses ([`Cgroup`]), applying [`Resources`],
//! moving processes in, freezing (pause), stats, OOM counts, kill and removal.
//! It does not decide policy (which limits a container gets): callers hand it plain numbers.
//!
//! Hierarchies used: v1 `memory`, `cpu`, `cpuacct`, `pids`, `freezer`, `devices` (whichever
//! are mounted, co-mounted or not), or the cgroup2 hierarchy for `memory`, `cpu`, `pids` with
//! its core `cgroup.freeze` / `cpu.stat`. See `layout` for the hybrid `unified` choice.
//!
//! Devices (v1 only) are restricted in [`Cgroup::create`], not in `apply`: the allow-list is a
//! security boundary that must hold before the first process joins, and it never changes on a
//! resource update. On v2 the equivalent is an eBPF device program, not a file (not done here).
//!
//! Join latency (measured on these v1 hybrid VMs, kernel 6.18): a `cgroup.procs` write takes
//! the global `cgroup_threadgroup_rwsem` for writing, which waits one RCU grace period (7-24 ms)
//! unless another migration happened within roughly the last grace period. The wait is paid
//! once per burst, not per hierarchy: `add_pid` into 6 hierarchies costs one wait plus ~10-40 us
//! per file, and nothing when warm. Any cgroup mount with `favordynmods` removes the wait for
//! all hierarchies (writes 10-80 us) at some cost to fork/exit; on v2, `CLONE_INTO_CGROUP`
//! ([`Cgroup::dir_fd_v2`]) avoids the write altogether.
//!
//! Every path is built from the layout's mount points, which carry the `fs_root` the layout was
//! built with, so unit tests run against a temp dir without root.

pub mod capacity;
mod fsio;
mod layout;
mod lifecycle;
mod stats;
mod v1;
mod v2;

use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

pub mod fastattach;
pub use layout::CgroupLayout;
pub use stats::CgroupStats;

use layout::{Controller, Hierarchy};

/// Errors from cgroup operations; each says which file and, for writes, which value.
#[derive(thiserror::Error, Debug)]
pub enum CgroupError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("creating cgroup directory {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("removing cgroup directory {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("no cgroup or cgroup2 filesystem is mounted")]
    NoHierarchy,
    #[error("invalid cgroup path {path}: {reason}")]
    InvalidPath { path: PathBuf, reason: &'static str },
    #[error("controller {controller} is not available on this host (needed for {wanted})")]
    Unsupported {
        controller: &'static str,
        wanted: &'static str,
    },
    #[error("invalid resources: {0}")]
    InvalidResources(String),
    #[error("{path} did not report {want:?} within {waited:?}")]
    Timeout {
        path: PathBuf,
        want: &'static str,
        waited: Duration,
    },
    #[error("sending SIGKILL to pid {pid}: {source}")]
    Signal { pid: i32, source: nix::errno::Errno },
}

/// Resource limits, Docker flag semantics. `None` leaves the current value untouched.
#[derive(Default, Clone, Debug, PartialEq)]
pub struct Resources {
    /// Bytes (`--memory`).
    pub memory_limit: Option<u64>,
    /// Bytes including memory, -1 unlimited (`--memory-swap`). When unset with a memory limit,
    /// it equals the memory limit (no swap). Skipped when the kernel has no swap accounting.
    pub memory_swap_limit: Option<i64>,
    /// (quota_us, period_us) from `--cpus`; quota < 0 means unlimited.
    pub cpu_quota: Option<(i64, u64)>,
    /// `--cpu-shares` (v1 `cpu.shares`; v2 `cpu.weight` converted as crun does).
    pub cpu_shares: Option<u64>,
    /// Max pids; <= 0 means unlimited (`max`).
    pub pids_limit: Option<i64>,
}

/// A group at the same relative path in every hierarchy skiff uses.
#[derive(Clone, Debug)]
pub struct Cgroup {
    layout: CgroupLayout,
    rel: PathBuf,
}

impl Cgroup {
    /// Creates (mkdir -p) the group in each hierarchy; see `lifecycle`.
    pub fn create(layout: &CgroupLayout, rel: &Path) -> Result<Self, CgroupError> {
        let rel = checked_rel(rel)?;
        let cg = Cgroup {
            layout: layout.clone(),
            rel,
        };
        cg.create_dirs()?;
        Ok(cg)
    }

    /// An existing group (adoption after a daemon restart). `rel` keeps only its plain
    /// components (`/`, `.` and `..` are dropped), so it can never point outside the mounts;
    /// operations on an empty path (the root group) are refused.
    pub fn open(layout: &CgroupLayout, rel: &Path) -> Self {
        let rel = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s),
                _ => None,
            })
            .collect();
        Cgroup {
            layout: layout.clone(),
            rel,
        }
    }

    /// The group's path relative to each hierarchy's mount point.
    pub fn rel_path(&self) -> &Path {
        &self.rel
    }

    /// Applies limits: memory, cpu and pids via v1 or v2 files, per controller.
    pub fn apply(&self, r: &Resources) -> Result<(), CgroupError> {
        validate(r)?;
        if r.memory_limit.is_some() {
            let (dir, h) = self.dir_of(Controller::Memory, "memory limit")?;
            match h.v2 {
                false => v1::apply_memory(&dir, r)?,
                true => v2::apply_memory(&dir, r)?,
            }
        }
        if r.cpu_quota.is_some() || r.cpu_shares.is_some() {
            let (dir, h) = self.dir_of(Controller::Cpu, "cpu limit")?;
            match h.v2 {
                false => v1::apply_cpu(&dir, r)?,
                true => v2::apply_cpu(&dir, r)?,
            }
        }
        if let Some(n) = r.pids_limit {
            let (dir, _) = self.dir_of(Controller::Pids, "pids limit")?;
            fsio::write(&dir.join("pids.max"), &pids_max(n))?;
        }
        Ok(())
    }

    /// Every `cgroup.procs` a pid must be written into, one per hierarchy in use.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Moves `pid` (the whole thread group) into the group in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        let value = pid.to_string();
        for f in self.procs_files() {
            fsio::write(&f, &value)?;
        }
        Ok(())
    }

    /// An `O_DIRECTORY` fd of the group for clone3 `CLONE_INTO_CGROUP`; `Some` only on a pure
    /// v2 layout, where that one placement is complete (on v1 the pid must still be written
    /// into every hierarchy, so there is nothing to gain).
    pub fn dir_fd_v2(&self) -> Option<std::io::Result<OwnedFd>> {
        if !self.layout.is_v2() {
            return None;
        }
        let dir = self.layout.v2_hierarchy()?.mount.join(&self.rel);
        Some(
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir)
                .map(OwnedFd::from),
        )
    }

    /// The group's cgroup v2 `cpu.pressure` file (PSI of its tasks), when the
    /// layout has a v2 hierarchy and the kernel provides the file there.
    pub fn cpu_pressure_file(&self) -> Option<std::path::PathBuf> {
        let file = self
            .layout
            .v2_hierarchy()?
            .mount
            .join(&self.rel)
            .join("cpu.pressure");
        fsio::exists(&file).then_some(file)
    }

    /// Pids in the group and its child groups, sorted, read from the primary hierarchy.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = self.primary_dir();
        let mut dirs = vec![dir.clone()];
        dirs.extend(fsio::subdirs_deepest_first(&dir)?);
        let mut pids = Vec::new();
        for d in dirs {
            let f = d.join("cgroup.procs");
            match std::fs::read_to_string(&f) {
                Ok(text) => pids.extend(fsio::parse_pids(&f, &text)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && d != dir => {}
                Err(source) => return Err(CgroupError::Read { path: f, source }),
            }
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// The group's directory in each hierarchy in use.
    fn dirs(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.layout
            .hierarchies
            .iter()
            .map(|h| h.mount.join(&self.rel))
    }

    /// The group's directory in the hierarchy hosting `c`, or `Unsupported`.
    fn dir_of(
        &self,
        c: Controller,
        wanted: &'static str,
    ) -> Result<(PathBuf, &Hierarchy), CgroupError> {
        let h = self.layout.hierarchy(c).ok_or(CgroupError::Unsupported {
            controller: c.v1_name(),
            wanted,
        })?;
        Ok((h.mount.join(&self.rel), h))
    }

    /// The hierarchy whose `cgroup.procs` answers `pids()`: freezer first (what pause acts
    /// on), then pids, memory, or whatever is first.
    fn primary_dir(&self) -> PathBuf {
        let preferred = [Controller::Freezer, Controller::Pids, Controller::Memory];
        let h = preferred
            .iter()
            .find_map(|&c| self.layout.hierarchy(c))
            .or_else(|| self.layout.hierarchies.first());
        match h {
            Some(h) => h.mount.join(&self.rel),
            None => PathBuf::from(&self.rel),
        }
    }

    /// Refuses operations on the root group (an empty relative path).
    fn ensure_not_root(&self) -> Result<(), CgroupError> {
        match self.rel.as_os_str().is_empty() {
            true => Err(CgroupError::InvalidPath {
                path: self.rel.clone(),
                reason: "refusing to act on the root cgroup",
            }),
            false => Ok(()),
        }
    }
}

use std::os::unix::fs::OpenOptionsExt;

/// Checks a relative group path for `create`: non-empty, relative, plain components only.
fn checked_rel(rel: &Path) -> Result<PathBuf, CgroupError> {
    let bad = |reason| CgroupError::InvalidPath {
        path: rel.to_path_buf(),
        reason,
    };
    if rel.as_os_str().is_empty() {
        return Err(bad("empty"));
    }
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(bad("must be relative, without `.` or `..`"));
    }
    Ok(rel.to_path_buf())
}

/// Rejects combinations Docker rejects too.
fn validate(r: &Resources) -> Result<(), CgroupError> {
    if let Some(swap) = r.memory_swap_limit {
        let Some(mem) = r.memory_limit else {
            return Err(CgroupError::InvalidResources(
                "a memory+swap limit needs a memory limit".into(),
            ));
        };
        if swap >= 0 && (swap as u64) < mem {
            return Err(CgroupError::InvalidResources(format!(
                "memory+swap limit {swap} is below the memory limit {mem}"
            )));
        }
    }
    if let Some((_, 0)) = r.cpu_quota {
        return Err(CgroupError::InvalidResources("cpu period 0".into()));
    }
    Ok(())
}

/// `pids.max` value: a positive count, or `max` for unlimited.
fn pids_max(n: i64) -> String {
    match n > 0 {
        true => n.to_string(),
        false => "max".to_string(),
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
