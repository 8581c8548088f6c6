//! End-to-end: services an image declares (LABEL skiff.service* + EXPOSE +
//! HEALTHCHECK, built by `skiff build`) are registered by a plain
//! `skiff run IMAGE`, and `--service` replaces them; a command health probe
//! that times out is killed with everything it started.

mod common;
mod services_support;

use common::{need_root, rootfs, Daemon};
use services_support::*;
use skiff_types::{Proto, ServiceUpdate};

/// A build context holding a static busybox.
fn context(containerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
    std::fs::write(dir.path().join("Containerfile"), containerfile).unwrap();
    dir
}

const IMAGE: &str = "FROM scratch\n\
    COPY busybox /bin/busybox\n\
    RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
    RUN [\"/bin/busybox\", \"mkdir\", \"-m\", \"1777\", \"/tmp\"]\n\
    LABEL skiff.service=web skiff.service.tags=v1,blue\n\
    EXPOSE 8080\n\
    HEALTHCHECK --interval=1s --timeout=5s --retries=1 CMD test -f /tmp/ok\n\
    CMD [\"sleep\", \"600\"]\n";

#[test]
fn image_labels_declare_services_and_the_command_line_overrides() {
    if !need_root("image_labels_declare_services_and_the_command_line_overrides") {
        return;
    }
    let d = Daemon::start_with(&["--node", "e2e"]);
    let ctx = context(IMAGE);
    let built = d.ok(&["build", "-t", "webimg", ctx.path().to_str().unwrap()]);
    assert!(
        built.contains("Successfully tagged webimg:latest"),
        "{built}"
    );

    let w = Watcher::start(&d, "web");
    assert!(matches!(w.next(), ServiceUpdate::Reset { instances, .. } if instances.is_empty()));
    // No --service, no --health-*: all of it comes from the image.
    let id = d
        .ok(&["run", "-d", "--name", "web1", "--network", "host", "webimg"])
        .trim()
        .to_owned();
    wait_until("the image's HEALTHCHECK ran", || {
        d.inspect("web1")["state"]["health"]["log"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    });
    assert!(!service_names(&d).contains(&"web".to_string()), "unhealthy");
    d.ok(&["exec", "web1", "touch", "/tmp/ok"]);
    let add = w.next();
    let ServiceUpdate::Add { instance, .. } = &add else {
        panic!("want an Add, got {add:?}");
    };
    assert!(instance.id.starts_with(&id), "{add:?}");
    assert_eq!(
        (instance.port, instance.proto, instance.tags.clone()),
        (8080, Proto::Tcp, vec!["v1".to_string(), "blue".to_string()]),
        "port from EXPOSE, tags from the label"
    );

    // --service on the command line replaces the image's declaration.
    let w2 = Watcher::start(&d, "other");
    assert!(matches!(w2.next(), ServiceUpdate::Reset { .. }));
    let id2 = d
        .ok(&[
            "run",
            "-d",
            "--name",
            "web2",
            "--network",
            "host",
            "--service",
            "other:9000",
            "webimg",
        ])
        .trim()
        .to_owned();
    d.ok(&["exec", "web2", "touch", "/tmp/ok"]);
    let add = w2.next();
    assert!(is_add_of(&add, &id2), "{add:?}");
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["service", "inspect", "web"])).unwrap();
    let web = info[0]["instances"].as_array().unwrap();
    assert_eq!(web.len(), 1, "web2 is not a web instance: {info}");

    // A label that cannot be honoured fails the run with the reason, creating nothing.
    let bad = context(
        "FROM scratch\nCOPY busybox /bin/busybox\nLABEL skiff.service=api\nEXPOSE 80 443\n",
    );
    d.ok(&["build", "-t", "badimg", bad.path().to_str().unwrap()]);
    let out = d.skiff(&[
        "run",
        "-d",
        "--name",
        "bad1",
        "badimg",
        "/bin/busybox",
        "true",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("skiff.service") && err.contains("80/tcp, 443/tcp"),
        "{err}"
    );
    assert!(!d.ok(&["ps", "-a"]).contains("bad1"));
    d.ok(&["rm", "-f", "web1", "web2"]);
}

/// `/proc/PID/stat`'s state inside container `c` (None: no such process).
fn state_in(d: &Daemon, c: &str, pid: &str) -> Option<String> {
    let out = d.skiff(&["exec", c, "cat", &format!("/proc/{pid}/stat")]);
    let stat = String::from_utf8_lossy(&out.stdout).into_owned();
    let i = stat.rfind(')')?;
    stat[i + 1..].split_whitespace().next().map(str::to_owned)
}

#[test]
fn a_timed_out_health_command_is_killed_with_its_children() {
    if !need_root("a_timed_out_health_command_is_killed_with_its_children") {
        return;
    }
    let d = Daemon::start();
    // Each probe starts a `sleep 1000` child, notes its pid, and waits: it can only time out.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "stuck",
        "--network",
        "none",
        "--rootfs",
        rootfs().to_str().unwrap(),
        "--health-cmd",
        "sleep 1000 & echo $! >> /tmp/probes; wait",
        "--health-interval",
        "300ms",
        "--health-timeout",
        "300ms",
        "sleep",
        "600",
    ]);
    let timed_out = || {
        d.inspect("stuck")["state"]["health"]["log"]
            .as_array()
            .map_or(0, |l| l.iter().filter(|e| e["exit_code"] == -1).count())
    };
    wait_until("two probes timed out", || timed_out() >= 2);
    let pids: Vec<String> = d
        .ok(&["exec", "stuck", "cat", "/tmp/probes"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(pids.len() >= 2, "{pids:?}");
    // The first probe ended (timed out) before the second started: its sleep must die.
    // (Gone, or a zombie of the container's non-reaping init: not running either way.)
    let first = &pids[0];
    wait_until("the first probe's sleep is gone", || {
        state_in(&d, "stuck", first).is_none_or(|s| s == "Z")
    });
    d.ok(&["rm", "-f", "stuck"]);
}
