//! Safe unpack of one layer tar into a directory, through [`skiff_sys::fsroot::RootDir`].
//!
//! The `tar` crate is used only to iterate headers and read entry bodies; every entry is created
//! relative to the layer's root fd (never `Entry::unpack`). Rules, after the OCI image spec and
//! containerd's `archive.Apply`:
//! - Paths are cleaned lexically (`a/./b/../c` -> `a/c`); one that climbs above the root is
//!   refused as hostile, as are NUL bytes and paths longer than the limit.
//! - `.wh.NAME` becomes an overlay whiteout (char 0/0) at `NAME`, unless this same layer holds
//!   `NAME` (whiteouts only hide lower layers); `.wh..wh..opq` sets `trusted.overlay.opaque=y`
//!   on its directory; other `.wh..wh.*` (AUFS bookkeeping) are ignored.
//! - Duplicate entries: the last one wins; whatever was there is removed first (a directory
//!   followed by a directory keeps its content).
//! - Hardlinks must name an earlier non-directory entry of this layer (resolved in the root).
//! - Symlinks are stored as written and never followed while unpacking the final component.
//! - Device nodes are skipped (counted); FIFOs are created.
//! - Owners are applied, and setuid/setgid kept, only when unpacking as root.
//! - Limits: decompressed bytes, entry count, path length ([`Limits`]).
//!
//! Directory modes and mtimes are applied last (deepest first), so a read-only directory or a
//! later child does not undo them.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use skiff_sys::fsroot::{self, EntryKind, NodeKind, RootDir};
use tar::EntryType;

use crate::compress::{self, Compression};
use crate::digest::{Digest, HashReader, LimitReader};
use crate::error::{ImageError, Result};
use crate::limits::Limits;

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What unpacking a layer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    /// sha256 of the decompressed tar stream (the layer's diff id).
    pub diff_id: Digest,
    /// Bytes of the decompressed tar stream.
    pub tar_bytes: u64,
    pub compression: Compression,
    pub entries: u64,
    pub skipped_devices: u64,
}

/// Unpacks a (gzip, zstd or plain) layer tar from `blob` into `root`.
pub fn unpack_layer<R: Read>(blob: R, root: &RootDir, limits: &Limits) -> Result<UnpackStats> {
    let what = root.path().display().to_string();
    let (compression, decoded) =
        compress::decoder(blob).map_err(|e| ImageError::invalid(format!("layer {what}"), e))?;
    let (limited, tripped) = LimitReader::new(decoded, limits.max_layer_bytes);
    let limit_err = || ImageError::Limit {
        what: format!("decompressed layer {what}"),
        limit: limits.max_layer_bytes,
        unit: "bytes",
    };
    let mut archive = tar::Archive::new(HashReader::new(limited));
    let mut u = Unpacker {
        root,
        limits,
        as_root: fsroot::effective_uid() == 0,
        entries: 0,
        skipped_devices: 0,
        dirs: BTreeMap::new(),
    };
    let run = (|| -> Result<()> {
        let iter = archive
            .entries()
            .map_err(|e| ImageError::invalid(format!("layer tar {what}"), e))?;
        for entry in iter {
            let entry = entry.map_err(|e| ImageError::invalid(format!("layer tar {what}"), e))?;
            u.entry(entry)?;
        }
        Ok(())
    })();
    if tripped.get() {
        return Err(limit_err());
    }
    run?;
    u.finish_dirs()?;
    let (diff_id, tar_bytes) = archive.into_inner().finish().map_err(|e| {
        if tripped.get() {
            limit_err()
        } else {
            ImageError::invalid(format!("layer tar {what}"), e)
        }
    })?;
    Ok(UnpackStats {
        diff_id,
        tar_bytes,
        compression,
        entries: u.entries,
        skipped_devices: u.skipped_devices,
    })
}

/// Cleans a tar path lexically; `Err` if it climbs above the root or contains NUL.
pub fn clean_path(raw: &[u8]) -> std::result::Result<PathBuf, &'static str> {
    if raw.contains(&0) {
        return Err("path contains NUL");
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err("path climbs above the layer root");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts
        .iter()
        .map(|p| OsStr::from_bytes(p))
        .collect::<PathBuf>())
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

struct Unpacker<'a> {
    root: &'a RootDir,
    limits: &'a Limits,
    as_root: bool,
    entries: u64,
    skipped_devices: u64,
    /// Directory metadata to apply at the end (last wins; removed if replaced).
    dirs: BTreeMap<PathBuf, Meta>,
}

fn hostile(entry: &Path, reason: impl ToString) -> ImageError {
    ImageError::Hostile {
        entry: entry.display().to_string(),
        reason: reason.to_string(),
    }
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ImageError::Limit {
                what: format!("entries in layer {}", self.root.path().display()),
                limit: self.limits.max_entries,
                unit: "entries",
            });
        }
        let raw = entry.path_bytes().into_owned();
        let shown = PathBuf::from(OsStr::from_bytes(&raw));
        if raw.len() > self.limits.max_path_len {
            return Err(ImageError::Limit {
                what: format!(
                    "path length of entry {:?}...",
                    shown.to_string_lossy().chars().take(64).collect::<String>()
                ),
                limit: self.limits.max_path_len as u64,
                unit: "bytes",
            });
        }
        let rel = clean_path(&raw).map_err(|r| hostile(&shown, r))?;
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let Some(name) = rel.file_name().map(|n| n.as_bytes().to_vec()) else {
            // The layer root itself ("./"): its metadata stays ours.
            return Ok(());
        };
        let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        if let Some(hidden) = name.strip_prefix(b".wh.") {
            return self.whiteout(&rel, &parent, hidden);
        }
        let meta = self.meta(&entry, &rel)?;
        self.root.create_dir_all(&parent, 0o755)?;
        match kind {
            EntryType::Directory => {
                match self.root.stat(&rel)? {
                    Some(st) if st.kind == EntryKind::Dir => {}
                    Some(_) => {
                        self.replace(&rel)?;
                        self.root.create_dir(&rel, 0o700)?;
                    }
                    None => self.root.create_dir(&rel, 0o700)?,
                }
                self.dirs.insert(rel, meta);
            }
            EntryType::Regular | EntryType::Continuous => {
                self.replace(&rel)?;
                let mut f = self.root.create_file(&rel, 0o600)?;
                io::copy(&mut entry, &mut f).map_err(|e| {
                    ImageError::invalid(format!("layer entry {}", rel.display()), e)
                })?;
                drop(f);
                self.apply(&rel, meta, false)?;
            }
            EntryType::Symlink => {
                let target = self.link_name(&entry, &rel)?;
                self.replace(&rel)?;
                self.root
                    .symlink(Path::new(OsStr::from_bytes(&target)), &rel)?;
                self.apply(&rel, meta, true)?;
            }
            EntryType::Link => {
                let target = self.link_name(&entry, &rel)?;
                let target = clean_path(&target)
                    .map_err(|r| hostile(&rel, format!("hardlink target: {r}")))?;
                if target == rel {
                    return Ok(());
                }
                match self.root.stat(&target)? {
                    None => return Err(hostile(&rel, "hardlink target is not in this layer")),
                    Some(st) if st.kind == EntryKind::Dir => {
                        return Err(hostile(&rel, "hardlink to a directory"))
                    }
                    Some(_) => {}
                }
                self.replace(&rel)?;
                self.root.hardlink(&target, &rel)?;
            }
            EntryType::Fifo => {
                self.replace(&rel)?;
                self.root.mknod(&rel, NodeKind::Fifo, 0o600)?;
                self.apply(&rel, meta, false)?;
            }
            EntryType::Char | EntryType::Block => self.skipped_devices += 1,
            other => {
                return Err(hostile(
                    &rel,
                    format!("unsupported tar entry type {other:?}"),
                ));
            }
        }
        Ok(())
    }

    fn whiteout(&mut self, rel: &Path, parent: &Path, hidden: &[u8]) -> Result<()> {
        if hidden == b".wh..opq" {
            self.root.create_dir_all(parent, 0o755)?;
            self.root.set_xattr(parent, OPAQUE_XATTR, b"y")?;
            return Ok(());
        }
        if hidden.starts_with(b".wh.") {
            return Ok(()); // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs)
        }
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(hostile(rel, "whiteout of nothing"));
        }
        let target = parent.join(OsStr::from_bytes(hidden));
        self.root.create_dir_all(parent, 0o755)?;
        if self.root.stat(&target)?.is_some() {
            return Ok(()); // same-layer entries are not hidden by their own layer
        }
        self.root.whiteout(&target)?;
        Ok(())
    }

    fn link_name<R: Read>(&self, entry: &tar::Entry<'_, R>, rel: &Path) -> Result<Vec<u8>> {
        let target = entry
            .link_name_bytes()
            .map(|c| c.into_owned())
            .ok_or_else(|| hostile(rel, "link without a target"))?;
        if target.is_empty() || target.contains(&0) {
            return Err(hostile(rel, "empty link target or NUL in it"));
        }
        if target.len() > self.limits.max_path_len {
            return Err(ImageError::Limit {
                what: format!("link target length of {}", rel.display()),
                limit: self.limits.max_path_len as u64,
                unit: "bytes",
            });
        }
        Ok(target)
    }

    fn meta<R: Read>(&self, entry: &tar::Entry<'_, R>, rel: &Path) -> Result<Meta> {
        let h = entry.header();
        let bad = |e: io::Error| ImageError::invalid(format!("tar header of {}", rel.display()), e);
        let id = |v: u64| u32::try_from(v).map_err(|_| hostile(rel, "uid/gid out of range"));
        Ok(Meta {
            mode: h.mode().map_err(bad)? & 0o7777,
            uid: id(h.uid().map_err(bad)?)?,
            gid: id(h.gid().map_err(bad)?)?,
            mtime: i64::try_from(h.mtime().map_err(bad)?).unwrap_or(0),
        })
    }

    /// Removes whatever is at `rel` (last entry wins).
    fn replace(&mut self, rel: &Path) -> Result<()> {
        if self.root.remove_all(rel)? {
            let gone: Vec<PathBuf> = self
                .dirs
                .range(rel.to_path_buf()..)
                .map(|(p, _)| p.clone())
                .take_while(|p| p.starts_with(rel))
                .collect();
            for p in gone {
                self.dirs.remove(&p);
            }
        }
        Ok(())
    }

    fn apply(&self, rel: &Path, m: Meta, symlink: bool) -> Result<()> {
        let mut mode = m.mode;
        if self.as_root {
            self.root.set_owner(rel, m.uid, m.gid)?;
        } else {
            mode &= !0o6000;
        }
        if !symlink {
            self.root.set_mode(rel, mode)?;
        }
        self.root.set_mtime(rel, m.mtime, 0)?;
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.dirs);
        for (rel, m) in dirs.into_iter().rev() {
            if self.root.stat(&rel)?.map(|s| s.kind) == Some(EntryKind::Dir) {
                self.apply(&rel, m, false)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::clean_path;
    use std::path::PathBuf;

    #[test]
    fn cleans_like_docker() {
        assert_eq!(clean_path(b"./a/./b/../c/"), Ok(PathBuf::from("a/c")));
        assert_eq!(clean_path(b"/etc/passwd"), Ok(PathBuf::from("etc/passwd")));
        assert_eq!(clean_path(b"./"), Ok(PathBuf::new()));
        assert!(clean_path(b"../etc").is_err());
        assert!(clean_path(b"a/../../etc").is_err());
        assert!(clean_path(b"a\0b").is_err());
    }
}
