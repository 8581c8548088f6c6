//! `load`: docker-archive (`manifest.json`, as `docker save`/`podman save` write) and
//! oci-archive / OCI layout (`oci-layout`, `index.json`, `blobs/`) into the store.
//!
//! Every digest is verified (OCI: manifest, config and layer blobs against their descriptors;
//! both: each layer's uncompressed stream against the config's `rootfs.diff_ids`); unknown
//! media types and missing blobs are errors. The load is atomic: all of it is staged and
//! verified under `tmp/`, then blobs and layers are renamed into place and `state.json`
//! (the tags) is replaced last. On any error the store is left exactly as it was.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use skiff_sys::fsroot::RootDir;

use crate::compress::Compression;
use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::oci::*;
use crate::ops::normalize_name;
use crate::stage::Stage;
use crate::store::{ImageRecord, ImageStore, LayerMeta, LayerRecord};

/// One image a load brought in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedImage {
    pub id: Digest,
    pub tags: Vec<String>,
    /// Layers unpacked by this load (the rest were already in the store).
    pub layers_unpacked: usize,
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::invalid(what, e))
}

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl ImageStore {
    /// Loads an archive file (tar, optionally gzip/zstd) or an OCI layout directory.
    pub fn load(&self, path: &Path) -> Result<Vec<LoadedImage>> {
        let meta = fs::metadata(path).map_err(|e| ImageError::io("open", path, e))?;
        let _lock = self.lock()?;
        let mut stage = Stage::new(self.staging()?, self.limits)?;
        if meta.is_dir() {
            stage.set_source_dir(RootDir::open(path)?);
        } else {
            let f = fs::File::open(path).map_err(|e| ImageError::io("open", path, e))?;
            stage.extract_archive(std::io::BufReader::with_capacity(1 << 16, f))?;
        }
        self.load_staged(stage)
    }

    /// Loads an archive from a stream (`skiff load < file`).
    pub fn load_reader(&self, r: impl std::io::Read) -> Result<Vec<LoadedImage>> {
        let _lock = self.lock()?;
        let mut stage = Stage::new(self.staging()?, self.limits)?;
        stage.extract_archive(r)?;
        self.load_staged(stage)
    }

    fn load_staged(&self, mut stage: Stage) -> Result<Vec<LoadedImage>> {
        let mut records = Vec::new();
        if stage.has_file("oci-layout") && stage.has_file("index.json") {
            let (_, layout) = stage.json("oci-layout", "oci-layout")?;
            let v: serde_json::Value = parse(&layout, "oci-layout")?;
            if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
                return Err(ImageError::invalid(
                    "oci-layout",
                    "imageLayoutVersion is not 1.0.0",
                ));
            }
            let (_, bytes) = stage.json("index.json", "index.json")?;
            let index: Index = parse(&bytes, "index.json")?;
            for desc in &index.manifests {
                records.push(self.oci_manifest(&mut stage, desc, names_of(desc), 0)?);
            }
        } else if stage.has_file("manifest.json") {
            let (_, bytes) = stage.json("manifest.json", "manifest.json")?;
            let entries: Vec<DockerManifestEntry> = parse(&bytes, "manifest.json")?;
            for e in &entries {
                records.push(self.docker_entry(&mut stage, e)?);
            }
        } else {
            return Err(ImageError::invalid(
                "archive",
                "neither a docker-archive (manifest.json) nor an OCI layout (oci-layout, index.json)",
            ));
        }
        if records.is_empty() {
            return Err(ImageError::invalid("archive", "it holds no image"));
        }
        self.commit(&stage, records)
    }

    /// One manifest (or a nested index, resolved to this host's platform) from an OCI layout.
    fn oci_manifest(
        &self,
        stage: &mut Stage,
        desc: &Descriptor,
        tags: Vec<String>,
        depth: u32,
    ) -> Result<(ImageRecord, usize)> {
        let what = format!("manifest {}", desc.digest);
        let bytes = verified_json(stage, desc, &what)?;
        match desc.media_type.as_str() {
            MT_OCI_MANIFEST | MT_DOCKER_MANIFEST => {}
            MT_OCI_INDEX | MT_DOCKER_LIST if depth == 0 => {
                let index: Index = parse(&bytes, &what)?;
                let arch = host_arch();
                let pick = index
                    .manifests
                    .iter()
                    .find(|m| {
                        m.platform
                            .as_ref()
                            .is_some_and(|p| p.os == "linux" && p.architecture == arch)
                    })
                    .ok_or_else(|| {
                        ImageError::invalid(&what, format!("no manifest for linux/{arch}"))
                    })?;
                return self.oci_manifest(stage, pick, tags, 1);
            }
            other => {
                return Err(ImageError::MediaType {
                    what,
                    media_type: other.to_string(),
                })
            }
        }
        let manifest: Manifest = parse(&bytes, &what)?;
        if !matches!(
            manifest.config.media_type.as_str(),
            MT_OCI_CONFIG | MT_DOCKER_CONFIG
        ) {
            return Err(ImageError::MediaType {
                what: format!("config of {what}"),
                media_type: manifest.config.media_type.clone(),
            });
        }
        let cfg_bytes = verified_json(stage, &manifest.config, &format!("config of {what}"))?;
        let cfg: ImageConfigFile =
            parse(&cfg_bytes, &format!("config {}", manifest.config.digest))?;
        check_layer_count(&cfg, manifest.layers.len(), &what)?;
        let mut layers = Vec::new();
        let mut unpacked = 0;
        for (i, (l, diff_id)) in manifest.layers.iter().zip(&cfg.rootfs.diff_ids).enumerate() {
            let lwhat = format!("layer {i} ({}) of {what}", l.digest);
            if !is_layer_media_type(&l.media_type) {
                return Err(ImageError::MediaType {
                    what: lwhat,
                    media_type: l.media_type.clone(),
                });
            }
            verify_blob(stage, l, &lwhat)?;
            let (tar_bytes, fresh) = self.layer(stage, &l.digest, diff_id, &lwhat)?;
            unpacked += usize::from(fresh);
            layers.push(LayerRecord {
                digest: l.digest.clone(),
                media_type: l.media_type.clone(),
                size: l.size,
                diff_id: diff_id.clone(),
                tar_bytes,
            });
        }
        let record = ImageRecord {
            id: manifest.config.digest.clone(),
            manifest: desc.digest.clone(),
            manifest_media_type: desc.media_type.clone(),
            layers,
            tags,
            created: cfg.created,
            loaded_at: now_nanos(),
        };
        Ok((record, unpacked))
    }

    /// One image of a docker-archive; an OCI manifest is synthesised for it.
    fn docker_entry(
        &self,
        stage: &mut Stage,
        e: &DockerManifestEntry,
    ) -> Result<(ImageRecord, usize)> {
        let what = format!("image {} of manifest.json", e.config);
        let (cfg_digest, cfg_bytes) = stage.json(&e.config, &what)?;
        let cfg: ImageConfigFile = parse(&cfg_bytes, &format!("config {}", e.config))?;
        check_layer_count(&cfg, e.layers.len(), &what)?;
        let mut layers = Vec::new();
        let mut descs = Vec::new();
        let mut unpacked = 0;
        for (i, (path, diff_id)) in e.layers.iter().zip(&cfg.rootfs.diff_ids).enumerate() {
            let lwhat = format!("layer {i} ({path}) of {what}");
            let (digest, size) = stage.file(path, &lwhat)?;
            let (tar_bytes, fresh) = self.layer(stage, &digest, diff_id, &lwhat)?;
            unpacked += usize::from(fresh);
            let media_type = match stage.compression(&digest)? {
                Compression::None => MT_OCI_LAYER,
                Compression::Gzip => MT_OCI_LAYER_GZIP,
                Compression::Zstd => MT_OCI_LAYER_ZSTD,
            };
            descs.push(descriptor(media_type, &digest, size));
            layers.push(LayerRecord {
                digest,
                media_type: media_type.to_string(),
                size,
                diff_id: diff_id.clone(),
                tar_bytes,
            });
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MT_OCI_MANIFEST.to_string()),
            config: descriptor(MT_OCI_CONFIG, &cfg_digest, cfg_bytes.len() as u64),
            layers: descs,
        };
        let mbytes = serde_json::to_vec(&manifest).map_err(|e| ImageError::invalid(&what, e))?;
        let mdigest = stage.put_bytes(&mbytes)?;
        let mut tags = Vec::new();
        for t in e.repo_tags.iter().flatten() {
            tags.push(normalize_name(t)?);
        }
        let record = ImageRecord {
            id: cfg_digest,
            manifest: mdigest,
            manifest_media_type: MT_OCI_MANIFEST.to_string(),
            layers,
            tags,
            created: cfg.created,
            loaded_at: now_nanos(),
        };
        Ok((record, unpacked))
    }

    /// Unpacks a layer unless the store (or this load) has it; returns (tar bytes, fresh).
    pub(crate) fn layer(
        &self,
        stage: &mut Stage,
        blob: &Digest,
        diff_id: &Digest,
        what: &str,
    ) -> Result<(u64, bool)> {
        if !stage.staged_layer(diff_id) && self.has_layer(diff_id) {
            // Reuse the unpacked layer, but only for a blob proven to be that layer: a pair the
            // store already verified, or one whose stream hashes to the diff id now.
            let known = self.read_state()?.images.values().any(|i| {
                i.layers
                    .iter()
                    .any(|l| &l.digest == blob && &l.diff_id == diff_id)
            });
            if !known {
                let actual = stage.diff_id_of(blob, what)?;
                if &actual != diff_id {
                    return Err(ImageError::DigestMismatch {
                        what: format!("uncompressed {what}"),
                        expected: diff_id.clone(),
                        actual,
                    });
                }
            }
            let p = self
                .dir
                .join("layers")
                .join(diff_id.hex())
                .join("layer.json");
            let bytes = fs::read(&p).map_err(|e| ImageError::io("read", &p, e))?;
            let meta: LayerMeta = parse(&bytes, "layer.json")?;
            return Ok((meta.tar_bytes, false));
        }
        let fresh = !stage.staged_layer(diff_id);
        Ok((stage.unpack(blob, diff_id, what)?, fresh))
    }

    /// Moves everything into place and records the images (tags move like Docker's).
    pub(crate) fn commit(
        &self,
        stage: &Stage,
        records: Vec<(ImageRecord, usize)>,
    ) -> Result<Vec<LoadedImage>> {
        let mut state = self.read_state()?;
        let mut out = Vec::new();
        for (rec, layers_unpacked) in records {
            self.commit_blob(&stage.blob_path(&rec.id), &rec.id)?;
            self.commit_blob(&stage.blob_path(&rec.manifest), &rec.manifest)?;
            for l in &rec.layers {
                self.commit_blob(&stage.blob_path(&l.digest), &l.digest)?;
                if stage.staged_layer(&l.diff_id) {
                    self.commit_layer(&stage.layer_dir(&l.diff_id), &l.diff_id)?;
                }
            }
            for img in state.images.values_mut() {
                img.tags.retain(|t| !rec.tags.contains(t));
            }
            out.push(LoadedImage {
                id: rec.id.clone(),
                tags: rec.tags.clone(),
                layers_unpacked,
            });
            let key = rec.id.hex().to_string();
            match state.images.get_mut(&key) {
                Some(old) => {
                    old.tags.extend(rec.tags);
                    old.tags.sort();
                    old.tags.dedup();
                }
                None => {
                    state.images.insert(key, rec);
                }
            }
        }
        self.write_state(&state)?;
        Ok(out)
    }
}

pub(crate) fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.clone(),
        size,
        annotations: BTreeMap::new(),
        platform: None,
    }
}

pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Names an OCI index entry carries: containerd's full name, else `ref.name` when it is a
/// full reference (a bare tag names no repository, as with `docker load`).
fn names_of(desc: &Descriptor) -> Vec<String> {
    let name = desc.annotations.get(ANN_CONTAINERD_NAME).or_else(|| {
        desc.annotations
            .get(ANN_REF_NAME)
            .filter(|n| n.contains(':') || n.contains('/'))
    });
    name.and_then(|n| normalize_name(n).ok())
        .into_iter()
        .collect()
}

pub(crate) fn check_layer_count(cfg: &ImageConfigFile, layers: usize, what: &str) -> Result<()> {
    if cfg.rootfs.diff_ids.len() != layers {
        return Err(ImageError::invalid(
            what,
            format!(
                "{layers} layers but the config lists {} diff ids",
                cfg.rootfs.diff_ids.len()
            ),
        ));
    }
    Ok(())
}

fn blob_rel(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Checks that the blob a descriptor names is present with that digest and size.
fn verify_blob(stage: &mut Stage, desc: &Descriptor, what: &str) -> Result<()> {
    let (actual, size) = stage.file(&blob_rel(&desc.digest), what)?;
    if actual != desc.digest {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: desc.digest.clone(),
            actual,
        });
    }
    if size != desc.size {
        return Err(ImageError::invalid(
            what,
            format!("size {size} but the descriptor says {}", desc.size),
        ));
    }
    Ok(())
}

fn verified_json(stage: &mut Stage, desc: &Descriptor, what: &str) -> Result<Vec<u8>> {
    verify_blob(stage, desc, what)?;
    Ok(stage.json(&blob_rel(&desc.digest), what)?.1)
}
