//! Copy-up from a layered image: the image's view at the mount point is what overlayfs would
//! show, so the layers are applied bottom to top into the (empty, new) volume the way overlay
//! merges them: an upper entry replaces a lower one of the same name (a directory over a
//! directory merges), an overlay whiteout (character device 0/0) deletes the lower entry, and
//! an opaque directory (`trusted.overlay.opaque=y`, written by skiff-image's unpacker for
//! `.wh..wh..opq`) hides everything below it.
//!
//! Each layer is read through fsroot like a single rootfs (see `copyup.rs`): the mount point is
//! resolved inside that layer, and a layer without a directory there adds nothing. A symlink
//! in the mount point's path that lives in a different layer than the directory it names is
//! not followed across layers (overlay would); such images copy up nothing from that layer.

use crate::copyup::copy_entry;
use crate::error::VolumeError;
use skiff_sys::fsroot::{EntryKind, FsRootError, RootDir};
use std::path::{Path, PathBuf};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Copies what the layered image (`layers`, bottom first) shows at `target` into `dest`.
/// Returns false when no layer has a directory there. Arguments as [`crate::copy_up`].
pub fn copy_up_layers(
    layers: &[PathBuf],
    target: &str,
    dest: &Path,
    name: &str,
    shift: u32,
) -> Result<bool, VolumeError> {
    let fail = |source: FsRootError| VolumeError::CopyUp {
        name: name.to_string(),
        target: target.to_string(),
        source,
    };
    let dst = RootDir::open(dest).map_err(fail)?;
    let mut any = false;
    for layer in layers {
        let image = RootDir::open(layer).map_err(fail)?;
        let Some(src) = image.open_subdir(Path::new(target)).map_err(fail)? else {
            continue;
        };
        if opaque(&src, Path::new("")).map_err(fail)? {
            clear(&dst, Path::new("")).map_err(fail)?;
        }
        crate::copyup::copy_root_attrs(&src, dest, shift)
            .map_err(|e| VolumeError::io("set owner and mode of", dest)(e))?;
        apply_layer(&src, &dst, shift).map_err(fail)?;
        any = true;
    }
    Ok(any)
}

/// Applies one layer's tree onto `dst` with overlay's rules.
fn apply_layer(src: &RootDir, dst: &RootDir, shift: u32) -> Result<(), FsRootError> {
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(dir) = stack.pop() {
        for child in src.read_dir(&dir)? {
            let rel = dir.join(child);
            let Some(st) = src.stat(&rel)? else { continue };
            let below = dst.stat(&rel)?;
            match st.kind {
                EntryKind::CharDevice(0) => {
                    // A whiteout: the lower entry is gone.
                    dst.remove_all(&rel)?;
                    continue;
                }
                EntryKind::Dir if below.is_some_and(|b| b.kind == EntryKind::Dir) => {
                    // Directories merge; an opaque one starts empty.
                    if opaque(src, &rel)? {
                        clear(dst, &rel)?;
                    }
                    dst.set_owner(
                        &rel,
                        st.uid.saturating_add(shift),
                        st.gid.saturating_add(shift),
                    )?;
                    dst.set_mode(&rel, st.mode)?;
                    stack.push(rel);
                    continue;
                }
                _ => {
                    if below.is_some() {
                        dst.remove_all(&rel)?;
                    }
                }
            }
            if copy_entry(src, dst, &rel, shift)? {
                stack.push(rel);
            }
        }
    }
    Ok(())
}

fn opaque(root: &RootDir, rel: &Path) -> Result<bool, FsRootError> {
    Ok(root.get_xattr(rel, OPAQUE_XATTR)?.as_deref() == Some(b"y"))
}

/// Removes every entry under `rel` in `dst`, keeping `rel` itself.
fn clear(dst: &RootDir, rel: &Path) -> Result<(), FsRootError> {
    for child in dst.read_dir(rel)? {
        dst.remove_all(&rel.join(child))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_merge_replace_and_white_out_like_overlay() {
        let l1 = tempfile::tempdir().unwrap();
        let l2 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(l1.path().join("data/sub")).unwrap();
        std::fs::write(l1.path().join("data/keep"), "lower").unwrap();
        std::fs::write(l1.path().join("data/replace"), "lower").unwrap();
        std::fs::write(l1.path().join("data/gone"), "lower").unwrap();
        std::fs::write(l1.path().join("data/sub/x"), "lower").unwrap();
        std::fs::create_dir_all(l2.path().join("data")).unwrap();
        std::fs::write(l2.path().join("data/replace"), "upper").unwrap();
        std::fs::write(l2.path().join("data/new"), "upper").unwrap();
        // An overlay whiteout for `gone` (needs root: mknod of 0/0).
        let r2 = RootDir::open(l2.path()).unwrap();
        let whiteout = r2.whiteout(Path::new("data/gone")).is_ok();
        let vol = tempfile::tempdir().unwrap();
        let layers = vec![l1.path().to_path_buf(), l2.path().to_path_buf()];
        assert!(copy_up_layers(&layers, "/data", vol.path(), "v", 0).unwrap());
        let read = |p: &str| std::fs::read_to_string(vol.path().join(p)).unwrap();
        assert_eq!(read("keep"), "lower");
        assert_eq!(read("replace"), "upper");
        assert_eq!(read("new"), "upper");
        assert_eq!(read("sub/x"), "lower");
        if whiteout {
            assert!(
                !vol.path().join("gone").exists(),
                "a whiteout hides the lower file"
            );
        }
        // No layer has /nothing: nothing copied.
        let empty = tempfile::tempdir().unwrap();
        assert!(!copy_up_layers(&layers, "/nothing", empty.path(), "v", 0).unwrap());
    }
}
