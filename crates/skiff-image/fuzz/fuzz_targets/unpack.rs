//! Feeds arbitrary bytes to the layer unpacker (as a plain, gzip or zstd tar, whatever the
//! magic says) inside a fresh directory, with small limits. Any panic is a bug, and so is
//! any file appearing outside the layer root: the target checks that the root's parent
//! holds nothing but the root afterwards. `cargo +nightly fuzz run unpack`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_image::{unpack_layer, Limits};
use skiff_sys::fsroot::RootDir;

fuzz_target!(|data: &[u8]| {
    let base = tempfile::tempdir().expect("tempdir");
    let root_path = base.path().join("root");
    std::fs::create_dir(&root_path).expect("root");
    let root = RootDir::open(&root_path).expect("open root");
    let limits = Limits {
        max_layer_bytes: 1 << 20,
        max_entries: 1_000,
        ..Limits::default()
    };
    let _ = unpack_layer(data, &root, &limits);
    let outside: Vec<_> = std::fs::read_dir(base.path())
        .expect("read base")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("root")], "escaped the layer root");
});
