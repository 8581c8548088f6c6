//! Copy-up: Docker fills a new, empty volume with what the image has at the mount point, so
//! `-v db:/var/lib/mysql` starts with the image's files (and their owners and modes).
//!
//! Both sides go through skiff-sys's fsroot: the mount point is resolved inside the rootfs
//! (an image symlink `/data -> /etc` reads the image's `/etc`, never the host's), entries are
//! read without following a final symlink, and symlinks are copied as symlinks. Directories,
//! regular files, symlinks and FIFOs are copied with owner, mode (setuid bits included, set
//! after chown) and file mtimes; device nodes and sockets are skipped (fsroot refuses devices);
//! hard links become separate files. The tree is walked with an explicit stack, so a deep tree
//! cannot overflow ours.

use crate::error::VolumeError;
use skiff_sys::fsroot::{EntryKind, FsRootError, NodeKind, RootDir};
use std::path::Path;

/// Copies `rootfs`'s content at `target` (an absolute in-container path) into `dest` (a
/// volume's `_data`). Returns false when the rootfs has no directory there (nothing to copy).
/// `name` is the volume's, for errors. `shift` is added to every owner's uid and gid (the
/// host id of container root in a user namespace; 0 without one).
pub fn copy_up(
    rootfs: &Path,
    target: &str,
    dest: &Path,
    name: &str,
    shift: u32,
) -> Result<bool, VolumeError> {
    // A plain rootfs is an image of one layer (it has no whiteouts or opaque dirs to apply).
    crate::layered::copy_up_layers(&[rootfs.to_path_buf()], target, dest, name, shift)
}

/// The volume's root takes the owner and mode of the image's directory, as Docker does.
pub(crate) fn copy_root_attrs(src: &RootDir, dest: &Path, shift: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let st = src
        .stat(Path::new(""))
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    let (uid, gid) = (st.uid.saturating_add(shift), st.gid.saturating_add(shift));
    std::os::unix::fs::chown(dest, Some(uid), Some(gid))?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(st.mode))
}

/// Copies one entry; true when it is a directory whose children come next.
pub(crate) fn copy_entry(
    src: &RootDir,
    dst: &RootDir,
    rel: &Path,
    shift: u32,
) -> Result<bool, FsRootError> {
    let owner = |id: u32| id.saturating_add(shift);
    let Some(st) = src.stat(rel)? else {
        return Ok(false); // vanished meanwhile
    };
    let is_dir = match st.kind {
        EntryKind::Dir => {
            dst.create_dir(rel, 0o700)?;
            true
        }
        EntryKind::File => {
            let mut from = src.open_file(rel)?;
            let mut to = dst.create_file(rel, 0o600)?;
            std::io::copy(&mut from, &mut to).map_err(|e| FsRootError::Io {
                op: "copy",
                root: dst.path().to_path_buf(),
                rel: rel.display().to_string(),
                source: e,
            })?;
            false
        }
        EntryKind::Symlink => {
            dst.symlink(&src.read_link(rel)?, rel)?;
            dst.set_owner(rel, owner(st.uid), owner(st.gid))?;
            return Ok(false);
        }
        EntryKind::Fifo => {
            dst.mknod(rel, NodeKind::Fifo, st.mode)?;
            false
        }
        EntryKind::Socket | EntryKind::CharDevice(_) | EntryKind::BlockDevice(_) => {
            return Ok(false)
        }
    };
    dst.set_owner(rel, owner(st.uid), owner(st.gid))?;
    dst.set_mode(rel, st.mode)?;
    if !is_dir {
        dst.set_mtime(rel, st.mtime, 0)?;
    }
    Ok(is_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn copies_the_tree_and_never_leaves_the_rootfs() {
        let rootfs = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host").unwrap();
        let r = rootfs.path();
        std::fs::create_dir_all(r.join("srv/data/sub")).unwrap();
        std::fs::write(r.join("srv/data/a.txt"), "alpha").unwrap();
        std::fs::write(r.join("srv/data/sub/b"), "beta").unwrap();
        std::fs::set_permissions(
            r.join("srv/data/a.txt"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        symlink("../a.txt", r.join("srv/data/sub/link")).unwrap();
        // A symlink out of the rootfs: copied as a link, never followed.
        symlink(outside.path(), r.join("srv/data/escape")).unwrap();
        // The mount point itself reached through a symlink resolves inside the rootfs.
        symlink("/srv/data", r.join("data")).unwrap();
        symlink(outside.path(), r.join("hostdir")).unwrap();

        let vol = tempfile::tempdir().unwrap();
        assert!(copy_up(r, "/data", vol.path(), "v", 0).unwrap());
        let v = vol.path();
        assert_eq!(std::fs::read_to_string(v.join("a.txt")).unwrap(), "alpha");
        assert_eq!(std::fs::read_to_string(v.join("sub/b")).unwrap(), "beta");
        let mode = std::fs::metadata(v.join("a.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640);
        assert_eq!(
            std::fs::read_link(v.join("sub/link")).unwrap(),
            Path::new("../a.txt")
        );
        assert_eq!(
            std::fs::read_link(v.join("escape")).unwrap(),
            outside.path()
        );

        // `/hostdir` points at a host directory: inside the rootfs that is a missing path.
        let vol2 = tempfile::tempdir().unwrap();
        assert!(!copy_up(r, "/hostdir", vol2.path(), "v2", 0).unwrap());
        assert!(std::fs::read_dir(vol2.path()).unwrap().next().is_none());
        assert!(!copy_up(r, "/nope", vol2.path(), "v2", 0).unwrap());
        if skiff_sys::fsroot::effective_uid() == 0 {
            // In a user namespace the owners move by the mapping's base.
            use std::os::unix::fs::MetadataExt;
            let vol3 = tempfile::tempdir().unwrap();
            assert!(copy_up(r, "/data", vol3.path(), "v3", 100_000).unwrap());
            let own = std::fs::symlink_metadata(vol3.path().join("a.txt")).unwrap();
            let mine = std::fs::symlink_metadata(r.join("srv/data/a.txt")).unwrap();
            assert_eq!(
                (own.uid(), own.gid()),
                (mine.uid() + 100_000, mine.gid() + 100_000)
            );
            assert_eq!(
                std::fs::metadata(vol3.path()).unwrap().uid(),
                100_000 + mine.uid()
            );
        }
    }
}
