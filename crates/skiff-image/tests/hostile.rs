//! Hostile layers: every escape shape must fail or land inside the layer root, and the
//! directory next to the root (the "host") must stay exactly as it was.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use skiff_image::{unpack_layer, ImageError, Limits, UnpackStats};
use skiff_sys::fsroot::RootDir;

struct Bed {
    _t: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    outside: PathBuf,
}

fn bed() -> Bed {
    let t = tempfile::tempdir().expect("tempdir");
    let base = t.path().to_path_buf();
    let root = base.join("root");
    let outside = base.join("outside");
    std::fs::create_dir(&root).expect("root");
    std::fs::create_dir(&outside).expect("outside");
    std::fs::write(outside.join("secret"), b"secret").expect("secret");
    Bed {
        _t: t,
        base,
        root,
        outside,
    }
}

impl Bed {
    fn unpack(&self, tar: &[u8]) -> Result<UnpackStats, ImageError> {
        self.unpack_with(tar, &Limits::default())
    }
    fn unpack_with(&self, tar: &[u8], limits: &Limits) -> Result<UnpackStats, ImageError> {
        let r = RootDir::open(&self.root).expect("open root");
        unpack_layer(tar, &r, limits)
    }
    /// The host side is untouched: only `root` and `outside/secret` exist next to the root.
    fn assert_host_intact(&self) {
        let l = listing(&self.base);
        let outside: Vec<_> = l
            .iter()
            .filter(|(p, _)| !p.starts_with("root"))
            .cloned()
            .collect();
        assert_eq!(
            outside,
            vec![
                (PathBuf::from("outside"), 0),
                (PathBuf::from("outside/secret"), 6)
            ],
        );
        assert_eq!(
            std::fs::read(self.outside.join("secret")).expect("read"),
            b"secret"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(self.outside.join("secret"))
                .expect("meta")
                .nlink(),
            1
        );
    }
    fn abs_outside(&self) -> String {
        self.outside.display().to_string()
    }
}

fn hostile(r: Result<UnpackStats, ImageError>) -> String {
    match r {
        Err(e @ ImageError::Hostile { .. }) => e.to_string(),
        other => panic!("expected a hostile-entry error, got {other:?}"),
    }
}

#[test]
fn dotdot_paths_are_refused() {
    for name in [
        "../evil",
        "a/../../evil",
        "./../outside/secret",
        "../outside/x",
    ] {
        let b = bed();
        let msg = hostile(b.unpack(&tar_of(&[file(name, b"x")])));
        assert!(msg.contains("climbs above"), "{msg}");
        b.assert_host_intact();
    }
}

#[test]
fn absolute_paths_land_inside() {
    let b = bed();
    b.unpack(&tar_of(&[file("/etc/passwd", b"root:x:0:0")]))
        .expect("unpack");
    assert_eq!(
        std::fs::read(b.root.join("etc/passwd")).expect("read"),
        b"root:x:0:0"
    );
    b.assert_host_intact();
}

#[test]
fn symlink_then_file_through_it_stays_inside() {
    let b = bed();
    let out = b.abs_outside();
    // Absolute symlink to the host dir, relative one climbing out, then files through them.
    let tar = tar_of(&[
        symlink("a", &out),
        symlink("b", "../../../../.."),
        file("a/secret", b"pwned"),
    ]);
    let r = b.unpack(&tar);
    assert!(r.is_err(), "the in-root target does not exist: {r:?}");
    b.assert_host_intact();
    let b = bed();
    let in_root = out.trim_start_matches('/').to_string();
    let tar = tar_of(&[
        symlink("a", &out),
        dir(&in_root),
        file("a/new", b"x"),
        file("b/tmp/y", b"y"),
    ]);
    let tar2 = tar_of(&[
        symlink("b", "../../../../.."),
        dir("tmp"),
        file("b/tmp/y", b"y"),
    ]);
    b.unpack(&tar).expect("in-root target exists now");
    assert!(b.root.join(&in_root).join("new").exists());
    let b2 = bed();
    b2.unpack(&tar2).expect("relative escape clamps at root");
    assert!(b2.root.join("tmp/y").exists());
    b.assert_host_intact();
    b2.assert_host_intact();
}

#[test]
fn final_symlink_is_replaced_not_followed() {
    let b = bed();
    let target = format!("{}/secret", b.abs_outside());
    b.unpack(&tar_of(&[symlink("f", &target), file("f", b"overwrite")]))
        .expect("unpack");
    assert_eq!(std::fs::read(b.root.join("f")).expect("read"), b"overwrite");
    b.assert_host_intact();
}

#[test]
fn hardlinks_to_outside_fail() {
    let out = format!("{}/secret", bed().abs_outside());
    let cases: Vec<Vec<u8>> = vec![
        tar_of(&[hardlink("h", "/etc/shadow")]),
        tar_of(&[hardlink("h", "../outside/secret")]),
        tar_of(&[hardlink("h", "a/../../outside/secret")]),
        tar_of(&[hardlink("h", &out)]),
    ];
    for tar in cases {
        let b = bed();
        let e = b.unpack(&tar).expect_err("must fail");
        assert!(
            matches!(e, ImageError::Hostile { .. } | ImageError::Fs(_)),
            "{e}"
        );
        b.assert_host_intact();
    }
    // Through a symlink to the host dir: resolved in root, so the target is missing.
    let b = bed();
    let o = b.abs_outside();
    let e = b
        .unpack(&tar_of(&[symlink("s", &o), hardlink("h", "s/secret")]))
        .expect_err("fail");
    assert!(e.to_string().contains("not in this layer"), "{e}");
    b.assert_host_intact();
}

#[test]
fn hardlink_inside_works_and_overwrite_does_not_write_through() {
    let b = bed();
    let tar = tar_of(&[file("f", b"one"), hardlink("h", "./f"), file("h", b"two")]);
    b.unpack(&tar).expect("unpack");
    assert_eq!(std::fs::read(b.root.join("f")).expect("read"), b"one");
    assert_eq!(std::fs::read(b.root.join("h")).expect("read"), b"two");
    let b = bed();
    b.unpack(&tar_of(&[dir("d"), hardlink("h", "d")]))
        .expect_err("link to dir");
}

#[test]
fn duplicates_last_wins() {
    let b = bed();
    let tar = tar_of(&[
        file("x", b"file"),
        dir("x"),
        file("x/inner", b"in"),
        file("x", b"again"),
        dir("d"),
        file("d/keep", b"k"),
        dir("d"),
        symlink("l", "x"),
        file("l", b"plain"),
    ]);
    b.unpack(&tar).expect("unpack");
    assert_eq!(std::fs::read(b.root.join("x")).expect("read"), b"again");
    assert!(b.root.join("d/keep").exists(), "dir over dir keeps content");
    assert!(std::fs::symlink_metadata(b.root.join("l"))
        .expect("meta")
        .is_file());
    b.assert_host_intact();
}

#[test]
fn devices_skipped_fifos_kept_modes_applied() {
    let b = bed();
    let mut dev = dir("dev/sda");
    dev.kind = tar::EntryType::Block;
    let mut chr = dir("dev/mem");
    chr.kind = tar::EntryType::Char;
    let mut fifo = dir("run/fifo");
    fifo.kind = tar::EntryType::Fifo;
    let mut suid = file("bin/su", b"#!");
    suid.mode = 0o4755;
    let mut ro = dir("ro");
    ro.mode = 0o555;
    let tar = tar_of(&[dev, chr, fifo, suid, ro, file("ro/f", b"x")]);
    let st = b.unpack(&tar).expect("unpack");
    assert_eq!(st.skipped_devices, 2);
    assert!(!b.root.join("dev/sda").exists() && !b.root.join("dev/mem").exists());
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let ft = std::fs::symlink_metadata(b.root.join("run/fifo"))
        .expect("fifo")
        .file_type();
    assert!(ft.is_fifo());
    let mode = std::fs::metadata(b.root.join("bin/su"))
        .expect("su")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, if is_root() { 0o4755 } else { 0o755 });
    let ro = std::fs::metadata(b.root.join("ro"))
        .expect("ro")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(ro, 0o555, "dir modes applied after their children");
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let b = bed();
    let out = b.abs_outside();
    let tar = tar_of(&[
        dir("etc"),
        file("etc/.wh.passwd", b""),
        file("etc/keep", b"k"),
        file("etc/.wh.keep", b""),
        dir("opq"),
        file("opq/.wh..wh..opq", b""),
    ]);
    b.unpack(&tar).expect("unpack");
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::symlink_metadata(b.root.join("etc/passwd")).expect("whiteout");
    assert!(m.file_type().is_char_device() && m.rdev() == 0);
    assert_eq!(
        std::fs::read(b.root.join("etc/keep")).expect("kept"),
        b"k",
        "same-layer entry not hidden"
    );
    let r = RootDir::open(&b.root).expect("root");
    assert_eq!(
        r.get_xattr(Path::new("opq"), "trusted.overlay.opaque")
            .expect("x"),
        Some(b"y".to_vec())
    );
    // Absolute symlink followed by a whiteout through it: never deletes the host's file.
    let b = bed();
    let tar = tar_of(&[symlink("a", &out), file("a/.wh.secret", b"")]);
    let _ = b.unpack(&tar);
    b.assert_host_intact();
    let b = bed();
    hostile(b.unpack(&tar_of(&[file("../.wh.secret", b"")])));
    b.assert_host_intact();
}

#[test]
fn gzip_bomb_stops_at_the_limit() {
    let b = bed();
    let big = vec![0u8; 16 << 20];
    let tar = tar_of(&[file("bomb", &big)]);
    let gz = gzip(&tar);
    assert!(gz.len() < 100_000, "a real bomb: {} bytes", gz.len());
    let limits = Limits {
        max_layer_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = b.unpack_with(&gz, &limits).expect_err("limit");
    assert!(matches!(e, ImageError::Limit { .. }), "{e}");
    assert!(e.to_string().contains("limit of 1048576 bytes"), "{e}");
    let written = std::fs::metadata(b.root.join("bomb"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(written <= 1 << 20, "stopped early: {written}");
    b.assert_host_intact();
}

#[test]
fn entry_and_path_limits() {
    let b = bed();
    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let tar = tar_of(&[
        file("a", b""),
        file("b", b""),
        file("c", b""),
        file("d", b""),
    ]);
    assert!(matches!(
        b.unpack_with(&tar, &limits),
        Err(ImageError::Limit { .. })
    ));
    let limits = Limits {
        max_path_len: 10,
        ..Limits::default()
    };
    let tar = tar_of(&[file("aaaaaaaaaaaaaaaaaaaa", b"")]);
    assert!(matches!(
        b.unpack_with(&tar, &limits),
        Err(ImageError::Limit { .. })
    ));
}

#[test]
fn diff_id_covers_the_whole_stream_and_zstd_or_gzip_agree() {
    let tar = tar_of(&[dir("d"), file("d/f", b"hello")]);
    let plain = bed().unpack(&tar).expect("plain");
    let gz = bed().unpack(&gzip(&tar)).expect("gzip");
    assert_eq!(plain.diff_id.hex(), sha(&tar));
    assert_eq!(gz.diff_id, plain.diff_id);
    assert_eq!(plain.tar_bytes, tar.len() as u64);
    let b = bed();
    let e = b.unpack(&tar[..700]).expect_err("truncated");
    assert!(matches!(e, ImageError::Invalid { .. }), "{e}");
}
