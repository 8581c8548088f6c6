//! Verified, resumable downloads. A blob streams into `ROOT/images/partial/<hex>` while its
//! sha256 and byte count are taken; more bytes than the descriptor's size stops the transfer,
//! a wrong digest deletes the partial file, and only a verified file is renamed into the stage.
//! A transfer that breaks keeps its partial file: the next pull re-hashes what is there and
//! asks for the rest with `Range: bytes=<have>-` (a registry that answers 200 instead of 206
//! simply sends it all again).

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::oci::Descriptor;
use crate::registry::client::{header, Body, Client};
use crate::registry::error::{RegistryError, Result};
use crate::registry::progress::Progress;

const CHUNK: usize = 256 << 10;
/// Emit a progress event at most every this many bytes.
const PROGRESS_STEP: u64 = 1 << 20;

fn io_err(op: &'static str, path: &Path, e: std::io::Error) -> RegistryError {
    ImageError::io(op, path, e).into()
}

fn finish(h: Sha256) -> Digest {
    Digest::from_hex(&format!("{:x}", h.finalize())).unwrap_or_else(|_| Digest::of(b""))
}

/// Downloads the blob `desc` names into `dst`, resuming from `partial_dir/<hex>`.
pub(crate) fn fetch_blob(
    client: &mut Client,
    desc: &Descriptor,
    partial_dir: &Path,
    dst: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<()> {
    fs::create_dir_all(partial_dir).map_err(|e| io_err("create", partial_dir, e))?;
    let part = partial_dir.join(desc.digest.hex());
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&part)
        .map_err(|e| io_err("open", &part, e))?;
    let mut hasher = Sha256::new();
    let mut have = rehash(&mut f, &part, &mut hasher)?;
    if have == desc.size && finish(hasher.clone()) == desc.digest {
        drop(f);
        return fs::rename(&part, dst).map_err(|e| io_err("stage blob", dst, e));
    }
    if have >= desc.size {
        // Too long, or full length but corrupt: start over.
        truncate(&mut f, &part, &mut hasher, &mut have)?;
    }
    let url = client.url(&format!("blobs/{}", desc.digest));
    let mut headers = Vec::new();
    if have > 0 {
        headers.push(("Range", format!("bytes={have}-")));
    }
    let resp = client.send("GET", &url, &headers, &Body::Empty)?;
    match resp.status().as_u16() {
        206 if content_range_start(&header(&resp, "content-range")) == Some(have) => {}
        206 | 416 => {
            // The registry did not continue where we are: start over, without a range.
            truncate(&mut f, &part, &mut hasher, &mut have)?;
            let resp = client.send("GET", &url, &[], &Body::Empty)?;
            return stream(
                client, desc, f, &part, dst, hasher, 0, resp, &url, cancel, progress,
            );
        }
        200 => truncate(&mut f, &part, &mut hasher, &mut have)?,
        _ => {}
    }
    stream(
        client, desc, f, &part, dst, hasher, have, resp, &url, cancel, progress,
    )
}

/// Hashes what a partial file already holds; returns its length.
fn rehash(f: &mut fs::File, part: &Path, h: &mut Sha256) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| io_err("read", part, e))?;
        if k == 0 {
            return Ok(n);
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

fn truncate(f: &mut fs::File, part: &Path, h: &mut Sha256, have: &mut u64) -> Result<()> {
    f.set_len(0).map_err(|e| io_err("truncate", part, e))?;
    f.seek(SeekFrom::Start(0))
        .map_err(|e| io_err("seek", part, e))?;
    *h = Sha256::new();
    *have = 0;
    Ok(())
}

/// `bytes <start>-<end>/<total>` -> start.
fn content_range_start(v: &Option<String>) -> Option<u64> {
    let v = v.as_deref()?.trim().strip_prefix("bytes ")?;
    v.split('-').next()?.trim().parse().ok()
}

#[allow(clippy::too_many_arguments)]
fn stream(
    client: &Client,
    desc: &Descriptor,
    mut f: fs::File,
    part: &Path,
    dst: &Path,
    mut hasher: Sha256,
    mut have: u64,
    resp: ureq::http::Response<ureq::Body>,
    url: &str,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<()> {
    let resp = client.check("GET", url, resp)?;
    f.seek(SeekFrom::End(0))
        .map_err(|e| io_err("seek", part, e))?;
    progress(&Progress::BlobStart {
        digest: desc.digest.clone(),
        size: desc.size,
        resumed_from: have,
    });
    let mut body = resp.into_body().into_reader();
    let mut buf = vec![0u8; CHUNK];
    let mut last = have;
    loop {
        if cancel.load(Ordering::Relaxed) {
            // Keep what arrived for the next attempt.
            return Err(RegistryError::Transport {
                method: "GET",
                url: url.to_string(),
                reason: format!("cancelled after {have} of {} bytes", desc.size),
            });
        }
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Keep what arrived for the next attempt.
                let _ = f.flush();
                return Err(RegistryError::Transport {
                    method: "GET",
                    url: url.to_string(),
                    reason: format!("after {have} of {} bytes: {e}", desc.size),
                });
            }
        };
        if have + n as u64 > desc.size {
            drop(f);
            let _ = fs::remove_file(part);
            return Err(RegistryError::protocol(
                url,
                format!(
                    "blob {} is larger than the {} bytes its descriptor says",
                    desc.digest, desc.size
                ),
            ));
        }
        f.write_all(&buf[..n])
            .map_err(|e| io_err("write", part, e))?;
        hasher.update(&buf[..n]);
        have += n as u64;
        if have - last >= PROGRESS_STEP || have == desc.size {
            last = have;
            progress(&Progress::BlobProgress {
                digest: desc.digest.clone(),
                done: have,
                size: desc.size,
            });
        }
    }
    drop(f);
    if have < desc.size {
        return Err(RegistryError::Transport {
            method: "GET",
            url: url.to_string(),
            reason: format!("body ended after {have} of {} bytes", desc.size),
        });
    }
    verify_and_move(desc, part, dst, hasher, have)
}

fn verify_and_move(desc: &Descriptor, part: &Path, dst: &Path, h: Sha256, have: u64) -> Result<()> {
    let actual = finish(h);
    if actual != desc.digest || have != desc.size {
        let _ = fs::remove_file(part);
        return Err(ImageError::DigestMismatch {
            what: format!("blob {} ({have} bytes) from the registry", desc.digest),
            expected: desc.digest.clone(),
            actual,
        }
        .into());
    }
    fs::rename(part, dst).map_err(|e| io_err("stage blob", dst, e))
}

/// A JSON document (manifest or config): its bytes, `Content-Type` and `Docker-Content-Digest`.
pub(crate) struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub docker_digest: Option<String>,
}

/// GETs a small document, at most `limit` bytes.
pub(crate) fn fetch_json(
    client: &mut Client,
    url: &str,
    accept: &str,
    limit: u64,
) -> Result<Fetched> {
    let resp = client.send("GET", url, &[("Accept", accept.to_string())], &Body::Empty)?;
    let mut resp = client.check("GET", url, resp)?;
    let content_type =
        header(&resp, "content-type").map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    let docker_digest = header(&resp, "docker-content-digest");
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| RegistryError::Transport {
            method: "GET",
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    Ok(Fetched {
        bytes,
        content_type,
        docker_digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_range() {
        assert_eq!(
            content_range_start(&Some("bytes 100-199/200".into())),
            Some(100)
        );
        assert_eq!(content_range_start(&Some("bytes */200".into())), None);
        assert_eq!(content_range_start(&None), None);
    }
}
