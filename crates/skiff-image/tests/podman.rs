//! Interop with podman (Debian's 4.3): `podman import` a busybox rootfs, `podman save` it in
//! both formats, `load` into skiff; `save` from skiff, `podman load`, `podman images`.
//! Podman runs with its own --root/--runroot (vfs) under a temp dir and the containers.conf
//! these hosts need (see shared/PEERS.md). Skipped with a message when podman cannot run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use skiff_image::{ArchiveFormat, ImageStore};

struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Option<Podman> {
        let dir = tempfile::tempdir().ok()?;
        let conf = "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                    log_driver = \"k8s-file\"\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n";
        std::fs::write(dir.path().join("containers.conf"), conf).ok()?;
        let p = Podman { dir };
        let ok = p.cmd(&["version"]).output().ok()?.status.success();
        ok.then_some(p)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("storage"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("spawn podman");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A busybox rootfs tar (bin/busybox + bin/sh symlink), imported as `localhost/bbtest:latest`.
fn import(p: &Podman) -> Option<()> {
    let rootfs = p.path("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).ok()?;
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).ok()?;
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).ok()?;
    let tar = p.path("rootfs.tar");
    let ok = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let tar = tar.display().to_string();
    let out = p
        .cmd(&[
            "import",
            "--change",
            r#"CMD ["/bin/sh"]"#,
            &tar,
            "localhost/bbtest:latest",
        ])
        .output()
        .ok()?;
    out.status.success().then_some(())
}

fn check_loaded(s: &ImageStore) {
    let info = s.inspect("bbtest").expect("inspect bbtest");
    assert_eq!(info.config.cmd, Some(vec!["/bin/sh".to_string()]));
    let dirs = s.rootfs_layers("bbtest:latest").expect("layers");
    let bb = dirs[0].join("bin/busybox");
    assert_eq!(
        std::fs::read(&bb).expect("busybox"),
        std::fs::read("/bin/busybox").expect("host busybox")
    );
    assert_eq!(
        std::fs::read_link(dirs[0].join("bin/sh")).expect("sh"),
        Path::new("busybox")
    );
}

#[test]
fn podman_save_to_skiff_and_back() {
    let Some(p) = Podman::new() else {
        eprintln!("skipped: podman cannot run here");
        return;
    };
    if import(&p).is_none() {
        eprintln!("skipped: podman import failed (no busybox or tar?)");
        return;
    }
    let docker = p.path("docker.tar").display().to_string();
    let oci = p.path("oci.tar").display().to_string();
    p.run(&["save", "-o", &docker, "localhost/bbtest:latest"]);
    p.run(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        &oci,
        "localhost/bbtest:latest",
    ]);

    let t = tempfile::tempdir().expect("tempdir");
    let s = ImageStore::open(t.path()).expect("open");
    let a = s
        .load(Path::new(&docker))
        .expect("load podman docker-archive");
    assert_eq!(a[0].tags, vec!["bbtest:latest".to_string()]);
    check_loaded(&s);
    let b = s.load(Path::new(&oci)).expect("load podman oci-archive");
    assert_eq!(a[0].id, b[0].id, "same config, same id");

    // skiff save -> podman load, in both formats.
    for (format, name) in [
        (ArchiveFormat::DockerArchive, "skiff-docker.tar"),
        (ArchiveFormat::OciArchive, "skiff-oci.tar"),
    ] {
        p.run(&["rmi", "-a", "-f"]);
        let out = p.path(name);
        let f = std::fs::File::create(&out).expect("create");
        s.save(&["bbtest"], format, f).expect("save");
        let loaded = p.run(&["load", "-i", &out.display().to_string()]);
        let images = p.run(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
        assert!(
            images.contains("bbtest:latest"),
            "{format:?}: {loaded} / {images}"
        );
        assert!(
            images.contains(a[0].id.short()),
            "{format:?}: id kept: {images}"
        );
    }
}
