//! Bind sources, opened by the parent before clone: `open_tree(OPEN_TREE_CLONE)` makes a
//! detached copy of the source mount (recursive for `rbind`), `mount_setattr` makes it
//! read-only (recursively) and private while it is still detached, and the child only
//! attaches it with `move_mount` onto the destination it resolved inside the rootfs.
//!
//! So the host path is looked up once, in the keeper, and a missing or unusable source fails
//! the start before any process exists; the child neither walks host paths nor remounts. The
//! clone is private: nothing the container mounts below it propagates to the host (a shared
//! host mount would otherwise share its peer group with the copy).

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::spawn::sys::{AT_RECURSIVE, MOUNT_ATTR_RDONLY};
use crate::spawn::SpawnError;

const OPEN_TREE_CLONE: libc::c_uint = 1;

/// A detached, private copy of the mount tree at `source`, read-only if asked; with whether
/// the source is a directory (the destination to create).
pub(crate) fn open(
    source: &Path,
    recursive: bool,
    read_only: bool,
) -> Result<(OwnedFd, bool), SpawnError> {
    let what = || format!("open bind source {}", source.display());
    let c = CString::new(source.as_os_str().as_bytes())
        .map_err(|_| SpawnError::Invalid(format!("bind source {source:?} contains NUL")))?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: c is NUL-terminated; open_tree returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(SpawnError::setup(what(), std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a new descriptor nobody else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let set = if read_only { MOUNT_ATTR_RDONLY } else { 0 };
    // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
    let attr: [u64; 4] = [set, 0, libc::MS_PRIVATE, 0];
    let mut at = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        at |= AT_RECURSIVE;
    }
    // SAFETY: attr is a valid struct mount_attr and its size is passed; the path is "".
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            std::os::fd::AsRawFd::as_raw_fd(&tree),
            c"".as_ptr(),
            at,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if ret < 0 {
        return Err(SpawnError::setup(
            format!("make bind source {} private/read-only", source.display()),
            std::io::Error::last_os_error(),
        ));
    }
    let is_dir = std::fs::metadata(source)
        .map_err(|e| SpawnError::setup(what(), e))?
        .is_dir();
    Ok((tree, is_dir))
}
