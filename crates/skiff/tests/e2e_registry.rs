//! End-to-end: `skiff pull` and `skiff push` through a real daemon and a real
//! `docker-registry` on 127.0.0.1 (progress lines, by tag and by digest, mount on push,
//! a daemon-side error as Docker words it).

mod common;
#[path = "../../skiff-image/tests/common/mod.rs"]
mod image_common;
#[path = "../../skiff-image/tests/registry/server.rs"]
mod server;

use common::{need_root, Daemon};
use image_common::{dir, file, oci_archive, oci_image, tar_of};
use server::{Registry, ServerOpts};
use skiff_image::registry::RegistryOptions;
use skiff_image::ImageStore;

#[test]
fn pull_and_push_through_the_daemon() {
    if !need_root("pull_and_push_through_the_daemon") {
        return;
    }
    let reg = Registry::start(ServerOpts::default());
    // An image pushed into the registry from a store of its own.
    let src_dir = tempfile::tempdir().expect("tmp");
    let src = ImageStore::open(src_dir.path()).expect("open");
    let layers = vec![
        tar_of(&[dir("etc"), file("etc/os", b"skiff")]),
        tar_of(&[file("hello", b"hi")]),
    ];
    let id = src
        .load_reader(&oci_archive(&oci_image("src:1", &layers))[..])
        .expect("load")[0]
        .id
        .clone();
    let a = format!("{}/e2e/a:1", reg.addr());
    let pushed = src
        .push("src:1", Some(&a), &RegistryOptions::default(), &mut |_| {})
        .expect("push");

    let d = Daemon::start();
    let out = d.ok(&["pull", &a]);
    assert!(
        out.contains(&format!("Digest: {}", pushed.manifest)),
        "{out}"
    );
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert!(out.lines().any(|l| l.contains("transferring")), "{out}");
    assert_eq!(out.lines().last(), Some(a.as_str()));
    let store = ImageStore::open(d.root.path()).expect("daemon store");
    assert_eq!(store.inspect(&a).expect("pulled").id, id);
    let again = d.ok(&["pull", "-q", &a]);
    assert_eq!(again.trim(), a, "quiet prints only the reference");

    let by_digest = format!("{}/e2e/a@{}", reg.addr(), pushed.manifest);
    d.ok(&["pull", "--quiet", &by_digest]);

    // Push what the daemon has to another repository: its layers are mounted.
    let b = format!("{}/e2e/b:2", reg.addr());
    let out = d.ok(&["push", &a, &b]);
    assert_eq!(out.matches("mounted from e2e/a").count(), 2, "{out}");
    assert!(
        out.contains(&format!("{b}: digest: {}", pushed.manifest)),
        "{out}"
    );

    // Errors come back as the daemon's, with Docker's wording and exit code 1.
    let bad = d.skiff(&["pull", "busybox"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("Error response from daemon") && err.contains("no registry host"),
        "{err}"
    );
    let missing = d.skiff(&["pull", &format!("{}/e2e/none:1", reg.addr())]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("MANIFEST_UNKNOWN"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn login_then_pull_with_the_stored_credentials() {
    if !need_root("login_then_pull_with_the_stored_credentials") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let htpasswd = tmp.path().join("htpasswd");
    let line = server::run(std::process::Command::new("htpasswd").args(["-Bbn", "ci", "pw1"]));
    std::fs::write(&htpasswd, line).expect("htpasswd");
    let reg = Registry::start(ServerOpts {
        htpasswd: Some(htpasswd),
        ..Default::default()
    });
    let src_dir = tempfile::tempdir().expect("tmp");
    let src = ImageStore::open(src_dir.path()).expect("open");
    let layers = vec![tar_of(&[file("f", b"x")])];
    let id = src
        .load_reader(&oci_archive(&oci_image("src:1", &layers))[..])
        .expect("load")[0]
        .id
        .clone();
    let a = format!("{}/private/a:1", reg.addr());
    let creds = RegistryOptions {
        creds: Some(skiff_image::registry::Credentials::parse("ci:pw1").expect("creds")),
        ..RegistryOptions::default()
    };
    src.push("src:1", Some(&a), &creds, &mut |_| {})
        .expect("push");

    let d = Daemon::start();
    let denied = d.skiff(&["pull", &a]);
    assert_eq!(denied.status.code(), Some(1), "no credentials yet");
    let login = |pw: &str| {
        use std::io::Write;
        let mut c = std::process::Command::new(common::skiff_bin())
            .args([
                "--root",
                d.root_str(),
                "login",
                "-u",
                "ci",
                "--password-stdin",
            ])
            .arg(reg.addr())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn login");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(format!("{pw}\n").as_bytes())
            .expect("write");
        c.wait_with_output().expect("login")
    };
    let bad = login("wrong");
    assert_eq!(bad.status.code(), Some(1));
    assert!(!d.root.path().join("auth.json").exists(), "nothing stored");
    let good = login("pw1");
    assert!(
        String::from_utf8_lossy(&good.stdout).contains("Login Succeeded"),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    d.ok(&["pull", "-q", &a]);
    let store = ImageStore::open(d.root.path()).expect("daemon store");
    assert_eq!(store.inspect(&a).expect("pulled").id, id);
}
