//! The container's root filesystem, built inside the child's new mount namespace.
//!
//! Sequence (after runc's `prepareRootfs`/`finalizeRootfs` and crun's `libcrun_set_mounts`):
//! 1. `/` rprivate, so nothing we mount propagates back to the host;
//! 2. overlay (lowerdir=topmost:...:bottom, upperdir, workdir) on `merged_dir`, `nodev`;
//! 3. the mount ops prepared by [`plan`]: /proc, /dev (tmpfs) with bind-mounted host devices,
//!    /dev/pts, /dev/shm, /dev/mqueue, the /dev symlinks, /sys, then the user's mounts, each
//!    destination resolved inside the rootfs ([`resolve`]);
//! 4. `pivot_root(".", ".")` + lazy unmount of the old root (no temporary directory needed);
//! 5. masked and read-only paths ([`paths`]), then `/` read-only if asked.
//!
//! Device nodes are never created with mknod: /dev is a tmpfs and every device is a bind of
//! the host's node, which also works in a user namespace; the overlay and all tmpfs/proc/sys
//! mounts are nodev, so a node the container mknods itself is unusable.
//!
//! The parent prepares every string ([`plan`]); the child code here does not allocate.

pub(crate) mod bindsrc;
pub(crate) mod paths;
pub(crate) mod plan;
pub(crate) mod resolve;

use std::ffi::CString;
use std::os::fd::RawFd;

use crate::spawn::error::{ChildFailure, Detail, Step};
use crate::spawn::sys::{self, FdPath};
use resolve::{Create, RelPath};

pub use paths::{default_masked_paths, default_readonly_paths};

/// What a mount op does once its destination is resolved.
#[derive(Debug)]
pub(crate) enum OpKind {
    /// `mount(source, dest, fstype, flags, data)`.
    Mount {
        source: Option<CString>,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// Bind-mount the file behind an fd we hold (a pty slave onto /dev/console).
    BindFd(RawFd),
    /// Attach a detached mount (from fsmount, e.g. the pty's devpts instance).
    Attach(RawFd),
    /// Only make sure the destination exists (symlinks, the working directory).
    CreateOnly,
}

/// One prepared mount step.
#[derive(Debug)]
pub(crate) struct MountOp {
    pub dest: RelPath,
    pub create: Create,
    pub kind: OpKind,
    /// Make the new mount read-only afterwards (`Some(recursive)`), via mount_setattr.
    pub remount_ro: Option<bool>,
}

/// The whole prepared rootfs.
#[derive(Debug)]
pub(crate) struct RootfsPlan {
    pub merged: CString,
    pub overlay_opts: CString,
    /// chdir here first when the overlay options use relative paths (long layer lists).
    pub overlay_cwd: Option<CString>,
    pub ops: Vec<MountOp>,
    pub masked: Vec<CString>,
    pub readonly: Vec<CString>,
    pub read_only_root: bool,
    /// Detached bind-source trees (see [`bindsrc`]) the ops attach; closed with the plan.
    pub _held: Vec<std::os::fd::OwnedFd>,
}

/// Steps 1-4: propagation, overlay, mounts, pivot_root. Runs in the child.
pub(crate) fn build(plan: &RootfsPlan) -> Result<(), ChildFailure> {
    let fail = |step| move |e| ChildFailure::new(step, e);
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
        .map_err(fail(Step::Propagation))?;
    if let Some(dir) = &plan.overlay_cwd {
        // SAFETY: dir is NUL-terminated.
        sys::cvt(unsafe { libc::chdir(dir.as_ptr()) }).map_err(fail(Step::Overlay))?;
    }
    sys::mount(
        Some(c"overlay"),
        &plan.merged,
        Some(c"overlay"),
        libc::MS_NODEV,
        Some(&plan.overlay_opts),
    )
    .map_err(fail(Step::Overlay))?;
    let root = sys::openat(
        libc::AT_FDCWD,
        &plan.merged,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .map_err(fail(Step::Overlay))?;
    let res = run_ops(root, &plan.ops);
    sys::close(root);
    res?;
    pivot(&plan.merged)
}

fn run_ops(root: RawFd, ops: &[MountOp]) -> Result<(), ChildFailure> {
    for (i, op) in ops.iter().enumerate() {
        run_op(root, op).map_err(|(detail, e)| ChildFailure::at(Step::Mount, detail, i, e))?;
    }
    Ok(())
}

fn run_op(root: RawFd, op: &MountOp) -> Result<(), (Detail, i32)> {
    let fd = resolve::resolve_or_create(root, &op.dest, &op.create)?;
    let target = FdPath::new(fd);
    let res = match &op.kind {
        OpKind::Mount {
            source,
            fstype,
            flags,
            data,
        } => sys::mount(
            source.as_deref(),
            target.as_cstr(),
            fstype.as_deref(),
            *flags,
            data.as_deref(),
        ),
        OpKind::BindFd(src) => sys::mount(
            Some(FdPath::new(*src).as_cstr()),
            target.as_cstr(),
            None,
            libc::MS_BIND,
            None,
        ),
        OpKind::Attach(mnt) => sys::move_mount_fd(*mnt, fd),
        OpKind::CreateOnly => Ok(()),
    };
    sys::close(fd);
    res.map_err(|e| (Detail::Mount, e))?;
    if let Some(recursive) = op.remount_ro {
        // Reopen: the old fd still names the inode *under* the new mount.
        let fd =
            resolve::open_in_root(root, &op.dest.full, false).map_err(|e| (Detail::Remount, e))?;
        let res = sys::mount_setattr_rdonly(fd, c"", recursive);
        sys::close(fd);
        res.map_err(|e| (Detail::Remount, e))?;
    }
    Ok(())
}

/// `pivot_root(".", ".")`: the old root ends up stacked on the new one and is detached at
/// once, as runc and crun do; no put_old directory is left in the image.
fn pivot(merged: &std::ffi::CStr) -> Result<(), ChildFailure> {
    let fail = |e| ChildFailure::new(Step::Pivot, e);
    // SAFETY: merged is NUL-terminated.
    sys::cvt(unsafe { libc::chdir(merged.as_ptr()) }).map_err(fail)?;
    sys::pivot_root(c".", c".").map_err(fail)?;
    // SAFETY: "." is a valid path; MNT_DETACH lazily unmounts the old root stacked on it.
    sys::cvt(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) }).map_err(fail)?;
    // SAFETY: "/" is a valid path.
    sys::cvt(unsafe { libc::chdir(c"/".as_ptr()) }).map_err(fail)?;
    Ok(())
}

/// Step 5, after pivot_root: masked and read-only paths, then a read-only `/` if asked.
pub(crate) fn finish(plan: &RootfsPlan) -> Result<(), ChildFailure> {
    paths::mask_all(&plan.masked)?;
    paths::readonly_all(&plan.readonly)?;
    if plan.read_only_root {
        sys::mount_setattr_rdonly(libc::AT_FDCWD, c"/", false)
            .map_err(|e| ChildFailure::new(Step::ReadonlyRoot, e))?;
    }
    Ok(())
}
