//! fsroot: create and change filesystem entries RELATIVE TO A ROOT DIRECTORY FD, never outside it.
//!
//! This is what image layers are unpacked through (skiff-image never touches a layer path with
//! plain `std::fs`). Every operation resolves the *parent* of its path with
//! `openat2(root, parent, O_PATH|O_DIRECTORY, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`: a symlink
//! met on the way (`a -> /etc`, `b -> ../../..`) resolves as if the root were `/`, so it lands
//! inside the root. The last component is then acted on relative to that parent fd with
//! no-follow semantics (`O_CREAT|O_EXCL|O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, `linkat(.., 0)`), so a
//! symlink planted at the final name is replaced or refused, never written through.
//!
//! Path rules: a leading `/` means "the root" (absolute paths are root-relative); `.` is skipped;
//! a `..` component is refused ([`FsRootError::InvalidPath`]) rather than clamped, so a caller's
//! lexical cleaning is the only place that decides what `..` means. NUL bytes are refused.
//!
//! Device nodes are refused ([`RootDir::mknod`] creates FIFOs only): a layer has no business
//! shipping `/dev/sda`. The one exception is [`RootDir::whiteout`], the character device 0/0 that
//! overlayfs reads as "deleted in this layer" (needs CAP_MKNOD, i.e. root).
//!
//! [`RootDir::lock`] takes an exclusive `flock` on the root directory: the image store's
//! cross-process mutex.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use raw::{
    cvt, fstatat, last_err, mkdir_at, openat, openat2, proc_fd, remove_tree_at, stat_of, unlink_at,
    RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS,
};

/// What went wrong, with the root and the root-relative path.
#[derive(Debug, thiserror::Error)]
pub enum FsRootError {
    /// The relative path itself is unacceptable (`..`, NUL, empty where a name is needed).
    #[error("invalid path {rel:?} under {root}: {reason}")]
    InvalidPath {
        root: PathBuf,
        rel: String,
        reason: &'static str,
    },
    /// A syscall failed.
    #[error("{op} {rel:?} under {root}: {source}")]
    Io {
        op: &'static str,
        root: PathBuf,
        rel: String,
        #[source]
        source: io::Error,
    },
    /// A policy refusal (device nodes, xattrs on symlinks).
    #[error("{what} refused for {rel:?} under {root}")]
    Refused {
        what: &'static str,
        root: PathBuf,
        rel: String,
    },
}

impl FsRootError {
    /// The errno of an `Io` error, if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            FsRootError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Result of fsroot operations.
pub type Result<T> = std::result::Result<T, FsRootError>;

/// The type of an existing entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    /// A character device with its raw `st_rdev` (0 is an overlay whiteout).
    CharDevice(u64),
    BlockDevice(u64),
}

/// What `lstat` says about an entry (never following a final symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryStat {
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub nlink: u64,
    pub ino: u64,
    pub mtime: i64,
}

/// A node [`RootDir::mknod`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Fifo,
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
}

/// An open root directory; every path given to its methods stays beneath it.
#[derive(Debug)]
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Holds an exclusive `flock` on a root directory until dropped.
#[derive(Debug)]
pub struct RootLock {
    _fd: OwnedFd,
}

/// The effective uid of this process (0 = may chown, keep setuid bits, make whiteouts).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

impl RootDir {
    /// Opens `path` (a trusted host path; symlinks in it are followed) as the root.
    pub fn open(path: &Path) -> Result<RootDir> {
        let c =
            CString::new(path.as_os_str().as_bytes()).map_err(|_| FsRootError::InvalidPath {
                root: path.to_path_buf(),
                rel: String::new(),
                reason: "contains NUL",
            })?;
        let fd = openat(libc::AT_FDCWD, &c, libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(
            |source| FsRootError::Io {
                op: "open root",
                root: path.to_path_buf(),
                rel: String::new(),
                source,
            },
        )?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The host path this root was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn invalid(&self, rel: &Path, reason: &'static str) -> FsRootError {
        FsRootError::InvalidPath {
            root: self.path.clone(),
            rel: rel.display().to_string(),
            reason,
        }
    }

    fn io(&self, op: &'static str, rel: &Path, source: io::Error) -> FsRootError {
        FsRootError::Io {
            op,
            root: self.path.clone(),
            rel: rel.display().to_string(),
            source,
        }
    }

    /// The normal components of `rel` (see the module doc for the rules).
    fn components<'a>(&self, rel: &'a Path) -> Result<Vec<&'a OsStr>> {
        let mut out = Vec::new();
        for c in rel.components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => return Err(self.invalid(rel, "`..` component")),
                Component::Normal(n) => {
                    if n.as_bytes().contains(&0) {
                        return Err(self.invalid(rel, "contains NUL"));
                    }
                    out.push(n);
                }
            }
        }
        Ok(out)
    }

    /// Opens the directory at `names` (resolved in root) as O_PATH.
    fn open_dir_in_root(&self, names: &[&OsStr]) -> io::Result<OwnedFd> {
        let joined = if names.is_empty() {
            CString::new(".").unwrap_or_default()
        } else {
            let mut buf = Vec::new();
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    buf.push(b'/');
                }
                buf.extend_from_slice(n.as_bytes());
            }
            CString::new(buf).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?
        };
        openat2(
            self.fd.as_raw_fd(),
            &joined,
            libc::O_PATH | libc::O_DIRECTORY,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
    }

    /// The resolved parent directory of `rel` and its final name.
    fn parent(&self, op: &'static str, rel: &Path) -> Result<(OwnedFd, CString)> {
        let names = self.components(rel)?;
        let Some((last, dirs)) = names.split_last() else {
            return Err(self.invalid(rel, "names the root itself"));
        };
        let fd = self
            .open_dir_in_root(dirs)
            .map_err(|e| self.io(op, rel, e))?;
        let name = CString::new(last.as_bytes()).map_err(|_| self.invalid(rel, "contains NUL"))?;
        Ok((fd, name))
    }

    /// `lstat` of `rel`; `None` if it (or its parent) does not exist.
    pub fn stat(&self, rel: &Path) -> Result<Option<EntryStat>> {
        if self.components(rel)?.is_empty() {
            let st = fstatat(self.fd.as_raw_fd(), c".", 0).map_err(|e| self.io("stat", rel, e))?;
            return Ok(Some(stat_of(&st)));
        }
        let (dir, name) = match self.parent("stat", rel) {
            Ok(p) => p,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        match fstatat(dir.as_raw_fd(), &name, libc::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(stat_of(&st))),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.io("stat", rel, e)),
        }
    }

    /// `mkdir` of the last component; an existing directory is fine, anything else there is
    /// `EEXIST`. The parent must exist.
    pub fn create_dir(&self, rel: &Path, mode: u32) -> Result<()> {
        let (dir, name) = self.parent("mkdir", rel)?;
        mkdir_at(&dir, &name, mode).map_err(|e| self.io("mkdir", rel, e))
    }

    /// `mkdir -p` inside the root: each missing component is created under the fd of the one
    /// before it, which was itself resolved in root.
    pub fn create_dir_all(&self, rel: &Path, mode: u32) -> Result<()> {
        let names = self.components(rel)?;
        for i in 0..names.len() {
            let dir = self
                .open_dir_in_root(&names[..i])
                .map_err(|e| self.io("mkdir", rel, e))?;
            let name =
                CString::new(names[i].as_bytes()).map_err(|_| self.invalid(rel, "contains NUL"))?;
            mkdir_at(&dir, &name, mode).map_err(|e| self.io("mkdir", rel, e))?;
        }
        Ok(())
    }

    /// Creates a new regular file (`O_CREAT|O_EXCL|O_NOFOLLOW`), open for writing.
    pub fn create_file(&self, rel: &Path, mode: u32) -> Result<File> {
        let (dir, name) = self.parent("create", rel)?;
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY;
        let fd =
            openat(dir.as_raw_fd(), &name, flags, mode).map_err(|e| self.io("create", rel, e))?;
        Ok(File::from(fd))
    }

    /// Opens an existing regular file for reading; symlinks on the way resolve in root, a
    /// final symlink is refused (`ELOOP`).
    pub fn open_file(&self, rel: &Path) -> Result<File> {
        let (dir, name) = self.parent("open", rel)?;
        let fd = openat(dir.as_raw_fd(), &name, libc::O_RDONLY | libc::O_NOFOLLOW, 0)
            .map_err(|e| self.io("open", rel, e))?;
        Ok(File::from(fd))
    }

    /// Creates a symlink at `rel` whose target is stored as-is (never resolved here).
    pub fn symlink(&self, target: &Path, rel: &Path) -> Result<()> {
        let (dir, name) = self.parent("symlink", rel)?;
        let t = CString::new(target.as_os_str().as_bytes())
            .map_err(|_| self.invalid(rel, "symlink target contains NUL"))?;
        // SAFETY: both strings are NUL-terminated; dir is an fd we own.
        cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
            .map_err(|e| self.io("symlink", rel, e))?;
        Ok(())
    }

    /// Hard-links `new_rel` to `existing_rel`, both resolved in root; a final symlink at
    /// `existing_rel` is linked itself, not followed.
    pub fn hardlink(&self, existing_rel: &Path, new_rel: &Path) -> Result<()> {
        let (odir, oname) = self.parent("link", existing_rel)?;
        let (ndir, nname) = self.parent("link", new_rel)?;
        // SAFETY: names are NUL-terminated; both dirs are fds we own; flags 0 = no follow.
        cvt(unsafe {
            libc::linkat(
                odir.as_raw_fd(),
                oname.as_ptr(),
                ndir.as_raw_fd(),
                nname.as_ptr(),
                0,
            )
        })
        .map_err(|e| self.io("link", new_rel, e))?;
        Ok(())
    }

    /// Removes a file, symlink, node or empty directory. Returns whether something was there.
    pub fn remove(&self, rel: &Path) -> Result<bool> {
        let (dir, name) = match self.parent("remove", rel) {
            Ok(p) => p,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            Err(e) => return Err(e),
        };
        unlink_at(&dir, &name).map_err(|e| self.io("remove", rel, e))
    }

    /// Removes `rel` and, if it is a directory, everything beneath it (never following symlinks).
    pub fn remove_all(&self, rel: &Path) -> Result<bool> {
        let (dir, name) = match self.parent("remove", rel) {
            Ok(p) => p,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            Err(e) => return Err(e),
        };
        remove_tree_at(&dir, &name).map_err(|e| self.io("remove", rel, e))
    }

    /// `lchown`: the final component is never followed.
    pub fn set_owner(&self, rel: &Path, uid: u32, gid: u32) -> Result<()> {
        let (dir, name) = self.parent("chown", rel)?;
        // SAFETY: name is NUL-terminated; dir is an fd we own.
        cvt(unsafe {
            libc::fchownat(
                dir.as_raw_fd(),
                name.as_ptr(),
                uid,
                gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
        .map_err(|e| self.io("chown", rel, e))?;
        Ok(())
    }

    /// `chmod` of the entry itself (through an O_PATH fd of exactly that inode); a no-op on a
    /// symlink, whose mode Linux ignores.
    pub fn set_mode(&self, rel: &Path, mode: u32) -> Result<()> {
        let fd = self.open_path_nofollow("chmod", rel)?;
        let st = fstatat(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)
            .map_err(|e| self.io("chmod", rel, e))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Ok(());
        }
        let p = proc_fd(&fd);
        // SAFETY: p is NUL-terminated; it names the fd we hold.
        cvt(unsafe { libc::chmod(p.as_ptr(), mode & 0o7777) })
            .map_err(|e| self.io("chmod", rel, e))?;
        Ok(())
    }

    /// Sets atime and mtime (seconds, nanoseconds) without following a final symlink.
    pub fn set_mtime(&self, rel: &Path, secs: i64, nsecs: i64) -> Result<()> {
        let (dir, name) = self.parent("utimes", rel)?;
        let t = libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: nsecs as libc::c_long,
        };
        let times = [t, t];
        // SAFETY: name is NUL-terminated; times points to two valid timespecs.
        cvt(unsafe {
            libc::utimensat(
                dir.as_raw_fd(),
                name.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
        .map_err(|e| self.io("utimes", rel, e))?;
        Ok(())
    }

    /// Creates a FIFO; device nodes are refused (layers' device nodes are skipped by policy).
    pub fn mknod(&self, rel: &Path, kind: NodeKind, mode: u32) -> Result<()> {
        match kind {
            NodeKind::Fifo => self.mknod_raw("mkfifo", rel, libc::S_IFIFO | (mode & 0o777), 0),
            NodeKind::Char { .. } | NodeKind::Block { .. } => Err(FsRootError::Refused {
                what: "device node",
                root: self.path.clone(),
                rel: rel.display().to_string(),
            }),
        }
    }

    /// Creates an overlayfs whiteout (character device 0/0) at `rel`. Needs CAP_MKNOD.
    pub fn whiteout(&self, rel: &Path) -> Result<()> {
        self.mknod_raw("whiteout", rel, libc::S_IFCHR, libc::makedev(0, 0))
    }

    fn mknod_raw(&self, op: &'static str, rel: &Path, mode: u32, dev: u64) -> Result<()> {
        let (dir, name) = self.parent(op, rel)?;
        // SAFETY: name is NUL-terminated; dir is an fd we own.
        cvt(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) })
            .map_err(|e| self.io(op, rel, e))?;
        Ok(())
    }

    /// Sets an extended attribute (e.g. `trusted.overlay.opaque` = `y`) on the entry itself;
    /// refused on symlinks.
    pub fn set_xattr(&self, rel: &Path, name: &str, value: &[u8]) -> Result<()> {
        let fd = self.open_path_nofollow("setxattr", rel)?;
        let p = self.xattr_target(&fd, rel)?;
        let n = CString::new(name).map_err(|_| self.invalid(rel, "xattr name contains NUL"))?;
        // SAFETY: p and n are NUL-terminated; value is a valid slice of the given length.
        cvt(unsafe {
            libc::setxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        })
        .map_err(|e| self.io("setxattr", rel, e))?;
        Ok(())
    }

    /// Reads an extended attribute; `None` if it is not set.
    pub fn get_xattr(&self, rel: &Path, name: &str) -> Result<Option<Vec<u8>>> {
        let fd = self.open_path_nofollow("getxattr", rel)?;
        let p = self.xattr_target(&fd, rel)?;
        let n = CString::new(name).map_err(|_| self.invalid(rel, "xattr name contains NUL"))?;
        let mut buf = vec![0u8; 4096];
        // SAFETY: p and n are NUL-terminated; buf is writable for buf.len() bytes.
        let ret =
            unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if ret < 0 {
            let e = last_err();
            if e.raw_os_error() == Some(libc::ENODATA) {
                return Ok(None);
            }
            return Err(self.io("getxattr", rel, e));
        }
        buf.truncate(ret as usize);
        Ok(Some(buf))
    }

    fn xattr_target(&self, fd: &OwnedFd, rel: &Path) -> Result<CString> {
        let st = fstatat(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)
            .map_err(|e| self.io("xattr", rel, e))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(FsRootError::Refused {
                what: "xattr on a symlink",
                root: self.path.clone(),
                rel: rel.display().to_string(),
            });
        }
        Ok(proc_fd(fd))
    }

    /// An O_PATH fd of the entry itself (the root for an empty path).
    fn open_path_nofollow(&self, op: &'static str, rel: &Path) -> Result<OwnedFd> {
        if self.components(rel)?.is_empty() {
            return self.open_dir_in_root(&[]).map_err(|e| self.io(op, rel, e));
        }
        let (dir, name) = self.parent(op, rel)?;
        openat(dir.as_raw_fd(), &name, libc::O_PATH | libc::O_NOFOLLOW, 0)
            .map_err(|e| self.io(op, rel, e))
    }

    /// Takes an exclusive `flock` on the root directory (blocks until free).
    pub fn lock(&self) -> Result<RootLock> {
        match self.lock_with(libc::LOCK_EX)? {
            Some(l) => Ok(l),
            None => Err(self.io(
                "lock",
                Path::new(""),
                io::Error::from_raw_os_error(libc::EWOULDBLOCK),
            )),
        }
    }

    /// Like [`RootDir::lock`] but returns `None` instead of waiting when someone holds it.
    pub fn try_lock(&self) -> Result<Option<RootLock>> {
        self.lock_with(libc::LOCK_EX | libc::LOCK_NB)
    }

    fn lock_with(&self, op: libc::c_int) -> Result<Option<RootLock>> {
        // A fresh open file description per lock: flock excludes other descriptions, so two
        // locks taken in one process exclude each other too.
        let fd = openat(
            self.fd.as_raw_fd(),
            c".",
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .map_err(|e| self.io("lock", Path::new(""), e))?;
        loop {
            // SAFETY: fd is a valid open fd we own.
            match cvt(unsafe { libc::flock(fd.as_raw_fd(), op) }) {
                Ok(_) => return Ok(Some(RootLock { _fd: fd })),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => return Ok(None),
                Err(e) => return Err(self.io("lock", Path::new(""), e)),
            }
        }
    }
}

mod raw;
#[cfg(test)]
mod tests;
mod tree;
