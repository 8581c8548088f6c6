//! The process half of a container child, shared by `spawn` (init) and `spawn_exec`:
//! stdio, rlimits, credentials, capabilities, no_new_privs, seccomp, fds, and execve with our
//! own `$PATH` search.
//!
//! Everything is prepared by the parent ([`ProcessPlan::new`]); the child functions only make
//! syscalls. Order (runc's `finalizeNamespace` + `standard_init_linux.go`): rlimits, then
//! PR_SET_KEEPCAPS + setgroups/setgid/setuid, capabilities, no_new_privs, seccomp last (so
//! the filter need not allow our own setup), close_range(CLOEXEC), execve.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use super::error::{ChildFailure, Detail, Step};
use super::sys::{self, Errno};
use super::{SpawnError, Stdio};
use crate::caps::{self, CapSet, CapsError};
use crate::rlimit::{self, Rlimit};
use crate::seccomp::{self, SeccompError, SeccompFilter};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Prepared, allocation-free-to-use process setup.
pub(crate) struct ProcessPlan {
    pub stdio: Stdio,
    pub cwd: CString,
    pub rlimits: Vec<Rlimit>,
    /// `None`: leave supplementary groups alone (user namespace with setgroups denied).
    pub groups: Option<Vec<libc::gid_t>>,
    pub uid: u32,
    pub gid: u32,
    pub caps: CapSet,
    pub no_new_privileges: bool,
    pub seccomp: Option<SeccompFilter>,
    /// Keep the CStrings alive: the pointer arrays below point into them.
    _argv: Vec<CString>,
    _env: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    env_ptrs: Vec<*const libc::c_char>,
    /// Full paths to try, in `$PATH` order.
    pub candidates: Vec<CString>,
}

/// The plain inputs of a [`ProcessPlan`].
pub(crate) struct ProcessInputs {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub rlimits: Vec<Rlimit>,
    pub groups: Option<Vec<u32>>,
    pub uid: u32,
    pub gid: u32,
    pub caps: CapSet,
    pub no_new_privileges: bool,
    pub seccomp: Option<SeccompFilter>,
    pub stdio: Stdio,
}

fn cstring(s: &str, what: &str) -> Result<CString, SpawnError> {
    CString::new(s).map_err(|_| SpawnError::Invalid(format!("{what} {s:?} contains a NUL byte")))
}

fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr())
        .chain([std::ptr::null()])
        .collect()
}

/// `$PATH` candidates for `cmd`, like execvpe: a name with a slash is used as is.
pub(crate) fn candidates(cmd: &str, env: &[String]) -> Vec<String> {
    if cmd.contains('/') {
        return vec![cmd.to_string()];
    }
    let path = env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| format!("{}/{cmd}", dir.trim_end_matches('/')))
        .collect()
}

impl ProcessPlan {
    pub(crate) fn new(p: ProcessInputs) -> Result<Self, SpawnError> {
        let cmd = p
            .args
            .first()
            .ok_or_else(|| SpawnError::Invalid("empty command".into()))?;
        let argv = p
            .args
            .iter()
            .map(|a| cstring(a, "argument"))
            .collect::<Result<Vec<_>, _>>()?;
        let env = p
            .env
            .iter()
            .map(|e| cstring(e, "environment entry"))
            .collect::<Result<Vec<_>, _>>()?;
        let candidates = candidates(cmd, &p.env)
            .iter()
            .map(|c| cstring(c, "command path"))
            .collect::<Result<Vec<_>, _>>()?;
        let cwd = if p.cwd.is_empty() {
            "/".to_string()
        } else {
            p.cwd
        };
        Ok(ProcessPlan {
            stdio: p.stdio,
            cwd: cstring(&cwd, "working directory")?,
            rlimits: p.rlimits,
            groups: p.groups,
            uid: p.uid,
            gid: p.gid,
            caps: p.caps,
            no_new_privileges: p.no_new_privileges,
            seccomp: p.seccomp,
            argv_ptrs: ptrs(&argv),
            env_ptrs: ptrs(&env),
            _argv: argv,
            _env: env,
            candidates,
        })
    }

    /// The candidate list as strings, for error messages.
    pub(crate) fn candidate_strings(&self) -> Vec<String> {
        self.candidates
            .iter()
            .map(|c| {
                OsStr::from_bytes(c.as_bytes())
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

fn dup2(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 on fds this process holds; it only changes the fd table.
    sys::cvt(unsafe { libc::dup2(from, to) }).map(drop)
}

fn raise_above_stdio(fd: &OwnedFd) -> Result<RawFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC duplicates a valid fd to the lowest free number >= 3.
    sys::cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) })
}

/// Installs stdio on 0/1/2. Tty: new session, controlling terminal, dup2 to all three.
pub(crate) fn setup_stdio(stdio: &Stdio) -> Result<(), ChildFailure> {
    let fail = |e| ChildFailure::new(Step::Stdio, e);
    match stdio {
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => {
            // Move all three above 2 first so one source never clobbers another.
            let fds = [
                raise_above_stdio(stdin),
                raise_above_stdio(stdout),
                raise_above_stdio(stderr),
            ];
            for (target, fd) in fds.into_iter().enumerate() {
                dup2(fd.map_err(fail)?, target as RawFd).map_err(fail)?;
            }
        }
        Stdio::Tty { slave } => {
            // SAFETY: setsid has no arguments; it fails only if we already lead a group.
            sys::cvt(unsafe { libc::setsid() }).map_err(fail)?;
            // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal).
            sys::cvt(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) })
                .map_err(fail)?;
            let fd = raise_above_stdio(slave).map_err(fail)?;
            for target in 0..3 {
                dup2(fd, target).map_err(fail)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn apply_rlimits(limits: &[Rlimit]) -> Result<(), ChildFailure> {
    for (i, l) in limits.iter().enumerate() {
        rlimit::set(l).map_err(|e| ChildFailure::at(Step::Rlimit, Detail::None, i, e))?;
    }
    Ok(())
}

pub(crate) fn chdir_cwd(cwd: &CString) -> Result<(), ChildFailure> {
    // SAFETY: cwd is NUL-terminated.
    sys::cvt(unsafe { libc::chdir(cwd.as_ptr()) })
        .map(drop)
        .map_err(|e| ChildFailure::new(Step::Cwd, e))
}

fn caps_errno(e: &CapsError) -> Errno {
    match e {
        CapsError::Syscall { source, .. } => *source as Errno,
        _ => libc::EPERM,
    }
}

fn seccomp_errno(e: &SeccompError) -> Errno {
    match e {
        SeccompError::Install { source, .. } => *source as Errno,
        _ => libc::EINVAL,
    }
}

/// Credentials, capabilities, no_new_privs, seccomp, fd hygiene, then execve.
/// Only returns on failure.
pub(crate) fn finish_and_exec(p: &ProcessPlan) -> ChildFailure {
    reset_signals();
    match become_user(p) {
        Ok(()) => exec(p),
        Err(f) => f,
    }
}

/// Gives the new program clean signal state: ignored dispositions and the
/// blocked mask survive execve, and the keeper ignores SIGTERM/SIGINT/SIGHUP/
/// SIGPIPE and blocks SIGCHLD. Left alone, a container's shell could not even
/// trap TERM (POSIX: signals ignored on entry cannot be trapped).
fn reset_signals() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL installs no handler; sigaction with a zeroed struct and
        // SIG_DFL touches only the kernel's disposition table. Errors (for the
        // few signals glibc reserves) are harmless and ignored.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
    // SAFETY: an empty, initialised set; SIG_SETMASK with it unblocks everything.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &set,
            std::ptr::null_mut::<libc::sigset_t>(),
            8usize,
        );
    }
}

fn become_user(p: &ProcessPlan) -> Result<(), ChildFailure> {
    let fail = |step| move |e| ChildFailure::new(step, e);
    let capsfail = |e: CapsError| ChildFailure::new(Step::Capabilities, caps_errno(&e));
    caps::set_keep_caps(true).map_err(capsfail)?;
    // Raw syscalls, not glibc's wrappers: in a raw clone3 child of a multi-threaded parent,
    // glibc would try to broadcast the id change to threads that do not exist here.
    if let Some(groups) = &p.groups {
        // SAFETY: groups points at groups.len() valid gid_t values.
        let ret = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
        sys::cvt(ret as libc::c_int).map_err(fail(Step::Groups))?;
    }
    // SAFETY: integer-only syscall.
    let ret = unsafe { libc::syscall(libc::SYS_setresgid, p.gid, p.gid, p.gid) };
    sys::cvt(ret as libc::c_int).map_err(fail(Step::Gid))?;
    // SAFETY: integer-only syscall.
    let ret = unsafe { libc::syscall(libc::SYS_setresuid, p.uid, p.uid, p.uid) };
    sys::cvt(ret as libc::c_int).map_err(fail(Step::Uid))?;
    caps::set_keep_caps(false).map_err(capsfail)?;
    caps::apply_in_child(p.caps).map_err(capsfail)?;
    if p.no_new_privileges {
        seccomp::set_no_new_privs().map_err(|e| ChildFailure::new(Step::NoNewPrivs, e as Errno))?;
    }
    if let Some(filter) = &p.seccomp {
        seccomp::install_in_child(filter)
            .map_err(|e| ChildFailure::new(Step::Seccomp, seccomp_errno(&e)))?;
    }
    sys::cloexec_from(3).map_err(fail(Step::CloseFds))
}

/// Tries each candidate like execvpe; ENOENT/ENOTDIR move on, EACCES is remembered and
/// reported if nothing else works, any other error stops the search.
fn exec(p: &ProcessPlan) -> ChildFailure {
    let mut reported: Option<(usize, Errno)> = None;
    for (i, path) in p.candidates.iter().enumerate() {
        // SAFETY: path and both pointer arrays are NUL-terminated and outlive the call.
        unsafe { libc::execve(path.as_ptr(), p.argv_ptrs.as_ptr(), p.env_ptrs.as_ptr()) };
        let e = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOENT);
        match e {
            libc::ENOENT | libc::ENOTDIR => {
                if reported.is_none() {
                    reported = Some((i, e));
                }
            }
            libc::EACCES => {
                if reported.is_none_or(|(_, r)| r != libc::EACCES) {
                    reported = Some((i, e));
                }
            }
            _ => return ChildFailure::at(Step::Exec, Detail::None, i, e),
        }
    }
    let (i, e) = reported.unwrap_or((0, libc::ENOENT));
    ChildFailure::at(Step::Exec, Detail::None, i, e)
}

#[cfg(test)]
mod tests {
    use super::candidates;

    #[test]
    fn path_search_order() {
        let env = vec!["PATH=/a:/b/".to_string()];
        assert_eq!(candidates("ls", &env), vec!["/a/ls", "/b/ls"]);
        assert_eq!(candidates("./x", &env), vec!["./x"]);
        assert_eq!(
            candidates("ls", &[]).first().map(String::as_str),
            Some("/usr/local/sbin/ls")
        );
    }
}
