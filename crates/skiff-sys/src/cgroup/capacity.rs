//! What this host can give out: CPUs and memory, as a node publishes them
//! for the scheduler.
//!
//! - CPUs: those this process may run on (`sched_getaffinity`, which already
//!   reflects a cpuset), else the online count (`sysconf`); capped by a CFS
//!   quota on the process's own cpu cgroup or any ancestor (v2 `cpu.max`,
//!   v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), as a daemon run inside a
//!   limited container or systemd slice would see.
//! - Memory: `MemTotal` from `/proc/meminfo`, capped by the memory limit of
//!   the process's own memory cgroup or any ancestor (v2 `memory.max`, v1
//!   `memory.limit_in_bytes`).
//!
//! The readers take the layout (whose mount points carry a root prefix) and
//! the text of `/proc/self/cgroup` and `/proc/meminfo`, so tests run against
//! a temp dir.

use std::path::{Path, PathBuf};

use super::layout::{CgroupLayout, Controller};
use super::CgroupError;

/// What the host offers: milli-CPUs and bytes of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCapacity {
    pub cpu_milli: u64,
    pub memory: u64,
}

/// Measures the running host (see the module docs).
pub fn measure() -> Result<HostCapacity, CgroupError> {
    let meminfo = super::fsio::read(Path::new("/proc/meminfo"))?;
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let layout = CgroupLayout::discover().ok();
    measure_with(layout.as_ref(), &own, &meminfo, usable_cpus())
}

/// CPUs this process may run on.
fn usable_cpus() -> u64 {
    let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok();
    let from_affinity = affinity.map(|set| {
        (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count() as u64
    });
    match from_affinity {
        Some(n) if n > 0 => n,
        _ => nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
            .ok()
            .flatten()
            .map_or(1, |n| n.max(1) as u64),
    }
}

/// The capacity given the host's facts: `cpus` usable CPUs, `meminfo` text,
/// the process's `/proc/self/cgroup` text and the cgroup layout (if any).
pub fn measure_with(
    layout: Option<&CgroupLayout>,
    own_cgroup: &str,
    meminfo: &str,
    cpus: u64,
) -> Result<HostCapacity, CgroupError> {
    let total = mem_total(meminfo).ok_or_else(|| CgroupError::Parse {
        path: PathBuf::from("/proc/meminfo"),
        detail: "no MemTotal line".into(),
    })?;
    let mut cap = HostCapacity {
        cpu_milli: cpus.saturating_mul(1000),
        memory: total,
    };
    let Some(layout) = layout else {
        return Ok(cap);
    };
    for dir in own_dirs(layout, Controller::Cpu, own_cgroup) {
        if let Some(limit) = cpu_limit(&dir) {
            cap.cpu_milli = cap.cpu_milli.min(limit);
        }
    }
    for dir in own_dirs(layout, Controller::Memory, own_cgroup) {
        if let Some(limit) = memory_limit(&dir) {
            cap.memory = cap.memory.min(limit);
        }
    }
    // A quota under one milli-CPU still runs something.
    cap.cpu_milli = cap.cpu_milli.max(1);
    Ok(cap)
}

/// `MemTotal:  16318476 kB` -> bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// The process's own group for `c` and each ancestor up to the mount,
/// innermost first. A path that does not exist under the mount (a cgroup
/// namespace shows paths relative to its own root) falls back to the mount.
fn own_dirs(layout: &CgroupLayout, c: Controller, own_cgroup: &str) -> Vec<PathBuf> {
    let Some(h) = layout.hierarchy(c) else {
        return Vec::new();
    };
    let rel = own_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if h.v2 {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|x| x == c.v1_name())
        };
        matches.then(|| path.trim_start_matches('/').to_string())
    });
    let mut dir = h.mount.join(rel.unwrap_or_default());
    if !dir.is_dir() {
        dir = h.mount.clone();
    }
    let mut dirs = vec![dir.clone()];
    while dir != h.mount {
        match dir.parent() {
            Some(p) if p.starts_with(&h.mount) => {
                dir = p.to_path_buf();
                dirs.push(dir.clone());
            }
            _ => break,
        }
    }
    dirs
}

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The CFS quota of one group in milli-CPUs (`None`: unlimited or no files).
fn cpu_limit(dir: &Path) -> Option<u64> {
    if let Some(max) = read_trim(&dir.join("cpu.max")) {
        return parse_cpu_max(&max);
    }
    let quota: i64 = read_trim(&dir.join("cpu.cfs_quota_us"))?.parse().ok()?;
    let period: u64 = read_trim(&dir.join("cpu.cfs_period_us"))?.parse().ok()?;
    quota_milli(u64::try_from(quota).ok()?, period)
}

/// v2 `cpu.max`: `max 100000` (unlimited) or `150000 100000` (1.5 CPUs).
pub fn parse_cpu_max(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    let quota: u64 = words.next()?.parse().ok()?;
    let period: u64 = words.next().map_or(Some(100_000), |p| p.parse().ok())?;
    quota_milli(quota, period)
}

fn quota_milli(quota: u64, period: u64) -> Option<u64> {
    (period > 0).then(|| quota.saturating_mul(1000) / period)
}

/// The memory limit of one group in bytes (`None`: unlimited or no files).
/// v1 writes "unlimited" as a huge page-aligned number; the `min` with
/// `MemTotal` takes care of it.
fn memory_limit(dir: &Path) -> Option<u64> {
    let text = read_trim(&dir.join("memory.max"))
        .or_else(|| read_trim(&dir.join("memory.limit_in_bytes")))?;
    text.parse().ok()
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
