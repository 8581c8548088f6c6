//! Test helpers: raw tar writing (so hostile names survive), image archives built in memory,
//! and store listings to prove "unchanged".
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// One tar entry, written with its name bytes exactly as given.
pub struct E<'a> {
    pub path: &'a [u8],
    pub kind: tar::EntryType,
    pub link: &'a [u8],
    pub data: &'a [u8],
    pub mode: u32,
}

pub fn file<'a>(path: &'a str, data: &'a [u8]) -> E<'a> {
    E {
        path: path.as_bytes(),
        kind: tar::EntryType::Regular,
        link: b"",
        data,
        mode: 0o644,
    }
}
pub fn dir(path: &str) -> E<'_> {
    E {
        path: path.as_bytes(),
        kind: tar::EntryType::Directory,
        link: b"",
        data: b"",
        mode: 0o755,
    }
}
pub fn symlink<'a>(path: &'a str, target: &'a str) -> E<'a> {
    E {
        path: path.as_bytes(),
        kind: tar::EntryType::Symlink,
        link: target.as_bytes(),
        data: b"",
        mode: 0o777,
    }
}
pub fn hardlink<'a>(path: &'a str, target: &'a str) -> E<'a> {
    E {
        path: path.as_bytes(),
        kind: tar::EntryType::Link,
        link: target.as_bytes(),
        data: b"",
        mode: 0o644,
    }
}

/// A tar of `entries`; names and link targets up to 100 bytes, set raw (no sanitising).
pub fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        h.set_mode(e.mode);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        {
            let bytes = h.as_mut_bytes();
            let n = e.path.len().min(100);
            bytes[..n].copy_from_slice(&e.path[..n]);
            let l = e.link.len().min(100);
            bytes[157..157 + l].copy_from_slice(&e.link[..l]);
        }
        h.set_cksum();
        b.append(&h, e.data).expect("append");
    }
    b.into_inner().expect("finish")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn sha(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// A regular-file tar entry via the safe builder API (long names fine).
pub fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data).expect("append");
}

/// A config JSON for `layers` (uncompressed tars).
pub fn config_for(layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha(l)))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin", "A=1"],
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo hi"],
            "WorkingDir": "/work",
            "User": "1000:1000",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.example": "yes"},
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000u64, "Retries": 3}
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .expect("json")
}

/// A docker-archive of one image with `layers` stored uncompressed.
pub fn docker_archive(tag: &str, layers: &[Vec<u8>]) -> Vec<u8> {
    let config = config_for(layers);
    let mut b = tar::Builder::new(Vec::new());
    let cname = format!("{}.json", sha(&config));
    add(&mut b, &cname, &config);
    let mut names = Vec::new();
    for l in layers {
        let n = format!("{}/layer.tar", sha(l));
        add(&mut b, &n, l);
        names.push(n);
    }
    let m = serde_json::json!([{"Config": cname, "RepoTags": [tag], "Layers": names}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&m).expect("json"),
    );
    add(&mut b, "repositories", b"{}");
    b.into_inner().expect("finish")
}

/// Pieces of an OCI layout, editable before `oci_archive` packs them.
pub struct Oci {
    pub blobs: Vec<(String, Vec<u8>)>,
    pub index: serde_json::Value,
}

/// An OCI layout of one image with gzip layers.
pub fn oci_image(tag: &str, layers: &[Vec<u8>]) -> Oci {
    let config = config_for(layers);
    let mut blobs = vec![(sha(&config), config.clone())];
    let mut ldescs = Vec::new();
    for l in layers {
        let gz = gzip(l);
        ldescs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{}", sha(&gz)), "size": gz.len()}));
        blobs.push((sha(&gz), gz));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", sha(&config)), "size": config.len()},
        "layers": ldescs,
    }))
    .expect("json");
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", sha(&manifest)), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    blobs.push((sha(&manifest), manifest));
    Oci { blobs, index }
}

pub fn oci_archive(o: &Oci) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for (hex, data) in &o.blobs {
        add(&mut b, &format!("blobs/sha256/{hex}"), data);
    }
    add(
        &mut b,
        "index.json",
        &serde_json::to_vec(&o.index).expect("json"),
    );
    b.into_inner().expect("finish")
}

/// Every path under `dir` (relative), with file sizes: "the store is unchanged" compares these.
pub fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).expect("meta");
            out.push((
                p.strip_prefix(dir).expect("prefix").to_path_buf(),
                if meta.is_file() { meta.len() } else { 0 },
            ));
            if meta.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn is_root() -> bool {
    skiff_sys::fsroot::effective_uid() == 0
}
