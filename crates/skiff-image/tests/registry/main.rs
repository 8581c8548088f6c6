//! The registry client against a real `docker-registry` on 127.0.0.1: push -> pull round trips
//! (by tag, by digest, chunked, cross-repo mount), a tampered blob (digest error, store
//! unchanged), an interrupted pull resumed with HTTP Range, Basic auth from an htpasswd file,
//! the Bearer token flow against a token server the registry trusts, and HTTPS with a CA made here.

#[path = "../common/mod.rs"]
mod common;
mod server;
mod token;

use std::cell::RefCell;
use std::path::Path;

use common::*;
use server::{Registry, ServerOpts};
use skiff_image::registry::{Credentials, Progress, RegistryError, RegistryOptions};
use skiff_image::{Digest, ImageError, ImageStore};

fn store() -> (tempfile::TempDir, ImageStore) {
    let t = tempfile::tempdir().expect("tempdir");
    let s = ImageStore::open(t.path()).expect("open");
    (t, s)
}

fn small_layers() -> Vec<Vec<u8>> {
    vec![
        tar_of(&[dir("etc"), file("etc/os", b"one"), file("hello", b"hi")]),
        tar_of(&[file("etc/os", b"two")]),
    ]
}

/// A store holding one OCI image (gzip layers) tagged `src:1`.
fn source_store(layers: &[Vec<u8>]) -> (tempfile::TempDir, ImageStore, Digest) {
    let (t, s) = store();
    let loaded = s
        .load_reader(&oci_archive(&oci_image("src:1", layers))[..])
        .expect("load");
    (t, s, loaded[0].id.clone())
}

fn quiet() -> impl FnMut(&Progress) {
    |_: &Progress| {}
}

fn plain() -> RegistryOptions {
    RegistryOptions::default()
}

#[test]
fn push_then_pull_by_tag_and_digest() {
    let reg = Registry::start(ServerOpts::default());
    let (_t, src, id) = source_store(&small_layers());
    let dest = format!("{}/test/img:1", reg.addr());
    let pushed = src
        .push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect("push");
    assert_eq!(pushed.blobs_uploaded, 3, "config + 2 layers");
    assert_eq!(
        pushed.manifest,
        src.inspect("src:1").expect("inspect").manifest
    );
    let again = src
        .push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect("push again");
    assert_eq!((again.blobs_uploaded, again.blobs_existing), (0, 3));

    let (_t2, dst) = store();
    let mut events = Vec::new();
    let pulled = dst
        .pull(&dest, &plain(), &mut |p: &Progress| events.push(p.clone()))
        .expect("pull");
    assert_eq!(pulled.id, id);
    assert_eq!(pulled.manifest, pushed.manifest);
    assert_eq!(pulled.tag.as_deref(), Some(dest.as_str()));
    assert_eq!((pulled.layers_downloaded, pulled.layers_unpacked), (2, 2));
    assert!(
        matches!(events.last(), Some(Progress::Done { .. })),
        "{events:?}"
    );
    let info = dst.inspect(&dest).expect("inspect pulled");
    assert_eq!(info.id, id);
    let top = dst.rootfs_layers(&dest).expect("layers");
    let found: Vec<_> = top
        .iter()
        .filter_map(|l| std::fs::read(l.join("etc/os")).ok())
        .collect();
    assert_eq!(found.len(), 2, "each layer has its etc/os: {top:?}");

    // Again: nothing to download.
    let again = dst.pull(&dest, &plain(), &mut quiet()).expect("pull again");
    assert_eq!((again.layers_downloaded, again.layers_unpacked), (0, 0));

    // By digest, into a fresh store: same image, no tag.
    let (_t3, by_digest) = store();
    let r = format!("{}/test/img@{}", reg.addr(), pushed.manifest);
    let p = by_digest
        .pull(&r, &plain(), &mut quiet())
        .expect("pull by digest");
    assert_eq!((p.id.clone(), p.tag.clone()), (id.clone(), None));
    assert_eq!(by_digest.inspect(id.hex()).expect("by id").id, id);

    // A digest the registry does not have, and a tag it does not have.
    let missing = format!("{}/test/img@{}", reg.addr(), Digest::of(b"nope"));
    let e = by_digest
        .pull(&missing, &plain(), &mut quiet())
        .expect_err("unknown");
    assert_eq!(e.kind(), skiff_types::ErrorKind::NotFound, "{e}");
    let e = by_digest
        .pull(
            &format!("{}/test/img:nope", reg.addr()),
            &plain(),
            &mut quiet(),
        )
        .expect_err("unknown tag");
    assert!(e.to_string().contains("MANIFEST_UNKNOWN"), "{e}");
}

#[test]
fn chunked_push_and_cross_repo_mount() {
    let reg = Registry::start(ServerOpts::default());
    let (_t, src, id) = source_store(&small_layers());
    let a = format!("{}/team/a:1", reg.addr());
    let opts = RegistryOptions {
        chunk_size: Some(40),
        ..plain()
    };
    let mut chunks = 0;
    src.push("src:1", Some(&a), &opts, &mut |p: &Progress| {
        chunks += usize::from(matches!(p, Progress::BlobProgress { .. }));
    })
    .expect("chunked push");
    assert!(chunks > 3, "several PATCH chunks were sent ({chunks})");
    // A store that pulled team/a knows the registry holds these layers there: pushing to
    // team/b mounts them instead of uploading.
    let (_t2, mid) = store();
    mid.pull(&a, &plain(), &mut quiet()).expect("pull a");
    let b = format!("{}/team/b:1", reg.addr());
    let pushed = mid
        .push(&a, Some(&b), &plain(), &mut quiet())
        .expect("push b");
    assert_eq!(pushed.blobs_mounted, 2, "{pushed:?}");
    let (_t3, end) = store();
    assert_eq!(end.pull(&b, &plain(), &mut quiet()).expect("pull b").id, id);
}

#[test]
fn tampered_blob_is_refused_and_the_store_is_unchanged() {
    let reg = Registry::start(ServerOpts::default());
    let layers = small_layers();
    let (_t, src, _) = source_store(&layers);
    let dest = format!("{}/test/tamper:1", reg.addr());
    src.push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect("push");
    // Flip bytes of the second layer blob in the registry's own storage (same size).
    let info = src.inspect("src:1").expect("inspect");
    let state = std::fs::read_to_string(src.dir().join("state.json")).expect("state");
    let v: serde_json::Value = serde_json::from_str(&state).expect("json");
    let blob = v["images"][info.id.hex()]["layers"][1]["digest"]
        .as_str()
        .expect("digest")
        .trim_start_matches("sha256:")
        .to_string();
    let data = reg.blob_data(&blob);
    let mut bytes = std::fs::read(&data).expect("registry blob");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, &bytes).expect("tamper");

    let (t2, dst) = store();
    let before = listing(t2.path());
    let e = dst
        .pull(&dest, &plain(), &mut quiet())
        .expect_err("tampered");
    assert!(
        matches!(e, RegistryError::Image(ImageError::DigestMismatch { .. })),
        "{e}"
    );
    assert_eq!(
        listing(t2.path()),
        before,
        "store unchanged, no partial left"
    );
    assert!(dst.images().expect("images").is_empty());
}

/// Bytes that do not compress (a layer big enough to be mid-flight when the server dies).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn interrupted_pull_resumes_with_range() {
    let mut reg = Registry::start(ServerOpts::default());
    let layers = vec![
        tar_of(&[file("small", b"s")]),
        tar_of(&[file("big", &noise(24 << 20))]),
    ];
    // A docker-archive keeps layers uncompressed: no gzip of 24 MiB in a debug build.
    let (_t, src) = store();
    let id = src
        .load_reader(&docker_archive("src:1", &layers)[..])
        .expect("load")[0]
        .id
        .clone();
    let dest = format!("{}/test/big:1", reg.addr());
    src.push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect("push");

    let (t2, dst) = store();
    let before = listing(t2.path());
    let reg_cell = RefCell::new(&mut reg);
    let e = dst
        .pull(&dest, &plain(), &mut |p: &Progress| {
            if let Progress::BlobProgress { done, size, .. } = p {
                if *size > (20 << 20) && *done >= (2 << 20) {
                    reg_cell.borrow_mut().kill();
                }
            }
        })
        .expect_err("registry killed mid-blob");
    assert!(matches!(e, RegistryError::Transport { .. }), "{e}");
    let partial: Vec<_> = std::fs::read_dir(dst.dir().join("partial"))
        .expect("partial dir")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .collect();
    assert_eq!(partial.len(), 1, "one partial download kept");
    assert!(partial[0] >= 2 << 20, "{partial:?}");
    let now: Vec<_> = listing(t2.path())
        .into_iter()
        .filter(|(p, _)| p.parent() != Some(Path::new("images/partial")))
        .collect();
    assert_eq!(now, before, "nothing but the partial download changed");
    assert!(dst.images().expect("images").is_empty());

    reg.restart();
    let mut resumed = None;
    let pulled = dst
        .pull(&dest, &plain(), &mut |p: &Progress| {
            if let Progress::BlobStart { resumed_from, .. } = p {
                if *resumed_from > 0 {
                    resumed = Some(*resumed_from);
                }
            }
        })
        .expect("resumed pull");
    assert_eq!(pulled.id, id);
    assert_eq!(
        resumed,
        Some(partial[0]),
        "continued exactly where it stopped"
    );
    assert_eq!(
        std::fs::read_dir(dst.dir().join("partial"))
            .expect("dir")
            .count(),
        0
    );
}

fn htpasswd(dir: &Path, user: &str, pass: &str) -> std::path::PathBuf {
    let out = server::run(std::process::Command::new("htpasswd").args(["-Bbn", user, pass]));
    let p = dir.join("htpasswd");
    std::fs::write(&p, out).expect("htpasswd");
    p
}

#[test]
fn basic_auth_from_flag_and_auth_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let reg = Registry::start(ServerOpts {
        htpasswd: Some(htpasswd(tmp.path(), "skiff", "s3cret")),
        ..Default::default()
    });
    let (_t, src, id) = source_store(&small_layers());
    let dest = format!("{}/auth/img:1", reg.addr());
    let e = src
        .push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect_err("no credentials");
    assert!(matches!(e, RegistryError::Auth { .. }), "{e}");
    let wrong = RegistryOptions {
        creds: Some(Credentials::parse("skiff:wrong").expect("creds")),
        ..plain()
    };
    let e = src
        .push("src:1", Some(&dest), &wrong, &mut quiet())
        .expect_err("wrong password");
    assert!(matches!(e, RegistryError::Auth { .. }), "{e}");
    let good = RegistryOptions {
        creds: Some(Credentials::parse("skiff:s3cret").expect("creds")),
        ..plain()
    };
    src.push("src:1", Some(&dest), &good, &mut quiet())
        .expect("push with creds");
    let auth_file = tmp.path().join("auth.json");
    Credentials::parse("skiff:s3cret")
        .expect("creds")
        .save_to_auth_file(&auth_file, &reg.addr())
        .expect("login");
    let (_t2, dst) = store();
    let from_file = RegistryOptions {
        auth_file: Some(auth_file),
        ..plain()
    };
    assert_eq!(
        dst.pull(&dest, &from_file, &mut quiet()).expect("pull").id,
        id
    );
}

#[test]
fn https_with_a_custom_ca() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (ca, cert, key) = server::make_ca(tmp.path());
    let reg = Registry::start(ServerOpts {
        tls: Some((cert, key)),
        ..Default::default()
    });
    let (_t, src, id) = source_store(&small_layers());
    let dest = format!("{}/tls/img:1", reg.addr());
    // Without the CA, 127.0.0.1 is spoken to in plain HTTP, which a TLS server refuses.
    src.push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect_err("no CA");
    let with_ca = RegistryOptions {
        ca_file: Some(ca.clone()),
        ..plain()
    };
    src.push("src:1", Some(&dest), &with_ca, &mut quiet())
        .expect("push over TLS");
    // Docker's certs.d layout.
    let certs = tmp.path().join("certs.d");
    std::fs::create_dir_all(certs.join(reg.addr())).expect("certs.d");
    std::fs::copy(&ca, certs.join(reg.addr()).join("ca.crt")).expect("copy ca");
    let (_t2, dst) = store();
    let certs_d = RegistryOptions {
        certs_dir: Some(certs),
        ..plain()
    };
    assert_eq!(
        dst.pull(&dest, &certs_d, &mut quiet()).expect("pull").id,
        id
    );
    // A CA that did not sign the server's certificate is refused.
    let other = tempfile::tempdir().expect("tmp");
    let (other_ca, _, _) = server::make_ca(other.path());
    let wrong = RegistryOptions {
        ca_file: Some(other_ca),
        ..plain()
    };
    let (_t3, none) = store();
    let e = none
        .pull(&dest, &wrong, &mut quiet())
        .expect_err("untrusted");
    assert!(matches!(e, RegistryError::Transport { .. }), "{e}");
}

#[test]
fn short_names_need_a_registry_host() {
    let (_t, s) = store();
    let e = s
        .pull("busybox", &plain(), &mut quiet())
        .expect_err("no host");
    assert!(e.to_string().contains("no registry host"), "{e}");
}

#[test]
fn bearer_token_flow() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tokens = token::TokenServer::start(tmp.path(), "robot", "t0ken");
    let reg = Registry::start(ServerOpts {
        token: Some((
            tokens.realm(),
            token::SERVICE.into(),
            token::ISSUER.into(),
            tokens.cert.clone(),
        )),
        ..Default::default()
    });
    let (_t, src, id) = source_store(&small_layers());
    let dest = format!("{}/bearer/img:1", reg.addr());
    let e = src
        .push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect_err("the token server wants credentials");
    assert!(matches!(e, RegistryError::Auth { .. }), "{e}");
    let creds = RegistryOptions {
        creds: Some(Credentials::parse("robot:t0ken").expect("creds")),
        ..plain()
    };
    src.push("src:1", Some(&dest), &creds, &mut quiet())
        .expect("push with a token");
    let (_t2, dst) = store();
    assert_eq!(dst.pull(&dest, &creds, &mut quiet()).expect("pull").id, id);
    let scopes = tokens.scopes.lock().expect("lock").clone();
    assert!(
        scopes.contains(&"repository:bearer/img:pull,push".to_string())
            && scopes.contains(&"repository:bearer/img:pull".to_string()),
        "{scopes:?}"
    );
}

#[test]
fn corrupt_or_oversized_partial_downloads_are_discarded() {
    let reg = Registry::start(ServerOpts::default());
    let (_t, src, id) = source_store(&small_layers());
    let dest = format!("{}/test/partial:1", reg.addr());
    src.push("src:1", Some(&dest), &plain(), &mut quiet())
        .expect("push");
    let state = std::fs::read_to_string(src.dir().join("state.json")).expect("state");
    let v: serde_json::Value = serde_json::from_str(&state).expect("json");
    let (t2, dst) = store();
    for (i, pad) in [(0, 0usize), (1, 10)] {
        let l = &v["images"][id.hex()]["layers"][i];
        let hex = l["digest"]
            .as_str()
            .expect("digest")
            .trim_start_matches("sha256:");
        let size = l["size"].as_u64().expect("size") as usize;
        // Layer 0: right length, wrong bytes; layer 1: longer than the blob.
        std::fs::write(dst.dir().join("partial").join(hex), vec![0x5a; size + pad])
            .expect("partial");
    }
    let mut resumed = Vec::new();
    let pulled = dst
        .pull(&dest, &plain(), &mut |p: &Progress| {
            if let Progress::BlobStart { resumed_from, .. } = p {
                resumed.push(*resumed_from);
            }
        })
        .expect("pull despite bad partials");
    assert_eq!(pulled.id, id);
    assert_eq!(resumed, vec![0, 0], "both downloads started over");
    assert_eq!(
        std::fs::read_dir(t2.path().join("images/partial"))
            .expect("dir")
            .count(),
        0
    );
}
