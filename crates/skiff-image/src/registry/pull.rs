//! `pull`: reference -> manifest (an index resolves to linux/<host arch>) -> config -> layers,
//! every document and blob checked against the digest and size that named it, then committed
//! with `load`'s code. The store lock is held from the first staged byte to the commit.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::load::{check_layer_count, host_arch, now_nanos};
use crate::oci::*;
use crate::registry::client::{Client, RegistryOptions};
use crate::registry::download::{fetch_json, Fetched};
use crate::registry::error::{RegistryError, Result};
use crate::registry::progress::Progress;
use crate::registry::reference::Reference;
use crate::stage::Stage;
use crate::store::{ImageRecord, ImageStore};

/// What a pull brought in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulled {
    pub id: Digest,
    /// Digest of the image manifest (of the platform's manifest when the reference is an index).
    pub manifest: Digest,
    /// The store tag it got (`host:port/repo:tag`); none for a pull by digest.
    pub tag: Option<String>,
    pub layers_downloaded: usize,
    pub layers_unpacked: usize,
}

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::invalid(what, e).into())
}

fn mismatch(what: String, expected: &Digest, actual: Digest) -> RegistryError {
    ImageError::DigestMismatch {
        what,
        expected: expected.clone(),
        actual,
    }
    .into()
}

impl ImageStore {
    /// Pulls `reference` (`host[:port]/repo[:tag][@digest]`) into the store, calling
    /// `progress` for each step. Nothing is committed unless every byte verified.
    pub fn pull(
        &self,
        reference: &str,
        opts: &RegistryOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Pulled> {
        let r = Reference::parse(reference)?;
        let scope = format!("repository:{}:pull", r.repository);
        let mut client = Client::connect(&r, opts, vec![scope])?;
        let Resolved {
            digest: mdigest,
            media_type: mtype,
            bytes: mbytes,
            manifest,
        } = self.resolve_manifest(&mut client, &r)?;
        let what = format!("manifest {mdigest} of {r}");
        if !matches!(
            manifest.config.media_type.as_str(),
            MT_OCI_CONFIG | MT_DOCKER_CONFIG
        ) {
            return Err(ImageError::MediaType {
                what: format!("config of {what}"),
                media_type: manifest.config.media_type.clone(),
            }
            .into());
        }
        for (i, l) in manifest.layers.iter().enumerate() {
            if !is_layer_media_type(&l.media_type) {
                return Err(ImageError::MediaType {
                    what: format!("layer {i} of {what}"),
                    media_type: l.media_type.clone(),
                }
                .into());
            }
        }
        let cfg_bytes = self.fetch_verified(&mut client, &manifest.config, "blobs", "config")?;
        let cfg: ImageConfigFile =
            parse(&cfg_bytes, &format!("config {}", manifest.config.digest))?;
        check_layer_count(&cfg, manifest.layers.len(), &what)?;
        progress(&Progress::Resolved {
            reference: r.to_string(),
            manifest: mdigest.clone(),
            layers: manifest.layers.len(),
        });

        let _lock = self.lock()?;
        let mut stage = Stage::new(self.staging()?, self.limits)?;
        stage.put_bytes(&cfg_bytes)?;
        stage.put_bytes(&mbytes)?;
        let done = self.pull_layers(&mut client, &mut stage, &manifest, &cfg, &what, progress)?;
        let tag = r.store_name();
        let record = ImageRecord {
            id: manifest.config.digest.clone(),
            manifest: mdigest.clone(),
            manifest_media_type: mtype,
            layers: done.layers,
            tags: tag.iter().cloned().collect(),
            created: cfg.created,
            loaded_at: now_nanos(),
        };
        self.commit(&stage, vec![(record, done.unpacked)])?;
        progress(&Progress::Done {
            id: manifest.config.digest.clone(),
            manifest: mdigest.clone(),
        });
        Ok(Pulled {
            id: manifest.config.digest,
            manifest: mdigest,
            tag,
            layers_downloaded: done.downloaded,
            layers_unpacked: done.unpacked,
        })
    }
}

/// The image manifest a reference resolves to, with its exact bytes.
struct Resolved {
    digest: Digest,
    media_type: String,
    bytes: Vec<u8>,
    manifest: Manifest,
}

impl ImageStore {
    fn resolve_manifest(&self, client: &mut Client, r: &Reference) -> Result<Resolved> {
        let url = client.url(&format!("manifests/{}", r.manifest_ref()));
        let f = fetch_json(client, &url, ACCEPT, self.limits.max_json_bytes)?;
        let digest = Digest::of(&f.bytes);
        if let Some(want) = &r.digest {
            if &digest != want {
                return Err(mismatch(format!("manifest {r}"), want, digest));
            }
        }
        if let Some(Ok(said)) = f.docker_digest.as_deref().map(Digest::parse) {
            if said != digest {
                return Err(mismatch(
                    format!("manifest {r} (Docker-Content-Digest)"),
                    &said,
                    digest,
                ));
            }
        }
        let mt = media_type_of(&f, &url)?;
        let what = format!("manifest {digest} of {r}");
        match mt.as_str() {
            MT_OCI_MANIFEST | MT_DOCKER_MANIFEST => Ok(Resolved {
                manifest: parse(&f.bytes, &what)?,
                digest,
                media_type: mt,
                bytes: f.bytes,
            }),
            MT_OCI_INDEX | MT_DOCKER_LIST => {
                let index: Index = parse(&f.bytes, &what)?;
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
                if !matches!(
                    pick.media_type.as_str(),
                    MT_OCI_MANIFEST | MT_DOCKER_MANIFEST
                ) {
                    return Err(ImageError::MediaType {
                        what: format!("linux/{arch} entry of {what}"),
                        media_type: pick.media_type.clone(),
                    }
                    .into());
                }
                let bytes = self.fetch_verified(client, pick, "manifests", "manifest")?;
                Ok(Resolved {
                    manifest: parse(&bytes, &format!("manifest {}", pick.digest))?,
                    digest: pick.digest.clone(),
                    media_type: pick.media_type.clone(),
                    bytes,
                })
            }
            other => Err(ImageError::MediaType {
                what,
                media_type: other.to_string(),
            }
            .into()),
        }
    }

    /// GETs a small blob or manifest by digest and checks its size and digest.
    fn fetch_verified(
        &self,
        client: &mut Client,
        desc: &Descriptor,
        kind: &str,
        what: &str,
    ) -> Result<Vec<u8>> {
        let limit = self.limits.max_json_bytes;
        if desc.size > limit {
            return Err(ImageError::Limit {
                what: format!("{what} {}", desc.digest),
                limit,
                unit: "bytes",
            }
            .into());
        }
        let url = client.url(&format!("{kind}/{}", desc.digest));
        let f = fetch_json(client, &url, &desc.media_type, limit)?;
        let actual = Digest::of(&f.bytes);
        if actual != desc.digest || f.bytes.len() as u64 != desc.size {
            return Err(mismatch(
                format!("{what} ({} bytes, {} expected)", f.bytes.len(), desc.size),
                &desc.digest,
                actual,
            ));
        }
        Ok(f.bytes)
    }
}

/// The manifest's media type: `Content-Type` when it is one skiff knows, else the document's
/// own `mediaType`.
fn media_type_of(f: &Fetched, url: &str) -> Result<String> {
    let known = [
        MT_OCI_MANIFEST,
        MT_OCI_INDEX,
        MT_DOCKER_MANIFEST,
        MT_DOCKER_LIST,
    ];
    if let Some(ct) = f.content_type.as_deref().filter(|c| known.contains(c)) {
        return Ok(ct.to_string());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Peek {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let p: Peek = serde_json::from_slice(&f.bytes)
        .map_err(|e| RegistryError::protocol(url, format!("manifest is not JSON: {e}")))?;
    Ok(match (p.media_type, p.manifests) {
        (Some(mt), _) => mt,
        (None, Some(_)) => MT_OCI_INDEX.to_string(),
        (None, None) => f
            .content_type
            .clone()
            .unwrap_or_else(|| MT_OCI_MANIFEST.into()),
    })
}
