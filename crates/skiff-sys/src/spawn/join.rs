//! `spawn_exec` (docker exec): a new process inside a running container.
//!
//! ```text
//! keeper ── clone3 ──> helper: setns(pidfd, USER|MNT|PID|UTS|IPC|NET|CGROUP)   (one syscall)
//!   │                    └─ clone3(CLONE_PARENT) ──> target: blocks on the sync pipe
//!   │                    helper writes the target's pid, _exits
//!   ├─ reaps helper, reads target pid; writes it into cgroup.procs; releases it
//!   └─ reads the error pipe to EOF (execve done) ──> target is the keeper's direct child
//! ```
//! A setns into a pid namespace only affects children, hence the second clone; CLONE_PARENT
//! makes the final process the keeper's child so the keeper can waitpid it like any container
//! process. Only namespaces that differ from ours are joined (joining one's own user
//! namespace is EINVAL). The process gets the target's rlimits, read with prlimit.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use super::error::{ChildFailure, Descriptions, Step, RECORD_LEN};
use super::process::{self, ProcessInputs, ProcessPlan};
use super::sys::{self, Forked};
use super::{child_fail, errno_io, kill_and_reap, pipe, reap, wait_for_exec, SpawnError, Stdio};
use crate::caps::CapSet;
use crate::rlimit::{self, Rlimit};
use crate::seccomp::SeccompFilter;

/// A process to start inside the container whose init is `target_pid`.
#[derive(Debug)]
pub struct ExecSpec {
    pub target_pid: i32,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub capabilities: CapSet,
    pub no_new_privileges: bool,
    pub seccomp: Option<SeccompFilter>,
    pub stdio: Stdio,
    pub cgroup_procs: Vec<PathBuf>,
}

const NAMESPACES: [(&str, libc::c_int); 7] = [
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("pid", libc::CLONE_NEWPID),
    ("uts", libc::CLONE_NEWUTS),
    ("ipc", libc::CLONE_NEWIPC),
    ("net", libc::CLONE_NEWNET),
    ("cgroup", libc::CLONE_NEWCGROUP),
];

fn ns_id(pid: &str, ns: &str) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/proc/{pid}/ns/{ns}"))?;
    Ok((m.dev(), m.ino()))
}

/// setns flags for every namespace of `pid` that differs from ours.
fn differing_namespaces(pid: i32) -> Result<libc::c_int, SpawnError> {
    let target = pid.to_string();
    let mut flags = 0;
    for (name, flag) in NAMESPACES {
        let theirs = ns_id(&target, name)
            .map_err(|e| SpawnError::setup(format!("stat /proc/{pid}/ns/{name}"), e))?;
        let ours = ns_id("self", name)
            .map_err(|e| SpawnError::setup(format!("stat /proc/self/ns/{name}"), e))?;
        if theirs != ours {
            flags |= flag;
        }
    }
    Ok(flags)
}

fn target_rlimits(pid: i32) -> Result<Vec<Rlimit>, SpawnError> {
    // RLIMIT_CPU (0) ..= RLIMIT_RTTIME (15): every limit Linux has.
    (0..16)
        .map(|resource| {
            let (soft, hard) = rlimit::current_of(pid, resource).map_err(|e| {
                SpawnError::setup(format!("read {} of pid {pid}", rlimit::name(resource)), e)
            })?;
            Ok(Rlimit {
                resource,
                soft,
                hard,
            })
        })
        .collect()
}

fn pidfd_open(pid: i32) -> Result<OwnedFd, SpawnError> {
    // SAFETY: integer-only syscall; on success it returns a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(SpawnError::setup(
            format!("pidfd_open({pid})"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh, valid file descriptor owned by nobody else.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as RawFd) })
}

struct ExecPlan {
    process: ProcessPlan,
    pidfd: RawFd,
    ns_flags: libc::c_int,
    sync_rd: RawFd,
    err_wr: RawFd,
    pid_wr: RawFd,
    parent_fds: [RawFd; 3],
}

/// Starts `spec` inside the target's namespaces and cgroup; returns the pid (in the caller's
/// pid namespace) of a direct child of the caller, after its execve succeeded.
pub fn spawn_exec(spec: ExecSpec) -> Result<i32, SpawnError> {
    let pidfd = pidfd_open(spec.target_pid)?;
    let ns_flags = differing_namespaces(spec.target_pid)?;
    let in_userns = ns_flags & libc::CLONE_NEWUSER != 0;
    if in_userns && !spec.additional_gids.is_empty() {
        return Err(SpawnError::Invalid(
            "additional gids cannot be set in a user namespace with setgroups denied".into(),
        ));
    }
    let rlimits = target_rlimits(spec.target_pid)?;
    let command = spec.args.first().cloned().unwrap_or_default();
    let mut desc = Descriptions {
        command_has_slash: command.contains('/'),
        command,
        cwd: spec.cwd.clone(),
        uid: spec.uid,
        gid: spec.gid,
        rlimits: rlimits.clone(),
        ..Descriptions::default()
    };
    let process = ProcessPlan::new(ProcessInputs {
        args: spec.args,
        env: spec.env,
        cwd: spec.cwd,
        rlimits,
        groups: (!in_userns).then_some(spec.additional_gids),
        uid: spec.uid,
        gid: spec.gid,
        caps: spec.capabilities,
        no_new_privileges: spec.no_new_privileges,
        seccomp: spec.seccomp,
        stdio: spec.stdio,
    })?;
    desc.candidates = process.candidate_strings();
    let (sync_rd, sync_wr) = pipe()?;
    let (err_rd, err_wr) = pipe()?;
    let (pid_rd, pid_wr) = pipe()?;
    let plan = ExecPlan {
        process,
        pidfd: pidfd.as_raw_fd(),
        ns_flags,
        sync_rd: sync_rd.as_raw_fd(),
        err_wr: err_wr.as_raw_fd(),
        pid_wr: pid_wr.as_raw_fd(),
        parent_fds: [sync_wr.as_raw_fd(), err_rd.as_raw_fd(), pid_rd.as_raw_fd()],
    };
    // SAFETY: the helper only runs `helper_main` (syscalls, no allocation), ending in _exit.
    let helper = match unsafe { sys::clone3(0, None) } {
        Ok(Forked::Child) => helper_main(&plan),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => return Err(SpawnError::setup("clone3 the exec helper", errno_io(e))),
    };
    drop((sync_rd, err_wr, pid_wr, plan, pidfd));
    let helper_status = reap(helper);
    let mut buf = [0u8; 4];
    let got = sys::read_full(pid_rd.as_raw_fd(), &mut buf)
        .map_err(|e| SpawnError::setup("read exec pid", errno_io(e)))?;
    if got != 4 {
        // The helper failed before forking: its record is on the error pipe.
        return Err(helper_failure(&err_rd, &desc, helper_status));
    }
    let pid = i32::from_ne_bytes(buf);
    if let Err(e) = super::init::place(pid, None, &spec.cgroup_procs) {
        kill_and_reap(pid);
        return Err(e);
    }
    if let Err(e) = sys::write_all(sync_wr.as_raw_fd(), &[1]) {
        kill_and_reap(pid);
        return Err(SpawnError::setup("release exec process", errno_io(e)));
    }
    drop(sync_wr);
    wait_for_exec(pid, &err_rd, &desc)
}

fn helper_failure(err_rd: &OwnedFd, desc: &Descriptions, status: String) -> SpawnError {
    let mut rec = [0u8; RECORD_LEN];
    match sys::read_full(err_rd.as_raw_fd(), &mut rec) {
        Ok(RECORD_LEN) => match ChildFailure::decode(&rec) {
            Some(f) => SpawnError::from_child(f, desc),
            None => SpawnError::Died { status },
        },
        _ => SpawnError::Died { status },
    }
}

fn helper_main(plan: &ExecPlan) -> ! {
    let fail = |step| move |e| ChildFailure::new(step, e);
    // SAFETY: prctl with integer arguments only.
    if let Err(e) = sys::cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) }) {
        child_fail(plan.err_wr, fail(Step::Dumpable)(e));
    }
    for fd in plan.parent_fds {
        sys::close(fd);
    }
    if plan.ns_flags != 0 {
        // SAFETY: integer-only syscall; pidfd is a valid pidfd.
        if let Err(e) = sys::cvt(unsafe { libc::setns(plan.pidfd, plan.ns_flags) }) {
            child_fail(plan.err_wr, fail(Step::JoinNamespaces)(e));
        }
    }
    // SAFETY: the target only runs `target_main` (syscalls, no allocation).
    match unsafe { sys::clone3(libc::CLONE_PARENT as u64, None) } {
        Ok(Forked::Child) => target_main(plan),
        Ok(Forked::Parent(pid)) => {
            let _ = sys::write_all(plan.pid_wr, &pid.to_ne_bytes());
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(0) }
        }
        Err(e) => child_fail(plan.err_wr, fail(Step::Fork)(e)),
    }
}

fn target_main(plan: &ExecPlan) -> ! {
    let fail = |step| move |e| ChildFailure::new(step, e);
    sys::close(plan.pid_wr);
    let mut go = [0u8; 1];
    match sys::read_full(plan.sync_rd, &mut go) {
        // SAFETY: _exit is always safe; the keeper gave up on us.
        Ok(0) => unsafe { libc::_exit(1) },
        Ok(_) => {}
        Err(e) => child_fail(plan.err_wr, fail(Step::Sync)(e)),
    }
    sys::close(plan.sync_rd);
    let res = process::setup_stdio(&plan.process.stdio)
        .and_then(|()| process::chdir_cwd(&plan.process.cwd))
        .and_then(|()| process::apply_rlimits(&plan.process.rlimits));
    match res {
        Ok(()) => child_fail(plan.err_wr, process::finish_and_exec(&plan.process)),
        Err(f) => child_fail(plan.err_wr, f),
    }
}
