//! The keeper's wire protocol: one JSON message per SEQPACKET datagram, with
//! stdio fds attached through SCM_RIGHTS where a message says so.
//!
//! Daemon -> keeper: `Request`; keeper -> daemon: `Reply` (answers carry the
//! request's `seq`) and `Event` (exits, unsolicited). Both directions are
//! versioned by the skiff binary itself: daemon and keeper are the same binary
//! or, after an upgrade, must speak the same JSON (unknown fields are ignored).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The largest message either side sends.
pub const MAX_MESSAGE: usize = 1 << 20;

/// How a container's (or exec's) stdio is wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StdioMode {
    pub tty: bool,
    pub open_stdin: bool,
}

/// Which seccomp filter to install (the keeper compiles and caches it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SeccompChoice {
    Default,
    Unconfined,
    Profile(String),
}

/// A bind or tmpfs mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaunchMount {
    Bind {
        source: PathBuf,
        destination: PathBuf,
        read_only: bool,
        /// `rbind` (Docker's default) rather than `bind`: the mounts below the source too.
        recursive: bool,
    },
    Tmpfs {
        destination: PathBuf,
        options: String,
    },
}

/// Everything the keeper needs to start a container's init process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    pub net_ns: bool,
    /// --userns=auto: (host uid/gid base, size) mapped to container 0.
    pub userns: Option<(u32, u32)>,
    pub lower_dirs: Vec<PathBuf>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    pub merged_dir: PathBuf,
    pub read_only: bool,
    pub mounts: Vec<LaunchMount>,
    pub hostname: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub capabilities: u64,
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    /// (resource, soft, hard)
    pub rlimits: Vec<(i32, u64, u64)>,
    pub stdio: StdioMode,
    pub cgroup_procs: Vec<PathBuf>,
    /// The v2 cgroup directory for CLONE_INTO_CGROUP, when the host is v2.
    pub cgroup_dir_v2: Option<PathBuf>,
}

/// A process started inside a running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecLaunch {
    pub target_pid: i32,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub capabilities: u64,
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    pub stdio: StdioMode,
    pub cgroup_procs: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// First message of a connection: the keeper answers `Welcome` then one
    /// `Kept` per process it holds (with its fds), then the exits it recorded.
    Hello,
    Spawn {
        id: String,
        spec: Box<LaunchSpec>,
    },
    Exec {
        id: String,
        exec_id: String,
        spec: Box<ExecLaunch>,
    },
    Signal {
        id: String,
        exec_id: Option<String>,
        signal: i32,
    },
    /// The daemon is done with this process's fds (it exited and drained).
    Forget {
        id: String,
        exec_id: Option<String>,
    },
    Resize {
        id: String,
        exec_id: Option<String>,
        rows: u16,
        cols: u16,
    },
}

/// Which fds ride along with a `Spawned` or `Kept` message, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdLayout {
    /// pty master (with tty) — else stdout read end then stderr read end.
    pub tty: bool,
    /// A stdin write end follows (never with tty: the master is both).
    pub stdin: bool,
    /// Then this many namespace fds (mnt, net) of a new container: the daemon
    /// holds them until it has reported the exit, so the kernel's namespace
    /// teardown (~4 ms: unmounting the whole tree) happens after, not before,
    /// the exit is seen.
    #[serde(default)]
    pub ns: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Welcome {
        keeper_pid: i32,
        kept: usize,
    },
    Kept {
        id: String,
        exec_id: Option<String>,
        pid: i32,
        fds: FdLayout,
    },
    Spawned {
        seq: u64,
        pid: i32,
        fds: FdLayout,
    },
    Failed {
        seq: u64,
        message: String,
        exit_code: i32,
    },
    Done {
        seq: u64,
    },
    Exited(ExitRecord),
}

/// How a process ended, as recorded by the keeper the moment it reaped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub id: String,
    pub exec_id: Option<String>,
    pub pid: i32,
    /// Docker's convention: the exit status, or 128 + signal.
    pub exit_code: i32,
    pub signal: Option<i32>,
    /// Nanoseconds since the epoch.
    pub at: u64,
}

/// A request with its sequence number, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub seq: u64,
    pub request: Request,
}
