//! Spawn errors and the tiny wire format the child uses to report them.
//!
//! The child never formats strings (it may be a fork of a multi-threaded process, where
//! allocating can deadlock): it writes a fixed 12-byte record `(step, detail, errno, index)`
//! on its close-on-exec error pipe and `_exit`s. The parent turns the record into a message
//! with the paths it kept in [`Descriptions`]. Exit codes follow Docker: 127 command not found,
//! 126 found but not executable, 125 any other setup failure.

use crate::rlimit::{self, Rlimit};

/// The step of the child's sequence that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    Sync = 1,
    Stdio,
    CgroupNs,
    Propagation,
    Overlay,
    Mount,
    Pivot,
    MaskPath,
    ReadonlyPath,
    ReadonlyRoot,
    Hostname,
    Cwd,
    Rlimit,
    Groups,
    Gid,
    Uid,
    Capabilities,
    NoNewPrivs,
    Seccomp,
    CloseFds,
    Exec,
    JoinNamespaces,
    Fork,
    Dumpable,
    Loopback,
}

impl Step {
    const ALL: [Step; 25] = [
        Step::Sync,
        Step::Stdio,
        Step::CgroupNs,
        Step::Propagation,
        Step::Overlay,
        Step::Mount,
        Step::Pivot,
        Step::MaskPath,
        Step::ReadonlyPath,
        Step::ReadonlyRoot,
        Step::Hostname,
        Step::Cwd,
        Step::Rlimit,
        Step::Groups,
        Step::Gid,
        Step::Uid,
        Step::Capabilities,
        Step::NoNewPrivs,
        Step::Seccomp,
        Step::CloseFds,
        Step::Exec,
        Step::JoinNamespaces,
        Step::Fork,
        Step::Dumpable,
        Step::Loopback,
    ];

    fn from_u8(v: u8) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| *s as u8 == v)
    }
}

/// Which part of a mount-like step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Detail {
    None = 0,
    Resolve,
    Create,
    Mount,
    Remount,
}

/// The record the child sends: fixed size, no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildFailure {
    pub step: Step,
    pub detail: Detail,
    pub errno: i32,
    pub index: u32,
}

pub(crate) const RECORD_LEN: usize = 12;

impl ChildFailure {
    pub(crate) fn new(step: Step, errno: i32) -> Self {
        ChildFailure {
            step,
            detail: Detail::None,
            errno,
            index: 0,
        }
    }

    pub(crate) fn at(step: Step, detail: Detail, index: usize, errno: i32) -> Self {
        ChildFailure {
            step,
            detail,
            errno,
            index: index as u32,
        }
    }

    pub(crate) fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0] = self.step as u8;
        b[1] = self.detail as u8;
        b[4..8].copy_from_slice(&self.errno.to_ne_bytes());
        b[8..12].copy_from_slice(&self.index.to_ne_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8; RECORD_LEN]) -> Option<Self> {
        let detail = match b[1] {
            0 => Detail::None,
            1 => Detail::Resolve,
            2 => Detail::Create,
            3 => Detail::Mount,
            4 => Detail::Remount,
            _ => return None,
        };
        Some(ChildFailure {
            step: Step::from_u8(b[0])?,
            detail,
            errno: i32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            index: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
        })
    }
}

/// Everything the parent keeps to explain a child failure with paths and values.
#[derive(Debug, Default)]
pub(crate) struct Descriptions {
    pub merged: String,
    /// One entry per mount op, e.g. "mount tmpfs on /dev/shm".
    pub mounts: Vec<String>,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
    pub rlimits: Vec<Rlimit>,
    pub hostname: String,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    /// argv[0] as given, and the candidate paths tried in order.
    pub command: String,
    pub candidates: Vec<String>,
    pub command_has_slash: bool,
}

/// Why a container process could not be created or started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// A step done by the parent (pipes, clone, id maps, cgroup placement) failed.
    #[error("{what}: {source}")]
    Setup {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The spec cannot be run as given.
    #[error("invalid spec: {0}")]
    Invalid(String),
    /// The child reported a failed step before execve.
    #[error("{message}")]
    Child {
        step: Step,
        errno: i32,
        message: String,
    },
    /// The child died before it reached execve without reporting why.
    #[error("container process died during setup: {status}")]
    Died { status: String },
}

impl SpawnError {
    pub(crate) fn setup(what: impl Into<String>, source: std::io::Error) -> Self {
        SpawnError::Setup {
            what: what.into(),
            source,
        }
    }

    /// Docker's exit codes: 127 not found, 126 not executable, 125 everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Child {
                step: Step::Exec,
                errno,
                ..
            } => match *errno {
                libc::ENOENT | libc::ENOTDIR => 127,
                libc::EACCES | libc::EPERM | libc::ENOEXEC | libc::EISDIR => 126,
                _ => 125,
            },
            _ => 125,
        }
    }

    pub(crate) fn from_child(f: ChildFailure, d: &Descriptions) -> Self {
        SpawnError::Child {
            step: f.step,
            errno: f.errno,
            message: describe(f, d),
        }
    }
}

fn strerror(errno: i32) -> String {
    nix::errno::Errno::from_raw(errno).desc().to_string()
}

fn pick(list: &[String], i: u32) -> &str {
    list.get(i as usize).map_or("?", String::as_str)
}

fn describe(f: ChildFailure, d: &Descriptions) -> String {
    let e = strerror(f.errno);
    let i = f.index;
    let stage = match f.detail {
        Detail::Resolve => "resolve destination of ",
        Detail::Create => "create destination of ",
        Detail::Remount => "make read-only: ",
        Detail::None | Detail::Mount => "",
    };
    match f.step {
        Step::Sync => format!("wait for the parent's go-ahead: {e}"),
        Step::Stdio => format!("set up stdio: {e}"),
        Step::CgroupNs => format!("unshare cgroup namespace: {e}"),
        Step::Propagation => format!("make / rprivate: {e}"),
        Step::Overlay => format!("mount overlay on {}: {e}", d.merged),
        Step::Mount => format!("{stage}{}: {e}", pick(&d.mounts, i)),
        Step::Pivot => format!("pivot_root into {}: {e}", d.merged),
        Step::MaskPath => format!("mask {}: {e}", pick(&d.masked, i)),
        Step::ReadonlyPath => format!("make {} read-only: {e}", pick(&d.readonly, i)),
        Step::ReadonlyRoot => format!("remount / read-only: {e}"),
        Step::Hostname => format!("sethostname {:?}: {e}", d.hostname),
        Step::Loopback => format!("bring up lo in the container's network namespace: {e}"),
        Step::Cwd => format!("chdir to {}: {e}", d.cwd),
        Step::Rlimit => describe_rlimit(d.rlimits.get(i as usize), f.errno),
        Step::Groups => format!("setgroups: {e}"),
        Step::Gid => format!("setgid {}: {e}", d.gid),
        Step::Uid => format!("setuid {}: {e}", d.uid),
        Step::Capabilities => format!("apply capabilities: {e}"),
        Step::NoNewPrivs => format!("set no_new_privs: {e}"),
        Step::Seccomp => format!("install seccomp filter: {e}"),
        Step::CloseFds => format!("mark fds close-on-exec: {e}"),
        Step::Exec => describe_exec(f, d),
        Step::JoinNamespaces => format!("join the container's namespaces: {e}"),
        Step::Fork => format!("fork into the container's pid namespace: {e}"),
        Step::Dumpable => format!("prctl(PR_SET_DUMPABLE, 0): {e}"),
    }
}

fn describe_rlimit(l: Option<&Rlimit>, errno: i32) -> String {
    let Some(l) = l else {
        return format!("setrlimit: {}", strerror(errno));
    };
    let name = rlimit::name(l.resource);
    let mut msg = format!(
        "setrlimit {name} (soft {}, hard {}): {}",
        l.soft,
        l.hard,
        strerror(errno)
    );
    if errno == libc::EPERM {
        if let Ok((_, hard)) = rlimit::current(l.resource) {
            msg.push_str(&format!(
                "; the host's hard limit for {name} is {hard} and raising it needs CAP_SYS_RESOURCE"
            ));
        }
    }
    msg
}

fn describe_exec(f: ChildFailure, d: &Descriptions) -> String {
    let cmd = &d.command;
    match f.errno {
        libc::ENOENT | libc::ENOTDIR if !d.command_has_slash => {
            format!("exec: {cmd:?}: executable file not found in $PATH")
        }
        libc::ENOENT | libc::ENOTDIR => {
            format!("exec: {cmd:?}: stat {cmd}: no such file or directory")
        }
        errno => format!(
            "exec: {cmd:?} ({}): {}",
            pick(&d.candidates, f.index),
            strerror(errno).to_lowercase()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrip() {
        let f = ChildFailure::at(Step::Mount, Detail::Create, 7, libc::EROFS);
        let g = ChildFailure::decode(&f.encode()).expect("decodes");
        assert_eq!(
            (g.step, g.detail, g.errno, g.index),
            (Step::Mount, Detail::Create, libc::EROFS, 7)
        );
    }

    #[test]
    fn exit_codes_follow_docker() {
        let d = Descriptions {
            command: "nonexist".into(),
            ..Default::default()
        };
        let e = SpawnError::from_child(ChildFailure::new(Step::Exec, libc::ENOENT), &d);
        assert_eq!(e.exit_code(), 127);
        assert_eq!(
            e.to_string(),
            "exec: \"nonexist\": executable file not found in $PATH"
        );
        let e = SpawnError::from_child(ChildFailure::new(Step::Exec, libc::EACCES), &d);
        assert_eq!(e.exit_code(), 126);
        let e = SpawnError::from_child(ChildFailure::new(Step::Pivot, libc::EINVAL), &d);
        assert_eq!(e.exit_code(), 125);
    }
}
