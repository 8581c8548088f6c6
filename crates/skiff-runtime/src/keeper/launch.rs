//! How the keeper launches processes: stdio (pipes or a pty), the seccomp
//! filter cache, and the mapping from the daemon's `LaunchSpec`/`ExecLaunch`
//! to skiff-sys's `InitSpec`/`ExecSpec`.

use super::proto::{FdLayout, LaunchMount, LaunchSpec, SeccompChoice, StdioMode};
use super::server::Keeper;
use skiff_sys::caps::CapSet;
use skiff_sys::seccomp::{SeccompFilter, SeccompProfile};
use skiff_sys::spawn::{self, InitSpec, MountKind, MountSpec, Namespaces, Rlimit, Stdio};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

impl Keeper {
    fn seccomp(
        &mut self,
        choice: &SeccompChoice,
        caps: u64,
    ) -> Result<Option<SeccompFilter>, String> {
        let profile = match choice {
            SeccompChoice::Unconfined => return Ok(None),
            SeccompChoice::Default => SeccompProfile::docker_default(),
            SeccompChoice::Profile(text) => SeccompProfile::from_docker_json(text)
                .map_err(|e| format!("seccomp profile: {e}"))?,
        };
        let key = (choice.clone(), caps);
        if let Some(f) = self.seccomp_cache.get(&key) {
            return Ok(Some(f.clone()));
        }
        let filter = profile
            .compile(CapSet::from_bits(caps))
            .map_err(|e| format!("seccomp: {e}"))?;
        self.seccomp_cache.insert(key, filter.clone());
        Ok(Some(filter))
    }

    pub(super) fn spawn_init(
        &mut self,
        s: &LaunchSpec,
        join_net: Option<OwnedFd>,
    ) -> Result<Launched, (String, i32)> {
        let seccomp = self
            .seccomp(&s.seccomp, s.capabilities)
            .map_err(|m| (m, 125))?;
        let (stdio, launched) =
            make_stdio(s.stdio, None).map_err(|e| (format!("stdio: {e}"), 125))?;
        let cgroup_fd = match &s.cgroup_dir_v2 {
            Some(dir) => {
                Some(open_dir(dir).map_err(|e| (format!("cgroup {}: {e}", dir.display()), 125))?)
            }
            None => None,
        };
        let spec = InitSpec {
            namespaces: Namespaces {
                pid: true,
                mount: true,
                uts: true,
                ipc: true,
                net: s.net_ns,
                cgroup: true,
                user: s.userns.map(|(host, size)| spawn::IdMap {
                    container_id: 0,
                    host_id: host,
                    size,
                }),
            },
            lower_dirs: s.lower_dirs.clone(),
            upper_dir: s.upper_dir.clone(),
            work_dir: s.work_dir.clone(),
            merged_dir: s.merged_dir.clone(),
            read_only: s.read_only,
            mounts: s.mounts.iter().map(mount_spec).collect(),
            hostname: Some(s.hostname.clone()),
            args: s.args.clone(),
            env: s.env.clone(),
            cwd: s.cwd.clone(),
            uid: s.uid,
            gid: s.gid,
            additional_gids: s.additional_gids.clone(),
            capabilities: CapSet::from_bits(s.capabilities),
            no_new_privileges: s.no_new_privileges,
            seccomp,
            rlimits: s
                .rlimits
                .iter()
                .map(|&(resource, soft, hard)| Rlimit {
                    resource,
                    soft,
                    hard,
                })
                .collect(),
            masked_paths: spawn::default_masked_paths(),
            readonly_paths: spawn::default_readonly_paths(),
            stdio,
            cgroup_procs: s.cgroup_procs.clone(),
            cgroup_fd,
            join_net,
        };
        let pending = spawn::spawn(spec).map_err(|e| (e.to_string(), e.exit_code()))?;
        let pid = pending
            .start()
            .map_err(|e| (e.to_string(), e.exit_code()))?;
        let mut launched = launched.with_pid(pid);
        launched.hold_namespaces(s.net_ns);
        Ok(launched)
    }

    pub(super) fn spawn_exec(
        &mut self,
        s: &super::proto::ExecLaunch,
    ) -> Result<Launched, (String, i32)> {
        let seccomp = self
            .seccomp(&s.seccomp, s.capabilities)
            .map_err(|m| (m, 125))?;
        let (stdio, launched) =
            make_stdio(s.stdio, Some(s.target_pid)).map_err(|e| (format!("stdio: {e}"), 125))?;
        let spec = spawn::ExecSpec {
            target_pid: s.target_pid,
            args: s.args.clone(),
            env: s.env.clone(),
            cwd: s.cwd.clone(),
            uid: s.uid,
            gid: s.gid,
            additional_gids: s.additional_gids.clone(),
            capabilities: CapSet::from_bits(s.capabilities),
            no_new_privileges: s.no_new_privileges,
            seccomp,
            stdio,
            cgroup_procs: s.cgroup_procs.clone(),
        };
        let pid = spawn::spawn_exec(spec).map_err(|e| (e.to_string(), e.exit_code()))?;
        Ok(launched.with_pid(pid))
    }
}

fn mount_spec(m: &LaunchMount) -> MountSpec {
    match m {
        LaunchMount::Bind {
            source,
            destination,
            read_only,
            recursive,
        } => MountSpec {
            destination: destination.clone(),
            kind: MountKind::Bind {
                source: source.clone(),
                recursive: *recursive,
            },
            read_only: *read_only,
        },
        LaunchMount::Tmpfs {
            destination,
            options,
        } => MountSpec {
            destination: destination.clone(),
            kind: MountKind::Tmpfs {
                options: options.clone(),
            },
            read_only: false,
        },
    }
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)?;
    Ok(OwnedFd::from(f))
}

/// The fds of a just-launched process: those for the daemon, and the keeper's own.
pub(super) struct Launched {
    pub(super) pid: i32,
    pub(super) layout: FdLayout,
    pub(super) daemon_fds: Vec<OwnedFd>,
    pub(super) kept_fds: Vec<OwnedFd>,
}

impl Launched {
    /// Opens the new container's mount (and net) namespace for the daemon to hold.
    /// Best effort: without them the exit is merely reported a little later.
    fn hold_namespaces(&mut self, net: bool) {
        let kinds: &[&str] = if net { &["mnt", "net"] } else { &["mnt"] };
        for kind in kinds {
            if let Ok(f) = std::fs::File::open(format!("/proc/{}/ns/{kind}", self.pid)) {
                self.daemon_fds.push(OwnedFd::from(f));
                self.layout.ns += 1;
            }
        }
    }

    fn with_pid(mut self, pid: i32) -> Self {
        self.pid = pid;
        self
    }
}

/// Makes the container's stdio: a pty, or pipes (stdin only when asked for).
/// `exec_in`: for an exec, the container's init pid: its tty comes from the container's
/// own devpts, so the program sees a /dev/pts/N (falls back to a private pty).
fn make_stdio(mode: StdioMode, exec_in: Option<i32>) -> io::Result<(Stdio, Launched)> {
    let layout = FdLayout {
        tty: mode.tty,
        stdin: mode.open_stdin && !mode.tty,
        ns: 0,
    };
    if mode.tty {
        let pty = match exec_in {
            Some(pid) => {
                skiff_sys::pty::open_pty_in_container(pid).or_else(|_| skiff_sys::pty::open_pty())
            }
            None => skiff_sys::pty::open_pty(),
        };
        let (master, slave) = pty.map_err(io::Error::from)?;
        let kept = vec![master.try_clone()?];
        return Ok((
            Stdio::Tty { slave },
            Launched {
                pid: 0,
                layout,
                daemon_fds: vec![master],
                kept_fds: kept,
            },
        ));
    }
    let (out_r, out_w) = crate::fsutil::big_pipe()?;
    let (err_r, err_w) = crate::fsutil::big_pipe()?;
    let mut daemon_fds = vec![out_r.try_clone()?, err_r.try_clone()?];
    let kept_fds = vec![out_r, err_r];
    let stdin = if mode.open_stdin {
        // The keeper keeps no copy of stdin's write end: when the daemon closes
        // it (client detached, or daemon gone), the container sees EOF as with Docker.
        let (in_r, in_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        daemon_fds.push(in_w);
        in_r
    } else {
        OwnedFd::from(std::fs::File::open("/dev/null")?)
    };
    let stdio = Stdio::Fds {
        stdin,
        stdout: out_w,
        stderr: err_w,
    };
    Ok((
        stdio,
        Launched {
            pid: 0,
            layout,
            daemon_fds,
            kept_fds,
        },
    ))
}
