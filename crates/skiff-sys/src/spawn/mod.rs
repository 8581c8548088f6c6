//! Creating a container's init process ([`spawn`]) and entering a running container
//! ([`spawn_exec`]).
//!
//! ```text
//! parent (keeper)                         child (clone3 with the namespaces)
//! ---------------                         -----------------------------------
//! prepare every string and fd             (blocks on the sync pipe)
//! clone3(NEWNS|NEWPID|..., INTO_CGROUP) ->
//! uid_map/gid_map, cgroup.procs writes
//! Pending::start: write 1 byte ------->   unshare(NEWCGROUP), stdio, rootfs, pivot_root,
//!                                         masked paths, hostname, cwd, rlimits, ids, caps,
//!                                         no_new_privs, seccomp, close_range, execve
//! read error pipe until EOF  <---------   (CLOEXEC pipe: EOF = execve succeeded,
//!                                          a 12-byte record = which step failed)
//! ```
//! The child never allocates: the parent prepares all C strings ([`plan`]), and failures
//! travel as `(step, errno, index)` records the parent turns into messages with paths
//! ([`error`]). Raw syscalls are used where glibc wrappers assume their own fork bookkeeping.

pub(crate) mod error;
mod init;
mod join;
mod process;
pub(crate) mod sys;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

pub use crate::rlimit::Rlimit;
pub use error::{SpawnError, Step};
pub use join::{spawn_exec, ExecSpec};

use error::{ChildFailure, Descriptions, RECORD_LEN};

/// Namespaces of a new container. The cgroup namespace is unshared by the child only after
/// the parent placed it in its cgroup, so the container's cgroup root is its own cgroup.
#[derive(Debug, Clone, Default)]
pub struct Namespaces {
    pub pid: bool,
    pub mount: bool,
    pub uts: bool,
    pub ipc: bool,
    pub net: bool,
    pub cgroup: bool,
    pub user: Option<IdMap>,
}

/// One contiguous uid/gid mapping (`--userns=auto`): container ids
/// `container_id..container_id+size` are host ids `host_id..`. Used for both uid and gid maps;
/// setgroups is denied in the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// What a user mount is.
#[derive(Debug, Clone)]
pub enum MountKind {
    Bind {
        source: PathBuf,
        recursive: bool,
    },
    /// `options` as for `mount -o`: flags (ro, noexec, ...) and tmpfs data (size=, mode=).
    Tmpfs {
        options: String,
    },
}

/// A volume, bind or tmpfs mount; `destination` is absolute inside the container and is
/// resolved inside the rootfs (symlinks cannot lead out of it).
#[derive(Debug, Clone)]
pub struct MountSpec {
    pub destination: PathBuf,
    pub kind: MountKind,
    pub read_only: bool,
}

/// The container's stdio.
#[derive(Debug)]
pub enum Stdio {
    Fds {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// A pty slave (ideally from [`crate::pty::open_pty`], whose private devpts instance then
    /// becomes the container's /dev/pts): setsid, TIOCSCTTY, dup2 to 0/1/2.
    Tty { slave: OwnedFd },
}

/// Everything needed to create a container's init process.
#[derive(Debug)]
pub struct InitSpec {
    pub namespaces: Namespaces,
    /// Rootfs layers, topmost first; the overlay's lowerdir, never modified.
    pub lower_dirs: Vec<PathBuf>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    pub merged_dir: PathBuf,
    /// Make `/` read-only after setup (`--read-only`).
    pub read_only: bool,
    pub mounts: Vec<MountSpec>,
    pub hostname: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub capabilities: crate::caps::CapSet,
    pub no_new_privileges: bool,
    pub seccomp: Option<crate::seccomp::SeccompFilter>,
    pub rlimits: Vec<Rlimit>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub stdio: Stdio,
    /// cgroup.procs files the parent writes the child's pid into before releasing it (v1).
    pub cgroup_procs: Vec<PathBuf>,
    /// With `namespaces.net`: join this ready-made network namespace (see [`crate::netns`])
    /// instead of creating one in clone3, which costs ~2-3 ms on the start path.
    pub join_net: Option<OwnedFd>,
    /// v2: clone3 with CLONE_INTO_CGROUP into this cgroup directory.
    pub cgroup_fd: Option<OwnedFd>,
}

pub use crate::rootfs::{default_masked_paths, default_readonly_paths};

/// A created but not yet released container process.
#[derive(Debug)]
pub struct Pending {
    pid: i32,
    sync_wr: Option<OwnedFd>,
    err_rd: Option<OwnedFd>,
    desc: Descriptions,
}

/// Creates the container's init process, blocked before any setup; see the module docs.
pub fn spawn(spec: InitSpec) -> Result<Pending, SpawnError> {
    init::spawn(spec)
}

impl Pending {
    /// The child's pid in the caller's pid namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Releases the child and waits until its execve succeeded; on a setup failure the child
    /// is reaped and its error returned.
    pub fn start(mut self) -> Result<i32, SpawnError> {
        let pid = self.pid;
        let (Some(sync_wr), Some(err_rd)) = (self.sync_wr.take(), self.err_rd.take()) else {
            return Err(SpawnError::Invalid(
                "container process was already released".into(),
            ));
        };
        if let Err(e) = sys::write_all(sync_wr.as_raw_fd(), &[1]) {
            kill_and_reap(pid);
            return Err(SpawnError::setup("release container process", errno_io(e)));
        }
        drop(sync_wr);
        let desc = std::mem::take(&mut self.desc);
        wait_for_exec(pid, &err_rd, &desc)
    }

    /// Kills the child (SIGKILL) and reaps it.
    pub fn abort(mut self) {
        self.sync_wr = None;
        self.err_rd = None;
        kill_and_reap(self.pid);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.sync_wr.is_some() {
            kill_and_reap(self.pid);
        }
    }
}

pub(crate) fn errno_io(e: i32) -> std::io::Error {
    std::io::Error::from_raw_os_error(e)
}

/// Reads the error pipe until EOF (execve succeeded: Ok) or a failure record (reaps `pid`).
pub(crate) fn wait_for_exec(
    pid: i32,
    err_rd: &OwnedFd,
    desc: &Descriptions,
) -> Result<i32, SpawnError> {
    let mut rec = [0u8; RECORD_LEN];
    let n = match sys::read_full(err_rd.as_raw_fd(), &mut rec) {
        Ok(n) => n,
        Err(e) => {
            kill_and_reap(pid);
            return Err(SpawnError::setup(
                "read the container's error pipe",
                errno_io(e),
            ));
        }
    };
    if n == 0 {
        return Ok(pid);
    }
    let status = reap(pid);
    match ChildFailure::decode(&rec).filter(|_| n == RECORD_LEN) {
        Some(f) => Err(SpawnError::from_child(f, desc)),
        None => Err(SpawnError::Died { status }),
    }
}

/// waitpid, describing how the child ended.
pub(crate) fn reap(pid: i32) -> String {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only to `status`.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("exit status {}", libc::WEXITSTATUS(status))
    }
}

pub(crate) fn kill_and_reap(pid: i32) {
    // SAFETY: signalling our own child, which we have not reaped yet (pid cannot be reused).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    reap(pid);
}

/// A pipe with both ends close-on-exec: (read, write).
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), SpawnError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SpawnError::setup("create pipe", std::io::Error::from(e)))
}

/// Writes a failure record to the error pipe and exits; the child's only way out.
pub(crate) fn child_fail(err_wr: i32, f: ChildFailure) -> ! {
    let _ = sys::write_all(err_wr, &f.encode());
    // SAFETY: _exit never returns and runs no atexit handlers (correct after a fork).
    unsafe { libc::_exit(125) }
}
