//! What a build writes into the store: layers (an uncompressed tar is both the blob and,
//! unpacked by the safe unpacker, the layer directory), the build cache index
//! (`buildcache.json`: cache key -> layer), and the final image (config + manifest + tags).
//! Each write is a rename of something complete, under the store lock; the cache index is
//! replaced atomically and keeps its layers alive across `gc`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use skiff_sys::fsroot::RootDir;

use crate::digest::{Digest, HashReader};
use crate::error::{ImageError, Result};
use crate::load::descriptor;
use crate::oci::{Manifest, MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST};
use crate::store::{ImageRecord, ImageStore, LayerMeta, LayerRecord};
use crate::unpack::unpack_layer;

const CACHE: &str = "buildcache.json";

/// One cached step: the layer it made (None for a step that makes none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub layer: Option<LayerRecord>,
    /// When the entry was made (the image's `created` when it is the last layer).
    pub created: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct CacheIndex {
    pub entries: BTreeMap<String, CacheEntry>,
}

impl ImageStore {
    pub(crate) fn read_cache(&self) -> Result<CacheIndex> {
        let p = self.dir().join(CACHE);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| ImageError::invalid(CACHE, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CacheIndex::default()),
            Err(e) => Err(ImageError::io("read", p, e)),
        }
    }

    /// Looks a cache key up.
    pub fn cache_get(&self, key: &Digest) -> Result<Option<CacheEntry>> {
        let idx = self.read_cache()?;
        Ok(idx
            .entries
            .get(key.hex())
            .filter(|e| e.layer.as_ref().is_none_or(|l| self.has_layer(&l.diff_id)))
            .cloned())
    }

    /// Records a cache entry (atomic replace of the index, under the lock).
    pub fn cache_put(&self, key: &Digest, entry: CacheEntry) -> Result<()> {
        let _lock = self.lock()?;
        let mut idx = self.read_cache()?;
        idx.entries.insert(key.hex().to_string(), entry);
        let bytes = serde_json::to_vec(&idx).map_err(|e| ImageError::invalid(CACHE, e))?;
        let tmp = self
            .dir()
            .join("tmp")
            .join(format!("{CACHE}.{}", std::process::id()));
        let fin = self.dir().join(CACHE);
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &fin)
        };
        write().map_err(|e| ImageError::io("write", &fin, e))
    }

    /// Stores an uncompressed layer tar (moved in) and unpacks it once.
    pub fn put_layer_tar(&self, tar: &Path) -> Result<LayerRecord> {
        let f = fs::File::open(tar).map_err(|e| ImageError::io("open", tar, e))?;
        let (diff_id, size) = HashReader::new(std::io::BufReader::new(f))
            .finish()
            .map_err(|e| ImageError::io("read", tar, e))?;
        let _lock = self.lock()?;
        if !self.has_layer(&diff_id) {
            let stage = self.staging()?;
            let diff = stage.path().join("diff");
            fs::create_dir(&diff).map_err(|e| ImageError::io("create", &diff, e))?;
            let f = fs::File::open(tar).map_err(|e| ImageError::io("open", tar, e))?;
            let stats = unpack_layer(
                std::io::BufReader::new(f),
                &RootDir::open(&diff)?,
                self.limits(),
            )?;
            let meta = LayerMeta {
                diff_id: diff_id.clone(),
                tar_bytes: stats.tar_bytes,
                entries: stats.entries,
                skipped_devices: stats.skipped_devices,
            };
            let mp = stage.path().join("layer.json");
            let bytes =
                serde_json::to_vec(&meta).map_err(|e| ImageError::invalid("layer.json", e))?;
            fs::write(&mp, bytes).map_err(|e| ImageError::io("write", &mp, e))?;
            self.commit_layer(&stage.keep(), &diff_id)?;
        }
        self.commit_blob(tar, &diff_id)?;
        Ok(LayerRecord {
            digest: diff_id.clone(),
            media_type: MT_OCI_LAYER.to_string(),
            size,
            diff_id,
            tar_bytes: size,
        })
    }

    /// Writes the config and a manifest, and points `tags` at the image. Returns its id.
    pub fn commit_image(
        &self,
        config: &[u8],
        layers: Vec<LayerRecord>,
        tags: &[String],
        created: Option<String>,
    ) -> Result<Digest> {
        let id = Digest::of(config);
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MT_OCI_MANIFEST.to_string()),
            config: descriptor(MT_OCI_CONFIG, &id, config.len() as u64),
            layers: layers
                .iter()
                .map(|l| descriptor(&l.media_type, &l.digest, l.size))
                .collect(),
        };
        let mbytes =
            serde_json::to_vec(&manifest).map_err(|e| ImageError::invalid("manifest", e))?;
        let mdigest = Digest::of(&mbytes);
        let _lock = self.lock()?;
        for (d, bytes) in [(&id, config), (&mdigest, &mbytes[..])] {
            let tmp = self.dir().join("tmp").join(format!("blob-{}", d.hex()));
            fs::write(&tmp, bytes).map_err(|e| ImageError::io("write", &tmp, e))?;
            self.commit_blob(&tmp, d)?;
        }
        let mut state = self.read_state()?;
        for img in state.images.values_mut() {
            img.tags.retain(|t| !tags.contains(t));
        }
        let rec = state
            .images
            .entry(id.hex().to_string())
            .or_insert_with(|| ImageRecord {
                id: id.clone(),
                manifest: mdigest,
                manifest_media_type: MT_OCI_MANIFEST.to_string(),
                layers,
                tags: Vec::new(),
                created,
                loaded_at: crate::build::now_nanos(),
            });
        rec.tags.extend(tags.iter().cloned());
        rec.tags.sort();
        rec.tags.dedup();
        self.write_state(&state)?;
        Ok(id)
    }
}
