//! Reading a tree under a root, resolved like every other fsroot operation: open a
//! sub-directory as a root of its own (symlinks on the way followed *inside* the root only),
//! list a directory, read a symlink. What volume copy-up reads image content through.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::raw::{list_dir, openat, openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
use super::{Result, RootDir};

impl RootDir {
    /// Opens the directory at `rel` as a new root. Symlinks in `rel` (the last component too)
    /// resolve as if this root were `/`. `None` if it does not exist or is not a directory.
    pub fn open_subdir(&self, rel: &Path) -> Result<Option<RootDir>> {
        let names = self.components(rel)?;
        let mut joined = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                joined.push(b'/');
            }
            joined.extend_from_slice(n.as_bytes());
        }
        if joined.is_empty() {
            joined.push(b'.');
        }
        let c = std::ffi::CString::new(joined).map_err(|_| self.invalid(rel, "contains NUL"))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        match openat2(
            self.fd.as_raw_fd(),
            &c,
            flags,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        ) {
            Ok(fd) => {
                let mut path = self.path.clone();
                path.extend(names);
                Ok(Some(RootDir { fd, path }))
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(None),
            Err(e) => Err(self.io("open directory", rel, e)),
        }
    }

    /// The names in the directory `rel` (not `.`/`..`), unsorted; a final symlink is refused.
    pub fn read_dir(&self, rel: &Path) -> Result<Vec<OsString>> {
        let dir = if self.components(rel)?.is_empty() {
            openat(
                self.fd.as_raw_fd(),
                c".",
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            )
        } else {
            let (parent, name) = self.parent("read directory", rel)?;
            openat(
                parent.as_raw_fd(),
                &name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )
        }
        .map_err(|e| self.io("read directory", rel, e))?;
        let names = list_dir(&dir).map_err(|e| self.io("read directory", rel, e))?;
        Ok(names
            .into_iter()
            .map(|n| OsString::from_vec(n.into_bytes()))
            .collect())
    }

    /// The target of the symlink at `rel`, as stored (never resolved).
    pub fn read_link(&self, rel: &Path) -> Result<PathBuf> {
        let (parent, name) = self.parent("readlink", rel)?;
        nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name.as_c_str())
            .map(PathBuf::from)
            .map_err(|e| self.io("readlink", rel, std::io::Error::from(e)))
    }
}
