//! Shared by the topology e2e tests: the busybox image, a guard that takes
//! a job down even when a test fails, and bounded waiting.
#![allow(dead_code)]

use crate::common::Daemon;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long convergence may take on a loaded 2-core machine before the test
/// gives up (a bound for failure, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(180);

/// examples/busybox with the host's static busybox (scripts/busybox-context.sh).
pub fn busybox_context() -> &'static Path {
    static CTX: OnceLock<PathBuf> = OnceLock::new();
    CTX.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new("bash")
            .arg(repo.join("scripts/busybox-context.sh"))
            .output()
            .expect("run busybox-context.sh");
        assert!(
            out.status.success(),
            "busybox-context.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        repo.join("examples/busybox")
    })
}

pub fn build_bb(d: &Daemon) {
    d.ok(&["build", "-t", "bb", busybox_context().to_str().unwrap()]);
}

/// Takes the job down (with its volumes) even when the test fails.
pub struct JobGuard<'a> {
    pub d: &'a Daemon,
    pub job: &'a str,
}

impl Drop for JobGuard<'_> {
    fn drop(&mut self) {
        let _ = self.d.skiff(&["down", "-v", "-p", self.job]);
    }
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn wait_until(what: &str, d: &Daemon, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "gave up waiting for {what}; status:\n{}\n--- daemon log:\n{}",
        String::from_utf8_lossy(&d.skiff(&["status"]).stdout),
        d.log()
    );
}
