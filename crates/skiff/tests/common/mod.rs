//! Shared harness for skiff's privileged end-to-end tests: a private daemon
//! per test (own state dir and socket), the real `skiff` binary, and a busybox
//! rootfs built once per test process. Everything is torn down on drop.
#![allow(dead_code)]

mod cleanup;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Returns false (and says so) when the test cannot run without root.
pub fn need_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("skipped: {test} needs root (namespaces, cgroups, mounts)");
        return false;
    }
    true
}

pub fn skiff_bin() -> &'static str {
    env!("CARGO_BIN_EXE_skiff")
}

/// A busybox rootfs shared by every test in this process.
pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("skiff-e2e-rootfs-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rootfs.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(&dir)
            .output()
            .expect("run rootfs.sh");
        assert!(
            out.status.success(),
            "rootfs.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        remove_at_exit(&dir);
        dir
    })
}

/// Removes `dir` once this test process is gone, however it ends: a helper
/// waits for EOF on a pipe whose only writer this process holds until exit.
fn remove_at_exit(dir: &Path) {
    static KEEP: std::sync::Mutex<Vec<Child>> = std::sync::Mutex::new(Vec::new());
    let child = Command::new("sh")
        .args([
            "-c",
            "cat >/dev/null; exec rm -rf --one-file-system \"$1\"",
            "sh",
        ])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Ok(c) = child {
        KEEP.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    }
}

pub struct Daemon {
    pub root: tempfile::TempDir,
    pub socket: PathBuf,
    child: Option<Child>,
    /// More `skiff daemon` flags (e.g. `--dns-upstream`).
    pub extra_args: Vec<String>,
}

impl Daemon {
    pub fn start() -> Daemon {
        Self::start_with(&[])
    }

    /// A daemon started with extra `skiff daemon` flags.
    pub fn start_with(extra: &[&str]) -> Daemon {
        let root = tempfile::Builder::new()
            .prefix("skiff-e2e-")
            .tempdir()
            .expect("tempdir");
        let socket = root.path().join("skiff.sock");
        let mut d = Daemon {
            root,
            socket,
            child: None,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        if !self.try_spawn() {
            panic!("daemon did not come up; log:\n{}", self.log());
        }
    }

    /// Starts the daemon and waits for its socket; false if it did not come up.
    fn try_spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join("daemon.log"))
            .expect("daemon log");
        let child = Command::new(skiff_bin())
            .args(["--root", self.root_str(), "--host", &self.host()])
            .arg("daemon")
            .args(["--cgroup-parent", &self.cgroup_parent()])
            .args(["--bridge", &self.bridge()])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn skiff daemon");
        self.child = Some(child);
        // Generous: CI machines have 2 cores and tests run two at a time.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Each test daemon has its own default bridge (and so its own subnet).
    pub fn bridge(&self) -> String {
        let base = self
            .root
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x");
        let tail: String = base.chars().rev().take(8).collect();
        format!("skt{tail}")
    }

    /// Each test daemon has its own cgroup parent, so tests never share one.
    pub fn cgroup_parent(&self) -> String {
        let base = self
            .root
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x");
        format!("skiff-test-{base}")
    }

    pub fn root_str(&self) -> &str {
        self.root.path().to_str().expect("utf-8 temp path")
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("daemon.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn keeper_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.root.path().join("keeper.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `kill -9` the daemon (not the keeper, not the containers).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        let _ = std::fs::remove_file(&self.socket);
        self.spawn();
    }

    /// Runs `skiff ARGS` against this daemon.
    pub fn skiff(&self, args: &[&str]) -> Output {
        Command::new(skiff_bin())
            .args(["--root", self.root_str(), "--host", &self.host()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run skiff")
    }

    /// Runs `skiff ARGS`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.skiff(args);
        assert!(
            out.status.success(),
            "skiff {args:?} failed ({:?}): {}\n--- daemon log:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `skiff run --rm --rootfs R ARGS...`, returning (exit code, stdout, stderr).
    pub fn run(&self, flags: &[&str], cmd: &[&str]) -> (i32, String, String) {
        let mut args = vec!["run", "--rm", "--rootfs", rootfs().to_str().expect("utf-8")];
        args.extend_from_slice(flags);
        args.extend_from_slice(cmd);
        let out = self.skiff(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        v.get(0).cloned().unwrap_or(v)
    }

    pub fn wait_status(&self, name: &str, want: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.inspect(name)["state"]["status"] == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Daemon {
    /// Host paths of every cgroup directory of container `id` of this daemon.
    pub fn cgroup_dirs(&self, id: &str) -> Vec<PathBuf> {
        cgroup_dirs_in(&self.cgroup_parent(), id)
    }
}

impl Drop for Daemon {
    /// Leaves nothing behind, even when the test killed the daemon: a dead
    /// daemon is started again (it adopts its containers) so that `rm -f` and
    /// its own idle shutdown remove containers, bridge and nft elements; then
    /// whatever is left in this daemon's cgroups, mounts and bridge is swept.
    fn drop(&mut self) {
        let alive = self
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        if !alive {
            self.child = None;
            let _ = std::fs::remove_file(&self.socket);
            self.try_spawn();
        }
        if self.child.is_some() {
            let ids = self.skiff(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                let _ = self.skiff(&["rm", "-f", id]);
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
        if let Some(k) = self.keeper_pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(k),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        cleanup::sweep(self.root.path(), &self.cgroup_parent(), &self.bridge());
    }
}

/// Host paths of every cgroup directory of container `id` under `parent`.
pub fn cgroup_dirs_in(parent: &str, id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            let p = e.path().join(parent).join(id);
            if p.exists() {
                out.push(p);
            }
        }
    }
    let v2 = Path::new("/sys/fs/cgroup").join(parent).join(id);
    if v2.exists() {
        out.push(v2);
    }
    out
}

pub fn mounts_mentioning(needle: &str) -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// Starts `skiff daemon FLAGS` for each case and checks it refuses at once:
/// a failed exit, stderr naming the problem, and no socket created.
pub fn assert_daemon_refuses(cases: &[(&[&str], &str)]) {
    let root = tempfile::tempdir().unwrap();
    let sock = root.path().join("skiff.sock");
    for (flags, want) in cases {
        let out = Command::new(skiff_bin())
            .args(["--root", root.path().to_str().unwrap()])
            .args(["--host", &format!("unix://{}", sock.display())])
            .arg("daemon")
            .args(*flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} started a daemon");
        assert!(stderr.contains(want), "{flags:?}: {stderr}");
        assert!(!sock.exists(), "{flags:?} left a socket");
    }
}
