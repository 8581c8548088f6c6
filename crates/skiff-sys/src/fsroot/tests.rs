//! fsroot unit tests on temp dirs: every escape shape stays inside the root or fails.

use super::*;
use std::io::Write;

fn setup() -> (tempfile::TempDir, PathBuf, RootDir) {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    std::fs::create_dir(&root).expect("mkdir root");
    let r = RootDir::open(&root).expect("open root");
    (t, root, r)
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

#[test]
fn creates_files_dirs_and_links_inside() {
    let (_t, root, r) = setup();
    r.create_dir_all(p("a/b/c"), 0o755).expect("mkdir -p");
    let mut f = r.create_file(p("a/b/c/f"), 0o644).expect("create");
    f.write_all(b"hi").expect("write");
    r.symlink(p("/etc/passwd"), p("a/link")).expect("symlink");
    r.hardlink(p("a/b/c/f"), p("a/hard")).expect("hardlink");
    assert_eq!(std::fs::read(root.join("a/hard")).expect("read"), b"hi");
    assert_eq!(
        std::fs::read_link(root.join("a/link")).expect("readlink"),
        PathBuf::from("/etc/passwd")
    );
    let st = r.stat(p("a/b/c/f")).expect("stat").expect("exists");
    assert_eq!(st.kind, EntryKind::File);
    assert_eq!(st.nlink, 2);
    r.set_mode(p("a/b/c/f"), 0o600).expect("chmod");
    r.set_mtime(p("a/b/c/f"), 1_000_000, 5).expect("utimes");
    let st = r.stat(p("a/b/c/f")).expect("stat").expect("exists");
    assert_eq!((st.mode, st.mtime), (0o600, 1_000_000));
    // A symlink's mode is a no-op, its mtime is its own.
    r.set_mode(p("a/link"), 0o600).expect("chmod symlink");
    r.set_mtime(p("a/link"), 7, 0).expect("utimes symlink");
    assert_eq!(r.stat(p("a/link")).expect("stat").map(|s| s.mtime), Some(7));
    assert!(r.remove_all(p("a")).expect("rm -r"));
    assert!(r.stat(p("a")).expect("stat").is_none());
    assert!(!r.remove(p("a")).expect("rm missing"));
}

#[test]
fn dotdot_is_refused_and_absolute_is_root_relative() {
    let (t, root, r) = setup();
    for bad in ["../x", "a/../../x", "/../x", ".."] {
        let e = r.create_dir_all(p(bad), 0o755).expect_err(bad);
        assert!(matches!(e, FsRootError::InvalidPath { .. }), "{bad}: {e}");
        assert!(r.create_file(p(bad), 0o644).is_err());
    }
    r.create_dir_all(p("/abs/dir"), 0o755)
        .expect("absolute is inside");
    assert!(root.join("abs/dir").is_dir());
    assert!(!t.path().join("x").exists());
    assert!(
        r.create_file(p("/"), 0o644).is_err(),
        "root itself is no file"
    );
}

#[test]
fn symlink_parents_resolve_inside_the_root() {
    let (t, root, r) = setup();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir outside");
    // Absolute and relative escapes through a parent symlink.
    r.symlink(&outside, p("abs")).expect("symlink abs");
    r.symlink(p("../../../../outside"), p("rel"))
        .expect("symlink rel");
    r.symlink(p("/etc"), p("etc_link")).expect("symlink etc");
    for path in ["abs/passwd", "rel/passwd"] {
        // The targets do not exist inside the root: ENOENT, nothing created outside.
        assert!(r.create_file(p(path), 0o644).is_err(), "{path}");
    }
    // Once the in-root target exists, writes land there, never at the host's.
    r.create_dir_all(
        &outside.strip_prefix("/").map(PathBuf::from).expect("rel"),
        0o755,
    )
    .expect("mkdir in-root copy");
    r.create_file(p("abs/passwd"), 0o644)
        .expect("create via in-root symlink");
    assert!(root
        .join(outside.strip_prefix("/").expect("rel"))
        .join("passwd")
        .exists());
    r.create_dir(p("etc"), 0o755).expect("mkdir etc");
    r.create_file(p("etc_link/passwd"), 0o644)
        .expect("in-root etc");
    assert!(root.join("etc/passwd").exists());
    assert!(
        std::fs::read_dir(&outside).expect("ls").next().is_none(),
        "outside untouched"
    );
}

#[test]
fn final_symlink_is_never_written_through() {
    let (t, _root, r) = setup();
    let victim = t.path().join("victim");
    std::fs::write(&victim, b"keep").expect("victim");
    r.symlink(&victim, p("f")).expect("symlink");
    let e = r
        .create_file(p("f"), 0o644)
        .expect_err("O_EXCL refuses existing symlink");
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    assert!(
        r.open_file(p("f")).is_err(),
        "O_NOFOLLOW refuses a final symlink"
    );
    r.set_mode(p("f"), 0o777).expect("no-op on symlink");
    assert!(matches!(
        r.set_xattr(p("f"), "user.x", b"1"),
        Err(FsRootError::Refused { .. })
    ));
    assert!(r.remove_all(p("f")).expect("remove link"));
    assert_eq!(std::fs::read(&victim).expect("read"), b"keep");
    let meta = std::fs::metadata(&victim).expect("meta");
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(meta.permissions().mode() & 0o777, 0o777);
}

#[test]
fn hardlinks_cannot_reach_outside() {
    let (t, root, r) = setup();
    let secret = t.path().join("shadow");
    std::fs::write(&secret, b"secret").expect("secret");
    // `..` refused; absolute resolves in root (missing there); via symlink also in root.
    assert!(r.hardlink(p("../shadow"), p("h1")).is_err());
    assert!(r.hardlink(&secret, p("h2")).is_err());
    r.symlink(t.path(), p("up")).expect("symlink");
    assert!(r.hardlink(p("up/shadow"), p("h3")).is_err());
    // Linking a symlink links the symlink itself, not what it names.
    r.symlink(&secret, p("s")).expect("symlink");
    r.hardlink(p("s"), p("h4")).expect("link the symlink");
    assert_eq!(
        r.stat(p("h4")).expect("stat").map(|s| s.kind),
        Some(EntryKind::Symlink)
    );
    let meta = std::fs::metadata(&secret).expect("meta");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.nlink(), 1, "secret never linked");
    assert!(!root.join("h1").exists() && !root.join("h3").exists());
}

#[test]
fn remove_all_does_not_follow_symlinked_dirs() {
    let (t, root, r) = setup();
    let outside = t.path().join("keep");
    std::fs::create_dir(&outside).expect("mkdir");
    std::fs::write(outside.join("x"), b"x").expect("write");
    r.create_dir_all(p("d/e"), 0o755).expect("mkdir");
    r.symlink(&outside, p("d/e/out")).expect("symlink");
    r.create_file(p("d/e/f"), 0o644).expect("file");
    assert!(r.remove_all(p("d")).expect("rm -r"));
    assert!(!root.join("d").exists());
    assert!(outside.join("x").exists());
}

#[test]
fn devices_are_refused_fifos_allowed() {
    let (_t, _root, r) = setup();
    let e = r
        .mknod(p("sda"), NodeKind::Block { major: 8, minor: 0 }, 0o600)
        .expect_err("block");
    assert!(matches!(e, FsRootError::Refused { .. }));
    assert!(r
        .mknod(p("mem"), NodeKind::Char { major: 1, minor: 1 }, 0o600)
        .is_err());
    r.mknod(p("fifo"), NodeKind::Fifo, 0o600).expect("fifo");
    assert_eq!(
        r.stat(p("fifo")).expect("stat").map(|s| s.kind),
        Some(EntryKind::Fifo)
    );
}

#[test]
fn whiteout_and_opaque_need_root() {
    if effective_uid() != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let (_t, _root, r) = setup();
    r.create_dir(p("d"), 0o755).expect("mkdir");
    r.whiteout(p("d/gone")).expect("whiteout");
    assert_eq!(
        r.stat(p("d/gone")).expect("stat").map(|s| s.kind),
        Some(EntryKind::CharDevice(0))
    );
    r.set_xattr(p("d"), "trusted.overlay.opaque", b"y")
        .expect("opaque");
    assert_eq!(
        r.get_xattr(p("d"), "trusted.overlay.opaque").expect("get"),
        Some(b"y".to_vec())
    );
    assert_eq!(
        r.get_xattr(p("d"), "trusted.overlay.nope").expect("get"),
        None
    );
    r.set_owner(p("d"), 1234, 5678).expect("chown");
    let st = r.stat(p("d")).expect("stat").expect("exists");
    assert_eq!((st.uid, st.gid), (1234, 5678));
}

#[test]
fn locks_exclude_each_other() {
    let (_t, _root, r) = setup();
    let held = r.lock().expect("lock");
    assert!(r.try_lock().expect("try").is_none());
    drop(held);
    assert!(r.try_lock().expect("try").is_some());
}
