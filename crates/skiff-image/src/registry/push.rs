//! `push`: a stored image to `host[:port]/repo:tag`. Each blob (config, layers) is checked
//! with HEAD and skipped when the registry has it; a blob some other repository of the same
//! registry is known to hold (a tag of a local image names it) is mounted instead of sent; the
//! rest go up as one PUT, or as PATCH chunks then a closing PUT when a chunk size is set. The
//! manifest goes last, byte for byte as stored, so the pushed digest equals the local one.

use std::collections::BTreeMap;
use std::fs;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::registry::client::{header, Body, Client, RegistryOptions};
use crate::registry::error::{RegistryError, Result};
use crate::registry::progress::Progress;
use crate::registry::reference::Reference;
use crate::store::ImageStore;

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    pub reference: String,
    /// The manifest digest (`host/repo@<digest>` pulls exactly this image).
    pub manifest: Digest,
    pub blobs_uploaded: usize,
    pub blobs_existing: usize,
    pub blobs_mounted: usize,
}

enum Outcome {
    Existed,
    Mounted,
    Uploaded,
}

impl ImageStore {
    /// Pushes the local image `source` to `dest` (default: `source` itself, which must then name
    /// a registry, as with `docker push`).
    pub fn push(
        &self,
        source: &str,
        dest: Option<&str>,
        opts: &RegistryOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Pushed> {
        let r = Reference::parse(dest.unwrap_or(source))?;
        if r.digest.is_some() {
            return Err(RegistryError::Reference {
                reference: r.to_string(),
                reason: "push needs a tag, not a digest".into(),
            });
        }
        let id = self.inspect(source)?.id;
        let state = self.read_state()?;
        let img = state
            .images
            .get(id.hex())
            .ok_or_else(|| ImageError::NotFound(source.to_string()))?;
        // Blobs known to live in another repository of this registry: mount candidates.
        let mut mounts: BTreeMap<Digest, String> = BTreeMap::new();
        for other in state.images.values() {
            for t in &other.tags {
                let Ok(tr) = Reference::parse(t) else {
                    continue;
                };
                if tr.registry != r.registry || tr.repository == r.repository {
                    continue;
                }
                for l in &other.layers {
                    mounts
                        .entry(l.digest.clone())
                        .or_insert(tr.repository.clone());
                }
            }
        }
        let mut scopes = vec![format!("repository:{}:pull,push", r.repository)];
        let mut from: Vec<&String> = mounts.values().collect();
        from.sort();
        from.dedup();
        scopes.extend(from.iter().map(|f| format!("repository:{f}:pull")));
        let mut client = Client::connect(&r, opts, scopes)?;
        let manifest = self.read_json_blob(&img.manifest)?;
        progress(&Progress::Resolved {
            reference: r.to_string(),
            manifest: img.manifest.clone(),
            layers: img.layers.len(),
        });
        let mut blobs = vec![img.id.clone()];
        blobs.extend(img.layers.iter().map(|l| l.digest.clone()));
        let mut out = Pushed {
            reference: r.to_string(),
            manifest: img.manifest.clone(),
            blobs_uploaded: 0,
            blobs_existing: 0,
            blobs_mounted: 0,
        };
        for d in &blobs {
            let mount = mounts.get(d).map(String::as_str);
            match self.push_blob(&mut client, d, mount, opts.chunk_size, progress)? {
                Outcome::Existed => out.blobs_existing += 1,
                Outcome::Mounted => out.blobs_mounted += 1,
                Outcome::Uploaded => out.blobs_uploaded += 1,
            }
        }
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let url = client.url(&format!("manifests/{tag}"));
        let headers = [("Content-Type", img.manifest_media_type.clone())];
        let resp = client.send("PUT", &url, &headers, &Body::Bytes(&manifest))?;
        let resp = client.check("PUT", &url, resp)?;
        if let Some(Ok(said)) = header(&resp, "docker-content-digest")
            .as_deref()
            .map(Digest::parse)
        {
            if said != img.manifest {
                return Err(RegistryError::protocol(
                    &url,
                    format!(
                        "registry stored the manifest as {said}, expected {}",
                        img.manifest
                    ),
                ));
            }
        }
        progress(&Progress::Done {
            id: img.id.clone(),
            manifest: img.manifest.clone(),
        });
        Ok(out)
    }

    fn push_blob(
        &self,
        client: &mut Client,
        d: &Digest,
        mount: Option<&str>,
        chunk: Option<u64>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Outcome> {
        let path = self.blob_path(d);
        let size = fs::metadata(&path)
            .map_err(|e| ImageError::io("stat", &path, e))?
            .len();
        let url = client.url(&format!("blobs/{d}"));
        let resp = client.send("HEAD", &url, &[], &Body::Empty)?;
        if resp.status() == 200 {
            progress(&Progress::BlobExists {
                digest: d.clone(),
                size,
            });
            return Ok(Outcome::Existed);
        }
        if resp.status() != 404 {
            client.check("HEAD", &url, resp)?;
        }
        let start = match mount {
            Some(repo) => client.url(&format!("blobs/uploads/?mount={d}&from={repo}")),
            None => client.url("blobs/uploads/"),
        };
        let resp = client.send("POST", &start, &[], &Body::Bytes(&[]))?;
        let resp = client.check("POST", &start, resp)?;
        if resp.status() == 201 {
            progress(&Progress::BlobMounted {
                digest: d.clone(),
                from: mount.unwrap_or_default().to_string(),
            });
            return Ok(Outcome::Mounted);
        }
        let mut location = upload_location(client, &start, &resp)?;
        progress(&Progress::BlobStart {
            digest: d.clone(),
            size,
            resumed_from: 0,
        });
        let octet = ("Content-Type", "application/octet-stream".to_string());
        let mut sent = 0u64;
        if let Some(step) = chunk.filter(|s| *s > 0) {
            while sent < size {
                let len = step.min(size - sent);
                let range = ("Content-Range", format!("{sent}-{}", sent + len - 1));
                let body = Body::File {
                    path: &path,
                    offset: sent,
                    len,
                };
                let resp = client.send("PATCH", &location, &[octet.clone(), range], &body)?;
                let resp = client.check("PATCH", &location, resp)?;
                location = upload_location(client, &location, &resp)?;
                sent += len;
                progress(&Progress::BlobProgress {
                    digest: d.clone(),
                    done: sent,
                    size,
                });
            }
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{sep}digest={d}");
        let body = Body::File {
            path: &path,
            offset: sent,
            len: size - sent,
        };
        let resp = client.send("PUT", &put, &[octet], &body)?;
        client.check("PUT", &put, resp)?;
        progress(&Progress::BlobDone { digest: d.clone() });
        Ok(Outcome::Uploaded)
    }
}

fn upload_location(
    client: &Client,
    url: &str,
    resp: &ureq::http::Response<ureq::Body>,
) -> Result<String> {
    header(resp, "location")
        .map(|l| client.resolve(&l))
        .ok_or_else(|| RegistryError::protocol(url, "upload answer without a Location"))
}
