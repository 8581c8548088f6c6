//! Usage figures (memory, cpu, pids) and OOM-kill counts, with the pure parsers of the
//! flat-keyed files they come from (`memory.stat`, `cpu.stat`, `memory.events`,
//! `memory.oom_control`: one `key value` per line).
//!
//! `memory_usage` is the working set as `docker stats` shows it: usage minus inactive file
//! cache (v1 `total_inactive_file`, v2 `inactive_file`), since the kernel reclaims that cache
//! before it would OOM-kill anything.

use std::path::Path;

use super::layout::Controller;
use super::{fsio, Cgroup, CgroupError};

/// A snapshot of a group's resource usage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupStats {
    /// Bytes in use, minus inactive file cache.
    pub memory_usage: u64,
    /// Bytes; `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// CPU time consumed by the group, nanoseconds.
    pub cpu_usage_ns: u64,
    /// Processes (tasks) currently in the group.
    pub pids_current: u64,
}

/// The value of `key` in flat-keyed text (`key value` per line).
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        match (f.next(), f.next()) {
            (Some(k), Some(v)) if k == key => v.parse().ok(),
            _ => None,
        }
    })
}

/// v1 reports "no limit" as the largest page-aligned i64 (9223372036854771712) rather than a
/// word; anything at or above 2^62 is treated as unlimited.
pub(crate) fn v1_limit(raw: u64) -> Option<u64> {
    match raw >= 1 << 62 {
        true => None,
        false => Some(raw),
    }
}

/// Working set: usage minus inactive file cache, never below zero.
pub(crate) fn working_set(usage: u64, memory_stat: &str, inactive_key: &str) -> u64 {
    usage.saturating_sub(keyed_value(memory_stat, inactive_key).unwrap_or(0))
}

/// v2 `cpu.stat` `usage_usec`, converted to nanoseconds.
pub(crate) fn v2_cpu_usage_ns(cpu_stat: &str) -> Option<u64> {
    keyed_value(cpu_stat, "usage_usec").map(|us| us.saturating_mul(1000))
}

/// Parses one flat-keyed value out of a file, or a `Parse` error naming the file and key.
fn file_value(path: &Path, key: &str) -> Result<u64, CgroupError> {
    let text = fsio::read(path)?;
    keyed_value(&text, key).ok_or_else(|| CgroupError::Parse {
        path: path.to_path_buf(),
        detail: format!("no {key:?} line"),
    })
}

impl Cgroup {
    /// Memory usage and limit, cpu time and pid count.
    pub fn stats(&self) -> Result<CgroupStats, CgroupError> {
        let (memory_usage, memory_limit) = self.memory_stats()?;
        Ok(CgroupStats {
            memory_usage,
            memory_limit,
            cpu_usage_ns: self.cpu_usage_ns()?,
            pids_current: self.pids_current()?,
        })
    }

    /// OOM kills in the group: v1 `memory.oom_control` `oom_kill`, v2 `memory.events` `oom_kill`.
    pub fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let (dir, h) = self.dir_of(Controller::Memory, "oom kill count")?;
        match h.v2 {
            false => file_value(&dir.join("memory.oom_control"), "oom_kill"),
            true => file_value(&dir.join("memory.events"), "oom_kill"),
        }
    }

    fn memory_stats(&self) -> Result<(u64, Option<u64>), CgroupError> {
        let (dir, h) = self.dir_of(Controller::Memory, "memory stats")?;
        let stat = fsio::read(&dir.join("memory.stat"))?;
        if h.v2 {
            let usage = fsio::read_u64(&dir.join("memory.current"))?;
            let limit = fsio::read_u64_or_max(&dir.join("memory.max"))?;
            return Ok((working_set(usage, &stat, "inactive_file"), limit));
        }
        let usage = fsio::read_u64(&dir.join("memory.usage_in_bytes"))?;
        let limit = v1_limit(fsio::read_u64(&dir.join("memory.limit_in_bytes"))?);
        Ok((working_set(usage, &stat, "total_inactive_file"), limit))
    }

    fn cpu_usage_ns(&self) -> Result<u64, CgroupError> {
        let (dir, h) = self.dir_of(Controller::Cpuacct, "cpu usage")?;
        match h.v2 {
            false => fsio::read_u64(&dir.join("cpuacct.usage")),
            true => {
                let file = dir.join("cpu.stat");
                let text = fsio::read(&file)?;
                v2_cpu_usage_ns(&text).ok_or_else(|| CgroupError::Parse {
                    path: file,
                    detail: "no \"usage_usec\" line".into(),
                })
            }
        }
    }

    /// `pids.current`, or the length of `pids()` where the pids controller is missing.
    fn pids_current(&self) -> Result<u64, CgroupError> {
        match self.dir_of(Controller::Pids, "pid count") {
            Ok((dir, _)) => fsio::read_u64(&dir.join("pids.current")),
            Err(_) => Ok(self.pids()?.len() as u64),
        }
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
