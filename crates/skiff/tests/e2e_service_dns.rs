//! `NAME.skiff` in containers' DNS: a registered service resolves (A and SRV)
//! to its instance's bridge address; once the instance is stopped the name
//! has no records.

mod common;
use common::{need_root, rootfs, Daemon};
use std::time::{Duration, Instant};

/// Polls `skiff services` until `name` is listed (or not) — a wait with a far
/// deadline, not a timing assertion.
fn wait_listed(d: &Daemon, name: &str, listed: bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = d.ok(&["services"]);
        if out
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name))
            == listed
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "services never showed {name}={listed}: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn services_resolve_by_name_dot_skiff() {
    if !need_root("services_resolve_by_name_dot_skiff") {
        return;
    }
    let d = Daemon::start();
    let root = rootfs();
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "web1",
        "--service",
        "web:80",
        "--rootfs",
        root.to_str().unwrap(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let id = id.trim();
    let info = d.inspect(id);
    let ip = info["addresses"][0]
        .as_str()
        .expect("a bridge address")
        .to_string();
    wait_listed(&d, "web", true);

    let (code, out, err) = d.run(&[], &["nslookup", "web.skiff"]);
    assert_eq!(code, 0, "{err}{out}");
    assert!(out.contains(&ip), "A of web.skiff: {out}");
    let (code, out, err) = d.run(&[], &["nslookup", "-type=srv", "_80._tcp.web.skiff"]);
    assert_eq!(code, 0, "{err}{out}");
    assert!(out.contains("80"), "SRV of web: {out}");

    d.ok(&["stop", "-t", "1", id]);
    wait_listed(&d, "web", false);
    let (_, out, _) = d.run(&[], &["nslookup", "web.skiff"]);
    assert!(
        !out.contains(&ip),
        "a stopped instance still resolves: {out}"
    );
}
