//! End-to-end (root): mount targets never escape the rootfs through an image's symlinks, bad
//! mount input is refused before anything is created, and a daemon killed with -9 during a
//! start leaves no mount, volume half or container behind once it restarts.

mod common;
use common::{mounts_mentioning, need_root, rootfs, Daemon};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn no_mounts_left(d: &Daemon) {
    for sub in ["volumes", "containers"] {
        let p = format!("{}/{sub}", d.root_str());
        assert_eq!(mounts_mentioning(&p), 0, "host mount table mentions {p}");
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn mount_targets_behind_symlinks_stay_inside_the_rootfs() {
    if !need_root("mount_targets_behind_symlinks_stay_inside_the_rootfs") {
        return;
    }
    let d = Daemon::start();
    // A rootfs of our own, with symlinks that point at a host directory.
    let rfs = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rootfs.sh");
    let built = Command::new("bash")
        .arg(script)
        .arg(rfs.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr_of(&built));
    let host = tempfile::tempdir().unwrap();
    let hostdir = host.path().to_str().unwrap();
    symlink(host.path(), rfs.path().join("abs")).unwrap();
    symlink(
        "../../../../../../../..".to_string() + hostdir,
        rfs.path().join("rel"),
    )
    .unwrap();
    // Inside the rootfs the symlinks name `<rootfs><hostdir>`: make that exist there.
    let inside = rfs.path().join(hostdir.trim_start_matches('/'));
    std::fs::create_dir_all(&inside).unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), "bound").unwrap();
    let s = src.path().to_str().unwrap();
    let rootfs_arg = rfs.path().to_str().unwrap();
    let out = d.skiff(&[
        "run",
        "--rm",
        "--rootfs",
        rootfs_arg,
        "-v",
        &format!("{s}:/abs/sub"),
        "--mount",
        &format!("type=bind,src={s},dst=/rel/x/y,readonly"),
        "-v",
        "esc:/abs/vol",
        "--tmpfs",
        "/rel/t",
        "sh",
        "-c",
        &format!("cat /abs/sub/f; cat {hostdir}/x/y/f; echo v > /abs/vol/w; echo t > /rel/t/w"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stderr_of(&out),
        d.log()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, "boundbound", "{text}");
    // Inside, the symlinks resolved as if the rootfs were `/`; outside, the host directory
    // they name is untouched (and so is the image: the mount points went to the overlay).
    assert_eq!(
        std::fs::read_dir(host.path()).unwrap().count(),
        0,
        "host dir was written"
    );
    assert_eq!(
        std::fs::read_dir(&inside).unwrap().count(),
        0,
        "lower layer was written"
    );
    assert_eq!(
        std::fs::read_to_string(src.path().join("f")).unwrap(),
        "bound"
    );
    let vol = format!("{}/volumes/esc/_data/w", d.root_str());
    assert_eq!(std::fs::read_to_string(vol).unwrap(), "v\n");
    // A symlink to a directory missing inside the rootfs: a clear error, still nothing outside.
    std::fs::remove_dir_all(
        rfs.path()
            .join(hostdir.trim_start_matches('/').split('/').next().unwrap()),
    )
    .unwrap();
    let out = d.skiff(&[
        "run",
        "--rm",
        "--rootfs",
        rootfs_arg,
        "-v",
        &format!("{s}:/abs/sub"),
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("on /abs/sub"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(
        std::fs::read_dir(host.path()).unwrap().count(),
        0,
        "host dir was written"
    );
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    assert_eq!(mounts_mentioning(hostdir), 0);
    assert_eq!(mounts_mentioning(s), 0);
    no_mounts_left(&d);
}

#[test]
fn bad_mounts_are_refused_before_anything_is_created() {
    if !need_root("bad_mounts_are_refused_before_anything_is_created") {
        return;
    }
    let d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--mount", "type=bind,src=/tmp,dst=/x,bogus=1"],
            "unexpected key 'bogus' in 'bogus=1'",
        ),
        (&["--mount", "type=volume,src=v1"], "target is required"),
        (
            &["--mount", "type=bind,src=/tmp,dst=/x,volume-nocopy"],
            "cannot use volume-nocopy",
        ),
        (
            &["-v", "newvol:/a", "-v", "/nonexistent-skiff-src:/b"],
            "bind source path does not exist: /nonexistent-skiff-src",
        ),
        (
            &["-v", "bad*name:/x"],
            "invalid characters for a local volume name",
        ),
        (
            &["-v", "v2:/x", "--tmpfs", "/x"],
            "Duplicate mount point: /x",
        ),
    ];
    for (flags, want) in cases {
        for verb in ["run", "create"] {
            let mut args = vec![verb, "--rootfs", r];
            args.extend_from_slice(flags);
            args.push("true");
            let out = d.skiff(&args);
            assert_eq!(
                out.status.code(),
                Some(125),
                "{args:?}: {}",
                stderr_of(&out)
            );
            assert!(
                stderr_of(&out).contains(want),
                "{args:?}: {}",
                stderr_of(&out)
            );
        }
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "", "no container was created");
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "", "no volume was created");
    let entries: Vec<_> = std::fs::read_dir(format!("{}/volumes", d.root_str()))
        .unwrap()
        .collect();
    assert!(entries.is_empty(), "leftovers under volumes/: {entries:?}");
    no_mounts_left(&d);
}

#[test]
fn kill9_of_the_daemon_mid_start_leaves_no_mount() {
    if !need_root("kill9_of_the_daemon_mid_start_leaves_no_mount") {
        return;
    }
    let mut d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    let src = tempfile::tempdir().unwrap();
    let s = src.path().to_str().unwrap().to_string();
    // Kill at different points of create/start (not a timing assertion: any point must do).
    for (i, delay_ms) in [0u64, 5, 15, 40, 120].into_iter().enumerate() {
        let name = format!("k{i}");
        let mut cli = Command::new(common::skiff_bin())
            .args(["--root", d.root_str(), "--host", &d.host()])
            .args(["run", "-d", "--name", &name, "--rootfs", r])
            .args([
                "-v",
                &format!("kv{i}:/data"),
                "-v",
                "/etc",
                "-v",
                &format!("{s}:/b"),
            ])
            .args(["--tmpfs", "/t", "sleep", "1000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.kill9();
        let _ = cli.wait();
        d.restart();
        let ids = d.ok(&["ps", "-aq"]);
        for id in ids.split_whitespace() {
            d.ok(&["rm", "-f", "-v", id]);
        }
        d.ok(&["volume", "prune", "-a", "-f"]);
        assert_eq!(d.ok(&["volume", "ls", "-q"]), "", "round {i}");
        let left: Vec<_> = std::fs::read_dir(format!("{}/volumes", d.root_str()))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "round {i}: leftovers {left:?}");
        no_mounts_left(&d);
        assert_eq!(mounts_mentioning(&s), 0, "round {i}");
    }
}
