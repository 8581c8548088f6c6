//! Thin, allocation-free wrappers over the raw syscalls the spawn path needs and that libc/nix
//! do not wrap (clone3, openat2, mount_setattr, the new mount API, close_range, pivot_root).
//!
//! Everything here runs in a freshly cloned child as well as in the parent, so no function
//! allocates: paths are `&CStr` prepared by the parent, errors are plain errno values.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// An errno value; the child's error currency (no allocation needed to carry it).
pub(crate) type Errno = i32;

/// Result of a raw syscall in the child.
pub(crate) type SysResult<T> = Result<T, Errno>;

fn errno() -> Errno {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

fn check_int(ret: libc::c_int) -> SysResult<libc::c_int> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

pub(crate) const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
pub(crate) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(crate) const RESOLVE_IN_ROOT: u64 = 0x10;
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const AT_RECURSIVE: libc::c_uint = 0x8000;
pub(crate) const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
pub(crate) const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
pub(crate) const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
pub(crate) const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
pub(crate) const FSCONFIG_SET_STRING: libc::c_uint = 1;
pub(crate) const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
pub(crate) const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
pub(crate) const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;

/// `struct clone_args` (v2, with the cgroup field).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What `clone3` returned.
pub(crate) enum Forked {
    Parent(libc::pid_t),
    Child,
}

/// fork-like clone3 (no CLONE_VM): the child gets a copy of the address space and continues
/// from here. `cgroup_fd` enables CLONE_INTO_CGROUP.
///
/// # Safety
/// The caller must make the child only run code that is safe after a fork of a (possibly
/// multi-threaded) process: no locks that another thread may hold, ending in `_exit`/`execve`.
pub(crate) unsafe fn clone3(flags: u64, cgroup_fd: Option<RawFd>) -> SysResult<Forked> {
    // With CLONE_PARENT the kernel requires exit_signal 0 (the parent's own is inherited).
    let parent = flags & libc::CLONE_PARENT as u64 != 0;
    let mut args = CloneArgs {
        flags,
        exit_signal: if parent { 0 } else { libc::SIGCHLD as u64 },
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: args is a valid, fully initialised clone_args of the size we pass; without
    // CLONE_VM the child runs on a copy of our stack, as after fork(2).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match check(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as libc::pid_t)),
    }
}

/// `openat2(dirfd, path, flags, resolve)` with mode 0.
pub(crate) fn openat2(dirfd: RawFd, path: &CStr, flags: i32, resolve: u64) -> SysResult<RawFd> {
    // SAFETY: open_how is plain data; zeroed is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = resolve;
    // SAFETY: path is NUL-terminated, how lives across the call and its size is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    check(ret).map(|fd| fd as RawFd)
}

/// `openat(dirfd, path, flags | O_CLOEXEC, mode)`.
pub(crate) fn openat(dirfd: RawFd, path: &CStr, flags: i32, mode: u32) -> SysResult<RawFd> {
    // SAFETY: path is NUL-terminated; the kernel only reads it.
    check_int(unsafe { libc::openat(dirfd, path.as_ptr(), flags | libc::O_CLOEXEC, mode) })
}

/// `mount(2)`; `None` passes NULL.
pub(crate) fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> SysResult<()> {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: all pointers are NUL-terminated strings or NULL, valid for the call.
    let ret = unsafe {
        libc::mount(
            p(source),
            target.as_ptr(),
            p(fstype),
            flags,
            p(data).cast::<libc::c_void>(),
        )
    };
    check_int(ret).map(drop)
}

/// Sets (only) MOUNT_ATTR_RDONLY on the mount at `dirfd`/`path`, recursively if asked.
/// Unlike a MS_REMOUNT|MS_BIND it keeps every other (possibly locked) per-mount flag.
pub(crate) fn mount_setattr_rdonly(dirfd: RawFd, path: &CStr, recursive: bool) -> SysResult<()> {
    let attr: [u64; 4] = [MOUNT_ATTR_RDONLY, 0, 0, 0]; // attr_set, attr_clr, propagation, userns_fd
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: attr is a valid struct mount_attr (4 x u64) and its size is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    check(ret).map(drop)
}

/// `move_mount(from_fd, "", to_fd, "", F_EMPTY_PATH | T_EMPTY_PATH)`.
pub(crate) fn move_mount_fd(from: RawFd, to: RawFd) -> SysResult<()> {
    let empty = c"";
    // SAFETY: both paths are valid empty C strings; fds are plain integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            empty.as_ptr(),
            to,
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check(ret).map(drop)
}

/// `pivot_root(new, old)`.
pub(crate) fn pivot_root(new: &CStr, old: &CStr) -> SysResult<()> {
    // SAFETY: both are NUL-terminated paths.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new.as_ptr(), old.as_ptr()) };
    check(ret).map(drop)
}

/// Marks every fd >= `first` close-on-exec in one syscall.
pub(crate) fn cloexec_from(first: u32) -> SysResult<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only flips fd flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    check(ret).map(drop)
}

/// A plain `int`-returning libc call, mapped to errno.
pub(crate) fn cvt(ret: libc::c_int) -> SysResult<libc::c_int> {
    check_int(ret)
}

/// Writes the whole buffer (retrying on EINTR / short writes).
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice of the given length.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Reads into `buf` until full or EOF; returns the number of bytes read.
pub(crate) fn read_full(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the pointer/length pair stays inside buf.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    Ok(got)
}

/// `/proc/self/fd/<fd>` as a NUL-terminated string in a stack buffer (no allocation), used as
/// a mount target/source that names exactly the inode we resolved safely.
pub(crate) struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    pub(crate) fn new(fd: RawFd) -> Self {
        let mut buf = [0u8; 32];
        let prefix = b"/proc/self/fd/";
        buf[..prefix.len()].copy_from_slice(prefix);
        let mut digits = [0u8; 12];
        let mut n = fd.unsigned_abs();
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[prefix.len() + i] = digits[len - 1 - i];
        }
        FdPath { buf }
    }

    pub(crate) fn as_cstr(&self) -> &CStr {
        // The buffer always holds a NUL after the digits (zero-initialised, max 24 bytes used).
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/")
    }
}

/// Closes a raw fd, ignoring errors (used on child-side temporaries).
pub(crate) fn close(fd: RawFd) {
    // SAFETY: closing an fd we own; a failure leaves nothing to clean up.
    unsafe {
        libc::close(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::FdPath;

    #[test]
    fn fd_path_formats_digits() {
        assert_eq!(
            FdPath::new(0).as_cstr().to_str().ok(),
            Some("/proc/self/fd/0")
        );
        assert_eq!(
            FdPath::new(1234).as_cstr().to_str().ok(),
            Some("/proc/self/fd/1234")
        );
    }
}
