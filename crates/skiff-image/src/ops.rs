//! The user-facing verbs on a store: `images`, `image inspect`, `tag`, `rmi`, `image prune`, and
//! the layer list a container's rootfs is built from. References resolve as Docker's do: a
//! name (`busybox`, `busybox:1.36`, `docker.io/library/busybox:latest`), a full id
//! (`sha256:<hex>` or `<hex>`), or a unique id prefix.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::oci::{ContainerConfig, ImageConfigFile};
use crate::store::{GcReport, ImageRecord, ImageStore, State};

/// One row of `images` (one per tag; an untagged image shows `<none>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub repository: String,
    pub tag: String,
    pub id: Digest,
    pub created: Option<String>,
    pub size: u64,
}

/// `image inspect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub id: Digest,
    pub repo_tags: Vec<String>,
    pub manifest: Digest,
    pub created: Option<String>,
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    pub size: u64,
    /// Diff ids, bottom layer first.
    pub layers: Vec<Digest>,
    /// Env, Entrypoint, Cmd, WorkingDir, User, ExposedPorts, Healthcheck, Labels, ...
    pub config: ContainerConfig,
}

/// What `rmi` did, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Removed {
    Untagged(String),
    Deleted(Digest),
}

/// What `prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    pub images_deleted: Vec<Digest>,
    pub gc: GcReport,
}

/// Normalises an image name to `name:tag` the way skiff stores it: `:latest` is added when no
/// tag is given; Docker Hub's `docker.io/library/` and podman's `localhost/` prefixes are
/// dropped, so `busybox`, `docker.io/library/busybox:latest` and `localhost/busybox` are one.
pub fn normalize_name(name: &str) -> Result<String> {
    let bad = |why: &str| ImageError::invalid(format!("image name {name:?}"), why);
    if name.is_empty() || name.len() > 255 {
        return Err(bad("empty or longer than 255 bytes"));
    }
    if name.contains('@') {
        return Err(bad("digest references are not supported here"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-/:".contains(&b))
    {
        return Err(bad("only [A-Za-z0-9._-/:] allowed"));
    }
    let mut n = name;
    for prefix in ["docker.io/library/", "docker.io/", "localhost/"] {
        if let Some(rest) = n.strip_prefix(prefix) {
            n = rest;
            break;
        }
    }
    let last = n.rsplit('/').next().unwrap_or(n);
    let (repo, tag) = match last.rfind(':') {
        Some(i) => (&n[..n.len() - last.len() + i], &last[i + 1..]),
        None => (n, "latest"),
    };
    if repo.is_empty() || tag.is_empty() || repo.ends_with('/') || repo.starts_with('/') {
        return Err(bad("empty repository or tag"));
    }
    if repo.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad("repository names must be lowercase"));
    }
    Ok(format!("{repo}:{tag}"))
}

/// Splits a normalised `name:tag`.
pub fn split_name(name: &str) -> (&str, &str) {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => (name, "latest"),
    }
}

/// Images containers use: image id hex -> one container using it (for error messages).
pub type InUse = std::collections::BTreeMap<String, String>;

/// How a reference matched.
enum Match {
    Tag(String, String),
    Id(String),
}

fn resolve(state: &State, reference: &str) -> Result<Match> {
    if let Ok(name) = normalize_name(reference) {
        for (key, img) in &state.images {
            if img.tags.contains(&name) {
                return Ok(Match::Tag(key.clone(), name));
            }
        }
    }
    let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
    if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let hits: Vec<&String> = state
            .images
            .keys()
            .filter(|k| k.starts_with(&hex.to_ascii_lowercase()))
            .collect();
        match hits.len() {
            0 => {}
            1 => return Ok(Match::Id(hits[0].clone())),
            _ => {
                return Err(ImageError::Conflict(format!(
                    "image id prefix {reference:?} is ambiguous"
                )))
            }
        }
    }
    Err(ImageError::NotFound(reference.to_string()))
}

fn key_of(m: &Match) -> &str {
    match m {
        Match::Tag(k, _) | Match::Id(k) => k,
    }
}

impl ImageStore {
    pub(crate) fn record(&self, reference: &str) -> Result<ImageRecord> {
        let state = self.read_state()?;
        let m = resolve(&state, reference)?;
        state
            .images
            .get(key_of(&m))
            .cloned()
            .ok_or_else(|| ImageError::NotFound(reference.to_string()))
    }

    /// All images, one row per tag, newest first.
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        let state = self.read_state()?;
        let mut imgs: Vec<&ImageRecord> = state.images.values().collect();
        imgs.sort_by(|a, b| b.loaded_at.cmp(&a.loaded_at).then(a.id.cmp(&b.id)));
        let mut rows = Vec::new();
        for img in imgs {
            let row = |repository: &str, tag: &str| ImageSummary {
                repository: repository.to_string(),
                tag: tag.to_string(),
                id: img.id.clone(),
                created: img.created.clone(),
                size: img.size(),
            };
            if img.tags.is_empty() {
                rows.push(row("<none>", "<none>"));
            }
            for t in &img.tags {
                let (r, tag) = split_name(t);
                rows.push(row(r, tag));
            }
        }
        Ok(rows)
    }

    /// The full description of one image, config included.
    pub fn inspect(&self, reference: &str) -> Result<ImageInfo> {
        let img = self.record(reference)?;
        let bytes = self.read_json_blob(&img.id)?;
        let cfg: ImageConfigFile = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::invalid(format!("config {}", img.id), e))?;
        Ok(ImageInfo {
            id: img.id.clone(),
            repo_tags: img.tags.clone(),
            manifest: img.manifest.clone(),
            created: cfg.created,
            author: cfg.author,
            architecture: cfg.architecture,
            os: cfg.os,
            size: img.size(),
            layers: img.layers.iter().map(|l| l.diff_id.clone()).collect(),
            config: cfg.config.unwrap_or_default(),
        })
    }

    /// The unpacked layer directories of an image, bottom first (overlay wants them top first
    /// in `lowerdir=`; reverse before joining).
    pub fn rootfs_layers(&self, reference: &str) -> Result<Vec<PathBuf>> {
        let img = self.record(reference)?;
        Ok(img
            .layers
            .iter()
            .map(|l| self.layer_path(&l.diff_id))
            .collect())
    }

    /// Adds the tag `target` to the image `source`; the tag moves off any other image.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let name = normalize_name(target)?;
        let _lock = self.lock()?;
        let mut state = self.read_state()?;
        let key = key_of(&resolve(&state, source)?).to_string();
        for img in state.images.values_mut() {
            img.tags.retain(|t| t != &name);
        }
        if let Some(img) = state.images.get_mut(&key) {
            img.tags.push(name);
            img.tags.sort();
        }
        self.write_state(&state)
    }

    /// `rmi`: a name untags (and deletes the image when it was its last tag); an id deletes
    /// the image, refusing when several names point at it unless `force`.
    pub fn remove(&self, reference: &str, force: bool) -> Result<Vec<Removed>> {
        self.remove_guarded(reference, force, &InUse::new())
    }

    /// `rmi` when containers use images: `in_use` maps an image id's hex to a container
    /// that uses it. Deleting such an image is refused; with `force` its tags go and the
    /// image stays, untagged, until no container needs it (Docker's behaviour).
    pub fn remove_guarded(
        &self,
        reference: &str,
        force: bool,
        in_use: &InUse,
    ) -> Result<Vec<Removed>> {
        let _lock = self.lock()?;
        let mut state = self.read_state()?;
        let m = resolve(&state, reference)?;
        let key = key_of(&m).to_string();
        let Some(img) = state.images.get_mut(&key) else {
            return Err(ImageError::NotFound(reference.to_string()));
        };
        let mut out = Vec::new();
        match m {
            Match::Tag(_, name) => {
                img.tags.retain(|t| t != &name);
                out.push(Removed::Untagged(name));
            }
            Match::Id(_) => {
                if img.tags.len() > 1 && !force {
                    return Err(ImageError::Conflict(format!(
                        "image {} is referenced by {} (use force to remove them all)",
                        img.id.short(),
                        img.tags.join(", ")
                    )));
                }
                out.extend(img.tags.drain(..).map(Removed::Untagged));
            }
        }
        if img.tags.is_empty() {
            if let Some(container) = in_use.get(img.id.hex()) {
                if !force {
                    return Err(ImageError::Conflict(format!(
                        "unable to remove image {reference}: container {container} is using \
                         image {} (stop and remove it, or use -f to untag the image)",
                        img.id.short()
                    )));
                }
            } else {
                out.push(Removed::Deleted(img.id.clone()));
                state.images.remove(&key);
            }
        }
        self.write_state(&state)?;
        self.gc(&state)?;
        Ok(out)
    }

    /// `image prune`: deletes untagged images, then every blob and layer no image needs
    /// (including leftovers of a killed import).
    pub fn prune(&self) -> Result<PruneReport> {
        self.prune_guarded(&InUse::new())
    }

    /// `image prune` sparing the images containers use (`in_use`, as for `remove_guarded`).
    pub fn prune_guarded(&self, in_use: &InUse) -> Result<PruneReport> {
        let _lock = self.lock()?;
        let mut state = self.read_state()?;
        let dangling: Vec<String> = state
            .images
            .iter()
            .filter(|(_, i)| i.tags.is_empty() && !in_use.contains_key(i.id.hex()))
            .map(|(k, _)| k.clone())
            .collect();
        let mut report = PruneReport::default();
        for k in dangling {
            if let Some(img) = state.images.remove(&k) {
                report.images_deleted.push(img.id);
            }
        }
        if !report.images_deleted.is_empty() {
            self.write_state(&state)?;
        }
        report.gc = self.gc(&state)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_like_docker() {
        let n = |s: &str| normalize_name(s).ok();
        assert_eq!(n("busybox"), Some("busybox:latest".into()));
        assert_eq!(
            n("docker.io/library/busybox:1.36"),
            Some("busybox:1.36".into())
        );
        assert_eq!(n("localhost/app"), Some("app:latest".into()));
        assert_eq!(
            n("localhost:5000/app"),
            Some("localhost:5000/app:latest".into())
        );
        assert_eq!(n("reg:5000/a/b:v1"), Some("reg:5000/a/b:v1".into()));
        assert_eq!(n("Busybox"), None);
        assert_eq!(n("a b"), None);
        assert_eq!(n("x:"), None);
        assert_eq!(split_name("reg:5000/a/b:v1"), ("reg:5000/a/b", "v1"));
    }
}
