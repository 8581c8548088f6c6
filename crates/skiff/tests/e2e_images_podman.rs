//! Round trips with podman (as root): `podman save -> skiff load -> skiff run` and
//! `skiff build/save -> podman load -> podman run`. Podman runs with its own root (vfs) and
//! the containers.conf these hosts need (shared/PEERS.md), with runc: crun refuses the
//! v1-hybrid cgroup layout. Skipped with a message when podman is not installed.

mod common;
use common::{need_root, Daemon};
use std::process::Command;

struct Podman(tempfile::TempDir);

impl Podman {
    fn new() -> Option<Podman> {
        let dir = tempfile::tempdir().ok()?;
        let conf = "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                    log_driver = \"k8s-file\"\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n";
        std::fs::write(dir.path().join("containers.conf"), conf).ok()?;
        let p = Podman(dir);
        p.cmd(&["version"])
            .output()
            .ok()?
            .status
            .success()
            .then_some(p)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let d = self.0.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("storage"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args(["--storage-driver", "vfs", "--runtime", "runc"])
            .args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("spawn podman");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn podman_round_trips() {
    if !need_root("podman_round_trips") {
        return;
    }
    let Some(p) = Podman::new() else {
        eprintln!("skipped: podman_round_trips needs podman (scripts/deps.sh installs it)");
        return;
    };
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    // podman -> skiff: import a busybox rootfs with a config, save, load into skiff, run.
    let rootfs_tar = path("rootfs.tar");
    let st = Command::new("tar")
        .args([
            "-C",
            common::rootfs().to_str().unwrap(),
            "-cf",
            &rootfs_tar,
            ".",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    p.ok(&[
        "import",
        "--change",
        "ENV WHO=podman",
        "--change",
        r#"CMD ["/bin/sh", "-c", "echo made by $WHO"]"#,
        &rootfs_tar,
        "pm/img:1",
    ]);
    p.ok(&["save", "-o", &path("pm.tar"), "localhost/pm/img:1"]);
    assert!(d.ok(&["load", "-i", &path("pm.tar")]).contains("pm/img:1"));
    assert_eq!(d.ok(&["run", "--rm", "pm/img:1"]).trim(), "made by podman");
    // skiff -> podman: build FROM scratch, save in both formats, load and run in podman.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).unwrap();
    std::fs::write(
        ctx.path().join("Containerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN echo built by skiff > /msg\nENV PATH=/bin\nCMD [\"cat\", \"/msg\"]\n",
    )
    .unwrap();
    d.ok(&["build", "-t", "sk/img:1", ctx.path().to_str().unwrap()]);
    for (format, file) in [("docker-archive", "sk.tar"), ("oci-archive", "sk-oci.tar")] {
        d.ok(&["save", "--format", format, "-o", &path(file), "sk/img:1"]);
        let loaded = p.ok(&["load", "-i", &path(file)]);
        assert!(loaded.contains("Loaded image"), "{loaded}");
    }
    let images = p.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let name = images
        .lines()
        .find(|l| l.contains("sk/img"))
        .unwrap_or_else(|| panic!("podman images: {images}"))
        .to_string();
    assert_eq!(
        p.ok(&["run", "--rm", "--network", "none", &name]).trim(),
        "built by skiff"
    );
}
