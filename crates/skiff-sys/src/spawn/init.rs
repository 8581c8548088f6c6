//! `spawn`: the parent's preparation and the init child's sequence (see the module docs of
//! [`super`] for the diagram and [`crate::rootfs`] for the filesystem part).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::error::{ChildFailure, Descriptions, Step};
use super::process::{self, ProcessInputs, ProcessPlan};
use super::sys::{self, Forked};
use super::{child_fail, kill_and_reap, pipe, IdMap, InitSpec, Pending, SpawnError, Stdio};
use crate::rootfs::plan::TtyMounts;
use crate::rootfs::{self, RootfsPlan};

/// Everything the child needs, prepared by the parent.
struct InitPlan {
    rootfs: RootfsPlan,
    process: ProcessPlan,
    hostname: Option<CString>,
    unshare_cgroup: bool,
    userns: bool,
    /// A new network namespace: its loopback starts down, bring it up (as Docker does).
    new_netns: bool,
    /// A ready-made network namespace (loopback up) to join instead.
    join_net: Option<RawFd>,
    sync_rd: RawFd,
    err_wr: RawFd,
    /// The parent's ends, closed first thing in the child.
    parent_fds: [RawFd; 2],
}

fn validate(spec: &InitSpec) -> Result<(), SpawnError> {
    if !spec.namespaces.mount {
        return Err(SpawnError::Invalid(
            "a container needs a mount namespace".into(),
        ));
    }
    if spec.hostname.is_some() && !spec.namespaces.uts {
        return Err(SpawnError::Invalid(
            "a hostname needs a UTS namespace".into(),
        ));
    }
    if spec.namespaces.user.is_some() && !spec.additional_gids.is_empty() {
        return Err(SpawnError::Invalid(
            "additional gids cannot be set in a user namespace with setgroups denied".into(),
        ));
    }
    Ok(())
}

fn clone_flags(spec: &InitSpec) -> u64 {
    let ns = &spec.namespaces;
    let mut f = libc::CLONE_NEWNS;
    for (on, flag) in [
        (ns.pid, libc::CLONE_NEWPID),
        (ns.uts, libc::CLONE_NEWUTS),
        (ns.ipc, libc::CLONE_NEWIPC),
        (ns.net && spec.join_net.is_none(), libc::CLONE_NEWNET),
        (ns.user.is_some(), libc::CLONE_NEWUSER),
    ] {
        if on {
            f |= flag;
        }
    }
    f as u64
}

fn descriptions(spec: &InitSpec, mounts: Vec<String>) -> Descriptions {
    let command = spec.args.first().cloned().unwrap_or_default();
    Descriptions {
        merged: spec.merged_dir.display().to_string(),
        mounts,
        masked: spec.masked_paths.clone(),
        readonly: spec.readonly_paths.clone(),
        rlimits: spec.rlimits.clone(),
        hostname: spec.hostname.clone().unwrap_or_default(),
        cwd: spec.cwd.clone(),
        uid: spec.uid,
        gid: spec.gid,
        command_has_slash: command.contains('/'),
        command,
        candidates: Vec::new(),
    }
}

pub(super) fn spawn(spec: InitSpec) -> Result<Pending, SpawnError> {
    validate(&spec)?;
    // The pty's own devpts instance (if it came from open_pty) becomes /dev/pts.
    let devpts: Option<OwnedFd> = match &spec.stdio {
        Stdio::Tty { slave } => crate::pty::take_devpts(slave),
        Stdio::Fds { .. } => None,
    };
    let tty = match &spec.stdio {
        Stdio::Tty { slave } => Some(TtyMounts {
            slave: slave.as_raw_fd(),
            devpts: devpts.as_ref().map(AsRawFd::as_raw_fd),
        }),
        Stdio::Fds { .. } => None,
    };
    let (rootfs, mount_desc) = rootfs::plan::build(&spec, tty.as_ref())?;
    let hostname = spec
        .hostname
        .as_deref()
        .map(|h| {
            CString::new(h).map_err(|_| SpawnError::Invalid(format!("hostname {h:?} contains NUL")))
        })
        .transpose()?;
    let flags = clone_flags(&spec);
    let groups = spec
        .namespaces
        .user
        .is_none()
        .then(|| spec.additional_gids.clone());
    let mut desc = descriptions(&spec, mount_desc);
    let InitSpec {
        namespaces,
        args,
        env,
        cwd,
        uid,
        gid,
        rlimits,
        stdio,
        cgroup_procs,
        cgroup_fd,
        join_net,
        ..
    } = spec;
    let join_net = join_net.filter(|_| namespaces.net);
    let process = ProcessPlan::new(ProcessInputs {
        args,
        env,
        cwd,
        rlimits,
        groups,
        uid,
        gid,
        caps: spec.capabilities,
        no_new_privileges: spec.no_new_privileges,
        seccomp: spec.seccomp,
        stdio,
    })?;
    desc.candidates = process.candidate_strings();
    let (sync_rd, sync_wr) = pipe()?;
    let (err_rd, err_wr) = pipe()?;
    let plan = InitPlan {
        rootfs,
        process,
        hostname,
        unshare_cgroup: namespaces.cgroup,
        userns: namespaces.user.is_some(),
        new_netns: namespaces.net && join_net.is_none(),
        join_net: join_net.as_ref().map(AsRawFd::as_raw_fd),
        sync_rd: sync_rd.as_raw_fd(),
        err_wr: err_wr.as_raw_fd(),
        parent_fds: [sync_wr.as_raw_fd(), err_rd.as_raw_fd()],
    };
    let cgroup_raw = cgroup_fd.as_ref().map(AsRawFd::as_raw_fd);
    // SAFETY: the child only runs `child_main`, which makes syscalls without allocating or
    // taking locks and ends in execve or _exit.
    let pid = match unsafe { sys::clone3(flags, cgroup_raw) } {
        Ok(Forked::Child) => child_main(&plan),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            return Err(SpawnError::setup(
                "clone3 the container process",
                super::errno_io(e),
            ))
        }
    };
    drop((sync_rd, err_wr, devpts, plan, cgroup_fd));
    if let Err(e) = place(pid, namespaces.user.as_ref(), &cgroup_procs) {
        kill_and_reap(pid);
        return Err(e);
    }
    Ok(Pending {
        pid,
        sync_wr: Some(sync_wr),
        err_rd: Some(err_rd),
        desc,
    })
}

/// Parent side before release: user namespace maps, then the v1 cgroup placement.
pub(super) fn place(
    pid: i32,
    user: Option<&IdMap>,
    cgroup_procs: &[std::path::PathBuf],
) -> Result<(), SpawnError> {
    if let Some(map) = user {
        write_id_maps(pid, map)?;
    }
    for procs in cgroup_procs {
        std::fs::write(procs, pid.to_string())
            .map_err(|e| SpawnError::setup(format!("add pid {pid} to {}", procs.display()), e))?;
    }
    Ok(())
}

fn write_id_maps(pid: i32, map: &IdMap) -> Result<(), SpawnError> {
    let line = format!("{} {} {}\n", map.container_id, map.host_id, map.size);
    for (file, content) in [
        ("setgroups", "deny"),
        ("uid_map", line.as_str()),
        ("gid_map", line.as_str()),
    ] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, content)
            .map_err(|e| SpawnError::setup(format!("write {path}"), e))?;
    }
    Ok(())
}

fn child_main(plan: &InitPlan) -> ! {
    match child_setup(plan) {
        Ok(()) => child_fail(plan.err_wr, process::finish_and_exec(&plan.process)),
        Err(f) => child_fail(plan.err_wr, f),
    }
}

fn child_setup(plan: &InitPlan) -> Result<(), ChildFailure> {
    let fail = |step| move |e| ChildFailure::new(step, e);
    // Not dumpable until execve: the container cannot ptrace us or open /proc/<pid>/fd.
    // SAFETY: prctl with integer arguments only.
    sys::cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) })
        .map_err(fail(Step::Dumpable))?;
    for fd in plan.parent_fds {
        sys::close(fd);
    }
    let mut go = [0u8; 1];
    if sys::read_full(plan.sync_rd, &mut go).map_err(fail(Step::Sync))? == 0 {
        // The parent aborted (or died) before releasing us: leave quietly.
        // SAFETY: _exit is always safe to call.
        unsafe { libc::_exit(1) }
    }
    sys::close(plan.sync_rd);
    if plan.userns {
        // Become root of the new user namespace now that the parent wrote the maps.
        // SAFETY: integer-only syscalls.
        sys::cvt(unsafe { libc::syscall(libc::SYS_setresgid, 0, 0, 0) } as i32)
            .map_err(fail(Step::Gid))?;
        // SAFETY: integer-only syscalls.
        sys::cvt(unsafe { libc::syscall(libc::SYS_setresuid, 0, 0, 0) } as i32)
            .map_err(fail(Step::Uid))?;
    }
    if plan.unshare_cgroup {
        // SAFETY: integer-only syscall.
        sys::cvt(unsafe { libc::unshare(libc::CLONE_NEWCGROUP) }).map_err(fail(Step::CgroupNs))?;
    }
    if let Some(fd) = plan.join_net {
        // SAFETY: setns on an fd the parent keeps open until we have exec'd.
        sys::cvt(unsafe { libc::setns(fd, libc::CLONE_NEWNET) }).map_err(fail(Step::Loopback))?;
    }
    if plan.new_netns {
        crate::netns::loopback_up().map_err(fail(Step::Loopback))?;
    }
    process::setup_stdio(&plan.process.stdio)?;
    rootfs::build(&plan.rootfs)?;
    rootfs::finish(&plan.rootfs)?;
    if let Some(h) = &plan.hostname {
        // SAFETY: h points at h.as_bytes().len() valid bytes.
        sys::cvt(unsafe { libc::sethostname(h.as_ptr(), h.as_bytes().len()) })
            .map_err(fail(Step::Hostname))?;
    }
    process::chdir_cwd(&plan.process.cwd)?;
    process::apply_rlimits(&plan.process.rlimits)
}
