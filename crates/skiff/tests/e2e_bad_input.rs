//! End-to-end: bad input gets a clear error and changes nothing.

mod common;
use common::{need_root, rootfs, Daemon};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_input_is_refused_cleanly() {
    if !need_root("bad_input_is_refused_cleanly") {
        return;
    }
    let d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    let count = || d.ok(&["ps", "-aq"]).lines().count();

    let o = d.skiff(&["run", "--rm", "--rootfs", "/nonexistent/rootfs", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("/nonexistent/rootfs"), "{}", stderr(&o));

    let o = d.skiff(&["run", "--rm", "-m", "lots", "--rootfs", r, "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("lots"), "{}", stderr(&o));

    let o = d.skiff(&["run", "--no-such-flag", "--rootfs", r, "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));

    let o = d.skiff(&[
        "run",
        "--rm",
        "--cap-add",
        "NOT_A_CAP",
        "--rootfs",
        r,
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert_eq!(count(), 0, "nothing created by refused runs");

    d.ok(&["run", "-d", "--name", "taken", "--rootfs", r, "sleep", "30"]);
    let o = d.skiff(&["run", "-d", "--name", "taken", "--rootfs", r, "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));
    let o = d.skiff(&["rm", "taken"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("force"), "{}", stderr(&o));
    assert_eq!(count(), 1);
    d.ok(&["rm", "-f", "taken"]);

    let o = d.skiff(&["inspect", "no-such-container"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-such-container"));

    let o = std::process::Command::new(common::skiff_bin())
        .args(["--host", "unix:///nonexistent/skiff.sock", "ps"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/skiff.sock"),
        "{}",
        stderr(&o)
    );

    // A command that is not there: 127, and the container is not left running.
    let o = d.skiff(&["run", "--name", "ghost", "--rootfs", r, "no-such-binary"]);
    assert_eq!(o.status.code(), Some(127));
    let ghost = d.inspect("ghost");
    let id = ghost["id"].as_str().unwrap().to_string();
    assert!(
        d.cgroup_dirs(&id).is_empty(),
        "a failed start leaves no cgroup"
    );
    assert_eq!(
        common::mounts_mentioning(&id),
        0,
        "a failed start leaves no mount"
    );
    d.ok(&["rm", "-f", "ghost"]);
    assert_eq!(count(), 0);
}
