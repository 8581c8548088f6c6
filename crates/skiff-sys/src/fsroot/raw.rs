//! The raw syscalls under [`super::RootDir`]: openat2, *at calls on owned fds, and the
//! depth-first, never-following tree removal. Nothing here resolves a path itself.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::{EntryKind, EntryStat};

pub(super) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(super) const RESOLVE_IN_ROOT: u64 = 0x10;

pub(super) fn last_err() -> io::Error {
    io::Error::last_os_error()
}

pub(super) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_err())
    } else {
        Ok(ret)
    }
}

/// `openat2` as the spawner uses it (one implementation of the syscall), owning the result.
pub(super) fn openat2(dirfd: RawFd, path: &CStr, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    let fd = crate::spawn::sys::openat2(dirfd, path, flags, resolve)
        .map_err(io::Error::from_raw_os_error)?;
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(super) fn openat(dirfd: RawFd, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: name is NUL-terminated; the kernel only reads it.
    let fd = cvt(unsafe { libc::openat(dirfd, name.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    // SAFETY: openat returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(super) fn fstatat(dirfd: RawFd, name: &CStr, flags: i32) -> io::Result<libc::stat> {
    // SAFETY: stat is plain data; all-zero is valid and the kernel overwrites it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: name is NUL-terminated; st is a valid, writable stat buffer.
    cvt(unsafe { libc::fstatat(dirfd, name.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

pub(super) fn stat_of(st: &libc::stat) -> EntryStat {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => EntryKind::Dir,
        libc::S_IFLNK => EntryKind::Symlink,
        libc::S_IFIFO => EntryKind::Fifo,
        libc::S_IFSOCK => EntryKind::Socket,
        libc::S_IFCHR => EntryKind::CharDevice(st.st_rdev),
        libc::S_IFBLK => EntryKind::BlockDevice(st.st_rdev),
        _ => EntryKind::File,
    };
    EntryStat {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        nlink: st.st_nlink,
        ino: st.st_ino,
        mtime: st.st_mtime,
    }
}

/// `/proc/self/fd/N` for an fd: the magic link that names exactly that inode.
pub(super) fn proc_fd(fd: &OwnedFd) -> CString {
    // A decimal number never contains NUL.
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}

pub(super) fn mkdir_at(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: name is NUL-terminated; dir is an fd we own.
    match cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            // Fine if it is a directory, or a symlink resolving (in root) to one: callers
            // resolve through it next. Anything else stays an error.
            let st = fstatat(dir.as_raw_fd(), name, libc::AT_SYMLINK_NOFOLLOW)?;
            match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR | libc::S_IFLNK => Ok(()),
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

pub(super) fn unlink_at(dir: &OwnedFd, name: &CStr) -> io::Result<bool> {
    // SAFETY: name is NUL-terminated; dir is an fd we own.
    match cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            // SAFETY: as above.
            cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) })?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Depth-first removal under `dir`, by name, never following symlinks.
pub(super) fn remove_tree_at(dir: &OwnedFd, name: &CStr) -> io::Result<bool> {
    let st = match fstatat(dir.as_raw_fd(), name, libc::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
        Err(e) => return Err(e),
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let sub = openat(
            dir.as_raw_fd(),
            name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        for child in list_dir(&sub)? {
            remove_tree_at(&sub, &child)?;
        }
    }
    unlink_at(dir, name)
}

/// Names in a directory (without `.` and `..`), read through a duplicate of `dir`.
pub(super) fn list_dir(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    let dup = openat(dir.as_raw_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let raw = dup.as_raw_fd();
    // SAFETY: raw is a valid directory fd; on success fdopendir takes ownership of it.
    let dirp = unsafe { libc::fdopendir(raw) };
    if dirp.is_null() {
        return Err(last_err());
    }
    std::mem::forget(dup);
    let mut names = Vec::new();
    loop {
        // SAFETY: dirp is a valid DIR* we opened and have not closed.
        let ent = unsafe { libc::readdir64(dirp) };
        if ent.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes != b"." && bytes != b".." {
            names.push(name.to_owned());
        }
    }
    // SAFETY: dirp is valid and closed exactly once (this also closes the fd).
    unsafe { libc::closedir(dirp) };
    Ok(names)
}
