//! Feeds arbitrary bytes to the loader as a Compose file, a skiff.toml and a
//! skiff.yaml; any panic is a bug. `cargo +nightly fuzz run load`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_spec::{load_with, LoadOptions};
use std::path::{Path, PathBuf};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let read = |p: &Path| -> std::io::Result<String> {
        if p.ends_with(".env") {
            Ok("A=1\n".into())
        } else {
            Ok(text.clone())
        }
    };
    let opts = LoadOptions::default();
    for name in ["compose.yaml", "skiff.toml", "skiff.yaml"] {
        let _ = load_with(&[PathBuf::from(format!("/fuzz/{name}"))], &opts, &read);
    }
});
