//! Helpers of the service registry end-to-end tests: a `skiff watch`
//! child read line by line, polling with generous bounds (never timing
//! assertions), and a container with a service and a file-driven health check.
#![allow(dead_code)]

use crate::common::{rootfs, skiff_bin, Daemon};
use skiff_types::ServiceUpdate;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long anything may take before a test gives up (loaded CI machines).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// `skiff watch NAME --format json` as a child process.
pub struct Watcher {
    child: Child,
    rx: mpsc::Receiver<ServiceUpdate>,
}

impl Watcher {
    pub fn start(d: &Daemon, service: &str) -> Watcher {
        let mut child = Command::new(skiff_bin())
            .args(["--root", d.root_str(), "--host", &d.host()])
            .args(["watch", service, "--format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn skiff watch");
        let out = child.stdout.take().expect("watch stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let u: ServiceUpdate = serde_json::from_str(&line).expect("update JSON");
                if tx.send(u).is_err() {
                    return;
                }
            }
        });
        Watcher { child, rx }
    }

    /// The next update (fails the test after `PATIENCE`).
    pub fn next(&self) -> ServiceUpdate {
        self.rx
            .recv_timeout(PATIENCE)
            .expect("no watch update in time")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it holds (fails the test after `PATIENCE`).
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting until {what}");
}

/// Names listed by `skiff services -q` (empty if the call failed).
pub fn service_names(d: &Daemon) -> Vec<String> {
    let out = d.skiff(&["services", "-q"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `--network host` container `name` offering `service:80`, healthy while
/// /tmp/ok exists (checked every 200 ms, unhealthy after one failure).
pub fn run_checked(d: &Daemon, name: &str, service: &str) -> String {
    let svc = format!("{service}:80");
    d.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--rootfs",
        rootfs().to_str().expect("utf-8"),
        "--service",
        &svc,
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "5s",
        "--health-retries",
        "1",
        "sleep",
        "600",
    ])
    .trim()
    .to_owned()
}

/// `--network host` container `name` offering `service:8080`, no check.
pub fn run_unchecked(d: &Daemon, name: &str, service: &str) -> String {
    let svc = format!("{service}:8080");
    d.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--rootfs",
        rootfs().to_str().expect("utf-8"),
        "--service",
        &svc,
        "sleep",
        "600",
    ])
    .trim()
    .to_owned()
}

pub fn is_add_of(u: &ServiceUpdate, container: &str) -> bool {
    matches!(u, ServiceUpdate::Add { instance, .. } if instance.id.starts_with(container))
}

pub fn is_remove_of(u: &ServiceUpdate, container: &str) -> bool {
    matches!(u, ServiceUpdate::Remove { id, .. } if id.starts_with(container))
}

/// The daemon's registrations as the store holds them, from the test side.
pub fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}
