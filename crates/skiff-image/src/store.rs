//! The content store on disk and its state file.
//!
//! ```text
//! ROOT/images/
//!   blobs/sha256/<hex>         manifests, configs, layer blobs: content-addressed, read-only
//!   layers/<diffhex>/diff/     one unpacked layer (an overlay lowerdir), shared by images
//!   layers/<diffhex>/layer.json
//!   state.json                 images (id = config digest) with their tags; atomic rename
//!   tmp/                       staging: blobs and layers are built here and renamed into place
//!   partial/<hex>              interrupted registry downloads, resumed by the next pull
//! ```
//! Crash safety: nothing under `blobs/` or `layers/` is ever half written (temp + verify +
//! rename), and `state.json` is replaced atomically after everything it names is in place, so a
//! killed import leaves at most unreferenced blobs/layers (removed by `prune`) and a `tmp/`
//! leftover (removed at the next open). Mutations hold an exclusive `flock` on `ROOT/images`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use skiff_sys::fsroot::{RootDir, RootLock};

use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::limits::Limits;

const STATE: &str = "state.json";

/// One image: its config digest is its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: Digest,
    pub manifest: Digest,
    pub manifest_media_type: String,
    pub layers: Vec<LayerRecord>,
    /// Normalised `name:tag` references (see [`crate::ops::normalize_name`]).
    pub tags: Vec<String>,
    pub created: Option<String>,
    /// Nanoseconds since the epoch when it was loaded.
    pub loaded_at: u64,
}

impl ImageRecord {
    /// Unpacked size: the sum of the layers' tar streams (what `docker images` shows).
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.tar_bytes).sum()
    }
}

/// One layer of an image, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Digest of the blob as stored (compressed or not).
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    pub tar_bytes: u64,
}

/// The state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// By id hex.
    pub images: BTreeMap<String, ImageRecord>,
}

/// Written next to each unpacked layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerMeta {
    pub diff_id: Digest,
    pub tar_bytes: u64,
    pub entries: u64,
    pub skipped_devices: u64,
}

/// What garbage collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    pub blobs_removed: u64,
    pub layers_removed: u64,
}

/// The image store rooted at `ROOT/images`.
#[derive(Debug)]
pub struct ImageStore {
    pub(crate) dir: PathBuf,
    pub(crate) root: RootDir,
    pub(crate) limits: Limits,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `skiff_root/images` with default limits.
    pub fn open(skiff_root: &Path) -> Result<ImageStore> {
        ImageStore::open_with(skiff_root, Limits::default())
    }

    /// Opens the store with explicit limits; clears `tmp/` leftovers if no one holds the lock.
    pub fn open_with(skiff_root: &Path, limits: Limits) -> Result<ImageStore> {
        let dir = skiff_root.join("images");
        for sub in ["blobs/sha256", "layers", "tmp", "partial"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| ImageError::io("create", p, e))?;
        }
        let root = RootDir::open(&dir)?;
        let store = ImageStore { dir, root, limits };
        if let Some(_lock) = store.root.try_lock()? {
            for name in store.list("tmp")? {
                store.root.remove_all(&Path::new("tmp").join(name))?;
            }
        }
        Ok(store)
    }

    /// `ROOT/images`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The limits untrusted input is held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Where a blob lives.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(d.hex())
    }

    /// The unpacked directory of a layer (an overlay lowerdir).
    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.dir.join("layers").join(diff_id.hex()).join("diff")
    }

    pub(crate) fn lock(&self) -> Result<RootLock> {
        Ok(self.root.lock()?)
    }

    /// A fresh staging directory under `tmp/` (removed on drop).
    pub(crate) fn staging(&self) -> Result<tempfile::TempDir> {
        let tmp = self.dir.join("tmp");
        tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(&tmp)
            .map_err(|e| ImageError::io("create staging dir in", tmp, e))
    }

    /// Names in a store subdirectory.
    pub(crate) fn list(&self, sub: &str) -> Result<Vec<String>> {
        let p = self.dir.join(sub);
        let mut out = Vec::new();
        for e in fs::read_dir(&p).map_err(|e| ImageError::io("list", &p, e))? {
            let e = e.map_err(|e| ImageError::io("list", &p, e))?;
            out.push(e.file_name().to_string_lossy().into_owned());
        }
        out.sort();
        Ok(out)
    }

    pub(crate) fn read_state(&self) -> Result<State> {
        let p = self.dir.join(STATE);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| ImageError::invalid(STATE, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(ImageError::io("read", p, e)),
        }
    }

    /// Replaces `state.json` atomically (temp file, fsync, rename, fsync dir).
    pub(crate) fn write_state(&self, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| ImageError::invalid(STATE, e))?;
        let tmp = self
            .dir
            .join("tmp")
            .join(format!("state.json.{}", std::process::id()));
        let fin = self.dir.join(STATE);
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &fin)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| ImageError::io("write", &fin, e))
    }

    /// Reads a stored blob, at most the JSON limit (manifests and configs).
    pub(crate) fn read_json_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(d);
        let f = fs::File::open(&p).map_err(|e| ImageError::io("open", &p, e))?;
        read_capped(f, self.limits.max_json_bytes, &p.display().to_string())
    }

    /// Moves a verified file into `blobs/` (no-op if the blob is already there).
    pub(crate) fn commit_blob(&self, src: &Path, d: &Digest) -> Result<()> {
        let dst = self.blob_path(d);
        if dst.exists() {
            return Ok(());
        }
        fs::rename(src, &dst).map_err(|e| ImageError::io("store blob", dst, e))
    }

    /// Moves an unpacked layer directory (`<dir>/diff` + `layer.json`) into `layers/`.
    pub(crate) fn commit_layer(&self, src: &Path, diff_id: &Digest) -> Result<()> {
        let dst = self.dir.join("layers").join(diff_id.hex());
        if dst.exists() {
            return Ok(());
        }
        fs::rename(src, &dst).map_err(|e| ImageError::io("store layer", dst, e))
    }

    pub(crate) fn has_layer(&self, diff_id: &Digest) -> bool {
        self.dir
            .join("layers")
            .join(diff_id.hex())
            .join("layer.json")
            .exists()
    }

    /// Removes every blob and layer no image in `state` references.
    pub(crate) fn gc(&self, state: &State) -> Result<GcReport> {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for img in state.images.values() {
            blobs.insert(img.id.hex().to_string());
            blobs.insert(img.manifest.hex().to_string());
            for l in &img.layers {
                blobs.insert(l.digest.hex().to_string());
                layers.insert(l.diff_id.hex().to_string());
            }
        }
        // Layers the build cache points at stay (they make rebuilds free).
        for e in self.read_cache()?.entries.values() {
            if let Some(l) = &e.layer {
                blobs.insert(l.digest.hex().to_string());
                layers.insert(l.diff_id.hex().to_string());
            }
        }
        let mut report = GcReport::default();
        for name in self.list("blobs/sha256")? {
            if !blobs.contains(&name) {
                self.root
                    .remove_all(&Path::new("blobs/sha256").join(&name))?;
                report.blobs_removed += 1;
            }
        }
        for name in self.list("layers")? {
            if !layers.contains(&name) {
                self.root.remove_all(&Path::new("layers").join(&name))?;
                report.layers_removed += 1;
            }
        }
        Ok(report)
    }
}

/// Reads all of `r` into memory, failing past `limit` bytes.
pub(crate) fn read_capped(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ImageError::io("read", what, e))?;
    if buf.len() as u64 > limit {
        return Err(ImageError::Limit {
            what: format!("JSON document {what}"),
            limit,
            unit: "bytes",
        });
    }
    Ok(buf)
}
