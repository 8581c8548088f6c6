//! Masked and read-only paths, applied after pivot_root (as runc's `maskPath`/`readonlyPath`).
//!
//! A masked file gets /dev/null bind-mounted over it, a masked directory an empty read-only
//! tmpfs; a read-only path is bind-mounted onto itself and made read-only recursively.
//! Missing paths are skipped (the kernel may not have them). Paths are opened O_NOFOLLOW and
//! mounted through `/proc/self/fd/N`, so a symlink planted by the image cannot redirect them.

use std::ffi::CString;

use crate::spawn::error::{ChildFailure, Detail, Step};
use crate::spawn::sys::{self, FdPath};

/// runc's and Docker's default masked paths (Docker's list, a superset of runc's example).
pub fn default_masked_paths() -> Vec<String> {
    [
        "/proc/asound",
        "/proc/acpi",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// runc's and Docker's default read-only paths.
pub fn default_readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn open_nofollow(path: &CString) -> Result<Option<i32>, i32> {
    match sys::openat(libc::AT_FDCWD, path, libc::O_PATH | libc::O_NOFOLLOW, 0) {
        Ok(fd) => Ok(Some(fd)),
        Err(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_dir(fd: i32) -> Result<bool, i32> {
    // SAFETY: stat is plain data, zeroed is valid; fstat writes it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is an O_PATH fd we own; st outlives the call.
    sys::cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

fn mask(path: &CString) -> Result<(), (Detail, i32)> {
    let Some(fd) = open_nofollow(path).map_err(|e| (Detail::Resolve, e))? else {
        return Ok(());
    };
    let target = FdPath::new(fd);
    let res = match is_dir(fd) {
        Ok(true) => sys::mount(
            Some(c"tmpfs"),
            target.as_cstr(),
            Some(c"tmpfs"),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            Some(c"size=0k"),
        ),
        Ok(false) => sys::mount(
            Some(c"/dev/null"),
            target.as_cstr(),
            None,
            libc::MS_BIND,
            None,
        ),
        Err(e) => Err(e),
    };
    sys::close(fd);
    res.map_err(|e| (Detail::Mount, e))
}

fn readonly(path: &CString) -> Result<(), (Detail, i32)> {
    let Some(fd) = open_nofollow(path).map_err(|e| (Detail::Resolve, e))? else {
        return Ok(());
    };
    let target = FdPath::new(fd);
    let res = sys::mount(
        Some(target.as_cstr()),
        target.as_cstr(),
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    );
    sys::close(fd);
    res.map_err(|e| (Detail::Mount, e))?;
    let fd = open_nofollow(path)
        .map_err(|e| (Detail::Remount, e))?
        .ok_or((Detail::Remount, libc::ENOENT))?;
    let res = sys::mount_setattr_rdonly(fd, c"", true);
    sys::close(fd);
    res.map_err(|e| (Detail::Remount, e))
}

pub(crate) fn mask_all(paths: &[CString]) -> Result<(), ChildFailure> {
    for (i, p) in paths.iter().enumerate() {
        mask(p).map_err(|(d, e)| ChildFailure::at(Step::MaskPath, d, i, e))?;
    }
    Ok(())
}

pub(crate) fn readonly_all(paths: &[CString]) -> Result<(), ChildFailure> {
    for (i, p) in paths.iter().enumerate() {
        readonly(p).map_err(|(d, e)| ChildFailure::at(Step::ReadonlyPath, d, i, e))?;
    }
    Ok(())
}
