//! Property tests for the unpacker: random sequences of adversarial entries (`..`, absolute
//! paths, symlinks to the host dir, hardlinks, whiteouts, devices, duplicates) and random bytes
//! must never create, change or remove anything outside the layer root, and never panic.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use proptest::prelude::*;
use skiff_image::{unpack_layer, Limits};
use skiff_sys::fsroot::RootDir;

const OUT: &str = "@OUT";

fn component() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "etc",
        "..",
        ".",
        "",
        ".wh.a",
        ".wh.secret",
        ".wh..wh..opq",
        OUT,
        "secret",
    ])
}

fn path() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(component(), 1..5))
        .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
}

fn kind() -> impl Strategy<Value = tar::EntryType> {
    prop::sample::select(vec![
        tar::EntryType::Regular,
        tar::EntryType::Directory,
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Fifo,
        tar::EntryType::Char,
    ])
}

fn entries() -> impl Strategy<Value = Vec<(String, tar::EntryType, String)>> {
    prop::collection::vec((path(), kind(), path()), 1..12)
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, u64)> {
    listing(dir)
}

fn check(tar: &[u8], t: &tempfile::TempDir) {
    let base = t.path();
    let before = snapshot(&base.join("outside"));
    let root = RootDir::open(&base.join("root")).expect("root");
    let limits = Limits {
        max_layer_bytes: 1 << 20,
        ..Limits::default()
    };
    let _ = unpack_layer(tar, &root, &limits);
    assert_eq!(snapshot(&base.join("outside")), before, "outside changed");
    assert_eq!(
        std::fs::read(base.join("outside/secret")).expect("secret"),
        b"secret"
    );
    let names: Vec<_> = std::fs::read_dir(base)
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing new next to the root: {names:?}");
}

fn bed() -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(t.path().join("root")).expect("root");
    std::fs::create_dir_all(t.path().join("outside/a")).expect("outside");
    std::fs::write(t.path().join("outside/secret"), b"secret").expect("secret");
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn adversarial_entries_stay_inside(es in entries()) {
        let t = bed();
        let out = t.path().join("outside").display().to_string();
        let owned: Vec<(String, tar::EntryType, String)> = es
            .into_iter()
            .map(|(p, k, l)| (p.replace(OUT, &out), k, l.replace(OUT, &out)))
            .filter(|(p, _, l)| p.len() <= 100 && l.len() <= 100)
            .collect();
        let list: Vec<E<'_>> = owned
            .iter()
            .map(|(p, k, l)| E { path: p.as_bytes(), kind: *k, link: l.as_bytes(), data: b"pwned", mode: 0o6777 })
            .collect();
        check(&tar_of(&list), &t);
    }

    #[test]
    fn random_bytes_never_escape(header in prop::collection::vec(any::<u8>(), 0..2048), gz in any::<bool>()) {
        let t = bed();
        // Half the time, a valid first entry so the parser gets past the first header.
        let mut bytes = tar_of(&[file("ok", b"x")]);
        bytes.truncate(1024);
        bytes.extend_from_slice(&header);
        let input = if gz { gzip(&bytes) } else { bytes };
        check(&input, &t);
        check(&header, &bed());
    }
}
