//! `skiff up` in the foreground with no daemon running: it starts one (the
//! embedded store), runs the topology, and on Ctrl-C takes the job down and
//! stops the daemon it started, leaving no process, container, cgroup,
//! bridge or nft table behind.
//!
//! Uses the default socket (/run/skiff/skiff.sock), so it skips, saying so,
//! when a daemon already answers there (a developer's own; never in CI).

mod common;
mod up_support;

use common::need_root;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use up_support::{busybox_context, write, PATIENCE};

const DEFAULT_SOCKET: &str = "/run/skiff/skiff.sock";

fn alive(pid: i32) -> bool {
    // Not our child (the up command's): a zombie would still answer, so look
    // at its state too.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_gone(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive(pid) {
        assert!(Instant::now() < deadline, "{what} (pid {pid}) still runs");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// If the test fails half-way: interrupts `up`, takes the job down and
/// stops the daemon. (.0: the daemon's pid once known; .1: up's.)
struct Owned(Option<i32>, i32);

impl Drop for Owned {
    fn drop(&mut self) {
        if alive(self.1) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.1),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let Some(pid) = self.0.filter(|p| alive(*p)) else {
            return;
        };
        let host = format!("unix://{DEFAULT_SOCKET}");
        let _ = Command::new(common::skiff_bin())
            .args(["--host", &host, "down", "-v", "-p", "owned"])
            .output();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn foreground_up_without_a_daemon_starts_and_stops_its_own() {
    if !need_root("foreground_up_without_a_daemon_starts_and_stops_its_own") {
        return;
    }
    if std::os::unix::net::UnixStream::connect(DEFAULT_SOCKET).is_ok() {
        eprintln!("SKIPPED: a daemon already answers on {DEFAULT_SOCKET}; this test needs none");
        return;
    }
    let root = tempfile::Builder::new()
        .prefix("skiff-e2e-owned-")
        .tempdir()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ctx = busybox_context().to_str().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        &format!(
            "services:\n  web:\n    build: {ctx}\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]\n    \
             deploy:\n      replicas: 2\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1:8080/\"]\n      \
             start_period: 60s\n      start_interval: 100ms\n"
        ),
    );
    let mut up = Command::new(common::skiff_bin())
        .args(["--root", root.path().to_str().unwrap()])
        .args(["up", "-p", "owned", dir.path().to_str().unwrap()])
        .env_remove("SKIFF_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up_pid = up.id() as i32;
    // stderr: "started one (pid N, ...)", then the ready lines ("web  2 running").
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = up.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let mut owned = Owned(None, up_pid);
    let mut log = Vec::new();
    let host = format!("unix://{DEFAULT_SOCKET}");
    let ready = loop {
        assert!(
            Instant::now() < deadline,
            "up did not get ready; stderr:\n{}",
            log.join("\n")
        );
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(250)) {
            if let Some(rest) = line.split("started one (pid ").nth(1) {
                owned.0 = rest.split(',').next().and_then(|p| p.parse::<i32>().ok());
            }
            log.push(line);
        }
        let Some(pid) = owned.0 else { continue };
        let status = Command::new(common::skiff_bin())
            .args(["--host", &host, "status", "owned"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&status.stdout).into_owned();
        if text.matches("(healthy)").count() >= 2 {
            break (pid, text);
        }
    };
    let (daemon, status) = ready;
    assert!(
        status.contains("web-1") && status.contains("web-2"),
        "{status}"
    );
    let keeper: Option<i32> = std::fs::read_to_string(root.path().join("keeper.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let containers: Vec<String> = String::from_utf8_lossy(
        &Command::new(common::skiff_bin())
            .args(["--host", &host, "ps", "-q", "--no-trunc"])
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .map(str::to_string)
    .collect();
    assert_eq!(containers.len(), 2);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up_pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let code = up.wait().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        code.success(),
        "up exited {code}; stderr:\n{}",
        rest.join("\n")
    );
    assert!(
        rest.iter().any(|l| l.contains("Stopped the skiff daemon")),
        "{}",
        rest.join("\n")
    );
    // The daemon is gone (reaped by up), then its keeper (idle, by itself).
    wait_gone(daemon, "the daemon");
    if let Some(k) = keeper {
        wait_gone(k, "the keeper");
    }
    assert!(std::os::unix::net::UnixStream::connect(DEFAULT_SOCKET).is_err());
    // Nothing of the job is left on the host.
    let links = Command::new("ip").args(["-br", "link"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains("skiff0"), "default bridge left:\n{links}");
    for id in &containers {
        assert_eq!(common::mounts_mentioning(id), 0, "mounts of {id} left");
        let cgroups = common::cgroup_dirs_in("skiff", id);
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
    }
}
