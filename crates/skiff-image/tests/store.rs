//! The store: docker-archive and OCI loads, save -> load round trips, bad archives (each a clear
//! error, the store byte-for-byte unchanged), tag / rmi / prune semantics.

mod common;

use std::path::Path;

use common::*;
use skiff_image::{ArchiveFormat, ImageError, ImageStore, Removed};

fn layers() -> Vec<Vec<u8>> {
    vec![
        tar_of(&[
            dir("bin"),
            file("bin/hello", b"hello"),
            dir("etc"),
            file("etc/os", b"one"),
        ]),
        tar_of(&[file("etc/os", b"two"), dir("work")]),
    ]
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let t = tempfile::tempdir().expect("tempdir");
    let s = ImageStore::open(t.path()).expect("open");
    (t, s)
}

fn load_bytes(s: &ImageStore, bytes: &[u8]) -> Result<Vec<skiff_image::LoadedImage>, ImageError> {
    s.load_reader(bytes)
}

/// Loads `bad`, expects an error matching `check`, and proves the store is unchanged.
fn refused(bad: &[u8], check: impl Fn(&ImageError) -> bool) {
    let (_t, s) = store();
    load_bytes(&s, &docker_archive("base:1", &layers())).expect("seed");
    let before = listing(s.dir());
    let e = load_bytes(&s, bad).expect_err("must fail");
    assert!(check(&e), "unexpected error: {e}");
    assert_eq!(listing(s.dir()), before, "store changed after: {e}");
    assert_eq!(s.images().expect("images").len(), 1);
}

#[test]
fn docker_archive_loads_and_inspects() {
    let (_t, s) = store();
    let got =
        load_bytes(&s, &docker_archive("docker.io/library/app:1.0", &layers())).expect("load");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].tags, vec!["app:1.0".to_string()]);
    assert_eq!(got[0].layers_unpacked, 2);
    let rows = s.images().expect("images");
    assert_eq!(
        (rows[0].repository.as_str(), rows[0].tag.as_str()),
        ("app", "1.0")
    );
    assert_eq!(rows[0].id, got[0].id);
    let info = s.inspect("app:1.0").expect("inspect");
    assert_eq!(
        info.config.env,
        Some(vec!["PATH=/bin".to_string(), "A=1".to_string()])
    );
    assert_eq!(
        info.config.entrypoint,
        Some(vec!["/bin/sh".to_string(), "-c".to_string()])
    );
    assert_eq!(info.config.cmd, Some(vec!["echo hi".to_string()]));
    assert_eq!(info.config.working_dir.as_deref(), Some("/work"));
    assert_eq!(info.config.user.as_deref(), Some("1000:1000"));
    assert!(info
        .config
        .exposed_ports
        .as_ref()
        .is_some_and(|p| p.contains_key("8080/tcp")));
    assert_eq!(
        info.config.healthcheck.as_ref().and_then(|h| h.retries),
        Some(3)
    );
    assert_eq!(
        info.config
            .labels
            .as_ref()
            .and_then(|l| l.get("org.example"))
            .map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        s.inspect(&info.id.hex()[..8]).expect("by prefix").id,
        info.id
    );
    let dirs = s.rootfs_layers("app:1.0").expect("layers");
    assert_eq!(std::fs::read(dirs[0].join("etc/os")).expect("l0"), b"one");
    assert_eq!(std::fs::read(dirs[1].join("etc/os")).expect("l1"), b"two");
    // Loading again shares everything.
    let again = load_bytes(&s, &docker_archive("app:2.0", &layers())).expect("reload");
    assert_eq!(again[0].layers_unpacked, 0);
    assert_eq!(s.inspect("app:1.0").expect("both tags").repo_tags.len(), 2);
}

#[test]
fn oci_archive_and_layout_dir_load() {
    let (t, s) = store();
    let o = oci_image("localhost/oci:v1", &layers());
    let got = load_bytes(&s, &oci_archive(&o)).expect("load");
    assert_eq!(got[0].tags, vec!["oci:v1".to_string()]);
    let dirs = s.rootfs_layers("oci:v1").expect("layers");
    assert_eq!(
        std::fs::read(dirs[0].join("bin/hello")).expect("read"),
        b"hello"
    );
    // The same layout unpacked on disk loads as a directory.
    let layout = t.path().join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("mkdir");
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("w");
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&o.index).expect("j"),
    )
    .expect("w");
    for (hex, data) in &o.blobs {
        std::fs::write(layout.join("blobs/sha256").join(hex), data).expect("w");
    }
    let (_t2, s2) = store();
    assert_eq!(s2.load(&layout).expect("dir load")[0].id, got[0].id);
}

#[test]
fn save_then_load_round_trips_both_formats() {
    for format in [ArchiveFormat::DockerArchive, ArchiveFormat::OciArchive] {
        let (_t, s) = store();
        let id = load_bytes(&s, &oci_archive(&oci_image("rt:1", &layers()))).expect("load")[0]
            .id
            .clone();
        let mut out = Vec::new();
        s.save(&["rt:1"], format, &mut out).expect("save");
        let (_t2, s2) = store();
        let got = load_bytes(&s2, &out).expect("load saved");
        assert_eq!(got[0].id, id, "{format:?}");
        assert_eq!(got[0].tags, vec!["rt:1".to_string()], "{format:?}");
        let dirs = s2.rootfs_layers("rt:1").expect("layers");
        assert_eq!(std::fs::read(dirs[1].join("etc/os")).expect("read"), b"two");
    }
}

#[test]
fn truncated_archive_is_refused() {
    let full = docker_archive("t:1", &layers());
    refused(&full[..full.len() / 2], |e| {
        matches!(
            e,
            ImageError::Invalid { .. } | ImageError::MissingBlob { .. }
        )
    });
    refused(&full[..1000], |e| {
        matches!(
            e,
            ImageError::Invalid { .. } | ImageError::MissingBlob { .. }
        )
    });
    refused(b"", |e| e.to_string().contains("neither a docker-archive"));
}

#[test]
fn digest_mismatch_is_refused() {
    // A layer whose content does not match the config's diff id.
    let mut ls = layers();
    let good = docker_archive("m:1", &ls);
    let cfg_of_good = config_for(&ls);
    ls[1] = tar_of(&[file("etc/os", b"EVIL")]);
    let mut b = tar::Builder::new(Vec::new());
    let cname = format!("{}.json", sha(&cfg_of_good));
    add(&mut b, &cname, &cfg_of_good);
    let names: Vec<String> = ls
        .iter()
        .enumerate()
        .map(|(i, _)| format!("l{i}.tar"))
        .collect();
    for (n, l) in names.iter().zip(&ls) {
        add(&mut b, n, l);
    }
    let m = serde_json::json!([{"Config": cname, "RepoTags": ["m:1"], "Layers": names}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&m).expect("json"),
    );
    let bad = b.into_inner().expect("tar");
    assert!(good.len() > 1000);
    refused(&bad, |e| matches!(e, ImageError::DigestMismatch { .. }));
    // An OCI blob whose bytes do not match its descriptor.
    let mut o = oci_image("m:2", &layers());
    o.blobs[1].1 = gzip(b"not the layer");
    refused(&oci_archive(&o), |e| {
        matches!(e, ImageError::DigestMismatch { .. })
    });
}

#[test]
fn unknown_media_type_and_missing_blob_are_refused() {
    let mut o = oci_image("u:1", &layers());
    o.index["manifests"][0]["mediaType"] = "application/vnd.example.weird".into();
    refused(&oci_archive(&o), |e| {
        matches!(e, ImageError::MediaType { .. })
    });
    let mut o = oci_image("u:2", &layers());
    o.blobs.remove(1); // the first layer
    refused(&oci_archive(&o), |e| {
        matches!(e, ImageError::MissingBlob { .. })
    });
    let mut o = oci_image("u:3", &layers());
    o.index["manifests"][0]["digest"] = format!("sha256:{}", "0".repeat(64)).into();
    refused(&oci_archive(&o), |e| {
        matches!(e, ImageError::MissingBlob { .. })
    });
    // A hostile layer inside an otherwise valid archive.
    let evil = vec![tar_of(&[file("../../escape", b"x")])];
    refused(&docker_archive("e:1", &evil), |e| {
        matches!(e, ImageError::Hostile { .. })
    });
}

#[test]
fn tag_rmi_prune() {
    let (_t, s) = store();
    let id = load_bytes(&s, &docker_archive("a:1", &layers())).expect("load")[0]
        .id
        .clone();
    s.tag("a:1", "b:2").expect("tag");
    assert_eq!(s.images().expect("images").len(), 2);
    let e = s.remove(id.hex(), false).expect_err("two tags");
    assert!(matches!(e, ImageError::Conflict(_)), "{e}");
    assert_eq!(
        s.remove("b:2", false).expect("untag"),
        vec![Removed::Untagged("b:2".into())]
    );
    assert!(s.inspect("b:2").is_err());
    let removed = s.remove("a:1", false).expect("last tag deletes");
    assert_eq!(
        removed,
        vec![Removed::Untagged("a:1".into()), Removed::Deleted(id)]
    );
    assert!(s.images().expect("images").is_empty());
    assert!(
        listing(&s.dir().join("blobs")).len() == 1,
        "only blobs/sha256 left"
    );
    assert!(listing(&s.dir().join("layers")).is_empty());
    // Untagged images and orphans (a killed import) go with prune.
    load_bytes(&s, &docker_archive("c:1", &layers())).expect("load");
    load_bytes(&s, &docker_archive("c:1", &[layers()[0].clone()])).expect("tag moves");
    let orphan = s.dir().join("layers").join("f".repeat(64));
    std::fs::create_dir_all(&orphan).expect("orphan");
    let rep = s.prune().expect("prune");
    assert_eq!(rep.images_deleted.len(), 1);
    assert!(!orphan.exists());
    assert_eq!(s.images().expect("images").len(), 1);
    assert!(s.rootfs_layers("c:1").expect("kept")[0]
        .join("bin/hello")
        .exists());
    let _ = Path::new("");
}
