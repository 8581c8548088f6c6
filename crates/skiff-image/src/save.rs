//! `save`: writes images as a docker-archive (what `docker load`/`podman load` read: config
//! `<id>.json`, uncompressed `<diffid>.tar` layers, `manifest.json`, `repositories`) or as an
//! oci-archive (`oci-layout`, `index.json` naming each tag, `blobs/sha256/*` as stored).
//! Every blob is written once even when several images share it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Write};
use std::str::FromStr;

use crate::compress;
use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::oci::*;
use crate::ops::{normalize_name, split_name};
use crate::store::{ImageRecord, ImageStore};

/// The archive formats `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
}

impl FromStr for ArchiveFormat {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "docker-archive" | "docker" => Ok(ArchiveFormat::DockerArchive),
            "oci-archive" | "oci" => Ok(ArchiveFormat::OciArchive),
            other => Err(ImageError::invalid(
                "archive format",
                format!("{other:?} (expected docker-archive or oci-archive)"),
            )),
        }
    }
}

fn header(path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    // Paths we write are short ASCII (`blobs/sha256/<64 hex>` at most).
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

fn add<W: Write>(b: &mut tar::Builder<W>, path: &str, size: u64, r: impl Read) -> Result<()> {
    b.append(&header(path, size), r)
        .map_err(|e| ImageError::io("write archive entry", path, e))
}

impl ImageStore {
    /// Writes the images named by `references` to `w` in `format`. A reference that is a tag
    /// saves that tag; an id saves every tag of the image.
    pub fn save(&self, references: &[&str], format: ArchiveFormat, w: impl Write) -> Result<()> {
        let state = self.read_state()?;
        let mut picked: Vec<(ImageRecord, Vec<String>)> = Vec::new();
        for r in references {
            let by_name = normalize_name(r).ok().and_then(|n| {
                state
                    .images
                    .values()
                    .find(|i| i.tags.contains(&n))
                    .map(|i| (i, vec![n]))
            });
            let (img, tags) = match by_name {
                Some(x) => x,
                None => {
                    let info = self.inspect(r)?;
                    let img = state
                        .images
                        .get(info.id.hex())
                        .ok_or_else(|| ImageError::NotFound(r.to_string()))?;
                    (img, img.tags.clone())
                }
            };
            match picked.iter_mut().find(|(p, _)| p.id == img.id) {
                Some((_, t)) => t.extend(tags),
                None => picked.push((img.clone(), tags)),
            }
        }
        let mut b = tar::Builder::new(w);
        match format {
            ArchiveFormat::DockerArchive => self.write_docker(&mut b, &picked)?,
            ArchiveFormat::OciArchive => self.write_oci(&mut b, &picked)?,
        }
        b.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| ImageError::io("finish archive", "", e))
    }

    fn write_blob<W: Write>(&self, b: &mut tar::Builder<W>, path: &str, d: &Digest) -> Result<()> {
        let p = self.blob_path(d);
        let f = fs::File::open(&p).map_err(|e| ImageError::io("open", &p, e))?;
        let size = f
            .metadata()
            .map_err(|e| ImageError::io("stat", &p, e))?
            .len();
        add(b, path, size, f)
    }

    fn write_docker<W: Write>(
        &self,
        b: &mut tar::Builder<W>,
        picked: &[(ImageRecord, Vec<String>)],
    ) -> Result<()> {
        let mut written = BTreeSet::new();
        let mut manifest = Vec::new();
        let mut repos: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (img, tags) in picked {
            let config = format!("{}.json", img.id.hex());
            self.write_blob(b, &config, &img.id)?;
            let mut layers = Vec::new();
            for l in &img.layers {
                let name = format!("{}.tar", l.diff_id.hex());
                if written.insert(name.clone()) {
                    // docker-archive layers are uncompressed tars named by their diff id.
                    let p = self.blob_path(&l.digest);
                    let f = fs::File::open(&p).map_err(|e| ImageError::io("open", &p, e))?;
                    let (_, dec) = compress::decoder(io::BufReader::new(f))
                        .map_err(|e| ImageError::invalid(format!("blob {}", l.digest), e))?;
                    add(b, &name, l.tar_bytes, dec.take(l.tar_bytes))?;
                }
                layers.push(name);
            }
            for t in tags {
                let (r, tag) = split_name(t);
                if let Some(top) = img.layers.last() {
                    repos
                        .entry(r.to_string())
                        .or_default()
                        .insert(tag.to_string(), top.diff_id.hex().to_string());
                }
            }
            manifest.push(DockerManifestEntry {
                config,
                repo_tags: Some(tags.clone()),
                layers,
            });
        }
        let m =
            serde_json::to_vec(&manifest).map_err(|e| ImageError::invalid("manifest.json", e))?;
        add(b, "manifest.json", m.len() as u64, &m[..])?;
        let r = serde_json::to_vec(&repos).map_err(|e| ImageError::invalid("repositories", e))?;
        add(b, "repositories", r.len() as u64, &r[..])
    }

    fn write_oci<W: Write>(
        &self,
        b: &mut tar::Builder<W>,
        picked: &[(ImageRecord, Vec<String>)],
    ) -> Result<()> {
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
        add(b, "oci-layout", layout.len() as u64, &layout[..])?;
        let mut written = BTreeSet::new();
        let mut index = Index {
            schema_version: 2,
            media_type: Some(MT_OCI_INDEX.to_string()),
            manifests: Vec::new(),
        };
        for (img, tags) in picked {
            let mut blobs = vec![img.manifest.clone(), img.id.clone()];
            blobs.extend(img.layers.iter().map(|l| l.digest.clone()));
            for d in blobs {
                if written.insert(d.clone()) {
                    self.write_blob(b, &format!("blobs/sha256/{}", d.hex()), &d)?;
                }
            }
            let size = fs::metadata(self.blob_path(&img.manifest))
                .map_err(|e| ImageError::io("stat", self.blob_path(&img.manifest), e))?
                .len();
            let desc = |name: Option<&String>| {
                let mut annotations = BTreeMap::new();
                if let Some(n) = name {
                    annotations.insert(ANN_REF_NAME.to_string(), n.clone());
                }
                Descriptor {
                    media_type: img.manifest_media_type.clone(),
                    digest: img.manifest.clone(),
                    size,
                    annotations,
                    platform: None,
                }
            };
            if tags.is_empty() {
                index.manifests.push(desc(None));
            }
            for t in tags {
                index.manifests.push(desc(Some(t)));
            }
        }
        let i = serde_json::to_vec(&index).map_err(|e| ImageError::invalid("index.json", e))?;
        add(b, "index.json", i.len() as u64, &i[..])
    }
}
