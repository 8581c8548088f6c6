//! Resolving (and creating) mount destinations inside the rootfs without ever leaving it.
//!
//! Every lookup is `openat2(root, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`:
//! symlinks in an image (`/etc/x -> /host/secret`, `../../..`) resolve as if the rootfs were
//! `/`, so a destination can never land on the host. Missing components are created one at a
//! time under an fd that was itself resolved this way. The mount then targets
//! `/proc/self/fd/N`, i.e. exactly the inode we resolved (the pattern runc uses since
//! CVE-2021-30465). The parent prepares all strings; nothing here allocates.

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

use crate::spawn::error::Detail;
use crate::spawn::sys::{self, Errno};

/// A path relative to the rootfs, pre-split by the parent.
#[derive(Debug)]
pub(crate) struct RelPath {
    /// "a/b/c" (no leading slash); "." for the root itself.
    pub full: CString,
    /// "a", "a/b", "a/b/c".
    pub prefixes: Vec<CString>,
    /// "a", "b", "c".
    pub names: Vec<CString>,
}

impl RelPath {
    /// Splits an absolute in-container path; `..` and `.` components are dropped lexically
    /// (RESOLVE_IN_ROOT would clamp them at the root anyway).
    pub(crate) fn new(abs: &str) -> Option<RelPath> {
        let mut names = Vec::new();
        for c in abs.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    names.pop();
                }
                c => names.push(c.to_string()),
            }
        }
        let mut prefixes = Vec::with_capacity(names.len());
        let mut acc = String::new();
        for n in &names {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(n);
            prefixes.push(CString::new(acc.clone()).ok()?);
        }
        let full = CString::new(if acc.is_empty() { ".".to_string() } else { acc }).ok()?;
        let names = names
            .into_iter()
            .map(CString::new)
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        Some(RelPath {
            full,
            prefixes,
            names,
        })
    }
}

/// What to create when a destination is missing.
#[derive(Debug)]
pub(crate) enum Create {
    Dir,
    File,
    Symlink(CString),
}

const RESOLVE: u64 = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;

/// Opens `rel` under `root` as O_PATH (following symlinks only inside the root).
pub(crate) fn open_in_root(root: RawFd, rel: &CStr, nofollow: bool) -> Result<RawFd, Errno> {
    let mut flags = libc::O_PATH;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    sys::openat2(root, rel, flags, RESOLVE)
}

/// Returns an O_PATH fd for `path` inside `root`, creating missing components (directories,
/// and the last one as `last`). A symlink destination is created but not followed.
pub(crate) fn resolve_or_create(
    root: RawFd,
    path: &RelPath,
    last: &Create,
) -> Result<RawFd, (Detail, Errno)> {
    let symlink = matches!(last, Create::Symlink(_));
    match open_in_root(root, &path.full, symlink) {
        Ok(fd) => return Ok(fd),
        Err(libc::ENOENT) => {}
        Err(e) => return Err((Detail::Resolve, e)),
    }
    let n = path.names.len();
    let mut parent = root;
    for i in 0..n {
        let is_last = i + 1 == n;
        let fd = match open_in_root(root, &path.prefixes[i], is_last && symlink) {
            Ok(fd) => fd,
            Err(libc::ENOENT) => {
                let kind = if is_last { last } else { &Create::Dir };
                let made = create_at(parent, &path.names[i], kind);
                if let Err(e) = made {
                    close_unless_root(parent, root);
                    return Err((Detail::Create, e));
                }
                match open_in_root(root, &path.prefixes[i], is_last && symlink) {
                    Ok(fd) => fd,
                    Err(e) => {
                        close_unless_root(parent, root);
                        return Err((Detail::Resolve, e));
                    }
                }
            }
            Err(e) => {
                close_unless_root(parent, root);
                return Err((Detail::Resolve, e));
            }
        };
        close_unless_root(parent, root);
        parent = fd;
    }
    Ok(parent)
}

fn close_unless_root(fd: RawFd, root: RawFd) {
    if fd != root {
        sys::close(fd);
    }
}

fn create_at(dir: RawFd, name: &CStr, kind: &Create) -> Result<(), Errno> {
    let ret = match kind {
        // SAFETY: name is NUL-terminated; dir is an fd we resolved.
        Create::Dir => unsafe { libc::mkdirat(dir, name.as_ptr(), 0o755) },
        Create::File => {
            let fd = sys::openat(
                dir,
                name,
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW,
                0o644,
            );
            match fd {
                Ok(fd) => {
                    sys::close(fd);
                    0
                }
                Err(e) => return ignore_exists(e),
            }
        }
        // SAFETY: both strings are NUL-terminated.
        Create::Symlink(target) => unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) },
    };
    match sys::cvt(ret) {
        Ok(_) => Ok(()),
        Err(e) => ignore_exists(e),
    }
}

/// A concurrent creator (or an earlier op) made it already: fine, we resolve it again next.
fn ignore_exists(e: Errno) -> Result<(), Errno> {
    if e == libc::EEXIST {
        Ok(())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::RelPath;

    #[test]
    fn splits_and_clamps() {
        let p = RelPath::new("/a/./b/../c/").expect("valid");
        assert_eq!(p.full.to_str().ok(), Some("a/c"));
        assert_eq!(p.prefixes.len(), 2);
        assert_eq!(p.names[1].to_str().ok(), Some("c"));
        let r = RelPath::new("/../..").expect("valid");
        assert_eq!(r.full.to_str().ok(), Some("."));
    }
}
