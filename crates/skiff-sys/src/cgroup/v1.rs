//! cgroup v1 files: memory (`limit_in_bytes`, `memsw`), cpu (CFS quota, shares), the devices
//! allow-list and the freezer. Each function gets the group's directory in the hierarchy that
//! hosts the controller.

use std::path::Path;
use std::time::Duration;

use super::{fsio, CgroupError, Resources};

/// Writes `memory.limit_in_bytes` and, when swap accounting exists, `memory.memsw.limit_in_bytes`.
///
/// The kernel requires memory <= memory+swap at every instant, so the order depends on the
/// current memsw limit: if the new memsw is above it (a raise), memsw goes first; otherwise
/// the memory limit goes first. Without a swap limit, memsw equals memory (no swap).
pub(crate) fn apply_memory(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    let Some(mem) = r.memory_limit else {
        return Ok(());
    };
    let mem_file = dir.join("memory.limit_in_bytes");
    let memsw_file = dir.join("memory.memsw.limit_in_bytes");
    if !fsio::exists(&memsw_file) {
        return fsio::write(&mem_file, &mem.to_string());
    }
    let swap = r.memory_swap_limit.unwrap_or(mem as i64);
    let current = fsio::read(&memsw_file)?;
    let current: i128 = current.trim().parse().map_err(|e| CgroupError::Parse {
        path: memsw_file.clone(),
        detail: format!("{:?}: {e}", current.trim()),
    })?;
    let raising = swap < 0 || i128::from(swap) > current;
    let swap = swap.to_string();
    if raising {
        fsio::write(&memsw_file, &swap)?;
        fsio::write(&mem_file, &mem.to_string())
    } else {
        fsio::write(&mem_file, &mem.to_string())?;
        fsio::write(&memsw_file, &swap)
    }
}

/// Writes the CFS period, then the quota (-1 unlimited), then `cpu.shares`.
///
/// Period goes first as runc does; if the kernel refuses it against the old quota (EINVAL when
/// the old quota/period ratio would exceed the parent's), the quota is written first instead.
pub(crate) fn apply_cpu(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    if let Some((quota, period)) = r.cpu_quota {
        let period_file = dir.join("cpu.cfs_period_us");
        let quota_file = dir.join("cpu.cfs_quota_us");
        let quota = if quota < 0 { -1 } else { quota };
        match fsio::write(&period_file, &period.to_string()) {
            Ok(()) => fsio::write(&quota_file, &quota.to_string())?,
            Err(CgroupError::Write { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) =>
            {
                fsio::write(&quota_file, &quota.to_string())?;
                fsio::write(&period_file, &period.to_string())?;
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(shares) = r.cpu_shares {
        fsio::write(&dir.join("cpu.shares"), &shares.to_string())?;
    }
    Ok(())
}

/// The default OCI/Docker device allow-list, applied after denying everything.
pub(crate) const DEFAULT_DEVICE_RULES: [&str; 11] = [
    "c 1:3 rwm",   // null
    "c 1:5 rwm",   // zero
    "c 1:7 rwm",   // full
    "c 1:8 rwm",   // random
    "c 1:9 rwm",   // urandom
    "c 5:0 rwm",   // tty
    "c 5:1 rwm",   // console
    "c 5:2 rwm",   // ptmx
    "c 136:* rwm", // pts
    "c *:* m",     // mknod of any char device (not its use)
    "b *:* m",     // mknod of any block device (not its use)
];

/// Denies all devices, then allows the default list.
pub(crate) fn restrict_devices(dir: &Path) -> Result<(), CgroupError> {
    fsio::write(&dir.join("devices.deny"), "a")?;
    let allow = dir.join("devices.allow");
    for rule in DEFAULT_DEVICE_RULES {
        fsio::write(&allow, rule)?;
    }
    Ok(())
}

/// How long freeze/thaw wait for the kernel to report the new state.
pub(crate) const FREEZE_WAIT: Duration = Duration::from_secs(2);

/// Writes `FROZEN` and waits for `freezer.state` to read `FROZEN` (it passes through
/// `FREEZING` while tasks are being stopped; the write is repeated as runc does, since a
/// task that forked mid-freeze can leave it there).
pub(crate) fn freeze(dir: &Path) -> Result<(), CgroupError> {
    set_state(dir, "FROZEN")
}

/// Writes `THAWED` and waits for `freezer.state` to read `THAWED`.
pub(crate) fn thaw(dir: &Path) -> Result<(), CgroupError> {
    set_state(dir, "THAWED")
}

fn set_state(dir: &Path, want: &'static str) -> Result<(), CgroupError> {
    let file = dir.join("freezer.state");
    let reached = fsio::poll_until(FREEZE_WAIT, || {
        if read_state(&file)? == want {
            return Ok(true);
        }
        fsio::write(&file, want)?;
        Ok(read_state(&file)? == want)
    })?;
    match reached {
        true => Ok(()),
        false => Err(CgroupError::Timeout {
            path: file,
            want,
            waited: FREEZE_WAIT,
        }),
    }
}

fn read_state(file: &Path) -> Result<String, CgroupError> {
    Ok(fsio::read(file)?.trim().to_string())
}

/// True when `freezer.state` reads `FROZEN` (`FREEZING` is not frozen yet).
pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(read_state(&dir.join("freezer.state"))? == "FROZEN")
}
