//! End-to-end node capacity through the real daemon and real containers: a
//! daemon offering `--node-cpu 1 --node-memory 256m` places two of three
//! instances reserving 400m cpu, `skiff up -d` fails naming the pending one
//! and the scheduler's reason, `skiff status` shows it pending, scaling down
//! clears it, a job that fits runs, a job that does not waits and is placed
//! by itself once capacity frees up, and `down` leaves nothing behind. Bad
//! `--node-*` values stop the daemon before it starts. Needs root.

mod common;
mod up_support;

use common::{need_root, Daemon};
use up_support::{build_bb, wait_until, write, JobGuard};

fn web(replicas: u32, cpus: &str) -> String {
    format!(
        r#"
services:
  web:
    image: bb
    deploy:
      replicas: {replicas}
      resources:
        reservations:
          cpus: "{cpus}"
          memory: 32m
"#
    )
}

/// Instance lines of `job`'s `service` in `skiff status JOB`.
fn lines(d: &Daemon, job: &str, service: &str, word: &str) -> usize {
    d.ok(&["status", job])
        .lines()
        .filter(|l| l.contains(&format!("{job}-{service}-")) || l.contains(&format!("{service}#")))
        .filter(|l| l.contains(word) && !l.contains("stopping"))
        .count()
}

#[test]
fn bad_node_flags_stop_the_daemon() {
    if !need_root("bad_node_flags_stop_the_daemon") {
        return;
    }
    let cases: [(&[&str], &str); 4] = [
        (
            &["--node-cpu", "lots"],
            "--node-cpu: invalid cpu count \"lots\"",
        ),
        (&["--node-cpu", "0"], "--node-cpu: invalid cpu count \"0\""),
        (
            &["--node-memory", "12q"],
            "--node-memory: invalid size \"12q\"",
        ),
        (&["--node-label", "novalue"], "--node-label \"novalue\""),
    ];
    common::assert_daemon_refuses(&cases);
}

#[test]
fn capacity_limits_placement_and_pending_is_explained() {
    if !need_root("capacity_limits_placement_and_pending_is_explained") {
        return;
    }
    let d = Daemon::start_with(&[
        "--node-cpu",
        "1",
        "--node-memory",
        "256m",
        "--node-label",
        "zone=e2e",
    ]);
    assert!(
        d.log().contains("offers 1000m cpu, 256MiB memory"),
        "{}",
        d.log()
    );
    build_bb(&d);
    let dir = tempfile::tempdir().unwrap();
    let _guards = [
        JobGuard { d: &d, job: "cap" },
        JobGuard { d: &d, job: "fits" },
        JobGuard {
            d: &d,
            job: "waits",
        },
    ];

    // 3 x 400m on a 1000m node: two run, the third cannot be placed.
    let f = write(dir.path(), "cap.yaml", &web(3, "0.4"));
    let out = d.skiff(&["up", "-d", "-p", "cap", "-f", f.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up -d succeeded: {stderr}");
    assert!(
        stderr.contains("web instance 3: no node has 400m cpu free (at most 200m)"),
        "{stderr}"
    );
    wait_until("2 running and 1 pending with its reason", &d, || {
        let status = d.ok(&["status", "cap"]);
        lines(&d, "cap", "web", "running") == 2
            && status.contains("web#3  pending: no node has 400m cpu free")
    });
    // The job list (GET /v1/jobs) says the same.
    let view = d.ok(&["status"]);
    assert!(
        view.contains("pending: no node has 400m cpu free"),
        "{view}"
    );

    // Scaled to what fits: nothing pending.
    d.ok(&["scale", "-p", "cap", "web=2"]);
    wait_until("no pending instance", &d, || {
        let status = d.ok(&["status", "cap"]);
        !status.contains("pending") && lines(&d, "cap", "web", "running") == 2
    });

    // A job that fits the 200m left runs.
    let f = write(dir.path(), "fits.yaml", &web(1, "0.2"));
    let out = d.ok(&["up", "-d", "-p", "fits", "-f", f.to_str().unwrap()]);
    assert!(out.contains("1 running"), "{out}");

    // A job that does not fit waits, and is placed once room frees up.
    let f = write(dir.path(), "waits.yaml", &web(1, "0.3"));
    let out = d.skiff(&["up", "-d", "-p", "waits", "-f", f.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no node has 300m cpu free (at most 0m)"),
        "{stderr}"
    );
    d.ok(&["scale", "-p", "cap", "web=1"]);
    wait_until("the waiting job placed by itself", &d, || {
        lines(&d, "waits", "web", "running") == 1 && !d.ok(&["status"]).contains("pending")
    });

    for job in ["cap", "fits", "waits"] {
        d.ok(&["down", "-p", job]);
    }
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    assert!(d.ok(&["status"]).contains("no jobs"));
}
