//! cgroup2 files: `memory.max`/`memory.swap.max`, `cpu.max`/`cpu.weight`, controller
//! delegation through ancestors' `cgroup.subtree_control`, and `cgroup.freeze`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{fsio, stats, CgroupError, Resources};

/// Writes `memory.max`, then `memory.swap.max` = swap limit - memory (or `max` for -1; 0 when
/// unset, i.e. no swap). The swap file is absent without swap accounting; then it is skipped.
pub(crate) fn apply_memory(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    let Some(mem) = r.memory_limit else {
        return Ok(());
    };
    fsio::write(&dir.join("memory.max"), &mem.to_string())?;
    let swap_file = dir.join("memory.swap.max");
    if !fsio::exists(&swap_file) {
        return Ok(());
    }
    let swap = match r.memory_swap_limit {
        Some(s) if s < 0 => "max".to_string(),
        Some(s) => (s as u64).saturating_sub(mem).to_string(),
        None => "0".to_string(),
    };
    fsio::write(&swap_file, &swap)
}

/// Writes `cpu.max` ("quota period", quota `max` when negative) and `cpu.weight`.
pub(crate) fn apply_cpu(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    if let Some((quota, period)) = r.cpu_quota {
        let quota = match quota < 0 {
            true => "max".to_string(),
            false => quota.to_string(),
        };
        fsio::write(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
    }
    if let Some(shares) = r.cpu_shares {
        fsio::write(
            &dir.join("cpu.weight"),
            &shares_to_weight(shares).to_string(),
        )?;
    }
    Ok(())
}

/// crun's conversion of v1 shares [2, 262144] to v2 weight [1, 10000]:
/// `1 + ((shares - 2) * 9999) / 262142`. Shares outside the v1 range are clamped first, as
/// the v1 kernel would.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// Enables `wanted` (those the root offers) in `cgroup.subtree_control` of every ancestor of
/// `rel` from the mount root down to its parent, skipping those already enabled.
pub(crate) fn delegate(mount: &Path, rel: &Path, wanted: &[&str]) -> Result<(), CgroupError> {
    let mut dir = mount.to_path_buf();
    let parents: Vec<PathBuf> = rel
        .parent()
        .map(|p| {
            p.components()
                .map(|c| PathBuf::from(c.as_os_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut ancestors = vec![dir.clone()];
    for p in parents {
        dir = dir.join(p);
        ancestors.push(dir.clone());
    }
    for a in ancestors {
        let file = a.join("cgroup.subtree_control");
        let enabled = fsio::read(&file)?;
        let missing: Vec<String> = wanted
            .iter()
            .filter(|w| !enabled.split_whitespace().any(|e| e == **w))
            .map(|w| format!("+{w}"))
            .collect();
        if !missing.is_empty() {
            fsio::write(&file, &missing.join(" "))?;
        }
    }
    Ok(())
}

/// How long freeze/thaw wait for `cgroup.events` to agree.
pub(crate) const FREEZE_WAIT: Duration = Duration::from_secs(2);

/// Writes `cgroup.freeze` and waits until `cgroup.events` reports `frozen` equal to it.
pub(crate) fn set_frozen(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let (value, want) = match frozen {
        true => ("1", "frozen 1"),
        false => ("0", "frozen 0"),
    };
    fsio::write(&dir.join("cgroup.freeze"), value)?;
    let reached = fsio::poll_until(FREEZE_WAIT, || Ok(is_frozen(dir)? == frozen))?;
    match reached {
        true => Ok(()),
        false => Err(CgroupError::Timeout {
            path: dir.join("cgroup.events"),
            want,
            waited: FREEZE_WAIT,
        }),
    }
}

/// True when `cgroup.events` says `frozen 1`.
pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let file = dir.join("cgroup.events");
    let text = fsio::read(&file)?;
    Ok(stats::keyed_value(&text, "frozen") == Some(1))
}
