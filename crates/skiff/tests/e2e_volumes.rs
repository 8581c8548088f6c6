//! End-to-end (root, real namespaces): named and anonymous volumes shared between containers,
//! surviving them, read-only mounts, tmpfs, what `--rm` and `rm -v` take along, and `volume rm`
//! refusing a volume in use. Every test ends by checking that no mount of the daemon's volumes
//! or containers is left in the host's mount table.

mod common;
use common::{mounts_mentioning, need_root, rootfs, Daemon};

fn no_mounts_left(d: &Daemon) {
    for sub in ["volumes", "containers"] {
        let p = format!("{}/{sub}", d.root_str());
        assert_eq!(mounts_mentioning(&p), 0, "host mount table mentions {p}");
    }
}

fn volumes(d: &Daemon) -> Vec<String> {
    d.ok(&["volume", "ls", "-q"])
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn a_volume_is_shared_and_outlives_its_containers() {
    if !need_root("a_volume_is_shared_and_outlives_its_containers") {
        return;
    }
    let d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    // `-v NAME:` creates the volume on first use.
    d.ok(&[
        "run",
        "--name",
        "writer",
        "--rootfs",
        r,
        "-v",
        "shared1:/data",
        "sh",
        "-c",
        "echo from-writer > /data/msg",
    ]);
    let v = d.ok(&["volume", "inspect", "shared1"]);
    let info: serde_json::Value = serde_json::from_str(&v).unwrap();
    let mountpoint = info[0]["mountpoint"].as_str().unwrap().to_string();
    assert!(
        mountpoint.ends_with("/volumes/shared1/_data"),
        "{mountpoint}"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/msg")).unwrap(),
        "from-writer\n"
    );
    // A second container, mounting it elsewhere, reads it and appends.
    let out = d.ok(&[
        "run",
        "--name",
        "reader",
        "--rootfs",
        r,
        "--mount",
        "source=shared1,target=/other",
        "sh",
        "-c",
        "cat /other/msg; echo from-reader >> /other/msg",
    ]);
    assert_eq!(out, "from-writer\n");
    d.ok(&["rm", "-v", "writer", "reader"]);
    // Named volumes survive `rm -v`; a third container sees both lines.
    assert_eq!(volumes(&d), ["shared1"]);
    let (code, out, err) = d.run(&["-v", "shared1:/d:ro"], &["cat", "/d/msg"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "from-writer\nfrom-reader\n"),
        "{err}"
    );
    assert_eq!(volumes(&d), ["shared1"]);
    no_mounts_left(&d);
}

#[test]
fn read_only_mounts_refuse_writes() {
    if !need_root("read_only_mounts_refuse_writes") {
        return;
    }
    let d = Daemon::start();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("keep"), "host data").unwrap();
    let src = host.path().to_str().unwrap();
    let bind = format!("type=bind,source={src},target=/b,readonly");
    let (code, out, err) = d.run(
        &["-v", "ro1:/v:ro", "--mount", &bind],
        &["sh", "-c", "cat /b/keep; echo x > /v/f && echo wrote-v; echo x > /b/keep && echo wrote-b; mkdir /b/d && echo made-dir; true"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "host data", "no write may succeed: {out} / {err}");
    assert_eq!(err.matches("Read-only file system").count(), 3, "{err}");
    assert_eq!(
        std::fs::read_to_string(host.path().join("keep")).unwrap(),
        "host data"
    );
    // The same bind read-write does write through to the host.
    let (code, _, err) = d.run(
        &["-v", &format!("{src}:/b")],
        &["sh", "-c", "echo new > /b/keep"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(host.path().join("keep")).unwrap(),
        "new\n"
    );
    no_mounts_left(&d);
    assert_eq!(mounts_mentioning(src), 0);
}

#[test]
fn tmpfs_mounts_with_docker_defaults_and_options() {
    if !need_root("tmpfs_mounts_with_docker_defaults_and_options") {
        return;
    }
    let d = Daemon::start();
    let (code, out, err) = d.run(
        &[
            "--tmpfs",
            "/t1:size=1m,mode=1770",
            "--mount",
            "type=tmpfs,target=/t2,tmpfs-size=2m",
        ],
        &[
            "sh",
            "-c",
            "grep -E ' /t[12] ' /proc/mounts; stat -c %a /t1; echo hi > /t1/f && cat /t1/f",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let t1 = lines
        .iter()
        .find(|l| l.starts_with("tmpfs /t1 "))
        .expect(&out);
    let t2 = lines
        .iter()
        .find(|l| l.starts_with("tmpfs /t2 "))
        .expect(&out);
    assert!(
        t1.starts_with("tmpfs /t1 tmpfs rw,nosuid,nodev,noexec"),
        "{out}"
    );
    assert!(
        t1.contains("size=1024k") && t1.contains("mode=1770"),
        "{out}"
    );
    assert!(t2.contains("noexec") && t2.contains("size=2048k"), "{out}");
    assert_eq!(&lines[2..], ["1770", "hi"]);
    no_mounts_left(&d);
}

#[test]
fn rm_takes_anonymous_volumes_only() {
    if !need_root("rm_takes_anonymous_volumes_only") {
        return;
    }
    let d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    // --rm: the anonymous volume goes, the named one stays.
    let (code, _, err) = d.run(
        &["-v", "keepme:/k", "-v", "/anon"],
        &["sh", "-c", "echo a > /anon/f; echo k > /k/f"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(volumes(&d), ["keepme"]);
    // Without --rm the anonymous volume stays until `rm -v`; its content was copied up from
    // the image (`/etc` has passwd).
    d.ok(&[
        "create",
        "--name",
        "c1",
        "--rootfs",
        r,
        "-v",
        "keepme:/k",
        "-v",
        "/etc",
        "true",
    ]);
    let all = volumes(&d);
    assert_eq!(all.len(), 2, "{all:?}");
    let anon = all.iter().find(|v| *v != "keepme").unwrap().clone();
    assert_eq!(anon.len(), 64);
    let mp = format!("{}/volumes/{anon}/_data", d.root_str());
    assert!(
        std::path::Path::new(&mp).join("passwd").is_file(),
        "copy-up filled {mp}"
    );
    // In use: refused, with or without -f.
    for args in [
        &["volume", "rm", "keepme"][..],
        &["volume", "rm", "-f", &anon],
    ] {
        let out = d.skiff(args);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("volume is in use"),
            "{out:?}"
        );
    }
    // Plain rm keeps the anonymous volume (Docker does too); prune then removes it.
    d.ok(&["create", "--name", "c2", "--rootfs", r, "-v", "/x", "true"]);
    d.ok(&["rm", "-v", "c1"]);
    d.ok(&["rm", "c2"]);
    assert_eq!(
        volumes(&d).len(),
        2,
        "c2's anonymous volume outlives plain rm"
    );
    let pruned = d.ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains("Deleted Volumes:"), "{pruned}");
    assert_eq!(volumes(&d), ["keepme"]);
    d.ok(&["volume", "rm", "keepme"]);
    assert!(volumes(&d).is_empty());
    // -f ignores a missing volume; without it, an error naming it.
    d.ok(&["volume", "rm", "-f", "keepme"]);
    let out = d.skiff(&["volume", "rm", "keepme"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such volume"),
        "{out:?}"
    );
    no_mounts_left(&d);
}

/// The config.json skiff writes carries the mounts so that runc runs the same container.
#[test]
fn config_json_mounts_run_under_runc() {
    if !need_root("config_json_mounts_run_under_runc") {
        return;
    }
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: config_json_mounts_run_under_runc needs runc (scripts/deps.sh)");
        return;
    }
    let d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "host\n").unwrap();
    let bind = format!("{}:/b:ro", host.path().display());
    d.ok(&[
        "run",
        "--name",
        "cfg",
        "--rootfs",
        r,
        "-v",
        "rv:/data",
        "-v",
        &bind,
        "--tmpfs",
        "/t:size=1m",
        "sh",
        "-c",
        "echo vol > /data/f",
    ]);
    let id = d.inspect("cfg")["id"].as_str().unwrap().to_string();
    let config = std::fs::read(format!("{}/containers/{id}/config.json", d.root_str())).unwrap();
    let mut c: serde_json::Value = serde_json::from_slice(&config).unwrap();
    c["process"]["args"] = serde_json::json!([
        "sh",
        "-c",
        "cat /data/f /b/f; grep -c ' /t tmpfs' /proc/mounts; echo x > /b/g || echo refused"
    ]);
    let cgroup = format!("/{}-runc", d.cgroup_parent());
    c["linux"]["cgroupsPath"] = serde_json::json!(cgroup);
    let bundle = tempfile::tempdir().unwrap();
    std::fs::write(
        bundle.path().join("config.json"),
        serde_json::to_vec(&c).unwrap(),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(state.path())
        .args(["run", "-b"])
        .arg(bundle.path())
        .arg(format!("skiff-vol-{}", std::process::id()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "runc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "vol\nhost\n1\nrefused\n");
    d.ok(&["rm", "cfg"]);
    no_mounts_left(&d);
}

/// With `--userns auto`, a volume the container creates belongs to its (mapped) root, and
/// copied-up content is shifted the same way: the container can write both.
#[test]
fn userns_containers_own_the_volumes_they_create() {
    if !need_root("userns_containers_own_the_volumes_they_create") {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let d = Daemon::start();
    // The mapped root must be able to reach its overlay dirs (a temp dir is 0700).
    std::fs::set_permissions(d.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out, err) = d.run(
        &[
            "--userns",
            "auto",
            "--network",
            "none",
            "-v",
            "uvol:/data",
            "-v",
            "/etc",
        ],
        &[
            "sh",
            "-c",
            "echo a > /data/f && echo b > /etc/new && stat -c %u /data /etc/passwd",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "0\n0\n"), "{err}");
    let data = format!("{}/volumes/uvol/_data", d.root_str());
    assert_eq!(std::fs::metadata(&data).unwrap().uid(), 100_000);
    assert_eq!(
        std::fs::metadata(format!("{data}/f")).unwrap().uid(),
        100_000
    );
    no_mounts_left(&d);
}
