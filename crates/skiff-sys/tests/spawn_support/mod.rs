//! Shared helpers for the spawn tests: a busybox rootfs in a temp dir, a default spec, a
//! runner that collects output and the exit status, and leak checks (mounts, children).
#![allow(dead_code)]

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use skiff_sys::caps::CapSet;
use skiff_sys::spawn::{self, InitSpec, Namespaces, Stdio};

static SERIAL: Mutex<()> = Mutex::new(());

/// Tests run one at a time: each checks that no child of ours is left, and the raw-clone
/// children should not be forked while another test thread is mid-allocation.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn is_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    println!("skipped: needs root");
    false
}

const APPLETS: &[&str] = &[
    "sh", "true", "false", "cat", "echo", "hostname", "mount", "tty", "readlink", "ls", "touch",
    "sleep", "wc", "id", "grep", "stat", "mkdir",
];

/// A busybox rootfs with overlay dirs, all in one temp dir.
pub struct Rootfs {
    pub dir: tempfile::TempDir,
    pub lower: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl Rootfs {
    pub fn new() -> Rootfs {
        let dir = tempfile::Builder::new()
            .prefix("skiff-spawn-")
            .tempdir()
            .expect("tempdir");
        let p = |s: &str| dir.path().join(s);
        let (lower, upper, work, merged) = (p("lower"), p("upper"), p("work"), p("merged"));
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "mnt", "root"] {
            std::fs::create_dir_all(lower.join(d)).expect("mkdir lower");
        }
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::copy("/bin/busybox", lower.join("bin/busybox")).expect("copy busybox");
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", lower.join("bin").join(a)).expect("symlink");
        }
        std::fs::write(lower.join("etc/notexec"), "#!/bin/sh\n").expect("write");
        Rootfs {
            dir,
            lower,
            upper,
            work,
            merged,
        }
    }

    /// Fails the test if any mount mentions our temp dir.
    pub fn assert_no_mounts(&self) {
        let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let needle = self.dir.path().to_string_lossy().to_string();
        let left: Vec<&str> = info.lines().filter(|l| l.contains(&needle)).collect();
        assert!(left.is_empty(), "mounts left behind: {left:#?}");
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        // Defensive: a mount that leaked (test failure) must not block removing the dir.
        if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
            let needle = self.dir.path().to_string_lossy().to_string();
            for l in info.lines().filter(|l| l.contains(&needle)) {
                if let Some(mp) = l.split(' ').nth(4) {
                    let _ = nix::mount::umount2(mp, nix::mount::MntFlags::MNT_DETACH);
                }
            }
        }
    }
}

pub fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe")
}

pub fn devnull() -> OwnedFd {
    std::fs::File::open("/dev/null").expect("/dev/null").into()
}

pub fn netnone() -> Namespaces {
    Namespaces {
        pid: true,
        mount: true,
        uts: true,
        ipc: true,
        net: true,
        cgroup: true,
        user: None,
    }
}

/// A Docker-like default spec; stdout/stderr go to the given fds.
pub fn spec(r: &Rootfs, args: &[&str], stdout: OwnedFd, stderr: OwnedFd) -> InitSpec {
    InitSpec {
        namespaces: netnone(),
        lower_dirs: vec![r.lower.clone()],
        upper_dir: r.upper.clone(),
        work_dir: r.work.clone(),
        merged_dir: r.merged.clone(),
        read_only: false,
        mounts: Vec::new(),
        hostname: Some("skiff-test".into()),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec![
            "PATH=/usr/local/bin:/usr/bin:/bin".into(),
            "HOME=/root".into(),
        ],
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        capabilities: CapSet::docker_default(),
        no_new_privileges: true,
        seccomp: None,
        rlimits: Vec::new(),
        masked_paths: spawn::default_masked_paths(),
        readonly_paths: spawn::default_readonly_paths(),
        stdio: Stdio::Fds {
            stdin: devnull(),
            stdout,
            stderr,
        },
        cgroup_procs: Vec::new(),
        cgroup_fd: None,
        join_net: None,
    }
}

pub fn wait(pid: i32) -> i32 {
    match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).expect("waitpid") {
        nix::sys::wait::WaitStatus::Exited(_, code) => code,
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        other => panic!("unexpected wait status {other:?}"),
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd)
        .read_to_string(&mut s)
        .expect("read output");
    s
}

/// Runs `args` in a fresh container built by `edit(spec)`; the spawn error if it fails.
pub fn run_with(
    r: &Rootfs,
    args: &[&str],
    edit: impl FnOnce(&mut InitSpec),
) -> Result<Output, spawn::SpawnError> {
    let (out_rd, out_wr) = pipe();
    let (err_rd, err_wr) = pipe();
    let mut s = spec(r, args, out_wr, err_wr);
    edit(&mut s);
    let pending = spawn::spawn(s)?;
    let pid = pending.start()?;
    let stdout = read_all(out_rd);
    let stderr = read_all(err_rd);
    Ok(Output {
        code: wait(pid),
        stdout,
        stderr,
    })
}

pub fn run(r: &Rootfs, args: &[&str]) -> Output {
    run_with(r, args, |_| {}).unwrap_or_else(|e| panic!("spawn {args:?}: {e}"))
}

/// Fails if any child of this process is left (zombie or running).
pub fn assert_no_children() {
    match nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        Err(nix::errno::Errno::ECHILD) => {}
        other => panic!("a child process was left behind: {other:?}"),
    }
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

pub fn raw(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}
