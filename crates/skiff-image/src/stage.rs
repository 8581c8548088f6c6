//! Staging of a `load`: the input's files land, hashed, under `ROOT/images/tmp/stage-*/`
//! before anything is verified, and layers are unpacked there too. Nothing here touches
//! `blobs/`, `layers/` or `state.json`; dropping a [`Stage`] removes all of it.
//!
//! An archive (a tar, optionally gzip/zstd-compressed) is read once, front to back: each regular
//! file is streamed into `blobs/<sha256>` of the stage while hashed, and its archive path is
//! remembered with that digest. Symlinks and hardlinks between archive files (legacy
//! docker-archives link duplicate layers) become aliases of the file they name, resolved
//! lexically inside the archive; nothing in the archive is ever created by its own name.
//! A directory (an OCI layout on disk) is read through a [`RootDir`], file by file on demand.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use skiff_sys::fsroot::RootDir;
use tar::EntryType;

use crate::compress::{self, Compression};
use crate::digest::{Digest, HashReader, LimitReader};
use crate::error::{ImageError, Result};
use crate::limits::Limits;
use crate::store::{read_capped, LayerMeta};
use crate::unpack::{clean_path, unpack_layer};

/// A load in progress.
pub(crate) struct Stage {
    dir: tempfile::TempDir,
    limits: Limits,
    /// Archive path -> content digest and size.
    files: BTreeMap<PathBuf, (Digest, u64)>,
    /// When loading a directory: read from here on demand.
    source_dir: Option<RootDir>,
    /// Layers unpacked in this stage: diff id -> (tar bytes).
    layers: BTreeMap<Digest, u64>,
    seq: u64,
}

impl Stage {
    pub(crate) fn new(dir: tempfile::TempDir, limits: Limits) -> Result<Stage> {
        for sub in ["blobs", "layers"] {
            let p = dir.path().join(sub);
            fs::create_dir(&p).map_err(|e| ImageError::io("create", p, e))?;
        }
        Ok(Stage {
            dir,
            limits,
            files: BTreeMap::new(),
            source_dir: None,
            layers: BTreeMap::new(),
            seq: 0,
        })
    }

    pub(crate) fn set_source_dir(&mut self, root: RootDir) {
        self.source_dir = Some(root);
    }

    /// The staged copy of a blob.
    pub(crate) fn blob_path(&self, d: &Digest) -> PathBuf {
        self.dir.path().join("blobs").join(d.hex())
    }

    /// The staged unpacked layer directory (holding `diff/` and `layer.json`).
    pub(crate) fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.dir.path().join("layers").join(diff_id.hex())
    }

    pub(crate) fn has_file(&self, rel: &str) -> bool {
        match clean_path(rel.as_bytes()) {
            Ok(p) => {
                self.files.contains_key(&p)
                    || self
                        .source_dir
                        .as_ref()
                        .is_some_and(|r| matches!(r.stat(&p), Ok(Some(_))))
            }
            Err(_) => false,
        }
    }

    /// Streams `r` into the stage, hashing it; returns its digest and size.
    pub(crate) fn put(&mut self, r: impl Read, what: &str) -> Result<(Digest, u64)> {
        self.seq += 1;
        let tmp = self.dir.path().join(format!("in-{}", self.seq));
        let mut f = fs::File::create(&tmp).map_err(|e| ImageError::io("create", &tmp, e))?;
        let mut hr = HashReader::new(r);
        io::copy(&mut hr, &mut f).map_err(|e| ImageError::invalid(what, e))?;
        let (d, n) = hr.finish().map_err(|e| ImageError::invalid(what, e))?;
        let dst = self.blob_path(&d);
        if dst.exists() {
            fs::remove_file(&tmp).map_err(|e| ImageError::io("remove", &tmp, e))?;
        } else {
            fs::rename(&tmp, &dst).map_err(|e| ImageError::io("rename", &dst, e))?;
        }
        Ok((d, n))
    }

    /// Reads a whole archive into the stage.
    pub(crate) fn extract_archive(&mut self, r: impl Read) -> Result<()> {
        let what = "archive";
        let (_, decoded) = compress::decoder(r).map_err(|e| ImageError::invalid(what, e))?;
        let (limited, tripped) = LimitReader::new(decoded, self.limits.max_archive_bytes);
        let limit = self.limits;
        let limit_err = || ImageError::Limit {
            what: "decompressed archive".into(),
            limit: limit.max_archive_bytes,
            unit: "bytes",
        };
        let mut ar = tar::Archive::new(limited);
        let mut aliases: Vec<(PathBuf, PathBuf)> = Vec::new();
        let mut count = 0u64;
        let res = (|| -> Result<()> {
            for entry in ar.entries().map_err(|e| ImageError::invalid(what, e))? {
                let entry = entry.map_err(|e| ImageError::invalid(what, e))?;
                count += 1;
                if count > limit.max_entries {
                    return Err(ImageError::Limit {
                        what: "entries in archive".into(),
                        limit: limit.max_entries,
                        unit: "entries",
                    });
                }
                let raw = entry.path_bytes().into_owned();
                let shown = String::from_utf8_lossy(&raw).into_owned();
                if raw.len() > limit.max_path_len {
                    return Err(ImageError::Hostile {
                        entry: shown.chars().take(64).collect(),
                        reason: "path too long".into(),
                    });
                }
                let rel = clean_path(&raw).map_err(|r| ImageError::Hostile {
                    entry: shown.clone(),
                    reason: r.into(),
                })?;
                match entry.header().entry_type() {
                    EntryType::Regular | EntryType::Continuous => {
                        let got = self.put(entry, &format!("archive entry {shown}"))?;
                        self.files.insert(rel, got);
                    }
                    EntryType::Symlink | EntryType::Link => {
                        let link = entry.link_name_bytes().map(|c| c.into_owned());
                        let link = link.unwrap_or_default();
                        let target = if entry.header().entry_type() == EntryType::Link
                            || link.starts_with(b"/")
                        {
                            clean_path(&link)
                        } else {
                            let mut joined = rel
                                .parent()
                                .unwrap_or(Path::new(""))
                                .as_os_str()
                                .as_bytes()
                                .to_vec();
                            joined.push(b'/');
                            joined.extend_from_slice(&link);
                            clean_path(&joined)
                        };
                        let target = target.map_err(|r| ImageError::Hostile {
                            entry: shown.clone(),
                            reason: format!("link target: {r}"),
                        })?;
                        aliases.push((rel, target));
                    }
                    _ => {} // directories, pax headers: nothing to keep
                }
            }
            Ok(())
        })();
        if tripped.get() {
            return Err(limit_err());
        }
        res?;
        // Resolve aliases (a few hops at most; cycles end as "missing").
        for _ in 0..8 {
            let mut progress = false;
            for (rel, target) in &aliases {
                if !self.files.contains_key(rel) {
                    if let Some(v) = self.files.get(target).cloned() {
                        self.files.insert(rel.clone(), v);
                        progress = true;
                    }
                }
            }
            if !progress {
                break;
            }
        }
        Ok(())
    }

    /// The digest and size of an input file, staging it first when reading a directory.
    pub(crate) fn file(&mut self, rel: &str, what: &str) -> Result<(Digest, u64)> {
        let missing = || ImageError::MissingBlob {
            what: what.to_string(),
            reference: rel.to_string(),
        };
        let p = clean_path(rel.as_bytes()).map_err(|r| ImageError::Hostile {
            entry: rel.to_string(),
            reason: r.into(),
        })?;
        if let Some(v) = self.files.get(&p) {
            return Ok(v.clone());
        }
        let Some(root) = self.source_dir.as_ref() else {
            return Err(missing());
        };
        let f = match root.open_file(&p) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(ENOENT) => return Err(missing()),
            Err(e) => return Err(e.into()),
        };
        let got = self.put(f, what)?;
        self.files.insert(p, got.clone());
        Ok(got)
    }

    /// A JSON document from the input: its digest and bytes (capped at the JSON limit).
    pub(crate) fn json(&mut self, rel: &str, what: &str) -> Result<(Digest, Vec<u8>)> {
        let (d, size) = self.file(rel, what)?;
        if size > self.limits.max_json_bytes {
            return Err(ImageError::Limit {
                what: format!("JSON document {what}"),
                limit: self.limits.max_json_bytes,
                unit: "bytes",
            });
        }
        let p = self.blob_path(&d);
        let f = fs::File::open(&p).map_err(|e| ImageError::io("open", &p, e))?;
        Ok((d, read_capped(f, self.limits.max_json_bytes, what)?))
    }

    /// Writes bytes we produced (a synthesised manifest) as a staged blob.
    pub(crate) fn put_bytes(&mut self, bytes: &[u8]) -> Result<Digest> {
        Ok(self.put(bytes, "generated blob")?.0)
    }

    /// Sniffs a staged blob's compression.
    pub(crate) fn compression(&self, d: &Digest) -> Result<Compression> {
        let p = self.blob_path(d);
        let f = fs::File::open(&p).map_err(|e| ImageError::io("open", &p, e))?;
        let (c, _) = compress::decoder(f).map_err(|e| ImageError::invalid("layer blob", e))?;
        Ok(c)
    }

    /// Unpacks a staged layer blob once, verifying its diff id; returns the tar size.
    pub(crate) fn unpack(&mut self, blob: &Digest, diff_id: &Digest, what: &str) -> Result<u64> {
        if let Some(n) = self.layers.get(diff_id) {
            return Ok(*n);
        }
        let dir = self.layer_dir(diff_id);
        let n = unpack_blob_to(&self.blob_path(blob), &dir, diff_id, &self.limits, what)?;
        self.layers.insert(diff_id.clone(), n);
        Ok(n)
    }

    /// Records a layer unpacked (by [`unpack_blob_to`]) into [`Stage::layer_dir`] elsewhere.
    pub(crate) fn mark_unpacked(&mut self, diff_id: &Digest, tar_bytes: u64) {
        self.layers.insert(diff_id.clone(), tar_bytes);
    }

    /// The sha256 of a staged blob's decompressed stream (capped at the layer limit).
    pub(crate) fn diff_id_of(&self, blob: &Digest, what: &str) -> Result<Digest> {
        let p = self.blob_path(blob);
        let f = fs::File::open(&p).map_err(|e| ImageError::io("open", &p, e))?;
        let (_, dec) =
            compress::decoder(io::BufReader::new(f)).map_err(|e| ImageError::invalid(what, e))?;
        let (limited, tripped) = LimitReader::new(dec, self.limits.max_layer_bytes);
        match HashReader::new(limited).finish() {
            Ok((d, _)) => Ok(d),
            Err(_) if tripped.get() => Err(ImageError::Limit {
                what: format!("decompressed {what}"),
                limit: self.limits.max_layer_bytes,
                unit: "bytes",
            }),
            Err(e) => Err(ImageError::invalid(what, e)),
        }
    }

    pub(crate) fn staged_layer(&self, diff_id: &Digest) -> bool {
        self.layers.contains_key(diff_id)
    }
}

/// ENOENT (Linux); skiff-image does not link libc itself.
const ENOENT: i32 = 2;

/// Unpacks the layer blob `src` into `dir/diff` (plus `dir/layer.json`), verifying its diff id;
/// returns the tar size. Needs no `Stage`, so layers can be unpacked on several threads.
pub(crate) fn unpack_blob_to(
    src: &Path,
    dir: &Path,
    diff_id: &Digest,
    limits: &Limits,
    what: &str,
) -> Result<u64> {
    let diff = dir.join("diff");
    fs::create_dir_all(&diff).map_err(|e| ImageError::io("create", &diff, e))?;
    let root = RootDir::open(&diff)?;
    let f = fs::File::open(src).map_err(|e| ImageError::io("open", src, e))?;
    let stats = unpack_layer(io::BufReader::with_capacity(1 << 16, f), &root, limits)?;
    if &stats.diff_id != diff_id {
        return Err(ImageError::DigestMismatch {
            what: format!("uncompressed {what}"),
            expected: diff_id.clone(),
            actual: stats.diff_id,
        });
    }
    let meta = LayerMeta {
        diff_id: diff_id.clone(),
        tar_bytes: stats.tar_bytes,
        entries: stats.entries,
        skipped_devices: stats.skipped_devices,
    };
    let mp = dir.join("layer.json");
    let bytes = serde_json::to_vec(&meta).map_err(|e| ImageError::invalid("layer.json", e))?;
    fs::write(&mp, bytes).map_err(|e| ImageError::io("write", &mp, e))?;
    Ok(stats.tar_bytes)
}
